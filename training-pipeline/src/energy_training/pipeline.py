"""The training pipeline, step by step (each step a function over one `TrainingRun` context):

    clean_up_killed_runs ─► pin_training_dataset ─► backtest_candidates ─► [tune_candidates]
        ─► rescore_champion ─► score ─► register_and_gate (refit the best on all data up to T,
        register it, let the lifecycle's gate decide: challenger or champion) ─► report

The profile's candidates are backtested before tuning so that a profile with a wall-clock budget
(`tuning.run_budget_s`, `make pipeline`'s initial training) gives tuning what the fixed work left
(`tuning_cap`); tuning and the backtest use disjoint origins, so the order changes no number.

Side effects (store, registry, clock, tracking) come in as arguments so tests can pass their own.
The promotion rule is not here: `energy_core.lifecycle` owns it; this module only computes the
evidence (the backtest, the champion's re-score) and hands it over.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from energy_core.feature_store import FeatureStore
from energy_core.lifecycle import (
    PENDING,
    ChampionReference,
    Lifecycle,
    Outcome,
    champion_reference,
    current_champion,
    trained_past,
)
from energy_core.registry import Lineage, ModelRegistry, ModelVersionInfo
from energy_core.settings import BacktestSettings, RegistrySettings, TrackingSettings
from energy_training import dataset, plots, recovery, tracking
from energy_training.backtest import (
    backtest_model,
    backtest_models,
    contract_input,
    known_until,
    parallel_backtests,
    score_predictor,
)
from energy_training.config import ConfigError, ModelConfig, Profile, TuningConfig, config_from_params
from energy_training.forecaster_model import FittedForecaster
from energy_training.metrics import METRICS, naive_scale, per_horizon, per_series, scorecard
from energy_training.models import default_threads, fit_model
from energy_training.models.lightgbm import estimators
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
    threads: int = field(default_factory=default_threads)  # every fit of the run: backtests, tuning, refit


@dataclass
class RunResult:
    run_id: str
    protocol: Protocol
    dataset_version: int
    scorecard: pd.DataFrame
    registered: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, Outcome] = field(default_factory=dict)
    champion_version: int | None = None
    champion_model: str | None = None
    tuning: str | None = None


@dataclass
class TrainingRun:
    """What the steps share: the inputs, then what each step adds for the next ones."""

    profile: Profile
    store: FeatureStore
    registry: ModelRegistry
    backtest_settings: BacktestSettings
    registry_settings: RegistrySettings
    tracking_settings: TrackingSettings
    options: RunOptions
    clock: Callable[[], datetime]
    started: float = field(default_factory=time.perf_counter)  # the run's budget counts from here
    # pin_training_dataset
    data: dataset.TrainingFrame | None = None
    protocol: Protocol | None = None
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    commit: str = "unknown"
    # inside the tracking run
    run_id: str = ""
    workdir: Path = Path()
    candidates: list[ModelConfig] = field(default_factory=list)
    tuning_summary: str | None = None
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: dict[str, float] = field(default_factory=dict)
    champion: ModelVersionInfo | None = None
    reference: ChampionReference | None = None
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    naive24_wape: float = float("nan")

    @property
    def seed(self) -> int:
        return self.backtest_settings.seed

    @property
    def run_name(self) -> str:
        return f"training {self.profile.name} as of {self.pinned[1].as_of:%Y-%m-%dT%H:%MZ}"

    @property
    def pinned(self) -> tuple[dataset.TrainingFrame, Protocol]:
        """The training dataset and protocol, once `pin_training_dataset` has run."""
        if self.data is None or self.protocol is None:
            raise RuntimeError("pin_training_dataset has not run yet")
        return self.data, self.protocol

    def lifecycle(self) -> Lifecycle:
        return Lifecycle(
            self.registry,
            self.backtest_settings.min_gain_over_naive,
            self.backtest_settings.manual_approval,
            self.clock,
        )


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
    """One training run; `clock` stamps the lifecycle's audit records (a simulation passes its own)."""
    ctx = TrainingRun(profile, store, registry, backtest_settings, registry_settings, tracking_settings, options, clock)
    clean_up_killed_runs(ctx)
    pin_training_dataset(ctx)
    protocol = ctx.pinned[1]
    tags = {"profile": profile.name, "backtest_as_of": protocol.as_of.isoformat(), "git_commit": ctx.commit}
    with tracking.parent_run(registry_settings, ctx.run_name, tags) as run_id, tempfile.TemporaryDirectory() as tmp:
        ctx.run_id, ctx.workdir = run_id, Path(tmp)
        log_parameters(ctx)
        backtest_candidates(ctx)
        tune_candidates(ctx)
        rescore_champion(ctx)
        score(ctx)
        result = register_and_gate(ctx)
        report(ctx, result)
        return result


