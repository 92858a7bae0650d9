"""simulate: hour by hour ingest → predict → monitor → retrain on schedule; resumable, same rows.

The fast tests inject the ingest and retrain steps in-process (the real ones are other services'
console scripts); `test_real_pipelines_*` (slow) drives the real console scripts end to end.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_batch.champion import Champion, load_champion
from energy_batch.console_scripts import iso
from energy_batch.pipeline import ingested_versions, monitor, predict
from energy_batch.service_workers import MonitorWorker
from energy_batch.settings import BatchSettings
from energy_batch.simulation import MonitorLane, SimulationPlan, parse_every, simulate
from energy_batch.simulation_state import read_state
from energy_core.compute import child_environment
from energy_core.feature_store import FeatureStore
from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.registry import ModelRegistry, ModelVersionInfo
from energy_core.schemas import (
    ALERTS,
    ENERGY_CONSUMPTION,
    MONITORING,
    MONITORING_HORIZON,
    MONITORING_HOURLY,
    PREDICTIONS,
    FeatureGroupSpec,
)
from energy_core.settings import AlertSettings

from .batch_support import AS_OF, DATA_START, consumption
from .conftest import Stack

START = AS_OF
PLAN = SimulationPlan(START, START + pd.Timedelta(hours=5), retrain_every_hours=3, profile="smoke")
WRITTEN: tuple[FeatureGroupSpec, ...] = (PREDICTIONS, MONITORING, MONITORING_HOURLY, MONITORING_HORIZON, ALERTS)


@pytest.fixture(scope="module")
def arriving() -> pd.DataFrame:
    """The consumption rows of the simulated window, handed over one hour at a time."""
    return consumption(START, 5)


def _store_before_window(root: Path) -> EmbeddedFeatureStore:
    store = EmbeddedFeatureStore(root)
    store.insert(ENERGY_CONSUMPTION, consumption(DATA_START, int((START - DATA_START) / pd.Timedelta(hours=1))))
    return store


def _ingest(store: FeatureStore, arriving: pd.DataFrame, stop_at: pd.Timestamp | None = None) -> Callable[..., None]:
    def ingest(hour: pd.Timestamp) -> None:
        if hour == stop_at:
            raise KeyboardInterrupt("operator pressed Ctrl-C")
        store.insert(ENERGY_CONSUMPTION, arriving[arriving["datetime_utc"] == hour])

    return ingest


def _tables(store: FeatureStore) -> dict[str, pd.DataFrame]:
    return {g.name: store.read(g).reset_index(drop=True) for g in WRITTEN}


def _run(store: FeatureStore, registry: ModelRegistry, state: Path, ingest: Callable[..., None],
         retrained: list[pd.Timestamp]) -> dict[str, object]:
    return simulate(store, registry, PLAN, state, BatchSettings(), AlertSettings(), ingest=ingest,
                    retrain=lambda hour, adopt_at: retrained.append(hour), progress=False)


def test_retrain_every_parses_hours_and_days() -> None:
    assert (parse_every("24h"), parse_every("6"), parse_every("2d")) == (24, 6, 48)
    with pytest.raises(ValueError, match="expected hours"):
        parse_every("weekly")


def test_retraining_happens_every_n_hours_after_the_start_only() -> None:
    plan = SimulationPlan(START, START + pd.Timedelta(hours=10), 3, "smoke")
    assert [int((h - START) / pd.Timedelta(hours=1)) for h in plan.hours if plan.retrains_at(h)] == [3, 6, 9]


def test_simulate_forecasts_every_hour_monitors_and_reports_wape_beside_backtest(
    tmp_path: Path, registry: ModelRegistry, arriving: pd.DataFrame
) -> None:
    store = _store_before_window(tmp_path / "feature_store")
    retrained: list[pd.Timestamp] = []

    summary = _run(store, registry, tmp_path / "state.json", _ingest(store, arriving), retrained)

    predictions = store.read(PREDICTIONS)
    assert predictions.groupby("forecast_made_at").size().to_dict() == {h: 76 * 24 for h in PLAN.hours}
    hourly = store.read(MONITORING_HOURLY)
    assert list(hourly["datetime_utc"]) == list(PLAN.hours[1:])  # every hour with actuals, after the first forecast
    assert (hourly["count"] > 0).all()
    assert retrained == [START + pd.Timedelta(hours=3)]
    champion = summary["champion"]
    assert isinstance(champion, dict) and champion["backtest_wape"] == pytest.approx(0.05)
    assert champion["simulated_wape"] == pytest.approx(summary["window_wape"])
    state = read_state(tmp_path / "state.json")
    assert state is not None and state.finished and state.completed_through == "2023-01-23T03:00Z"


def test_an_interrupted_simulation_resumes_and_ends_with_the_same_rows(
    tmp_path: Path, registry: ModelRegistry, arriving: pd.DataFrame
) -> None:
    straight = _store_before_window(tmp_path / "a" / "feature_store")
    _run(straight, registry, tmp_path / "a" / "state.json", _ingest(straight, arriving), [])

    resumed = _store_before_window(tmp_path / "b" / "feature_store")
    state_path = tmp_path / "b" / "state.json"
    retrained: list[pd.Timestamp] = []
    with pytest.raises(KeyboardInterrupt):
        _run(resumed, registry, state_path, _ingest(resumed, arriving, stop_at=START + pd.Timedelta(hours=2)),
             retrained)
    saved = read_state(state_path)
    # hour 1 (00:00) was predicted, but its monitor ran beside hour 2's ingest when Ctrl-C came:
    # an hour is done once its monitor has joined, so the resumed run starts again at hour 1
    assert saved is not None and saved.completed_through == "2023-01-22T23:00Z" and not saved.finished
    _run(resumed, registry, state_path, _ingest(resumed, arriving), retrained)

    first, second = _tables(straight), _tables(resumed)
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, second[name], obj=name)
    assert retrained == [START + pd.Timedelta(hours=3)]
    assert json.loads(state_path.read_text())["finished"] is True


def test_the_progress_report_says_hour_k_of_n_with_an_eta_while_the_simulation_runs(
    tmp_path: Path, registry: ModelRegistry, arriving: pd.DataFrame
) -> None:
    """What app-api's /simulation serves to the monitoring page (the clock is fixed by the test)."""
    store = _store_before_window(tmp_path / "feature_store")
    state_path = tmp_path / "state.json"
    seen: list[tuple[int, int, bool] | None] = []
    now = pd.Timestamp("2024-05-01T12:00Z").to_pydatetime()

    def look_then_tell_the_time() -> datetime:  # called as each hour's progress is about to be saved
        state = read_state(state_path)
        seen.append(None if state is None else (state.hours_done, state.hours_total, state.eta is not None))
        return now

    simulate(store, registry, PLAN, state_path, BatchSettings(), AlertSettings(), ingest=_ingest(store, arriving),
             retrain=lambda hour, adopt_at: None, progress=False, clock=look_then_tell_the_time)  # fmt: skip

    # while hour k runs, k-1 are done; the pace (hence the ETA) is known after the first hour
    assert seen == [None, (0, 5, False), (1, 5, True), (2, 5, True), (3, 5, True), (4, 5, True)]
    final = read_state(state_path)
    assert final is not None and (final.hours_done, final.hours_total, final.finished) == (5, 5, True)
    assert final.updated_at == "2024-05-01T12:00:00Z" and final.eta == "2024-05-01T12:00:00Z"  # nothing left
    assert final.seconds_per_hour is not None and final.seconds_per_hour > 0


