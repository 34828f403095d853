# Cloud Storage events (functions whose registry trigger is `storage`: ingest on the archive bucket).
# A standalone Eventarc trigger, not the function's `event_trigger`, so that it is created only
# after every grant it needs: the GCS service agent may publish (GCS direct events travel through
# Pub/Sub), the trigger identity may receive events and may invoke the function. Triggers created
# this way retry failed deliveries (exponential backoff, 24 h retention); handleDelivery
# dead-letters events older than MAX_EVENT_AGE_SECONDS before that.
resource "google_eventarc_trigger" "storage" {
  for_each = local.storage_triggers

  name = "${each.key}-${each.value.bucket}"
  # A Cloud Storage trigger lives in the bucket's location.
  location        = lower(local.bucket_location)
  service_account = google_service_account.eventarc_trigger.email

  matching_criteria {
    attribute = "type"
    value     = each.value.event_type
  }
  matching_criteria {
    attribute = "bucket"
    value     = google_storage_bucket.data[each.value.bucket].name
  }

  destination {
    cloud_run_service {
      service = local.function_services[each.key]
      region  = var.region
      path    = "/"
    }
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.gcs_agent_publisher,
    google_project_iam_member.eventarc_receiver,
    google_cloud_run_service_iam_member.eventarc_invoker,
  ]
}
