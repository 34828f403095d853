# Cloud Functions gen2 on nodejs22, one per file in functions/ (registered name = file name =
# resource name = entry point). Sources are the bundles `npm run build` writes to
# dist/functions/<name>/ (index.js + package.json listing only its native externals).
#
# Consumers accept internal traffic only (Pub/Sub push, Eventarc) and require an identity token:
# run.invoker is granted to the push and trigger service accounts, nobody else.

# ingest: GCS finalize on the archive bucket (Eventarc) + pushes on object-finalized
resource "google_cloudfunctions2_function" "ingest" {
  name     = "ingest"
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "ingest"
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source["ingest"].name
      }
    }
  }

  service_config {
    # Sized by `npm run bench -- safety` (peak RSS of one upload through ingest in a fresh Node
    # process, VmHWM after the database is open, Postgres): hostile uploads 165-180 MiB, a legitimate
    # 4096² 4-band float32 product zip 640 MiB, the worst upload the default limits accept (a 290 MB
    # TIFF inflated + a decode at MAX_DECODE_BYTES) 857 MiB. 1 GiB would leave ~15 % headroom, too
    # little for GC timing; 2 GiB (the 1-vCPU tier) leaves 2x. Raise MAX_INFLATED_BYTES /
    # MAX_DECODE_BYTES only together with this value.
    available_memory                 = "2Gi"
    available_cpu                    = "1"
    timeout_seconds                  = 540
    max_instance_count               = 20
    max_instance_request_concurrency = 1
    ingress_settings                 = local.consumer_ingress
    service_account_email            = google_service_account.function["ingest"].email
    environment_variables            = local.common_env

    dynamic "secret_environment_variables" {
      for_each = local.function_secrets["ingest"]
      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  # Eventarc GCS trigger with retries on: a thrown (transient) error is redelivered for up to 24 h;
  # handleDelivery dead-letters events older than MAX_EVENT_AGE_SECONDS before that.
  event_trigger {
    trigger_region        = local.bucket_location
    event_type            = "google.cloud.storage.object.v1.finalized"
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.eventarc_trigger.email
    event_filters {
      attribute = "bucket"
      value     = google_storage_bucket.data["archive"].name
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.function_secret_access,
    google_secret_manager_secret_version.db_password,
  ]
}

# register: item-normalised
resource "google_cloudfunctions2_function" "register" {
  name     = "register"
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "register"
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source["register"].name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 540
    max_instance_count               = 5
    max_instance_request_concurrency = 1
    ingress_settings                 = local.consumer_ingress
    service_account_email            = google_service_account.function["register"].email
    environment_variables            = local.common_env

    dynamic "secret_environment_variables" {
      for_each = local.function_secrets["register"]
      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.function_secret_access,
    google_secret_manager_secret_version.db_password,
  ]
}

# poll: poll-tick (scheduler) and the poll command
resource "google_cloudfunctions2_function" "poll" {
  name     = "poll"
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "poll"
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source["poll"].name
      }
    }
  }

  service_config {
    available_memory                 = "1Gi"
    available_cpu                    = "1"
    timeout_seconds                  = 540
    max_instance_count               = 2
    max_instance_request_concurrency = 1
    ingress_settings                 = local.consumer_ingress
    service_account_email            = google_service_account.function["poll"].email
    environment_variables            = local.common_env

    dynamic "secret_environment_variables" {
      for_each = local.function_secrets["poll"]
      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.function_secret_access,
    google_secret_manager_secret_version.db_password,
  ]
}

# threshold: annotations-accepted, threshold-tick
resource "google_cloudfunctions2_function" "threshold" {
  name     = "threshold"
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "threshold"
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source["threshold"].name
      }
    }
  }

  service_config {
    available_memory                 = "1Gi"
    available_cpu                    = "1"
    timeout_seconds                  = 540
    max_instance_count               = 2
    max_instance_request_concurrency = 1
    ingress_settings                 = local.consumer_ingress
    service_account_email            = google_service_account.function["threshold"].email
    environment_variables            = local.common_env

    dynamic "secret_environment_variables" {
      for_each = local.function_secrets["threshold"]
      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.function_secret_access,
    google_secret_manager_secret_version.db_password,
  ]
}