def clean_up_killed_runs(ctx: TrainingRun) -> None:
    """Debris of a killed run: its MLflow run marked FAILED, the versions it left ungated archived."""
    recovery.recover(ctx.registry, ctx.registry_settings, ctx.clock)


def pin_training_dataset(ctx: TrainingRun) -> None:
    """Reuse a pinned training dataset (`--dataset-version`), or pin a new one as of T."""
    options, store = ctx.options, ctx.store
    if options.dataset_version is not None:
        data = dataset.read(store, options.dataset_version)
        as_of = dataset.dataset_as_of(data.meta)
        if options.as_of is not None and options.as_of != as_of:
            raise ValueError(f"training dataset #{options.dataset_version} is as of {as_of}, not {options.as_of}")
        protocol = backtest_protocol(as_of, ctx.backtest_settings)
    else:
        as_of = options.as_of or dataset.latest_hour(store)
        protocol = backtest_protocol(as_of, ctx.backtest_settings)
        data = dataset.read(store, dataset.create(store, protocol).version)
    ctx.data, ctx.protocol = data, protocol
    ctx.frame = known_until(data.frame, protocol.as_of)
    _check_enough_history(ctx.frame, protocol)
    ctx.commit = tracking.git_commit()


def log_parameters(ctx: TrainingRun) -> None:
    data, protocol = ctx.pinned
    mlflow.log_params(
        {
            "profile": ctx.profile.name,
            "seed": ctx.seed,
            "threads": ctx.options.threads,
            "training_dataset_version": data.meta.version,
            "data_sha256": data.meta.data_sha256,
            **{f"protocol_{k}": v for k, v in protocol.describe().items()},
        }
    )


def backtest_candidates(ctx: TrainingRun) -> None:
    """The profile's candidates on the identical protocol; naive 24 always, as the gate's reference."""
    _, protocol = ctx.pinned
    ctx.candidates = list(ctx.profile.models)
    if ctx.profile.refresh_champion:
        ctx.candidates.extend(champion_config(ctx.registry, ctx.candidates))
    predictions, ctx.seconds = _backtest_all(ctx.candidates, ctx.frame, protocol, ctx.seed, ctx.options.threads)
    if NAIVE24 not in predictions["model"].unique():
        naive = backtest_model(ModelConfig(NAIVE24, NAIVE24), ctx.frame, protocol, ctx.seed)
        predictions = pd.concat([predictions, naive])
    ctx.predictions = predictions


def champion_config(registry: ModelRegistry, candidates: list[ModelConfig]) -> list[ModelConfig]:
    """The current champion's configuration when no candidate has its name (else nothing), so a
    `refresh_champion` profile retrains it too. A champion this pipeline did not register (no
    config params) is logged and left alone: the run goes on with the profile's candidates."""
    champion = current_champion(registry)
    name = champion.tags.get("model_config") if champion is not None else None
    if champion is None or name is None or name in {c.name for c in candidates}:
        return []
    try:
        cfg = config_from_params(name, champion.params)
    except (ConfigError, ValueError) as exc:
        log.warning("cannot refresh champion v%d's configuration %r: %s", champion.version, name, exc)
        return []
    log.info("refreshing champion v%d's configuration %r beside the profile's candidates", champion.version, name)
    return [cfg]


