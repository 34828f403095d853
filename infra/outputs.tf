output "function_uris" {
  description = "HTTPS endpoints of the functions (consumers accept only Pub/Sub/Eventarc traffic)."
  value       = local.function_uris
}

output "dashboard_url" {
  description = "Open with an identity token: gcloud auth print-identity-token, or via IAP/a proxy."
  value       = local.function_uris["dashboard"]
}

output "serve_url" {
  description = "The model server: POST <url>/v1/models/<alias>:predict with an identity token of a serve_invokers principal."
  value       = local.service_uris["serve"]
}

output "buckets" {
  value = { for k, b in google_storage_bucket.data : k => b.name }
}

output "cloud_sql_instance" {
  value = google_sql_database_instance.main.connection_name
}

output "job_image_repository" {
  value = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.jobs.repository_id}"
}

output "dead_letter_subscriptions" {
  description = "Pull these to inspect or replay messages a consumer gave up on."
  value       = { for k, s in google_pubsub_subscription.dead_letter : k => s.name }
}

output "slack_actions_url" {
  description = "Request URL for the Slack app's Interactivity setting (Approve/Reject buttons)."
  value       = local.function_uris["slack-actions"]
}
