output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "endpoint" {
  description = "URL of the cluster's Kubernetes API server."
  value       = aws_eks_cluster.this.endpoint
}

output "certificate_authority_data" {
  description = "Base64 PEM of the CA that signs the API server's certificate (for the kubernetes and helm providers)."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "node_groups" {
  description = "Node group name of each machine type."
  value       = { for k, g in aws_eks_node_group.machine : k => g.node_group_name }
}

output "machine_type_properties" {
  description = "The mc_properties value of each machine type at the hub, selecting its node group."
  value       = { for k in keys(var.machine_types) : k => "flotilla.io/machine-type=${k}" }
}

output "agent_settings" {
  description = "The agent's node selector and tolerations for this cluster's dedicated pool (the flotilla module's agent.node_selector and agent.tolerate)."
  value = {
    node_selector = "flotilla.io/pool=${var.dedicated_pool}"
    tolerate      = ["flotilla.io/pool=${var.dedicated_pool}:NoSchedule"]
  }
}
