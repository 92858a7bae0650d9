"""Rolling-origin backtest: fit once up to the first origin, forecast 1 … h hours at each origin.

Every model is scored through the same entry point, a `predict(frame)` over the forecast-contract
input (history with labels, then future rows with a null label): freshly fitted candidates via
`forecaster_model.forecast`, the current champion via its loaded pyfunc. So a backtest number is
always a number about what would be served.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pandas as pd

from energy_core.schemas import ENERGY_FORECASTING_VIEW
from energy_core.settings import TrainingEngineSettings, load
from energy_training.config import FAMILIES_NEURAL, ModelConfig
from energy_training.forecaster_model import FittedForecaster, forecast, forecast_origins
from energy_training.models import fit_model
from energy_training.protocol import Protocol

log = logging.getLogger(__name__)

LABEL = ENERGY_FORECASTING_VIEW.label or "energy_consumption_kwh"
TIME = ENERGY_FORECASTING_VIEW.spine.event_time
KEYS = list(ENERGY_FORECASTING_VIEW.spine.primary_key)

PredictFn = Callable[[pd.DataFrame], pd.DataFrame]


def known_until(frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Rows a model may learn from as of `cutoff`: datetime <= cutoff."""
    return frame[frame[TIME] <= cutoff].reset_index(drop=True)


def contract_input(frame: pd.DataFrame, origin: pd.Timestamp, horizon_hours: int) -> pd.DataFrame:
    """The forecast-contract input at `origin`: history up to it, then the horizon with a null label.

    The label of every future row is removed here, so a model cannot see an actual after the origin
    whatever it does with its input.
    """
    end = origin + pd.Timedelta(hours=horizon_hours)
    window = frame[frame[TIME] <= end].copy()
    window.loc[window[TIME] > origin, LABEL] = float("nan")
    return window.sort_values([*KEYS, TIME], kind="stable").reset_index(drop=True)


def score_predictor(
    predict: PredictFn,
    frame: pd.DataFrame,
    protocol: Protocol,
    model: str,
    predict_all: Callable[[list[pd.DataFrame]], list[pd.DataFrame]] | None = None,
) -> pd.DataFrame:
    """Forecasts at every origin next to the actuals: one row per series, origin and target hour.

    `predict_all`, when given, forecasts every origin's input in one call (the same numbers as
    `predict` on each, see `forecaster_model.forecast_origins`); else `predict` runs per origin.
    """
    actuals = frame[[*KEYS, TIME, LABEL]].rename(columns={LABEL: "actual_kwh"})
    inputs = [contract_input(frame, origin, protocol.horizon_hours) for origin in protocol.origins]
    preds = predict_all(inputs) if predict_all is not None else [predict(x) for x in inputs]
    parts = [pred.assign(origin=origin, model=model) for origin, pred in zip(protocol.origins, preds, strict=True)]
    out = pd.concat(parts, ignore_index=True)
    out[TIME] = pd.to_datetime(out[TIME], utc=True).astype("datetime64[us, UTC]")
    for key in KEYS:
        out[key] = out[key].astype(str)
    actuals = actuals.assign(**{k: actuals[k].astype(str) for k in KEYS})
    out = out.merge(actuals, on=[*KEYS, TIME], how="left")
    missing = int(out["actual_kwh"].isna().sum())
    if missing:
        log.warning("backtest of %s: %d forecast hours have no actual and are left out of the metrics", model, missing)
    return out


def fit_for_backtest(
    cfg: ModelConfig, frame: pd.DataFrame, protocol: Protocol, seed: int, threads: int | None = None
) -> FittedForecaster:
    """Fit on data up to the first origin only, on `threads` CPU threads (None: the default)."""
    return fit_model(cfg, known_until(frame, protocol.fit_cutoff), protocol.horizon_hours, seed, threads)


