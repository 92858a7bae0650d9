"""Benchmark the MLflow model registry (embedded SQLite): register, alias, get, list, load.

Prints the median (and min/max) wall time of several repetitions of each operation, in a fresh
ENERGY_HOME under a temporary directory, with a tiny seasonal-naive pyfunc model (the one the
registry tests use). The first registration also creates the SQLite schema, so it is reported
separately as `first register (creates schema)`.

    .venv/bin/python bench/bench_registry.py [--repetitions 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from energy_core.registry import CHAMPION, Lineage, ModelToRegister
from energy_core.registry.mlflow_registry import MlflowModelRegistry
from energy_core.settings import RegistrySettings

MODEL_SOURCE = Path(__file__).resolve().parents[1] / "core" / "tests" / "seasonal_naive_model.py"


def _model_module() -> Any:
    spec = importlib.util.spec_from_file_location(MODEL_SOURCE.stem, MODEL_SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _input_frame() -> pd.DataFrame:
    hours = pd.date_range("2024-01-01", periods=216, freq="h", tz="UTC")
    label = 500 + 100 * np.sin(2 * np.pi * np.arange(len(hours)) / 24)
    label[192:] = np.nan
    return pd.DataFrame({"area": "DK1", "consumer_type": "111", "datetime_utc": hours, "energy_consumption_kwh": label})


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    module = _model_module()
    frame = _input_frame()
    model = ModelToRegister(
        python_model=module.SeasonalNaive(24),
        input_example=frame,
        pip_requirements=[f"mlflow=={mlflow.__version__}", f"pandas=={pd.__version__}"],
        lineage=Lineage("energy_forecasting", 1, 1, "0" * 40, "0" * 64, datetime(2024, 1, 8, tzinfo=UTC)),
        metrics={"backtest_wape": 0.1},
        tags={"model_family": "seasonal_naive"},
        code_paths=[str(MODEL_SOURCE)],
    )
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as home:
        settings = RegistrySettings(ENERGY_HOME=Path(home), MLFLOW_TRACKING_URI=None, MLFLOW_REGISTRY_URI=None)
        registry = MlflowModelRegistry(settings)
        timings = {"first register (creates schema)": [_timed(lambda: registry.register(model))]}
        registry.set_alias(CHAMPION, 1)
        operations: dict[str, Callable[[], object]] = {
            "register": lambda: registry.register(model),
            "set_alias": lambda: registry.set_alias(CHAMPION, 1),
            "get(alias)": lambda: registry.get(alias=CHAMPION),
            "list_versions": registry.list_versions,
            "load(alias)": lambda: registry.load(alias=CHAMPION),
            "load + predict 24 h": lambda: registry.load(alias=CHAMPION).predict(frame),
            "check": registry.check,
        }
        for name, operation in operations.items():
            timings[name] = [_timed(operation) for _ in range(args.repetitions)]
        versions = len(registry.list_versions())
    print(f"MLflow {mlflow.__version__}, embedded SQLite, {args.repetitions} repetitions, {versions} versions at end")
    print(f"{'operation':<34}{'median s':>10}{'min s':>10}{'max s':>10}")
    for name, values in timings.items():
        print(f"{name:<34}{statistics.median(values):>10.3f}{min(values):>10.3f}{max(values):>10.3f}")


if __name__ == "__main__":
    main()
