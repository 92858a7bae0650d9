"""Experiment tracking: the MLflow parent run, W&B runs, and what a run records about itself.

MLflow is the system of record (the registry reads it); W&B mirrors the same params and metrics
for people who prefer its UI. W&B never blocks a run: offline by default, silent, and a failure
to start it is logged and skipped.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient

from energy_core.feature_store import TrainingDatasetMeta
from energy_core.registry.mlflow_registry import process_tags, reroot_embedded_store
from energy_core.settings import RegistrySettings, TrackingSettings

log = logging.getLogger(__name__)

RUN_TYPE_TAG = "energy.run_type"
RUN_TYPE_TRAINING = "training"
RUN_TYPE_TRIAL = "tuning_trial"


def git_commit(start: Path | None = None) -> str:
    """The commit the code runs from: ENERGY_GIT_COMMIT (set in images), else `git rev-parse`."""
    if os.environ.get("ENERGY_GIT_COMMIT"):
        return os.environ["ENERGY_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=start or Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def experiment_id(settings: RegistrySettings) -> str:
    """The experiment the registry logs into, created the same way (artifacts in ENERGY_HOME).

    An embedded store is re-rooted first, so a copied or moved home logs into itself.
    """
    reroot_embedded_store(settings)
    client = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    found = client.get_experiment_by_name(settings.experiment_name)
    if found is not None:
        return str(found.experiment_id)
    if settings.is_embedded:
        settings.path("mlflow").mkdir(parents=True, exist_ok=True)
    location = settings.artifact_root.as_uri() if settings.is_embedded else None
    try:
        return str(client.create_experiment(settings.experiment_name, artifact_location=location))
    except mlflow.exceptions.MlflowException:  # created concurrently
        found = client.get_experiment_by_name(settings.experiment_name)
        if found is None:
            raise
        return str(found.experiment_id)


@contextmanager
def parent_run(settings: RegistrySettings, run_name: str, tags: dict[str, str]) -> Iterator[str]:
    """The MLflow run a training run logs into; yields its id.

    The run carries this process's pid and host (`process_tags`), so that if the process is
    killed the next start can tell the run was interrupted and mark it FAILED (`recovery`).
    """
    if settings.is_embedded:
        settings.path("mlflow").mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.resolved_tracking_uri)
    exp = experiment_id(settings)
    run_tags = {RUN_TYPE_TAG: RUN_TYPE_TRAINING, **process_tags(), **tags}
    with mlflow.start_run(experiment_id=exp, run_name=run_name, tags=run_tags) as run:
        yield run.info.run_id


@contextmanager
def wandb_run(
    settings: TrackingSettings,
    name: str,
    config: dict[str, Any],
    group: str,
    job_type: str,
    save_requirements: bool = True,
) -> Iterator[Any | None]:
    """A W&B run mirroring an MLflow run, or None when W&B is disabled or cannot start.

    `save_requirements=False` skips W&B's list of installed packages, which costs ~0.12 s of CPU
    per run (it reads every package's metadata): tuning trials pass it, because their group's
    training run (same `group`) records the same environment once."""
    if settings.wandb_mode == "disabled":
        yield None
        return
    os.environ.setdefault("WANDB_SILENT", "true")
    if settings.wandb_api_key is not None:
        os.environ.setdefault("WANDB_API_KEY", settings.wandb_api_key.get_secret_value())
    try:
        import wandb

        settings.wandb_dir.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project=settings.wandb_project,
            entity=settings.wandb_entity,
            mode=settings.wandb_mode,
            dir=str(settings.wandb_dir),
            name=name,
            group=group,
            job_type=job_type,
            config=config,
            reinit="create_new",
            settings=wandb.Settings(x_save_requirements=save_requirements),
        )
    except Exception as exc:  # W&B must never stop a training run
        log.warning("W&B run %s not started (%s: %s); continuing with MLflow only", name, type(exc).__name__, exc)
        yield None
        return
    try:
        yield run
    finally:
        run.finish()


def feature_manifest(frame: pd.DataFrame, meta: TrainingDatasetMeta, features: dict[str, list[str]]) -> dict[str, Any]:
    """What the models were trained on: columns, dtypes, data hash, dataset version, range."""
    return {
        "feature_view": meta.view_name,
        "feature_view_version": meta.view_version,
        "training_dataset_version": meta.version,
        "table_versions": meta.table_versions,
        "data_sha256": meta.data_sha256,
        "rows": len(frame),
        "series": int(frame.groupby(["area", "consumer_type"]).ngroups),
        "start": frame["datetime_utc"].min().isoformat(),
        "end": frame["datetime_utc"].max().isoformat(),
        "columns": {c: str(t) for c, t in frame.dtypes.items()},
        "features_per_model": features,
    }


def model_card(
    name: str,
    family: str,
    config: dict[str, Any],
    metrics: dict[str, float],
    naive24_wape: float,
    protocol: dict[str, Any],
    manifest: dict[str, Any],
    commit: str,
) -> str:
    """A short, human-readable card stored with the model version."""
    metric_lines = "\n".join(f"| {k} | {v:.4f} |" for k, v in metrics.items())
    return f"""# Model card: {name} ({family})

**What it does.** Forecasts hourly electricity consumption (kWh) for each Danish price area and
DE35 consumer type, {protocol["horizon_hours"]} hours ahead, with a 10 %-90 % interval.

**Trained on.** Feature view `{manifest["feature_view"]}` v{manifest["feature_view_version"]},
training dataset #{manifest["training_dataset_version"]} ({manifest["rows"]} rows, {manifest["series"]} series,
{manifest["start"]} … {manifest["end"]}, sha256 `{manifest["data_sha256"][:16]}…`), code at `{commit}`.

**How it was scored.** Rolling-origin backtest, {protocol["origins"]} daily origins
{protocol["first_origin"]} … {protocol["last_origin"]}, horizons 1 … {protocol["horizon_hours"]} h, fitted once up to
the first origin. Seasonal naive 24 h WAPE on the same backtest: {naive24_wape:.4f}.

| metric | value |
|---|---|
{metric_lines}

**Configuration.** `{config}`

**Limits.** Trained on about a month of data around Christmas; holidays outside that window and
weather far from it are extrapolations. Weather is missing where no station data exists (DK1 offline).
Data: Energinet (www.energidataservice.dk, CC BY 4.0); weather: Meteostat (meteostat.net).
"""
