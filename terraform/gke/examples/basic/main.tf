# A regional GKE cluster with a CPU and a GPU machine type, ready for the
# flotilla module.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
  }
}

provider "google" {
  project = "hpc-example-123456"
  region  = "europe-west4"
}

module "gke" {
  source = "../.."

  project_id     = "hpc-example-123456"
  region         = "europe-west4"
  node_locations = ["europe-west4-a", "europe-west4-b", "europe-west4-c"]
  cluster_name   = "west"

  machine_types = {
    c2-60 = {
      machine_type = "c2-standard-60"
      min_nodes    = 0
      max_nodes    = 8
    }
    a100 = {
      machine_type = "a2-highgpu-4g"
      min_nodes    = 0
      max_nodes    = 2
      gpu_type     = "nvidia-tesla-a100"
      gpus         = 4
    }
  }

  labels = { project = "hpc" }
}

output "agent_settings" {
  description = "Node selector and tolerations for the agent of this cluster."
  value       = module.gke.agent_settings
}