def tune_candidates(ctx: TrainingRun) -> None:
    """Tune (on origins before the backtest window), then backtest the winner like the others."""
    _, protocol = ctx.pinned
    profile = ctx.profile
    if profile.tuning is None:
        return
    cap = tuning_cap(profile.tuning, time.perf_counter() - ctx.started, ctx.seconds.get(profile.tuning.model, 0.0))
    if cap is not None:
        log.info("run budget %.0f s: tuning may take %.0f s", profile.tuning.run_budget_s, cap)
    outcome = tune(
        profile.model(profile.tuning.model),
        profile.search_space,
        profile.tuning,
        ctx.frame,
        tuning_protocol(protocol, profile.tuning.origins, ctx.backtest_settings),
        ctx.seed,
        ctx.tracking_settings,
        group=ctx.run_id,
        time_cap_s=cap,
        threads=ctx.options.threads,
    )
    new = [outcome.best, *tuned_ensembles(profile.models, profile.tuning.model, outcome.best)]
    ctx.candidates.extend(new)
    mlflow.set_tags(outcome.as_tags())
    ctx.tuning_summary = outcome.summary()
    _log_table(outcome.trials, ctx.workdir, "tuning/trials")
    tuned, seconds = _backtest_all(new, ctx.frame, protocol, ctx.seed, ctx.options.threads)
    ctx.predictions = pd.concat([ctx.predictions, tuned], ignore_index=True)
    ctx.seconds.update(seconds)


def tuned_ensembles(models: tuple[ModelConfig, ...], base: str, tuned: ModelConfig) -> list[ModelConfig]:
    """Each ensemble with `base` among its members again as `<name>_tuned`, that member tuned.

    The tuned parameters come from the tuning origins only, so the swap is as honest as the
    tuned single model; both versions are backtested and the backtest picks.
    """
    return [
        replace(
            m,
            name=f"{m.name}_tuned",
            members=tuple(tuned if member.name == base else member for member in m.members),
        )
        for m in models
        if any(member.name == base for member in m.members)
    ]


# What a budgeted run keeps back after tuning, besides the tuned candidate's backtest and refit
# (each priced at the untuned model's backtest): registration, model files, scorecard, W&B.
FINISH_RESERVE_S = 15.0


def tuning_cap(tuning: TuningConfig, elapsed_s: float, base_backtest_s: float) -> float | None:
    """The seconds the run's budget leaves for tuning (None: no budget, the profile's cap stands).

    Budget − what the run has spent − the work still due after tuning: the tuned candidate's
    backtest and its refit (each about the untuned base's backtest) and FINISH_RESERVE_S. Never
    negative; tuning still runs its first trial at 0 (there is always a winner).
    """
    if tuning.run_budget_s is None:
        return None
    return max(0.0, tuning.run_budget_s - elapsed_s - 2 * base_backtest_s - FINISH_RESERVE_S)


def rescore_champion(ctx: TrainingRun) -> None:
    """The current champion's forecasts on this backtest, through its own pyfunc.

    Skipped when the gate would not use it: a champion trained past this backtest's first origin
    (every scheduled retrain's champion) has seen those hours, so the lifecycle compares with its
    recorded backtest WAPE; loading it and forecasting 7 origins only to print an in-sample row
    cost a daily retrain ~4 s.
    """
    _, protocol = ctx.pinned
    ctx.champion = current_champion(ctx.registry)
    if ctx.champion is None:
        return
    if trained_past(ctx.champion, protocol.fit_cutoff.to_pydatetime()) and "backtest_wape" in ctx.champion.metrics:
        mlflow.set_tag("champion_rescore", f"skipped: v{ctx.champion.version} was trained past the first origin")
        return
    rescored = _rescore_champion(ctx.registry, ctx.champion.version, ctx.frame, protocol)
    if rescored is not None:
        ctx.predictions = pd.concat([ctx.predictions, rescored], ignore_index=True)


