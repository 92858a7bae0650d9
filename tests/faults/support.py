"""Helpers of the fault-injection suite: run a console script, kill it at a seeded random point,
and describe an ENERGY_HOME (store rows, watermarks, registry) so two homes can be compared.

The services are driven only through their console scripts in subprocesses (services never
import each other, tests included); the homes are read back through `energy_core`, the one
package every service shares.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from energy_core.feature_store import FeatureStore, open_feature_store
from energy_core.registry import CHAMPION, ModelVersionInfo, open_registry
from energy_core.schemas import FEATURE_GROUPS, SERIES, FeatureGroupSpec
from energy_core.settings import FeatureStoreSettings, RegistrySettings

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODELS_YAML = Path(__file__).with_name("models.yaml")
PROFILE = "faults"

# Columns that hold the wall-clock time of the write, not data: a re-run after a kill writes them
# later than the reference run did, so they are left out of the comparison (and only they).
WALL_CLOCK_COLUMNS: dict[str, tuple[str, ...]] = {SERIES.name: ("registered_at",)}
# The watermarks file is the feature pipeline's resumable state (feature-pipeline README).
WATERMARKS = Path("state") / "feature_pipeline_watermarks.json"
# The tag recovery.py and the pipeline set once the gate has decided on a version.
GATE_TAG = "gate"


def snapshot_dir() -> Path | None:
    """The real data directory, or None when it is not beside the repository."""
    raw = os.environ.get("ENERGY_SNAPSHOT_DIR", str(REPO.parent / "shared" / "data"))
    path = Path(raw).expanduser().resolve()
    return path if any(path.glob("consumption_de35_hour_*.parquet")) else None


def pipeline_env(home: Path, snapshot: Path, **extra: str) -> dict[str, str]:
    """The environment of a console script writing into `home` from the `snapshot` directory."""
    env = dict(os.environ)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "ENERGY_FEATURE_STORE", "ENERGY_SOURCE"):
        env.pop(name, None)
    env.update(
        ENERGY_HOME=str(home),
        ENERGY_SNAPSHOT_DIR=str(snapshot),
        MLFLOW_DISABLE_TELEMETRY="true",
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        # Two origins instead of seven: the backtest is the same code, each training takes seconds.
        ENERGY_BACKTEST_ORIGINS="2",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@dataclass(frozen=True)
class Command:
    """One console-script invocation: argv (script first), the snapshot it reads, extra variables."""

    argv: tuple[str, ...]
    snapshot: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return " ".join(self.argv)

    def popen(self, home: Path, log: Path) -> subprocess.Popen[bytes]:
        """Start in its own process group, so a kill reaches every child (e.g. wandb's service)."""
        with log.open("ab") as out:
            return subprocess.Popen(
                [str(BIN / self.argv[0]), *self.argv[1:]],
                env=pipeline_env(home, self.snapshot, **self.extra_env),
                cwd=home,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def run_captured(command: Command, home: Path, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `command` with its output in memory (for a home whose disk may be full), whatever its exit code."""
    return subprocess.run(
        [str(BIN / command.argv[0]), *command.argv[1:]],
        env=pipeline_env(home, command.snapshot, **command.extra_env),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def run_to_completion(command: Command, home: Path, timeout_s: float = 600) -> float:
    """Run `command` against `home`; fail the test with its output unless it exits 0. Returns seconds."""
    log = home / "logs" / "faults.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    process = command.popen(home, log)
    try:
        code = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(process)
        pytest.fail(f"{command.label} did not finish within {timeout_s:.0f} s\n{tail(log)}")
    if code != 0:
        pytest.fail(f"{command.label} exited {code}\n{tail(log)}")
    return time.monotonic() - started


@dataclass(frozen=True)
class Kill:
    """Where a kill landed: after how many seconds, and the last line the process had logged."""

    seed: int
    after_s: float
    finished_first: bool
    last_line: str

    def __str__(self) -> str:
        where = "finished before the kill" if self.finished_first else f"last log line {self.last_line!r}"
        return f"seed {self.seed}: SIGKILL after {self.after_s:.2f} s ({where})"


def kill_at_random_point(command: Command, home: Path, seed: int, reference_s: float) -> Kill:
    """Start `command`, SIGKILL its process group after a seeded random fraction of `reference_s`.

    The fraction is drawn from [0.1, 0.9] of the uninterrupted run's measured duration, so the
    seed decides the point (up to the machine's load) and the kill lands inside the run, not
    before it starts; `Kill.finished_first` says when the run ended before the kill anyway."""
    log = home / "logs" / "faults.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    after_s = random.Random(seed).uniform(0.1, 0.9) * reference_s
    process = command.popen(home, log)
    try:
        process.wait(timeout=after_s)
        finished = True
    except subprocess.TimeoutExpired:
        finished = False
        kill_group(process)
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return Kill(seed, after_s, finished, lines[-1][:300] if lines else "")


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group and reap the leader (so its pid is really gone)."""
    with contextlib.suppress(ProcessLookupError):  # the group already ended on its own
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no output)"


def copy_home(source: Path, target: Path) -> Path:
    """A copy of a finished home; the registry re-roots its artifact paths when it is opened."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("faults.log", "locks"))
    return target


@dataclass(frozen=True)
class BuiltHome:
    """A home finished by uninterrupted runs, and how long its last command took."""

    path: Path
    seconds: float


@dataclass(frozen=True)
class RevisedSnapshot:
    """A copy of the snapshot in which the source has revised its last hours (conftest.revised_snapshot).

    `revised` holds the new values in the store's columns (area, consumer_type, datetime_utc,
    energy_consumption_kwh), `original` the values they replace."""

    directory: Path
    revised: pd.DataFrame
    original: pd.DataFrame


# ------------------------------------------------------------------------------ reading a home


def store_of(home: Path) -> FeatureStore:
    settings = FeatureStoreSettings.model_validate({"ENERGY_HOME": str(home), "ENERGY_FEATURE_STORE": "embedded"})
    return open_feature_store(settings)


def group_rows(store: FeatureStore, group: FeatureGroupSpec, version: int | None = None) -> pd.DataFrame:
    """Every row of a group, wall-clock columns dropped, sorted by the remaining key, fresh index."""
    frame = store.read(group, version=version)
    dropped = WALL_CLOCK_COLUMNS.get(group.name, ())
    frame = frame.drop(columns=list(dropped))
    key = [c for c in group.key if c not in dropped]
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


def store_contents(home: Path) -> dict[str, pd.DataFrame]:
    """Every feature group that exists in `home`, as `group_rows` returns it."""
    store = store_of(home)
    return {g.name: group_rows(store, g) for g in FEATURE_GROUPS if store.exists(g)}


def watermarks(home: Path) -> dict[str, str]:
    path = home / WATERMARKS
    return dict(json.loads(path.read_text())) if path.exists() else {}


def assert_same_store(actual_home: Path, reference_home: Path, context: str) -> None:
    """Identical rows in every feature group (exact values), and identical watermarks."""
    actual, reference = store_contents(actual_home), store_contents(reference_home)
    assert sorted(actual) == sorted(reference), f"{context}: feature groups differ"
    for name, expected in reference.items():
        try:
            pd.testing.assert_frame_equal(actual[name], expected, check_exact=True)
        except AssertionError as exc:
            message = f"{context}: feature group {name!r} differs from the uninterrupted run\n{exc}"
            raise AssertionError(message) from exc
    assert watermarks(actual_home) == watermarks(reference_home), f"{context}: watermarks differ"


@dataclass(frozen=True)
class RegistryState:
    """What a kill must not corrupt: the champion's numbers and data, unfinished runs, ungated versions."""

    champion_metrics: dict[str, float]
    champion_data_sha256: str | None
    champion_model_config: str | None
    running_runs: list[str] = field(default_factory=list)
    ungated_versions: list[int] = field(default_factory=list)


def registry_state(home: Path) -> RegistryState:
    settings = RegistrySettings.model_validate({"ENERGY_HOME": str(home)})
    versions = open_registry(settings).list_versions()
    champion: ModelVersionInfo | None = next((v for v in versions if CHAMPION in v.aliases), None)
    client = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    running = client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'", max_results=1000)
    return RegistryState(
        champion_metrics=dict(champion.metrics) if champion else {},
        champion_data_sha256=champion.lineage.data_sha256 if champion and champion.lineage else None,
        champion_model_config=champion.tags.get("model_config") if champion else None,
        running_runs=sorted(f"{r.info.run_id} ({r.info.run_name})" for r in running),
        ungated_versions=sorted(v.version for v in versions if GATE_TAG not in v.tags),
    )


# ------------------------------------------------------------------------------ the commands under test

FIRST_HOUR, END = "2022-12-21T16:00Z", "2023-01-24T23:00Z"  # the whole snapshot, [start, end)
LAST_HOUR = "2023-01-24T22:00Z"  # the snapshot's last known hour
TRAIN_AS_OF = "2023-01-23T22:00Z"


def backfill_command(snapshot: Path) -> Command:
    """The whole snapshot in the default 7-day chunks: five commits per group for a kill to land
    between or inside (smaller chunks multiply the per-chunk cost, not the kill points that matter)."""
    return Command(("feature-pipeline", "backfill", "--start", FIRST_HOUR, "--end", END, "--no-progress"), snapshot)


def run_command(snapshot: Path) -> Command:
    return Command(("feature-pipeline", "run", "--as-of", LAST_HOUR), snapshot)


def train_command(snapshot: Path) -> Command:
    return Command(
        ("training-pipeline", "run", "--as-of", TRAIN_AS_OF, "--profile", PROFILE, "--config", str(MODELS_YAML)),
        snapshot,
    )


def predict_command(snapshot: Path) -> Command:
    return Command(("batch-prediction-pipeline", "predict", "--as-of", LAST_HOUR), snapshot)
