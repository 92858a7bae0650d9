"""End to end on the real ConsumptionDE35Hour snapshot (ENERGY_SNAPSHOT_DIR) into a real
EmbeddedFeatureStore in a temporary ENERGY_HOME, through the `feature-pipeline` CLI entry point."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path

import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import CALENDAR, ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, SERIES, WEATHER
from energy_features.cli import main

from .support import utc

pytestmark = pytest.mark.slow

FIRST, END = "2022-12-21T16:00Z", "2023-01-24T23:00Z"


@pytest.fixture
def snapshot_env(real_snapshot: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENERGY_SNAPSHOT_DIR", str(real_snapshot))
    monkeypatch.setenv("ENERGY_SOURCE", "snapshot")
    monkeypatch.delenv("ENERGY_FEATURE_STORE", raising=False)
    return home


def test_backfilling_the_whole_snapshot_twice_gives_62548_rows_and_changes_nothing_the_second_time(
    snapshot_env: Path, store: EmbeddedFeatureStore
) -> None:
    assert main(["backfill", "--start", FIRST, "--end", END, "--no-progress"]) == 0
    stats = store.statistics(ENERGY_CONSUMPTION)
    assert (stats.row_count, stats.key_count) == (62_548, 76)
    leaves, totals = store.read(ENERGY_CONSUMPTION), store.read(ENERGY_CONSUMPTION_TOTALS)
    assert len(totals) == 823 * 3  # DK1, DK2 and DK totals for every hour of the snapshot
    by_area = leaves.groupby(["area", "datetime_utc"])["energy_consumption_kwh"].sum()
    by_hour = leaves.groupby("datetime_utc")["energy_consumption_kwh"].sum()
    pairs = zip(totals["area"], totals["datetime_utc"], strict=True)
    expected = [by_hour[t] if a == "DK" else by_area[(a, t)] for a, t in pairs]
    assert totals["energy_consumption_kwh"].to_numpy() == pytest.approx(expected, rel=1e-6)
    assert set(totals.loc[totals["area"] == "DK", "leaf_count"]) == {76}
    versions = {g.name: store.table_version(g) for g in (ENERGY_CONSUMPTION, WEATHER, CALENDAR)}

    assert main(["backfill", "--start", FIRST, "--end", END, "--no-progress"]) == 0
    assert {g.name: store.table_version(g) for g in (ENERGY_CONSUMPTION, WEATHER, CALENDAR)} == versions
    assert store.statistics(ENERGY_CONSUMPTION).row_count == 62_548


def test_weather_is_dk2_only_offline_and_known_only_after_its_day_ends(
    snapshot_env: Path, store: EmbeddedFeatureStore
) -> None:
    assert main(["backfill", "--start", "2023-01-01T00:00Z", "--end", "2023-01-08T00:00Z", "--no-progress"]) == 0
    weather = store.read(WEATHER)
    assert set(weather["area"]) == {"DK2"}  # never DK2's weather copied into DK1
    assert (weather["datetime_utc"] > weather["period_start_utc"]).all()
    assert weather["datetime_utc"].max() < utc("2023-01-08T00:00")


def test_replaying_run_hour_by_hour_over_one_day_adds_exactly_76_rows_per_hour(
    snapshot_env: Path, store: EmbeddedFeatureStore
) -> None:
    start = utc("2023-01-20T00:00")
    assert main(["run", "--as-of", start.isoformat()]) == 0
    assert store.read(ENERGY_CONSUMPTION)["datetime_utc"].max() == start  # nothing after the as-of hour
    counts = [store.statistics(ENERGY_CONSUMPTION).row_count]
    for hour in range(1, 25):
        assert main(["run", "--as-of", (start + timedelta(hours=hour)).isoformat()]) == 0
        counts.append(store.statistics(ENERGY_CONSUMPTION).row_count)
    assert [b - a for a, b in itertools.pairwise(counts)] == [76] * 24
    calendar_end = store.read(CALENDAR)["datetime_utc"].max()
    assert calendar_end >= start + timedelta(hours=24 + 24)  # written ahead for batch prediction


def test_rerunning_the_same_as_of_leaves_every_table_version_unchanged(
    snapshot_env: Path, store: EmbeddedFeatureStore
) -> None:
    assert main(["run", "--as-of", "2023-01-10T12:00Z"]) == 0
    versions = {g.name: store.table_version(g) for g in (ENERGY_CONSUMPTION, WEATHER, CALENDAR)}
    assert main(["run", "--as-of", "2023-01-10T12:00Z"]) == 0
    assert {g.name: store.table_version(g) for g in (ENERGY_CONSUMPTION, WEATHER, CALENDAR)} == versions


def test_stats_prints_rows_keys_and_event_time_range_per_group(
    snapshot_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--json"]) == 0
    empty = {row["group"]: row for row in json.loads(capsys.readouterr().out)}
    assert empty["energy_consumption"]["row_count"] == 0 and not empty["energy_consumption"]["written"]

    assert main(["backfill", "--start", "2023-01-23T00:00Z", "--end", "2023-01-24T00:00Z", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    rows = {row["group"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"energy_consumption", "energy_consumption_totals", "series", "weather", "calendar"}
    assert rows["series"]["row_count"] == 76 + 3  # 2 x 38 DE35 leaves, DK1 and DK2 totals, the DK total
    consumption = rows["energy_consumption"]
    assert (consumption["row_count"], consumption["key_count"]) == (24 * 76, 76)
    assert (consumption["event_time_min"], consumption["event_time_max"]) == (
        "2023-01-23T00:00:00Z",
        "2023-01-23T23:00:00Z",
    )
    assert main(["stats"]) == 0
    table = capsys.readouterr().out
    assert "energy_consumption_v1" in table and "1,824" in table


def test_bad_as_of_is_refused_with_a_clear_message(snapshot_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--as-of", "2023-01-20T00:30Z"])
    assert "not on the hour" in capsys.readouterr().err


def test_a_run_validates_every_group_once_and_the_store_trusts_that(
    snapshot_env: Path, store: EmbeddedFeatureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from energy_core.feature_store import relational

    start = utc("2023-01-20T00:00")
    assert main(["run", "--as-of", start.isoformat()]) == 0
    validated: list[str] = []
    real = relational.validate_batch
    monkeypatch.setattr(
        relational, "validate_batch", lambda group, frame: validated.append(group.name) or real(group, frame)
    )

    assert main(["run", "--as-of", (start + timedelta(hours=1)).isoformat()]) == 0

    assert sorted(validated) == sorted(
        g.name for g in (SERIES, ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, WEATHER, CALENDAR)
    )
    assert store.read(ENERGY_CONSUMPTION)["datetime_utc"].max() == start + timedelta(hours=1)
