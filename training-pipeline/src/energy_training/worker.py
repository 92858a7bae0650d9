"""`training-pipeline worker`: one long-lived process that pins training datasets and trains on request.

Why a worker: a simulation retrains every day, and each `training-pipeline run` process paid its
imports (pandas, mlflow, lightgbm, mlforecast) and the MLflow store's start-up again, seconds per
retrain. The worker pays that once and keeps its feature-store and registry handles. It is still
the training pipeline's own public entry point: the caller (batch prediction's `simulate`) imports
nothing from this package and passes no files; it writes one JSON request per line on stdin and
reads one JSON reply per line from stdout. The services still meet only in the store and registry.

Why `pin` is a request of its own: it fixes the training data (`dataset.create` pins every table
version) at the moment the caller chooses, so the caller may then let `run` train on that dataset
version while it ingests later hours: the run reads exactly the pinned rows, whatever lands after.

Protocol (one JSON object per line, UTF-8):

    worker → {"ok": true, "ready": true, "pid": 123}                              once, when warm
    caller → {"command": "pin", "as_of": "2023-01-18T23:00Z"}
    worker → {"ok": true, "as_of": "...", "dataset_version": 3, "seconds": 0.4}
    caller → {"command": "run", "as_of": "...", "profile": "retrain", "dataset_version": 3,
              "now": "2023-01-19T00:00Z"}                 (dataset_version, now, threads: optional)
    worker → {"ok": true, "as_of": "...", "run_id": "...", "dataset_version": 3, "champion_version": 2,
              "registered": {"lightgbm_recursive": 2}, "decisions": {"lightgbm_recursive": "champion"},
              "tuning": null, "seconds": 14.2}
          or {"ok": false, "error": "ValueError: ...", "seconds": 0.02}
    caller → {"command": "stop"}  (or closes stdin)                               the worker exits 0

A profile is read from models.yaml on its first request and kept: every retrain of one simulation
trains the same configuration with the same (already imported) code, even if the file is edited
while the worker runs.

A failed request answers `ok: false` and the worker keeps serving (a training run registers at
most its winner and gates it; a run that failed before that left nothing the next one must undo,
and `recovery` cleans up after one that died mid-way). Logs go to stderr; stdout carries nothing
but replies.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import pandas as pd

from energy_core import worker_protocol
from energy_core.feature_store import FeatureStore
from energy_core.registry import ModelRegistry
from energy_core.settings import BacktestSettings, RegistrySettings, TrackingSettings
from energy_training import dataset, pipeline
from energy_training.config import Profile, load_profile
from energy_training.protocol import backtest_protocol, utc_hour

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerContext:
    """What stays warm between requests."""

    store: FeatureStore
    registry: ModelRegistry
    backtest: BacktestSettings
    registry_settings: RegistrySettings
    tracking: TrackingSettings
    threads: int = 2
    profiles: dict[str, Profile] = field(default_factory=dict)  # read once per worker, by name

    def profile(self, name: str) -> Profile:
        if name not in self.profiles:
            self.profiles[name] = load_profile(name)
        return self.profiles[name]


def pin(ctx: WorkerContext, request: dict[str, Any]) -> dict[str, Any]:
    """A new training dataset as of the request's hour; its version for a later `run`."""
    as_of = utc_hour(_text(request, "as_of"))
    meta = dataset.create(ctx.store, backtest_protocol(as_of, ctx.backtest))
    return {"as_of": _iso(as_of), "dataset_version": meta.version}


def run(ctx: WorkerContext, request: dict[str, Any]) -> dict[str, Any]:
    """`training-pipeline run` with the request's as-of, profile, dataset version and clock."""
    as_of = utc_hour(_text(request, "as_of"))
    version = request.get("dataset_version")
    if version is not None and not isinstance(version, int):
        raise ValueError(f"'dataset_version' must be an integer; got {version!r}")
    now_text = request.get("now")
    now = _aware(_text(request, "now")) if now_text is not None else None
    threads = request.get("threads", ctx.threads)
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"'threads' must be a positive integer; got {threads!r}")
    profile = ctx.profile(str(request.get("profile", "retrain")))
    result = pipeline.run(
        profile,
        ctx.store,
        ctx.registry,
        ctx.backtest,
        ctx.registry_settings,
        ctx.tracking,
        pipeline.RunOptions(as_of=as_of, dataset_version=version, threads=threads),
        (lambda: now) if now is not None else (lambda: datetime.now(UTC)),
    )
    return {
        "as_of": _iso(as_of),
        "profile": profile.name,
        "run_id": result.run_id,
        "dataset_version": result.dataset_version,
        "champion_version": result.champion_version,
        "registered": dict(result.registered),
        "decisions": {name: str(outcome.state) for name, outcome in result.decisions.items()},
        "tuning": result.tuning,
    }


Handler = Callable[[dict[str, Any]], dict[str, Any]]


def handle(request: dict[str, Any], handlers: dict[str, Handler]) -> dict[str, Any]:
    """Answer one request; never raises for a bad request or a failed run (the reply says why)."""
    command = request.get("command")
    if command not in handlers:
        return {"ok": False, "error": f"unknown command {command!r}; expected one of {sorted(handlers)} or 'stop'"}
    started = time.perf_counter()
    try:
        reply = handlers[command](request)
    except Exception as exc:  # one failed run must not take the warm worker down
        log.error("%s %s failed: %s", command, request.get("as_of"), exc)
        log.debug("%s", traceback.format_exc())
        return {"ok": False, "command": command, "error": f"{type(exc).__name__}: {exc}",
                "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
    seconds = time.perf_counter() - started
    log.info("%s as of %s done in %.1f s", command, reply.get("as_of"), seconds)
    return {"ok": True, "command": command, **reply, "seconds": round(seconds, 3)}


def serve(requests: Iterable[str], replies: TextIO, handlers: dict[str, Handler]) -> int:
    """Answer requests line by line until `stop` or the end of input; returns the requests served."""
    return worker_protocol.serve(requests, replies, lambda request: handle(request, handlers))


def main_loop(context: Callable[[], WorkerContext]) -> int:
    """Run the worker on this process's stdin/stdout (the CLI's `worker` command)."""

    def warm_up() -> worker_protocol.Answer:
        ctx = context()
        handlers: dict[str, Handler] = {"pin": lambda r: pin(ctx, r), "run": lambda r: run(ctx, r)}
        return lambda request: handle(request, handlers)

    return worker_protocol.serve_stdio(warm_up)


def _text(request: dict[str, Any], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be an ISO-8601 UTC hour string such as 2023-01-18T23:00Z; got {value!r}")
    return value


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"'now' {text!r} has no time zone; write e.g. 2023-01-17T23:00Z")
    return value.astimezone(UTC)


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%MZ")
