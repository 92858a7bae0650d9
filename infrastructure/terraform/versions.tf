terraform {
  required_version = ">= 1.6, < 2.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.14"
    }
  }

  # State lives in a GCS bucket you create once by hand (chicken and egg: this module makes buckets).
  # Pass it at init time: terraform init -backend-config="bucket=<state-bucket>"
  backend "gcs" {
    prefix = "energy-forecasting"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
  zone    = var.zone
}

# APIs this module uses; enabled here so a fresh project needs no clicks. Left on at destroy: other
# workloads of the project may use them too.
resource "google_project_service" "required" {
  for_each                   = toset(["compute.googleapis.com", "iam.googleapis.com", "storage.googleapis.com", "logging.googleapis.com"])
  project                    = var.project_id
  service                    = each.value
  disable_on_destroy         = false
  disable_dependent_services = false
}
