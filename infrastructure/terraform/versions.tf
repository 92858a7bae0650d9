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
