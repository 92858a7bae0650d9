"""monitor: forecast errors per series, hour and hours_ahead; aggregates; missing actuals marked."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_batch.aggregates import horizon_aggregates, hourly_aggregates
from energy_batch.forecast_errors import forecast_errors
from energy_batch.pipeline import monitor
from energy_batch.settings import BatchSettings
from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import (
    ENERGY_CONSUMPTION,
    MONITORING,
    MONITORING_HORIZON,
    MONITORING_HOURLY,
    PREDICTIONS,
    UTC_DTYPE,
)
from energy_core.settings import AlertSettings

T0 = pd.Timestamp("2023-01-10T00:00Z")
H = pd.Timedelta(hours=1)


def predictions(rows: list[tuple[str, str, pd.Timestamp, int, float, float, float]]) -> pd.DataFrame:
    """PREDICTIONS rows from (area, type, target, hours_ahead, point, q10, q90)."""
    frame = pd.DataFrame(
        rows, columns=["area", "consumer_type", "datetime_utc", "hours_ahead", "prediction_kwh",
                       "prediction_q10_kwh", "prediction_q90_kwh"],
    )
    frame["datetime_utc"] = frame["datetime_utc"].astype(UTC_DTYPE)
    frame["forecast_made_at"] = (frame["datetime_utc"] - pd.to_timedelta(frame["hours_ahead"], unit="h")).astype(
        UTC_DTYPE
    )
    frame["area"] = frame["area"].astype("string")
    frame["consumer_type"] = frame["consumer_type"].astype("string")
    frame["model_name"] = pd.Series("m", index=frame.index, dtype="string")
    frame["model_version"] = 1
    frame["model_family"] = pd.Series("lightgbm", index=frame.index, dtype="string")
    return frame[list(PREDICTIONS.columns)]


def actuals(rows: list[tuple[str, str, pd.Timestamp, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["area", "consumer_type", "datetime_utc", "energy_consumption_kwh"])
    frame["datetime_utc"] = frame["datetime_utc"].astype(UTC_DTYPE)
    frame["area"] = frame["area"].astype("string")
    frame["consumer_type"] = frame["consumer_type"].astype("string")
    return frame[list(ENERGY_CONSUMPTION.columns)]


def test_errors_are_signed_prediction_minus_actual_with_percentage_and_interval() -> None:
    preds = predictions([
        ("DK1", "111", T0, 1, 110.0, 90.0, 120.0),
        ("DK1", "112", T0, 1, 80.0, 85.0, 95.0),
    ])
    acts = actuals([("DK1", "111", T0, 100.0), ("DK1", "112", T0, 100.0)])

    rows = forecast_errors(preds, acts, as_of=T0, grace_hours=6).set_index("consumer_type")

    assert rows.loc["111", ["error_kwh", "abs_error_kwh", "pct_error"]].tolist() == pytest.approx([10.0, 10.0, 0.1])
    assert rows.loc["112", ["error_kwh", "abs_error_kwh", "pct_error"]].tolist() == pytest.approx([-20.0, 20.0, -0.2])
    assert bool(rows.loc["111", "in_interval"]) is True
    assert bool(rows.loc["112", "in_interval"]) is False
    assert not rows["actual_missing"].any()


def test_a_missing_actual_is_marked_once_a_later_hour_arrived_and_never_invented() -> None:
    preds = predictions([("DK1", "111", T0, 1, 110.0, 90.0, 120.0), ("DK1", "111", T0 + H, 2, 105.0, 90.0, 120.0)])
    acts = actuals([("DK1", "111", T0 + H, 100.0)])  # T0's actual never came, T0+1h's did

    rows = forecast_errors(preds, acts, as_of=T0 + H, grace_hours=6).set_index("datetime_utc")

    missing = rows.loc[T0]
    assert bool(missing["actual_missing"]) is True
    assert missing[["actual_kwh", "error_kwh", "abs_error_kwh", "pct_error"]].isna().all()
    assert pd.isna(missing["in_interval"])
    assert bool(rows.loc[T0 + H, "actual_missing"]) is False


def test_an_actual_not_yet_arrived_within_the_grace_period_is_not_monitored_yet() -> None:
    preds = predictions([("DK1", "111", T0, 1, 110.0, 90.0, 120.0)])
    acts = actuals([("DK1", "111", T0 - H, 100.0)])

    assert forecast_errors(preds, acts, as_of=T0, grace_hours=6).empty
    late = forecast_errors(preds, acts, as_of=T0 + 6 * H, grace_hours=6)
    assert late["actual_missing"].tolist() == [True]


def test_forecasts_for_hours_after_the_as_of_time_are_not_scored() -> None:
    preds = predictions([("DK1", "111", T0 + H, 1, 110.0, 90.0, 120.0)])
    acts = actuals([("DK1", "111", T0 + H, 100.0)])  # present in the store, but after as-of

    assert forecast_errors(preds, acts, as_of=T0, grace_hours=0).empty


def test_hourly_aggregate_is_hand_checkable_and_counts_missing_separately() -> None:
    preds = predictions([
        ("DK1", "111", T0, 1, 110.0, 90.0, 120.0),  # +10 on 100, inside
        ("DK1", "112", T0, 2, 80.0, 85.0, 95.0),  # -20 on 100, outside
        ("DK1", "119", T0, 3, 50.0, 40.0, 60.0),  # actual missing
    ])
    acts = actuals([("DK1", "111", T0, 100.0), ("DK1", "112", T0, 100.0), ("DK1", "119", T0 + H, 1.0)])
    rows = forecast_errors(preds, acts, as_of=T0 + H, grace_hours=6)

    hourly = hourly_aggregates(rows).iloc[0]

    assert hourly["datetime_utc"] == T0
    assert hourly["wape"] == pytest.approx(30 / 200)
    assert hourly["mape"] == pytest.approx((0.1 + 0.2) / 2)
    assert hourly["mae_kwh"] == pytest.approx(15.0)
    assert hourly["bias_kwh"] == pytest.approx(-5.0)
    assert hourly["interval_coverage"] == pytest.approx(0.5)
    assert (hourly["count"], hourly["missing_count"]) == (2, 1)


def test_horizon_aggregate_keeps_sums_so_wape_can_be_rolled_up() -> None:
    preds = predictions([
        ("DK1", "111", T0, 1, 110.0, None, None),
        ("DK1", "112", T0, 1, 70.0, None, None),
        ("DK1", "111", T0, 2, 100.0, None, None),
    ])
    acts = actuals([("DK1", "111", T0, 100.0), ("DK1", "112", T0, 100.0)])
    rows = forecast_errors(preds, acts, as_of=T0, grace_hours=6)

    by_ahead = horizon_aggregates(rows).set_index("hours_ahead")

    assert by_ahead.loc[1, ["abs_error_sum_kwh", "actual_sum_kwh", "wape", "count"]].tolist() == pytest.approx(
        [40.0, 200.0, 0.2, 2]
    )
    assert by_ahead.loc[2, ["wape", "bias_kwh", "count"]].tolist() == pytest.approx([0.0, 0.0, 1])
    assert pd.isna(hourly_aggregates(rows).iloc[0]["interval_coverage"])  # no quantiles, no coverage


def test_monitor_writes_rows_and_aggregates_and_marks_a_missing_hour(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = EmbeddedFeatureStore(tmp_path / "feature_store")
    series = [("DK1", "111"), ("DK2", "111")]
    store.insert(PREDICTIONS, predictions(
        [(a, c, T0 + k * H, k + 1, 100.0 + k, 90.0, 130.0) for a, c in series for k in range(3)]
    ))
    store.insert(ENERGY_CONSUMPTION, actuals(
        [(a, c, T0 + k * H, 100.0) for a, c in series for k in (0, 2)]  # hour T0+1h missing for both series
    ))
    as_of = T0 + 2 * H

    result = monitor(store, None, as_of, BatchSettings(), AlertSettings())

    rows = store.read(MONITORING)
    assert len(rows) == 6
    assert rows.loc[rows["datetime_utc"] == T0 + H, "actual_missing"].all()
    assert not rows.loc[rows["datetime_utc"] != T0 + H, "actual_missing"].any()
    hourly = store.read(MONITORING_HOURLY).set_index("datetime_utc")
    assert hourly.loc[T0 + H, ["count", "missing_count"]].tolist() == [0, 2]
    assert pd.isna(hourly.loc[T0 + H, "wape"])
    assert hourly.loc[T0 + 2 * H, "wape"] == pytest.approx(4 / 200)
    assert len(store.read(MONITORING_HORIZON)) == 3
    assert (result.monitored_rows, result.missing_rows, result.hours) == (6, 2, 3)


def test_monitor_twice_for_the_same_as_of_changes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = EmbeddedFeatureStore(tmp_path / "feature_store")
    store.insert(PREDICTIONS, predictions([("DK1", "111", T0, 1, 110.0, 90.0, 120.0)]))
    store.insert(ENERGY_CONSUMPTION, actuals([("DK1", "111", T0, 100.0)]))
    monitor(store, None, T0, BatchSettings(), AlertSettings())
    groups = (MONITORING, MONITORING_HOURLY, MONITORING_HORIZON)
    versions = [store.table_version(g) for g in groups]

    monitor(store, None, T0, BatchSettings(), AlertSettings())

    assert [store.table_version(g) for g in groups] == versions
    assert len(store.read(MONITORING)) == 1


def test_a_late_actual_replaces_the_missing_mark(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = EmbeddedFeatureStore(tmp_path / "feature_store")
    store.insert(PREDICTIONS, predictions([("DK1", "111", T0, 1, 110.0, 90.0, 120.0)]))
    store.insert(ENERGY_CONSUMPTION, actuals([("DK1", "111", T0 + H, 100.0)]))
    monitor(store, None, T0 + H, BatchSettings(), AlertSettings())
    assert store.read(MONITORING)["actual_missing"].tolist() == [True]

    store.insert(ENERGY_CONSUMPTION, actuals([("DK1", "111", T0, 100.0)]))
    monitor(store, None, T0 + 2 * H, BatchSettings(), AlertSettings())

    rows = store.read(MONITORING)
    assert rows["actual_missing"].tolist() == [False]
    assert rows["error_kwh"].tolist() == [10.0]


def _scored() -> pd.DataFrame:
    """Monitoring rows of two series × 3 hours, one hour missing (nulls in every nullable column)."""
    series = [("DK1", "111"), ("DK2", "111")]
    preds = predictions([(a, c, T0 + k * H, k + 1, 100.0 + k, 90.0, 130.0) for a, c in series for k in range(3)])
    acts = actuals([(a, c, T0 + k * H, 100.0) for a, c in series for k in (0, 2)])
    return forecast_errors(preds, acts, T0 + 2 * H, 6)


def test_rows_stored_unchanged_are_dropped_before_the_insert_and_every_change_is_kept() -> None:
    """Monitor's pre-insert filter: identical rows (nulls equal to nulls) drop out; a change in any
    single column, of any kind, keeps that row; a key the store lacks is new."""
    from energy_batch.forecast_errors import changed_since_stored

    rows = _scored()
    assert rows["actual_missing"].any() and rows["in_interval"].isna().any()  # nulls are compared too
    assert changed_since_stored(rows, rows.iloc[::-1].reset_index(drop=True)).empty  # order does not matter
    changes = {
        "actual_kwh": 101.0, "prediction_q10_kwh": 91.0, "error_kwh": -1.0, "in_interval": False,
        "actual_missing": not rows.loc[1, "actual_missing"], "model_version": 2, "forecast_made_at": T0 - 5 * H,
    }  # fmt: skip
    for column, value in changes.items():
        stored = rows.copy()
        stored.loc[1, column] = value
        assert changed_since_stored(rows, stored).index.tolist() == [1], column
    assert changed_since_stored(rows, rows.iloc[2:]).index.tolist() == [0, 1]
    assert changed_since_stored(rows, rows.iloc[:0]).equals(rows)


def test_monitor_after_a_revised_actual_rewrites_exactly_the_rows_of_that_hour(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = EmbeddedFeatureStore(tmp_path / "feature_store")
    series = [("DK1", "111"), ("DK2", "111")]
    store.insert(PREDICTIONS, predictions([(a, c, T0 + k * H, k + 1, 100.0 + k, 90.0, 130.0) for a, c in series
                                           for k in range(3)]))  # fmt: skip
    store.insert(ENERGY_CONSUMPTION, actuals([(a, c, T0 + k * H, 100.0) for a, c in series for k in range(3)]))
    monitor(store, None, T0 + 2 * H, BatchSettings(), AlertSettings())
    store.insert(ENERGY_CONSUMPTION, actuals([("DK2", "111", T0, 120.0)]))  # the source revised one value

    monitor(store, None, T0 + 2 * H, BatchSettings(), AlertSettings())

    stored = store.read(MONITORING)
    acts = store.read(ENERGY_CONSUMPTION)
    expected = forecast_errors(store.read(PREDICTIONS), acts, T0 + 2 * H, 6).sort_values(list(MONITORING.key))
    pd.testing.assert_frame_equal(stored.reset_index(drop=True), expected.reset_index(drop=True))
    assert stored.loc[(stored["area"] == "DK2") & (stored["datetime_utc"] == T0), "error_kwh"].tolist() == [-20.0]


def test_aggregates_equal_a_full_recompute_after_new_hours_a_revision_and_a_crash_between_the_writes(
    tmp_path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    """Monitor re-aggregates only the hours with a changed row, and writes aggregates before rows:
    the stored aggregates must still equal a recompute over every stored row, hour after hour, after
    a revised actual, and after a run that died between the aggregate and the row writes."""
    store = EmbeddedFeatureStore(tmp_path / "feature_store")
    series = [("DK1", "111"), ("DK2", "111")]
    store.insert(PREDICTIONS, predictions(
        [(a, c, T0 + k * H, h, 100.0 + k + h, 90.0, 130.0) for a, c in series for k in range(6) for h in (1, 2)]
    ))  # fmt: skip
    store.insert(ENERGY_CONSUMPTION, actuals([(a, c, T0 + k * H, 100.0 + k) for a, c in series for k in range(6)]))

    def assert_aggregates_recomputed() -> None:
        rows = store.read(MONITORING)
        for group, aggregate in ((MONITORING_HOURLY, hourly_aggregates), (MONITORING_HORIZON, horizon_aggregates)):
            key = list(group.key)
            stored = store.read(group).sort_values(key).reset_index(drop=True)
            expected = aggregate(rows).sort_values(key).reset_index(drop=True)
            pd.testing.assert_frame_equal(stored, expected, check_like=True)

    for k in range(4):
        monitor(store, None, T0 + k * H, BatchSettings(), AlertSettings())
        assert_aggregates_recomputed()
    store.insert(ENERGY_CONSUMPTION, actuals([("DK2", "111", T0 + H, 150.0)]))  # a revision of an old hour
    monitor(store, None, T0 + 3 * H, BatchSettings(), AlertSettings())
    assert_aggregates_recomputed()
    assert store.read(MONITORING_HOURLY).set_index("datetime_utc").loc[T0 + H, "count"] == 4

    insert = store.insert
    written: list[str] = []

    def dies_after_the_first_write(group, frame, *args, **kwargs):  # type: ignore[no-untyped-def]
        if group in (MONITORING, MONITORING_HOURLY, MONITORING_HORIZON):
            if written:  # whichever of the three monitor writes first has committed
                raise RuntimeError("killed between the aggregate and the row writes")
            written.append(group.name)
        return insert(group, frame, *args, **kwargs)

    store.insert(ENERGY_CONSUMPTION, actuals([("DK1", "111", T0 + 2 * H, 50.0)]))
    monkeypatch.setattr(store, "insert", dies_after_the_first_write)
    with pytest.raises(RuntimeError, match="killed"):
        monitor(store, None, T0 + 4 * H, BatchSettings(), AlertSettings())
    monkeypatch.setattr(store, "insert", insert)
    monitor(store, None, T0 + 4 * H, BatchSettings(), AlertSettings())
    assert_aggregates_recomputed()
    assert len(store.read(MONITORING_HOURLY)) == 5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_grid_path_scores_exactly_like_the_merges(seed: int) -> None:
    """`forecast_errors` looks actuals up on a series × hour grid; `_forecast_errors_merge` is the
    plain pandas version. Both must give the same frame (values, dtypes, order) on random input:
    missing and null actuals, a later hour arriving, the grace period, parent totals, and keys
    whose text order differs from their first appearance."""
    import numpy as np

    from energy_batch.forecast_errors import _forecast_errors_merge

    rng = np.random.default_rng(seed)
    series = [("DK2", "total"), ("DK1", "111"), ("DK10", "11"), ("DK1", "total"), ("DK2", "111"), ("DK1", "2")]
    as_of = T0 + 30 * H
    rows = [
        (a, c, T0 + t * H, k, *(float(rng.uniform(lo, hi)) for lo, hi in ((50, 150), (40, 100), (100, 160))))
        for a, c in series for t in range(36) for k in range(1, 5) if rng.random() < 0.8
    ]  # fmt: skip
    preds = predictions(rows)
    preds.loc[rng.random(len(preds)) < 0.1, "prediction_q10_kwh"] = np.nan
    kwh = [0.0, 80.0, 120.0, np.nan]  # a null actual row still counts as a later arrival
    hours = {s: int(rng.integers(10, 34)) for s in series[:-1]}  # the last series has no actual at all
    acts = actuals([(a, c, T0 + t * H, float(rng.choice(kwh)))
                    for (a, c), n in hours.items() for t in range(n) if rng.random() < 0.85])  # fmt: skip
    preds = preds.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # stored order is not key order

    for grace in (0, 6, 40):
        fast = forecast_errors(preds, acts, as_of, grace)
        plain = _forecast_errors_merge(preds[preds["datetime_utc"] <= as_of],
                                       acts[acts["datetime_utc"] <= as_of], as_of, grace)  # fmt: skip
        assert len(fast) > 0 and fast["actual_missing"].any() and (~fast["actual_missing"]).any()
        pd.testing.assert_frame_equal(fast, plain)
    ns = {"datetime_utc": "datetime64[ns, UTC]"}  # another store's time unit: the grid path, the same rows
    in_ns = forecast_errors(preds.astype(ns), acts.astype(ns), as_of, 6)
    us = {"datetime_utc": fast["datetime_utc"].dtype}
    pd.testing.assert_frame_equal(in_ns.astype(us), forecast_errors(preds, acts, as_of, 6))
    off_hour = preds.assign(datetime_utc=preds["datetime_utc"] + pd.Timedelta(minutes=30))  # the merge path
    plain = _forecast_errors_merge(off_hour[off_hour["datetime_utc"] <= as_of], acts, as_of, 6)
    pd.testing.assert_frame_equal(forecast_errors(off_hour, acts, as_of, 6), plain)


def test_a_monitor_that_remembers_its_rows_stores_what_one_reading_them_back_stores(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`StoredScores`: hour after hour, with a revised actual and with another writer changing a
    stored row behind the worker's back, a monitor that compares against its remembered rows must
    leave exactly the tables of one that reads them back, and must actually skip the read."""
    from energy_batch.forecast_errors import StoredScores

    series = [("DK1", "111"), ("DK2", "111"), ("DK1", "total")]
    preds = predictions([(a, c, T0 + k * H, h, 100.0 + k + h, 90.0, 130.0) for a, c in series for k in range(10)
                         for h in (1, 2, 3)])  # fmt: skip
    acts = actuals([(a, c, T0 + k * H, 100.0 + k) for a, c in series if c != "total" for k in range(10)])
    stores = [EmbeddedFeatureStore(tmp_path / name) for name in ("remembers", "reads")]
    for store in stores:
        store.insert(PREDICTIONS, preds)
        store.insert(ENERGY_CONSUMPTION, acts.iloc[:0])
    memory = StoredScores()
    reads = {"n": 0}
    read = stores[0].read

    def counting(group, *args, **kwargs):  # type: ignore[no-untyped-def]
        reads["n"] += group is MONITORING
        return read(group, *args, **kwargs)

    stores[0].read = counting  # type: ignore[method-assign]
    for k in range(9):
        for store in stores:
            store.insert(ENERGY_CONSUMPTION, acts[acts["datetime_utc"] == T0 + k * H])
            if k == 4:  # the source revises an old hour
                store.insert(ENERGY_CONSUMPTION, actuals([("DK2", "111", T0 + H, 150.0)]))
            if k == 6:  # another writer leaves a wrong value in a row the worker remembers
                wrong = EmbeddedFeatureStore(store.root).read(MONITORING, start=T0 + 2 * H, end=T0 + 3 * H).head(1)
                store.insert(MONITORING, wrong.assign(error_kwh=wrong["error_kwh"] + 1.0))
        monitor(stores[0], None, T0 + k * H, BatchSettings(), AlertSettings(), memory=memory)
        monitor(stores[1], None, T0 + k * H, BatchSettings(), AlertSettings())
        for group in (MONITORING, MONITORING_HOURLY, MONITORING_HORIZON):
            pd.testing.assert_frame_equal(read(group), stores[1].read(group))
    assert memory.rows is not None
    assert reads["n"] == 1  # only the hour after the other writer (the first hour finds no table)


