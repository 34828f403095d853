# Secrets reach functions as secret environment variables (never as plain env, never in logs).
# The database password is generated here; the Encord key and the Slack token are added by hand
# (`gcloud secrets versions add …`, see README) so they never pass through Terraform state.
resource "google_secret_manager_secret" "db_password" {
  secret_id = "mlops-db-password"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "db_password" {
  secret      = google_secret_manager_secret.db_password.id
  secret_data = random_password.db.result
}

resource "google_secret_manager_secret" "encord_ssh_key" {
  count     = local.encord_enabled ? 1 : 0
  secret_id = "mlops-encord-ssh-key"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "slack_bot_token" {
  count     = local.slack_enabled ? 1 : 0
  secret_id = "mlops-slack-bot-token"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "label_studio_api_key" {
  count     = local.labelstudio_enabled ? 1 : 0
  secret_id = "mlops-label-studio-api-key"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "label_studio_webhook_secret" {
  count     = local.labelstudio_enabled ? 1 : 0
  secret_id = "mlops-label-studio-webhook-secret"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "slack_signing_secret" {
  count     = local.slack_enabled ? 1 : 0
  secret_id = "mlops-slack-signing-secret"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}