def test_predicting_and_monitoring_side_by_side_writes_the_rows_of_one_after_the_other(
    tmp_path: Path, registry: ModelRegistry, arriving: pd.DataFrame
) -> None:
    """simulate runs monitor H on a second thread while predict H runs; nothing either writes may
    depend on that, so a plain predict-then-monitor loop must end with identical tables."""
    side_by_side = _store_before_window(tmp_path / "a" / "feature_store")
    _run(side_by_side, registry, tmp_path / "a" / "state.json", _ingest(side_by_side, arriving), [])

    in_turn = _store_before_window(tmp_path / "b" / "feature_store")
    ingest, champion = _ingest(in_turn, arriving), load_champion(registry)
    for hour in PLAN.hours:
        ingest(hour)
        predict(in_turn, champion, hour, BatchSettings())
        monitor(in_turn, champion.info, hour, BatchSettings(), AlertSettings(), None, {})

    first, second = _tables(side_by_side), _tables(in_turn)
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, second[name], obj=name)


def test_a_retrain_lag_outside_one_to_the_retrain_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="--retrain-lag must be 1"):
        SimulationPlan(START, START + pd.Timedelta(hours=10), 3, "smoke", retrain_lag_hours=4)
    with pytest.raises(ValueError, match="--retrain-lag must be 1"):
        SimulationPlan(START, START + pd.Timedelta(hours=10), 3, "smoke", retrain_lag_hours=0)
    assert SimulationPlan(START, START + pd.Timedelta(hours=10), 3, "smoke", 2).adopt_at(START) == START + pd.Timedelta(
        hours=2
    )


