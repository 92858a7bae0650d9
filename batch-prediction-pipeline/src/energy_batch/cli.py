"""`batch-prediction-pipeline`: predict | monitor | simulate | worker | status.

Thin on purpose: parse arguments, open the store and the registry, call `pipeline` or
`simulation`, print one line per outcome. Every failure the jobs know about (store or registry
unavailable, no champion, no data at the as-of hour, a model breaking the contract) ends with a
one-line message naming it and a non-zero exit code; nothing has been written by then.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import pandas as pd

from energy_batch.as_of import latest_known_hour, parse_hour
from energy_batch.champion import champion_info, load_champion
from energy_batch.exceptions import BatchError, NoChampion
from energy_batch.pipeline import AlertPoster, monitor, predict
from energy_batch.predict_report import REPORT_FILE
from energy_batch.service_workers import FeatureWorker, MonitorWorker, TrainingWorker
from energy_batch.settings import BatchSettings
from energy_batch.simulation import SimulationPlan, parse_every, simulate
from energy_batch.status import gather_status, render
from energy_batch.webhook import post_alert
from energy_batch.worker import MonitorContext, main_loop
from energy_core.compute import cap_hourly_processes
from energy_core.feature_store import FeatureStore, FeatureStoreError, open_feature_store
from energy_core.registry import ModelRegistry, RegistryError, open_registry
from energy_core.settings import AlertSettings, HomeSettings, SettingsError, load

PROG = "batch-prediction-pipeline"
EXIT_FAILED = 1
EXIT_NOTHING_YET = 3
EXIT_INTERRUPTED = 130
log = logging.getLogger(PROG)
T = TypeVar("T")


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Wrap a parser so argparse shows its message (argparse hides a plain ValueError's text)."""

    def wrapped(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    wrapped.__name__ = parse.__name__
    return wrapped


def build_parser() -> argparse.ArgumentParser:
    hour, every = _argument(parse_hour), _argument(parse_every)
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="forecast the next 24 h for every series with the champion")
    p.add_argument(
        "--as-of", type=hour, help="last known hour (default: newest in the store), e.g. 2023-01-17T22:00Z"
    )

    m = sub.add_parser("monitor", help="score stored forecasts against actuals; drift and alert checks")
    m.add_argument("--as-of", type=hour, help="last known hour (default: newest in the store)")

    s = sub.add_parser("simulate", help="walk the as-of clock hour by hour: ingest, predict, monitor, retrain")
    s.add_argument("--start", type=hour, required=True, help="first simulated as-of hour")
    s.add_argument("--end", type=hour, required=True, help="end of the window (exclusive)")
    s.add_argument("--retrain-every", type=every, default=24, help="e.g. 24h (default), 6h, 2d")
    s.add_argument(
        "--profile", default="retrain", help="training profile for scheduled retrains (models.yaml; default retrain)"
    )
    s.add_argument(
        "--retrain-lag",
        type=every,
        default=1,
        help="a retrain as of H serves from hour H + lag (default 1h: the next hour); a longer lag lets the "
        "training run behind the following hours, e.g. 24h",
    )
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    sub.add_parser(
        "worker",
        help="stay up and run `monitor` per JSON-lines request on stdin (what `simulate` drives; energy_batch.worker)",
    )

    t = sub.add_parser("status", help="latest forecast, champion, monitored WAPE, alert status")
    t.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _open() -> tuple[FeatureStore, ModelRegistry]:
    return open_feature_store(), open_registry()


def _poster(settings: BatchSettings, alerts: AlertSettings) -> AlertPoster | None:
    if alerts.webhook_url is None:
        return None
    return partial(post_alert, alerts.webhook_url.get_secret_value(), timeout_s=settings.webhook_timeout_s)


def _state_path() -> Path:
    return load(HomeSettings).path("state", "simulation.json")


def _report_path() -> Path:
    return load(HomeSettings).path("state", REPORT_FILE)


