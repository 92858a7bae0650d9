"""A bad batch is rejected whole, names the rule and rows, is quarantined, and nothing is written."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_core.feature_store import FeatureValidationError
from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import CALENDAR, ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, SERIES, WEATHER
from energy_features import pipeline, validate
from energy_features.watermarks import read_watermarks

from .conftest import ContextFactory
from .support import FrameSource, de35_records, utc

AS_OF = utc("2023-01-01T05:00")


def _reject(
    records: pd.DataFrame, make_context: ContextFactory, home: Path, store: EmbeddedFeatureStore
) -> FeatureValidationError:
    with pytest.raises(FeatureValidationError) as caught:
        pipeline.run(AS_OF, make_context(FrameSource(records)))
    for group in (ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, SERIES, WEATHER, CALENDAR):
        assert not store.exists(group), f"{group.name} was written despite the rejected batch"
    assert read_watermarks(home / "state") == {}
    folders = list((home / "quarantine" / "energy_consumption").iterdir())
    assert len(folders) == 1
    assert {p.name for p in folders[0].iterdir()} >= {"failures.csv", "reason.txt"}
    assert any(p.name.startswith("batch.") for p in folders[0].iterdir())
    return caught.value


def _records() -> pd.DataFrame:
    return de35_records("2023-01-01T00:00", 6)


def _row_of(error: FeatureValidationError, rule: str) -> set[object]:
    return set(error.failures.loc[error.failures["rule"].astype(str).str.contains(rule), "row"])


def test_negative_consumption_is_rejected_naming_the_rule_and_row(make_context: ContextFactory, home: Path,
                                                                 store: EmbeddedFeatureStore) -> None:  # fmt: skip
    records = _records()
    records.loc[3, "TotalCon"] = -5
    error = _reject(records, make_context, home, store)
    assert "non_negative_consumption" in str(error)
    assert (error.rows["energy_consumption_kwh"] == -5.0).any()


def test_duplicate_keys_with_different_values_are_rejected(make_context: ContextFactory, home: Path,
                                                           store: EmbeddedFeatureStore) -> None:  # fmt: skip
    records = _records()
    records = pd.concat([records, records.iloc[[0]].assign(TotalCon=1)], ignore_index=True)
    error = _reject(records, make_context, home, store)
    assert "uniqueness" in str(error)
    assert len(_row_of(error, "uniqueness")) == 2


def test_an_area_without_a_known_country_is_rejected(
    make_context: ContextFactory, home: Path, store: EmbeddedFeatureStore
) -> None:
    """Geography is not learned: a DE35 record from a price area other than DK1/DK2 has no parent."""
    records = _records()
    records.loc[2, "PriceArea"] = "DK3"
    error = _reject(records, make_context, home, store)
    assert "known_parent" in str(error) and "DK3" in str(error)


def test_a_key_that_breaks_the_pattern_is_rejected(
    make_context: ContextFactory, home: Path, store: EmbeddedFeatureStore
) -> None:
    records = _records()
    records.loc[2, "ConsumerType_DE35"] = "1|11"
    error = _reject(records, make_context, home, store)
    assert "consumer_type_key_pattern" in str(error) and "1|11" in str(error)


def test_a_code_never_seen_before_is_admitted_with_a_warning_and_a_catalogue_entry(
    make_context: ContextFactory, store: EmbeddedFeatureStore, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline.run(AS_OF, make_context(FrameSource(_records())))
    records = de35_records("2023-01-01T00:00", 6, types=("111", "112", "123456"))
    with caplog.at_level(logging.WARNING):
        result = pipeline.run(AS_OF, make_context(FrameSource(records)))
    assert result.new_series == ["DK1|123456", "DK2|123456"]
    assert "never seen before" in caplog.text and "DK1|123456" in caplog.text
    catalogue = store.read(SERIES).set_index(["area", "consumer_type"])
    assert catalogue.loc[("DK1", "123456"), "parent_id"] == "DK1|total"
    assert catalogue.loc[("DK1", "123456"), "label"] == "Consumer type 123456"
    assert len(store.read(ENERGY_CONSUMPTION, filters={"consumer_type": "123456"})) == 2 * 6


def test_a_value_far_above_the_series_own_history_is_rejected_as_implausible(
    make_context: ContextFactory, home: Path, store: EmbeddedFeatureStore
) -> None:
    """With 60 stored hours, a value above 10x the series' 28-day max is rejected by name."""
    history = de35_records("2023-01-01T00:00", 61)
    first_as_of = utc("2023-01-03T11:00")  # hours 0..59 stored
    pipeline.run(first_as_of, make_context(FrameSource(history)))
    version = store.table_version(ENERGY_CONSUMPTION)
    spiked = history.copy()
    last = spiked["HourUTC"] == "2023-01-03T12:00:00"
    spiked.loc[last & (spiked["PriceArea"] == "DK1") & (spiked["ConsumerType_DE35"] == "111"), "TotalCon"] = 10**7
    with pytest.raises(FeatureValidationError) as caught:
        pipeline.run(first_as_of + timedelta(hours=1), make_context(FrameSource(spiked)))
    failures = caught.value.failures
    assert set(failures["rule"]) == {"implausible_jump"}
    assert failures["value"].tolist() == ["10000000.0"]
    assert store.table_version(ENERGY_CONSUMPTION) == version  # nothing written


