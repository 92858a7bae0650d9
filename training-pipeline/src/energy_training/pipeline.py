"""The training pipeline, step by step:

    [clean up a killed run] ─► training dataset ─► [tune] ─► backtest every candidate ─► scorecard
        ─► refit the best on all data up to T ─► re-score the champion on the same backtest
        ─► register (challenger) ─► gate ─► champion?

Side effects (store, registry, clock, tracking) come in as arguments so tests can pass their own.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from energy_core.feature_store import FeatureStore
from energy_core.registry import Lineage, ModelRegistry, ModelVersionInfo
from energy_core.settings import BacktestSettings, RegistrySettings, TrackingSettings
from energy_training import dataset, plots, recovery, tracking
from energy_training.backtest import backtest_model, contract_input, known_until, score_predictor
from energy_training.config import ModelConfig, Profile
from energy_training.forecaster_model import FittedForecaster
from energy_training.metrics import METRICS, naive_scale, per_horizon, per_series, scorecard
from energy_training.models import fit_model
from energy_training.models.lightgbm import estimators
from energy_training.promotion import GateDecision, apply_decision, current_champion, decide
from energy_training.protocol import Protocol, backtest_protocol, tuning_protocol
from energy_training.registration import Candidate, model_to_register
from energy_training.tuning import tune

log = logging.getLogger(__name__)

NAIVE24 = "seasonal_naive_24"
SCORECARD_DIR = "scorecard"


@dataclass(frozen=True)
class RunOptions:
    as_of: pd.Timestamp | None = None
    dataset_version: int | None = None
    register_all: bool = False
    threads: int = 2


@dataclass
class RunResult:
    run_id: str
    protocol: Protocol
    dataset_version: int
    scorecard: pd.DataFrame
    registered: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, GateDecision] = field(default_factory=dict)
    champion_version: int | None = None
    champion_model: str | None = None
    tuning: str | None = None


def run(
    profile: Profile,
    store: FeatureStore,
    registry: ModelRegistry,
    backtest_settings: BacktestSettings,
    registry_settings: RegistrySettings,
    tracking_settings: TrackingSettings,
    options: RunOptions,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RunResult:
    seed = backtest_settings.seed
    # 0. debris of a killed run: its MLflow run marked FAILED, the versions it left ungated archived
    recovery.recover(registry, registry_settings)
    # 1. training dataset: reuse a pinned one, or pin a new one as of T
    if options.dataset_version is not None:
        data = dataset.read(store, options.dataset_version)
        as_of = dataset.dataset_as_of(data.meta)
        if options.as_of is not None and options.as_of != as_of:
            raise ValueError(f"training dataset #{options.dataset_version} is as of {as_of}, not {options.as_of}")
        protocol = backtest_protocol(as_of, backtest_settings)
    else:
        as_of = options.as_of or dataset.latest_hour(store)
        protocol = backtest_protocol(as_of, backtest_settings)
        data = dataset.read(store, dataset.create(store, protocol).version)
    frame = known_until(data.frame, protocol.as_of)
    _check_enough_history(frame, protocol)
    commit = tracking.git_commit()
    run_name = f"training {profile.name} as of {protocol.as_of:%Y-%m-%dT%H:%MZ}"
    tags = {"profile": profile.name, "backtest_as_of": protocol.as_of.isoformat(), "git_commit": commit}

    with tracking.parent_run(registry_settings, run_name, tags) as run_id, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        mlflow.log_params(
            {
                "profile": profile.name,
                "seed": seed,
                "threads": options.threads,
                "training_dataset_version": data.meta.version,
                "data_sha256": data.meta.data_sha256,
                **{f"protocol_{k}": v for k, v in protocol.describe().items()},
            }
        )
        # 2. tuning (on origins before the backtest window)
        candidates = list(profile.models)
        tuning_summary: str | None = None
        if profile.tuning is not None:
            base = profile.model(profile.tuning.model)
            outcome = tune(
                base,
                profile.search_space,
                profile.tuning,
                frame,
                tuning_protocol(protocol, profile.tuning.origins, backtest_settings),
                seed,
                tracking_settings,
                group=run_id,
            )
            candidates.append(outcome.best)
            mlflow.set_tags(outcome.as_tags())
            tuning_summary = outcome.summary()
            _log_table(outcome.trials, workdir, "tuning/trials")
        # 3. backtest every candidate on the identical protocol
        predictions, seconds = _backtest_all(candidates, frame, protocol, seed)
        if NAIVE24 not in predictions["model"].unique():
            # The gate's reference is scored in every run, even when the profile does not list it.
            predictions = pd.concat([predictions, backtest_model(ModelConfig(NAIVE24, NAIVE24), frame, protocol, seed)])
        scale = naive_scale(known_until(frame, protocol.fit_cutoff))
        # 4. champion re-scored on this backtest, through its own pyfunc
        champion = current_champion(registry)
        champion_wape: float | None = None
        if champion is not None:
            champ_pred = _rescore_champion(registry, champion.version, frame, protocol)
            if champ_pred is not None:
                predictions = pd.concat([predictions, champ_pred], ignore_index=True)
        table = scorecard(predictions, scale)
        table["fit_and_backtest_s"] = table["model"].map(seconds)
        by_model = table.set_index("model")
        naive24_wape = _wape_of(table, NAIVE24)
        if champion is not None and f"champion_v{champion.version}" in by_model.index:
            champion_wape, comparison = champion_reference(
                champion, _wape_of(table, f"champion_v{champion.version}"), protocol
            )
            mlflow.set_tag("champion_comparison", comparison)
            log.info("gate reference: %s", comparison)
        _log_scorecard(table, predictions, workdir, champion.version if champion else None, protocol, tuning_summary)
        mlflow.log_metrics(
            {
                f"{m}_{k}": float(v)
                for m, row in by_model.iterrows()
                for k, v in row.items()
                if k in METRICS and pd.notna(v)
            }
        )
        # 5. the best candidate (or all) refitted on everything up to T, registered, gated
        ranked = [m for m in table["model"] if m in {c.name for c in candidates}]
        to_register = ranked if options.register_all else ranked[:1]
        result = RunResult(run_id, protocol, data.meta.version, table, tuning=tuning_summary)
        manifest = tracking.feature_manifest(frame, data.meta, {c.name: list(c.exog) for c in candidates})
        for name in to_register:
            cfg = next(c for c in candidates if c.name == name)
            fitted = fit_model(cfg, frame, protocol.horizon_hours, seed, options.threads)
            metrics = {k: float(by_model.loc[name, k]) for k in METRICS}
            extra = _model_files(
                workdir, name, fitted, cfg.as_dict(), metrics, naive24_wape, protocol, manifest, commit, predictions
            )
            lineage = Lineage(
                VIEW_NAME,
                data.meta.view_version,
                data.meta.version,
                commit,
                data.meta.data_sha256,
                protocol.as_of.to_pydatetime(),
            )
            version_tags = {
                "backtest_as_of": protocol.as_of.isoformat(),
                "profile": profile.name,
                "training_run_id": run_id,
                "model_config": name,
            }
            info = registry.register(
                model_to_register(
                    Candidate(name, fitted, metrics, {f"{name}.{k}": json.dumps(v) for k, v in cfg.as_dict().items()}),
                    lineage,
                    _input_example(frame, protocol),
                    workdir,
                    version_tags,
                    {"naive24_backtest_wape": naive24_wape},
                    extra,
                    f"{name} trained as of {protocol.as_of.isoformat()} on dataset #{data.meta.version}",
                ),
                run_id=run_id,
            )
            _test_crash_point("after_register")
            decision = decide(
                metrics["wape"],
                naive24_wape,
                champion_wape,
                backtest_settings.min_gain_over_naive,
                backtest_settings.manual_approval,
            )
            with registry.transition_lock():
                apply_decision(registry, info.version, decision, clock)
                # Written last: a version without it was never gated (see `recovery`).
                registry.set_tags(info.version, {recovery.GATE_TAG: _verdict(decision)})
            if decision.promote:
                champion_wape = metrics["wape"]  # a later candidate in the same run must beat this one
            result.registered[name] = info.version
            result.decisions[name] = decision
            log.info("registered %s as version %d: %s", name, info.version, decision.reason)
            mlflow.set_tag(f"gate.{name}", f"v{info.version}: {_verdict(decision)} - {decision.reason}")
            _test_crash_point("after_gate")
        now_champion = current_champion(registry)
        result.champion_version = now_champion.version if now_champion else None
        result.champion_model = now_champion.tags.get("model_config") if now_champion else None
        mlflow.set_tag("champion_version", str(result.champion_version))
        _mirror_to_wandb(tracking_settings, run_name, run_id, table, protocol)
        return result


VIEW_NAME = dataset.VIEW.name
CRASH_AT_ENV = "ENERGY_TEST_CRASH_AT"


def _verdict(decision: GateDecision) -> str:
    if decision.promote:
        return "promoted"
    return "awaiting approval" if decision.awaiting_approval else "not promoted"


def _test_crash_point(point: str) -> None:
    """For crash-safety tests only: SIGKILL this process at `point` when ENERGY_TEST_CRASH_AT
    names it, exactly as an OOM kill would (no cleanup, no finally blocks, the run left RUNNING)."""
    if os.environ.get(CRASH_AT_ENV) == point:
        log.warning("%s=%s: killing this process to test crash recovery", CRASH_AT_ENV, point)
        os.kill(os.getpid(), signal.SIGKILL)


def _wape_of(table: pd.DataFrame, model: str) -> float:
    return float(table.loc[table["model"] == model, "wape"].iloc[0])


def _check_enough_history(frame: pd.DataFrame, protocol: Protocol) -> None:
    first = frame["datetime_utc"].min()
    if pd.isna(first) or first > protocol.fit_cutoff - pd.Timedelta(hours=168 + protocol.horizon_hours):
        raise ValueError(
            f"not enough history: data starts {first}, but the first backtest origin {protocol.fit_cutoff} needs "
            f"at least {168 + protocol.horizon_hours} hours before it (lags up to 168 h); choose a later --as-of "
            "or backfill more data"
        )


def _backtest_all(
    candidates: list[Any], frame: pd.DataFrame, protocol: Protocol, seed: int
) -> tuple[pd.DataFrame, dict[str, float]]:
    parts, seconds = [], {}
    for cfg in candidates:
        started = time.perf_counter()
        parts.append(backtest_model(cfg, frame, protocol, seed))
        seconds[cfg.name] = time.perf_counter() - started
        log.info("backtested %s in %.1f s", cfg.name, seconds[cfg.name])
    return pd.concat(parts, ignore_index=True), seconds


def champion_reference(champion: ModelVersionInfo, rescored_wape: float, protocol: Protocol) -> tuple[float, str]:
    """The champion WAPE the gate compares with, and why: its re-score on this backtest, unless in-sample.

    A champion trained on data after this run's first origin has seen the hours it is re-scored on
    (e.g. a retrain at the same or a later as-of), so its re-score is an in-sample number no honest
    challenger can beat. Then its own recorded backtest WAPE (out of sample, same protocol
    settings, its own window) is the reference.
    """
    as_of = champion.lineage.as_of if champion.lineage else None
    stored = champion.metrics.get("backtest_wape")
    if as_of is None or pd.Timestamp(as_of) <= protocol.fit_cutoff or stored is None:
        return rescored_wape, f"champion v{champion.version} re-scored on this backtest"
    return float(stored), (
        f"champion v{champion.version}'s recorded backtest_wape {stored:.4f}: it was trained up to {as_of}, "
        f"after this backtest's first origin, so its re-score ({rescored_wape:.4f}) is in-sample"
    )


def _rescore_champion(
    registry: ModelRegistry, version: int, frame: pd.DataFrame, protocol: Protocol
) -> pd.DataFrame | None:
    """The champion's forecasts on this run's backtest, or None (logged) if it cannot be loaded."""
    try:
        model = registry.load(version=version)
        return score_predictor(model.predict, frame, protocol, f"champion_v{version}")
    except Exception as exc:  # a broken champion must not block a better challenger
        log.warning(
            "champion v%d could not be re-scored (%s: %s); the gate compares with naive 24 only",
            version,
            type(exc).__name__,
            exc,
        )
        mlflow.set_tag("champion_rescore_error", f"{type(exc).__name__}: {exc}"[:500])
        return None


def _input_example(frame: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """Two series, a week and a day of history, then the horizon: a realistic, small contract input."""
    keys = frame[["area", "consumer_type"]].drop_duplicates().head(2)
    sample = frame.merge(keys, on=["area", "consumer_type"])
    origin = protocol.origins[-1]
    window = contract_input(sample, origin, protocol.horizon_hours)
    return window[window["datetime_utc"] > origin - pd.Timedelta(hours=192)].reset_index(drop=True)


def _log_table(table: pd.DataFrame, workdir: Path, name: str) -> Path:
    path = workdir / f"{name.replace('/', '_')}.csv"
    table.to_csv(path, index=False)
    mlflow.log_artifact(str(path), artifact_path=str(Path(name).parent) if "/" in name else None)
    return path


def _log_scorecard(
    table: pd.DataFrame,
    predictions: pd.DataFrame,
    workdir: Path,
    champion: int | None,
    protocol: Protocol,
    tuning: str | None,
) -> None:
    series_table, horizon_table = per_series(predictions), per_horizon(predictions)
    payload = {
        "protocol": protocol.describe(),
        "champion_before_run": champion,
        "tuning": tuning,
        "models": json.loads(table.to_json(orient="records")),
    }
    out = workdir / SCORECARD_DIR
    out.mkdir(exist_ok=True)
    (out / "scorecard.json").write_text(json.dumps(payload, indent=2))
    table.to_csv(out / "scorecard.csv", index=False)
    series_table.to_csv(out / "per_series.csv", index=False)
    horizon_table.to_csv(out / "per_horizon.csv", index=False)
    plots.error_by_horizon(horizon_table, out / "error_by_horizon.png")
    mlflow.log_artifacts(str(out), artifact_path=SCORECARD_DIR)


def _model_files(
    workdir: Path,
    name: str,
    fitted: FittedForecaster,
    config: dict[str, Any],
    metrics: dict[str, float],
    naive24_wape: float,
    protocol: Protocol,
    manifest: dict[str, Any],
    commit: str,
    predictions: pd.DataFrame,
) -> dict[str, Path]:
    """Per-model artifacts logged next to the model: card, manifest, plots."""
    out = workdir / f"files_{name}"
    out.mkdir(exist_ok=True)
    card = tracking.model_card(
        name, fitted.family, config, metrics, naive24_wape, protocol.describe(), manifest, commit
    )
    (out / "model_card.md").write_text(card)
    (out / "feature_manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    files = {
        f"{name}/model_card.md": out / "model_card.md",
        f"{name}/feature_manifest.json": out / "feature_manifest.json",
        f"{name}/predicted_vs_actual.png": plots.predicted_vs_actual(predictions, name, out / "pva.png"),
        f"{name}/residuals.png": plots.residual_histogram(predictions, name, out / "residuals.png"),
    }
    importance = _feature_importance(fitted)
    if importance is not None:
        files[f"{name}/feature_importance.png"] = plots.feature_importance(importance, out / "importance.png")
    return files


def _feature_importance(fitted: FittedForecaster) -> pd.Series | None:
    if fitted.extra.get("engine") != "mlforecast":
        return None
    point = fitted.model.models_["point"]  # direct: one model per horizon step, the first is shown
    booster = estimators(point)[0].booster_
    return pd.Series(booster.feature_importance(importance_type="gain"), index=booster.feature_name())


def _mirror_to_wandb(
    settings: TrackingSettings, name: str, run_id: str, table: pd.DataFrame, protocol: Protocol
) -> None:
    with tracking.wandb_run(
        settings, name, {"mlflow_run_id": run_id, **protocol.describe()}, group=run_id, job_type="training"
    ) as run:
        if run is None:
            return
        metrics = {
            f"{row['model']}/{m}": float(row[m]) for _, row in table.iterrows() for m in METRICS if pd.notna(row[m])
        }
        run.log(metrics)
