"""`feature-pipeline`: run | backfill | stats | worker. Thin: parse, build the context, call the pipeline.

The simulation drives one long-lived `worker` (JSON lines on stdin/stdout, see `worker.py`) rather
than a `run` process per simulated hour; this module still imports only what those commands need
(no meteostat unless the API weather source is chosen, no MLflow).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from energy_core.feature_store import FeatureStoreError, open_feature_store
from energy_core.schemas import ENERGY_CONSUMPTION
from energy_core.settings import DataSourceSettings, SettingsError, load
from energy_features import pipeline
from energy_features.extract import open_sources
from energy_features.extract.eds_client import EdsError
from energy_features.hours import floor_hour, iso_hour, parse_hour
from energy_features.stats import format_table, group_statistics
from energy_features.transform.columns import MissingColumnError
from energy_features.windows import WindowPolicy

log = logging.getLogger("energy_features")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.command(args))
    except (SettingsError, FeatureStoreError, EdsError, MissingColumnError, FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 1


def _context() -> pipeline.PipelineContext:
    settings = load(DataSourceSettings)
    policy = WindowPolicy(
        reread_hours=settings.reread_hours,
        initial_history_hours=settings.initial_history_hours,
        calendar_ahead_hours=settings.calendar_ahead_hours,
        publication_lag_hours=settings.publication_lag_hours,
    )
    return pipeline.PipelineContext(
        store=open_feature_store(),
        sources=open_sources(settings),
        policy=policy,
        home=settings.home,
        now=lambda: datetime.now(UTC),
    )


def _run(args: argparse.Namespace) -> int:
    ctx = _context()
    as_of = args.as_of or floor_hour(ctx.now()) - timedelta(hours=1)
    result = pipeline.run(as_of, ctx)
    log.info(
        "run as of %s done: %d consumption row(s) new; watermarks %s",
        iso_hour(as_of),
        result.rows_inserted(ENERGY_CONSUMPTION),
        {k: iso_hour(v) for k, v in result.watermarks.items()},
    )
    return 0


def _backfill(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    ctx = _context()
    results = pipeline.backfill(
        args.start,
        args.end,
        ctx,
        chunk=timedelta(days=args.chunk_days),
        progress=lambda plans: tqdm(plans, desc="backfill", unit="chunk", disable=args.no_progress),
    )
    inserted = sum(r.rows_inserted(ENERGY_CONSUMPTION) for r in results)
    missing = sum(r.continuity.missing_count for r in results)
    log.info(
        "backfill [%s, %s) done: %d chunk(s), %d consumption row(s) new, %d missing hour(s) reported",
        iso_hour(args.start), iso_hour(args.end), len(results), inserted, missing,
    )  # fmt: skip
    return 0


def _stats(args: argparse.Namespace) -> int:
    rows = group_statistics(open_feature_store())
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print(format_table(rows))
    return 0


def _worker(args: argparse.Namespace) -> int:
    from energy_features.worker import main_loop

    return main_loop(_context)


def _hour(text: str) -> datetime:
    """argparse type: a UTC hour, with parse_hour's message when it is not one."""
    try:
        return parse_hour(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feature-pipeline", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(required=True, metavar="command")

    run = sub.add_parser("run", help="ingest the hours that are new as of an hour (incremental)")
    run.add_argument("--as-of", type=_hour, default=None,
                     help="last known hour, ISO-8601 UTC (default: the last complete hour now)")  # fmt: skip
    run.set_defaults(command=_run)

    fill = sub.add_parser("backfill", help="ingest the hours start <= t < end, in chunks")
    fill.add_argument("--start", type=_hour, required=True, help="first hour, ISO-8601 UTC")
    fill.add_argument("--end", type=_hour, required=True, help="end hour (exclusive), ISO-8601 UTC")
    fill.add_argument("--chunk-days", type=float, default=7.0, help="days per all-or-nothing chunk")
    fill.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    fill.set_defaults(command=_backfill)

    stats = sub.add_parser("stats", help="row count, key count and event-time range per feature group")
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.set_defaults(command=_stats)

    worker = sub.add_parser(
        "worker", help="stay up and run `run --as-of H` for each JSON line on stdin (used by simulate)"
    )
    worker.set_defaults(command=_worker)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