def test_a_monitor_that_rescores_only_changed_hours_leaves_the_tables_of_one_that_rescores_all(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`ScoredWith`: a worker scores again only the target hours whose forecasts or actuals may have
    changed. Hour after hour, through late actuals, one that never comes, a revised actual, a
    vanished actual, a forecast rewritten for an already scored hour, a compaction of `predictions`
    and another writer in `monitoring`, it must leave exactly the tables (and answers) of a monitor
    that scores the whole window every hour, and in quiet hours it must read only the newest hour's
    forecasts."""
    import numpy as np

    from energy_batch.forecast_errors import StoredScores
    from energy_core.schemas import ALERTS

    rng = np.random.default_rng(7)
    series = [("DK1", "111"), ("DK1", "112"), ("DK2", "111"), ("DK1", "total")]
    hours = 30
    forecast = [(a, c, T0 + t * H, h, 100.0 + t + h + rng.random(), 90.0 + t, 125.0 + t)
                for a, c in series for t in range(hours) for h in (1, 2, 3, 5)]  # fmt: skip
    settings = BatchSettings(ENERGY_BATCH_MONITOR_LOOKBACK_HOURS=12, ENERGY_BATCH_ACTUAL_GRACE_HOURS=3)
    stores = [EmbeddedFeatureStore(tmp_path / name) for name in ("remembers", "rescores")]
    memory = StoredScores()
    spans: list[float] = []
    read = stores[0].read

    def recording(group, *args, **kwargs):  # type: ignore[no-untyped-def]
        if group is PREDICTIONS:
            start, end = kwargs.get("start"), kwargs.get("end")
            spans.append((pd.Timestamp(end) - pd.Timestamp(start)) / H)
        return read(group, *args, **kwargs)

    stores[0].read = recording  # type: ignore[method-assign]
    quiet = []
    for k in range(hours - 4):
        now = T0 + k * H
        spans.clear()
        for store in stores:
            store.insert(PREDICTIONS, predictions([r for r in forecast if r[2] - r[3] * H == now]))
            late = [(a, c, now, 100.0 + k) for a, c in series[:2]]  # DK2 arrives two hours late
            late += [("DK2", "111", now - 2 * H, 101.0 + k)] if k >= 2 and k != 9 else []  # one never comes
            store.insert(ENERGY_CONSUMPTION, actuals(late))
            if k == 12:  # the source revises an old hour
                store.insert(ENERGY_CONSUMPTION, actuals([("DK1", "111", now - 5 * H, 999.0)]))
            if k == 14:  # an actual vanishes (deleted at the source)
                store.delete(ENERGY_CONSUMPTION, start=now - 3 * H, end=now - 2 * H, filters={"consumer_type": "112"})
            if k == 16:  # a forecast of an already scored hour is rewritten (a re-run of an old hour)
                redo = predictions([r for r in forecast if r[2] == now - 4 * H and r[3] == 5])
                store.insert(PREDICTIONS, redo.assign(prediction_kwh=redo["prediction_kwh"] + 7.0))
            if k == 18:
                store.compact(PREDICTIONS)
            if k == 20:  # another writer leaves a wrong value in a row the worker remembers
                wrong = EmbeddedFeatureStore(store.root).read(MONITORING, start=now - 6 * H, end=now - 5 * H).head(1)
                store.insert(MONITORING, wrong.assign(error_kwh=wrong["error_kwh"] + 1.0))
        fast = monitor(stores[0], None, now, settings, AlertSettings(), memory=memory)
        full = monitor(stores[1], None, now, settings, AlertSettings())
        assert fast == full
        for group in (MONITORING, MONITORING_HOURLY, MONITORING_HORIZON, ALERTS):
            assert stores[0].exists(group) == stores[1].exists(group)
            if stores[1].exists(group):
                pd.testing.assert_frame_equal(read(group), stores[1].read(group))
        if k > 6 and k not in (9, 12, 14, 16, 18, 20, 21):
            quiet.append(sum(spans))
    assert memory.scored_with is not None and len(memory.scored_with.settled_hours) > 0
    assert quiet and max(quiet) <= 4  # the newest hour and the late series' hours, not the 12 h window


def test_packed_key_positions_equal_the_per_column_ones() -> None:
    """`_positions` packs (series, hours_ahead, hour) into one integer; `_positions_by_frame`
    factorises the four columns. Same answer, shuffled, with keys missing on either side."""
    import numpy as np

    from energy_batch.forecast_errors import _positions, _positions_by_frame

    rows = _scored()
    rows = pd.concat([rows, rows.assign(hours_ahead=rows["hours_ahead"] + 30),
                      rows[rows["area"] == "DK1"].assign(area="DK10").astype({"area": "string"})],
                     ignore_index=True)  # fmt: skip
    stored = rows.sample(frac=0.7, random_state=1).reset_index(drop=True)
    shuffled = rows.sample(frac=1.0, random_state=2).reset_index(drop=True)
    at = _positions(shuffled, stored)
    assert (at == -1).sum() == len(rows) - len(stored) and (at >= 0).any()
    np.testing.assert_array_equal(at, _positions_by_frame(shuffled, stored))
