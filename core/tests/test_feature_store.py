"""The feature-store contract. Written against the `FeatureStore` interface only: the `store`
fixture (conftest.py) yields each available backend, so a new backend runs the same suite."""

from __future__ import annotations

import multiprocessing as mp
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hypothesis.strategies as st
import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import HealthCheck, given, settings

from energy_core.feature_store import (
    FeatureGroupNotFound,
    FeatureStore,
    FeatureStoreUnavailable,
    FeatureValidationError,
    Split,
    TrainingDatasetNotFound,
)
from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import (
    ENERGY_CONSUMPTION,
    UTC_DTYPE,
    FeatureGroupSpec,
    FeatureViewSpec,
    Join,
)

T0 = datetime(2023, 1, 10, tzinfo=UTC)


def consumption(hours: int, start: datetime = T0, types: tuple[str, ...] = ("111", "112"), base: float = 100.0):
    rows = [
        {
            "datetime_utc": start + timedelta(hours=h),
            "area": area,
            "consumer_type": ct,
            "energy_consumption_kwh": base + h + i,
        }
        for h in range(hours)
        for area in ("DK1", "DK2")
        for i, ct in enumerate(types)
    ]
    frame = pd.DataFrame(rows)
    frame["datetime_utc"] = frame["datetime_utc"].astype(UTC_DTYPE)
    frame["area"] = frame["area"].astype("string")
    frame["consumer_type"] = frame["consumer_type"].astype("string")
    return frame


# A toy group and view whose feature value *is* its event time (epoch hours), so a test can see
# exactly which row the as-of join picked.
OBSERVATIONS = FeatureGroupSpec(
    name="test_observations",
    version=1,
    primary_key=("area",),
    event_time="datetime_utc",
    description="test group: value = event time in epoch hours",
    columns={
        "datetime_utc": pa.Column(UTC_DTYPE),
        "area": pa.Column("string"),
        "observed_epoch_h": pa.Column("float64"),
    },
)


def view_with_lag(lag_h: int) -> FeatureViewSpec:
    return FeatureViewSpec(
        name=f"test_view_lag{lag_h}",
        version=1,
        spine=ENERGY_CONSUMPTION,
        joins=(Join(OBSERVATIONS, on=("area",), lag=timedelta(hours=lag_h), prefix="obs_"),),
        description="test view",
    )


