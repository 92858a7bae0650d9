# A private network of its own: only SSH from the admins and the app ports from the users get in.

resource "google_compute_network" "energy" {
  name                    = "${var.name_prefix}-net"
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "energy" {
  name                     = "${var.name_prefix}-subnet"
  network                  = google_compute_network.energy.id
  region                   = var.region
  ip_cidr_range            = "10.42.0.0/24"
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# The app host's internal address, reserved so MLFLOW_TRACKING_URI on the training host never changes.
resource "google_compute_address" "app_internal" {
  name         = "${var.name_prefix}-app-internal-ip"
  region       = var.region
  subnetwork   = google_compute_subnetwork.energy.id
  address_type = "INTERNAL"
  address      = var.mlflow_internal_ip
}

resource "google_compute_firewall" "ssh_from_admins" {
  name          = "${var.name_prefix}-ssh-from-admins"
  network       = google_compute_network.energy.name
  direction     = "INGRESS"
  source_ranges = var.admin_cidrs
  target_tags   = ["${var.name_prefix}-host"]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

resource "google_compute_firewall" "apps_from_users" {
  name          = "${var.name_prefix}-apps-from-users"
  network       = google_compute_network.energy.name
  direction     = "INGRESS"
  source_ranges = var.app_cidrs
  target_tags   = ["${var.name_prefix}-apps"]

  allow {
    protocol = "tcp"
    ports    = ["8001", "8501", "8502"]
  }
}

# The training host logs to the MLflow server on the app host, and Airflow on the app host starts the
# training container on the training host's engine over SSH; nothing else crosses between them.
resource "google_compute_firewall" "mlflow_from_training" {
  name        = "${var.name_prefix}-mlflow-from-training"
  network     = google_compute_network.energy.name
  direction   = "INGRESS"
  source_tags = ["${var.name_prefix}-training"]
  target_tags = ["${var.name_prefix}-apps"]

  allow {
    protocol = "tcp"
    ports    = ["5000"]
  }
}

resource "google_compute_firewall" "ssh_from_app" {
  name        = "${var.name_prefix}-ssh-from-app"
  network     = google_compute_network.energy.name
  direction   = "INGRESS"
  source_tags = ["${var.name_prefix}-apps"]
  target_tags = ["${var.name_prefix}-training"]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}
