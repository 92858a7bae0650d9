"""The other services' steps, run as subprocesses of their console scripts.

Services never import each other: the simulation drives the feature and training pipelines exactly
as an operator or a scheduler would, and they meet batch prediction only in the feature store and
the registry. The child inherits the environment, so it sees the same ENERGY_HOME.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from energy_batch.exceptions import StepFailed

log = logging.getLogger(__name__)


def script_path(name: str) -> str:
    """The console script beside this interpreter (the same venv), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise StepFailed(f"console script {name!r} not found beside {sys.executable} or on PATH; install it")
    return found


def run_script(name: str, *args: str, timeout_s: float | None = None) -> None:
    """Run a console script to completion; StepFailed with its last output lines if it fails."""
    command = [script_path(name), *args]
    log.info("running %s %s", name, " ".join(args))
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise StepFailed(f"`{name} {' '.join(args)}` exited {result.returncode}:\n{tail}")


def ingest_hour(as_of: pd.Timestamp) -> None:
    """`feature-pipeline run --as-of H`: the hour's consumption, weather and calendar land."""
    run_script("feature-pipeline", "run", "--as-of", iso(as_of))


def iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%MZ")
