"""`simulate`: walk the as-of clock hour by hour, as an operator would have lived through it.

For each hour H of [start, end): ingest H (feature pipeline), predict as of H, monitor as of H and,
every `retrain_every` hours after the start, retrain as of H (training pipeline, whose gate decides
promotion). No step is handed anything from after H, so the monitoring history is what would have
been seen live. Progress is saved after every hour; a rerun resumes at the first incomplete hour
and, because every step is an idempotent upsert, ends with the same rows as an uninterrupted run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from energy_batch.aggregates import wape
from energy_batch.champion import ChampionCache, champion_info
from energy_batch.console_scripts import iso
from energy_batch.exceptions import NoDataAtAsOf
from energy_batch.forecast_errors import leaf_rows
from energy_batch.health_checks import ReferenceCache
from energy_batch.pipeline import AlertPoster, monitor, predict
from energy_batch.settings import BatchSettings
from energy_batch.simulation_state import SimulationState, read_state, write_state
from energy_core.feature_store import FeatureStore
from energy_core.registry import ModelNotFound, ModelRegistry
from energy_core.schemas import MONITORING
from energy_core.settings import AlertSettings

log = logging.getLogger(__name__)

HourStep = Callable[[pd.Timestamp], None]


@dataclass(frozen=True)
class SimulationPlan:
    start: pd.Timestamp
    end: pd.Timestamp  # exclusive
    retrain_every_hours: int
    profile: str

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"simulate needs start < end; got {self.start} … {self.end}")
        if self.retrain_every_hours <= 0:
            raise ValueError(f"--retrain-every must be positive hours; got {self.retrain_every_hours}")

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
    retrain: HourStep,
    post_alert: AlertPoster | None = None,
    progress: bool = True,
    predict_report_path: Path | None = None,
) -> dict[str, Any]:
    """Run (or resume) the window; return the summary of simulated against backtest WAPE.
    `predict_report_path` receives each hour's per-series predict report (what `status` shows)."""
    registry.check()
    champion_info(registry)  # fail before the first hour, not after an ingest, if nothing is trained
    state = resume_or_start(read_state(state_path), plan)
    champions = ChampionCache(registry)
    references: ReferenceCache = {}
    todo = [h for h in plan.hours if h >= state.next_hour()]
    with tqdm(total=len(plan.hours), initial=len(plan.hours) - len(todo), unit="h", desc="simulate",
              disable=not progress) as bar:
        for hour in todo:
            bar.set_postfix_str(iso(hour))
            ingest(hour)
            champion = champions.current()
            try:
                predict(store, champion, hour, settings, predict_report_path)
            except NoDataAtAsOf as exc:  # a missing hour: no forecast from it, monitoring marks it
                log.warning("no forecast as of %s: %s", iso(hour), exc)
            monitor(store, champion.info, hour, settings, thresholds, post_alert, references)
            if plan.retrains_at(hour):
                retrain(hour)
            state = replace(state, completed_through=iso(hour))
            write_state(state_path, state)
            bar.update(1)
    summary = simulated_vs_backtest(store, registry, plan)
    write_state(state_path, replace(state, finished=True, summary=summary))
    return summary


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
