# Environment and secrets of the deployables (which names each one gets: registry.tf), and the
# project's APIs.

locals {
  bucket_location = coalesce(var.bucket_location, var.region)
  name_suffix     = "${var.project}-${var.env}"

  buckets = {
    archive    = "mlops-archive-${local.name_suffix}"
    annotation = "mlops-annotation-${local.name_suffix}"
    datasets   = "mlops-datasets-${local.name_suffix}"
    models     = "mlops-models-${local.name_suffix}"
  }

  encord_enabled      = var.annotation_backend == "encord"
  labelstudio_enabled = var.annotation_backend == "labelstudio"
  slack_enabled       = var.slack_channel != null

  # Every value Terraform knows, by variable name (meaning in shared/config/schema.ts). A deployable
  # gets only the names its registry entry lists for this annotation backend (the variables of its
  # config sections), so a function never receives, nor validates, settings it does not use.
  platform_env = merge({
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
    TRAIN_JOB          = "train"
    EVALUATE_JOB       = "evaluate"
    PREDICT_JOB        = "predict"
    ANNOTATION_BACKEND = var.annotation_backend
    LOG_LEVEL          = "info"
    }, local.slack_enabled ? { SLACK_CHANNEL = var.slack_channel } : {},
    local.encord_enabled ? {
      ENCORD_INTEGRATION  = var.encord.integration
      ENCORD_DATASET_HASH = var.encord.dataset_hash
      ENCORD_PROJECT_HASH = var.encord.project_hash
      ENCORD_FOLDER       = var.encord.folder
    } : {},
    local.labelstudio_enabled ? merge({
      LABEL_STUDIO_URL     = var.label_studio.url
      LABEL_STUDIO_PROJECT = var.label_studio.project
    }, var.label_studio.image_url_prefix == null ? {} : { LABEL_STUDIO_IMAGE_URL_PREFIX = var.label_studio.image_url_prefix }) : {},
  var.trainer_command == null ? {} : { TRAINER_COMMAND = var.trainer_command })

  # loop_settings may set (or override) any variable; each deployable still gets only its own.
  env_values = merge(local.platform_env, var.loop_settings)

  function_env = {
    for name, env_keys in local.function_env_keys : name => {
      for key in env_keys : key => local.env_values[key] if contains(keys(local.env_values), key)
    }
  }
  job_env = {
    for name, env_keys in local.job_env_keys : name => {
      for key in env_keys : key => local.env_values[key] if contains(keys(local.env_values), key)
    }
  }

  # Secret env vars: variable name => Secret Manager secret id (only the secrets that exist).
  secret_ids = merge(
    { DB_PASSWORD = google_secret_manager_secret.db_password.secret_id },
    local.slack_enabled ? {
      SLACK_BOT_TOKEN      = google_secret_manager_secret.slack_bot_token[0].secret_id
      SLACK_SIGNING_SECRET = google_secret_manager_secret.slack_signing_secret[0].secret_id
    } : {},
    local.encord_enabled ? { ENCORD_SSH_KEY = google_secret_manager_secret.encord_ssh_key[0].secret_id } : {},
    local.labelstudio_enabled ? {
      LABEL_STUDIO_API_KEY        = google_secret_manager_secret.label_studio_api_key[0].secret_id
      LABEL_STUDIO_WEBHOOK_SECRET = google_secret_manager_secret.label_studio_webhook_secret[0].secret_id
    } : {},
  )
  function_secrets = {
    for name, secret_keys in local.function_secret_keys : name => {
      for key in secret_keys : key => local.secret_ids[key] if contains(keys(local.secret_ids), key)
    }
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
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
  ])
  service            = each.value
  disable_on_destroy = false
}
