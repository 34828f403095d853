# Cloud Run jobs, one per entry of local.jobs (shared/deployables.ts): size, GPU, task timeout,
# retries, environment. GPU tasks are capped at one hour, so the task timeout is 3600 s and the
# train wrapper checkpoints to the run's output prefix. GPU tasks are not live-migrated: host
# maintenance terminates them (run/docs/configuring/task-timeout). Cloud Run retries a failed task
# attempt (timeout, maintenance, memory limit, exit 1) up to max_retries times inside the
# execution, and the retried attempt resumes from the checkpoints; a job never reports twice
# (result.json / report.json are checked first, message ids are fixed). When the retries run out,
# `reconcile` reads the last attempt's exit code and starts a new execution (up to
# TRAIN_MAX_ATTEMPTS) unless the failure is permanent (exit 2).
#
# Jobs never touch the database: they read GCS, write GCS and publish one result message. The
# predict job (batch prediction, `mlops command predict`) runs on the CPU (gpu = null): no node
# selector, no GPU limit.
resource "google_cloud_run_v2_job" "job" {
  for_each = local.jobs

  name                = each.key
  location            = var.region
  deletion_protection = false
  launch_stage        = "GA"

  template {
    task_count  = each.value.task_count
    parallelism = each.value.parallelism

    template {
      service_account               = google_service_account.job[each.key].email
      timeout                       = each.value.timeout
      max_retries                   = each.value.max_retries
      gpu_zonal_redundancy_disabled = each.value.gpu == null ? null : each.value.gpu.zonal_redundancy_disabled

      dynamic "node_selector" {
        for_each = each.value.gpu == null ? [] : [each.value.gpu]
        content {
          accelerator = node_selector.value.accelerator
        }
      }

      containers {
        image = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.jobs.repository_id}/${each.key}:${var.image_tag}"
        resources {
          # An L4 needs at least 4 vCPU and 16 GiB.
          limits = merge(
            { cpu = each.value.cpu, memory = each.value.memory },
            each.value.gpu == null ? {} : { "nvidia.com/gpu" = tostring(each.value.gpu.count) },
          )
        }
        dynamic "env" {
          for_each = local.job_env[each.key]
          content {
            name  = env.key
            value = env.value
          }
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}
