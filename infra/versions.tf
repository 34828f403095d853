terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 6.45.0 added node_selector and 6.47.0 gpu_zonal_redundancy_disabled to
      # google_cloud_run_v2_job (the provider's CHANGELOG); .terraform.lock.hcl pins 7.35.0.
      version = ">= 6.47.0, < 8.0.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State lives in a GCS bucket created once by hand (see infra/README.md):
  #   terraform -chdir=infra init -backend-config=bucket=<project>-tfstate -backend-config=prefix=mlops/<env>
  backend "gcs" {}
}

provider "google" {
  project = var.project
  region  = var.region
}

data "google_project" "this" {}
