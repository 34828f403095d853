# The path into Cloud Monitoring: log-based metrics counting the structured lines the loop writes
# for alert-worthy events (field `alert`: stuck_item from reconcile's stuck-item back-off,
# input_drift from the drift check), plus platform metrics (dead-letter subscriptions, failed
# Cloud Run job executions), and one alert policy each. The policies notify
# var.alert_notification_channels: create the team's Slack channel once in Cloud Monitoring
# (Alerting → Edit notification channels → Slack; the OAuth handshake cannot be scripted) and list
# its id here. The loop's own Slack notifications (SLACK_CHANNEL) are independent of these.

resource "google_logging_metric" "alert_event" {
  for_each = toset(["stuck_item", "input_drift"])

  name   = "mlops/${each.value}"
  filter = "jsonPayload.alert=\"${each.value}\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.apis]
}

locals {
  alert_documentation = "Runbook: README.md (Guarantees, Serving, metrics and drift); `mlops status --json` shows the failures, the drift check and the dead letters."
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "mlops: messages in a dead-letter subscription"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  documentation {
    content = "A consumer gave up on a message (dlq-<consumer>-pull). Fix the cause, then replay it. ${local.alert_documentation}"
  }
  conditions {
    display_name = "undelivered dead letters > 0"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id = starts_with(\"dlq-\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "failed_job_executions" {
  display_name          = "mlops: a training or evaluation execution failed"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  documentation {
    content = "A Cloud Run job execution ended failed; reconcile resumes resumable failures, permanent ones are on the run. ${local.alert_documentation}"
  }
  conditions {
    display_name = "failed executions"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_job\" AND metric.type = \"run.googleapis.com/job/completed_execution_count\" AND metric.labels.result = \"failed\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "alert_event" {
  for_each = google_logging_metric.alert_event

  display_name          = each.key == "input_drift" ? "mlops: input drift" : "mlops: items failed after stuck retries"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  documentation {
    content = "${each.key == "input_drift" ? "Recent images differ from the served model's training data." : "Items stayed in seen/normalised through STUCK_MAX_ATTEMPTS retries and failed."} ${local.alert_documentation}"
  }
  conditions {
    display_name = each.key
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${each.value.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "600s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
}
