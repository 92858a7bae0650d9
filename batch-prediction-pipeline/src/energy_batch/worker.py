"""`batch-prediction-pipeline worker`: one long-lived process that runs `monitor --as-of H` on request.

Why a worker: `simulate` predicts H and monitors H after each ingest. As two threads of one process
they share one GIL, so on two cores they never truly ran in parallel (both are mostly Python and
pandas; measured: side by side 0.56 s, one after the other 0.55 s). Monitor in a process of its own
runs on the second core while predict runs in `simulate`, and the hour costs ingest + the longer of
the two. The worker keeps its imports, its store handle (and the store's cached table rows) and the
champion's training reference warm between hours.

It is batch prediction's own entry point (the caller is this service's `simulate`); requests and
replies are JSON lines on stdin/stdout, as `feature-pipeline worker` and `training-pipeline worker`:

    worker → {"ok": true, "ready": true, "pid": 123}                              once, when warm
    caller → {"command": "monitor", "as_of": "2023-01-18T00:00Z", "champion_version": 3,
              "table_versions": {"energy_consumption_v1": 812, ...}}
             (champion_version null: no champion, drift and error checks are skipped;
              table_versions optional: the feature tables as the hour's ingest left them, so the
              next hour's ingest may already run, see `pipeline.monitor`)
    worker → {"ok": true, "as_of": "...", "status": "ok", "monitored_rows": 1824, "seconds": 0.31}
          or {"ok": false, "as_of": "...", "error": "FeatureStoreError: ...", "seconds": 0.02}
    caller → {"command": "stop"}  (or closes stdin)                               the worker exits 0

Why the caller names the champion's version: with `--retrain-lag` the simulation keeps serving the
old champion while the registry's alias already names the new one, and monitor must check the
model that made the hour's forecasts, exactly as the in-process call did. A version's record
(lineage, backtest WAPE) never changes, so it is read from the registry once per version.

A failed hour answers `ok: false` and the worker keeps serving (every monitor write is an
idempotent upsert; the caller decides whether to stop). Logs go to stderr; stdout carries nothing
but replies (anything else printing to stdout is redirected to stderr).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from energy_batch.as_of import parse_hour
from energy_batch.console_scripts import iso
from energy_batch.forecast_errors import StoredScores
from energy_batch.health_checks import ReferenceCache
from energy_batch.pipeline import AlertPoster, monitor
from energy_batch.settings import BatchSettings
from energy_core import worker_protocol
from energy_core.feature_store import FeatureStore
from energy_core.registry import ModelRegistry, ModelVersionInfo
from energy_core.settings import AlertSettings

log = logging.getLogger(__name__)


@dataclass
class MonitorContext:
    """What stays warm between requests."""

    store: FeatureStore
    registry: ModelRegistry
    settings: BatchSettings
    thresholds: AlertSettings
    post_alert: AlertPoster | None = None
    references: ReferenceCache = field(default_factory=dict)
    scores: StoredScores = field(default_factory=StoredScores)  # last hour's rows and inputs: re-score only changes
    champions: dict[int, ModelVersionInfo] = field(default_factory=dict)  # a version's record never changes

    def champion(self, version: int | None) -> ModelVersionInfo | None:
        if version is None:
            return None
        if version not in self.champions:
            self.champions[version] = self.registry.get(version=version)
        return self.champions[version]


def handle(request: dict[str, Any], ctx: MonitorContext) -> dict[str, Any]:
    """Answer one request; never raises for a bad request or a failed hour (the reply says why)."""
    command = request.get("command")
    if command != "monitor":
        return {"ok": False, "error": f"unknown command {command!r}; expected 'monitor' or 'stop'"}
    raw, version, pins = request.get("as_of"), request.get("champion_version"), request.get("table_versions")
    if not isinstance(raw, str):
        return {"ok": False, "error": f"'monitor' needs 'as_of' as an ISO-8601 UTC hour string; got {raw!r}"}
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        return {"ok": False, "as_of": raw, "error": f"'champion_version' must be an integer or null; got {version!r}"}
    if pins is not None and not (
        isinstance(pins, dict)
        and all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in pins.items())
    ):
        error = f"'table_versions' must map table names to integer versions, or be null; got {pins!r}"
        return {"ok": False, "as_of": raw, "error": error}
    started = time.perf_counter()
    try:
        as_of = parse_hour(raw)
        result = monitor(ctx.store, ctx.champion(version), as_of, ctx.settings, ctx.thresholds, ctx.post_alert,
                         ctx.references, table_versions=pins, memory=ctx.scores)  # fmt: skip
    except Exception as exc:  # one failed hour must not take the warm worker down
        log.error("monitor as of %s failed: %s", raw, exc)
        log.debug("%s", traceback.format_exc())
        return {"ok": False, "as_of": raw, "error": f"{type(exc).__name__}: {exc}",
                "seconds": round(time.perf_counter() - started, 4)}  # fmt: skip
    return {
        "ok": True,
        "as_of": iso(as_of),
        "status": result.status,
        "monitored_rows": result.monitored_rows,
        "missing_rows": result.missing_rows,
        "alert_posted": result.alert_posted,
        "seconds": round(time.perf_counter() - started, 4),
    }


def serve(requests: Iterable[str], replies: TextIO, ctx: MonitorContext) -> int:
    """Answer requests line by line until `stop` or the end of input; returns the requests served."""
    return worker_protocol.serve(requests, replies, lambda request: handle(request, ctx))


def main_loop(context: Callable[[], MonitorContext]) -> int:
    """Run the worker on this process's stdin/stdout (the CLI's `worker` command)."""

    def warm_up() -> worker_protocol.Answer:
        ctx = context()
        return lambda request: handle(request, ctx)

    return worker_protocol.serve_stdio(warm_up)
