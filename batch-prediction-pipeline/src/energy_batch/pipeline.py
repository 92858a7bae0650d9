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
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from energy_batch.aggregates import horizon_aggregates, hourly_aggregates
from energy_batch.alerts import OVERALL, alert_rows, overall_check
from energy_batch.champion import Champion
from energy_batch.cold_start import seasonal_naive_24
from energy_batch.forecast import check_forecast, run_model, to_predictions
from energy_batch.forecast_errors import (
    ScoredWith,
    StoredScores,
    changed_since_stored,
    forecast_errors,
    hour_numbers,
    hours_to_keep,
    join_hours,
    leaf_mask,
    leaf_rows,
    settled_hours,
)
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
    compared against and this run's own commit. With them, only the target hours whose forecasts
    or actuals may have changed since are read and scored again (`_score`).
    """
    window_start = (as_of - pd.Timedelta(hours=settings.monitor_lookback_hours - 1)).to_pydatetime()
    window_end = (as_of + pd.Timedelta(hours=1)).to_pydatetime()
    predictions_version = store.table_version(PREDICTIONS)  # read before the rows: see `ScoredWith`
    actuals = read_actuals(store, window_start, window_end, table_versions)

    rows = MONITORING.empty_frame()
    if predictions_version is not None:
        before = store.table_version(MONITORING)
        stored = memory.rows_at(before) if memory is not None else None
        scored = _score(store, as_of, pd.Timestamp(window_start), actuals, predictions_version, settings, stored,
                        memory.scored_with if memory is not None and stored is not None else None)  # fmt: skip
        rows = scored.rows
        leaf = leaf_mask(rows)
        if not rows.empty:
            if scored.changed is None:  # every row was scored again: compare them with the stored ones
                if stored is None and before is not None:
                    stored = store.read(MONITORING, start=window_start, end=window_end)
                changed = changed_since_stored(rows, stored) if stored is not None else rows
            else:
                changed = scored.changed
            touched = rows[leaf & rows["datetime_utc"].isin(leaf_rows(changed)["datetime_utc"].unique()).to_numpy()]
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
                    memory.remember(rows, after, scored.scored_with)
                else:
                    memory.forget()
    else:
        leaf = leaf_mask(rows)

    cache = reference_cache if reference_cache is not None else {}
    scored_leaves = ScoredLeaves(rows, pd.Timestamp(window_start), leaf) if predictions_version is not None else None
    checks = run_checks(store, champion, as_of, settings, thresholds, cache, table_versions=table_versions,
                        scored=scored_leaves)  # fmt: skip
    overall = overall_check(checks)
    previous = previous_overall_status(store, as_of)
    store.insert(ALERTS, alert_rows(checks, as_of))

    posted = False
    if overall.status == "alert" and previous != "alert" and post_alert is not None:
        champion_label = f"v{champion.version}" if champion else "none"
        posted = post_alert(alert_text(overall.status, overall.reason, as_of.isoformat(), champion_label))
    n_leaves = int(leaf.sum())
    missing = int((rows["actual_missing"].to_numpy(dtype=bool) & leaf).sum()) if n_leaves else 0
    hours = int(rows["datetime_utc"][leaf].nunique())
    log.info(
        "monitor as of %s: %d leaf rows (%d missing actuals) over %d target hours, %d parent-total rows; status %s",
        as_of.isoformat(), n_leaves, missing, hours, len(rows) - n_leaves, overall.status,
    )  # fmt: skip
    return MonitorResult(
        as_of, n_leaves, missing, hours, overall.status, overall.status == "alert", overall.reason, posted,
        len(rows) - n_leaves,
    )


@dataclass(frozen=True)
class _Scores:
    """`_score`'s answer: the window's monitoring rows; the rows that differ from the stored ones
    (None: not known, compare them all); what they were scored from (None: nothing to remember)."""

    rows: pd.DataFrame
    changed: pd.DataFrame | None
    scored_with: ScoredWith | None


def _score(
    store: FeatureStore,
    as_of: pd.Timestamp,
    window_start: pd.Timestamp,
    actuals: pd.DataFrame,
    predictions_version: int,
    settings: BatchSettings,
    stored: pd.DataFrame | None,
    before: ScoredWith | None,
) -> _Scores:
    """Monitoring rows for every forecast of the window whose target hour is scorable.

    With `before` (a worker's last hour, whose rows `stored` are exactly the stored rows), only
    the target hours whose inputs may have changed are read and scored again (`hours_to_keep`):
    in a steady hour the newest one, ~1,900 of ~87,000 rows; the others are taken from `stored`.
    The answer is the same rows, in the same order, as scoring the whole window (a test holds the
    two paths equal through revisions, late actuals and rewritten forecasts)."""
    grace, window_end = settings.actual_grace_hours, as_of + pd.Timedelta(hours=1)
    kept_hours = None
    if before is not None and stored is not None:
        span = store.changed_event_times(PREDICTIONS, before.predictions_version, predictions_version)
        kept_hours = hours_to_keep(before, as_of, grace, window_start, actuals, span)
    if kept_hours is None or stored is None:
        predictions = store.read(PREDICTIONS, start=window_start.to_pydatetime(), end=window_end.to_pydatetime())
        if predictions.empty:
            return _Scores(MONITORING.empty_frame(), None, None)
        rows = forecast_errors(predictions, actuals, as_of, grace)
        return _Scores(rows, None, _scored_with(as_of, grace, actuals, predictions_version,
                                                settled_hours(predictions, rows, window_start, as_of)))  # fmt: skip
    stored_hours = hour_numbers(stored["datetime_utc"])
    window = np.arange(int(window_start.timestamp() // 3600), int(as_of.timestamp() // 3600) + 1)
    rescore = window[~np.isin(window, kept_hours)]
    parts = [store.read(PREDICTIONS, start=_hour_time(run[0]), end=_hour_time(run[-1] + 1))
             for run in np.split(rescore, np.flatnonzero(np.diff(rescore) > 1) + 1) if len(run)]  # fmt: skip
    predictions = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0] if parts else None
    if predictions is None or predictions.empty:
        predictions = PREDICTIONS.empty_frame()
    new = forecast_errors(predictions, actuals, as_of, grace) if not predictions.empty else MONITORING.empty_frame()
    kept = stored[np.isin(stored_hours, kept_hours)] if stored_hours is not None else stored.iloc[:0]
    if new.empty:
        rows, changed = kept.reset_index(drop=True), new
    else:
        rows = join_hours(kept, new) if len(kept) else new
        earlier = stored[np.isin(stored_hours, rescore)] if stored_hours is not None else stored
        changed = changed_since_stored(new, earlier)
    # the rescored hours' forecasts were all read, so their counts decide; the kept hours stand
    settled = np.union1d(kept_hours, np.intersect1d(rescore, settled_hours(predictions, new, window_start, as_of)))
    return _Scores(rows, changed, _scored_with(as_of, grace, actuals, predictions_version, settled))


def _scored_with(
    as_of: pd.Timestamp, grace: int, actuals: pd.DataFrame, predictions_version: int, settled: np.ndarray
) -> ScoredWith:
    columns = [*SERIES, "datetime_utc", "energy_consumption_kwh"]
    return ScoredWith(as_of, grace, actuals.loc[actuals["datetime_utc"] <= as_of, columns], predictions_version,
                      settled)  # fmt: skip


def _hour_time(hour: int) -> datetime:
    """The UTC time of a whole hour counted since the epoch."""
    return datetime.fromtimestamp(int(hour) * 3600, tz=UTC)


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