def backtest_model(
    cfg: ModelConfig, frame: pd.DataFrame, protocol: Protocol, seed: int, threads: int | None = None
) -> pd.DataFrame:
    """Fit `cfg` once up to the first origin (on `threads` CPU threads), then forecast at every
    origin without refitting."""
    fitted = fit_for_backtest(cfg, frame, protocol, seed, threads)
    return score_predictor(partial(forecast, fitted), frame, protocol, cfg.name, partial(forecast_origins, fitted))


def parallel_backtests(threads: int) -> int:
    """How many candidates to backtest at once: ENERGY_TRAINING_PARALLEL_BACKTESTS, else as many
    as the cores hold (cores // threads, at least 1); always 1 on the Dask engine, whose client
    the candidates would share."""
    settings = load(TrainingEngineSettings)
    if settings.engine != "local":
        return 1
    if settings.parallel_backtests is not None:
        return settings.parallel_backtests
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(threads, 1))


def backtest_models(
    cfgs: Sequence[ModelConfig],
    frame: pd.DataFrame,
    protocol: Protocol,
    seed: int,
    threads: int | None = None,
    parallel: int = 1,
) -> list[tuple[pd.DataFrame, float]]:
    """`backtest_model` of each candidate, in order, with its wall seconds; up to `parallel` at once.

    Why threads: a retrain beside `simulate`'s hourly processes fits on one thread, and on two
    cores its LightGBM candidates then backtested one after the other with a core idle while the
    simulation waited for it (docs/performance.md, "A tenth machine"). LightGBM and pandas' heavy
    parts release the GIL, and each candidate's numbers depend only on its own fits (seed and
    thread count), so two at once give the same rows. A neural candidate runs alone: its seeding
    sets process-wide random state.
    """

    def one(cfg: ModelConfig) -> tuple[pd.DataFrame, float]:
        started = time.perf_counter()
        rows = backtest_model(cfg, frame, protocol, seed, threads)
        seconds = time.perf_counter() - started
        log.info("backtested %s in %.1f s", cfg.name, seconds)
        return rows, seconds

    results: dict[int, tuple[pd.DataFrame, float]] = {}
    together = [i for i, cfg in enumerate(cfgs) if cfg.family not in FAMILIES_NEURAL] if parallel > 1 else []
    if len(together) > 1:
        with ThreadPoolExecutor(min(parallel, len(together)), thread_name_prefix="backtest") as pool:
            results.update(zip(together, pool.map(lambda i: one(cfgs[i]), together), strict=True))
    for i, cfg in enumerate(cfgs):
        if i not in results:
            results[i] = one(cfg)
    return [results[i] for i in range(len(cfgs))]


def backtest_with_refits(
    cfg: ModelConfig,
    frame: pd.DataFrame,
    protocol: Protocol,
    seed: int,
    refit_every: int,
    fits: dict[pd.Timestamp, FittedForecaster] | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """The staleness variant: refit on everything up to an origin at every `refit_every`-th origin.

    `refit_every=1` refits at every origin (daily with daily origins); `refit_every >= len(origins)`
    is the scorecard's fit-once. Not the scorecard: it prices how much a model's age costs, so the
    production retraining cadence can be chosen from accuracy against fitting time. `fits` caches
    the model fitted at each origin (fits are deterministic), so several cadences share them.
    """
    if refit_every < 1:
        raise ValueError(f"refit_every must be >= 1 origin, got {refit_every}")
    cache = {} if fits is None else fits
    parts = []
    for i, origin in enumerate(protocol.origins):
        fitted_at = protocol.origins[i - i % refit_every]
        if fitted_at not in cache:
            cache[fitted_at] = fit_model(cfg, known_until(frame, fitted_at), protocol.horizon_hours, seed, threads)
        single = Protocol(as_of=protocol.as_of, origins=(origin,), horizon_hours=protocol.horizon_hours)
        parts.append(score_predictor(partial(forecast, cache[fitted_at]), frame, single, cfg.name))
    return pd.concat(parts, ignore_index=True)
