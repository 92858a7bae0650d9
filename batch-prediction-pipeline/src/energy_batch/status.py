"""`status`: what an operator asks first — how fresh, which model, how wrong, is anything on fire.

Read-only: gathers the latest forecast time and how many series each model family forecast in
it, the series the latest predict left to the cold-start baseline or could not forecast (with
reasons, from ENERGY_HOME/state/predict.json), the champion, the monitored hours with their
aggregate WAPE (Σ|error| / Σ|actual| over every monitored leaf forecast) and the latest alert status.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from energy_batch.alerts import OVERALL
from energy_batch.champion import champion_info
from energy_batch.exceptions import NoChampion
from energy_batch.predict_report import read_report
from energy_batch.simulation_state import read_state
from energy_core.feature_store import FeatureStore
from energy_core.registry import ModelRegistry
from energy_core.schemas import ALERTS, MONITORING_HORIZON, MONITORING_HOURLY, PREDICTIONS

MAX_HOURS_AHEAD = 168  # the largest hours_ahead the monitoring schema admits


@dataclass(frozen=True)
class Status:
    latest_forecast_at: str | None
    champion_version: int | None
    champion_family: str | None
    champion_backtest_wape: float | None
    monitored_hours: int
    monitored_wape: float | None
    alert_status: str | None
    alert_reason: str | None
    alert_checked_at: str | None
    retraining_recommended: bool
    simulation: dict[str, Any] | None
    latest_forecast_families: dict[str, int] = field(default_factory=dict)
    predict_report_as_of: str | None = None
    cold_start: list[dict[str, Any]] = field(default_factory=list)
    not_forecast: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_forecast(self) -> bool:
        return self.latest_forecast_at is not None and self.champion_version is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(ts: Any) -> str | None:
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def latest_forecast_at(store: FeatureStore) -> pd.Timestamp | None:
    """The newest `forecast_made_at` (one column read; a week of forecasts is ~300k small values)."""
    if not store.exists(PREDICTIONS):
        return None
    made = store.read(PREDICTIONS, columns=["forecast_made_at"])["forecast_made_at"]
    return None if made.empty else pd.Timestamp(made.max())


def series_by_family(store: FeatureStore, made_at: pd.Timestamp | None) -> dict[str, int]:
    """Series per `model_family` in the forecast made at `made_at` (read over its target hours only)."""
    if made_at is None:
        return {}
    rows = store.read(
        PREDICTIONS,
        start=made_at.to_pydatetime(),
        end=(made_at + pd.Timedelta(hours=MAX_HOURS_AHEAD + 1)).to_pydatetime(),
        columns=["area", "consumer_type", "forecast_made_at", "model_family"],
    )
    rows = rows[rows["forecast_made_at"] == made_at]
    family = rows["model_family"].astype("object").where(rows["model_family"].notna(), "unknown")
    counts = rows.assign(model_family=family).drop_duplicates(["area", "consumer_type"])["model_family"].value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}


def gather_status(
    store: FeatureStore, registry: ModelRegistry, state_path: Path, predict_report_path: Path | None = None
) -> Status:
    try:
        champion = champion_info(registry)
    except NoChampion:
        champion = None

    hours, total_wape = 0, None
    if store.exists(MONITORING_HOURLY):
        hourly = store.read(MONITORING_HOURLY, columns=["datetime_utc", "count"])
        hours = int((hourly["count"] > 0).sum())
    if store.exists(MONITORING_HORIZON):
        sums = store.read(MONITORING_HORIZON, columns=["abs_error_sum_kwh", "actual_sum_kwh"])
        denominator = float(sums["actual_sum_kwh"].sum())
        total_wape = float(sums["abs_error_sum_kwh"].sum()) / denominator if denominator > 0 else None

    status = reason = checked_at = None
    retrain = False
    if store.exists(ALERTS):
        overall = store.read(ALERTS, filters={"check_name": OVERALL})
        if not overall.empty:
            last = overall.sort_values("datetime_utc").iloc[-1]
            status, reason = str(last["status"]), str(last["reason"])
            checked_at, retrain = _iso(last["datetime_utc"]), bool(last["retraining_recommended"])

    saved = read_state(state_path)
    report = read_report(predict_report_path) if predict_report_path is not None else None
    made_at = latest_forecast_at(store)
    return Status(
        latest_forecast_at=_iso(made_at),
        champion_version=champion.version if champion else None,
        champion_family=champion.model_family if champion else None,
        champion_backtest_wape=champion.metrics.get("backtest_wape") if champion else None,
        monitored_hours=hours,
        monitored_wape=total_wape,
        alert_status=status,
        alert_reason=reason,
        alert_checked_at=checked_at,
        retraining_recommended=retrain,
        simulation=asdict(saved) if saved else None,
        latest_forecast_families=series_by_family(store, made_at),
        predict_report_as_of=_iso(report.as_of) if report else None,
        cold_start=[n.to_dict() for n in report.cold_start] if report else [],
        not_forecast=[n.to_dict() for n in report.not_forecast] if report else [],
    )


def render(status: Status) -> str:
    """The human-readable form of `status`."""

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2%}"

    champion = (
        f"v{status.champion_version} ({status.champion_family or 'unknown family'}), backtest WAPE "
        f"{pct(status.champion_backtest_wape)}"
        if status.champion_version is not None
        else "none (run training-pipeline)"
    )
    families = ", ".join(f"{family} {n}" for family, n in status.latest_forecast_families.items()) or "none yet"
    lines = [
        f"latest forecast made at : {status.latest_forecast_at or 'none yet'}",
        f"champion                : {champion}",
        f"series forecast by      : {families}",
        f"monitored hours         : {status.monitored_hours}, aggregate WAPE {pct(status.monitored_wape)}",
        f"alert status            : {status.alert_status or 'not checked yet'}"
        + (f" as of {status.alert_checked_at}" if status.alert_checked_at else ""),
        f"retraining recommended  : {'yes' if status.retraining_recommended else 'no'}",
    ]
    if status.alert_reason and status.alert_status != "ok":
        lines.append(f"reason                  : {status.alert_reason}")
    for title, notes in (("cold start", status.cold_start), ("not forecast", status.not_forecast)):
        if notes:
            shown = "; ".join(f"{n['series_id']} ({n['reason']})" for n in notes[:5])
            more = f"; … {len(notes) - 5} more" if len(notes) > 5 else ""
            lines.append(f"{title:<24}: {len(notes)} series as of {status.predict_report_as_of}: {shown}{more}")
    if status.simulation:
        sim = status.simulation
        done = "finished" if sim.get("finished") else f"completed through {sim.get('completed_through') or 'nothing'}"
        lines.append(f"simulation              : {sim['start']} … {sim['end']}, {done}")
    return "\n".join(lines)