def test_a_young_series_is_not_judged_for_jumps(make_context: ContextFactory, store: EmbeddedFeatureStore) -> None:
    """Fewer than 48 stored hours: no own history to call a value implausible against."""
    records = de35_records("2023-01-01T00:00", 11)
    pipeline.run(utc("2023-01-01T09:00"), make_context(FrameSource(records)))
    records.loc[records["HourUTC"] == "2023-01-01T10:00:00", "TotalCon"] = 10**7
    result = pipeline.run(utc("2023-01-01T10:00"), make_context(FrameSource(records)))
    assert result.rows_inserted(ENERGY_CONSUMPTION) == 4


def test_missing_consumption_is_rejected_not_filled(make_context: ContextFactory, home: Path,
                                                    store: EmbeddedFeatureStore) -> None:  # fmt: skip
    records = _records().astype({"TotalCon": "float64"})
    records.loc[4, "TotalCon"] = float("nan")
    error = _reject(records, make_context, home, store)
    assert "not_nullable" in str(error)


def test_wrong_dtype_is_rejected_and_the_raw_value_is_kept_in_quarantine(
    make_context: ContextFactory, home: Path, store: EmbeddedFeatureStore
) -> None:
    records = _records().astype({"TotalCon": "object"})
    records.loc[1, "TotalCon"] = "12,5"
    error = _reject(records, make_context, home, store)
    assert "dtype" in str(error) and "12,5" in str(error)
    folder = next((home / "quarantine" / "energy_consumption").iterdir())
    quarantined = (
        pd.read_csv(folder / "batch.csv")
        if (folder / "batch.csv").exists()
        else pd.read_parquet(folder / "batch.parquet")
    )
    assert "12,5" in quarantined["energy_consumption_kwh"].astype(str).tolist()


def test_unparseable_time_is_rejected_as_a_null_event_time(make_context: ContextFactory, home: Path,
                                                           store: EmbeddedFeatureStore) -> None:  # fmt: skip
    records = _records()
    records.loc[5, "HourUTC"] = "2023-01-01T00:xx:00"  # sorts inside the window, parses as nothing
    error = _reject(records, make_context, home, store)
    assert "not_nullable" in str(error) and "datetime_utc" in str(error)


@pytest.mark.parametrize(("start", "local_hours"), [("2022-10-29T22:00", 25), ("2023-03-25T23:00", 23)])
def test_daylight_saving_days_validate_and_load_every_utc_hour(
    start: str, local_hours: int, make_context: ContextFactory, store: EmbeddedFeatureStore
) -> None:
    records = de35_records(start, local_hours)
    as_of = utc(start) + timedelta(hours=local_hours - 1)
    result = pipeline.run(as_of, make_context(FrameSource(records)))
    assert result.continuity.continuous
    assert result.rows_inserted(ENERGY_CONSUMPTION) == local_hours * 4
    stored = store.read(ENERGY_CONSUMPTION)
    local_dates = stored["datetime_utc"].dt.tz_convert("Europe/Copenhagen").dt.date.unique()
    assert len(local_dates) == 1  # exactly one local day, 23 or 25 hours long


