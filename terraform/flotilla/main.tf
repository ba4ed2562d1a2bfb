# Installs the Flotilla chart through the Helm provider — the hub, the agent
# of this cluster, or both — and registers clusters at the hub with the
# flotilla CLI.

locals {
  chart = var.chart != "" ? var.chart : "${path.module}/../../deploy/helm/flotilla"
  values = {
    image = merge({ registry = var.image_registry }, var.image_tag != "" ? { tag = var.image_tag } : {})
    hub = {
      enabled  = var.hub.enabled
      replicas = var.hub.replicas
      persistence = {
        size         = var.hub.storage_size
        storageClass = var.hub.storage_class
      }
      tls = {
        mode       = var.hub.tls_mode
        secretName = var.hub.tls_secret_name
        certManager = {
          issuerRef = { name = var.hub.cert_issuer, kind = "ClusterIssuer", group = "cert-manager.io" }
        }
      }
      ingress = {
        enabled   = var.hub.ingress_host != ""
        host      = var.hub.ingress_host
        className = var.hub.ingress_class
      }
    }
    agent = {
      enabled = var.agent.enabled
      cluster = var.agent.cluster
      hub = {
        urls                 = var.agent.hub_urls
        bootstrapTokenSecret = var.agent.bootstrap_token_secret
        agentKeySecret       = var.agent.agent_key_secret
      }
      jobs = {
        namespacePrefix = var.agent.namespace_prefix
        nodeSelector    = var.agent.node_selector
        tolerate        = var.agent.tolerate
      }
      rbac = { scope = var.agent.rbac_scope }
    }
  }
}

resource "helm_release" "flotilla" {
  name             = var.release_name
  namespace        = var.namespace
  create_namespace = true
  chart            = local.chart
  version          = var.chart_version != "" ? var.chart_version : null
  values           = compact([yamlencode(local.values), var.extra_values])
  # The hub rolls one replica at a time; give it time.
  timeout = 900
  wait    = true

  set_sensitive = var.bootstrap_token != "" ? [{ name = "agent.hub.bootstrapToken", value = var.bootstrap_token }] : []
}

# Registration at the hub: `flotilla admin clusters add NAME` once per
# cluster, unless the hub already lists it. The agent key `add` prints is
# not kept: agents register with a bootstrap token
# (`flotilla admin clusters token NAME`).
resource "terraform_data" "cluster" {
  for_each = var.register_clusters

  triggers_replace = [each.key, var.hub_url]

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command = join(" ", concat(
      ["flotilla -o json admin clusters list | grep -q '\"name\": *\"${each.key}\"'", "||"],
      ["flotilla admin clusters add"],
      each.value.zone != "" ? ["-zone ${each.value.zone}"] : [],
      [for k, v in each.value.labels : "-label ${k}=${v}"],
      [each.key, ">/dev/null"],
    ))
    environment = {
      FLOTILLA_HUB     = var.hub_url
      FLOTILLA_API_KEY = var.hub_admin_api_key
      FLOTILLA_CA_FILE = var.hub_ca_file
    }
  }

  depends_on = [helm_release.flotilla]
}
