# Cloud Run jobs with one NVIDIA L4 each. GPU tasks are capped at one hour, so the task timeout is
# 3600 s and the train wrapper checkpoints to the run's output prefix. GPU tasks are not
# live-migrated: host maintenance terminates them (run/docs/configuring/task-timeout). Cloud Run
# retries a failed task attempt (timeout, maintenance, memory limit, exit 1) up to max_retries
# times inside the execution, and the retried attempt resumes from the checkpoints; a job never
# reports twice (result.json / report.json are checked first, message ids are fixed). When the
# retries run out, `reconcile` reads the last attempt's exit code and starts a new execution
# (up to TRAIN_MAX_ATTEMPTS) unless the failure is permanent (exit 2).
#
# Jobs never touch the database: they read GCS, write GCS and publish one result message.

locals {
  job_image = {
    train    = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.jobs.repository_id}/train:${var.image_tag}"
    evaluate = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.jobs.repository_id}/evaluate:${var.image_tag}"
  }

  job_env = merge({
    MLOPS_RUNTIME        = "gcp"
    GOOGLE_CLOUD_PROJECT = var.project
    REGION               = var.region
    # Jobs never open the database: no CLOUD_SQL_INSTANCE, no credentials.
    BUCKET_ARCHIVE    = google_storage_bucket.data["archive"].name
    BUCKET_ANNOTATION = google_storage_bucket.data["annotation"].name
    BUCKET_DATASETS   = google_storage_bucket.data["datasets"].name
    BUCKET_MODELS     = google_storage_bucket.data["models"].name
    LOG_LEVEL         = "info"
  }, var.loop_settings)
}

resource "google_cloud_run_v2_job" "train" {
  name                = "train"
  location            = var.region
  deletion_protection = false
  launch_stage        = "GA"

  template {
    task_count  = 1
    parallelism = 1

    template {
      # max_retries: keep in step with JOB_MAX_RETRIES.train (shared/messages/jobs.ts). A retried
      # task resumes from the checkpoints after host maintenance, a timeout or an OOM kill.
      service_account               = google_service_account.job["train"].email
      timeout                       = "3600s"
      max_retries                   = 3
      gpu_zonal_redundancy_disabled = true

      node_selector {
        accelerator = "nvidia-l4"
      }

      containers {
        image = local.job_image.train
        resources {
          # L4 needs at least 4 vCPU and 16 GiB.
          limits = {
            cpu              = "4"
            memory           = "16Gi"
            "nvidia.com/gpu" = "1"
          }
        }
        dynamic "env" {
          for_each = merge(local.job_env, var.trainer_command == null ? {} : { TRAINER_COMMAND = var.trainer_command })
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

resource "google_cloud_run_v2_job" "evaluate" {
  name                = "evaluate"
  location            = var.region
  deletion_protection = false
  launch_stage        = "GA"

  template {
    task_count  = 1
    parallelism = 1

    template {
      # max_retries: keep in step with JOB_MAX_RETRIES.evaluate (shared/messages/jobs.ts); a retry
      # that finds report.json only republishes it.
      service_account               = google_service_account.job["evaluate"].email
      timeout                       = "3600s"
      max_retries                   = 2
      gpu_zonal_redundancy_disabled = true

      node_selector {
        accelerator = "nvidia-l4"
      }

      containers {
        image = local.job_image.evaluate
        resources {
          limits = {
            cpu              = "4"
            memory           = "16Gi"
            "nvidia.com/gpu" = "1"
          }
        }
        dynamic "env" {
          for_each = local.job_env
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