def epoch_h(ts: pd.Series) -> pd.Series:
    return (ts - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(hours=1)


def observations(times: list[datetime], area: str = "DK1") -> pd.DataFrame:
    frame = pd.DataFrame({"datetime_utc": pd.Series(times, dtype=UTC_DTYPE), "area": area})
    frame["area"] = frame["area"].astype("string")
    frame["observed_epoch_h"] = epoch_h(frame["datetime_utc"]).astype("float64")
    return frame


# -- feature groups ------------------------------------------------------------------------------


def test_insert_twice_leaves_one_row_per_key(store: FeatureStore) -> None:
    batch = consumption(24)
    first = store.insert(ENERGY_CONSUMPTION, batch)
    second = store.insert(ENERGY_CONSUMPTION, batch)
    stored = store.read(ENERGY_CONSUMPTION)
    assert len(stored) == len(batch) == first.rows_inserted
    assert not stored.duplicated(list(ENERGY_CONSUMPTION.key)).any()
    assert not second.changed
    assert second.table_version == first.table_version


def test_read_returns_exactly_what_was_inserted(store: FeatureStore) -> None:
    batch = consumption(5)
    store.insert(ENERGY_CONSUMPTION, batch)
    stored = store.read(ENERGY_CONSUMPTION)
    expected = batch.sort_values(list(ENERGY_CONSUMPTION.key)).reset_index(drop=True)
    pd.testing.assert_frame_equal(stored, expected)


def test_changed_values_are_upserted_not_duplicated(store: FeatureStore) -> None:
    store.insert(ENERGY_CONSUMPTION, consumption(6))
    revised = consumption(8, base=100.0)
    revised.loc[0, "energy_consumption_kwh"] = 999.0  # a revision of an existing hour
    result = store.insert(ENERGY_CONSUMPTION, revised)
    assert (result.rows_inserted, result.rows_updated) == (2 * 4, 1)
    stored = store.read(ENERGY_CONSUMPTION)
    assert len(stored) == 8 * 4
    hit = stored[(stored.datetime_utc == T0) & (stored.area == "DK1") & (stored.consumer_type == "111")]
    assert hit["energy_consumption_kwh"].tolist() == [999.0]


def test_revised_rows_stay_readable_by_filtered_reads(store: FeatureStore) -> None:
    """Issue 11 point 1: a revision used to leave string_view files that broke every filtered read."""
    store.insert(ENERGY_CONSUMPTION, consumption(3, types=("111",)))  # 6 rows, DK1 and DK2
    revised = consumption(3, types=("111",))
    revised.loc[[0, 3], "energy_consumption_kwh"] = [5.0, 7.0]
    assert store.insert(ENERGY_CONSUMPTION, revised).rows_updated == 2
    expected = revised.sort_values(list(ENERGY_CONSUMPTION.key)).reset_index(drop=True)
    for area in ("DK1", "DK2"):
        got = store.read(ENERGY_CONSUMPTION, filters={"area": area})
        want = expected[expected["area"] == area].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(store.read(ENERGY_CONSUMPTION, filters={"consumer_type": ["111"]}), expected)


def test_delete_removes_only_the_matching_rows_of_the_window_and_twice_is_a_no_op(store: FeatureStore) -> None:
    store.insert(ENERGY_CONSUMPTION, consumption(6))
    start, end = T0 + timedelta(hours=2), T0 + timedelta(hours=4)
    first = store.delete(ENERGY_CONSUMPTION, start, end, filters={"area": "DK2"})
    assert first.rows_deleted == 2 * 2
    again = store.delete(ENERGY_CONSUMPTION, start, end, filters={"area": "DK2"})
    assert again.rows_deleted == 0 and again.table_version == first.table_version
    full = consumption(6)
    doomed = (full.datetime_utc >= start) & (full.datetime_utc < end) & (full.area == "DK2")
    expected = full[~doomed].sort_values(list(ENERGY_CONSUMPTION.key)).reset_index(drop=True)
    pd.testing.assert_frame_equal(store.read(ENERGY_CONSUMPTION), expected)
    pd.testing.assert_frame_equal(
        store.read(ENERGY_CONSUMPTION, filters={"area": "DK2"}),
        expected[expected.area == "DK2"].reset_index(drop=True),
    )


def test_delete_on_an_unknown_column_or_group_is_refused(store: FeatureStore) -> None:
    with pytest.raises(FeatureGroupNotFound):
        store.delete(ENERGY_CONSUMPTION, T0, T0 + timedelta(hours=1))
    store.insert(ENERGY_CONSUMPTION, consumption(2))
    with pytest.raises(ValueError, match="unknown column 'region'"):
        store.delete(ENERGY_CONSUMPTION, filters={"region": "x"})
    assert len(store.read(ENERGY_CONSUMPTION)) == 2 * 4


def test_batch_with_one_invalid_row_names_rule_and_row_and_changes_nothing(store: FeatureStore) -> None:
    store.insert(ENERGY_CONSUMPTION, consumption(3))
    version = store.table_version(ENERGY_CONSUMPTION)
    before = store.read(ENERGY_CONSUMPTION)
    bad = consumption(6)
    bad.loc[17, "energy_consumption_kwh"] = -1.0
    with pytest.raises(FeatureValidationError) as err:
        store.insert(ENERGY_CONSUMPTION, bad)
    assert "non_negative_consumption" in str(err.value)
    assert err.value.failures["row"].tolist() == [17]
    assert err.value.rows.index.tolist() == [17]
    assert store.table_version(ENERGY_CONSUMPTION) == version
    pd.testing.assert_frame_equal(store.read(ENERGY_CONSUMPTION), before)
    report = store.validation_report(ENERGY_CONSUMPTION)
    assert report is not None and not report.passed and report.failures[0]["rule"] == "non_negative_consumption"


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda f: f.assign(area=f["area"].where(f.index != 2, "DK 3")), "area_key_pattern"),
        (lambda f: f.assign(consumer_type=f["consumer_type"].where(f.index != 2, "a/b")), "consumer_type_key_pattern"),
        (lambda f: f.assign(energy_consumption_kwh=f["energy_consumption_kwh"].where(f.index != 2)), "not_nullable"),
        (lambda f: pd.concat([f, f.iloc[[2]]]), "multiple_fields_uniqueness"),
        (lambda f: f.assign(energy_consumption_kwh=f["energy_consumption_kwh"].astype(str)), "dtype('float64')"),
        (lambda f: f.assign(datetime_utc=f["datetime_utc"].dt.tz_localize(None)), "dtype('datetime64[us, UTC]')"),
        (lambda f: f.drop(columns=["area"]), "column_in_dataframe"),
    ],
    ids=["malformed_area", "malformed_consumer_type", "nan", "duplicate_key", "wrong_dtype", "naive_time", "missing"],
)
def test_each_rule_rejects_the_whole_batch(store: FeatureStore, mutate, rule: str) -> None:
    with pytest.raises(FeatureValidationError) as err:
        store.insert(ENERGY_CONSUMPTION, mutate(consumption(2)))
    assert rule in str(err.value)
    assert not store.exists(ENERGY_CONSUMPTION)


