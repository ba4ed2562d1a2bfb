# The hub with an agent on one cluster (a trial or a single-cluster site),
# and the agent alone on a second cluster, joined to that hub.
#
# Two steps, as the hub issues the second cluster's bootstrap token:
#   1. terraform apply -target=module.hub      (hub up; registers "west")
#   2. flotilla admin clusters token west      (with the key and CA from
#      the hub module's outputs), then terraform apply with
#      -var west_bootstrap_token=...

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    helm = {
      source  = "hashicorp/helm"
      version = ">= 3.0, < 4.0"
    }
  }
}

variable "west_bootstrap_token" {
  type        = string
  description = "Bootstrap token of cluster west (`flotilla admin clusters token west`)."
  default     = ""
  sensitive   = true
}

variable "hub_admin_api_key" {
  type        = string
  description = "The hub administrator's API key (see the admin_api_key_command output)."
  default     = ""
  sensitive   = true
}

provider "helm" {
  alias = "east"
  kubernetes = {
    config_path    = "~/.kube/config"
    config_context = "east"
  }
}

provider "helm" {
  alias = "west"
  kubernetes = {
    config_path    = "~/.kube/config"
    config_context = "west"
  }
}

module "hub" {
  source    = "../.."
  providers = { helm = helm.east }

  release_name = "flotilla"
  namespace    = "flotilla"
  image_tag    = "v0.1.0"

  hub = {
    enabled      = true
    replicas     = 3
    ingress_host = "hpc.example.com"
  }

  register_clusters = {
    west = { zone = "eu" }
  }
  hub_url           = "https://hpc.example.com"
  hub_admin_api_key = var.hub_admin_api_key
  hub_ca_file       = "flotilla-ca.crt"
}

module "west" {
  source    = "../.."
  providers = { helm = helm.west }

  release_name = "flotilla-agent"
  namespace    = "flotilla"
  image_tag    = "v0.1.0"

  hub = { enabled = false }
  agent = {
    enabled       = true
    cluster       = "west"
    hub_urls      = ["https://hpc.example.com"]
    node_selector = "flotilla.io/pool=hpc"
    tolerate      = ["flotilla.io/pool=hpc:NoSchedule"]
  }
  bootstrap_token = var.west_bootstrap_token
}

output "admin_api_key_command" {
  description = "Prints the hub administrator's API key."
  value       = module.hub.admin_api_key_command
}
