"""A feature store written by the previous release opens with this one, without losing a row.

The fixture (fixtures/store_release1, see its README) was written by release 1 (commit d023c65)
and includes its defect: revised tables hold string_view files. Each test works on a copy.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest

from energy_core.feature_store import StoreFormatError
from energy_core.feature_store.embedded import STORE_FORMAT_VERSION, EmbeddedFeatureStore
from energy_core.schemas import CALENDAR, ENERGY_CONSUMPTION, MONITORING, PREDICTIONS, FeatureGroupSpec

FIXTURE = Path(__file__).parent / "fixtures" / "store_release1"
T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    root = tmp_path / "feature_store"
    shutil.copytree(FIXTURE, root)
    return root


def with_column(spec: FeatureGroupSpec, name: str, column: pa.Column) -> FeatureGroupSpec:
    return dataclasses.replace(spec, columns={**spec.columns, name: column})


def test_release1_store_reads_every_row_including_revisions(old_store: Path) -> None:
    store = EmbeddedFeatureStore(old_store)
    consumption = store.read(ENERGY_CONSUMPTION)
    assert len(consumption) == 18 and not consumption.duplicated(list(ENERGY_CONSUMPTION.key)).any()
    first_hour = consumption[consumption.datetime_utc == pd.Timestamp(T0)]
    assert first_hour["energy_consumption_kwh"].tolist() == [1.5, 1001.0, 1002.0]  # DK1 revised
    second_hour = consumption[consumption.datetime_utc == pd.Timestamp(T0 + timedelta(hours=1))]
    assert second_hour["energy_consumption_kwh"].tolist() == [1010.0, 2.5, 1012.0]  # DK2|111 revised
    dk2 = store.read(ENERGY_CONSUMPTION, filters={"area": "DK2"})  # the read release 1 broke
    pd.testing.assert_frame_equal(dk2, consumption[consumption.area == "DK2"].reset_index(drop=True))
    predictions = store.read(PREDICTIONS, filters={"area": "DK1", "consumer_type": "111"})
    assert predictions["prediction_kwh"].tolist() == [1101.0, 1111.0, 1103.0]
    assert predictions["model_version"].tolist() == [1, 2, 1]
    assert predictions["prediction_q90_kwh"].isna().tolist() == [False, False, True]
    assert len(store.read(CALENDAR)) == 6
    monitoring = store.read(MONITORING, filters={"area": "DK1"})
    assert monitoring["actual_missing"].tolist() == [False, True, False]
    assert monitoring["in_interval"].isna().tolist() == [False, True, False]


def test_release1_store_is_upgraded_to_the_current_format_and_keeps_its_history(old_store: Path) -> None:
    store = EmbeddedFeatureStore(old_store)
    for group in (ENERGY_CONSUMPTION, CALENDAR, PREDICTIONS, MONITORING):
        assert store.format_status(group)["state"] in ("upgradable", "current")
    before = {g.name: store.read(g) for g in (ENERGY_CONSUMPTION, PREDICTIONS)}  # upgrades on open
    record = json.loads((old_store / "STORE_FORMAT.json").read_text())
    assert record["format_version"] == STORE_FORMAT_VERSION
    fresh = EmbeddedFeatureStore(old_store)
    for group in (ENERGY_CONSUMPTION, PREDICTIONS):
        assert fresh.format_status(group)["state"] == "current"
        pd.testing.assert_frame_equal(fresh.read(group), before[group.name])
    # Versions written by release 1 (string_view files included) stay readable, filters too.
    original = fresh.read(ENERGY_CONSUMPTION, version=0, filters={"area": "DK1"})
    assert original["energy_consumption_kwh"].tolist()[:1] == [1000.0]
    revised = consumption_revision(fresh)
    assert revised.rows_updated == 1


def consumption_revision(store: EmbeddedFeatureStore):  # type: ignore[no-untyped-def]
    """One more revision through the new code, on top of the upgraded table."""
    row = store.read(ENERGY_CONSUMPTION, filters={"area": "DK1"}).head(1).copy()
    row["energy_consumption_kwh"] = 42.0
    return store.insert(ENERGY_CONSUMPTION, row)


def test_new_nullable_column_is_added_in_place_without_losing_a_row(old_store: Path) -> None:
    """The coming `predictions.model_family`, declared here on a copy of the spec."""
    spec = with_column(PREDICTIONS, "upgrade_probe_family", pa.Column("string", nullable=True))
    store = EmbeddedFeatureStore(old_store)
    rows = store.read(spec)
    assert len(rows) == 3 and rows["upgrade_probe_family"].isna().all()
    assert rows["prediction_kwh"].tolist() == [1101.0, 1111.0, 1103.0]
    assert store.format_status(spec)["state"] == "current"
    new = rows.head(1).copy()
    new["upgrade_probe_family"] = pd.array(["lightgbm"], dtype="string")
    assert store.insert(spec, new).rows_updated == 1
    after = store.read(spec, filters={"upgrade_probe_family": "lightgbm"})
    assert len(after) == 1
    assert len(store.read(spec, version=0)) == 3  # the pre-upgrade version reads with the new spec


def test_retyped_column_is_refused_until_energy_admin_migrate(old_store: Path) -> None:
    spec = dataclasses.replace(
        PREDICTIONS, columns={**PREDICTIONS.columns, "model_version": pa.Column("float64")}
    )
    with pytest.raises(StoreFormatError, match="energy-admin migrate"):
        EmbeddedFeatureStore(old_store).read(spec)
    store = EmbeddedFeatureStore(old_store)
    assert "rewrote 3 rows" in store.upgrade(spec, rewrite=True)
    assert store.read(spec)["model_version"].tolist() == [1.0, 2.0, 1.0]


def test_columns_this_release_does_not_know_are_refused_untouched(old_store: Path) -> None:
    spec = dataclasses.replace(
        MONITORING, columns={k: v for k, v in MONITORING.columns.items() if k != "pct_error"}
    )
    with pytest.raises(StoreFormatError, match="newer release"):
        EmbeddedFeatureStore(old_store).read(spec)
    assert "pct_error" in EmbeddedFeatureStore(old_store).read(MONITORING).columns


def test_store_written_by_a_newer_release_is_refused(old_store: Path) -> None:
    (old_store / "STORE_FORMAT.json").write_text(json.dumps({"format_version": STORE_FORMAT_VERSION + 1}))
    with pytest.raises(StoreFormatError, match="upgrade energy-core"):
        EmbeddedFeatureStore(old_store).read(ENERGY_CONSUMPTION)
