"""`training-pipeline` command line: run, worker, scorecard, approve, reject, rollback, history, registry sync.

Thin on purpose: parse arguments, load settings, open the store and registry, call the pipeline
or the lifecycle (`energy_core.lifecycle`, which app-api calls too: one rule behind both doors).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from energy_core.registry import ModelRegistry
    from energy_core.settings import RegistrySettings

# Must precede any OpenMP library load. LightGBM opens an OpenMP region per tree, so how idle threads
# wait decides its speed: libgomp's default (spin ~300k rounds) is ~10x slower on a loaded machine,
# OMP_WAIT_POLICY=PASSIVE (never spin) 4.5x slower on a quiet one; a short spin is the fastest in both
# (docs/performance.md: 150-tree fits, quiet 3.7 / 17.3 / 3.8 s, loaded 30.2 / 15.2 / 11.2 s).
os.environ.setdefault("GOMP_SPINCOUNT", "10000")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

log = logging.getLogger("energy_training")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="training-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="training dataset → backtest → tune → register → gate")
    run.add_argument("--as-of", help="last known hour, UTC (default: the latest hour in the store)")
    run.add_argument("--profile", default="full", help="profile in models.yaml: full (default), retrain, smoke, weak")
    run.add_argument("--dataset-version", type=int, help="reuse this training dataset (reproduces a run)")
    run.add_argument("--config", type=Path, help="a models.yaml to use instead of the package's")
    run.add_argument("--search-space", type=Path, help="a search_space.yaml to use instead of the package's")
    run.add_argument("--register-all", action="store_true", help="register every candidate, not only the best")
    run.add_argument(
        "--threads", type=_positive, help="CPU threads for model fitting (default: ENERGY_TRAINING_THREADS, 2)"
    )
    worker = sub.add_parser(
        "worker", help="stay up; pin datasets and run trainings asked for as JSON lines on stdin (see worker.py)"
    )
    worker.add_argument(
        "--threads", type=_positive, help="default CPU threads for model fitting (default: ENERGY_TRAINING_THREADS, 2)"
    )
    card = sub.add_parser("scorecard", help="the latest backtest table from the tracking server")
    card.add_argument("--json", action="store_true", help="print JSON instead of a table")
    run.add_argument("--now", type=_aware_time, help=NOW_HELP)
    lifecycle_commands = (
        ("approve", "approve a version: it becomes champion if it passes the gate"),
        ("reject", "reject a version (the champion: roll back to the previous one)"),
    )
    for name, text in lifecycle_commands:
        p = sub.add_parser(name, help=text)
        p.add_argument("version", type=int)
        p.add_argument("--now", type=_aware_time, help=NOW_HELP)
    back = sub.add_parser("rollback", help="move champion back to the version it replaced (or --to)")
    back.add_argument("--to", type=int, dest="to_version")
    back.add_argument("--now", type=_aware_time, help=NOW_HELP)
    history = sub.add_parser("history", help="the audit trail: every lifecycle transition (who, when, from, to, why)")
    history.add_argument("--version", type=int, help="only this version's transitions")
    history.add_argument(
        "--json", action="store_true", help="print JSON (the list GET /models/{version}/history serves)"
    )
    registry = sub.add_parser("registry", help="the model registry itself")
    registry_sub = registry.add_subparsers(dest="registry_command", required=True)
    sync = registry_sub.add_parser(
        "sync",
        help="name every difference between the Hopsworks registry and its MLflow mirror, then repair the mirror "
        "(ENERGY_MODEL_REGISTRY=hopsworks); exit 1 when --dry-run finds drift",
    )
    sync.add_argument("--dry-run", action="store_true", help="only report the differences, change nothing")
    sync.add_argument("--json", action="store_true", help="print JSON instead of lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # MLflow cannot describe a tz-aware datetime column, so its signature inference always fails on
    # the forecast contract and logs a long warning; the model is logged without an input schema.
    logging.getLogger("mlflow.models.signature").setLevel(logging.ERROR)
    from energy_core.lifecycle import TransitionRefused
    from energy_core.registry import ModelNotFound, RegistryUnavailable, open_registry
    from energy_core.settings import RegistrySettings, SettingsError, load

    try:
        registry_settings = load(RegistrySettings)
        registry = open_registry(registry_settings)
        if args.command == "run":
            return _run(args, registry, registry_settings)
        if args.command == "worker":
            return _worker(args, registry, registry_settings)
        if args.command == "scorecard":
            return _scorecard(args, registry, registry_settings)
        if args.command == "registry":
            return _registry_sync(args, registry)
        if args.command == "history":
            return _history(args, registry)
        return _transition(args, registry)
    except (SettingsError, ModelNotFound, RegistryUnavailable, TransitionRefused, ValueError) as exc:
        print(f"training-pipeline {args.command}: {exc}", file=sys.stderr)  # e.g. transition lock busy
        return 2


NOW_HELP = "the time recorded in the audit trail, ISO-8601 with zone (default: now); a simulation passes its own"


def _aware_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; write e.g. 2023-01-17T23:00Z")
    return value.astimezone(UTC)


def _clock(args: argparse.Namespace) -> Callable[[], datetime]:
    fixed: datetime | None = getattr(args, "now", None)
    return (lambda: fixed) if fixed is not None else (lambda: datetime.now(UTC))


def _who() -> str:
    """The person at the terminal, as the audit trail names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # a container user without a passwd entry
        return f"cli:uid-{os.getuid()}"


