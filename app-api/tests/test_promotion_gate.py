"""The promotion rule, as a pure function (no registry needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from energy_api.approval import promotion_decision
from energy_core.registry import ModelVersionInfo


def version(number: int, wape: float | None, naive: float | None = 0.20) -> ModelVersionInfo:
    metrics = {k: v for k, v in (("backtest_wape", wape), ("naive24_backtest_wape", naive)) if v is not None}
    return ModelVersionInfo("m", number, [], datetime(2023, 1, 1, tzinfo=UTC), None, metrics=metrics)


def test_first_version_that_beats_naive_by_15_percent_is_promoted() -> None:
    assert promotion_decision(version(1, 0.17), None, 0.15).promote


def test_a_version_just_short_of_the_naive_margin_is_not_promoted() -> None:
    decision = promotion_decision(version(1, 0.1701), None, 0.15)
    assert not decision.promote and "0.1700" in decision.reason


def test_a_version_must_beat_the_current_champion_strictly() -> None:
    assert not promotion_decision(version(2, 0.10), version(1, 0.10), 0.15).promote
    assert promotion_decision(version(2, 0.09), version(1, 0.10), 0.15).promote


def test_a_version_without_backtest_metrics_is_never_promoted() -> None:
    decision = promotion_decision(version(2, None), None, 0.15)
    assert not decision.promote and "lacks" in decision.reason


def test_the_champion_is_not_promoted_over_itself() -> None:
    assert not promotion_decision(version(1, 0.05), version(1, 0.05), 0.15).promote