def test_a_retrain_behind_the_hours_serves_from_its_lag_whenever_it_finishes(
    tmp_path: Path, stack: Stack, registry: ModelRegistry, arriving: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retrain running behind the hours (a Future) that promotes its model at once, as a fast
    training would: the hours before its `adopt_at` must still be forecast by the old champion, the
    simulation must wait for it before predicting as of `adopt_at` and serve the new champion from
    then on, and the saved progress must not pass the retrain hour while it runs (a resumed run
    retrains again). The 'retrain' registers a copy of the seasonal-naive champion and promotes it;
    the session's champion alias is restored afterwards."""
    from concurrent.futures import Future

    from energy_core.lifecycle import current_champion
    from energy_core.registry import CHAMPION

    from .batch_support import register_naive24

    store = _store_before_window(tmp_path / "feature_store")
    state_path = tmp_path / "state.json"
    plan = SimulationPlan(START, START + pd.Timedelta(hours=5), retrain_every_hours=2, profile="smoke",
                          retrain_lag_hours=2)  # fmt: skip
    old = current_champion(registry)
    assert old is not None
    calls: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    running: Future[None] = Future()
    saved: list[str | None] = []  # before the run, then as each hour ends: what the previous ones saved
    promoted: list[int] = []

    def retrain(hour: pd.Timestamp, adopt_at: pd.Timestamp) -> Future[None] | None:
        calls.append((hour, adopt_at))
        if len(calls) > 1:
            return None  # the second retrain (hour 4) is done when it returns
        monkeypatch.setenv("MLFLOW_TRACKING_URI", stack.registry_settings.resolved_tracking_uri)
        promoted.append(register_naive24(registry, store))  # the alias moves now, before adopt_at
        return running

    def progress_then_time() -> datetime:  # called as each hour's progress is about to be saved
        state = read_state(state_path)
        saved.append(state.completed_through if state else None)
        return datetime.now(UTC)

    def ingest(hour: pd.Timestamp) -> None:
        if hour == START + pd.Timedelta(hours=4):
            assert not running.done()  # nothing joined it yet
            running.set_result(None)  # the retrain ends during the ingest of its adopt_at hour
        store.insert(ENERGY_CONSUMPTION, arriving[arriving["datetime_utc"] == hour])

    try:
        simulate(store, registry, plan, state_path, BatchSettings(), AlertSettings(), ingest=ingest,
                 retrain=retrain, progress=False, clock=progress_then_time)  # fmt: skip
    finally:
        registry.set_alias(CHAMPION, old.version)

    hours = list(plan.hours)
    assert calls == [(hours[2], hours[4]), (hours[4], hours[4] + pd.Timedelta(hours=2))]
    made_by = store.read(PREDICTIONS).groupby("forecast_made_at")["model_version"].unique()
    assert {h: [int(v) for v in versions] for h, versions in made_by.items()} == {
        **{h: [old.version] for h in hours[:4]},
        hours[4]: promoted,
    }
    # when hour 2 ends the saved progress is hour 0 (hour 1's monitor ran beside hour 2's ingest and was
    # joined before monitor 2 started, but hour 1's save came first); while the retrain as of hour 2 ran
    # (hours 2 and 3), it stayed at hour 1, though hours 2 and 3 were monitored meanwhile
    assert saved[3:] == ["2023-01-22T23:00Z", "2023-01-23T00:00Z", "2023-01-23T00:00Z"]
    final = read_state(state_path)
    assert final is not None and final.finished and final.completed_through == "2023-01-23T03:00Z"


def test_monitor_in_its_own_worker_process_writes_the_rows_of_the_in_process_monitor(
    energy_env: Path, registry: ModelRegistry, arriving: pd.DataFrame, tmp_path: Path
) -> None:
    """`simulate` (the CLI) runs monitor H in a real `batch-prediction-pipeline worker` child on this
    test's ENERGY_HOME, beside predict H in this process; the tables must equal the in-process run's."""
    shutil.rmtree(energy_env / "feature_store")
    elsewhere = _store_before_window(energy_env / "feature_store")
    with MonitorWorker(tmp_path / "monitor-worker.log", env=child_environment(1)) as worker:  # as the CLI runs it
        simulate(elsewhere, registry, PLAN, tmp_path / "state-a.json", BatchSettings(), AlertSettings(),
                 ingest=_ingest(elsewhere, arriving), retrain=lambda hour, adopt_at: None, progress=False,
                 monitor_step=lambda hour, info, pins: worker.monitor(hour, info.version, pins))  # fmt: skip
    worker_log = (tmp_path / "monitor-worker.log").read_text()
    assert "worker stopping after 5 request(s)" in worker_log  # it did monitor
    assert "worker capped at 1 thread(s) per data library (ENERGY_THREADS)" in worker_log
    in_process = _store_before_window(tmp_path / "b" / "feature_store")
    _run(in_process, registry, tmp_path / "state-b.json", _ingest(in_process, arriving), [])

    first, second = _tables(elsewhere), _tables(in_process)
    assert len(first[MONITORING.name]) > 0
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, second[name], obj=name)


