output "release_name" {
  description = "Name of the Helm release."
  value       = helm_release.flotilla.name
}

output "namespace" {
  description = "Namespace of the release."
  value       = helm_release.flotilla.namespace
}

output "chart_version" {
  description = "Version of the chart installed, and the Flotilla version of its images (appVersion)."
  value       = { chart = helm_release.flotilla.metadata.version, app = helm_release.flotilla.metadata.app_version }
}

output "hub_service_url" {
  description = "In-cluster URL of the hub's API (for agents in the same cluster); empty without a hub."
  value       = var.hub.enabled ? "https://${var.release_name}-hub.${var.namespace}.svc:8443" : ""
}

output "admin_api_key_command" {
  description = "Command that prints the bootstrap administrator's API key from the hub's Secret."
  value       = var.hub.enabled ? "kubectl -n ${var.namespace} get secret ${var.release_name}-hub-secrets -o jsonpath='{.data.admin-api-key}' | base64 -d" : ""
}

output "registered_clusters" {
  description = "Clusters registered at the hub by this module."
  value       = keys(terraform_data.cluster)
}
