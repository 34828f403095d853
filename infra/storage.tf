# Data buckets: uniform access, no public access. Versioning where an overwrite would lose work
# (the archive holds the raw uploads; models hold artefacts and reports).
resource "google_storage_bucket" "data" {
  for_each = local.buckets

  name                        = each.value
  location                    = local.bucket_location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  versioning {
    enabled = contains(["archive", "models"], each.key)
  }

  # Old generations of versioned objects are kept for 30 days, then deleted.
  dynamic "lifecycle_rule" {
    for_each = contains(["archive", "models"], each.key) ? [1] : []
    content {
      condition {
        days_since_noncurrent_time = 30
        with_state                 = "ARCHIVED"
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [google_project_service.apis]
}

# Function source zips (one per function, named by content hash so a code change redeploys).
resource "google_storage_bucket" "sources" {
  name                        = "mlops-sources-${local.name_suffix}"
  location                    = local.bucket_location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
}

data "archive_file" "function" {
  for_each = local.functions

  type        = "zip"
  source_dir  = "${path.module}/../dist/functions/${each.key}"
  output_path = "${path.module}/.build/${each.key}.zip"
}

resource "google_storage_bucket_object" "function_source" {
  for_each = local.functions

  name   = "functions/${each.key}/${data.archive_file.function[each.key].output_md5}.zip"
  bucket = google_storage_bucket.sources.name
  source = data.archive_file.function[each.key].output_path
}

resource "google_artifact_registry_repository" "jobs" {
  repository_id = "mlops-jobs"
  location      = var.region
  format        = "DOCKER"
  description   = "Images of the train and evaluate Cloud Run jobs."

  # KEEP wins over DELETE: the 20 most recent versions stay, older ones go after 30 days. A KEEP
  # policy alone deletes nothing, and with dry run on (the API's default) nothing is deleted either.
  cleanup_policy_dry_run = false
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "30d"
    }
  }

  depends_on = [google_project_service.apis]
}
