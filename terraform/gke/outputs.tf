output "cluster_name" {
  description = "Name of the GKE cluster."
  value       = google_container_cluster.this.name
}

output "endpoint" {
  description = "URL of the cluster's Kubernetes API server."
  value       = "https://${google_container_cluster.this.endpoint}"
}

output "certificate_authority_data" {
  description = "Base64 PEM of the CA that signs the API server's certificate (for the kubernetes and helm providers)."
  value       = google_container_cluster.this.master_auth[0].cluster_ca_certificate
}

output "node_pools" {
  description = "Node pool name of each machine type."
  value       = { for k, p in google_container_node_pool.machine : k => p.name }
}

output "machine_type_properties" {
  description = "The mc_properties value of each machine type at the hub, selecting its node pool."
  value       = { for k in keys(var.machine_types) : k => "flotilla.io/machine-type=${k}" }
}

output "agent_settings" {
  description = "The agent's node selector and tolerations for this cluster's dedicated pool (the flotilla module's agent.node_selector and agent.tolerate)."
  value = {
    node_selector = "flotilla.io/pool=${var.dedicated_pool}"
    tolerate      = ["flotilla.io/pool=${var.dedicated_pool}:NoSchedule"]
  }
}