# on-training-completed: training-completed (train job results)
resource "google_cloudfunctions2_function" "on-training-completed" {
  name     = "on-training-completed"
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "on-training-completed"
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source["on-training-completed"].name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 540
    max_instance_count               = 5
    max_instance_request_concurrency = 1
    ingress_settings                 = local.consumer_ingress
    service_account_email            = google_service_account.function["on-training-completed"].email
    environment_variables            = local.common_env

    dynamic "secret_environment_variables" {
      for_each = local.function_secrets["on-training-completed"]
      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.function_secret_access,
    google_secret_manager_secret_version.db_password,
  ]
}

# promote: evaluation-completed (evaluate job results)
resource "google_cloudfunctions2_function" "promote" {
  name     = "promote"
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "promote"
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source["promote"].name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 540
    max_instance_count               = 5
    max_instance_request_concurrency = 1
    ingress_settings                 = local.consumer_ingress
    service_account_email            = google_service_account.function["promote"].email
    environment_variables            = local.common_env

    dynamic "secret_environment_variables" {
      for_each = local.function_secrets["promote"]
      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.function_secret_access,
    google_secret_manager_secret_version.db_password,
  ]
}

# command: commands
resource "google_cloudfunctions2_function" "command" {
  name     = "command"
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "command"
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source["command"].name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 540
    max_instance_count               = 5
    max_instance_request_concurrency = 1
    ingress_settings                 = local.consumer_ingress
    service_account_email            = google_service_account.function["command"].email
    environment_variables            = local.common_env

    dynamic "secret_environment_variables" {
      for_each = local.function_secrets["command"]
      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.function_secret_access,
    google_secret_manager_secret_version.db_password,
  ]
}

# reconcile: reconcile-tick (scheduler)
resource "google_cloudfunctions2_function" "reconcile" {
  name     = "reconcile"
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "reconcile"
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source["reconcile"].name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 540
    max_instance_count               = 1
    max_instance_request_concurrency = 1
    ingress_settings                 = local.consumer_ingress
    service_account_email            = google_service_account.function["reconcile"].email
    environment_variables            = local.common_env

    dynamic "secret_environment_variables" {
      for_each = local.function_secrets["reconcile"]
      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.function_secret_access,
    google_secret_manager_secret_version.db_password,
  ]
}

# dashboard: HTTP (authenticated)
resource "google_cloudfunctions2_function" "dashboard" {
  name     = "dashboard"
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = "dashboard"
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source["dashboard"].name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 60
    max_instance_count               = 3
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_ALL"
    service_account_email            = google_service_account.function["dashboard"].email
    environment_variables            = local.common_env

    dynamic "secret_environment_variables" {
      for_each = local.function_secrets["dashboard"]
      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.function_secret_access,
    google_secret_manager_secret_version.db_password,
  ]
}

locals {
  # Pub/Sub push and Eventarc deliveries count as internal traffic for Cloud Run.
  consumer_ingress = "ALLOW_INTERNAL_ONLY"

  function_resources = {
    "ingest"                = google_cloudfunctions2_function.ingest
    "register"              = google_cloudfunctions2_function.register
    "poll"                  = google_cloudfunctions2_function.poll
    "threshold"             = google_cloudfunctions2_function.threshold
    "on-training-completed" = google_cloudfunctions2_function.on-training-completed
    "promote"               = google_cloudfunctions2_function.promote
    "command"               = google_cloudfunctions2_function.command
    "reconcile"             = google_cloudfunctions2_function.reconcile
    "dashboard"             = google_cloudfunctions2_function.dashboard
  }
  function_uris = { for name, fn in local.function_resources : name => fn.service_config[0].uri }
  # A gen2 function runs as the Cloud Run service of the same name.
  function_services = { for name, fn in local.function_resources : name => fn.name }
}
