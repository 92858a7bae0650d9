"""The hourly-continuity report: a missing hour is reported, never invented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import CALENDAR, ENERGY_CONSUMPTION, SERIES, WEATHER
from energy_features import pipeline
from energy_features.cli import main
from energy_features.continuity import EmptySourceWindow, continuity_report
from energy_features.transform.consumption import consumption_from_de35
from energy_features.watermarks import read_watermarks
from energy_features.windows import Window, WindowPolicy

from .conftest import ContextFactory
from .support import FrameSource, de35_records, utc


def test_a_complete_batch_is_continuous() -> None:
    frame = consumption_from_de35(de35_records("2023-01-01T00:00", 5)).leaves
    report = continuity_report(frame, Window(utc("2023-01-01T00:00"), utc("2023-01-01T05:00")))
    assert report.continuous and report.series == 4 and report.hours_with_data == 5


def test_a_missing_hour_of_one_series_is_reported_by_series_and_hour() -> None:
    records = de35_records("2023-01-01T00:00", 5)
    hole = (
        (records["HourUTC"] == "2023-01-01T02:00:00")
        & (records["PriceArea"] == "DK2")
        & (records["ConsumerType_DE35"] == "112")
    )
    frame = consumption_from_de35(records[~hole]).leaves
    report = continuity_report(frame, Window(utc("2023-01-01T00:00"), utc("2023-01-01T05:00")))
    assert not report.continuous
    assert [(g.area, g.consumer_type, g.missing_hours) for g in report.gaps] == [
        ("DK2", "112", ["2023-01-01T02:00:00Z"])
    ]
    assert len(frame) == len(records) - 1  # nothing was filled in


def test_hours_not_yet_published_at_the_window_edge_are_counted_separately() -> None:
    frame = consumption_from_de35(de35_records("2023-01-01T02:00", 2)).leaves
    report = continuity_report(frame, Window(utc("2023-01-01T00:00"), utc("2023-01-01T06:00")))
    assert report.continuous
    assert (report.leading_missing_hours, report.trailing_missing_hours) == (2, 2)


def test_the_dst_days_are_continuous_in_utc() -> None:
    for start in ("2022-10-29T22:00", "2023-03-25T23:00"):
        frame = consumption_from_de35(de35_records(start, 25)).leaves
        assert continuity_report(frame, Window(utc(start), utc(start).replace(day=utc(start).day + 1))).continuous


def test_an_empty_window_is_not_continuous() -> None:
    report = continuity_report(
        ENERGY_CONSUMPTION.empty_frame(), Window(utc("2023-01-01T00:00"), utc("2023-01-03T00:00"))
    )
    assert report.empty and not report.continuous
    assert report.to_dict()["continuous"] is False and report.leading_missing_hours == 48


def test_a_run_over_an_empty_source_window_fails_writes_nothing_and_reports_it(
    make_context: ContextFactory, home: Path, store: EmbeddedFeatureStore
) -> None:
    """Used to exit 0 with "continuous": true and 48 hours missing."""
    records = de35_records("2023-01-01T00:00", 2)  # nothing in the window asked for below
    policy = WindowPolicy(initial_history_hours=48)
    with pytest.raises(EmptySourceWindow, match=r"no consumption for \[2023-02-01T00:00:00Z"):
        pipeline.run(utc("2023-02-02T23:00"), make_context(FrameSource(records), policy))
    assert not any(store.exists(g) for g in (ENERGY_CONSUMPTION, SERIES, WEATHER, CALENDAR))
    assert read_watermarks(home / "state") == {}
    state = json.loads((home / "state" / "continuity_energy_consumption.json").read_text())
    assert (state["continuous"], state["empty"], state["leading_missing_hours"]) == (False, True, 48)


def test_the_cli_exits_1_on_an_empty_source_window(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    records = de35_records("2023-01-01T00:00", 2).to_dict(orient="records")
    (snapshot / "consumption_de35_hour_tiny.json").write_text(json.dumps({"records": records}), encoding="utf-8")
    monkeypatch.setenv("ENERGY_SOURCE", "snapshot")
    monkeypatch.setenv("ENERGY_SNAPSHOT_DIR", str(snapshot))
    monkeypatch.delenv("ENERGY_FEATURE_STORE", raising=False)
    assert main(["run", "--as-of", "2023-03-01T00:00Z"]) == 1
    assert "delivered no consumption" in caplog.text


@pytest.mark.parametrize("seed", range(6))
def test_the_gaps_equal_a_per_series_search_of_every_series(seed: int) -> None:
    import numpy as np
    import pandas as pd

    from energy_features.continuity import SeriesGap
    from energy_features.hours import iso_hour

    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01T00:00Z")
    rows = [
        {"area": area, "consumer_type": ct, "datetime_utc": start + pd.Timedelta(minutes=int(m))}
        for area in ("DK1", "DK2")
        for ct in ("111", "112", "113")
        for m in 60 * np.arange(48)
        if rng.random() > 0.03  # a few missing hours, in a few series
    ]
    frame = pd.DataFrame(rows + rows[:5])  # duplicated rows
    frame.loc[rng.integers(0, len(frame), 3), "datetime_utc"] = start + pd.Timedelta(minutes=90)  # off the hour
    frame.loc[rng.integers(0, len(frame), 2), "datetime_utc"] = pd.NaT
    frame["datetime_utc"] = frame["datetime_utc"].astype("datetime64[us, UTC]")

    report = continuity_report(frame, Window(utc("2023-01-01T00:00"), utc("2023-01-03T00:00")))

    times = frame["datetime_utc"].dropna()
    expected_hours = pd.date_range(times.min(), times.max(), freq="h", unit="us")
    expected = [
        SeriesGap(str(a), str(c), [iso_hour(t) for t in missing])
        for (a, c), series in frame.dropna(subset=["datetime_utc"]).groupby(["area", "consumer_type"], sort=True)
        if len(missing := expected_hours.difference(pd.DatetimeIndex(series["datetime_utc"])))
    ]
    assert report.gaps == expected
