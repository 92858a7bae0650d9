"""Approvals and rejections racing each other from two processes end in the state the rules say.

Two long-lived worker processes (as the API and the training CLI would be) each hold their own
registry client over the same SQLite registry; every try resets the aliases, writes one command to
both workers back to back and waits for both answers. Without the registry's transition lock the
read-decide-write sequences interleave: the issue saw the worse version end up champion, and a
champion tagged `rejected`. Nothing is mocked: real MLflow SQLite registry, real lifecycle code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from energy_core.registry import CHALLENGER, CHAMPION, ModelRegistry, open_registry

from .conftest import _register, home_settings

pytestmark = pytest.mark.slow  # ~1-3 min: two worker processes and 100 real registry round trips
TRIES = 50
MIN_GAIN = 0.15

# One approve/reject per input line, answered with one JSON line (the result or the refusal).
WORKER = """
import json, sys
from pathlib import Path
from energy_api.approval import approve, reject
from energy_core.lifecycle import Lifecycle, TransitionRefused
from energy_core.registry import open_registry
from energy_core.settings import RegistrySettings

registry = open_registry(RegistrySettings(ENERGY_HOME=Path(sys.argv[1]), MLFLOW_TRACKING_URI=None))
registry.check()
lifecycle = Lifecycle(registry, float(sys.argv[2]))
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    command, version = line.split()
    try:
        if command == "approve":
            result = approve(lifecycle, int(version), "race-test")
        else:
            result = reject(lifecycle, int(version), "race-test")
        print(result.model_dump_json(), flush=True)
    except TransitionRefused as exc:
        print(json.dumps({"refused": str(exc)}), flush=True)
"""


class Worker:
    def __init__(self, home: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(home), str(MIN_GAIN)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert json.loads(self.read()) == {"ready": True}

    def send(self, command: str, version: int) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command} {version}\n")
        self.process.stdin.flush()

    def read(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"worker exited with {self.process.wait()}"
        return line

    def answer(self) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.read())
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModelRegistry, list[Worker], int]]:
    """A registry with v1 champion, v2 a passing challenger, v3 failing the gate and v4 better than
    v2 (no feature store: approval never reads it), and two worker processes over it. Shared by
    the module's tests (each try resets the aliases) because registering and starting cost ~30 s."""
    home = tmp_path_factory.mktemp("approval_race")
    registry = open_registry(home_settings(home)[1])
    for wape in (0.10, 0.08, 0.19):
        _register(registry, wape=wape, naive=0.20, approval="pending")
    best = _register(registry, wape=0.06, naive=0.20, approval="pending")
    workers = [Worker(home), Worker(home)]
    try:
        yield registry, workers, best
    finally:
        for worker in workers:
            worker.close()


def reset(registry: ModelRegistry, *pending: int) -> None:
    registry.set_alias(CHAMPION, 1)
    registry.set_alias(CHALLENGER, 2)
    for version in pending:
        registry.set_tags(version, {"approval": "pending"})


def test_two_concurrent_approvals_always_leave_the_better_version_champion(
    race: tuple[ModelRegistry, list[Worker], int],
) -> None:
    registry, (first, second), best = race
    for attempt in range(TRIES):
        reset(registry, 2, best)
        pair = [(first, 2), (second, best)] if attempt % 2 else [(first, best), (second, 2)]
        for worker, version in pair:
            worker.send("approve", version)
        answers = {version: worker.answer() for worker, version in pair}
        champion = registry.get(alias=CHAMPION).version
        assert champion == best, f"try {attempt}: champion is v{champion}, answers {answers}"
        assert answers[best]["promoted"], f"try {attempt}: v{best} beats v1 and v2 whatever the order: {answers}"


def test_concurrent_approve_and_reject_of_one_version_never_leave_a_rejected_champion(
    race: tuple[ModelRegistry, list[Worker], int],
) -> None:
    registry, (first, second), _ = race
    for attempt in range(TRIES):
        reset(registry, 2)
        approver, rejecter = (first, second) if attempt % 2 else (second, first)
        approver.send("approve", 2)
        rejecter.send("reject", 2)
        approved, rejected = approver.answer(), rejecter.answer()
        champion = registry.get(alias=CHAMPION)
        # Either serial order is legal, and nothing in between: approve first (v2 champion), then
        # the rejection rolls back to v1 and v2 ends rejected; or reject first, and the later
        # approval overrides it: v2 champion and approved.
        assert champion.approval != "rejected", f"try {attempt}: a rejected champion: {approved} / {rejected}"
        assert approved["promoted"], f"try {attempt}: {approved}"
        if champion.version == 1:
            assert registry.get(version=2).approval == "rejected", f"try {attempt}: {approved} / {rejected}"
            assert "rolled back to v1" in rejected["reason"]
        else:
            assert (champion.version, champion.approval) == (2, "approved"), f"try {attempt}: {approved} / {rejected}"
