variable "cluster_name" {
  type        = string
  description = "Name of the EKS cluster; also its name at the Flotilla hub unless the flotilla module is told otherwise."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 2-40 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the control plane and node groups, e.g. \"1.33\"."
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like \"1.33\"."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (in at least two availability zones) for the control plane's network interfaces and the nodes."

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must name at least two subnets (subnet-...)."
  }
}

variable "endpoint_public_access" {
  type        = bool
  description = "Whether the Kubernetes API endpoint is reachable from the internet (restricted to public_access_cidrs)."
  default     = false

  validation {
    condition     = var.endpoint_public_access != null
    error_message = "endpoint_public_access must be true or false."
  }
}

variable "public_access_cidrs" {
  type        = list(string)
  description = "CIDR blocks allowed to reach a public API endpoint."
  default     = []

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "public_access_cidrs must hold CIDR blocks such as 203.0.113.0/24."
  }
}

variable "system_node_group" {
  type = object({
    instance_type = string
    min_size      = number
    max_size      = number
  })
  description = "Untainted nodes for the hub replicas, the agent and cluster add-ons. Three or more nodes across zones let the hub's replicas spread."
  default = {
    instance_type = "m6i.large"
    min_size      = 3
    max_size      = 6
  }

  validation {
    condition     = var.system_node_group.min_size >= 1 && var.system_node_group.max_size >= var.system_node_group.min_size
    error_message = "system_node_group needs min_size >= 1 and max_size >= min_size."
  }
}

variable "machine_types" {
  type = map(object({
    instance_type = string
    min_size      = number
    max_size      = number
    desired_size  = optional(number)
    gpus          = optional(number, 0)
    capacity_type = optional(string, "ON_DEMAND")
    disk_size_gb  = optional(number, 100)
    labels        = optional(map(string), {})
  }))
  description = <<-EOT
    One node group per Flotilla machine type, keyed by the machine type's name. Every node is
    labelled flotilla.io/pool=<dedicated_pool> and flotilla.io/machine-type=<key> and tainted
    flotilla.io/pool=<dedicated_pool>:NoSchedule, so only the agent's job pods land there; GPU
    groups (gpus > 0) also carry the nvidia.com/gpu taint GPU machine types tolerate.
  EOT

  validation {
    condition = alltrue([for k, m in var.machine_types :
      can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", k)) && m.min_size >= 0 && m.max_size >= max(m.min_size, 1) &&
      m.gpus >= 0 && contains(["ON_DEMAND", "SPOT"], m.capacity_type) && m.disk_size_gb >= 20
    ])
    error_message = "machine_types: keys must be DNS labels; each needs 0 <= min_size <= max_size (max_size >= 1), gpus >= 0, capacity_type ON_DEMAND or SPOT and disk_size_gb >= 20."
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

variable "tags" {
  type        = map(string)
  description = "AWS tags on every resource the module creates."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) > 0 && length(k) <= 128 && length(v) <= 256])
    error_message = "tags: keys of 1-128 characters, values of at most 256."
  }
}
