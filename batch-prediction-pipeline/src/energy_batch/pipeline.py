"""The two hourly jobs, as the data-flow diagram draws them.

    predict:  catalogue leaves → route (champion | seasonal_naive_24 cold start | none, reason kept)
              → registry(champion) + feature view(history ≤ T, future spine) → model
              → leaf forecasts + bottom-up parent totals → `predictions` (one insert)
    monitor:  `predictions` ⋈ (`energy_consumption` + `energy_consumption_totals`) → `monitoring`
              → leaf rows only → `monitoring_hourly`, `monitoring_horizon` → drift + error checks
              → `alerts` (→ webhook on a new alert)

Both take the store and the champion as arguments (the CLI opens them), so the simulation reuses
one loaded model for many hours and tests pass their own. Every write is an idempotent upsert on
the group's key: running a job twice for the same as-of time leaves the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from energy_batch.aggregates import horizon_aggregates, hourly_aggregates
from energy_batch.alerts import OVERALL, alert_rows, overall_check
from energy_batch.champion import Champion
from energy_batch.cold_start import seasonal_naive_24
from energy_batch.forecast import check_forecast, run_model, to_predictions
from energy_batch.forecast_errors import StoredScores, changed_since_stored, forecast_errors, leaf_rows
from energy_batch.health_checks import ReferenceCache, ScoredLeaves, run_checks
from energy_batch.model_input import SERIES, model_input, read_history
from energy_batch.model_needs import model_needs
from energy_batch.predict_report import PredictReport, write_report
from energy_batch.series_plan import NAIVE_FAMILY, SeriesNote, plan_series, read_forecast_catalogue
from energy_batch.settings import BatchSettings
from energy_batch.totals import BOTTOM_UP, forecast_totals
from energy_batch.webhook import alert_text
from energy_core.feature_store import FeatureStore
from energy_core.registry import ModelVersionInfo
from energy_core.schemas import (
    ALERTS,
    ENERGY_CONSUMPTION,
    ENERGY_CONSUMPTION_TOTALS,
    ENERGY_FORECASTING_VIEW,
    MONITORING,
    MONITORING_HORIZON,
    MONITORING_HOURLY,
    PREDICTIONS,
    FeatureViewSpec,
)
from energy_core.schemas import SERIES as SERIES_GROUP
from energy_core.settings import AlertSettings

log = logging.getLogger(__name__)

AlertPoster = Callable[[str], bool]


@dataclass(frozen=True)
class PredictResult:
    as_of: pd.Timestamp
    model_version: int
    series: int  # leaf series forecast (by the champion or the cold-start baseline)
    rows: int  # leaves and parent totals
    rows_changed: int
    table_version: int | None  # None when nothing could be forecast (every series too short)
    series_by_family: dict[str, int] = field(default_factory=dict)
    cold_start: list[SeriesNote] = field(default_factory=list)
    not_forecast: list[SeriesNote] = field(default_factory=list)


@dataclass(frozen=True)
class MonitorResult:
    as_of: pd.Timestamp
    monitored_rows: int  # leaf rows: the counts stay comparable with stores that have no totals
    missing_rows: int
    hours: int
    status: str
    retraining_recommended: bool
    reason: str
    alert_posted: bool
    parent_rows: int = 0  # rows of parent totals, monitored alongside


def predict(
    store: FeatureStore,
    champion: Champion,
    as_of: pd.Timestamp,
    settings: BatchSettings,
    report_path: Path | None = None,
    table_versions: dict[str, int] | None = None,
) -> PredictResult:
    """Forecast the next `horizon_hours` for every catalogue leaf known at `as_of` (champion or
    cold-start baseline) and their parent totals; store them in one insert; report who got what.

    `table_versions` (`ingested_versions` right after the hour's ingest) pins what predict reads of
    the feature pipeline's tables (catalogue, history, the future's features), so the next hour's
    ingest may run beside it and change nothing it sees: `simulate` predicts an hour while the
    next one is ingested. Without it predict reads the latest versions."""
    catalogue = read_forecast_catalogue(store, as_of, table_versions)
    needs = model_needs(store, champion.info)
    history_hours = max(settings.history_hours, needs.history_hours)
    history = read_history(store, as_of, history_hours, table_versions=table_versions)
    plan = plan_series(history, catalogue.leaves_at(as_of), as_of, needs, champion.label)

    leaves: list[pd.DataFrame] = []
    if not plan.model.empty:
        frame = model_input(store, history, plan.model, as_of, settings.horizon_hours, table_versions=table_versions)
        forecast = check_forecast(run_model(champion, frame), plan.model, as_of, settings.horizon_hours)
        leaves.append(to_predictions(forecast, champion, as_of, champion.info.model_family))
    cold_start, not_forecast = list(plan.cold_start), list(plan.not_forecast)
    if not plan.naive.empty:
        naive, failed = seasonal_naive_24(history, plan.naive, as_of, settings.horizon_hours)
        leaves.append(to_predictions(naive, champion, as_of, NAIVE_FAMILY))
        hours = {n.series_id: n.hours_of_history for n in cold_start}
        cold_start = [n for n in cold_start if n.series_id not in failed]
        not_forecast += [SeriesNote(sid, hours[sid], reason) for sid, reason in sorted(failed.items())]
    leaf_rows = pd.concat(leaves, ignore_index=True) if leaves else PREDICTIONS.empty_frame()
    totals = forecast_totals(leaf_rows, catalogue.frame, champion.info.name, champion.info.version)
    rows = pd.concat([leaf_rows, totals], ignore_index=True) if not totals.empty else leaf_rows

    families = _series_by_family(rows)
    if rows.empty:
        log.warning("predict as of %s: no series has enough history to forecast; nothing written", as_of.isoformat())
        changed, table_version = 0, store.table_version(PREDICTIONS)
    else:
        written = store.insert(PREDICTIONS, rows)  # leaves and totals in one commit: all or nothing
        changed, table_version = written.rows_inserted + written.rows_updated, written.table_version
    series = int(leaf_rows[SERIES].drop_duplicates().shape[0])
    log.info(
        "predict as of %s: champion v%d, %d leaf series (%s) × %d h, %d parent totals, %d not forecast, "
        "%d rows changed, predictions table v%s",
        as_of.isoformat(), champion.info.version, series, _families_text(families), settings.horizon_hours,
        families.get(BOTTOM_UP, 0), len(not_forecast), changed, table_version,
    )  # fmt: skip
    if report_path is not None:
        write_report(
            report_path,
            PredictReport(as_of.isoformat(), champion.info.version, families, cold_start, not_forecast),
        )
    return PredictResult(
        as_of, champion.info.version, series, len(rows), changed, table_version, families, cold_start, not_forecast
    )


def _series_by_family(rows: pd.DataFrame) -> dict[str, int]:
    """Series per `model_family` in a forecast (a null family, an untagged champion, as `unknown`)."""
    if rows.empty:
        return {}
    families = rows["model_family"].astype("object").where(rows["model_family"].notna(), "unknown")
    counts = rows.assign(_family=families).drop_duplicates([*SERIES, "_family"])["_family"].value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}


def _families_text(families: dict[str, int]) -> str:
    return ", ".join(f"{n} {family}" for family, n in families.items() if family != BOTTOM_UP) or "none"


def monitor(
    store: FeatureStore,
    champion: ModelVersionInfo | None,
    as_of: pd.Timestamp,
    settings: BatchSettings,
    thresholds: AlertSettings,
    post_alert: AlertPoster | None = None,
    reference_cache: ReferenceCache | None = None,
    table_versions: dict[str, int] | None = None,
    memory: StoredScores | None = None,
) -> MonitorResult:
    """Score every forecast whose target hour is in the lookback window, aggregate, check, alert.

    `table_versions` (`ingested_versions` right after the hour's ingest) pins what monitor reads of
    the feature pipeline's tables (actuals, the drift window's features), so the next hour's ingest
    may run beside it and change nothing it sees: `simulate` monitors an hour while the next one is
    ingested and predicted. Without it monitor reads the latest versions.

    Parent totals are scored against their bottom-up actuals and stored in `monitoring` like any
    series. The aggregates (and the checks, which read them back) cover leaves only: a total
    repeats its leaves' kWh, so adding it would count every kWh two or three times and make the
    figures incomparable with stores without totals and with the backtest.

    Only the target hours with a changed leaf row are re-aggregated (an hour's aggregates depend on
    its own rows only, so the others would be rewritten unchanged: in a normal hour that is 1 of
    48). The aggregates are written before the rows they summarise: if monitor dies between the
    two writes, the rows are still unstored, so the re-run finds them changed and re-aggregates
    their hours; in the other order a crash would leave those hours' aggregates stale forever.

    `memory` (a long-lived worker's): the rows this monitor scored last hour stand in for the
    stored ones while the `monitoring` table is still at the version its write left
    (`StoredScores`); they are remembered only when no other write came between the version
    compared against and this run's own commit.
    """
    window_start = (as_of - pd.Timedelta(hours=settings.monitor_lookback_hours - 1)).to_pydatetime()
    window_end = (as_of + pd.Timedelta(hours=1)).to_pydatetime()
    predictions = store.read(PREDICTIONS, start=window_start, end=window_end) if store.exists(PREDICTIONS) else None
    actuals = read_actuals(store, window_start, window_end, table_versions)

    rows = MONITORING.empty_frame()
    if predictions is not None and not predictions.empty:
        rows = forecast_errors(predictions, actuals, as_of, settings.actual_grace_hours)
    leaves = leaf_rows(rows)
    if not rows.empty:
        before = store.table_version(MONITORING)
        stored = memory.rows_at(before) if memory is not None else None
        if stored is None and before is not None:
            stored = store.read(MONITORING, start=window_start, end=window_end)
        changed = changed_since_stored(rows, stored) if stored is not None else rows
        touched = leaves[leaves["datetime_utc"].isin(leaf_rows(changed)["datetime_utc"].unique())]
        if not touched.empty:  # before the rows they aggregate: see the docstring
            store.insert(MONITORING_HOURLY, hourly_aggregates(touched))
            store.insert(MONITORING_HORIZON, horizon_aggregates(touched))
        if changed.empty:
            after, own = store.table_version(MONITORING), 0
        else:
            written = store.insert(MONITORING, changed)  # no commit when the store holds every row already
            after, own = written.table_version, int(written.changed)
        if memory is not None:  # exact only if nothing but this run's own commit (if any) came after `before`
            if after == (before + own if before is not None else 0):
                memory.remember(rows, after)
            else:
                memory.forget()

    cache = reference_cache if reference_cache is not None else {}
    scored = ScoredLeaves(leaves, pd.Timestamp(window_start)) if predictions is not None else None
    checks = run_checks(store, champion, as_of, settings, thresholds, cache, table_versions=table_versions,
                        scored=scored)  # fmt: skip
    overall = overall_check(checks)
    previous = previous_overall_status(store, as_of)
    store.insert(ALERTS, alert_rows(checks, as_of))

    posted = False
    if overall.status == "alert" and previous != "alert" and post_alert is not None:
        champion_label = f"v{champion.version}" if champion else "none"
        posted = post_alert(alert_text(overall.status, overall.reason, as_of.isoformat(), champion_label))
    missing = int(leaves["actual_missing"].sum()) if not leaves.empty else 0
    log.info(
        "monitor as of %s: %d leaf rows (%d missing actuals) over %d target hours, %d parent-total rows; status %s",
        as_of.isoformat(), len(leaves), missing, leaves["datetime_utc"].nunique(), len(rows) - len(leaves),
        overall.status,
    )  # fmt: skip
    return MonitorResult(
        as_of, len(leaves), missing, int(leaves["datetime_utc"].nunique()), overall.status,
        overall.status == "alert", overall.reason, posted, len(rows) - len(leaves),
    )


def read_actuals(
    store: FeatureStore, start: datetime, end: datetime, table_versions: dict[str, int] | None = None
) -> pd.DataFrame:
    """Actuals in [start, end): leaves from `energy_consumption`, parents from
    `energy_consumption_totals` when the feature pipeline has written it (at `table_versions`
    when given: a table not among them had not been written then)."""
    pins = table_versions or {}
    leaves = store.read(ENERGY_CONSUMPTION, start=start, end=end, version=pins.get(ENERGY_CONSUMPTION.table_name))
    if not store.exists(ENERGY_CONSUMPTION_TOTALS) or (
        table_versions is not None and ENERGY_CONSUMPTION_TOTALS.table_name not in pins
    ):
        return leaves
    totals = store.read(ENERGY_CONSUMPTION_TOTALS, start=start, end=end, columns=list(ENERGY_CONSUMPTION.columns),
                        version=pins.get(ENERGY_CONSUMPTION_TOTALS.table_name))  # fmt: skip
    return pd.concat([leaves, totals], ignore_index=True) if not totals.empty else leaves


def ingested_versions(store: FeatureStore, view: FeatureViewSpec = ENERGY_FORECASTING_VIEW) -> dict[str, int]:
    """The latest versions of the feature pipeline's tables that predict and monitor read (the
    series catalogue, the actuals and the view's groups), to pin with `predict(...,
    table_versions=...)` and `monitor(..., table_versions=...)`; unwritten ones are left out, so
    they stay unwritten for those reads."""
    groups = [SERIES_GROUP, ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, view.spine, *(j.group for j in view.joins)]
    unique = {group.table_name: group for group in groups}  # the spine is usually energy_consumption
    versions = {name: store.table_version(group) for name, group in unique.items()}
    return {name: version for name, version in versions.items() if version is not None}


def previous_overall_status(store: FeatureStore, as_of: pd.Timestamp) -> str | None:
    """The stored overall status of the latest check at or before `as_of` (read before this run
    writes its own): an alert is posted on the way in, not every hour it persists, and re-running a
    monitor for the same hour never posts twice."""
    if not store.exists(ALERTS):
        return None
    end = (as_of + pd.Timedelta(hours=1)).to_pydatetime()
    before = store.read(ALERTS, end=end, filters={"check_name": OVERALL}, columns=["datetime_utc", "status"])
    if before.empty:
        return None
    return str(before.sort_values("datetime_utc")["status"].iloc[-1])
