"""Champion tenures are read off the lifecycle's audit trail (simulated time in a simulation), or
off the registry's promotion times when a registry predates the trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from energy_core.api_models import ModelTransition, ModelVersion, SimulationProgress
from energy_monitoring_app.model_timeline import champion_periods, registered_at, timeline_until, versions_table

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def version(v: int, aliases: list[str], created_day: int, promoted_day: int | None) -> ModelVersion:
    return ModelVersion(
        name="m",
        version=v,
        aliases=aliases,
        created_at=datetime(2026, 11, created_day, tzinfo=UTC),
        model_family="lightgbm",
        approval=None,
        metrics={"backtest_wape": 0.04},
        lineage=None,
        promoted_at=None if promoted_day is None else datetime(2026, 11, promoted_day, tzinfo=UTC),
    )


def test_each_champion_reigns_until_the_next_promotion() -> None:
    models = [version(3, ["challenger"], 21, None), version(2, ["champion"], 20, 20), version(1, [], 10, 11)]
    periods = champion_periods(models, until=NOW)
    assert periods["version"].tolist() == [1, 2]
    assert periods["end"].iloc[0] == periods["start"].iloc[1]
    assert periods["end"].iloc[1] == NOW and periods["is_current"].tolist() == [False, True]


def test_current_champion_without_promotion_time_counts_from_creation() -> None:
    periods = champion_periods([version(1, ["champion"], 10, None)], until=NOW)
    assert periods["start"].iloc[0] == datetime(2026, 11, 10, tzinfo=UTC)


def test_versions_table_is_newest_first_with_backtest_wape() -> None:
    table = versions_table([version(1, [], 10, None), version(2, ["champion"], 20, 20)])
    assert table["version"].tolist() == [2, 1] and table["aliases"].tolist() == ["champion", ""]
    assert table["backtest_wape"].tolist() == [0.04, 0.04]


SIM = datetime(2023, 1, 18, tzinfo=UTC)


def moved(hours: int, version: int, before: int | None, after: int | None, to: str = "champion") -> ModelTransition:
    return ModelTransition(
        version=version, operation="gate", from_state="candidate", to_state=to, at=SIM + timedelta(hours=hours),
        who="training-pipeline run r", why="passes the gate", champion_before=before, champion_after=after,
    )  # fmt: skip


def test_the_audit_trail_gives_every_tenure_on_the_simulated_clock_including_a_rollback() -> None:
    models = [version(2, [], 21, 21), version(1, ["champion"], 20, 20)]
    history = [moved(0, 1, None, 1), moved(24, 2, 1, 2), moved(30, 1, 2, 1)]  # v2 promoted, then rolled back
    periods = champion_periods(models, until=SIM + timedelta(hours=48), history=history)
    assert periods["version"].tolist() == [1, 2, 1]
    assert periods["start"].tolist() == [SIM, SIM + timedelta(hours=24), SIM + timedelta(hours=30)]
    assert periods["end"].iloc[-1] == SIM + timedelta(hours=48)
    assert periods["is_current"].tolist() == [False, False, True]


def test_registration_moments_come_from_the_first_recorded_transition() -> None:
    frame = registered_at([version(1, ["champion"], 20, 20)], [moved(5, 1, None, 1)])
    assert frame["created_at"].tolist() == [SIM + timedelta(hours=5)]


def test_the_timeline_ends_at_the_simulated_hour_during_a_simulation() -> None:
    running = SimulationProgress(status="running", completed_through=SIM)
    assert timeline_until(running, NOW) == SIM + timedelta(hours=1)
    assert timeline_until(SimulationProgress(status="not_started"), NOW) == NOW
    assert timeline_until(None, NOW) == NOW
