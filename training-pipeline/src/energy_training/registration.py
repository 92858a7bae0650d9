"""Package a fitted model for the registry: bundle artifact, pinned requirements, lineage, tags.

The model is logged as MLflow models-from-code (`forecaster_model.py`, self-contained), so a
process that loads it imports pandas, numpy, mlflow and the model library, never this package.
Requirements are pinned explicitly from the installed versions: letting MLflow infer them costs
~15 s per registration and can pick up the whole environment.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from energy_core.registry import Lineage, ModelToRegister
from energy_training import forecaster_model
from energy_training.forecaster_model import FittedForecaster, save_bundle

MODEL_CODE = Path(forecaster_model.__file__)
_BASE_REQUIREMENTS = ("mlflow", "pandas", "numpy", "pyarrow")
_ENGINE_REQUIREMENTS = {
    # scikit-learn: mlforecast's target transforms (log, diff) need it when the model is loaded.
    "mlforecast": ("mlforecast", "lightgbm", "coreforecast", "utilsforecast", "scikit-learn"),
    "neuralforecast": ("neuralforecast", "torch", "lightning", "utilsforecast"),
    "seasonal_naive": (),
}


@dataclass(frozen=True)
class Candidate:
    """A model refitted on all data up to T, with its backtest metrics, ready to register."""

    name: str
    fitted: FittedForecaster
    metrics: dict[str, float]
    params: dict[str, str]


def pip_requirements(engine: str) -> list[str]:
    """`name==version` for what loading and predicting with `engine` needs, as installed now."""
    names = (*_BASE_REQUIREMENTS, *_ENGINE_REQUIREMENTS.get(engine, ()))
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


def model_to_register(
    candidate: Candidate,
    lineage: Lineage,
    input_example: pd.DataFrame,
    workdir: Path,
    tags: dict[str, str],
    extra_metrics: dict[str, float],
    extra_files: dict[str, Path],
    description: str,
) -> ModelToRegister:
    bundle = save_bundle(candidate.fitted, workdir / f"bundle_{candidate.name}")
    engine = str(candidate.fitted.extra.get("engine", "seasonal_naive"))
    return ModelToRegister(
        python_model=str(MODEL_CODE),
        input_example=input_example,
        pip_requirements=pip_requirements(engine),
        lineage=lineage,
        params=candidate.params,
        metrics={**{f"backtest_{k}": v for k, v in candidate.metrics.items()}, **extra_metrics},
        tags={"model_family": candidate.fitted.family, **tags},
        artifacts={"forecaster": str(bundle)},
        extra_files=extra_files,
        description=description,
    )