def cmd_predict(args: argparse.Namespace) -> int:
    settings = load(BatchSettings)
    store, registry = _open()
    champion = load_champion(registry)
    as_of = args.as_of or latest_known_hour(store)
    result = predict(store, champion, as_of, settings, _report_path())
    families = ", ".join(f"{family} {n}" for family, n in result.series_by_family.items()) or "none"
    print(
        f"predicted {result.series} series × {settings.horizon_hours} h as of {as_of.isoformat()} with "
        f"{champion.label}: {result.rows} rows ({result.rows_changed} new or changed), "
        f"predictions table v{result.table_version}; series by family: {families}"
        + (f"; {len(result.not_forecast)} series not forecast (see `status`)" if result.not_forecast else "")
    )
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    settings, alerts = load(BatchSettings), load(AlertSettings)
    store, registry = _open()
    registry.check()
    try:
        info = champion_info(registry)
    except NoChampion as exc:
        log.warning("%s: drift and error checks are skipped", exc)
        info = None
    as_of = args.as_of or latest_known_hour(store)
    result = monitor(store, info, as_of, settings, alerts, _poster(settings, alerts))
    print(
        f"monitored as of {as_of.isoformat()}: {result.monitored_rows} forecast rows over {result.hours} target hours "
        f"({result.missing_rows} with missing actuals); status {result.status}"
        + (f"; {result.parent_rows} parent-total rows" if result.parent_rows else "")
        + (" — retraining recommended" if result.retraining_recommended else "")
        + (f": {result.reason}" if result.status != "ok" else "")
    )
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    settings, alerts = load(BatchSettings), load(AlertSettings)
    plan = SimulationPlan(args.start, args.end, args.retrain_every, args.profile, args.retrain_lag)
    store, registry = _open()
    home = load(HomeSettings)
    # One warm worker per other service for the whole window: an hour's ingest then costs the ingest,
    # a retrain the training, not a Python start-up. A retrain's request waits on a thread of its own
    # (`trainer_thread`), so with --retrain-lag > 1 it trains while the following hours run. This
    # service's own monitor runs in a `batch-prediction-pipeline worker` beside this process, so
    # that it and predict use both cores (two threads of one process share the GIL).
    # The three are launched together and then waited for: their start-ups (imports, store) overlap.
    # The hourly processes (this one, the feature and monitor workers) each cap their data libraries'
    # threads (ENERGY_BATCH_HOURLY_THREADS, energy_core.compute): three of them share the cores.
    capped = cap_hourly_processes(settings.hourly_threads)
    features = FeatureWorker(home.path("logs", "feature-pipeline-worker.log"), env=capped)
    trainer = TrainingWorker(home.path("logs", "training-pipeline-worker.log"))
    monitoring = MonitorWorker(home.path("logs", "batch-prediction-worker.log"), env=capped)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="retrain") as trainer_thread, ExitStack() as workers:
        for worker in (features, trainer, monitoring):
            workers.callback(worker.stop)  # stopped on the way out, even one launched but never ready
            worker.launch()
        for worker in (features, trainer, monitoring):
            worker.start()

        def retrain(hour: pd.Timestamp, adopt_at: pd.Timestamp) -> Future[dict[str, Any]]:
            version = trainer.pin(hour)  # the data are fixed before the next hour is ingested
            return trainer_thread.submit(trainer.retrain, hour, plan.profile, version, adopt_at,
                                         settings.retrain_threads)

        summary = simulate(
            store,
            registry,
            plan,
            _state_path(),
            settings,
            alerts,
            ingest=features.ingest_hour,
            retrain=retrain,
            progress=not args.no_progress,
            predict_report_path=_report_path(),
            monitor_step=lambda hour, champion, versions: monitoring.monitor(hour, champion.version, versions),
        )
    print(render_summary(summary))
    return 0


def render_summary(summary: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2%}"

    lines = [
        f"simulated window: {summary.get('monitored_forecasts', 0)} monitored forecasts, "
        f"WAPE {pct(summary.get('window_wape'))}"
    ]
    for v in summary.get("versions", []):
        lines.append(
            f"  model v{v['model_version']}: simulated WAPE {pct(v['simulated_wape'])} over {v['monitored_forecasts']} "
            f"forecasts, backtest WAPE {pct(v['backtest_wape'])}"
        )
    champ = summary.get("champion")
    if isinstance(champ, dict):
        lines.append(
            f"champion v{champ['model_version']} ({champ.get('model_family') or 'unknown family'}): simulated WAPE "
            f"{pct(champ['simulated_wape'])} vs backtest WAPE {pct(champ['backtest_wape'])}"
        )
    return "\n".join(lines)


def cmd_worker(args: argparse.Namespace) -> int:
    def context() -> MonitorContext:
        settings, alerts = load(BatchSettings), load(AlertSettings)
        store, registry = _open()
        registry.check()
        return MonitorContext(store, registry, settings, alerts, _poster(settings, alerts))

    return main_loop(context)


def cmd_status(args: argparse.Namespace) -> int:
    store, registry = _open()
    registry.check()
    status = gather_status(store, registry, _state_path(), _report_path())
    print(json.dumps(status.to_dict(), indent=2) if args.json else render(status))
    return 0 if status.has_forecast else EXIT_NOTHING_YET


COMMANDS = {
    "predict": cmd_predict,
    "monitor": cmd_monitor,
    "simulate": cmd_simulate,
    "worker": cmd_worker,
    "status": cmd_status,
}


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM behaves like Ctrl-C: a running child step is killed and the saved progress stands."""
    raise KeyboardInterrupt(f"signal {signum}")


def configure_logging(level: str, command: str) -> None:
    """INFO to stderr for one-shot jobs; `simulate` keeps the console for its progress bar and
    writes its per-hour log to ENERGY_HOME/logs/batch-prediction.log instead."""
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handlers: list[logging.Handler] = []
    console = logging.StreamHandler(sys.stderr)
    if command == "simulate":
        console.setLevel(logging.WARNING)
        log_dir = load(HomeSettings).path("logs")
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_dir / "batch-prediction.log"))
    handlers.append(console)
    logging.basicConfig(level=level, format=fmt, handlers=handlers, force=True)
    for noisy in ("mlflow", "alembic", "urllib3", "httpx", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        configure_logging(args.log_level, args.command)
        signal.signal(signal.SIGTERM, _interrupt)
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted; progress so far is saved, run the same command to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except FeatureStoreError as exc:
        return _fail(args.command, f"feature store unavailable or refused: {exc}")
    except RegistryError as exc:
        return _fail(args.command, f"model registry unavailable or refused: {exc}")
    except (BatchError, SettingsError, ValueError) as exc:
        return _fail(args.command, str(exc))


def _fail(command: str, message: str) -> int:
    first, *rest = message.strip().splitlines() or [""]
    print(f"{PROG} {command}: error: {first}", file=sys.stderr)
    if rest:
        log.debug("\n".join(rest))
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
