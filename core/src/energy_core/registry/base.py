"""The ModelRegistry interface: versions with lineage, aliases, load by alias or version.

Promotion and rollback are alias moves (`champion`, `challenger`), never code changes. The
backend is MLflow (see `mlflow_registry.py`); batch prediction and the API depend only on this
interface.
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

CHAMPION = "champion"
CHALLENGER = "challenger"
TRANSITION_LOCK_TIMEOUT_S = 30.0


class RegistryError(RuntimeError):
    """Base class for registry failures."""


class RegistryUnavailable(RegistryError):
    """The registry backend cannot be reached (server down, database missing or locked)."""


class ModelNotFound(RegistryError):
    """No such model, version or alias."""


@dataclass(frozen=True)
class Lineage:
    """Where a model came from: enough to rebuild its training data exactly."""

    feature_view: str
    feature_view_version: int
    training_dataset_version: int
    git_commit: str
    data_sha256: str
    as_of: datetime | None = None

    def to_tags(self) -> dict[str, str]:
        tags = {f"lineage.{k}": ("" if v is None else (v.isoformat() if isinstance(v, datetime) else str(v)))
                for k, v in asdict(self).items()}
        return tags

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Lineage | None:
        try:
            as_of = tags.get("lineage.as_of") or None
            return cls(
                feature_view=tags["lineage.feature_view"],
                feature_view_version=int(tags["lineage.feature_view_version"]),
                training_dataset_version=int(tags["lineage.training_dataset_version"]),
                git_commit=tags["lineage.git_commit"],
                data_sha256=tags["lineage.data_sha256"],
                as_of=datetime.fromisoformat(as_of) if as_of else None,
            )
        except (KeyError, ValueError):
            return None


class Predictor(Protocol):
    """What `load` returns: anything with a pyfunc-style `predict(frame)`."""

    def predict(self, data: pd.DataFrame) -> pd.DataFrame: ...


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    version: int
    aliases: list[str]
    created_at: datetime
    run_id: str | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    lineage: Lineage | None = None
    description: str = ""

    @property
    def model_family(self) -> str | None:
        return self.tags.get("model_family")

    @property
    def approval(self) -> str | None:
        """`approved`, `rejected`, `pending` or None (manual-approval mode off)."""
        return self.tags.get("approval")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelToRegister:
    """Everything needed to register one model version.

    `python_model` is an `mlflow.pyfunc.PythonModel` instance, or a path to a models-from-code
    file; `artifacts` maps names to local files the model loads in `load_context`; `code_paths`
    are shipped with the model so loading it never imports a service package.
    """

    python_model: Any
    input_example: pd.DataFrame
    pip_requirements: list[str]
    lineage: Lineage
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    code_paths: list[str] = field(default_factory=list)
    extra_files: dict[str, Path] = field(default_factory=dict)  # logged next to the model
    description: str = ""


class ModelRegistry(abc.ABC):
    @abc.abstractmethod
    def register(self, model: ModelToRegister, run_id: str | None = None) -> ModelVersionInfo:
        """Log the model (inside `run_id` when given, else a new run) and register a new version."""

    @abc.abstractmethod
    def get(self, version: int | None = None, alias: str | None = None) -> ModelVersionInfo:
        """One version, by number or alias. Raises ModelNotFound."""

    @abc.abstractmethod
    def list_versions(self) -> list[ModelVersionInfo]:
        """Every version, newest first; empty when nothing is registered yet."""

    @abc.abstractmethod
    def set_alias(self, alias: str, version: int) -> None:
        """Point `alias` at `version` (moving it if it pointed elsewhere)."""

    @abc.abstractmethod
    def delete_alias(self, alias: str) -> None:
        """Remove the alias; a no-op if it does not exist."""

    @abc.abstractmethod
    def set_tags(self, version: int, tags: dict[str, str]) -> None:
        """Add or overwrite tags on a version (approval state, backtest references...)."""

    @abc.abstractmethod
    def load(self, version: int | None = None, alias: str | None = None) -> Predictor:
        """Load a version's model for prediction. Raises ModelNotFound."""

    @abc.abstractmethod
    def check(self) -> None:
        """Raise RegistryUnavailable unless the backend answers."""

    @abc.abstractmethod
    def transition_lock(self, timeout_s: float = TRANSITION_LOCK_TIMEOUT_S) -> AbstractContextManager[None]:
        """Hold the registry's one transition lock (across threads and processes) for a block.

        Why: an approve, reject, rollback or promotion reads the champion, decides, then moves
        aliases and tags in several calls; two of them interleaved (the API approving while the
        CLI rejects) leave a state neither decided, e.g. the worse version as champion or a
        champion tagged `rejected`. Hold this around the whole read-decide-write sequence.
        Re-entrant within a thread. Raises RegistryUnavailable, naming the lock, when it cannot
        be taken within `timeout_s`.
        """
