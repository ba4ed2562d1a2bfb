# An EKS cluster with a CPU and a GPU machine type, ready for the flotilla
# module (see ../../../flotilla/examples/hub-and-agent).

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 7.0"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

module "eks" {
  source = "../.."

  cluster_name       = "east"
  kubernetes_version = "1.33"
  subnet_ids         = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003"]

  machine_types = {
    c32 = {
      instance_type = "c6i.8xlarge"
      min_size      = 0
      max_size      = 16
    }
    g4 = {
      instance_type = "g5.12xlarge"
      min_size      = 0
      max_size      = 4
      gpus          = 4
    }
  }

  tags = { project = "hpc" }
}

output "agent_settings" {
  description = "Node selector and tolerations for the agent of this cluster."
  value       = module.eks.agent_settings
}
