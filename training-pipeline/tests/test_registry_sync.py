"""ENERGY_MODEL_REGISTRY=hopsworks end to end in process, and `training-pipeline registry sync`.

MOCKED: Hopsworks. `hopsworks.login` is monkeypatched to the in-memory fake project of
`core/tests/fake_hsml.py` (no cluster is reachable from here; the fake's calls are pinned to
hopsworks 5.2's signatures by core/tests/test_fake_hopsworks_signatures.py). Everything else is
real: the registry is opened by `open_registry()` from the environment as every service does, the
MLflow mirror is a real SQLite store in a temporary ENERGY_HOME, models are real fitted
forecasters, the gate and the CLI are the training pipeline's own.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient

from energy_core.lifecycle import Lifecycle
from energy_core.registry import CHAMPION, Lineage, ModelRegistry, open_registry
from energy_core.registry.mirrored import MirroredModelRegistry
from energy_core.registry.mlflow_registry import MlflowModelRegistry
from energy_core.settings import RegistrySettings
from energy_training import cli, tracking
from energy_training.backtest import contract_input
from energy_training.config import ModelConfig
from energy_training.models import fit_model
from energy_training.registration import Candidate, model_to_register

FAKE_HSML = Path(__file__).resolve().parents[2] / "core" / "tests" / "fake_hsml.py"
MODEL_NAME = "energy-consumption-forecaster"


def _fake_hsml() -> ModuleType:
    if "fake_hsml" not in sys.modules:
        spec = importlib.util.spec_from_file_location("fake_hsml", FAKE_HSML)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["fake_hsml"] = module
        spec.loader.exec_module(module)
    return sys.modules["fake_hsml"]


@pytest.fixture
def hopsworks_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """ENERGY_MODEL_REGISTRY=hopsworks over the fake project (MOCKED `hopsworks.login`)."""
    import hopsworks

    project = _fake_hsml().FakeProject(tmp_path / "hopsworks")
    monkeypatch.setattr(hopsworks, "login", project.login)
    monkeypatch.setenv("ENERGY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ENERGY_MODEL_REGISTRY", "hopsworks")
    monkeypatch.setenv("HOPSWORKS_HOST", "hopsworks.test.invalid")
    monkeypatch.setenv("HOPSWORKS_PROJECT", "energy")
    monkeypatch.setenv("HOPSWORKS_API_KEY", "test-key")
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "ENERGY_MODEL_NAME", "ENERGY_FEATURE_STORE"):
        monkeypatch.delenv(name, raising=False)
    return project


@pytest.fixture
def register(frame: pd.DataFrame, tmp_path: Path) -> Callable[[ModelRegistry, float], int]:
    """Register a fitted seasonal-naive forecaster the way the pipeline does: inside its run."""
    counter = iter(range(1000))

    def run(registry: ModelRegistry, wape: float) -> int:
        n = next(counter)
        fitted = fit_model(ModelConfig("naive", "seasonal_naive_24"), frame, 24, 1)
        origin = frame["datetime_utc"].max() - pd.Timedelta(hours=24)
        lineage = Lineage("energy_forecasting", 1, n + 1, "test", f"{n:064d}", origin.to_pydatetime())
        model = model_to_register(
            Candidate("naive", fitted, {"wape": wape}, {"season": "24"}),
            lineage,
            contract_input(frame, origin, 24),
            tmp_path / f"work{n}",
            {"model_family": "seasonal_naive"},
            {"naive24_backtest_wape": 0.1},
            {},
            f"candidate {n}",
        )
        with tracking.parent_run(RegistrySettings(), f"training {n}", {}) as run_id:
            return registry.register(model, run_id=run_id).version

    return run


def _gate(registry: ModelRegistry, version: int) -> None:
    """The training run's gate: the lifecycle's, as `pipeline.run` calls it after registering."""
    lifecycle = Lifecycle(registry, min_gain_over_naive=0.15, clock=lambda: datetime(2024, 1, 10, tzinfo=UTC))
    outcome = lifecycle.gate(version, "training:test")
    assert outcome.promoted, outcome.reason


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    return code, capsys.readouterr().out


def _mlflow_view() -> dict[str, Any]:
    """What a person sees in the MLflow mirror, read with MLflow's own client."""
    client = MlflowClient(tracking_uri=RegistrySettings().resolved_tracking_uri)
    versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    return {
        "versions": sorted(int(v.version) for v in versions),
        "metrics": {
            int(v.version): {k.removeprefix("metric."): float(x) for k, x in v.tags.items() if k.startswith("metric.")}
            for v in versions
        },
        "aliases": {alias: int(v) for alias, v in client.get_registered_model(MODEL_NAME).aliases.items()},
    }


