# Cloud Functions gen2 on nodejs22, one per entry of local.functions (shared/deployables.ts):
# registered name = file name = function name = entry point. Sources are the bundles
# `npm run build` writes to dist/functions/<name>/ (index.js + package.json listing only its
# native externals). Size, timeout, scaling, ingress, environment and secrets come from the entry.
#
# Consumers accept internal traffic only (Pub/Sub push, Eventarc) and require an identity token:
# run.invoker is granted to the push and trigger service accounts, nobody else. The storage
# trigger of ingest is its own resource (eventarc.tf) so that it can wait for its IAM grants.
resource "google_cloudfunctions2_function" "function" {
  for_each = local.functions

  name     = each.key
  location = var.region

  build_config {
    runtime         = "nodejs22"
    entry_point     = each.value.entry_point
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source[each.key].name
      }
    }
  }

  service_config {
    available_memory                 = each.value.available_memory
    available_cpu                    = each.value.available_cpu
    timeout_seconds                  = each.value.timeout_seconds
    max_instance_count               = each.value.max_instance_count
    max_instance_request_concurrency = each.value.max_instance_request_concurrency
    ingress_settings                 = each.value.ingress
    service_account_email            = google_service_account.function[each.key].email
    environment_variables            = local.function_env[each.key]

    dynamic "secret_environment_variables" {
      for_each = local.function_secrets[each.key]
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
    # The platform build runs as the builder: it must read the source and push the image first.
    google_project_iam_member.builder,
    google_project_iam_member.builder_gcf_sources,
    google_storage_bucket_iam_member.builder_sources,
  ]
}

locals {
  function_uris = { for name, fn in google_cloudfunctions2_function.function : name => fn.service_config[0].uri }
  # A gen2 function runs as the Cloud Run service of the same name.
  function_services = { for name, fn in google_cloudfunctions2_function.function : name => fn.name }
}
