"""Long-lived workers of the other services, driven over pipes (JSON lines on stdin/stdout).

Why: `simulate` used to launch `feature-pipeline run --as-of H` as a fresh process every hour, and
the re-imports (pandas, pyarrow, deltalake, pandera) cost more than the ingest. `feature-pipeline
worker` pays that once and keeps its store handle warm; this module starts it from the console
script beside this interpreter and asks it for one hour at a time. Services still never import
each other and pass no files: the worker is the feature pipeline's own public entry point, and the
two services meet only in the feature store, as before.

The worker's log (stderr) goes to a file, so a failure's message can quote its last lines and the
simulation's progress bar keeps the console.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import pandas as pd

from energy_batch.console_scripts import iso, script_path
from energy_batch.exceptions import StepFailed

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


class ServiceWorker:
    """One `<script> worker` child: start it, send requests, read replies, stop it.

    Use as a context manager: the child is stopped (politely, then killed) on the way out,
    including on Ctrl-C or SIGTERM, so an interrupted simulation leaves no orphan.
    """

    def __init__(
        self, script: str, log_path: Path, command: list[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        """`command` replaces `[<script beside this interpreter>, "worker"]` (tests pass their own);
        `env` adds to this process's environment for the child (a thread cap, `energy_core.compute`)."""
        self.script = script
        self.log_path = log_path
        self.command = command
        self.env = env
        self.startup_s: float | None = None  # set once the child said it is ready
        self._launched_at = 0.0
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def launch(self) -> Self:
        """Launch the child without waiting for it to warm up (`start` waits), so that several
        workers import their libraries at the same time; a no-op when it is already running."""
        if self._process is not None:
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("a", encoding="utf-8")
        self._launched_at = time.perf_counter()
        self._process = subprocess.Popen(
            self.command or [script_path(self.script), "worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1,
            env={**os.environ, **self.env} if self.env else None,
        )  # fmt: skip
        return self

    def start(self) -> Self:
        """Launch the child (unless `launch` did) and wait for its `ready` line (its imports and
        store are warm then)."""
        self.launch()
        if self.startup_s is not None:
            return self
        ready = self._read_reply("start-up")
        if not ready.get("ready"):
            raise StepFailed(f"{self.script} worker did not announce itself ready; it said {ready}")
        self.startup_s = time.perf_counter() - self._launched_at
        log.info("%s worker pid %s ready in %.2f s", self.script, ready.get("pid"), self.startup_s)
        return self

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one request and return the reply; StepFailed if the reply says `ok: false` or the
        worker died (with the last lines of its log)."""
        process = self._require()
        assert process.stdin is not None
        what = json.dumps(payload)
        try:
            process.stdin.write(what + "\n")
            process.stdin.flush()
        except BrokenPipeError as exc:
            raise StepFailed(self._died(f"request {what}")) from exc
        reply = self._read_reply(f"request {what}")
        if not reply.get("ok"):
            raise StepFailed(f"`{self.script} worker` refused {what}: {reply.get('error', reply)}")
        return reply

    def stop(self) -> None:
        """Ask the child to stop, then terminate and kill it if it does not within STOP_TIMEOUT_S."""
        process, self._process = self._process, None
        self.startup_s = None
        if process is not None:
            try:
                if process.poll() is None and process.stdin is not None:
                    process.stdin.write(json.dumps({"command": "stop"}) + "\n")
                    process.stdin.close()
                process.wait(timeout=STOP_TIMEOUT_S)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                process.terminate()
                try:
                    process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            finally:
                if process.stdout is not None:
                    process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _require(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise StepFailed(f"{self.script} worker is not running; start() it first")
        return self._process

    def _read_reply(self, what: str) -> dict[str, Any]:
        process = self._require()
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise StepFailed(self._died(what))
        try:
            reply = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StepFailed(f"{self.script} worker answered {what} with a non-JSON line {line[:200]!r}") from exc
        if not isinstance(reply, dict):
            raise StepFailed(f"{self.script} worker answered {what} with {reply!r}, not a JSON object")
        return reply

    def _died(self, what: str) -> str:
        process = self._require()
        try:
            code = process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
        if self._log is not None:
            self._log.flush()
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        tail = "\n".join(lines)
        return f"`{self.script} worker` exited ({code}) during {what}; last lines of {self.log_path}:\n{tail}"


class FeatureWorker(ServiceWorker):
    """`feature-pipeline worker`: ingest one as-of hour per request."""

    def __init__(self, log_path: Path, env: dict[str, str] | None = None) -> None:
        super().__init__("feature-pipeline", log_path, env=env)

    def ingest_hour(self, as_of: pd.Timestamp) -> None:
        """Like `feature-pipeline run --as-of H`, in the warm worker; StepFailed if it fails."""
        reply = self.request({"command": "run", "as_of": iso(as_of)})
        log.info("ingested %s in %.3f s (%s consumption rows new)", iso(as_of), reply.get("seconds", float("nan")),
                 reply.get("consumption_rows"))  # fmt: skip


class TrainingWorker(ServiceWorker):
    """`training-pipeline worker`: pin a training dataset, then train on it (energy_training.worker).

    The two steps are separate requests so that `simulate` can fix a retrain's data before the
    next hour is ingested and let the training itself run while later hours go on (`retrain`
    blocks; the simulation calls it on a thread of its own).
    """

    def __init__(self, log_path: Path) -> None:
        super().__init__("training-pipeline", log_path)

    def pin(self, as_of: pd.Timestamp) -> int:
        """A training dataset of every hour <= `as_of`, its table versions pinned; its version."""
        reply = self.request({"command": "pin", "as_of": iso(as_of)})
        version = reply.get("dataset_version")
        if not isinstance(version, int):
            raise StepFailed(f"training-pipeline worker pinned {iso(as_of)} without a dataset version: {reply}")
        return version

    def retrain(
        self, as_of: pd.Timestamp, profile: str, dataset_version: int, now: pd.Timestamp, threads: int | None = None
    ) -> dict[str, Any]:
        """Like `training-pipeline run --as-of H --dataset-version N --profile P --now T [--threads K]`,
        in the warm worker; the run's gate decides promotion and the audit trail records `now`."""
        request: dict[str, Any] = {"command": "run", "as_of": iso(as_of), "profile": profile,
                                   "dataset_version": dataset_version, "now": iso(now)}  # fmt: skip
        if threads is not None:
            request["threads"] = threads
        reply = self.request(request)
        log.info("retrained as of %s in %.1f s: registered %s, champion v%s", iso(as_of), reply.get("seconds", 0.0),
                 reply.get("registered"), reply.get("champion_version"))  # fmt: skip
        return reply


class MonitorWorker(ServiceWorker):
    """`batch-prediction-pipeline worker`: this service's own monitor, in a process of its own.

    Not another service: `simulate` runs monitor H here so that it truly runs beside predict H on
    the second core (two threads of one process share the GIL; energy_batch.worker says why).
    """

    def __init__(self, log_path: Path, env: dict[str, str] | None = None) -> None:
        super().__init__("batch-prediction-pipeline", log_path, env=env)

    def monitor(
        self, as_of: pd.Timestamp, champion_version: int | None, table_versions: dict[str, int] | None = None
    ) -> dict[str, Any]:
        """Like `monitor(store, <that version's record>, as_of, ..., table_versions=...)` in process;
        StepFailed if it fails."""
        reply = self.request({"command": "monitor", "as_of": iso(as_of), "champion_version": champion_version,
                              "table_versions": table_versions})  # fmt: skip
        log.info("monitored %s in %.3f s: %s rows, status %s", iso(as_of), reply.get("seconds", float("nan")),
                 reply.get("monitored_rows"), reply.get("status"))  # fmt: skip
        return reply