def _next_ingest_revises_hour(
    tmp_path: Path, arriving: pd.DataFrame, hour: pd.Timestamp, names: tuple[str, str], champion: Champion | None = None
) -> tuple[dict[str, EmbeddedFeatureStore], dict[str, int], pd.DataFrame]:
    """Two stores ingested through `hour` (predicting each hour when a champion is given); then the
    first gets hour + 1's ingest, which also revises one leaf's actual at `hour` (× 1.5). Returns
    the stores, the first's versions before that ingest, and the revised leaf's row."""
    stores = {}
    for name in names:
        store = stores[name] = _store_before_window(tmp_path / name / "feature_store")
        ingest = _ingest(store, arriving)
        for h in PLAN.hours[PLAN.hours <= hour]:
            ingest(h)
            if champion is not None:
                predict(store, champion, h, BatchSettings())
    pins = ingested_versions(stores[names[0]])
    revised = arriving[arriving["datetime_utc"].between(hour, hour + pd.Timedelta(hours=1))].copy()
    first_leaf = revised.index == revised.index[revised["datetime_utc"] == hour][0]
    revised.loc[first_leaf, "energy_consumption_kwh"] *= 1.5
    stores[names[0]].insert(ENERGY_CONSUMPTION, revised)  # hour + 1's ingest
    return stores, pins, revised.loc[first_leaf]