def score(ctx: TrainingRun) -> None:
    """The scorecard (logged as metrics and artifacts) and the champion reference the gate will use."""
    _, protocol = ctx.pinned
    scale = naive_scale(known_until(ctx.frame, protocol.fit_cutoff))
    table = scorecard(ctx.predictions, scale)
    table["fit_and_backtest_s"] = table["model"].map(ctx.seconds)
    ctx.table, ctx.naive24_wape = table, _wape_of(table, NAIVE24)
    champion = ctx.champion
    if champion is not None:
        rescored_name = f"champion_v{champion.version}"
        rescored = _wape_of(table, rescored_name) if rescored_name in set(table["model"]) else None
        ctx.reference = champion_reference(champion, rescored, protocol.fit_cutoff.to_pydatetime())
        if ctx.reference is not None:
            mlflow.set_tag("champion_comparison", ctx.reference.note)
            log.info("gate reference: %s", ctx.reference.note)
    _log_scorecard(
        table, ctx.predictions, ctx.workdir, champion.version if champion else None, protocol, ctx.tuning_summary
    )
    mlflow.log_metrics(
        {
            f"{m}_{k}": float(v)
            for m, row in table.set_index("model").iterrows()
            for k, v in row.items()
            if k in METRICS and pd.notna(v)
        }
    )


def register_and_gate(ctx: TrainingRun) -> RunResult:
    """The best candidate (or all) refitted on everything up to T, registered, then gated."""
    data, protocol = ctx.pinned
    names = {c.name for c in ctx.candidates}
    ranked = [m for m in ctx.table["model"] if m in names]
    result = RunResult(ctx.run_id, protocol, data.meta.version, ctx.table, tuning=ctx.tuning_summary)
    manifest = tracking.feature_manifest(ctx.frame, data.meta, {c.name: list(c.exog) for c in ctx.candidates})
    lifecycle, who = ctx.lifecycle(), f"training-pipeline run {ctx.run_id}"
    for name in ranked if ctx.options.register_all else ranked[:1]:
        version = _register(ctx, next(c for c in ctx.candidates if c.name == name), manifest)
        _test_crash_point("after_register")
        # A later candidate of this run meets the gate against whatever is champion by then.
        outcome = lifecycle.gate(version, who, ctx.reference)
        result.registered[name] = version
        result.decisions[name] = outcome
        log.info("registered %s as version %d: %s (%s)", name, version, outcome.state, outcome.reason)
        mlflow.set_tag(f"gate.{name}", f"v{version}: {_verdict(outcome)} - {outcome.reason}")
        _test_crash_point("after_gate")
    return result


def report(ctx: TrainingRun, result: RunResult) -> None:
    """Which version serves now, on the run and in W&B."""
    now_champion = current_champion(ctx.registry)
    result.champion_version = now_champion.version if now_champion else None
    result.champion_model = now_champion.tags.get("model_config") if now_champion else None
    mlflow.set_tag("champion_version", str(result.champion_version))
    mlflow.set_tag("run_seconds", f"{time.perf_counter() - ctx.started:.1f}")  # beside tuning_run_budget_s
    _mirror_to_wandb(ctx.tracking_settings, ctx.run_name, ctx.run_id, ctx.table, ctx.pinned[1])


