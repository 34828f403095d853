# Least privilege: one service account per function and per job, each holding only what its
# registry entry (shared/deployables.ts, via deployables.json) says its use case touches — object
# roles on single buckets, publisher on the topics of the messages it may publish, job-scoped Cloud
# Run roles for the functions that launch jobs, the secrets of its config sections. No owner,
# editor or project-wide storage admin.

resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = "fn-${each.key}"
  display_name = "mlops function ${each.key}"
}

resource "google_service_account" "job" {
  for_each = local.jobs

  account_id   = "job-${each.key}"
  display_name = "mlops job ${each.key}"
}

resource "google_service_account" "service" {
  for_each = local.services

  account_id   = "svc-${each.key}"
  display_name = "mlops service ${each.key}"
}

resource "google_service_account" "pubsub_push" {
  account_id   = "mlops-pubsub-push"
  display_name = "Pub/Sub push subscriptions → consumer functions"
}

resource "google_service_account" "eventarc_trigger" {
  account_id   = "mlops-eventarc-ingest"
  display_name = "Eventarc GCS trigger → ingest"
}

resource "google_service_account" "builder" {
  account_id   = "mlops-fn-builder"
  display_name = "Cloud Build of the function sources"
}

locals {
  principal_email = merge(
    { for name, fn in local.functions : "fn:${name}" => google_service_account.function[name].email },
    { for name, job in local.jobs : "job:${name}" => google_service_account.job[name].email },
    { for name, svc in local.services : "svc:${name}" => google_service_account.service[name].email },
  )

  secret_grants = merge([
    for fn, secrets in local.function_secrets : {
      for key, secret in secrets : "${fn}:${key}" => { function = fn, secret = secret }
    }
  ]...)
}

resource "google_storage_bucket_iam_member" "data" {
  for_each = local.bucket_grants

  bucket = google_storage_bucket.data[each.value.bucket].name
  role   = each.value.role
  member = "serviceAccount:${local.principal_email[each.value.principal]}"
}

# Create and overwrite under one prefix only (the predict job's predictions/ in the models bucket):
# the condition on the object name holds for object reads and writes (uniform bucket-level access);
# listing is a bucket permission, which the job's viewer grant on that bucket gives.
resource "google_storage_bucket_iam_member" "prefix_writer" {
  for_each = local.prefix_grants

  bucket = google_storage_bucket.data[each.value.bucket].name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${local.principal_email[each.value.principal]}"
  condition {
    title      = "only-under-${trimsuffix(each.value.prefix, "/")}"
    expression = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.data[each.value.bucket].name}/objects/${each.value.prefix}\")"
  }
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.topic_grants

  topic  = google_pubsub_topic.topic[each.value.topic].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${local.principal_email[each.value.principal]}"
}

# Run with overrides (env, task timeout) and cancel, scoped to the one job; viewer on the same job
# to read its executions' status.
resource "google_cloud_run_v2_job_iam_member" "launcher" {
  for_each = local.launcher_grants

  name     = google_cloud_run_v2_job.job[each.value.job].name
  location = var.region
  role     = "roles/run.jobsExecutorWithOverrides"
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_cloud_run_v2_job_iam_member" "launcher_viewer" {
  for_each = local.launcher_grants

  name     = google_cloud_run_v2_job.job[each.value.job].name
  location = var.region
  role     = "roles/run.viewer"
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# Cloud SQL: connect to this one instance only (IAM condition on the instance name).
resource "google_project_iam_member" "cloudsql_client" {
  for_each = local.functions

  project = var.project
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.function[each.key].email}"
  condition {
    title      = "only-mlops-instance"
    expression = "resource.name == \"projects/${var.project}/instances/${google_sql_database_instance.main.name}\" && resource.type == \"sqladmin.googleapis.com/Instance\""
  }
}

# The services' Cloud SQL connection, on the same condition as the functions'.
resource "google_project_iam_member" "service_cloudsql_client" {
  for_each = local.services

  project = var.project
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.service[each.key].email}"
  condition {
    title      = "only-mlops-instance"
    expression = "resource.name == \"projects/${var.project}/instances/${google_sql_database_instance.main.name}\" && resource.type == \"sqladmin.googleapis.com/Instance\""
  }
}