def test_monitor_pinned_to_its_hours_ingest_ignores_what_the_next_ingest_revises(
    tmp_path: Path, registry: ModelRegistry, arriving: pd.DataFrame
) -> None:
    """simulate monitors hour H while H + 1 is ingested: pinned to the versions H's ingest left, a
    revision of H's actual that H + 1's ingest brings must not reach monitor H's rows or checks.
    Unpinned, the same monitor does see it (so the comparison can fail)."""
    champion, hour = load_champion(registry), START + pd.Timedelta(hours=2)
    stores, pins, leaf = _next_ingest_revises_hour(tmp_path, arriving, hour, ("revised", "alone"), champion)
    assert set(pins) >= {ENERGY_CONSUMPTION.table_name}

    monitor(stores["revised"], champion.info, hour, BatchSettings(), AlertSettings(), None, {}, table_versions=pins)
    monitor(stores["alone"], champion.info, hour, BatchSettings(), AlertSettings(), None, {})
    first, second = _tables(stores["revised"]), _tables(stores["alone"])
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, second[name], obj=name)

    monitor(stores["revised"], champion.info, hour, BatchSettings(), AlertSettings(), None, {})  # unpinned
    area, consumer = leaf[["area", "consumer_type"]].iloc[0]
    rows = stores["revised"].read(MONITORING, filters={"area": area, "consumer_type": consumer})
    seen = rows.loc[rows["datetime_utc"] == hour, "actual_kwh"].unique()
    assert list(seen) == pytest.approx(list(leaf["energy_consumption_kwh"]))


def test_predict_pinned_to_its_hours_ingest_ignores_what_the_next_ingest_brings(
    tmp_path: Path, registry: ModelRegistry, arriving: pd.DataFrame
) -> None:
    """simulate predicts hour H while H + 1 is ingested: pinned to the versions H's ingest left, what
    H + 1's ingest brings (its new hour, a revision of H's actual) must not reach predict H's rows,
    even through a store instance that never saw those versions as the latest (the simulation's
    process when the feature worker commits first). Unpinned, predict H does see the revision (so
    the comparison can fail)."""
    champion, hour = load_champion(registry), START + pd.Timedelta(hours=2)
    stores, pins, leaf = _next_ingest_revises_hour(tmp_path, arriving, hour, ("ahead", "alone"))

    fresh = EmbeddedFeatureStore(tmp_path / "ahead" / "feature_store")  # nothing of the store in its memory
    predict(fresh, champion, hour, BatchSettings(), table_versions=pins)
    predict(stores["alone"], champion, hour, BatchSettings())
    pinned, alone = fresh.read(PREDICTIONS), stores["alone"].read(PREDICTIONS)
    pd.testing.assert_frame_equal(pinned.reset_index(drop=True), alone.reset_index(drop=True))

    predict(stores["ahead"], champion, hour, BatchSettings())  # unpinned: reads the revision
    area, consumer = leaf[["area", "consumer_type"]].iloc[0]
    now = stores["ahead"].read(PREDICTIONS, filters={"area": area, "consumer_type": consumer})
    before = alone[(alone["area"] == area) & (alone["consumer_type"] == consumer)]
    assert not np.allclose(now["prediction_kwh"].to_numpy(), before["prediction_kwh"].to_numpy())


def test_the_monitor_lane_runs_one_hour_at_a_time_and_reraises_its_failure_at_join(tmp_path: Path) -> None:
    """simulate's lane: a second hour may not queue behind one in flight, a failed monitor stops
    the caller at the join (not silently later), and only a joined hour counts as done."""
    calls: list[pd.Timestamp] = []

    def step(hour: pd.Timestamp, champion: object, versions: dict[str, int]) -> None:
        calls.append(hour)
        if hour == START + pd.Timedelta(hours=1):
            raise RuntimeError("monitor worker said: FeatureStoreError")

    store = EmbeddedFeatureStore(tmp_path / "feature_store")
    info = ModelVersionInfo.__new__(ModelVersionInfo)  # the step never looks at it
    with MonitorLane(store, BatchSettings(), AlertSettings(), None, {}, step) as lane:
        lane.start(START, info, {})
        with pytest.raises(RuntimeError, match="still in flight"):
            lane.start(START + pd.Timedelta(hours=1), info, {})
        lane.join()
        assert lane.done_through == START
        lane.start(START + pd.Timedelta(hours=1), info, {})
        with pytest.raises(RuntimeError, match="FeatureStoreError"):
            lane.join()
        assert lane.done_through == START
        lane.join()  # nothing in flight: a no-op
    assert calls == [START, START + pd.Timedelta(hours=1)]


