terraform {
  # terraform_data needs 1.4; optional object attributes with defaults 1.3.
  required_version = ">= 1.5.0"

  required_providers {
    helm = {
      source  = "hashicorp/helm"
      version = ">= 3.0, < 4.0"
    }
  }
}
