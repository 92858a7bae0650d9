"""A registry that writes to a primary and mirrors every write into an MLflow registry.

Why: with `ENERGY_MODEL_REGISTRY=hopsworks` the registry of record is Hopsworks' (its users see
models, lineage and serving candidates there), while MLflow stays where runs, scorecards and the
familiar model UI live. Every registration and transition lands in both:

- Reads (`get`, `list_versions`, `load`) come from the primary only: what serves is what the
  registry of record says.
- Writes go to the primary first; the primary's answer stands. The mirror then gets the same
  write, its version tagged `energy.primary_version` so the two are paired even if their numbers
  ever diverge. A mirror failure is logged as drift naming `training-pipeline registry sync`
  (which reports and repairs it, `sync.py`) instead of failing a write the primary already made:
  a retried registration would register twice, and a mirror outage must not stop promotions.
- Both sides name the same MLflow run: when the caller gives none, one is created first.
- `transition_lock` is the primary's lock (which `open_registry` wires to the mirror's MLflow
  lock, the one lock every host can see).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from energy_core.registry.base import (
    TRANSITION_LOCK_TIMEOUT_S,
    ModelRegistry,
    ModelToRegister,
    ModelVersionInfo,
    Predictor,
    RegistryError,
)
from energy_core.registry.hopsworks_registry import HopsworksModelRegistry
from energy_core.registry.mlflow_registry import METRIC_TAG_PREFIX, MlflowModelRegistry
from energy_core.settings import RegistrySettings

logger = logging.getLogger(__name__)

MIRROR_OF_TAG = "energy.primary_version"  # on a mirror version: the primary version it copies
ORPHAN_TAG = "energy.mirror_orphan"  # on a mirror version the primary does not have
MIRROR_SYSTEM_TAGS = frozenset({MIRROR_OF_TAG, ORPHAN_TAG})
SYNC_COMMAND = "training-pipeline registry sync"


class MirrorDrift(RegistryError):
    """The mirror could not be brought in line with the primary (see `sync`)."""


class MirroredModelRegistry(ModelRegistry):
    """Primary (Hopsworks) + MLflow mirror behind one ModelRegistry (see the module docstring)."""

    def __init__(
        self, primary: HopsworksModelRegistry, mirror: MlflowModelRegistry, settings: RegistrySettings
    ) -> None:
        self.primary = primary
        self.mirror = mirror
        self._settings = settings

    def __repr__(self) -> str:
        return f"MirroredModelRegistry(primary={self.primary!r}, mirror={self.mirror!r})"

    # ------------------------------------------------------------------ writes

    def register(self, model: ModelToRegister, run_id: str | None = None) -> ModelVersionInfo:
        if run_id is None:
            with self._drift("creating the registration's run"):
                run_id = self.mirror.create_run("registration")
        info = self.primary.register(model, run_id=run_id)
        with self._drift(f"registering version {info.version}"):
            self.mirror.register(replace(model, tags={**model.tags, MIRROR_OF_TAG: str(info.version)}), run_id=run_id)
        return info

    def set_alias(self, alias: str, version: int) -> None:
        self.primary.set_alias(alias, version)
        with self._drift(f"pointing alias {alias!r} at version {version}"):
            self.mirror.set_alias(alias, self._mirror_version(version))

    def delete_alias(self, alias: str) -> None:
        self.primary.delete_alias(alias)
        with self._drift(f"deleting alias {alias!r}"):
            self.mirror.delete_alias(alias)

    def set_tags(self, version: int, tags: dict[str, str]) -> None:
        self.primary.set_tags(version, tags)
        with self._drift(f"tagging version {version}"):
            self.mirror.set_tags(self._mirror_version(version), tags)

    # ------------------------------------------------------------------ reads

    def get(self, version: int | None = None, alias: str | None = None) -> ModelVersionInfo:
        return self.primary.get(version=version, alias=alias)

    def list_versions(self) -> list[ModelVersionInfo]:
        return self.primary.list_versions()

    def load(self, version: int | None = None, alias: str | None = None) -> Predictor:
        return self.primary.load(version=version, alias=alias)

    def check(self) -> None:
        """The primary only: serving reads nothing else, and mirror drift is `sync`'s business."""
        self.primary.check()

    @contextmanager
    def transition_lock(self, timeout_s: float = TRANSITION_LOCK_TIMEOUT_S) -> Iterator[None]:
        with self.primary.transition_lock(timeout_s):
            yield

    # ------------------------------------------------------------------ pairing and repair (used by sync)

    def mirror_versions_by_primary(self) -> tuple[dict[int, ModelVersionInfo], list[ModelVersionInfo]]:
        """Mirror versions keyed by the primary version they copy, and the unpaired rest."""
        return pair_mirror_versions(self.mirror.list_versions())

    def _mirror_version(self, version: int) -> int:
        paired, _ = self.mirror_versions_by_primary()
        if version not in paired:
            raise MirrorDrift(f"version {version} has no copy in the MLflow mirror; run `{SYNC_COMMAND}`")
        return paired[version].version

    def copy_into_mirror(self, info: ModelVersionInfo, model_dir: Path) -> int:
        """Register a primary version's model directory in the mirror, in a run of its own."""
        client = self._client()
        run_id = self.mirror.create_run(f"registry-sync v{info.version}", tags={MIRROR_OF_TAG: str(info.version)})
        tags = {**info.tags, MIRROR_OF_TAG: str(info.version)}
        if info.lineage is not None:
            tags.update(info.lineage.to_tags())
        tags.update({f"{METRIC_TAG_PREFIX}{name}": repr(float(value)) for name, value in info.metrics.items()})
        with self._mlflow_errors(f"copying version {info.version} into the mirror"):
            now_ms = int(time.time() * 1000)
            client.log_batch(
                run_id,
                metrics=[Metric(name, float(value), now_ms, 0) for name, value in info.metrics.items()],
                params=[Param(name, value) for name, value in info.params.items()],
            )
            client.log_artifacts(run_id, str(model_dir), artifact_path="model")
            client.set_terminated(run_id)
            source = f"{client.get_run(run_id).info.artifact_uri}/model"
            try:
                client.create_registered_model(self._settings.model_name)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            created = client.create_model_version(
                name=self._settings.model_name,
                source=source,
                run_id=run_id,
                tags=tags,
                description=info.description or None,
            )
        logger.info("copied primary version %d into the MLflow mirror as version %s", info.version, created.version)
        return int(created.version)

    def delete_mirror_tag(self, mirror_version: int, key: str) -> None:
        with self._mlflow_errors(f"deleting tag {key!r} of mirror version {mirror_version}"):
            self._client().delete_model_version_tag(self._settings.model_name, str(mirror_version), key)

    def set_mirror_description(self, mirror_version: int, description: str) -> None:
        with self._mlflow_errors(f"describing mirror version {mirror_version}"):
            self._client().update_model_version(self._settings.model_name, str(mirror_version), description)

    def _client(self) -> MlflowClient:
        self.mirror.check()  # opens (and re-roots) the store, or raises RegistryUnavailable
        return MlflowClient(
            tracking_uri=self._settings.resolved_tracking_uri,
            registry_uri=self._settings.registry_uri or self._settings.resolved_tracking_uri,
        )

    @contextmanager
    def _mlflow_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except (MlflowException, OSError) as exc:
            where = self._settings.resolved_tracking_uri
            raise MirrorDrift(f"the MLflow mirror at {where} failed {action}: {exc}") from exc

    @contextmanager
    def _drift(self, action: str) -> Iterator[None]:
        """Log a mirror failure as drift; the primary's write already happened and stands."""
        try:
            yield
        except RegistryError as exc:
            logger.error(
                "the MLflow mirror missed %s of %r (%s: %s); the Hopsworks registry has it. Run `%s` to repair",
                action,
                self._settings.model_name,
                type(exc).__name__,
                exc,
                SYNC_COMMAND,
            )


