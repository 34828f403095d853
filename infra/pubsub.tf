# One topic per entry in TOPICS. Messages carry our JSON envelope as data and its `type` as an
# attribute (shared/adapters/gcp/pubsub.ts).
resource "google_pubsub_topic" "topic" {
  for_each = toset(local.topics)

  name                       = each.value
  message_retention_duration = "86400s"

  depends_on = [google_project_service.apis]
}

# Each consumer function has its own dead-letter topic and a pull subscription on it, so dead
# letters are kept (7 days) for inspection and replay instead of being dropped.
resource "google_pubsub_topic" "dead_letter" {
  for_each = local.consumers

  name = "dlq-${each.key}"
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.consumers

  name                       = "dlq-${each.key}-pull"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60
  expiration_policy {
    ttl = ""
  }
}

# Push subscriptions: topic → consuming function (SUBSCRIPTIONS). We own these subscriptions
# (rather than Eventarc Pub/Sub triggers) because only an owned subscription can have a dead-letter
# policy. The endpoint path /projects/<p>/topics/<t> lets the functions framework fill in the
# CloudEvent source when it converts the push body.
resource "google_pubsub_subscription" "push" {
  for_each = local.push_subscriptions

  name  = each.key
  topic = google_pubsub_topic.topic[each.value.topic].id
  # Longer than the 540 s function timeout, so a slow delivery is not redelivered while running.
  ack_deadline_seconds       = 600
  message_retention_duration = "86400s"

  push_config {
    push_endpoint = "${local.function_uris[each.value.consumer]}/projects/${var.project}/topics/${each.value.topic}"
    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      audience              = local.function_uris[each.value.consumer]
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.consumer].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_cloud_run_service_iam_member.push_invoker,
  ]
}

# The Pub/Sub service agent forwards undeliverable messages: it must publish to the dead-letter
# topic and acknowledge on the source subscription.
locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.consumers

  topic  = google_pubsub_topic.dead_letter[each.key].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.push_subscriptions

  subscription = google_pubsub_subscription.push[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
