# Two VMs: a GPU training host (daily `training-pipeline run`, provisioned by Ansible) and an app
# host running the docker compose stack (MLflow, hourly batch jobs, app-api, dashboards).

resource "google_compute_address" "app" {
  name   = "${var.name_prefix}-app-ip"
  region = var.region
}

resource "google_compute_instance" "training" {
  name         = "${var.name_prefix}-training"
  machine_type = var.training_machine_type
  zone         = var.zone
  tags         = ["${var.name_prefix}-host", "${var.name_prefix}-training"]
  labels       = merge(var.labels, { role = "training" })

  boot_disk {
    initialize_params {
      image = var.image
      size  = var.training_disk_gb
      type  = "pd-balanced"
    }
  }

  guest_accelerator {
    type  = "nvidia-l4"
    count = var.training_gpu_count
  }

  # GPUs cannot live-migrate; Spot VMs must stop (not delete) so the disk and its state survive.
  scheduling {
    on_host_maintenance         = "TERMINATE"
    automatic_restart           = !var.training_spot
    preemptible                 = var.training_spot
    provisioning_model          = var.training_spot ? "SPOT" : "STANDARD"
    instance_termination_action = var.training_spot ? "STOP" : null
  }

  network_interface {
    subnetwork = google_compute_subnetwork.energy.id
    access_config {}
  }

  service_account {
    email  = google_service_account.energy.email
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = false # the NVIDIA driver's kernel module is not signed for Secure Boot
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  metadata = {
    enable-oslogin = "TRUE"
  }
}

resource "google_compute_instance" "app" {
  name         = "${var.name_prefix}-app"
  machine_type = var.app_machine_type
  zone         = var.zone
  tags         = ["${var.name_prefix}-host", "${var.name_prefix}-apps"]
  labels       = merge(var.labels, { role = "app" })

  boot_disk {
    initialize_params {
      image = var.image
      size  = var.app_disk_gb
      type  = "pd-balanced"
    }
  }

  network_interface {
    subnetwork = google_compute_subnetwork.energy.id
    access_config {
      nat_ip = google_compute_address.app.address
    }
  }

  service_account {
    email  = google_service_account.energy.email
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  metadata = {
    enable-oslogin = "TRUE"
  }
}
