"""W&B mirror runs, with the real wandb SDK in offline mode (nothing leaves the machine)."""

from __future__ import annotations

from pathlib import Path

from energy_core.settings import TrackingSettings
from energy_training.tracking import wandb_run


def test_a_training_run_records_the_installed_packages_and_a_tuning_trial_does_not(tmp_path: Path) -> None:
    """Listing the packages costs ~0.12 s per run; a trial's group (its training run) has the list."""
    settings = TrackingSettings(ENERGY_HOME=tmp_path, WANDB_MODE="offline")
    files: dict[str, list[str]] = {}
    for job_type, save in (("training", True), ("tuning_trial", False)):
        with wandb_run(settings, job_type, {"n_estimators": 5}, "group-1", job_type, save_requirements=save) as run:
            assert run is not None
            run.log({"wape": 0.07})
            files[job_type] = sorted(p.name for p in Path(run.dir).iterdir())
    assert "requirements.txt" in files["training"]
    assert "requirements.txt" not in files["tuning_trial"]
