"""`simulate`: walk the as-of clock hour by hour, as an operator would have lived through it.

For each hour H of [start, end): ingest H (feature pipeline), predict as of H, monitor as of H and,
every `retrain_every` hours after the start, retrain as of H (training pipeline, whose gate decides
promotion). No step is handed anything from after H, so the monitoring history is what would have
been seen live. Progress is saved after every hour; a rerun resumes at the first incomplete hour
and, because every step is an idempotent upsert, ends with the same rows as an uninterrupted run.

Monitor runs one hour behind, beside the next hour: monitor H starts once H is ingested, runs while
H is predicted and H + 1 ingested, and is joined before monitor H + 1 starts (`MonitorLane`). It
reads the feature tables at the versions H's ingest left (`ingested_versions`), and predict writes
only target hours after its as-of hour, so its rows are those of a monitor run after predict H
with nothing else running; an hour counts as done (saved progress) once its monitor has joined.

Ingest runs one hour ahead, beside predict: ingest H + 1 starts (on a thread of this process that
waits for the feature worker) once H's monitor has started and its retrain, if any, has pinned its
training data, and predict H reads the feature tables at the same versions as monitor H. So
predict H sees nothing of H + 1, whatever the two processes' timing, and its rows are those of a
predict run between ingest H and ingest H + 1; ingest H + 1 is joined before anything reads H + 1.
Why both: on two cores the three hourly processes (ingest, predict, monitor) then share the
cores instead of ingest and predict taking turns (docs/performance.md).

A retrain as of H serves from the hour H + `retrain_lag_hours` (1 by default: the next hour). With a
longer lag the training runs behind the following hours: its data are pinned before the next hour
is ingested, the hours until H + lag keep the champion they had (the registry's alias is not read
while a retrain is in flight), and the simulation waits for the retrain before predicting as of
H + lag. So which model forecasts which hour depends on the plan, never on how fast the machine
trains, and the lifecycle records the promotion at H + lag, when it starts to serve. The saved
progress does not pass H while that retrain is in flight, so a resumed run retrains H again.

While the simulation waits for such a retrain (at H + lag), one core would idle: so it ingests the
following hours meanwhile, one at a time until the retrain is done, never reaching the next
retrain hour (whose training must read the store as that hour's ingest leaves it). Each of these
hours keeps the table versions its own ingest left (saved in the state at once, so a resumed run
reads them at the same versions); predict and monitor read them there when their turn comes, so
their rows are those of the hour-by-hour run. The only visible difference: while it catches up,
the store (and the pages) already hold actuals of those few hours ahead of the simulated clock.

The steps of other services arrive as callables (`ingest`, `retrain`): the CLI passes a warm
`feature-pipeline worker` for ingestion and a warm `training-pipeline worker` for the retrains
(`service_workers`), so this module imports neither service.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from energy_batch.aggregates import wape
from energy_batch.champion import Champion, ChampionCache, champion_info
from energy_batch.console_scripts import iso
from energy_batch.exceptions import NoDataAtAsOf
from energy_batch.forecast_errors import StoredScores, leaf_rows
from energy_batch.health_checks import ReferenceCache
from energy_batch.pipeline import AlertPoster, ingested_versions, monitor, predict
from energy_batch.settings import BatchSettings
from energy_batch.simulation_state import SimulationState, read_state, with_progress, write_state
from energy_core.feature_store import FeatureStore
from energy_core.registry import ModelNotFound, ModelRegistry, ModelVersionInfo
from energy_core.schemas import MONITORING
from energy_core.settings import AlertSettings

log = logging.getLogger(__name__)

HourStep = Callable[[pd.Timestamp], None]
# retrain(as_of, adopt_at): retrain as of `as_of` for the model to serve from the hour `adopt_at`
# (the lifecycle's clock). None: done when it returns. A Future: it runs on, its training data
# already fixed when retrain returns; the simulation waits for it before predicting as of adopt_at.
RetrainStep = Callable[[pd.Timestamp, pd.Timestamp], "Future[Any] | None"]
# monitor_step(as_of, champion, table_versions): monitor as of `as_of` for the champion that
# forecast the hour, reading the feature tables at `table_versions`, elsewhere (the CLI: this
# service's own `worker` process, so it runs beside predict and ingest on the second core).
# None: monitor in this process, on a thread.
MonitorStep = Callable[[pd.Timestamp, ModelVersionInfo, dict[str, int]], Any]


@dataclass(frozen=True)
class SimulationPlan:
    start: pd.Timestamp
    end: pd.Timestamp  # exclusive
    retrain_every_hours: int
    profile: str
    retrain_lag_hours: int = 1

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"simulate needs start < end; got {self.start} … {self.end}")
        if self.retrain_every_hours <= 0:
            raise ValueError(f"--retrain-every must be positive hours; got {self.retrain_every_hours}")
        if not 1 <= self.retrain_lag_hours <= self.retrain_every_hours:
            raise ValueError(
                f"--retrain-lag must be 1 … --retrain-every ({self.retrain_every_hours}) hours, so one retrain "
                f"serves before the next starts; got {self.retrain_lag_hours}"
            )

    def adopt_at(self, hour: pd.Timestamp) -> pd.Timestamp:
        """The first as-of hour whose forecast may come from the retrain as of `hour`."""
        return hour + pd.Timedelta(hours=self.retrain_lag_hours)

    @property
    def hours(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, self.end, freq="h", inclusive="left")

    def retrains_at(self, hour: pd.Timestamp) -> bool:
        """Retrain every `retrain_every_hours` after the start (the start itself runs the model
        trained just before the window)."""
        offset = int((hour - self.start) / pd.Timedelta(hours=1))
        return offset > 0 and offset % self.retrain_every_hours == 0

    def initial_state(self) -> SimulationState:
        return SimulationState(iso(self.start), iso(self.end), self.retrain_every_hours, self.profile)


def parse_every(text: str) -> int:
    """`24h`, `24` or `2d` → hours."""
    raw = text.strip().lower()
    try:
        if raw.endswith("d"):
            return int(raw[:-1]) * 24
        return int(raw.removesuffix("h"))
    except ValueError as exc:
        raise ValueError(f"--retrain-every {text!r}: expected hours such as 24h, 6h or days such as 2d") from exc


def simulate(
    store: FeatureStore,
    registry: ModelRegistry,
    plan: SimulationPlan,
    state_path: Path,
    settings: BatchSettings,
    thresholds: AlertSettings,
    ingest: HourStep,
    retrain: RetrainStep,
    post_alert: AlertPoster | None = None,
    progress: bool = True,
    predict_report_path: Path | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    monitor_step: MonitorStep | None = None,
) -> dict[str, Any]:
    """Run (or resume) the window; return the summary of simulated against backtest WAPE.
    `predict_report_path` receives each hour's per-series predict report (what `status` shows);
    `clock` stamps the progress report (`updated_at`, `eta`); `monitor_step` replaces the
    in-process monitor (`post_alert` is then the step's business)."""
    registry.check()
    champion_info(registry)  # fail before the first hour, not after an ingest, if nothing is trained
    state = resume_or_start(read_state(state_path), plan)
    champions = ChampionCache(registry)
    references: ReferenceCache = {}
    todo = [h for h in plan.hours if h >= state.next_hour()]
    # hours already ingested, with the versions their ingest left (ingested ahead during a retrain)
    pins: dict[pd.Timestamp, dict[str, int]] = {
        pd.Timestamp(h): v for h, v in state.ingested.items() if pd.Timestamp(h) >= state.next_hour()
    }
    total, done_before = len(plan.hours), len(plan.hours) - len(todo)
    state = with_progress(state, total, done_before, state.seconds_per_hour, clock())
    write_state(state_path, state)  # the pages see "running, k of n" before the first hour ends
    started = time.perf_counter()
    with (
        MonitorLane(store, settings, thresholds, post_alert, references, monitor_step) as lane,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest") as ingest_lane,  # exit waits for it
        tqdm(total=total, initial=done_before, unit="h", desc="simulate", disable=not progress) as bar,
    ):
        pending: tuple[pd.Timestamp, pd.Timestamp, Future[Any]] | None = None  # as of, adopt at, run
        champion: Champion | None = None
        ingesting: Future[None] | None = None  # this hour's ingest, started beside the previous predict
        for done_now, hour in enumerate(todo, start=1):
            bar.set_postfix_str(iso(hour))
            if hour in pins:  # ingested ahead, while a retrain ran
                versions = pins[hour]
            else:
                if ingesting is None:
                    ingest(hour)
                else:
                    ingesting.result()  # its failure stops here, before anything reads the hour
                versions = pins[hour] = ingested_versions(store)
            lane.join()  # the previous hour's monitor ran beside this ingest; its failure stops here
            if pending is not None and hour >= pending[1]:
                write_state(state_path, replace(state, ingested=_saved(pins)))  # this hour's versions, too
                _finish(pending, _ingest_ahead(todo[done_now:], plan, pins, ingest, store, state_path, state))
                pending = None
            if pending is None or champion is None:
                champion = champions.current()
            lane.start(hour, champion.info, versions)
            if plan.retrains_at(hour):  # before the next ingest starts: its training data are this hour's
                running = retrain(hour, plan.adopt_at(hour))
                pending = (hour, plan.adopt_at(hour), running) if running is not None else None
            following = todo[done_now:done_now + 1]  # none at the end; nothing to start if ingested ahead
            ingesting = ingest_lane.submit(ingest, following[0]) if following and following[0] not in pins else None
            predict_hour(store, champion, hour, settings, predict_report_path, versions)
            if lane.done_through is not None:  # a retrain in flight holds the progress before its hour
                behind = pending[0] - pd.Timedelta(hours=1) if pending is not None else lane.done_through
                state = replace(state, completed_through=iso(min(lane.done_through, behind)))
            done_through = pd.Timestamp(state.completed_through) if state.completed_through else None
            pins = {h: v for h, v in pins.items() if done_through is None or h > done_through}
            pace = (time.perf_counter() - started) / done_now
            state = with_progress(replace(state, ingested=_saved(pins)), total, done_before + done_now, pace, clock())
            write_state(state_path, state)
            bar.update(1)
        lane.join()
        if pending is not None:
            _finish(pending, lambda: False)  # no hour left to ingest
        state = replace(state, completed_through=iso(todo[-1]), ingested={}) if todo else state
    summary = simulated_vs_backtest(store, registry, plan)
    write_state(state_path, replace(state, finished=True, summary=summary))
    return summary


def _finish(pending: tuple[pd.Timestamp, pd.Timestamp, Future[Any]], ingest_ahead: Callable[[], bool]) -> None:
    """Wait for a retrain that ran behind the hours, ingesting the following hours meanwhile
    (`ingest_ahead`, one hour per call, False when none may be); its failure stops the simulation."""
    as_of, adopt_at, running = pending
    waited, ahead = time.perf_counter(), 0
    while not running.done() and ingest_ahead():
        ahead += 1
    running.result()
    log.info("retrain as of %s joined before %s (waited %.1f s, %d hour(s) ingested ahead meanwhile)", iso(as_of),
             iso(adopt_at), time.perf_counter() - waited, ahead)  # fmt: skip


def _ingest_ahead(
    following: list[pd.Timestamp],
    plan: SimulationPlan,
    pins: dict[pd.Timestamp, dict[str, int]],
    ingest: HourStep,
    store: FeatureStore,
    state_path: Path,
    state: SimulationState,
) -> Callable[[], bool]:
    """A step that ingests the first of the `following` hours not yet ingested, records the versions
    its ingest left in `pins` and in the saved state (before anything reads the hour), and says
    whether it did: never a retrain hour or anything after one, nor past the end."""

    def one_more() -> bool:
        for hour in following:
            if plan.retrains_at(hour):
                return False
            if hour not in pins:
                ingest(hour)
                pins[hour] = ingested_versions(store)
                write_state(state_path, replace(state, ingested=_saved(pins)))
                return True
        return False

    return one_more


def _saved(pins: dict[pd.Timestamp, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {iso(h): dict(v) for h, v in sorted(pins.items())}


def predict_hour(
    store: FeatureStore,
    champion: Champion,
    hour: pd.Timestamp,
    settings: BatchSettings,
    report_path: Path | None,
    table_versions: dict[str, int] | None = None,
) -> None:
    """Predict as of `hour` (reading the feature tables at `table_versions`); a missing hour
    (NoDataAtAsOf) gives no forecast and is logged (its monitor still runs and marks the hour's
    actuals missing)."""
    try:
        predict(store, champion, hour, settings, report_path, table_versions)
    except NoDataAtAsOf as exc:
        log.warning("no forecast as of %s: %s", iso(hour), exc)


class MonitorLane:
    """Monitor, one hour at a time, on a thread of its own (which with a `monitor_step` only waits
    for the worker process's reply), running beside whatever the caller does next.

    Why it may run beside the next hour: monitor as of H scores forecasts whose target hour is at
    most H and reads the feature tables at `table_versions` (`ingested_versions` after H's
    ingest), while predict writes only target hours after its as-of hour and ingest only new table
    versions; so its rows are those of a monitor run alone. `join` waits for the hour in flight
    (re-raising its failure); `start` refuses to queue a second hour behind it. In process (no
    `monitor_step`) the thread shares the GIL, so only a worker process gets the second core.
    """

    def __init__(
        self,
        store: FeatureStore,
        settings: BatchSettings,
        thresholds: AlertSettings,
        post_alert: AlertPoster | None,
        references: ReferenceCache,
        monitor_step: MonitorStep | None = None,
    ) -> None:
        self._store, self._settings, self._thresholds = store, settings, thresholds
        self._post_alert, self._references, self._step = post_alert, references, monitor_step
        self._scores = StoredScores()  # the in-process monitor's last rows (the worker keeps its own)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor")
        self._in_flight: tuple[pd.Timestamp, Future[Any]] | None = None
        self.done_through: pd.Timestamp | None = None  # the latest hour whose monitor has joined

    def start(self, hour: pd.Timestamp, champion: ModelVersionInfo, table_versions: dict[str, int]) -> None:
        if self._in_flight is not None:
            raise RuntimeError(f"monitor as of {iso(self._in_flight[0])} is still in flight; join it first")
        if self._step is not None:
            future = self._thread.submit(self._step, hour, champion, table_versions)
        else:
            future = self._thread.submit(monitor, self._store, champion, hour, self._settings, self._thresholds,
                                         self._post_alert, self._references, table_versions, self._scores)  # fmt: skip
        self._in_flight = (hour, future)

    def join(self) -> None:
        if self._in_flight is None:
            return
        hour, future = self._in_flight
        self._in_flight = None
        future.result()
        self.done_through = hour

    def __enter__(self) -> MonitorLane:
        return self

    def __exit__(self, *exc: object) -> None:
        # never leave a write running behind an error or a Ctrl-C (its outcome is the caller's
        # error's business: the hour is not saved as done, a resumed run monitors it again)
        if self._in_flight is not None:
            wait([self._in_flight[1]])
            self._in_flight = None
        self._thread.shutdown(wait=True)


def resume_or_start(saved: SimulationState | None, plan: SimulationPlan) -> SimulationState:
    """The saved progress when it is for this window, else a fresh start (logged)."""
    fresh = plan.initial_state()
    if saved is None:
        return fresh
    if not saved.same_window(fresh):
        log.info("saved simulation is for %s … %s; starting %s … %s over", saved.start, saved.end, fresh.start,
                 fresh.end)
        return fresh
    if saved.completed_through:
        log.info("resuming simulation after %s", saved.completed_through)
    return replace(saved, profile=plan.profile)


def simulated_vs_backtest(store: FeatureStore, registry: ModelRegistry, plan: SimulationPlan) -> dict[str, Any]:
    """WAPE of the forecasts made inside the window, overall and per model version, beside each
    version's backtest WAPE, and the same pair for the champion at the end (leaf series only, as
    the backtest scores them)."""
    empty: dict[str, Any] = {"window_wape": None, "monitored_forecasts": 0, "versions": []}
    if not store.exists(MONITORING):
        return empty
    rows = leaf_rows(store.read(MONITORING, start=plan.start.to_pydatetime(), end=plan.end.to_pydatetime()))
    rows = rows[rows["forecast_made_at"] >= plan.start]
    if rows.empty:
        return empty
    versions = []
    for version in sorted(int(v) for v in rows["model_version"].unique()):
        part = rows[rows["model_version"] == version]
        try:
            backtest = registry.get(version=version).metrics.get("backtest_wape")
        except ModelNotFound:
            backtest = None
        versions.append(
            {
                "model_version": version,
                "simulated_wape": wape(part),
                "backtest_wape": backtest,
                "monitored_forecasts": int((~part["actual_missing"]).sum()),
            }
        )
    final = champion_info(registry)
    mine = rows[rows["model_version"] == final.version]
    return {
        "window_wape": wape(rows),
        "monitored_forecasts": int((~rows["actual_missing"]).sum()),
        "missing_actuals": int(rows["actual_missing"].sum()),
        "versions": versions,
        "champion": {
            "model_version": final.version,
            "model_family": final.model_family,
            "simulated_wape": wape(mine) if not mine.empty else None,
            "backtest_wape": final.metrics.get("backtest_wape"),
        },
    }
