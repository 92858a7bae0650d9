"""Compare the primary registry with its MLflow mirror, name every difference, repair the mirror.

Why a separate step: the mirrored registry never fails a write the primary already made (see
`mirrored.py`), so a mirror outage leaves drift behind; and anyone with MLflow access can move an
alias by hand. `compare` is pure (two lists of versions in, named differences out) so it can be
tested and printed as is; `sync` applies the repairs, always copying primary → mirror, never
the other way. Compared per version: presence, metrics, tags, lineage, description; per alias:
the version it points at. Run ids and params are not compared: a repaired copy lives in a run
of its own.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from energy_core.registry.base import ModelVersionInfo
from energy_core.registry.mirrored import (
    MIRROR_OF_TAG,
    MIRROR_SYSTEM_TAGS,
    ORPHAN_TAG,
    MirroredModelRegistry,
    pair_mirror_versions,
)
from energy_core.registry.mlflow_registry import METRIC_TAG_PREFIX

logger = logging.getLogger(__name__)

Kind = Literal["missing_version", "orphan_version", "metric", "tag", "lineage", "description", "alias"]


@dataclass(frozen=True)
class Difference:
    """One way the mirror differs from the primary; `primary`/`mirror` are None where absent."""

    kind: Kind
    version: int | None  # the primary's version number (the orphan's own number for orphan_version)
    name: str | None  # the metric, tag or alias name
    primary: str | None
    mirror: str | None

    def __str__(self) -> str:
        where = f"version {self.version}" if self.version is not None else ""
        if self.kind == "missing_version":
            return f"version {self.version}: in the primary, missing in the mirror"
        if self.kind == "orphan_version":
            return f"mirror version {self.version}: not in the primary ({self.mirror})"
        if self.kind == "alias":
            return f"alias {self.name!r}: primary -> {self.primary or 'none'}, mirror -> {self.mirror or 'none'}"
        label = f"{self.kind} {self.name!r}" if self.name else self.kind
        return f"{where} {label}: primary {self.primary!r}, mirror {self.mirror!r}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": str(self)}


def compare(primary: list[ModelVersionInfo], mirror: list[ModelVersionInfo]) -> list[Difference]:
    """Every difference between the primary's versions and the mirror's, in a stable order."""
    paired, orphans = pair_mirror_versions(mirror)
    found: list[Difference] = []
    for info in sorted(primary, key=lambda v: v.version):
        copy = paired.get(info.version)
        if copy is None:
            found.append(Difference("missing_version", info.version, None, "present", None))
            continue
        found += _differences_of_version(info, copy)
    for orphan in orphans:
        if ORPHAN_TAG not in orphan.tags:  # an acknowledged orphan is reported once, then kept as history
            found.append(Difference("orphan_version", orphan.version, None, None, _orphan_reason(orphan)))
    mirror_alias = {
        alias: _primary_number(info, paired) for info in mirror for alias in info.aliases
    }
    primary_alias = {alias: info.version for info in primary for alias in info.aliases}
    for alias in sorted(set(primary_alias) | set(mirror_alias)):
        wanted, actual = primary_alias.get(alias), mirror_alias.get(alias)
        if wanted != actual:
            found.append(Difference("alias", None, alias, _text(wanted), _text(actual)))
    return found


def sync(registry: MirroredModelRegistry, dry_run: bool = False) -> list[Difference]:
    """The differences found; unless `dry_run`, each is repaired (primary → mirror) first.

    Repairs run in dependency order: missing versions are copied before their aliases move.
    Raises MirrorDrift when a repair fails; what was repaired before it stays repaired, and a
    rerun continues from there (every repair is idempotent).
    """
    primary = registry.primary.list_versions()
    differences = compare(primary, registry.mirror.list_versions())
    if dry_run or not differences:
        return differences
    by_version = {info.version: info for info in primary}
    for diff in differences:
        if diff.kind == "missing_version" and diff.version is not None:
            _copy_version(registry, by_version[diff.version])
    paired, _ = registry.mirror_versions_by_primary()
    for diff in differences:
        _repair(registry, diff, by_version, paired)
    logger.info("registry sync repaired %d difference(s) between %r and its mirror", len(differences), registry)
    return differences


# ---------------------------------------------------------------------- internals


def _differences_of_version(info: ModelVersionInfo, copy: ModelVersionInfo) -> list[Difference]:
    found: list[Difference] = []
    for name in sorted(set(info.metrics) | set(copy.metrics)):
        p, m = info.metrics.get(name), copy.metrics.get(name)
        if p != m:
            found.append(Difference("metric", info.version, name, _text(p), _text(m)))
    mirror_tags = {k: v for k, v in copy.tags.items() if k not in MIRROR_SYSTEM_TAGS}
    for name in sorted(set(info.tags) | set(mirror_tags)):
        p_tag, m_tag = info.tags.get(name), mirror_tags.get(name)
        if p_tag != m_tag:
            found.append(Difference("tag", info.version, name, p_tag, m_tag))
    if info.lineage != copy.lineage:
        found.append(Difference("lineage", info.version, None, _lineage(info), _lineage(copy)))
    if info.description != copy.description:
        found.append(Difference("description", info.version, None, info.description, copy.description))
    return found


def _copy_version(registry: MirroredModelRegistry, info: ModelVersionInfo) -> None:
    with tempfile.TemporaryDirectory(prefix="energy-sync-") as tmp:
        model_dir = registry.primary.download(info.version, Path(tmp))
        registry.copy_into_mirror(info, model_dir)


def _repair(
    registry: MirroredModelRegistry,
    diff: Difference,
    primary: dict[int, ModelVersionInfo],
    paired: dict[int, ModelVersionInfo],
) -> None:
    mirror = registry.mirror
    if diff.kind == "missing_version":
        return  # copied above, with everything it carries
    if diff.kind == "orphan_version":
        assert diff.version is not None
        mirror.set_tags(diff.version, {ORPHAN_TAG: diff.mirror or "not in the primary"})
        return
    if diff.kind == "alias":
        assert diff.name is not None
        if diff.primary is None:
            mirror.delete_alias(diff.name)
        else:
            mirror.set_alias(diff.name, paired[int(diff.primary)].version)
        return
    assert diff.version is not None
    info, target = primary[diff.version], paired[diff.version].version
    if diff.kind == "metric":
        assert diff.name is not None
        key = f"{METRIC_TAG_PREFIX}{diff.name}"
        if diff.name in info.metrics:
            mirror.set_tags(target, {key: repr(float(info.metrics[diff.name]))})
        else:
            registry.delete_mirror_tag(target, key)
    elif diff.kind == "tag":
        assert diff.name is not None
        if diff.name in info.tags:
            mirror.set_tags(target, {diff.name: info.tags[diff.name]})
        else:
            registry.delete_mirror_tag(target, diff.name)
    elif diff.kind == "lineage" and info.lineage is not None:
        mirror.set_tags(target, info.lineage.to_tags())
    elif diff.kind == "description":
        registry.set_mirror_description(target, info.description)


def _primary_number(info: ModelVersionInfo, paired: dict[int, ModelVersionInfo]) -> int | str:
    for number, copy in paired.items():
        if copy.version == info.version:
            return number
    return f"mirror-only version {info.version}"


def _orphan_reason(info: ModelVersionInfo) -> str:
    of = info.tags.get(MIRROR_OF_TAG)
    return f"copy of primary version {of}, which is already paired or gone" if of else "no primary version"


def _lineage(info: ModelVersionInfo) -> str | None:
    return None if info.lineage is None else ", ".join(f"{k}={v}" for k, v in sorted(info.lineage.to_tags().items()))


def _text(value: object) -> str | None:
    if value is None:
        return None
    return repr(value) if isinstance(value, float) else str(value)


__all__ = ["Difference", "compare", "sync"]
