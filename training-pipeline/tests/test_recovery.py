"""Debris of a killed training run is cleaned up at the next start (real MLflow registry in a
temporary ENERGY_HOME; the MLflow run statuses are real runs; nothing is mocked)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from energy_core.registry import CHALLENGER, CHAMPION, Lineage, ModelRegistry, open_registry
from energy_core.registry.mlflow_registry import process_tags
from energy_core.settings import RegistrySettings
from energy_training import recovery
from energy_training.backtest import contract_input
from energy_training.config import ModelConfig
from energy_training.models import fit_model
from energy_training.registration import Candidate, model_to_register


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RegistrySettings:
    monkeypatch.setenv("ENERGY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return RegistrySettings()


def _register(registry: ModelRegistry, frame: pd.DataFrame, workdir: Path, run_id: str) -> int:
    fitted = fit_model(ModelConfig("naive", "seasonal_naive_24"), frame, 24, 1)
    origin = frame["datetime_utc"].max() - pd.Timedelta(hours=24)
    lineage = Lineage("energy_forecasting", 1, 1, "test", "0" * 64, origin.to_pydatetime())
    model = model_to_register(
        Candidate("naive", fitted, {"wape": 0.09}, {}),
        lineage,
        contract_input(frame, origin, 24),
        workdir,
        {"training_run_id": run_id},
        {"naive24_backtest_wape": 0.09},
        {},
        "test",
    )
    version = registry.register(model, run_id=run_id).version
    # `register` resumes the run and ends it; the pipeline registers inside its still-open run.
    MlflowClient(tracking_uri=RegistrySettings().resolved_tracking_uri).update_run(run_id, status="RUNNING")
    return version


def test_a_version_left_ungated_by_a_killed_run_is_archived_and_its_run_marked_failed(
    settings: RegistrySettings, frame: pd.DataFrame, tmp_path: Path
) -> None:
    registry = open_registry(settings)
    registry.check()
    client = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    experiment = client.create_experiment(settings.experiment_name, artifact_location=settings.artifact_root.as_uri())
    # A run that finished and gated its version, and the champion it promoted.
    finished = client.create_run(experiment).info.run_id
    gated = _register(registry, frame, tmp_path / "a", finished)
    registry.set_tags(gated, {recovery.GATE_TAG: "promoted"})
    registry.set_alias(CHAMPION, gated)
    client.set_terminated(finished)
    # A run killed after registering (its pid is of a process that has ended), before gating.
    killed_tags = {**process_tags(), "energy.pid": "999999999"}
    killed = client.create_run(experiment, tags=killed_tags).info.run_id
    ungated = _register(registry, frame, tmp_path / "b", killed)
    registry.set_alias(CHALLENGER, ungated)
    # A live run (this process) that has registered but not gated yet.
    live = client.create_run(experiment, tags=process_tags()).info.run_id
    in_progress = _register(registry, frame, tmp_path / "c", live)

    done = recovery.recover(registry, settings)

    assert done.interrupted_runs == [killed]
    assert done.orphaned_versions == [ungated]
    assert client.get_run(killed).info.status == "FAILED"
    orphan = registry.get(version=ungated)
    assert orphan.approval == recovery.ORPHANED
    assert orphan.tags[recovery.GATE_TAG].startswith(f"orphaned: training run {killed} ended FAILED")
    assert orphan.aliases == []
    assert registry.get(alias=CHAMPION).version == gated
    assert recovery.GATE_TAG not in registry.get(version=in_progress).tags
    assert recovery.recover(registry, settings) == recovery.Recovery([], [])


def test_a_champion_promoted_just_before_the_kill_keeps_its_alias_and_gets_its_gate_tag(
    settings: RegistrySettings, frame: pd.DataFrame, tmp_path: Path
) -> None:
    registry = open_registry(settings)
    registry.check()
    client = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    experiment = client.create_experiment(settings.experiment_name, artifact_location=settings.artifact_root.as_uri())
    killed = client.create_run(experiment, tags={**process_tags(), "energy.pid": "999999999"}).info.run_id
    version = _register(registry, frame, tmp_path / "a", killed)
    registry.set_alias(CHAMPION, version)

    done = recovery.recover(registry, settings)

    assert done.orphaned_versions == []
    champion = registry.get(alias=CHAMPION)
    assert champion.version == version and champion.approval != recovery.ORPHANED
    assert champion.tags[recovery.GATE_TAG].startswith("promoted")
