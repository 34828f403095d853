# Cloud SQL for Postgres 15. Functions connect through the Cloud SQL Node connector (public IP,
# mTLS with an ephemeral certificate; no authorised networks are opened) as user `mlops` with a
# password kept in Secret Manager. Migrations run on cold start under an advisory lock.
resource "google_sql_database_instance" "main" {
  name                = "mlops-${var.env}"
  region              = var.region
  database_version    = "POSTGRES_15"
  deletion_protection = var.deletion_protection

  settings {
    tier              = var.db_tier
    availability_type = var.env == "prod" ? "REGIONAL" : "ZONAL"
    disk_autoresize   = true

    ip_configuration {
      ipv4_enabled = true
      ssl_mode     = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
    }

    database_flags {
      name  = "max_connections"
      value = "200"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_sql_database" "app" {
  name     = "mlops"
  instance = google_sql_database_instance.main.name
}

resource "random_password" "db" {
  length  = 32
  special = false
}

resource "google_sql_user" "app" {
  name     = "mlops"
  instance = google_sql_database_instance.main.name
  password = random_password.db.result
}
