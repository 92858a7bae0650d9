"""The promotion gate (pure) and the approve / reject / rollback alias moves (real MLflow registry
in a temporary ENERGY_HOME: nothing is mocked)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from energy_core.registry import CHALLENGER, CHAMPION, Lineage, ModelRegistry, ModelVersionInfo, open_registry
from energy_core.settings import BacktestSettings, RegistrySettings
from energy_training import promotion
from energy_training.backtest import contract_input
from energy_training.config import ModelConfig
from energy_training.models import fit_model
from energy_training.pipeline import champion_reference
from energy_training.protocol import backtest_protocol
from energy_training.registration import Candidate, model_to_register

NOW = datetime(2023, 1, 25, 6, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def test_gate_promotes_when_15_percent_better_than_naive_and_no_champion() -> None:
    d = promotion.decide(0.075, 0.0906, None, 0.15, manual_approval=False)
    assert d.promote and not d.awaiting_approval


def test_gate_refuses_a_model_less_than_15_percent_better_than_naive() -> None:
    d = promotion.decide(0.080, 0.0906, None, 0.15, manual_approval=False)
    assert not d.promote
    assert "does not beat seasonal naive 24" in d.reason


def test_gate_refuses_a_model_that_does_not_beat_the_champion_on_the_same_backtest() -> None:
    assert not promotion.decide(0.070, 0.0906, 0.070, 0.15, manual_approval=False).promote
    assert promotion.decide(0.069, 0.0906, 0.070, 0.15, manual_approval=False).promote


def test_gate_with_manual_approval_waits_instead_of_promoting() -> None:
    d = promotion.decide(0.07, 0.0906, None, 0.15, manual_approval=True)
    assert not d.promote and d.awaiting_approval


@pytest.fixture
def registry(tmp_path: Path, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> ModelRegistry:
    monkeypatch.setenv("ENERGY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    reg = open_registry(RegistrySettings())
    fitted = fit_model(ModelConfig("naive", "seasonal_naive_24"), frame, 24, 1)
    origin = frame["datetime_utc"].max() - pd.Timedelta(hours=24)
    example = contract_input(frame, origin, 24)
    lineage = Lineage("energy_forecasting", 1, 1, "test", "0" * 64, origin.to_pydatetime())
    for i in range(2):
        reg.register(
            model_to_register(
                Candidate("naive", fitted, {"wape": 0.09}, {}),
                lineage,
                example,
                tmp_path / f"w{i}",
                {},
                {"naive24_backtest_wape": 0.09},
                {},
                "test",
            )
        )
    return reg


@pytest.mark.slow
def test_approve_reject_and_rollback_only_move_aliases(registry: ModelRegistry) -> None:
    promotion.apply_decision(registry, 1, promotion.decide(0.07, 0.09, None, 0.15, False), clock)
    assert registry.get(alias=CHAMPION).version == 1
    assert registry.get(version=1).tags["promoted_at"] == NOW.isoformat()

    promotion.apply_decision(registry, 2, promotion.decide(0.06, 0.09, 0.07, 0.15, True), clock)
    assert registry.get(alias=CHAMPION).version == 1
    assert registry.get(alias=CHALLENGER).version == 2
    assert registry.get(version=2).approval == promotion.PENDING

    promotion.approve(registry, 2, clock)
    assert registry.get(alias=CHAMPION).version == 2
    assert registry.get(version=2).approval == promotion.APPROVED

    promotion.reject(registry, 2)
    assert registry.get(alias=CHAMPION).version == 1  # rolled back to the version it replaced
    assert registry.get(version=2).approval == promotion.REJECTED

    promotion.approve(registry, 2, clock)
    assert promotion.rollback(registry, clock).version == 1
    assert registry.get(alias=CHAMPION).version == 1
    assert registry.load(alias=CHAMPION).predict is not None


def _champion(as_of: datetime | None) -> ModelVersionInfo:
    lineage = Lineage("energy_forecasting", 1, 1, "c", "0" * 64, as_of)
    return ModelVersionInfo("m", 3, [CHAMPION], NOW, None, metrics={"backtest_wape": 0.072}, lineage=lineage)


def test_champion_trained_before_the_first_origin_is_compared_by_its_rescore() -> None:
    protocol = backtest_protocol("2023-01-24T22:00Z", BacktestSettings())
    wape, why = champion_reference(_champion(datetime(2023, 1, 10, tzinfo=UTC)), 0.065, protocol)
    assert wape == 0.065
    assert "re-scored" in why


def test_champion_that_has_seen_the_backtest_hours_is_compared_by_its_recorded_wape() -> None:
    protocol = backtest_protocol("2023-01-24T22:00Z", BacktestSettings())
    wape, why = champion_reference(_champion(datetime(2023, 1, 24, 22, tzinfo=UTC)), 0.061, protocol)
    assert wape == 0.072
    assert "in-sample" in why