def _primary_view(registry: ModelRegistry) -> dict[str, Any]:
    versions = registry.list_versions()
    return {
        "versions": sorted(v.version for v in versions),
        "metrics": {v.version: v.metrics for v in versions},
        "aliases": {alias: v.version for v in versions for alias in v.aliases},
    }


def test_hopsworks_mode_registers_promotes_rolls_back_and_syncs_with_mlflow_showing_the_same(
    hopsworks_project: Any,
    register: Callable[[ModelRegistry, float], int],
    frame: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = open_registry()
    assert isinstance(registry, MirroredModelRegistry)

    first = register(registry, 0.08)
    _gate(registry, first)
    second = register(registry, 0.07)
    _gate(registry, second)
    assert registry.get(alias=CHAMPION).version == second
    rolled_back = _cli(capsys, "rollback")
    dry_run = _cli(capsys, "registry", "sync", "--dry-run", "--json")
    synced = _cli(capsys, "registry", "sync")

    assert (rolled_back[0], json.loads(rolled_back[1])["version"]) == (0, first)
    assert dry_run == (0, json.dumps({"dry_run": True, "differences": []}, indent=2) + "\n")
    assert synced == (0, "0 difference(s) repaired\n")
    primary = _primary_view(open_registry())
    assert primary == {
        "versions": [1, 2],
        "metrics": {
            1: {"backtest_wape": 0.08, "naive24_backtest_wape": 0.1},
            2: {"backtest_wape": 0.07, "naive24_backtest_wape": 0.1},
        },
        "aliases": {CHAMPION: first},  # the lifecycle drops `challenger` from a promoted version
    }
    assert _mlflow_view() == primary
    stored = hopsworks_project.model_registry.get_models(MODEL_NAME)
    assert [m.version for m in stored] == [1, 2]
    # Batch prediction's contract holds on the primary: the champion loads from Hopsworks and predicts.
    origin = frame["datetime_utc"].max() - pd.Timedelta(hours=24)
    forecast = open_registry().load(alias=CHAMPION).predict(contract_input(frame, origin, 24))
    assert len(forecast) == 24 * frame[["area", "consumer_type"]].drop_duplicates().shape[0]


def test_sync_dry_run_names_each_difference_of_a_drifted_pair_then_sync_repairs_them(
    hopsworks_project: Any,
    register: Callable[[ModelRegistry, float], int],
    frame: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = open_registry()
    assert isinstance(registry, MirroredModelRegistry)
    for wape in (0.09, 0.08, 0.07):
        register(registry, wape)
    registry.set_alias(CHAMPION, 2)
    # Drift, made deliberately: a version the mirror never got, a metric and an alias changed in MLflow.
    missing = register(registry.primary, 0.06)
    registry.mirror.set_tags(1, {"metric.backtest_wape": "0.5"})
    registry.mirror.set_alias(CHAMPION, 3)

    code, out = _cli(capsys, "registry", "sync", "--dry-run", "--json")
    text_code, text = _cli(capsys, "registry", "sync", "--dry-run")

    assert (code, text_code) == (1, 1)
    found = [(d["kind"], d["version"], d["name"], d["primary"], d["mirror"]) for d in json.loads(out)["differences"]]
    assert found == [
        ("metric", 1, "backtest_wape", "0.09", "0.5"),
        ("missing_version", missing, None, "present", None),
        ("alias", None, CHAMPION, "2", "3"),
    ]
    assert text.splitlines() == [
        "differs: version 1 metric 'backtest_wape': primary '0.09', mirror '0.5'",
        f"differs: version {missing}: in the primary, missing in the mirror",
        "differs: alias 'champion': primary -> 2, mirror -> 3",
        "3 difference(s) found",
    ]

    assert _cli(capsys, "registry", "sync")[0] == 0
    assert _cli(capsys, "registry", "sync", "--dry-run", "--json") == (
        0,
        json.dumps({"dry_run": True, "differences": []}, indent=2) + "\n",
    )
    assert _mlflow_view() == _primary_view(registry)
    # The copied version is the same model: the mirror's copy predicts exactly like the primary's.
    history = contract_input(frame, frame["datetime_utc"].max() - pd.Timedelta(hours=24), 24)
    from_mirror = MlflowModelRegistry(RegistrySettings()).load(version=missing).predict(history)
    pd.testing.assert_frame_equal(from_mirror, registry.load(version=missing).predict(history), check_exact=True)


def test_sync_with_the_mlflow_registry_alone_says_there_is_no_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENERGY_HOME", str(tmp_path))
    monkeypatch.setenv("ENERGY_MODEL_REGISTRY", "mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    assert cli.main(["registry", "sync", "--dry-run"]) == 2
    assert "ENERGY_MODEL_REGISTRY=hopsworks" in capsys.readouterr().err
