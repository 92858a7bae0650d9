output "app_public_ip" {
  description = "Static address of the app host: app-api on :8001, dashboards on :8501 and :8502."
  value       = google_compute_address.app.address
}

output "training_public_ip" {
  description = "Ephemeral address of the GPU training host (for Ansible over SSH)."
  value       = google_compute_instance.training.network_interface[0].access_config[0].nat_ip
}

output "mlflow_tracking_uri" {
  description = "MLFLOW_TRACKING_URI for the training host (internal address of the app host)."
  value       = "http://${google_compute_address.app_internal.address}:5000"
}

output "mlflow_artifacts_destination" {
  description = "--artifacts-destination for the MLflow server."
  value       = "gs://${google_storage_bucket.mlflow_artifacts.name}/artifacts"
}

output "service_accounts" {
  description = "Identity of each VM: the app host's writes MLflow artifacts, both write logs."
  value       = { app = google_service_account.app.email, training = google_service_account.training.email }
}

output "ansible_inventory" {
  description = "Paste into infrastructure/ansible/inventory.ini (see inventory.example.ini)."
  value       = <<-EOT
    [training]
    ${google_compute_instance.training.name} ansible_host=${google_compute_instance.training.network_interface[0].access_config[0].nat_ip}

    [app]
    ${google_compute_instance.app.name} ansible_host=${google_compute_address.app.address}
  EOT
}
