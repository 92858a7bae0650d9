"""One lifecycle behind both doors: the same sequence of approvals and rejections, driven through
`training-pipeline` (the console script, one subprocess per command) on one registry and through
app-api (TestClient) on an identical copy, leaves identical registries: the same champion, aliases,
approval tags, lifecycle states and audit records (all but `who`, which names the door), and the
same answers. Nothing is mocked: real MLflow SQLite registries in temporary ENERGY_HOMEs.

The sequence holds each disagreement the review found between the old doors: approving a version
barely better than naive (0.089 vs 0.090), rolling back after an API approval, and rejecting the
champion (a rollback through either door) and the only champion (refused through either door).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from energy_api.app import create_app
from energy_core.feature_store import open_feature_store
from energy_core.lifecycle import state_of, transitions_of
from energy_core.registry import Lineage, ModelRegistry, ModelToRegister, open_registry
from energy_core.settings import ApiSettings, FeatureStoreSettings, RegistrySettings

pytestmark = pytest.mark.slow  # ~1 min: one `training-pipeline` process per command

API_KEY = "equivalence-test-key"
NOW = datetime(2023, 1, 17, 23, tzinfo=UTC)
NAIVE = 0.090
# (command, version): v1 0.070, v2 0.089 (not 15 % better than naive), v3 0.060, v4 0.050
SEQUENCE: list[tuple[str, int]] = [
    ("reject", 1),  # no champion yet: a plain rejection ...
    ("approve", 1),  # ... which an approval overrides: v1 champion (it passes the gate)
    ("approve", 2),  # refused by the gate from both doors: 0.089 vs naive 0.090
    ("reject", 1),  # the only champion: refused (exit 2 / 409), nothing changes
    ("approve", 3),  # v3 champion, v1 recorded as the previous one
    ("reject", 3),  # rejecting the champion rolls back to v1 from both doors
    ("approve", 4),  # v4 champion (previous v1)
    ("reject", 2),
    ("approve", 3),  # v3 rejected earlier; approved now, but 0.060 does not beat v4's 0.050
]


class ConstantModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return model_input


def registry_settings(home: Path) -> RegistrySettings:
    return RegistrySettings(ENERGY_HOME=home, MLFLOW_TRACKING_URI=None)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two ENERGY_HOMEs holding the same four versions (one registered, then copied)."""
    cli_home = tmp_path_factory.mktemp("cli") / "home"
    registry = open_registry(registry_settings(cli_home))
    lineage = Lineage("energy_forecasting", 1, 1, "abc", "0" * 64, NOW - timedelta(days=1))
    for wape in (0.070, 0.089, 0.060, 0.050):
        metrics = {"backtest_wape": wape, "naive24_backtest_wape": NAIVE}
        registry.register(
            ModelToRegister(ConstantModel(), pd.DataFrame({"x": [1.0]}), ["pandas"], lineage, metrics=metrics)
        )
    api_home = tmp_path_factory.mktemp("api") / "home"
    shutil.copytree(cli_home, api_home)
    return cli_home, api_home


def cli(home: Path, command: str, version: int, now: datetime) -> tuple[int, dict[str, Any] | str]:
    script = Path(sys.executable).with_name("training-pipeline")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env |= {"ENERGY_HOME": str(home), "ENERGY_MIN_GAIN_OVER_NAIVE": "0.15", "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        [str(script), command, str(version), "--now", now.isoformat()], capture_output=True, text=True, env=env,
        timeout=300, check=False,
    )  # fmt: skip
    if done.returncode == 0:
        return 0, json.loads(done.stdout.strip().splitlines()[-1])
    return done.returncode, done.stderr


def snapshot(registry: ModelRegistry) -> dict[int, dict[str, Any]]:
    """What serving depends on and what the audit trail says, minus `who` (it names the door)."""
    return {
        info.version: {
            "aliases": sorted(info.aliases),
            "approval": info.approval,
            "state": str(state_of(info)),
            "previous_champion": info.tags.get("previous_champion"),
            "audit": [{**t.as_dict(), "who": None} for t in transitions_of(info)],
        }
        for info in registry.list_versions()
    }


def test_the_same_sequence_through_the_cli_and_the_api_leaves_identical_registries(homes: tuple[Path, Path]) -> None:
    cli_home, api_home = homes
    clock_now = [NOW]
    app = create_app(
        ApiSettings(ENERGY_API_KEY=API_KEY),  # type: ignore[call-arg]
        lambda: open_feature_store(FeatureStoreSettings(ENERGY_HOME=api_home)),  # type: ignore[call-arg]
        lambda: open_registry(registry_settings(api_home)),
        min_gain_over_naive=0.15,
        clock=lambda: clock_now[0],
    )
    with TestClient(app) as client:
        for step, (command, version) in enumerate(SEQUENCE):
            clock_now[0] = NOW + timedelta(hours=step)
            code, cli_answer = cli(cli_home, command, version, clock_now[0])
            response = client.post(f"/api/v1/models/{version}/{command}", headers={"X-API-Key": API_KEY})
            if response.status_code == 409:
                assert code == 2 and "no earlier champion" in str(cli_answer), (step, cli_answer)
                continue
            assert (code, response.status_code) == (0, 200), (step, cli_answer, response.text)
            api_answer = response.json()
            assert isinstance(cli_answer, dict)
            for key in ("version", "aliases", "promoted", "reason", "approval"):
                assert cli_answer[key] == api_answer[key], (step, key, cli_answer, api_answer)
        api_history = client.get("/api/v1/models/history").json()
    cli_registry, api_registry = open_registry(registry_settings(cli_home)), open_registry(registry_settings(api_home))
    assert snapshot(cli_registry) == snapshot(api_registry)
    assert cli_registry.get(alias="champion").version == 4
    # the audit trail names each door, never the key, and carries the injected (simulated) times
    whos = {record["who"] for record in api_history}
    assert all(w.startswith("api-key:") for w in whos) and API_KEY not in json.dumps(api_history)
    assert {r["at"] for r in api_history} <= {
        (NOW + timedelta(hours=h)).isoformat().replace("+00:00", "Z") for h in range(len(SEQUENCE))
    }
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"} | {"ENERGY_HOME": str(cli_home)}
    printed = subprocess.run(
        [str(Path(sys.executable).with_name("training-pipeline")), "history", "--json"], capture_output=True, text=True,
        env=env, timeout=300, check=True,
    ).stdout  # fmt: skip
    cli_history = json.loads(printed)
    assert [{**r, "who": None} for r in cli_history] == [{**r, "who": None} for r in api_history]
    assert all(r["who"].startswith("cli:") for r in cli_history)