def test_read_filters_half_open_event_time_range_and_columns(store: FeatureStore) -> None:
    store.insert(ENERGY_CONSUMPTION, consumption(48))
    got = store.read(
        ENERGY_CONSUMPTION,
        start=T0 + timedelta(hours=10),
        end=T0 + timedelta(hours=34),
        filters={"area": "DK2", "consumer_type": ["112"]},
    )
    assert len(got) == 24
    assert got["datetime_utc"].min() == pd.Timestamp(T0 + timedelta(hours=10))
    assert got["datetime_utc"].max() == pd.Timestamp(T0 + timedelta(hours=33))
    assert set(got["area"]) == {"DK2"} and set(got["consumer_type"]) == {"112"}


def test_reading_a_group_never_written_raises_not_found(store: FeatureStore) -> None:
    with pytest.raises(FeatureGroupNotFound):
        store.read(ENERGY_CONSUMPTION)
    assert store.table_version(ENERGY_CONSUMPTION) is None


def test_statistics_report_rows_keys_and_event_time_range(store: FeatureStore) -> None:
    store.insert(ENERGY_CONSUMPTION, consumption(10))
    stats = store.statistics(ENERGY_CONSUMPTION)
    assert (stats.row_count, stats.key_count) == (40, 4)
    assert stats.event_time_min == T0 and stats.event_time_max == T0 + timedelta(hours=9)
    kwh = next(c for c in stats.columns if c.name == "energy_consumption_kwh")
    assert kwh.null_count == 0 and kwh.min == 100.0 and kwh.max == 110.0


def test_unwritable_store_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = EmbeddedFeatureStore(blocker / "store")
    with pytest.raises(FeatureStoreUnavailable):
        store.insert(ENERGY_CONSUMPTION, consumption(1))


# -- feature views -------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    obs_offsets=st.lists(st.integers(min_value=-72, max_value=72), min_size=1, max_size=25, unique=True),
    lag_h=st.sampled_from([0, 1, 24]),
)
def test_as_of_join_never_returns_a_value_from_after_the_requested_time(
    store_factory, obs_offsets: list[int], lag_h: int
) -> None:
    store = store_factory()
    store.insert(ENERGY_CONSUMPTION, consumption(48, types=("111",)))
    store.insert(OBSERVATIONS, observations([T0 + timedelta(hours=o) for o in obs_offsets]))
    frame = store.read_view(view_with_lag(lag_h))
    cutoff = epoch_h(frame["datetime_utc"]) - lag_h
    picked = frame["obs_observed_epoch_h"]
    assert (picked.dropna() <= cutoff[picked.notna()]).all(), "a feature from after its visibility time leaked"
    # ... and it is the latest one visible (not just any older one): as-of, not a stale join.
    obs = sorted(epoch_h(pd.Series([T0 + timedelta(hours=o) for o in obs_offsets], dtype=UTC_DTYPE)))
    for (area, c), value in zip(zip(frame["area"], cutoff, strict=True), picked, strict=True):
        visible = [o for o in obs if o <= c] if area == "DK1" else []
        assert (pd.isna(value) and not visible) or value == visible[-1]


