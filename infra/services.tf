# Cloud Run services, one per entry of local.services (shared/deployables.ts): the model server
# `serve` (functions/services/serve.ts), answering POST /v1/models/{alias}:predict and GET /metrics.
# Its identity (iam.tf) reads the models bucket and connects to Cloud SQL (through the Node
# connector, no socket volume) to read aliases and models; nothing else. CPU by default; serve_gpu = true puts it on an L4 (GPU services need at
# least 4 vCPU and 16 GiB, CPU always allocated, and no zonal redundancy unless quota allows it).
locals {
  service_env = {
    for name, env_keys in local.service_env_keys : name => merge(
      { for key in env_keys : key => local.env_values[key] if contains(keys(local.env_values), key) },
      { ONNX_EXECUTION_PROVIDERS = var.serve_gpu ? "cuda,cpu" : "cpu" },
    )
  }
  service_secrets = {
    for name, secret_keys in local.service_secret_keys : name => {
      for key in secret_keys : key => local.secret_ids[key] if contains(keys(local.secret_ids), key)
    }
  }
}

resource "google_cloud_run_v2_service" "service" {
  for_each = local.services

  name                = each.key
  location            = var.region
  deletion_protection = false
  ingress             = "INGRESS_TRAFFIC_ALL"
  launch_stage        = "GA"

  template {
    service_account                  = google_service_account.service[each.key].email
    timeout                          = each.value.timeout
    max_instance_request_concurrency = each.value.max_instance_request_concurrency
    gpu_zonal_redundancy_disabled    = var.serve_gpu ? true : null

    scaling {
      min_instance_count = each.value.min_instance_count
      max_instance_count = each.value.max_instance_count
    }

    dynamic "node_selector" {
      for_each = var.serve_gpu ? ["nvidia-l4"] : []
      content {
        accelerator = node_selector.value
      }
    }

    containers {
      image = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.jobs.repository_id}/${each.key}:${var.image_tag}"
      resources {
        cpu_idle = !var.serve_gpu
        limits = merge(
          { cpu = var.serve_gpu ? "4" : each.value.cpu, memory = var.serve_gpu ? "16Gi" : each.value.memory },
          var.serve_gpu ? { "nvidia.com/gpu" = "1" } : {},
        )
      }
      startup_probe {
        http_get {
          path = "/healthz"
        }
      }
      dynamic "env" {
        for_each = local.service_env[each.key]
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = local.service_secrets[each.key]
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.service_secret_access,
    google_secret_manager_secret_version.db_password,
  ]
}

locals {
  service_uris = { for name, svc in google_cloud_run_v2_service.service : name => svc.uri }
}