def test_hours_ingested_while_a_retrain_runs_are_read_at_their_own_versions_and_resume_so(
    tmp_path: Path, registry: ModelRegistry
) -> None:
    """While simulate waits for a retrain (at its adopt_at hour) it ingests the following hours, up
    to but not including the next retrain hour. Every ingest here also revises the previous hour's
    actual (× 1.5), so an hour read at a later version would differ: each table must equal that of a
    run whose retrains return at once (nothing ingested ahead). A run killed after the hours ingested
    ahead resumes from their saved versions, without ingesting them again, to the same rows."""
    from concurrent.futures import Future

    from .batch_support import consumption

    arriving = consumption(START, 9)
    hour_n = [START + pd.Timedelta(hours=k) for k in range(9)]
    plan = SimulationPlan(START, START + pd.Timedelta(hours=9), retrain_every_hours=4, profile="smoke",
                          retrain_lag_hours=1)  # fmt: skip  # retrains as of hours 4 and 8, serving from 5 and 9

    def revising(store: FeatureStore, log: list[pd.Timestamp], done_by: dict[pd.Timestamp, Future[None]],
                 stop_at: pd.Timestamp | None = None) -> Callable[[pd.Timestamp], None]:  # fmt: skip
        def ingest(hour: pd.Timestamp) -> None:
            if hour == stop_at:
                raise KeyboardInterrupt("operator pressed Ctrl-C")
            log.append(hour)
            previous = arriving[arriving["datetime_utc"] == hour - pd.Timedelta(hours=1)]
            revised = previous.assign(energy_consumption_kwh=previous["energy_consumption_kwh"] * 1.5)
            store.insert(ENERGY_CONSUMPTION, pd.concat([arriving[arriving["datetime_utc"] == hour], revised]))
            if hour in done_by:
                done_by.pop(hour).set_result(None)  # the retrain ends while this hour is ingested

        return ingest

    def run(name: str, slow_retrain: bool, stop_at: pd.Timestamp | None = None,
            seen: list[list[str]] | None = None) -> tuple[EmbeddedFeatureStore, list[pd.Timestamp]]:  # fmt: skip
        store = _store_before_window(tmp_path / name / "feature_store")
        log: list[pd.Timestamp] = []
        done_by: dict[pd.Timestamp, Future[None]] = {}

        def retrain(hour: pd.Timestamp, adopt_at: pd.Timestamp) -> Future[None] | None:
            if not slow_retrain or hour != hour_n[4]:
                return None
            done_by[hour_n[7]] = running = Future()  # still running after hour 6 has been ingested ahead
            return running

        def clock() -> datetime:
            state = read_state(tmp_path / name / "state.json")
            if seen is not None and state is not None:
                seen.append(sorted(state.ingested))
            return datetime.now(UTC)

        for attempt in (stop_at, None) if stop_at is not None else (None,):
            try:
                simulate(store, registry, plan, tmp_path / name / "state.json", BatchSettings(), AlertSettings(),
                         ingest=revising(store, log, done_by, attempt), retrain=retrain, progress=False,
                         clock=clock)  # fmt: skip
            except KeyboardInterrupt:
                saved = read_state(tmp_path / name / "state.json")
                assert saved is not None and saved.ingested, "the hours ingested ahead are in the saved state"
        return store, log

    straight, straight_log = run("straight", slow_retrain=False)
    seen: list[list[str]] = []
    ahead, ahead_log = run("ahead", slow_retrain=True, seen=seen)
    assert straight_log == ahead_log == hour_n  # each hour ingested once, in order
    assert any({iso(hour_n[6]), iso(hour_n[7])} <= set(keys) for keys in seen)  # ingested ahead, saved
    assert not any(iso(hour_n[8]) in keys for keys in seen)  # never the next retrain hour
    resumed, resumed_log = run("resumed", slow_retrain=True, stop_at=hour_n[8])
    assert resumed_log == hour_n  # the resumed run read hours ingested ahead at their saved versions

    expected = _tables(straight)
    assert len(expected[MONITORING.name]) > 0
    for store in (ahead, resumed):
        for name, frame in _tables(store).items():
            pd.testing.assert_frame_equal(frame, expected[name], obj=name)
    final = read_state(tmp_path / "resumed" / "state.json")
    assert final is not None and final.finished and final.ingested == {}
