variable "project_id" {
  description = "GCP project that holds everything this module creates."
  type        = string
}

variable "region" {
  description = "Region for the network, the bucket and the VMs. L4 GPUs exist in e.g. europe-west4 and us-central1."
  type        = string
  default     = "europe-west4"
}

variable "zone" {
  description = "Zone for the VMs; must offer nvidia-l4 (gcloud compute accelerator-types list --filter=name=nvidia-l4)."
  type        = string
  default     = "europe-west4-a"
}

variable "name_prefix" {
  description = "Prefix of every resource name, so several environments can share a project."
  type        = string
  default     = "energy"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "admin_cidrs" {
  description = "CIDR ranges allowed to SSH into the VMs (Ansible runs from here). Never 0.0.0.0/0."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0 && !contains(var.admin_cidrs, "0.0.0.0/0") && alltrue([for c in var.admin_cidrs : can(cidrhost(c, 0))])
    error_message = "admin_cidrs must list at least one range and must not be 0.0.0.0/0."
  }
}

variable "app_cidrs" {
  description = "CIDR ranges allowed to reach app-api (8001) and the dashboards (8501, 8502)."
  type        = list(string)

  validation {
    condition     = length(var.app_cidrs) > 0 && alltrue([for c in var.app_cidrs : can(cidrhost(c, 0))])
    error_message = "app_cidrs must list at least one valid CIDR range, e.g. 203.0.113.0/24."
  }
}

variable "training_machine_type" {
  description = "Training host: G2 machine types come with NVIDIA L4 GPUs (g2-standard-8 has one)."
  type        = string
  default     = "g2-standard-8"
}

variable "training_gpu_count" {
  description = "Number of nvidia-l4 GPUs; must match the G2 machine type (g2-standard-4/8/12/16/32: 1)."
  type        = number
  default     = 1
}

variable "training_spot" {
  description = "Run the training host as a Spot VM (much cheaper; training is resumable and idempotent)."
  type        = bool
  default     = true
}

variable "training_disk_gb" {
  description = "Boot disk of the training host (CUDA, drivers, torch wheels and the repository)."
  type        = number
  default     = 150
}

variable "app_machine_type" {
  description = "Host for MLflow, the hourly batch jobs, app-api and the dashboards (docker compose)."
  type        = string
  default     = "e2-standard-4"
}

variable "app_disk_gb" {
  description = "Boot disk of the app host (images, ENERGY_HOME volume, MLflow SQLite)."
  type        = number
  default     = 50
}

variable "image" {
  description = "Boot image for both VMs; Ansible installs the NVIDIA driver, CUDA runtime and Python 3.11."
  type        = string
  default     = "ubuntu-os-cloud/ubuntu-2204-lts"
}

variable "artifact_retention_days" {
  description = "Days a non-current (overwritten or deleted) MLflow artifact version is kept."
  type        = number
  default     = 30
}

variable "labels" {
  description = "Labels added to every resource that supports them."
  type        = map(string)
  default     = { app = "energy-forecasting" }
}

variable "mlflow_internal_ip" {
  description = "Reserved internal address of the app host: the training host's MLFLOW_TRACKING_URI points at it."
  type        = string
  default     = "10.42.0.10"
}
