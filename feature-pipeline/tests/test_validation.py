"""A bad batch is rejected whole, names the rule and rows, is quarantined, and nothing is written."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from energy_core.feature_store import FeatureValidationError
from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import CALENDAR, ENERGY_CONSUMPTION, WEATHER
from energy_features import pipeline
from energy_features.watermarks import read_watermarks

from .conftest import ContextFactory
from .support import FrameSource, de35_records, utc

AS_OF = utc("2023-01-01T05:00")


def _reject(
    records: pd.DataFrame, make_context: ContextFactory, home: Path, store: EmbeddedFeatureStore
) -> FeatureValidationError:
    with pytest.raises(FeatureValidationError) as caught:
        pipeline.run(AS_OF, make_context(FrameSource(records)))
    for group in (ENERGY_CONSUMPTION, WEATHER, CALENDAR):
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


def test_unknown_area_is_rejected(make_context: ContextFactory, home: Path, store: EmbeddedFeatureStore) -> None:
    records = _records()
    records.loc[2, "PriceArea"] = "DK3"
    error = _reject(records, make_context, home, store)
    assert "known_area" in str(error) and "DK3" in str(error)


def test_unknown_consumer_type_is_rejected(
    make_context: ContextFactory, home: Path, store: EmbeddedFeatureStore
) -> None:
    records = _records()
    records.loc[2, "ConsumerType_DE35"] = "123456"
    assert "known_consumer_type" in str(_reject(records, make_context, home, store))


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
