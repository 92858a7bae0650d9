# MLflow artifacts (models, backtest plots). The registry's metadata stays in the MLflow server's
# database on the app host; the artifacts outlive any VM here.

resource "google_storage_bucket" "mlflow_artifacts" {
  # checkov:skip=CKV_GCP_62: access logs would need a second bucket; Cloud Audit Logs record access instead
  depends_on                  = [google_project_service.required]
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

# One identity per host, each with only what it uses. The app host runs the MLflow server, the only
# writer of artifacts; the training host talks to MLflow over HTTP (--serve-artifacts) and needs no
# bucket access at all.
resource "google_service_account" "app" {
  account_id   = "${var.name_prefix}-app"
  display_name = "energy-forecasting app host (MLflow artifacts, logs)"
  depends_on   = [google_project_service.required]
}

resource "google_service_account" "training" {
  account_id   = "${var.name_prefix}-training"
  display_name = "energy-forecasting training host (logs only)"
  depends_on   = [google_project_service.required]
}

# MLflow reads, writes and (on garbage collection) deletes artifact objects; it never manages the bucket.
resource "google_storage_bucket_iam_member" "app_artifacts" {
  bucket = google_storage_bucket.mlflow_artifacts.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.app.email}"
}

resource "google_project_iam_member" "log_writer" {
  for_each = {
    app      = google_service_account.app.email
    training = google_service_account.training.email
  }
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${each.value}"
}
