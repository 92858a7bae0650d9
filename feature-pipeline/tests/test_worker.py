"""`feature-pipeline worker`: one JSON reply per JSON request line, warm across hours.

The protocol tests drive `serve` in process with a stand-in for `pipeline.run` (a mock: it records
the hours it is asked for and fails on one), so they check the protocol, not ingestion. The slow
test runs the real console script as a child process over the real snapshot, as `simulate` does.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import ENERGY_CONSUMPTION
from energy_features.pipeline import IngestResult
from energy_features.worker import serve


class RecordingRun:
    """Mock of `pipeline.run`: records each as-of hour and raises for `fail_at`."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.hours: list[datetime] = []
        self.fail_at = fail_at

    def __call__(self, as_of: datetime) -> IngestResult:
        self.hours.append(as_of)
        if self.fail_at and as_of.isoformat().startswith(self.fail_at):
            raise ValueError("the source delivered nothing for this hour")
        return IngestResult(plan=None, inserts=[], continuity=None, watermarks={"energy_consumption": as_of},  # type: ignore[arg-type]
                            new_series=[])  # fmt: skip


def _serve(lines: list[str], run: RecordingRun) -> list[dict[str, object]]:
    out = io.StringIO()
    serve(iter(lines), out, run)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_worker_announces_ready_then_answers_each_hour_in_order() -> None:
    run = RecordingRun()
    replies = _serve(['{"command": "run", "as_of": "2023-01-18T00:00Z"}\n', '{"as_of": "2023-01-18T01:00Z"}\n'], run)
    assert replies[0]["ready"] is True
    assert [r["as_of"] for r in replies[1:]] == ["2023-01-18T00:00:00Z", "2023-01-18T01:00:00Z"]
    assert all(r["ok"] for r in replies)
    assert [h.hour for h in run.hours] == [0, 1]


def test_a_failed_hour_is_answered_with_its_reason_and_the_worker_keeps_serving() -> None:
    run = RecordingRun(fail_at="2023-01-18T01")
    replies = _serve(['{"as_of": "2023-01-18T01:00Z"}\n', '{"as_of": "2023-01-18T02:00Z"}\n'], run)
    assert replies[1]["ok"] is False
    assert "ValueError: the source delivered nothing" in str(replies[1]["error"])
    assert replies[2]["ok"] is True and replies[2]["as_of"] == "2023-01-18T02:00:00Z"


def test_bad_requests_are_refused_naming_what_was_expected_and_nothing_is_run() -> None:
    run = RecordingRun()
    replies = _serve(["not json\n", "[1]\n", '{"command": "fly"}\n', '{"as_of": 5}\n',
                      '{"as_of": "2023-01-18T00:30Z"}\n', "\n"], run)  # fmt: skip
    errors = [str(r["error"]) for r in replies[1:]]
    assert len(errors) == 5 and not any(r["ok"] for r in replies[1:])
    assert "unreadable request" in errors[0] and "expected a JSON object" in errors[1]
    assert "unknown command 'fly'" in errors[2] and "ISO-8601 UTC hour string" in errors[3]
    assert "not on the hour" in errors[4]
    assert run.hours == []


def test_stop_ends_the_worker_before_later_requests() -> None:
    run = RecordingRun()
    replies = _serve(['{"command": "stop"}\n', '{"as_of": "2023-01-18T00:00Z"}\n'], run)
    assert len(replies) == 1 and run.hours == []


@pytest.mark.slow
def test_the_worker_process_ingests_hour_after_hour_like_run_does(
    real_snapshot: Path, home: Path, store: EmbeddedFeatureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENERGY_SNAPSHOT_DIR", str(real_snapshot))
    monkeypatch.setenv("ENERGY_SOURCE", "snapshot")
    monkeypatch.delenv("ENERGY_FEATURE_STORE", raising=False)
    script = Path(sys.executable).parent / "feature-pipeline"
    requests = "".join(json.dumps({"as_of": f"2023-01-20T0{h}:00Z"}) + "\n" for h in range(3)) + '{"command": "stop"}\n'
    done = subprocess.run([str(script), "worker"], input=requests, capture_output=True, text=True, timeout=600,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    replies = [json.loads(line) for line in done.stdout.splitlines()]  # stdout holds replies only
    assert replies[0]["ready"] is True and all(r["ok"] for r in replies)
    assert [r["as_of"] for r in replies[1:]] == [f"2023-01-20T0{h}:00:00Z" for h in range(3)]
    leaves = store.read(ENERGY_CONSUMPTION)
    assert str(leaves["datetime_utc"].max()) == "2023-01-20 02:00:00+00:00"
    assert leaves.groupby("datetime_utc").size().tail(3).tolist() == [76, 76, 76]
