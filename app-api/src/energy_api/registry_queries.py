"""Model-registry reads through core's ModelRegistry, shaped for the API.

Why failures are funnelled into RegistryUnavailable here: the MLflow backend can fail with
errors core does not map (a locked SQLite file, a server timing out, an SQL error). At this
boundary any of them means "the registry cannot answer now", which the API reports as a 503 with
the reason instead of a 500 with a stack trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TypeVar

from energy_core.api_models import ModelTransition, ModelVersion
from energy_core.lifecycle import PROMOTED_AT_TAG, TransitionRefused, history
from energy_core.registry import (
    CHAMPION,
    ModelNotFound,
    ModelRegistry,
    ModelVersionInfo,
    RegistryError,
    RegistryUnavailable,
)

T = TypeVar("T")


@contextmanager
def registry_failures() -> Iterator[None]:
    """Re-raise any non-registry exception from the backend as RegistryUnavailable."""
    try:
        yield
    except (RegistryError, TransitionRefused):  # a refused transition is an answer (409), not a failure
        raise
    except Exception as exc:  # the backend's own error types are not part of core's interface
        raise RegistryUnavailable(f"model registry failed: {type(exc).__name__}: {exc}") from exc


def call(fn: Callable[[], T]) -> T:
    """Run one registry call under `registry_failures`."""
    with registry_failures():
        return fn()


def champion(registry: ModelRegistry) -> ModelVersionInfo | None:
    """The version behind the `champion` alias, None when none was promoted yet."""
    try:
        return call(lambda: registry.get(alias=CHAMPION))
    except ModelNotFound:
        return None


def parse_time(value: str | None) -> datetime | None:
    """An ISO-8601 tag value as aware UTC; None when absent or unreadable (tags are free text)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def to_model_version(info: ModelVersionInfo) -> ModelVersion:
    return ModelVersion(
        name=info.name,
        version=info.version,
        aliases=sorted(info.aliases),
        created_at=info.created_at if info.created_at.tzinfo else info.created_at.replace(tzinfo=UTC),
        model_family=info.model_family,
        approval=info.approval,
        metrics={name: _finite(float(value)) for name, value in sorted(info.metrics.items())},
        lineage=asdict(info.lineage) if info.lineage is not None else None,
        promoted_at=parse_time(info.tags.get(PROMOTED_AT_TAG)),
    )


def list_models(registry: ModelRegistry) -> list[ModelVersion]:
    """Every registered version, newest first."""
    versions = call(registry.list_versions)
    return [to_model_version(info) for info in sorted(versions, key=lambda v: v.version, reverse=True)]


def model_history(registry: ModelRegistry, version: int | None = None) -> list[ModelTransition]:
    """The lifecycle's audit trail (one version's, or every version's), oldest first."""
    return [ModelTransition.model_validate(t.as_dict()) for t in call(lambda: history(registry, version))]
