"""The two hourly jobs, as the data-flow diagram draws them.

    predict:  registry(champion) + feature view(history ≤ T, future spine) → model → `predictions`
    monitor:  `predictions` ⋈ `energy_consumption` → `monitoring` → `monitoring_hourly`,
              `monitoring_horizon` → drift + error checks → `alerts` (→ webhook on a new alert)

Both take the store and the champion as arguments (the CLI opens them), so the simulation reuses
one loaded model for many hours and tests pass their own. Every write is an idempotent upsert on
the group's key: running a job twice for the same as-of time leaves the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from energy_batch.aggregates import horizon_aggregates, hourly_aggregates
from energy_batch.alerts import OVERALL, alert_rows, overall_check
from energy_batch.champion import Champion
from energy_batch.forecast import check_forecast, run_model, to_predictions
from energy_batch.forecast_errors import forecast_errors
from energy_batch.health_checks import ReferenceCache, run_checks
from energy_batch.model_input import SERIES, build_model_input
from energy_batch.settings import BatchSettings
from energy_batch.webhook import alert_text
from energy_core.feature_store import FeatureStore
from energy_core.registry import ModelVersionInfo
from energy_core.schemas import (
    ALERTS,
    ENERGY_CONSUMPTION,
    MONITORING,
    MONITORING_HORIZON,
    MONITORING_HOURLY,
    PREDICTIONS,
)
from energy_core.settings import AlertSettings

log = logging.getLogger(__name__)

AlertPoster = Callable[[str], bool]


@dataclass(frozen=True)
class PredictResult:
    as_of: pd.Timestamp
    model_version: int
    series: int
    rows: int
    rows_changed: int
    table_version: int


@dataclass(frozen=True)
class MonitorResult:
    as_of: pd.Timestamp
    monitored_rows: int
    missing_rows: int
    hours: int
    status: str
    retraining_recommended: bool
    reason: str
    alert_posted: bool


def predict(store: FeatureStore, champion: Champion, as_of: pd.Timestamp, settings: BatchSettings) -> PredictResult:
    """Forecast the next `horizon_hours` for every series known at `as_of` and store the forecast."""
    model_input = build_model_input(store, as_of, settings.history_hours, settings.horizon_hours)
    series = model_input[SERIES].drop_duplicates()
    forecast = check_forecast(run_model(champion, model_input), series, as_of, settings.horizon_hours)
    rows = to_predictions(forecast, champion, as_of)
    written = store.insert(PREDICTIONS, rows)
    log.info(
        "predict as of %s: champion v%d, %d series × %d h, %d rows changed, predictions table v%d",
        as_of.isoformat(), champion.info.version, len(series), settings.horizon_hours,
        written.rows_inserted + written.rows_updated, written.table_version,
    )
    return PredictResult(
        as_of, champion.info.version, len(series), len(rows), written.rows_inserted + written.rows_updated,
        written.table_version,
    )


def monitor(
    store: FeatureStore,
    champion: ModelVersionInfo | None,
    as_of: pd.Timestamp,
    settings: BatchSettings,
    thresholds: AlertSettings,
    post_alert: AlertPoster | None = None,
    reference_cache: ReferenceCache | None = None,
) -> MonitorResult:
    """Score every forecast whose target hour is in the lookback window, aggregate, check, alert."""
    window_start = (as_of - pd.Timedelta(hours=settings.monitor_lookback_hours - 1)).to_pydatetime()
    window_end = (as_of + pd.Timedelta(hours=1)).to_pydatetime()
    predictions = store.read(PREDICTIONS, start=window_start, end=window_end) if store.exists(PREDICTIONS) else None
    actuals = store.read(ENERGY_CONSUMPTION, start=window_start, end=window_end)

    rows = MONITORING.empty_frame()
    if predictions is not None and not predictions.empty:
        rows = forecast_errors(predictions, actuals, as_of, settings.actual_grace_hours)
    if not rows.empty:
        store.insert(MONITORING, rows)
        store.insert(MONITORING_HOURLY, hourly_aggregates(rows))
        store.insert(MONITORING_HORIZON, horizon_aggregates(rows))

    cache = reference_cache if reference_cache is not None else {}
    checks = run_checks(store, champion, as_of, settings, thresholds, cache)
    overall = overall_check(checks)
    previous = previous_overall_status(store, as_of)
    store.insert(ALERTS, alert_rows(checks, as_of))

    posted = False
    if overall.status == "alert" and previous != "alert" and post_alert is not None:
        champion_label = f"v{champion.version}" if champion else "none"
        posted = post_alert(alert_text(overall.status, overall.reason, as_of.isoformat(), champion_label))
    missing = int(rows["actual_missing"].sum()) if not rows.empty else 0
    log.info(
        "monitor as of %s: %d rows (%d missing actuals) over %d target hours; status %s",
        as_of.isoformat(), len(rows), missing, rows["datetime_utc"].nunique(), overall.status,
    )
    return MonitorResult(
        as_of, len(rows), missing, int(rows["datetime_utc"].nunique()), overall.status,
        overall.status == "alert", overall.reason, posted,
    )


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
