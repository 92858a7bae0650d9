"""Revision under load: ten readers query app-api while `feature-pipeline run` rewrites 1,824
values the source revised (the last 24 h of all 76 series, raised by 1 %). Every answer must be
200, during the rewrite and after it, and afterwards both the store and the API return the
revised values.

Why: a Delta MERGE once rewrote files with string_view columns, after which every filtered read
failed with ArrowNotImplementedError and /forecasts answered 500 for ever. Nothing is mocked:
the real app-api (uvicorn, through its console script) on a free loopback port, the real feature
pipeline in a subprocess, both on a copy of a home built by the real pipelines.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from energy_core.schemas import ENERGY_CONSUMPTION

from .support import (
    BuiltHome,
    Command,
    RevisedSnapshot,
    copy_home,
    kill_group,
    run_command,
    run_to_completion,
    store_of,
    tail,
)

pytestmark = pytest.mark.slow

READERS = 10
WATCHED = ("DK1", "111")  # the series whose history is polled until the API shows the revision
PATHS = (
    f"/api/v1/forecasts/{WATCHED[0]}/{WATCHED[1]}?history_hours=48",
    "/api/v1/forecasts/DK2/999?history_hours=48",
    "/api/v1/areas/DK1/overview",
    "/api/v1/areas/DK2/overview",
)
AFTER_REVISION_REQUESTS = 25  # per reader, once the API serves the revised values
MAX_REQUESTS = 5_000  # per reader: the loop is bounded by count ...
DEADLINE_S = 600.0  # ... and capped by time
REQUEST_TIMEOUT_S = 60.0


@dataclass
class Reader:
    """One reader thread's tally: every answer's status (or exception name), and a few bodies."""

    index: int
    answers: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    after_revision: int = 0

    @property
    def requests(self) -> int:
        return sum(self.answers.values())


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def read_until_told(reader: Reader, port: int, started: threading.Event, revised: threading.Event) -> None:
    """GET the paths in turn until AFTER_REVISION_REQUESTS answers after `revised` (or a bound hits)."""
    deadline = time.monotonic() + DEADLINE_S
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    while reader.requests < MAX_REQUESTS and time.monotonic() < deadline:
        if revised.is_set():
            if reader.after_revision >= AFTER_REVISION_REQUESTS:
                break
            reader.after_revision += 1
        path = PATHS[(reader.index + reader.requests) % len(PATHS)]
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            outcome = str(response.status)
            if response.status != 200 and len(reader.failures) < 5:
                reader.failures.append(f"{path} -> {response.status}: {body[:300]!r}")
        except (OSError, http.client.HTTPException) as exc:
            outcome = type(exc).__name__
            if len(reader.failures) < 5:
                reader.failures.append(f"{path} -> {exc!r}")
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        reader.answers[outcome] += 1
        started.set()
    connection.close()


def start_api(home: Path, snapshot: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = Command(("app-api", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"), snapshot)
    process = command.popen(home, log)
    for _ in range(240):  # up to ~2 min on a loaded machine
        if process.poll() is not None:
            pytest.fail(f"app-api exited {process.returncode} during start-up\n{tail(log)}")
        try:
            if get(port, "/api/v1/health")[0] == 200:
                return process
        except OSError:
            pass
        time.sleep(0.5)
    kill_group(process)
    pytest.fail(f"app-api did not answer /api/v1/health within 2 minutes\n{tail(log)}")


def stop_api(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        kill_group(process)


def history_values(port: int, since: pd.Timestamp) -> dict[pd.Timestamp, float]:
    status, body = get(port, PATHS[0])
    assert status == 200, f"{PATHS[0]} answered {status}: {body[:300]!r}"
    points = json.loads(body)["history"]
    values = {pd.Timestamp(p["datetime_utc"]): p["energy_consumption_kwh"] for p in points}
    return {t: v for t, v in values.items() if t >= since}


def test_readers_get_200_throughout_a_revision_and_then_the_revised_values(
    predicted_home: BuiltHome, revised_snapshot: RevisedSnapshot, tmp_path: Path
) -> None:
    home = copy_home(predicted_home.path, tmp_path / "home")
    revised = revised_snapshot.revised
    assert len(revised) == 1_824  # 24 h x 76 series
    first_revised = revised["datetime_utc"].min()
    area, consumer_type = WATCHED
    watched = revised[(revised["area"] == area) & (revised["consumer_type"] == consumer_type)]
    expected_watched = dict(zip(watched["datetime_utc"], watched["energy_consumption_kwh"], strict=True))

    port = free_port()
    api = start_api(home, revised_snapshot.directory, port, tmp_path / "app-api.log")
    readers = [Reader(i) for i in range(READERS)]
    started = [threading.Event() for _ in readers]
    revision_served = threading.Event()
    threads = [
        threading.Thread(target=read_until_told, args=(r, port, s, revision_served), daemon=True)
        for r, s in zip(readers, started, strict=True)
    ]
    try:
        assert history_values(port, first_revised) != expected_watched, "the home already holds the revision"
        for thread in threads:
            thread.start()
        for event in started:
            assert event.wait(timeout=120), "a reader got no answer within 2 minutes"
        run_to_completion(run_command(revised_snapshot.directory), home)
        # The API sees a new table version within its version-probe interval; poll, bounded.
        for _ in range(120):
            if history_values(port, first_revised) == expected_watched:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"after the run, {PATHS[0]} still does not show the revised values")
        revision_served.set()
        for thread in threads:
            thread.join(timeout=DEADLINE_S)
    finally:
        revision_served.set()
        stop_api(api)

    answers = sum((r.answers for r in readers), Counter())
    failures = [f for r in readers for f in r.failures]
    assert set(answers) == {"200"}, f"non-200 answers {dict(answers)}; first ones:\n" + "\n".join(failures)
    short = [r.index for r in readers if r.after_revision < AFTER_REVISION_REQUESTS]
    assert not short, f"readers {short} stopped (a bound hit) before {AFTER_REVISION_REQUESTS} post-revision requests"

    stored = store_of(home).read(ENERGY_CONSUMPTION, start=first_revised.to_pydatetime())
    stored = stored.sort_values(["area", "consumer_type", "datetime_utc"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        stored[list(revised.columns)].astype({"area": str, "consumer_type": str}),
        revised.astype({"datetime_utc": stored["datetime_utc"].dtype}),
        check_exact=True,
    )
