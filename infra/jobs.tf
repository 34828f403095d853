# Cloud Run jobs with one NVIDIA L4 each. GPU tasks are capped at one hour, so the task timeout is
# 3600 s and the train wrapper checkpoints to the run's output prefix; `reconcile` resumes a run
# whose execution timed out. Task retries are off: a retried task would report twice, and
# resuming is the reconciler's decision (it counts attempts against TRAIN_MAX_ATTEMPTS).
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
      service_account               = google_service_account.job["train"].email
      timeout                       = "3600s"
      max_retries                   = 0
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
      service_account               = google_service_account.job["evaluate"].email
      timeout                       = "3600s"
      max_retries                   = 0
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
