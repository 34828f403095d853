# Placeholder values for a dev environment. Copy to envs/<env>.tfvars and fill in real ids.
project   = "my-mlops-dev"
region    = "europe-west4"
env       = "dev"
image_tag = "latest"

# Dev may be torn down with `terraform destroy`.
deletion_protection = false
db_tier             = "db-custom-1-3840"

annotation_backend = "local"
# annotation_backend = "encord"
# encord = {
#   integration  = "00000000-0000-0000-0000-000000000000"
#   dataset_hash = "00000000-0000-0000-0000-000000000000"
#   project_hash = "00000000-0000-0000-0000-000000000000"
# }

slack_channel = null
# slack_channel = "#mlops-dev"

dashboard_viewers = ["group:ml-team@example.com"]

trainer_command = null

loop_settings = {
  THRESHOLD_N       = "100"
  THRESHOLD_M       = "20"
  THRESHOLD_T_HOURS = "24"
  TASK              = "segmentation"
}
