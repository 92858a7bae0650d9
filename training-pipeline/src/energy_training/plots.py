"""Diagnostic plots for a training run, drawn with matplotlib's object API.

`Figure` objects are used directly (no pyplot) so no global backend is set at import time and
nothing needs a display.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure


def predicted_vs_actual(predictions: pd.DataFrame, model: str, path: Path, series: int = 4) -> Path:
    """The model's forecasts and the actuals over the backtest window for the largest series."""
    p = predictions[predictions["model"] == model]
    volume = p.groupby(["area", "consumer_type"])["actual_kwh"].sum().sort_values(ascending=False)
    chosen = list(volume.index[:series])
    fig = Figure(figsize=(11, 2.6 * len(chosen)))
    for i, (area, ct) in enumerate(chosen, start=1):
        ax = fig.add_subplot(len(chosen), 1, i)
        s = p[(p["area"] == area) & (p["consumer_type"] == ct)].sort_values("datetime_utc")
        ax.plot(s["datetime_utc"], s["actual_kwh"], color="black", linewidth=1, label="actual")
        ax.plot(s["datetime_utc"], s["prediction_kwh"], color="tab:blue", linewidth=1, label="forecast")
        ax.fill_between(
            s["datetime_utc"], s["prediction_q10_kwh"], s["prediction_q90_kwh"], alpha=0.25, label="10-90 %"
        )
        ax.set_title(f"{area} {ct}", fontsize=9)
        ax.set_ylabel("kWh")
        if i == 1:
            ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return path


def residual_histogram(predictions: pd.DataFrame, model: str, path: Path) -> Path:
    p = predictions[(predictions["model"] == model) & predictions["actual_kwh"].notna()]
    pct = 100 * (p["prediction_kwh"] - p["actual_kwh"]) / p["actual_kwh"]
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot(1, 1, 1)
    ax.hist(pct.clip(-50, 50), bins=60, color="tab:blue")
    ax.set_xlabel("forecast error, % of actual (clipped at ±50 %)")
    ax.set_ylabel("forecast hours")
    ax.set_title(f"{model}: residuals over the backtest")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return path


def error_by_horizon(horizon_table: pd.DataFrame, path: Path) -> Path:
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot(1, 1, 1)
    for model, g in horizon_table.groupby("model", sort=False):
        ax.plot(g["hours_ahead"], g["wape"], marker=".", label=str(model))
    ax.set_xlabel("hours ahead")
    ax.set_ylabel("WAPE")
    ax.legend(fontsize=8)
    ax.set_title("Backtest error by horizon")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return path


def feature_importance(importance: pd.Series, path: Path, top: int = 25) -> Path:
    imp = importance.sort_values().tail(top)
    fig = Figure(figsize=(7, 0.3 * len(imp) + 1))
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(imp.index.astype(str), imp.to_numpy())
    ax.set_xlabel("gain")
    ax.set_title("LightGBM feature importance (point model)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return path
