"""The JSON-lines protocol every service's long-lived `worker` speaks (one place, shared by all).

`feature-pipeline worker`, `training-pipeline worker` and `batch-prediction-pipeline worker` each
stay up and answer one JSON request per line on stdin with one JSON reply per line on stdout, so
that `simulate` pays their imports once. What a request *does* is the service's own business (its
`handle`); how the lines are read and answered is the same everywhere and lives here:

    worker → {"ok": true, "ready": true, "pid": 123}     once, when its state is warm
    caller → {"command": ..., ...}                       answered by the service's handler
    worker → {"ok": true, ...} or {"ok": false, "error": "..."}
    caller → {"command": "stop"}  (or closes stdin)      the worker exits 0

An unreadable line is answered `ok: false` and the worker keeps serving. stdout carries nothing
but replies: `serve_stdio` points `sys.stdout` at stderr, so a stray print (a library's banner)
cannot corrupt the stream.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

log = logging.getLogger(__name__)

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def serve(requests: Iterable[str], replies: TextIO, answer: Answer) -> int:
    """Announce readiness, then answer requests line by line until `stop` or the end of input;
    returns the requests answered by `answer` (which must not raise for a failed request)."""
    reply(replies, {"ok": True, "ready": True, "pid": os.getpid()})
    served = 0
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError(f"expected a JSON object, got {type(request).__name__}")
        except ValueError as exc:
            reply(replies, {"ok": False, "error": f"unreadable request {line.strip()[:200]!r}: {exc}"})
            continue
        if request.get("command") == "stop":
            break
        reply(replies, answer(request))
        served += 1
    return served


def serve_stdio(warm_up: Callable[[], Answer]) -> int:
    """Serve on this process's stdin/stdout (a CLI's `worker` command): `warm_up` builds the
    service's state (store, registry, imports) before the ready line; returns the exit code 0.
    ENERGY_THREADS, when set, caps the worker's data libraries first (`energy_core.compute`)."""
    from energy_core.compute import limit_threads_from_settings  # pyarrow and duckdb: not for every importer

    replies = sys.stdout
    sys.stdout = sys.stderr
    threads = limit_threads_from_settings()
    if threads is not None:
        log.info("worker capped at %d thread(s) per data library (ENERGY_THREADS)", threads)
    answer = warm_up()
    served = serve(sys.stdin, replies, answer)
    log.info("worker stopping after %d request(s)", served)
    return 0


def reply(out: TextIO, payload: dict[str, Any]) -> None:
    out.write(json.dumps(payload, default=str) + "\n")
    out.flush()