def pair_mirror_versions(
    mirror_versions: list[ModelVersionInfo],
) -> tuple[dict[int, ModelVersionInfo], list[ModelVersionInfo]]:
    """Pair each mirror version with the primary version in its `energy.primary_version` tag.

    A mirror version without the tag (written before mirroring existed) pairs by its own number
    unless a tagged version already claims that number; the rest are unpaired (orphans).
    """
    paired: dict[int, ModelVersionInfo] = {}
    untagged: list[ModelVersionInfo] = []
    for info in sorted(mirror_versions, key=lambda v: v.version):
        of = info.tags.get(MIRROR_OF_TAG)
        if of is not None and of.isdigit() and int(of) not in paired:
            paired[int(of)] = info
        else:
            untagged.append(info)
    orphans = []
    for info in untagged:
        if MIRROR_OF_TAG not in info.tags and info.version not in paired:
            paired[info.version] = info
        else:
            orphans.append(info)
    return paired, orphans


def open_mirrored(settings: RegistrySettings, project: object | None = None) -> MirroredModelRegistry:
    """Hopsworks primary + MLflow mirror, both sharing the mirror's transition lock."""
    mirror = MlflowModelRegistry(settings)
    primary = HopsworksModelRegistry(settings, project=project, transition_lock=mirror.transition_lock)
    return MirroredModelRegistry(primary, mirror, settings)


__all__ = [
    "MIRROR_OF_TAG",
    "MIRROR_SYSTEM_TAGS",
    "ORPHAN_TAG",
    "MirrorDrift",
    "MirroredModelRegistry",
    "open_mirrored",
    "pair_mirror_versions",
]
