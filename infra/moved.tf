# Functions and jobs used to be one resource block each; they are now one for_each resource fed by
# the registry. These keep existing deployments' state (no destroy and re-create of the addresses).
moved {
  from = google_cloudfunctions2_function.ingest
  to   = google_cloudfunctions2_function.function["ingest"]
}
moved {
  from = google_cloudfunctions2_function.register
  to   = google_cloudfunctions2_function.function["register"]
}
moved {
  from = google_cloudfunctions2_function.poll
  to   = google_cloudfunctions2_function.function["poll"]
}
moved {
  from = google_cloudfunctions2_function.threshold
  to   = google_cloudfunctions2_function.function["threshold"]
}
moved {
  from = google_cloudfunctions2_function.on-training-completed
  to   = google_cloudfunctions2_function.function["on-training-completed"]
}
moved {
  from = google_cloudfunctions2_function.promote
  to   = google_cloudfunctions2_function.function["promote"]
}
moved {
  from = google_cloudfunctions2_function.command
  to   = google_cloudfunctions2_function.function["command"]
}
moved {
  from = google_cloudfunctions2_function.reconcile
  to   = google_cloudfunctions2_function.function["reconcile"]
}
moved {
  from = google_cloudfunctions2_function.dashboard
  to   = google_cloudfunctions2_function.function["dashboard"]
}
moved {
  from = google_cloud_run_v2_job.train
  to   = google_cloud_run_v2_job.job["train"]
}
moved {
  from = google_cloud_run_v2_job.evaluate
  to   = google_cloud_run_v2_job.job["evaluate"]
}
moved {
  from = google_cloud_run_service_iam_member.eventarc_invoker
  to   = google_cloud_run_service_iam_member.eventarc_invoker["ingest"]
}