def test_view_joins_onto_a_spine_of_future_hours(store: FeatureStore) -> None:
    store.insert(OBSERVATIONS, observations([T0, T0 + timedelta(hours=5)]))
    spine = pd.DataFrame(
        {
            "datetime_utc": pd.Series([T0 + timedelta(hours=h) for h in (4, 6, 30)], dtype=UTC_DTYPE),
            "area": pd.Series(["DK1"] * 3, dtype="string"),
            "consumer_type": pd.Series(["111"] * 3, dtype="string"),
        }
    )
    frame = store.read_view(view_with_lag(1), spine=spine)
    assert frame["obs_observed_epoch_h"].tolist() == epoch_h(
        pd.Series([T0, T0 + timedelta(hours=5), T0 + timedelta(hours=5)], dtype=UTC_DTYPE)
    ).tolist()


# -- training datasets ---------------------------------------------------------------------------


def test_training_dataset_rereads_identical_rows_after_new_inserts(store: FeatureStore) -> None:
    view = view_with_lag(1)
    store.insert(ENERGY_CONSUMPTION, consumption(48))
    meta = store.create_training_dataset(
        view, end=T0 + timedelta(hours=40), split=Split(validation_start=T0 + timedelta(hours=24),
                                                         test_start=T0 + timedelta(hours=36))
    )
    before = store.read_training_dataset(view, meta.version)
    # Later activity: revised history, new hours, and a joined group that did not exist before.
    revised = consumption(60)
    revised["energy_consumption_kwh"] += 1.0
    store.insert(ENERGY_CONSUMPTION, revised)
    store.insert(OBSERVATIONS, observations([T0 - timedelta(hours=3)]))
    after = store.read_training_dataset(view, meta.version)
    for part in ("train", "validation", "test"):
        pd.testing.assert_frame_equal(getattr(before, part), getattr(after, part))
    assert (len(before.train), len(before.validation), len(before.test)) == (24 * 4, 12 * 4, 4 * 4)
    assert after.meta == meta
    newer = store.create_training_dataset(view, end=T0 + timedelta(hours=40))
    assert newer.version == meta.version + 1 and newer.data_sha256 != meta.data_sha256
    assert [m.version for m in store.list_training_datasets(view)] == [meta.version, newer.version]


def test_unknown_training_dataset_version_is_a_clear_error(store: FeatureStore) -> None:
    store.insert(ENERGY_CONSUMPTION, consumption(2))
    with pytest.raises(TrainingDatasetNotFound, match="does not exist"):
        store.read_training_dataset(view_with_lag(0), 7)


# -- concurrency ---------------------------------------------------------------------------------


def _insert_many(root: str, offset_hours: int, batches: int) -> None:
    store = EmbeddedFeatureStore(Path(root))
    for b in range(batches):
        store.insert(ENERGY_CONSUMPTION, consumption(3, start=T0 + timedelta(hours=offset_hours + 3 * b)))


def test_two_processes_inserting_concurrently_lose_nothing(tmp_path: Path) -> None:
    """Embedded backend only: two OS processes write the same table at the same time."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_insert_many, args=(str(tmp_path), off, 8)) for off in (0, 1000)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    stored = EmbeddedFeatureStore(tmp_path).read(ENERGY_CONSUMPTION)
    assert len(stored) == 2 * 8 * 3 * 4
    assert not stored.duplicated(list(ENERGY_CONSUMPTION.key)).any()
