# MLflow artifacts (models, backtest plots). The registry's metadata stays in the MLflow server's
# database on the app host; the artifacts outlive any VM here.

resource "google_storage_bucket" "mlflow_artifacts" {
  name                        = "${var.project_id}-${var.name_prefix}-mlflow-artifacts"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.artifact_retention_days
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_service_account" "energy" {
  account_id   = "${var.name_prefix}-hosts"
  display_name = "energy-forecasting VMs (MLflow artifacts, logs)"
}

resource "google_storage_bucket_iam_member" "artifacts_rw" {
  bucket = google_storage_bucket.mlflow_artifacts.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.energy.email}"
}

resource "google_project_iam_member" "log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.energy.email}"
}
