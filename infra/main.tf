# The names below mirror the code and are checked against it by test/infra/terraform.test.ts:
#   local.topics    == TOPICS (shared/messages/topics.ts)
#   local.consumers == SUBSCRIPTIONS, as topics (which topics each consumer function is pushed)
#   every functions/<name>.ts has google_cloudfunctions2_function "<name>"; jobs likewise.

locals {
  bucket_location = coalesce(var.bucket_location, var.region)
  name_suffix     = "${var.project}-${var.env}"

  topics = [
    "object-finalized",
    "item-normalised",
    "items-registered",
    "item-failed",
    "annotations-accepted",
    "poll-tick",
    "threshold-tick",
    "reconcile-tick",
    "dataset-version-created",
    "training-started",
    "training-completed",
    "evaluation-completed",
    "model-promoted",
    "commands",
  ]

  consumers = {
    "ingest"                = ["object-finalized"]
    "register"              = ["item-normalised", "item-failed"]
    "poll"                  = ["poll-tick"]
    "threshold"             = ["annotations-accepted", "threshold-tick"]
    "on-training-completed" = ["training-completed"]
    "promote"               = ["evaluation-completed"]
    "command"               = ["commands"]
    "reconcile"             = ["reconcile-tick"]
  }

  functions = toset(concat(keys(local.consumers), ["dashboard"]))
  jobs      = toset(["train", "evaluate"])

  # One push subscription per (consumer, topic): "<consumer>--<topic>".
  push_subscriptions = merge([
    for consumer, topics in local.consumers : {
      for topic in topics : "${consumer}--${topic}" => { consumer = consumer, topic = topic }
    }
  ]...)

  buckets = {
    archive    = "mlops-archive-${local.name_suffix}"
    annotation = "mlops-annotation-${local.name_suffix}"
    datasets   = "mlops-datasets-${local.name_suffix}"
    models     = "mlops-models-${local.name_suffix}"
  }

  encord_enabled = var.annotation_backend == "encord"
  slack_enabled  = var.slack_channel != null

  # Environment shared by every function (see shared/config/schema.ts for the meaning of each).
  common_env = merge({
    MLOPS_RUNTIME        = "gcp"
    GOOGLE_CLOUD_PROJECT = var.project
    REGION               = var.region
    CLOUD_SQL_INSTANCE   = google_sql_database_instance.main.connection_name
    DB_USER              = google_sql_user.app.name
    DB_NAME              = google_sql_database.app.name
    # Cloud SQL's connection limit is shared by every instance of every function: keep pools small.
    DB_POOL_MAX        = "2"
    BUCKET_ARCHIVE     = google_storage_bucket.data["archive"].name
    BUCKET_ANNOTATION  = google_storage_bucket.data["annotation"].name
    BUCKET_DATASETS    = google_storage_bucket.data["datasets"].name
    BUCKET_MODELS      = google_storage_bucket.data["models"].name
    TRAIN_JOB          = google_cloud_run_v2_job.train.name
    EVALUATE_JOB       = google_cloud_run_v2_job.evaluate.name
    ANNOTATION_BACKEND = var.annotation_backend
    LOG_LEVEL          = "info"
    }, local.slack_enabled ? { SLACK_CHANNEL = var.slack_channel } : {},
    local.encord_enabled ? {
      ENCORD_INTEGRATION  = var.encord.integration
      ENCORD_DATASET_HASH = var.encord.dataset_hash
      ENCORD_PROJECT_HASH = var.encord.project_hash
      ENCORD_FOLDER       = var.encord.folder
    } : {},
  var.loop_settings)

  # Secret env vars per function: env var name => secret id.
  db_secret     = { DB_PASSWORD = google_secret_manager_secret.db_password.secret_id }
  slack_secret  = local.slack_enabled ? { SLACK_BOT_TOKEN = google_secret_manager_secret.slack_bot_token[0].secret_id } : {}
  encord_secret = local.encord_enabled ? { ENCORD_SSH_KEY = google_secret_manager_secret.encord_ssh_key[0].secret_id } : {}
  function_secrets = {
    "ingest"                = merge(local.db_secret, local.slack_secret)
    "register"              = merge(local.db_secret, local.slack_secret, local.encord_secret)
    "poll"                  = merge(local.db_secret, local.slack_secret, local.encord_secret)
    "threshold"             = merge(local.db_secret, local.slack_secret)
    "on-training-completed" = merge(local.db_secret, local.slack_secret)
    "promote"               = merge(local.db_secret, local.slack_secret)
    "command"               = merge(local.db_secret, local.slack_secret)
    "reconcile"             = merge(local.db_secret, local.slack_secret)
    "dashboard"             = local.db_secret
  }
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
  ])
  service            = each.value
  disable_on_destroy = false
}
