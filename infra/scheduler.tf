# Ticks, from the registry's SCHEDULES (shared/deployables.ts). Scheduler publishes a bare payload
# with a `type` attribute; the function wraps it into an envelope whose id is the Pub/Sub message id
# (shared/runtime/function-handler.ts), so every tick is a distinct message and a redelivered tick
# is recognised.
resource "google_cloud_scheduler_job" "tick" {
  for_each = local.deployables.schedules

  name      = each.key
  region    = var.region
  schedule  = var.schedules[each.value.schedule]
  time_zone = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.topic[each.key].id
    data       = base64encode(jsonencode({ reason = "schedule" }))
    attributes = { type = each.value.type }
  }

  depends_on = [google_project_service.apis]
}