def test_the_grid_the_hour_by_hour_and_the_rolling_jump_windows_agree() -> None:
    """The grid path every whole-hour batch takes and its two pandas fallbacks (each batch hour's
    own window; one rolling pass) give the same max and the same judged flag: random gaps,
    duplicate stored rows, series the batch does not know (and batch series the history does not
    know), shuffled rows, and a stored hour exactly 28 days before the batch hour (inside)."""
    rng = np.random.default_rng(0)
    hours = pd.date_range("2023-01-01", periods=24 * 40, freq="h", tz="UTC").astype("datetime64[us, UTC]")
    value = "energy_consumption_kwh"
    for _ in range(60):
        parts = []
        for s in range(int(rng.integers(1, 6))):
            kept = hours[rng.random(len(hours)) < rng.uniform(0.02, 1.0)]
            parts.append(pd.DataFrame({"area": f"DK{s % 2 + 1}", "consumer_type": str(100 + s),
                                       "datetime_utc": kept, value: rng.uniform(0, 10, len(kept))}))  # fmt: skip
        stored = pd.concat(parts, ignore_index=True)
        stored = pd.concat([stored, stored.sample(frac=0.1, random_state=1)], ignore_index=True)  # duplicates
        batch_hours = hours[rng.choice(len(hours), int(rng.integers(1, 4)))]
        rows = pd.DataFrame([{"area": a, "consumer_type": c, "datetime_utc": t, value: 5.0}
                             for a, c in stored[["area", "consumer_type"]].drop_duplicates().itertuples(index=False)
                             for t in batch_hours])  # fmt: skip
        rows["datetime_utc"] = rows["datetime_utc"].astype("datetime64[us, UTC]")
        key = stored["area"] + "|" + stored["consumer_type"]
        row_key = rows["area"] + "|" + rows["consumer_type"]
        by_hour = validate._windows_hour_by_hour(stored, key, rows, row_key, value)
        rolling = validate._windows_rolling(stored, key, rows, row_key, value)
        np.testing.assert_array_equal(by_hour[1], rolling[1])
        np.testing.assert_allclose(by_hour[0], rolling[0])
        stranger = pd.DataFrame({"area": ["DK9"], "consumer_type": ["999"], "datetime_utc": rows["datetime_utc"][:1],
                                 value: [5.0]})  # fmt: skip
        shuffled = stored.sample(frac=1.0, random_state=int(rng.integers(1000))).reset_index(drop=True)
        stored_code, row_code = validate._series_codes(shuffled, pd.concat([rows, stranger], ignore_index=True))
        assert row_code[-1] == -1
        on_grid = validate._windows_on_grid(shuffled, stored_code, rows, row_code[:-1], value)
        assert on_grid is not None
        np.testing.assert_array_equal(on_grid[1], by_hour[1])
        np.testing.assert_allclose(on_grid[0], by_hour[0])

    hour = pd.Timestamp("2023-02-01T00:00Z")
    back = [validate.JUMP_LOOKBACK, validate.JUMP_LOOKBACK + timedelta(hours=1), timedelta(hours=1)]
    times = pd.DatetimeIndex([hour - b for b in back]).astype("datetime64[us, UTC]")
    edge = pd.DataFrame({"area": "DK1", "consumer_type": "1", value: [100.0, 1000.0, 1.0], "datetime_utc": times})
    row = pd.DataFrame({"area": ["DK1"], "consumer_type": ["1"], value: [5.0],
                        "datetime_utc": pd.DatetimeIndex([hour]).astype("datetime64[us, UTC]")})  # fmt: skip
    keys = (edge["area"] + "|" + edge["consumer_type"], row["area"] + "|" + row["consumer_type"])
    limit, judged = validate._windows_hour_by_hour(edge, keys[0], row, keys[1], value)
    assert limit.tolist() == [100.0] and judged.tolist() == [False]  # 28 days back is in, 28 days + 1 h is out
    grid = validate._windows_on_grid(edge, *validate._series_codes(edge, row)[:1], row, np.array([0]), value)
    assert grid is not None and grid[0].tolist() == [100.0] and grid[1].tolist() == [False]
    # 48 distinct hours in the window, one of them exactly 28 days back (and a duplicate): judged
    back = [validate.JUMP_LOOKBACK, *(timedelta(hours=k) for k in range(1, 48)), timedelta(hours=5)]
    times = pd.DatetimeIndex([hour - b for b in back]).astype("datetime64[us, UTC]")
    full = pd.DataFrame({"area": "DK1", "consumer_type": "1", value: 1.0, "datetime_utc": times})
    for frame in (full, full.iloc[1:]):  # without the 28-days-back hour: 47, not judged
        grid = validate._windows_on_grid(frame, np.zeros(len(frame), dtype=np.int64), row, np.array([0]), value)
        rolling = validate._windows_rolling(frame, frame["area"] + "|" + frame["consumer_type"], row, keys[1], value)
        assert grid is not None and grid[1].tolist() == rolling[1].tolist() == [len(frame) == len(full)]
    half_past = edge.assign(datetime_utc=edge["datetime_utc"] + timedelta(minutes=30))
    assert validate._windows_on_grid(half_past, np.zeros(3, dtype=np.int64), row, np.array([0]), value) is None
