variable "project" {
  description = "Google Cloud project id."
  type        = string
}

variable "region" {
  description = "Region for functions, jobs, buckets and Cloud SQL. Must offer NVIDIA L4 for Cloud Run jobs (e.g. europe-west4, us-central1)."
  type        = string
}

variable "env" {
  description = "Environment name (dev, prod); used in bucket and instance names."
  type        = string
}

variable "image_tag" {
  description = "Tag of the train/evaluate job images in Artifact Registry (Cloud Build passes $SHORT_SHA)."
  type        = string
  default     = "latest"
}

variable "bucket_location" {
  description = "Location of the data buckets. Keep it equal to var.region: the GCS Eventarc trigger must be in the bucket's location."
  type        = string
  default     = null
}

variable "db_tier" {
  description = "Cloud SQL machine tier."
  type        = string
  default     = "db-custom-1-3840"
}

variable "deletion_protection" {
  description = "Protect the Cloud SQL instance and the data buckets from `terraform destroy`. Set false only to tear a dev environment down."
  type        = bool
  default     = true
}

variable "annotation_backend" {
  description = "local (object-store inbox under gs://<annotation bucket>/inbox/), encord or labelstudio."
  type        = string
  default     = "local"
  validation {
    condition     = contains(["local", "encord", "labelstudio"], var.annotation_backend)
    error_message = "annotation_backend must be local, encord or labelstudio."
  }
}

variable "label_studio" {
  description = "Label Studio settings, used when annotation_backend = labelstudio (docs/labelstudio.md). The API key and the webhook secret go into the mlops-label-studio-api-key and mlops-label-studio-webhook-secret secrets."
  type = object({
    url              = string
    project          = optional(string, "mlops-loop")
    image_url_prefix = optional(string)
  })
  default = null
}

variable "encord" {
  description = "Encord settings, used when annotation_backend = encord. The SSH key itself goes into the encord-ssh-key secret (see README)."
  type = object({
    integration  = string
    dataset_hash = string
    project_hash = string
    folder       = optional(string, "mlops-loop")
  })
  default = null
}

variable "slack_channel" {
  description = "Slack channel for notifications; null disables Slack (notifications are then log lines). The bot token goes into the slack-bot-token secret."
  type        = string
  default     = null
}

variable "loop_settings" {
  description = "Extra environment for every function (THRESHOLD_N, ONTOLOGY, TASK, PROMOTION_POLICY, BAND_RGB, …; see shared/config/schema.ts)."
  type        = map(string)
  default     = {}
}

variable "trainer_command" {
  description = "Command the train wrapper runs inside the trainer image (TRAINER_COMMAND)."
  type        = string
  default     = null
}

variable "dashboard_viewers" {
  description = "Principals allowed to open the dashboard (e.g. group:ml-team@example.com); it is never public."
  type        = list(string)
  default     = []
}

variable "schedules" {
  description = "Cloud Scheduler cron expressions (UTC) for the ticks."
  type = object({
    poll      = optional(string, "*/5 * * * *")
    threshold = optional(string, "0 * * * *")
    reconcile = optional(string, "*/10 * * * *")
  })
  default = {}
}

variable "max_delivery_attempts" {
  description = "Pub/Sub push attempts before a message goes to the consumer's dead-letter topic (5–100)."
  type        = number
  default     = 10
}

variable "serve_gpu" {
  description = "Run the serve service on an NVIDIA L4 (4 vCPU, 16 GiB, ONNX_EXECUTION_PROVIDERS=cuda,cpu) instead of the CPU size in the registry."
  type        = bool
  default     = false
}

variable "serve_invokers" {
  description = "Principals allowed to call the serve service (e.g. serviceAccount:app@…); it is never public."
  type        = list(string)
  default     = []
}

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel ids (e.g. the team's Slack channel, created once in the console) that the alert policies in monitoring.tf notify."
  type        = list(string)
  default     = []
}
