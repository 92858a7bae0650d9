# Two VMs: a GPU training host (provisioned by Ansible) and an app
# host running the docker compose stack (MLflow, Airflow, app-api, dashboards). Airflow sends the daily
# training to the L4 host's container engine; the L4 host schedules nothing itself.

resource "google_compute_address" "app" {
  name   = "${var.name_prefix}-app-ip"
  region = var.region
}

resource "google_compute_instance" "training" {
  # checkov:skip=CKV_GCP_38: Google-managed encryption; customer-supplied keys would have to be handed to every start
  # checkov:skip=CKV_GCP_40: public IP for egress (NVIDIA apt, ghcr.io, Hopsworks) and admin SSH; firewall limits ingress
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
    email  = google_service_account.training.email
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = false # the NVIDIA driver's kernel module is not signed for Secure Boot
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  metadata = {
    enable-oslogin         = "TRUE"
    block-project-ssh-keys = "TRUE"
  }
}

resource "google_compute_instance" "app" {
  # checkov:skip=CKV_GCP_38: Google-managed encryption; customer-supplied keys would have to be handed to every start
  # checkov:skip=CKV_GCP_40: serves app-api and the dashboards to app_cidrs; the firewall limits who reaches it
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
    network_ip = google_compute_address.app_internal.address
    access_config {
      nat_ip = google_compute_address.app.address
    }
  }

  service_account {
    email  = google_service_account.app.email
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  metadata = {
    enable-oslogin         = "TRUE"
    block-project-ssh-keys = "TRUE"
  }
}
