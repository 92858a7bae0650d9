"""Batch prediction's own knobs (core keeps only what every service needs).

Thresholds for alerts live in `energy_core.settings.AlertSettings` because app-api shows them too.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from energy_core.settings import BacktestSettings, load


class BatchSettings(BaseSettings):
    """How much history the model sees and how patient monitoring is with late actuals."""

    # Frozen: read once at load, so a value cannot change under a running simulation.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    # The forecast horizon is the backtest protocol's, declared once in core (ENERGY_HORIZON_HOURS):
    # filled from BacktestSettings when this object is loaded, never re-read afterwards.
    horizon_hours: int = Field(
        default_factory=lambda: load(BacktestSettings).horizon_hours, gt=0, alias="ENERGY_HORIZON_HOURS"
    )

    # Models need 168 h plus their own lags (e.g. a 168 h lag with a 168 h rolling window): 21 days
    # covers every family the training pipeline registers, at ~40k rows per run.
    history_hours: int = Field(default=504, ge=168, alias="ENERGY_BATCH_HISTORY_HOURS")
    # A target hour older than this with no actual is declared missing, even if no later hour came.
    actual_grace_hours: int = Field(default=6, ge=0, alias="ENERGY_BATCH_ACTUAL_GRACE_HOURS")
    # Monitor recomputes every target hour in (as_of - lookback, as_of], so late actuals are picked up.
    monitor_lookback_hours: int = Field(default=48, gt=0, alias="ENERGY_BATCH_MONITOR_LOOKBACK_HOURS")
    # Recent window compared with the training data (drift) and with the backtest (error).
    drift_window_hours: int = Field(default=168, gt=0, alias="ENERGY_BATCH_DRIFT_WINDOW_HOURS")
    error_window_hours: int = Field(default=24, gt=0, alias="ENERGY_BATCH_ERROR_WINDOW_HOURS")
    # Distinct values per side before PSI is trusted: daily weather over a week (7) is not compared.
    min_drift_values: int = Field(default=50, gt=0, alias="ENERGY_BATCH_MIN_DRIFT_VALUES")
    min_error_count: int = Field(default=100, gt=0, alias="ENERGY_BATCH_MIN_ERROR_COUNT")
    webhook_timeout_s: float = Field(default=5.0, gt=0, alias="ENERGY_BATCH_WEBHOOK_TIMEOUT_S")
    # `simulate`'s hourly processes (itself, the feature and monitor workers) run side by side, so
    # each caps its DuckDB and Arrow pools at this many threads (energy_core.compute); the training
    # worker keeps every core. 0: no cap (the libraries' defaults).
    hourly_threads: int = Field(default=1, ge=0, alias="ENERGY_BATCH_HOURLY_THREADS")
    # CPU threads of a retrain inside `simulate` (LightGBM's and torch's): it trains beside the three
    # hourly processes, and a second LightGBM thread that waits for work between OpenMP regions only
    # took CPU from them (docs/performance.md, "A seventh machine"). `training-pipeline run` alone
    # keeps its own default (ENERGY_TRAINING_THREADS, 2).
    retrain_threads: int = Field(default=1, ge=1, alias="ENERGY_BATCH_RETRAIN_THREADS")