resource "google_secret_manager_secret_iam_member" "service_secret_access" {
  for_each = merge([
    for svc, secrets in local.service_secrets : {
      for key, secret in secrets : "${svc}:${key}" => { service = svc, secret = secret }
    }
  ]...)

  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.service[each.value.service].email}"
}

resource "google_secret_manager_secret_iam_member" "function_secret_access" {
  for_each = local.secret_grants

  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# Invokers: the push identity may call the consumers, the trigger identity the functions with a
# storage trigger, the listed viewers the dashboard (and, below, anyone the Label Studio webhook
# and Slack's signed requests to slack-actions).
resource "google_cloud_run_service_iam_member" "push_invoker" {
  for_each = local.consumers

  location = var.region
  service  = local.function_services[each.key]
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.pubsub_push.email}"
}

resource "google_cloud_run_service_iam_member" "eventarc_invoker" {
  for_each = local.storage_triggers

  location = var.region
  service  = local.function_services[each.key]
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.eventarc_trigger.email}"
}

resource "google_cloud_run_service_iam_member" "dashboard_viewer" {
  for_each = toset(var.dashboard_viewers)

  location = var.region
  service  = local.function_services["dashboard"]
  role     = "roles/run.invoker"
  member   = each.value
}

# Label Studio cannot obtain a Google identity token: its webhook function is public and checks
# the shared secret header itself (shared/adapters/labelstudio/webhook.ts). Only with that backend.
resource "google_cloud_run_service_iam_member" "labelstudio_webhook_public" {
  count = local.labelstudio_enabled ? 1 : 0

  location = var.region
  service  = local.function_services["labelstudio-webhook"]
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Slack cannot present a Google identity: slack-actions is invokable by anyone (only when Slack is
# enabled) and refuses every request that does not carry Slack's signature (SLACK_SIGNING_SECRET).
resource "google_cloud_run_service_iam_member" "slack_actions_public" {
  count = local.slack_enabled ? 1 : 0

  location = var.region
  service  = local.function_services["slack-actions"]
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "serve_invoker" {
  for_each = toset(var.serve_invokers)

  name     = google_cloud_run_v2_service.service["serve"].name
  location = var.region
  role     = "roles/run.invoker"
  member   = each.value
}

# Eventarc's receiver role exists only at project level.
resource "google_project_iam_member" "eventarc_receiver" {
  project = var.project
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.eventarc_trigger.email}"
}

# GCS publishes its object notifications for Eventarc through Pub/Sub as its own service agent.
data "google_storage_project_service_account" "gcs" {}

resource "google_project_iam_member" "gcs_agent_publisher" {
  project = var.project
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

# The Pub/Sub service agent mints the OIDC tokens of the push identity (needed on older projects).
resource "google_service_account_iam_member" "push_token_creator" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# The function build runs as the builder: write logs and images, read the source zip.
resource "google_project_iam_member" "builder" {
  for_each = toset(["roles/logging.logWriter", "roles/artifactregistry.writer"])

  project = var.project
  role    = each.value
  member  = "serviceAccount:${google_service_account.builder.email}"
}

resource "google_storage_bucket_iam_member" "builder_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.builder.email}"
}

# Cloud Functions copies the source zip into its own staging bucket,
# gcf-v2-sources-<project number>-<region>, and the build fetches it from there
# ("Access to bucket gcf-v2-sources-… denied. You must grant Storage Object Viewer permission",
# hashicorp/terraform-provider-google#20571). That bucket is created by the first deployment, so
# the grant is project-level, conditioned on its name.
resource "google_project_iam_member" "builder_gcf_sources" {
  project = var.project
  role    = "roles/storage.objectViewer"
  member  = "serviceAccount:${google_service_account.builder.email}"
  condition {
    title      = "only-gcf-v2-sources"
    expression = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${data.google_project.this.number}-${var.region}\")"
  }
}

resource "google_artifact_registry_repository_iam_member" "service_pull" {
  for_each = local.services

  location   = var.region
  repository = google_artifact_registry_repository.jobs.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.service[each.key].email}"
}

# Jobs pull their images from our repository.
resource "google_artifact_registry_repository_iam_member" "job_pull" {
  for_each = local.jobs

  location   = var.region
  repository = google_artifact_registry_repository.jobs.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.job[each.key].email}"
}
