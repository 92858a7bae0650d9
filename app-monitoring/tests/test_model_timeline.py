"""Champion tenures are read off the registry's promotion times."""

from __future__ import annotations

from datetime import UTC, datetime

from energy_core.api_models import ModelVersion
from energy_monitoring_app.model_timeline import champion_periods, versions_table

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
