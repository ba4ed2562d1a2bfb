# A GKE cluster for Flotilla: a regional control plane, an untainted system
# pool for the hub and the agent, and one dedicated pool per machine type
# with the labels and taints the agent expects. Persistent disks for the
# hub come from GKE's built-in CSI driver.

locals {
  pool_label = "flotilla.io/pool"
}

resource "google_service_account" "nodes" {
  project      = var.project_id
  account_id   = "${var.cluster_name}-nodes"
  display_name = "Flotilla nodes of ${var.cluster_name}"
}

resource "google_project_iam_member" "nodes" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/artifactregistry.reader",
  ])
  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_container_cluster" "this" {
  project             = var.project_id
  name                = var.cluster_name
  location            = var.region
  node_locations      = length(var.node_locations) > 0 ? var.node_locations : null
  network             = var.network
  subnetwork          = var.subnetwork != "" ? var.subnetwork : null
  deletion_protection = var.deletion_protection
  resource_labels     = var.labels

  # Node pools are managed below, one per machine type.
  remove_default_node_pool = true
  initial_node_count       = 1

  release_channel {
    channel = var.release_channel
  }

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  # NetworkPolicies (the hub's, and each job's) are enforced.
  datapath_provider = "ADVANCED_DATAPATH"
}

resource "google_container_node_pool" "system" {
  project  = var.project_id
  name     = "system"
  cluster  = google_container_cluster.this.id
  location = var.region

  autoscaling {
    min_node_count = var.system_pool.min_nodes
    max_node_count = var.system_pool.max_nodes
  }

  node_config {
    machine_type    = var.system_pool.machine_type
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels          = { "flotilla.io/role" = "system" }
    resource_labels = var.labels

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }

  upgrade_settings {
    max_surge       = 1
    max_unavailable = 0
  }
}

resource "google_container_node_pool" "machine" {
  for_each = var.machine_types

  project  = var.project_id
  name     = "mt-${each.key}"
  cluster  = google_container_cluster.this.id
  location = var.region

  autoscaling {
    min_node_count = each.value.min_nodes
    max_node_count = each.value.max_nodes
  }

  node_config {
    machine_type    = each.value.machine_type
    disk_size_gb    = each.value.disk_size_gb
    spot            = each.value.spot
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    resource_labels = var.labels

    labels = merge(each.value.labels, {
      (local.pool_label)         = var.dedicated_pool
      "flotilla.io/machine-type" = each.key
    })

    taint {
      key    = local.pool_label
      value  = var.dedicated_pool
      effect = "NO_SCHEDULE"
    }

    dynamic "guest_accelerator" {
      for_each = each.value.gpus > 0 ? [1] : []
      content {
        type  = each.value.gpu_type
        count = each.value.gpus
        gpu_driver_installation_config {
          gpu_driver_version = "LATEST"
        }
      }
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }

  upgrade_settings {
    max_surge       = 1
    max_unavailable = 0
  }
}
