variable "project_id" {
  type        = string
  description = "Google Cloud project that holds the cluster."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 lowercase letters, digits or '-')."
  }
}

variable "region" {
  type        = string
  description = "Region of the (regional) cluster, e.g. europe-west4; its control plane and nodes span the region's zones."

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must look like europe-west4."
  }
}

variable "node_locations" {
  type        = list(string)
  description = "Zones of the region the nodes run in; empty lets GKE choose. Three zones let the hub's replicas spread."
  default     = []

  validation {
    condition     = alltrue([for z in var.node_locations : can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", z))])
    error_message = "node_locations must hold zones such as europe-west4-a."
  }
}

variable "cluster_name" {
  type        = string
  description = "Name of the GKE cluster; also its name at the Flotilla hub unless the flotilla module is told otherwise."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 2-40 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "network" {
  type        = string
  description = "VPC network the cluster is attached to."
  default     = "default"

  validation {
    condition     = length(var.network) > 0
    error_message = "network must not be empty."
  }
}

variable "subnetwork" {
  type        = string
  description = "Subnetwork of the nodes; empty uses the network's subnetwork in the region."
  default     = ""

  validation {
    condition     = var.subnetwork == "" || can(regex("^[a-z]([-a-z0-9]*[a-z0-9])?$", var.subnetwork)) || startswith(var.subnetwork, "projects/")
    error_message = "subnetwork must be a subnetwork name or a projects/... path."
  }
}

variable "release_channel" {
  type        = string
  description = "GKE release channel of the control plane and nodes."
  default     = "REGULAR"

  validation {
    condition     = contains(["RAPID", "REGULAR", "STABLE"], var.release_channel)
    error_message = "release_channel must be RAPID, REGULAR or STABLE."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to destroy the cluster until this is set to false."
  default     = true

  validation {
    condition     = var.deletion_protection != null
    error_message = "deletion_protection must be true or false."
  }
}

variable "system_pool" {
  type = object({
    machine_type = string
    min_nodes    = number
    max_nodes    = number
  })
  description = "Untainted nodes (per zone) for the hub replicas, the agent and cluster add-ons."
  default = {
    machine_type = "e2-standard-4"
    min_nodes    = 1
    max_nodes    = 3
  }

  validation {
    condition     = var.system_pool.min_nodes >= 1 && var.system_pool.max_nodes >= var.system_pool.min_nodes
    error_message = "system_pool needs min_nodes >= 1 and max_nodes >= min_nodes."
  }
}

variable "machine_types" {
  type = map(object({
    machine_type = string
    min_nodes    = number
    max_nodes    = number
    gpu_type     = optional(string, "")
    gpus         = optional(number, 0)
    spot         = optional(bool, false)
    disk_size_gb = optional(number, 100)
    labels       = optional(map(string), {})
  }))
  description = <<-EOT
    One node pool per Flotilla machine type, keyed by the machine type's name (node counts are per
    zone). Every node is labelled flotilla.io/pool=<dedicated_pool> and flotilla.io/machine-type=<key>
    and tainted flotilla.io/pool=<dedicated_pool>:NoSchedule; GKE taints GPU nodes with
    nvidia.com/gpu, which GPU machine types tolerate.
  EOT

  validation {
    condition = alltrue([for k, m in var.machine_types :
      can(regex("^[a-z0-9]([-a-z0-9]{0,36}[a-z0-9])?$", k)) && m.min_nodes >= 0 && m.max_nodes >= max(m.min_nodes, 1) &&
      m.gpus >= 0 && (m.gpus == 0 || m.gpu_type != "") && m.disk_size_gb >= 20
    ])
    error_message = "machine_types: keys must be DNS labels of at most 38 characters; each needs 0 <= min_nodes <= max_nodes (max_nodes >= 1), gpus >= 0 with a gpu_type when gpus > 0, and disk_size_gb >= 20."
  }
}

variable "dedicated_pool" {
  type        = string
  description = "Value of the flotilla.io/pool label and taint on the machine-type nodes (the agent's -node-selector and -tolerate)."
  default     = "hpc"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.dedicated_pool))
    error_message = "dedicated_pool must be a DNS label."
  }
}

variable "labels" {
  type        = map(string)
  description = "Google Cloud labels on the cluster and its node pools."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "labels: keys and values of lowercase letters, digits, '_' and '-' (keys start with a letter, at most 63 characters)."
  }
}
