"""The model lifecycle: the gate rule, the fair champion reference, and the guarded transitions
with their audit records. Fixed sequences run over `MemoryRegistry` (an in-memory FAKE of the
registry interface, see its docstring) and, for the issue's three disagreements, over the real
MLflow SQLite registry in a temporary ENERGY_HOME (nothing mocked there)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
import pytest

from energy_core.lifecycle import (
    PREVIOUS_CHAMPION_TAG,
    Lifecycle,
    State,
    TransitionRefused,
    champion_reference,
    current_champion,
    gate_rule,
    history,
    judge,
    state_of,
    trained_past,
)
from energy_core.registry import CHALLENGER, CHAMPION, Lineage, ModelRegistry, ModelToRegister, ModelVersionInfo
from energy_core.registry.mlflow_registry import MlflowModelRegistry
from energy_core.settings import RegistrySettings

from .memory_registry import MemoryRegistry

SIMULATED = datetime(2023, 1, 17, 23, tzinfo=UTC)
NAIVE = 0.090


class SimulatedClock:
    """A clock that advances one simulated hour per reading."""

    def __init__(self) -> None:
        self.now = SIMULATED

    def __call__(self) -> datetime:
        self.now += timedelta(hours=1)
        return self.now


def metrics(wape: float) -> dict[str, float]:
    return {"backtest_wape": wape, "naive24_backtest_wape": NAIVE}


# --------------------------------------------------------------------------------------- the gate


def test_a_model_barely_better_than_naive_fails_the_gate() -> None:
    decision = gate_rule(0.089, NAIVE, None, 0.15)
    assert not decision.passes
    assert "does not beat seasonal naive 24" in decision.reason


def test_the_gate_needs_the_margin_over_naive_and_a_strictly_better_wape_than_the_champion() -> None:
    assert gate_rule(0.075, NAIVE, None, 0.15).passes
    assert not gate_rule(0.070, NAIVE, 0.070, 0.15).passes
    assert gate_rule(0.069, NAIVE, 0.070, 0.15).passes


def _champion(as_of: datetime | None, version: int = 3) -> ModelVersionInfo:
    lineage = Lineage("energy_forecasting", 1, 1, "c", "0" * 64, as_of)
    return ModelVersionInfo(
        "m", version, [CHAMPION], SIMULATED, None, metrics={"backtest_wape": 0.072}, lineage=lineage
    )


def test_a_champion_trained_before_the_first_origin_is_compared_by_its_rescore() -> None:
    reference = champion_reference(
        _champion(datetime(2023, 1, 10, tzinfo=UTC)), 0.065, datetime(2023, 1, 15, tzinfo=UTC)
    )
    assert reference is not None and reference.wape == 0.065 and "re-scored" in reference.note


def test_a_champion_that_has_seen_the_backtest_hours_is_compared_by_its_recorded_wape() -> None:
    reference = champion_reference(
        _champion(datetime(2023, 1, 24, tzinfo=UTC)), 0.061, datetime(2023, 1, 15, tzinfo=UTC)
    )
    assert reference is not None and reference.wape == 0.072 and "in-sample" in reference.note


def test_trained_past_says_when_a_rescore_would_be_in_sample() -> None:
    origin = datetime(2023, 1, 15, tzinfo=UTC)
    assert trained_past(_champion(datetime(2023, 1, 24, tzinfo=UTC)), origin)
    assert not trained_past(_champion(datetime(2023, 1, 15, tzinfo=UTC)), origin)  # up to the origin: out of sample
    assert not trained_past(_champion(None), origin)  # no lineage: unknown, so re-score
    assert not trained_past(_champion(datetime(2023, 1, 24, tzinfo=UTC)), None)


def test_an_approval_judges_against_the_reference_recorded_at_the_gate_while_that_champion_serves() -> None:
    champion = _champion(None, version=3)
    candidate = ModelVersionInfo(
        "m",
        4,
        [],
        SIMULATED,
        None,
        metrics=metrics(0.070),
        tags={"gate.champion_version": "3", "gate.champion_wape": "0.071"},
    )
    assert judge(candidate, champion, 0.15).passes  # 0.070 beats the re-score 0.071 recorded at the gate
    stricter = ModelVersionInfo(
        "m",
        4,
        [],
        SIMULATED,
        None,
        metrics=metrics(0.070),
        tags={"gate.champion_version": "3", "gate.champion_wape": "0.069"},
    )
    assert not judge(stricter, champion, 0.15).passes
    other_champion = _champion(None, version=5)  # not the one it was gated against: its recorded 0.072 counts
    assert judge(stricter, other_champion, 0.15).passes


# ---------------------------------------------------------------------------------- transitions


def lifecycle(registry: ModelRegistry, manual: bool = False) -> Lifecycle:
    return Lifecycle(registry, 0.15, manual_approval=manual, clock=SimulatedClock())


def test_gate_promotes_in_automatic_mode_and_records_who_when_from_to_and_why() -> None:
    registry = MemoryRegistry()
    v1 = registry.add(metrics(0.07))
    outcome = lifecycle(registry).gate(v1, "training-run:abc")
    assert outcome.promoted and outcome.state is State.CHAMPION
    (record,) = history(registry)
    assert (record.version, record.from_state, record.to_state, record.who) == (
        v1,
        "candidate",
        "champion",
        "training-run:abc",
    )
    assert record.at == SIMULATED + timedelta(hours=1)  # the injected (simulated) clock, not the wall clock
    assert "better than naive 24" in record.why


def test_gate_in_manual_mode_makes_a_pending_challenger_and_passes_the_old_challenger_over() -> None:
    registry = MemoryRegistry()
    life = lifecycle(registry, manual=True)
    v1, v2 = registry.add(metrics(0.07)), registry.add(metrics(0.06))
    life.gate(v1, "t")
    life.gate(v2, "t")
    assert current_champion(registry) is None
    assert registry.get(alias=CHALLENGER).version == v2
    assert registry.get(version=v2).approval == "pending"
    assert state_of(registry.get(version=v1)) is State.ARCHIVED
    with pytest.raises(TransitionRefused, match="gated already"):
        life.gate(v1, "t")


def test_approve_refuses_what_the_gate_refuses_but_records_the_approval() -> None:
    registry = MemoryRegistry()
    v1 = registry.add(metrics(0.089))
    outcome = lifecycle(registry).approve(v1, "cli:alice")
    assert not outcome.promoted and outcome.approval == "approved"
    assert current_champion(registry) is None
    assert history(registry)[-1].who == "cli:alice"


def test_after_an_approval_rollback_returns_to_the_previous_champion() -> None:
    registry = MemoryRegistry()
    life = lifecycle(registry)
    v1, v2 = registry.add(metrics(0.07)), registry.add(metrics(0.06))
    life.gate(v1, "t")
    assert life.approve(v2, "api-key:k1").promoted
    assert registry.get(version=v2).tags[PREVIOUS_CHAMPION_TAG] == str(v1)
    assert life.rollback("cli:bob").version == v1
    assert state_of(registry.get(version=v2)) is State.ARCHIVED
    with pytest.raises(TransitionRefused, match="no previous champion"):
        life.rollback("cli:bob")  # rollback undoes a promotion; it does not toggle back


def test_rejecting_the_champion_rolls_back_and_rejecting_the_only_champion_is_refused() -> None:
    registry = MemoryRegistry()
    life = lifecycle(registry)
    v1, v2 = registry.add(metrics(0.07)), registry.add(metrics(0.06))
    life.gate(v1, "t")
    with pytest.raises(TransitionRefused, match="no earlier champion"):
        life.reject(v1, "cli:alice")
    assert current_champion(registry).version == v1  # type: ignore[union-attr]
    life.gate(v2, "t")
    outcome = life.reject(v2, "cli:alice", "bad forecasts on holidays")
    assert (outcome.state, current_champion(registry).version) == (State.REJECTED, v1)  # type: ignore[union-attr]
    moves = [(t.version, t.from_state, t.to_state) for t in history(registry)][-2:]
    assert sorted(moves) == [(v1, "archived", "champion"), (v2, "champion", "rejected")]
    with pytest.raises(TransitionRefused, match="may never serve"):
        life.rollback("cli:alice", to_version=v2)


def test_rollback_skips_rejected_versions_in_the_previous_champion_chain() -> None:
    registry = MemoryRegistry()
    life = lifecycle(registry)
    v1, v2, v3 = (registry.add(metrics(w)) for w in (0.07, 0.06, 0.05))
    for version in (v1, v2, v3):
        life.gate(version, "t")
    life.reject(v2, "cli:alice")  # not champion: champion unchanged
    assert life.rollback("cli:alice").version == v1


def test_repeating_an_operation_changes_nothing_and_records_nothing_twice() -> None:
    registry = MemoryRegistry()
    life = lifecycle(registry)
    v1, v2 = registry.add(metrics(0.07)), registry.add(metrics(0.08))
    life.gate(v1, "t")
    life.reject(v2, "cli:alice")
    life.approve(v1, "cli:alice")
    count = len(history(registry))
    life.reject(v2, "cli:alice")
    life.approve(v1, "cli:alice")
    assert len(history(registry)) == count


# ---------------------------------------------------------------- the real MLflow backend


class ConstantModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return model_input


@pytest.mark.slow
def test_the_issues_three_disagreements_resolve_the_same_way_over_mlflow(tmp_path: Path) -> None:
    registry = MlflowModelRegistry(RegistrySettings(ENERGY_HOME=tmp_path, MLFLOW_TRACKING_URI=None))  # type: ignore[call-arg]

    def register(wape: float) -> int:
        lineage = Lineage("energy_forecasting", 1, 1, "c", "0" * 64, SIMULATED)
        model = ModelToRegister(ConstantModel(), pd.DataFrame({"x": [1.0]}), ["pandas"], lineage, metrics=metrics(wape))
        return registry.register(model).version

    life = lifecycle(registry, manual=True)
    v1, v2, v3 = register(0.07), register(0.089), register(0.06)
    assert life.approve(v1, "cli:alice").promoted
    assert not life.approve(v2, "api-key:k1").promoted  # 0.089 vs naive 0.090: refused from any door
    assert life.approve(v3, "api-key:k1").promoted
    assert life.rollback("cli:alice").version == v1  # the approval recorded previous_champion
    life.approve(v3, "api-key:k1")
    life.reject(v3, "api-key:k1")  # rejecting the champion rolls back, from any door
    assert registry.get(alias=CHAMPION).version == v1
    records = history(registry)
    assert [(r.version, r.to_state) for r in records][-2:] in (
        [(v1, "champion"), (v3, "rejected")],
        [(v3, "rejected"), (v1, "champion")],
    )
    assert all(r.at > SIMULATED for r in records)
