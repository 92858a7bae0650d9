"""The series catalogue and the bottom-up hierarchy (energy_core.series) on real sample records."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from energy_core.feature_store import relational as rel
from energy_core.feature_store.base import FeatureValidationError
from energy_core.schemas import ENERGY_CONSUMPTION, SERIES, TOTAL
from energy_core.series import (
    SeriesInfo,
    bottom_up,
    catalogue_update,
    complete_totals,
    empty_catalogue,
    slug,
    with_totals,
)

SAMPLE = "eds_consumption_consumer_category_hour_sample_2025-12-31.csv"
REGION_AREA = {"Nordjylland": "DK1", "Midtjylland": "DK1", "Syddanmark": "DK1", "Hovedstaden": "DK2", "Sjælland": "DK2"}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _sample() -> pd.DataFrame:
    directory = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).parents[3] / "shared" / "data"))
    path = directory / SAMPLE
    if not path.exists():
        pytest.skip(f"real sample {SAMPLE} not in {directory}")
    return pd.read_csv(path, encoding="utf-8")


def _leaves_and_infos(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[SeriesInfo]]:
    rows, infos = [], {}
    for r in raw.itertuples():
        region = str(r.RegionName).removeprefix("Region ")
        area, ctype = REGION_AREA[region], f"{slug(region)}.{slug(str(r.ConsumerCategory3))}"
        rows.append((pd.Timestamp(r.TimeUTC, tz="UTC"), area, ctype, float(r.ConsumptionkWh)))
        infos[(area, ctype)] = SeriesInfo(
            area, ctype, f"{r.RegionName} · {r.ConsumerCategory3}", "ConsumptionConsumerCategoryHour"
        )
    frame = pd.DataFrame(rows, columns=["datetime_utc", "area", "consumer_type", "energy_consumption_kwh"])
    frame["datetime_utc"] = frame["datetime_utc"].astype("datetime64[us, UTC]")
    return frame, list(infos.values())


def test_slug_transliterates_danish_letters_and_collapses_separators() -> None:
    assert slug("Sjælland") == "sjaelland"
    assert slug("Offentlige foretagender") == "offentlige-foretagender"
    assert slug("  Ærø / Åbenrå  ") == "aeroe-aabenraa"


def test_real_sample_gives_15_leaves_2_area_totals_and_1_country_total() -> None:
    leaves, infos = _leaves_and_infos(_sample())
    catalogue_infos = with_totals(infos, {"DK1": "DK", "DK2": "DK"})
    levels = pd.Series([i.level for i in catalogue_infos]).value_counts().to_dict()
    assert levels == {"leaf": 15, "area": 2, "country": 1}
    parents = {i.id: i.parent_id for i in catalogue_infos}
    assert parents["DK2|sjaelland.privat"] == "DK2|total"
    assert parents["DK1|total"] == "DK|total"
    assert parents["DK|total"] is None
    catalogue, new = catalogue_update(empty_catalogue(), catalogue_infos, leaves, NOW)
    assert len(new) == 18
    rel.validate_batch(SERIES, catalogue)  # the rows are valid catalogue rows


def test_totals_equal_the_sum_of_their_leaves() -> None:
    leaves, infos = _leaves_and_infos(_sample())
    catalogue, _ = catalogue_update(empty_catalogue(), with_totals(infos, {"DK1": "DK", "DK2": "DK"}), leaves, NOW)
    totals = complete_totals(bottom_up(leaves, catalogue, ["energy_consumption_kwh"]), catalogue)
    assert len(totals) == 3 * 2  # 2 areas + 1 country, 2 hours
    for (area, hour), got in totals.set_index(["area", "datetime_utc"])["energy_consumption_kwh"].items():
        part = leaves[leaves["datetime_utc"] == hour]
        expected = part["energy_consumption_kwh"].sum() if area == "DK" else part.loc[
            part["area"] == area, "energy_consumption_kwh"
        ].sum()
        assert got == pytest.approx(expected, rel=1e-9)
    assert set(totals["leaf_count"]) == {9, 6, 15}


def test_an_hour_missing_one_leaf_has_no_total_rather_than_a_partial_one() -> None:
    leaves, infos = _leaves_and_infos(_sample())
    catalogue, _ = catalogue_update(empty_catalogue(), with_totals(infos, {"DK1": "DK", "DK2": "DK"}), leaves, NOW)
    last = leaves["datetime_utc"].max()
    gap = leaves[~((leaves["datetime_utc"] == last) & (leaves["consumer_type"] == "sjaelland.privat"))]
    totals = complete_totals(bottom_up(gap, catalogue, ["energy_consumption_kwh"]), catalogue)
    at_last = totals[totals["datetime_utc"] == last]
    assert set(at_last["area"]) == {"DK1"}  # DK2 and DK lack a leaf that hour; DK1 is whole


def test_catalogue_update_keeps_registration_time_and_widens_the_seen_span() -> None:
    leaves, infos = _leaves_and_infos(_sample())
    all_infos = with_totals(infos, {"DK1": "DK", "DK2": "DK"})
    first, _ = catalogue_update(empty_catalogue(), all_infos, leaves, NOW)
    later = leaves.assign(datetime_utc=leaves["datetime_utc"] + pd.Timedelta(hours=5))
    second, new = catalogue_update(first, all_infos, later, datetime(2026, 2, 1, tzinfo=UTC))
    assert new == []
    assert (second["registered_at"] == first["registered_at"]).all()
    assert (second["first_seen_utc"] == first["first_seen_utc"]).all()
    assert (second["last_seen_utc"] == first["last_seen_utc"] + pd.Timedelta(hours=5)).all()


def test_an_area_with_one_leaf_hangs_under_the_country_total() -> None:
    infos = [
        SeriesInfo("A", "x", "A x", "files:t"),
        SeriesInfo("B", "y", "B y", "files:t"),
        SeriesInfo("B", "z", "B z", "files:t"),
    ]
    parents = {i.id: i.parent_id for i in with_totals(infos, {"A": "XX", "B": "XX"})}
    assert parents == {"A|x": "XX|total", "B|y": "B|total", "B|z": "B|total", "B|total": "XX|total", "XX|total": None}
    assert {i.id for i in with_totals(infos[:1], {})} == {"A|x"}  # one series: no totals at all


@pytest.mark.parametrize(
    ("area", "consumer_type", "rule"),
    [
        ("DK 1", "111", "area_key_pattern"),
        ("DK1", "a|b", "consumer_type_key_pattern"),
        ("DK1", TOTAL, "reserved_total_key"),
    ],
)
def test_a_key_that_breaks_the_pattern_is_rejected_by_name(area: str, consumer_type: str, rule: str) -> None:
    frame = pd.DataFrame(
        {
            "datetime_utc": pd.Series([pd.Timestamp("2026-01-01", tz="UTC")], dtype="datetime64[us, UTC]"),
            "area": pd.Series([area], dtype="string"),
            "consumer_type": pd.Series([consumer_type], dtype="string"),
            "energy_consumption_kwh": [1.0],
        }
    )
    with pytest.raises(FeatureValidationError) as info:
        rel.validate_batch(ENERGY_CONSUMPTION, frame)
    assert rule in set(info.value.failures["rule"])


def test_a_series_never_seen_before_is_valid_without_any_code_change() -> None:
    frame = pd.DataFrame(
        {
            "datetime_utc": pd.Series([pd.Timestamp("2026-01-01", tz="UTC")], dtype="datetime64[us, UTC]"),
            "area": pd.Series(["ERCOT"], dtype="string"),
            "consumer_type": pd.Series(["north.residential"], dtype="string"),
            "energy_consumption_kwh": [12.5],
        }
    )
    assert len(rel.validate_batch(ENERGY_CONSUMPTION, frame)) == 1
