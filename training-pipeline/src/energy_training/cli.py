"""`training-pipeline` command line: run, scorecard, approve, reject, rollback.

Thin on purpose: parse arguments, load settings, open the store and registry, call the pipeline.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from energy_core.registry import ModelRegistry
    from energy_core.settings import RegistrySettings

# Must precede any OpenMP library load: busy-waiting OpenMP threads make LightGBM ~10x slower on a
# shared, loaded machine; passive waiting costs nothing when the machine is idle.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
    run.add_argument("--threads", type=int, default=2, help="CPU threads for model fitting (default 2)")
    card = sub.add_parser("scorecard", help="the latest backtest table from the tracking server")
    card.add_argument("--json", action="store_true", help="print JSON instead of a table")
    for name, text in (("approve", "approve a version: it becomes champion"), ("reject", "reject a version")):
        p = sub.add_parser(name, help=text)
        p.add_argument("version", type=int)
    back = sub.add_parser("rollback", help="move champion back to the version it replaced (or --to)")
    back.add_argument("--to", type=int, dest="to_version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # MLflow cannot describe a tz-aware datetime column, so its signature inference always fails on
    # the forecast contract and logs a long warning; the model is logged without an input schema.
    logging.getLogger("mlflow.models.signature").setLevel(logging.ERROR)
    from energy_core.registry import ModelNotFound, RegistryUnavailable, open_registry
    from energy_core.settings import RegistrySettings, SettingsError, load

    try:
        registry_settings = load(RegistrySettings)
        registry = open_registry(registry_settings)
        if args.command == "run":
            return _run(args, registry, registry_settings)
        if args.command == "scorecard":
            return _scorecard(args, registry, registry_settings)
        from energy_training import promotion

        now = lambda: datetime.now(UTC)  # noqa: E731
        if args.command == "approve":
            info = promotion.approve(registry, args.version, now)
        elif args.command == "reject":
            info = promotion.reject(registry, args.version)
        else:
            info = promotion.rollback(registry, now, args.to_version)
        print(json.dumps({"version": info.version, "approval": info.approval, "aliases": info.aliases}))
        return 0
    except (SettingsError, ModelNotFound, RegistryUnavailable, ValueError) as exc:  # e.g. transition lock busy
        print(f"training-pipeline {args.command}: {exc}", file=sys.stderr)
        return 2


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
        threads=args.threads,
    )
    result = pipeline.run(
        profile,
        open_feature_store(),
        registry,
        load(BacktestSettings),
        registry_settings,
        load(TrackingSettings),
        options,
    )
    payload = {
        "protocol": result.protocol.describe(),
        "models": json.loads(result.scorecard.to_json(orient="records")),
        "champion_version": result.champion_version,
        "champion_model": result.champion_model,
        "tuning": result.tuning,
        "gate": {
            n: f"v{result.registered[n]}: {'promoted' if d.promote else 'not promoted'} - {d.reason}"
            for n, d in result.decisions.items()
        },
    }
    scorecard.render(payload, _console())
    return 0


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


if __name__ == "__main__":
    raise SystemExit(main())


def _console() -> Console:
    """Wide enough for every metric column, also when output goes to a file or a CI log."""
    from rich.console import Console

    return Console(width=max(Console().width, 170))
