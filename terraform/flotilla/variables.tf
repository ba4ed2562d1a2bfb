variable "release_name" {
  type        = string
  description = "Name of the Helm release."
  default     = "flotilla"

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", var.release_name))
    error_message = "release_name must be a DNS label of at most 40 characters."
  }
}

variable "namespace" {
  type        = string
  description = "Namespace the release is installed in (created when missing)."
  default     = "flotilla"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS label."
  }
}

variable "chart" {
  type        = string
  description = "The Flotilla chart: a path (default: deploy/helm/flotilla of this repository) or a chart reference such as oci://registry.example/charts/flotilla."
  default     = ""

  validation {
    condition     = !can(regex("\\s", var.chart))
    error_message = "chart must not contain whitespace."
  }
}

variable "chart_version" {
  type        = string
  description = "Version of a chart taken from a repository; empty for a path."
  default     = ""

  validation {
    condition     = var.chart_version == "" || can(regex("^v?[0-9]+\\.[0-9]+\\.[0-9]+([-+].*)?$", var.chart_version))
    error_message = "chart_version must be a semantic version such as 0.1.0."
  }
}

variable "image_registry" {
  type        = string
  description = "Repository prefix of the Flotilla images."
  default     = "ghcr.io/flotilla-hpc"

  validation {
    condition     = length(var.image_registry) > 0 && !endswith(var.image_registry, "/")
    error_message = "image_registry must be a repository prefix without a trailing '/'."
  }
}

variable "image_tag" {
  type        = string
  description = "Flotilla version of the images; empty takes the chart's appVersion (the version its binaries were built with)."
  default     = ""

  validation {
    condition     = var.image_tag == "" || (can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && lower(var.image_tag) != "latest")
    error_message = "image_tag must be a version tag, never latest."
  }
}

variable "hub" {
  type = object({
    enabled         = bool
    replicas        = optional(number, 3)
    storage_class   = optional(string, "")
    storage_size    = optional(string, "10Gi")
    ingress_host    = optional(string, "")
    ingress_class   = optional(string, "")
    tls_mode        = optional(string, "generate")
    tls_secret_name = optional(string, "")
    cert_issuer     = optional(string, "")
  })
  description = "The hub: replicas (3 or 5), their volumes, an Ingress host for the portal and API, and where its TLS comes from (generate, secret or certManager with cert_issuer, a ClusterIssuer)."
  default     = { enabled = true }

  validation {
    condition = (contains([1, 3, 5, 7], var.hub.replicas) && contains(["generate", "secret", "certManager"], var.hub.tls_mode) &&
      (var.hub.tls_mode != "secret" || var.hub.tls_secret_name != "") && (var.hub.tls_mode != "certManager" || var.hub.cert_issuer != "") &&
    can(regex("^[0-9]+(Mi|Gi|Ti)$", var.hub.storage_size)))
    error_message = "hub: replicas 1, 3, 5 or 7; tls_mode generate, secret (with tls_secret_name) or certManager (with cert_issuer); storage_size such as 10Gi."
  }
}

variable "agent" {
  type = object({
    enabled                = bool
    cluster                = optional(string, "")
    hub_urls               = optional(list(string), [])
    bootstrap_token_secret = optional(string, "")
    agent_key_secret       = optional(string, "")
    namespace_prefix       = optional(string, "flotilla")
    node_selector          = optional(string, "")
    tolerate               = optional(list(string), [])
    rbac_scope             = optional(string, "cluster")
  })
  description = "The agent of this cluster: its name at the hub, the hub URLs (empty: this release's hub), its credential (bootstrap_token, or a Secret with the token or the agent key), and the nodes and taints of its dedicated pool (the eks or gke module's agent_settings)."
  default     = { enabled = false }

  validation {
    condition     = (!var.agent.enabled || can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.agent.cluster))) && contains(["cluster", "namespaces"], var.agent.rbac_scope) && alltrue([for u in var.agent.hub_urls : startswith(u, "https://")])
    error_message = "agent: cluster is required (a DNS label) when enabled; hub_urls must be https:// URLs; rbac_scope cluster or namespaces."
  }
}

variable "bootstrap_token" {
  type        = string
  description = "One-time bootstrap token of the agent's cluster (`flotilla admin clusters token NAME`), kept in a Secret by the chart. Alternatively agent.bootstrap_token_secret or agent.agent_key_secret."
  default     = ""
  sensitive   = true

  validation {
    condition     = !can(regex("\\s", var.bootstrap_token))
    error_message = "bootstrap_token must not contain whitespace."
  }
}

variable "register_clusters" {
  type = map(object({
    zone   = optional(string, "")
    labels = optional(map(string), {})
  }))
  description = "Clusters to register at the hub (hub_url), keyed by name, with the flotilla CLI on the machine running Terraform. Registering an existing cluster is a no-op."
  default     = {}

  validation {
    condition     = alltrue([for k, _ in var.register_clusters : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", k))])
    error_message = "register_clusters keys must be DNS labels."
  }
}

variable "hub_url" {
  type        = string
  description = "URL of the hub that register_clusters registers at."
  default     = ""

  validation {
    condition     = var.hub_url == "" || startswith(var.hub_url, "https://")
    error_message = "hub_url must be an https:// URL."
  }
}

variable "hub_admin_api_key" {
  type        = string
  description = "API key of a hub administrator, used by register_clusters."
  default     = ""
  sensitive   = true

  validation {
    condition     = !can(regex("\\s", var.hub_admin_api_key))
    error_message = "hub_admin_api_key must not contain whitespace."
  }
}

variable "hub_ca_file" {
  type        = string
  description = "File holding the hub CA, for register_clusters (see the chart's NOTES for how to fetch it)."
  default     = ""

  validation {
    condition     = !can(regex("\\s", var.hub_ca_file))
    error_message = "hub_ca_file must be a path without whitespace."
  }
}

variable "extra_values" {
  type        = string
  description = "Further chart values in YAML, applied after the module's."
  default     = ""

  validation {
    condition     = var.extra_values == "" || can(yamldecode(var.extra_values))
    error_message = "extra_values must be YAML."
  }
}
