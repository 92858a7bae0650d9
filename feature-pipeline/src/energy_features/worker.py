"""`feature-pipeline worker`: one long-lived process that runs `run --as-of H` on request.

Why a worker: a simulated hour used to launch `feature-pipeline run` as a fresh process, and
re-importing pandas, pyarrow, deltalake and pandera cost more than the ingest itself. The worker
pays that once, keeps its feature-store handle (and the store's cached table handles) warm, and
then ingests hour after hour. It is still the feature pipeline's own public entry point: the
caller (batch prediction's `simulate`) imports nothing from this package and passes no files: it
writes one JSON request per line on the worker's stdin and reads one JSON reply per line from its
stdout. The two services still meet only in the feature store.

Protocol (one JSON object per line, UTF-8):

    worker → {"ok": true, "ready": true, "pid": 123}                   once, when warm
    caller → {"command": "run", "as_of": "2023-01-18T00:00Z"}
    worker → {"ok": true, "as_of": "...", "consumption_rows": 76, "seconds": 0.41, "watermarks": {...}}
          or {"ok": false, "as_of": "...", "error": "EmptySourceWindow: ...", "seconds": 0.02}
    caller → {"command": "stop"}  (or closes stdin)                     the worker exits 0

A failed hour answers `ok: false` and the worker keeps serving: the run is all-or-nothing, so
nothing of that hour was written, and the caller decides whether to stop. Logs go to stderr;
stdout carries nothing but replies (anything else printing to stdout is redirected to stderr).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TextIO

from energy_core import worker_protocol
from energy_core.schemas import ENERGY_CONSUMPTION
from energy_features import pipeline
from energy_features.hours import iso_hour, parse_hour

log = logging.getLogger(__name__)

RunHour = Callable[[datetime], pipeline.IngestResult]


def handle(request: dict[str, Any], run_hour: RunHour) -> dict[str, Any]:
    """Answer one request; never raises for a bad request or a failed hour (the reply says why)."""
    command = request.get("command", "run")
    if command != "run":
        return {"ok": False, "error": f"unknown command {command!r}; expected 'run' or 'stop'"}
    raw = request.get("as_of")
    if not isinstance(raw, str):
        return {"ok": False, "error": f"'run' needs 'as_of' as an ISO-8601 UTC hour string; got {raw!r}"}
    started = time.perf_counter()
    try:
        as_of = parse_hour(raw)
        result = run_hour(as_of)
    except Exception as exc:  # one failed hour must not take the warm worker down
        log.error("run as of %s failed: %s", raw, exc)
        log.debug("%s", traceback.format_exc())
        return {"ok": False, "as_of": raw, "error": f"{type(exc).__name__}: {exc}",
                "seconds": round(time.perf_counter() - started, 4)}  # fmt: skip
    seconds = time.perf_counter() - started
    rows = result.rows_inserted(ENERGY_CONSUMPTION)
    log.info("run as of %s done in %.3f s: %d consumption row(s) new", iso_hour(as_of), seconds, rows)
    return {
        "ok": True,
        "as_of": iso_hour(as_of),
        "consumption_rows": rows,
        "new_series": result.new_series,
        "watermarks": {k: iso_hour(v) for k, v in result.watermarks.items()},
        "seconds": round(seconds, 4),
    }


def serve(requests: Iterable[str], replies: TextIO, run_hour: RunHour) -> int:
    """Answer requests line by line until `stop` or the end of input; returns the hours served."""
    return worker_protocol.serve(requests, replies, lambda request: handle(request, run_hour))


def main_loop(context: Callable[[], pipeline.PipelineContext]) -> int:
    """Run the worker on this process's stdin/stdout (the CLI's `worker` command)."""

    def warm_up() -> worker_protocol.Answer:
        ctx = context()
        return lambda request: handle(request, lambda as_of: pipeline.run(as_of, ctx))

    return worker_protocol.serve_stdio(warm_up)