def _register(ctx: TrainingRun, cfg: ModelConfig, manifest: dict[str, Any]) -> int:
    data, protocol = ctx.pinned
    name = cfg.name
    fitted = fit_model(cfg, ctx.frame, protocol.horizon_hours, ctx.seed, ctx.options.threads)
    metrics = {k: _metric_of(ctx.table, name, k) for k in METRICS}
    extra = _model_files(
        ctx.workdir, name, fitted, cfg.as_dict(), metrics, ctx.naive24_wape, protocol, manifest, ctx.commit,
        ctx.predictions,
    )  # fmt: skip
    lineage = Lineage(
        VIEW_NAME,
        data.meta.view_version,
        data.meta.version,
        ctx.commit,
        data.meta.data_sha256,
        protocol.as_of.to_pydatetime(),
    )
    version_tags = {
        "backtest_as_of": protocol.as_of.isoformat(),
        "profile": ctx.profile.name,
        "training_run_id": ctx.run_id,
        "model_config": name,
    }
    info = ctx.registry.register(
        model_to_register(
            Candidate(name, fitted, metrics, {f"{name}.{k}": json.dumps(v) for k, v in cfg.as_dict().items()}),
            lineage,
            _input_example(ctx.frame, protocol),
            ctx.workdir,
            version_tags,
            {"naive24_backtest_wape": ctx.naive24_wape},
            extra,
            f"{name} trained as of {protocol.as_of.isoformat()} on dataset #{data.meta.version}",
        ),
        run_id=ctx.run_id,
    )
    return info.version


VIEW_NAME = dataset.VIEW.name
CRASH_AT_ENV = "ENERGY_TEST_CRASH_AT"


def _verdict(outcome: Outcome) -> str:
    if outcome.promoted:
        return "promoted"
    return "awaiting approval" if outcome.approval == PENDING else "not promoted"


def _test_crash_point(point: str) -> None:
    """For crash-safety tests only: SIGKILL this process at `point` when ENERGY_TEST_CRASH_AT
    names it, exactly as an OOM kill would (no cleanup, no finally blocks, the run left RUNNING)."""
    if os.environ.get(CRASH_AT_ENV) == point:
        log.warning("%s=%s: killing this process to test crash recovery", CRASH_AT_ENV, point)
        os.kill(os.getpid(), signal.SIGKILL)


def _wape_of(table: pd.DataFrame, model: str) -> float:
    return _metric_of(table, model, "wape")


def _metric_of(table: pd.DataFrame, model: str, metric: str) -> float:
    return float(table.loc[table["model"] == model, metric].iloc[0])


def _check_enough_history(frame: pd.DataFrame, protocol: Protocol) -> None:
    first = frame["datetime_utc"].min()
    if pd.isna(first) or first > protocol.fit_cutoff - pd.Timedelta(hours=168 + protocol.horizon_hours):
        raise ValueError(
            f"not enough history: data starts {first}, but the first backtest origin {protocol.fit_cutoff} needs "
            f"at least {168 + protocol.horizon_hours} hours before it (lags up to 168 h); choose a later --as-of "
            "or backfill more data"
        )


def _backtest_all(
    candidates: list[Any], frame: pd.DataFrame, protocol: Protocol, seed: int, threads: int
) -> tuple[pd.DataFrame, dict[str, float]]:
    done = backtest_models(candidates, frame, protocol, seed, threads, parallel_backtests(threads))
    seconds = {cfg.name: spent for cfg, (_, spent) in zip(candidates, done, strict=True)}
    return pd.concat([rows for rows, _ in done], ignore_index=True), seconds


def _rescore_champion(
    registry: ModelRegistry, version: int, frame: pd.DataFrame, protocol: Protocol
) -> pd.DataFrame | None:
    """The champion's forecasts on this run's backtest, or None (logged) if it cannot be loaded."""
    try:
        model = registry.load(version=version)
        return score_predictor(model.predict, frame, protocol, f"champion_v{version}")
    except Exception as exc:  # a broken champion must not block a better challenger
        log.warning(
            "champion v%d could not be re-scored (%s: %s); the gate compares with its recorded backtest_wape",
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
    parts = []
    # An ensemble's model is a list of members: their gains are summed per feature name.
    for mlf in fitted.model if isinstance(fitted.model, list) else [fitted.model]:
        point = mlf.models_["point"]  # direct: one model per horizon step, the first is shown
        booster = estimators(point)[0].booster_
        parts.append(pd.Series(booster.feature_importance(importance_type="gain"), index=booster.feature_name()))
    return pd.concat(parts).groupby(level=0, sort=False).sum()


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
