"""Step 4 of monitor: turn drift and error measurements into ok / warn / alert status rows.

One `alerts` row per check and as-of hour, plus an `overall` row holding the worst status, so the
API and an orchestrator read a single row to decide. `retraining_recommended` is true on `alert`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from energy_batch.drift import FeatureDrift
from energy_core.schemas import ALERTS, UTC_DTYPE
from energy_core.settings import AlertSettings

OVERALL = "overall"
SEVERITY = {"ok": 0, "warn": 1, "alert": 2}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    value: float | None
    threshold: float | None
    reason: str


def grade(value: float, warn: float, alert: float) -> tuple[str, float]:
    """(status, the threshold that decided it): alert at or above `alert`, warn at or above `warn`."""
    if value >= alert:
        return "alert", alert
    if value >= warn:
        return "warn", warn
    return "ok", warn


def drift_checks(drifts: list[FeatureDrift], thresholds: AlertSettings, dataset_version: int | None) -> list[Check]:
    """One `psi:<feature>` check per feature; too few values is `ok` with the reason said."""
    checks = []
    for d in drifts:
        name = f"psi:{d.feature}"
        if d.psi is None:
            checks.append(
                Check(name, "ok", None, thresholds.psi_warn,
                      f"not compared: {d.recent_count} distinct recent and {d.reference_count} training values")
            )
            continue
        status, threshold = grade(d.psi, thresholds.psi_warn, thresholds.psi_alert)
        checks.append(
            Check(name, status, d.psi, threshold,
                  f"PSI {d.psi:.3f} ({d.recent_count} distinct recent values) vs training dataset "
                  f"#{dataset_version} ({status} at >= {threshold})")
        )
    return checks


def error_check(
    recent_wape: float | None, recent_count: int, backtest_wape: float | None, thresholds: AlertSettings,
    min_count: int,
) -> Check:
    """`error_ratio:wape`: recent WAPE divided by the champion's backtest WAPE."""
    name = "error_ratio:wape"
    if backtest_wape is None or backtest_wape <= 0:
        return Check(name, "ok", None, thresholds.error_ratio_warn, "champion has no backtest_wape metric")
    if recent_wape is None or recent_count < min_count:
        return Check(
            name, "ok", None, thresholds.error_ratio_warn,
            f"not compared: {recent_count} monitored forecasts (need {min_count})",
        )
    ratio = recent_wape / backtest_wape
    status, threshold = grade(ratio, thresholds.error_ratio_warn, thresholds.error_ratio_alert)
    return Check(
        name, status, ratio, threshold,
        f"recent WAPE {recent_wape:.4f} over {recent_count} forecasts is {ratio:.2f}x the backtest WAPE "
        f"{backtest_wape:.4f} ({status} at >= {threshold}x)",
    )


def overall_check(checks: list[Check]) -> Check:
    """The worst status of `checks`, with the reasons of the checks that set it."""
    worst = max((c.status for c in checks), key=SEVERITY.__getitem__, default="ok")
    culprits = [c for c in checks if c.status == worst and worst != "ok"]
    reason = "; ".join(f"{c.name}: {c.reason}" for c in culprits) or f"all {len(checks)} checks ok"
    return Check(OVERALL, worst, float(SEVERITY[worst]), None, reason)


def alert_rows(checks: list[Check], as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows of the `alerts` group: each check plus the overall row, stamped with the as-of hour."""
    every = [*checks, overall_check(checks)]
    frame = pd.DataFrame(
        {
            "datetime_utc": pd.Series([as_of] * len(every), dtype=UTC_DTYPE),
            "check_name": pd.Series([c.name for c in every], dtype="string"),
            "status": pd.Series([c.status for c in every], dtype="string"),
            "value": pd.Series([c.value for c in every], dtype="float64"),
            "threshold": pd.Series([c.threshold for c in every], dtype="float64"),
            "reason": pd.Series([c.reason for c in every], dtype="string"),
            "retraining_recommended": pd.Series([c.status == "alert" for c in every], dtype="bool"),
        }
    )
    return frame[list(ALERTS.columns)]