def _transition(args: argparse.Namespace, registry: ModelRegistry) -> int:
    """approve / reject / rollback: one lifecycle call, printed as the API answers it."""
    from energy_core.lifecycle import Lifecycle
    from energy_core.settings import BacktestSettings, load

    backtest = load(BacktestSettings)
    lifecycle = Lifecycle(registry, backtest.min_gain_over_naive, backtest.manual_approval, _clock(args))
    if args.command == "approve":
        outcome = lifecycle.approve(args.version, _who())
    elif args.command == "reject":
        outcome = lifecycle.reject(args.version, _who())
    else:
        outcome = lifecycle.rollback(_who(), args.to_version)
    payload = {
        "version": outcome.version,
        "state": str(outcome.state),
        "approval": outcome.approval,
        "aliases": outcome.aliases,
        "promoted": outcome.promoted,
        "reason": outcome.reason,
    }
    print(json.dumps(payload))
    return 0


def _history(args: argparse.Namespace, registry: ModelRegistry) -> int:
    from energy_core.api_models import ModelTransition
    from energy_core.lifecycle import history

    records = [ModelTransition.model_validate(t.as_dict()) for t in history(registry, args.version)]
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
        return 0
    for r in records:
        print(
            f"{r.at:%Y-%m-%d %H:%M}Z v{r.version} {r.from_state or '-'} -> {r.to_state} "
            f"by {r.who} ({r.operation}): {r.why}"
        )
    if not records:
        print("no transitions recorded yet")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


def _threads(args: argparse.Namespace) -> int:
    """--threads, else ENERGY_TRAINING_THREADS (default 2): one setting for every fit of a run."""
    from energy_training.models import default_threads

    return args.threads if args.threads is not None else default_threads()


def _run(args: argparse.Namespace, registry: ModelRegistry, registry_settings: RegistrySettings) -> int:
    from energy_core.feature_store import open_feature_store
    from energy_core.settings import BacktestSettings, TrackingSettings, load
    from energy_training import pipeline, scorecard
    from energy_training.config import load_profile
    from energy_training.protocol import utc_hour

    profile = load_profile(args.profile, args.config, args.search_space)
    options = pipeline.RunOptions(
        as_of=utc_hour(args.as_of) if args.as_of else None,
        dataset_version=args.dataset_version,
        register_all=args.register_all,
        threads=_threads(args),
    )
    result = pipeline.run(
        profile,
        open_feature_store(),
        registry,
        load(BacktestSettings),
        registry_settings,
        load(TrackingSettings),
        options,
        _clock(args),
    )
    payload = {
        "protocol": result.protocol.describe(),
        "models": json.loads(result.scorecard.to_json(orient="records")),
        "champion_version": result.champion_version,
        "champion_model": result.champion_model,
        "tuning": result.tuning,
        "gate": {
            n: f"v{result.registered[n]}: {'promoted' if d.promoted else d.state} - {d.reason}"
            for n, d in result.decisions.items()
        },
    }
    scorecard.render(payload, _console())
    return 0


def _worker(args: argparse.Namespace, registry: ModelRegistry, registry_settings: RegistrySettings) -> int:
    from energy_core.feature_store import open_feature_store
    from energy_core.settings import BacktestSettings, TrackingSettings, load
    from energy_training import worker

    def context() -> worker.WorkerContext:
        return worker.WorkerContext(
            open_feature_store(), registry, load(BacktestSettings), registry_settings, load(TrackingSettings),
            _threads(args),
        )  # fmt: skip

    return worker.main_loop(context)


def _scorecard(args: argparse.Namespace, registry: ModelRegistry, registry_settings: RegistrySettings) -> int:
    from energy_training import scorecard

    try:
        payload = scorecard.latest(registry_settings, registry)
    except scorecard.NoScorecard as exc:
        print(f"training-pipeline scorecard: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        scorecard.render(payload, _console())
    return 0


def _registry_sync(args: argparse.Namespace, registry: ModelRegistry) -> int:
    from energy_core.registry import RegistryError
    from energy_core.registry.mirrored import MirroredModelRegistry
    from energy_core.registry.sync import sync

    if not isinstance(registry, MirroredModelRegistry):
        print(
            "training-pipeline registry sync: the registry is MLflow alone, there is no mirror to sync; "
            "set ENERGY_MODEL_REGISTRY=hopsworks (with HOPSWORKS_HOST, HOPSWORKS_PROJECT, HOPSWORKS_API_KEY)",
            file=sys.stderr,
        )
        return 2
    try:
        differences = sync(registry, dry_run=args.dry_run)
    except RegistryError as exc:
        print(f"training-pipeline registry sync: {exc}", file=sys.stderr)
        return 2
    if args.json:
        payload = {"dry_run": args.dry_run, "differences": [d.to_dict() for d in differences]}
        print(json.dumps(payload, indent=2))
    else:
        verb = "differs" if args.dry_run else "repaired"
        for difference in differences:
            print(f"{verb}: {difference}")
        print(f"{len(differences)} difference(s) {'found' if args.dry_run else 'repaired'}")
    return 1 if args.dry_run and differences else 0


if __name__ == "__main__":
    raise SystemExit(main())


def _console() -> Console:
    """Wide enough for every metric column, also when output goes to a file or a CI log."""
    from rich.console import Console

    return Console(width=max(Console().width, 170))
