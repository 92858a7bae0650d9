"""Clean up after a training run that was killed, at the start of the next one.

A run killed mid-way (SIGKILL, OOM, a lost machine) leaves two kinds of debris: its MLflow run
stays RUNNING for ever, and a version it registered may never have been gated. The first is
marked FAILED (`energy_core.registry.mlflow_registry.mark_interrupted_runs`, by pid and host);
the second is archived through the lifecycle (`energy_core.lifecycle.Lifecycle.archive`, an
audited transition): `approval=orphaned`, the challenger alias taken off it, never champion.
A version is gated when its `gate` tag is set, the last write of the lifecycle's `gate`
transition; a version without it whose run has ended without finishing
(FAILED, KILLED or gone) is an orphan. A champion without the tag was promoted before the kill,
so the gate did decide: it only gets the tag.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from energy_core.lifecycle import GATE_TAG, ORPHANED, Clock, Lifecycle
from energy_core.registry import CHAMPION, ModelRegistry
from energy_core.registry.mlflow_registry import mark_interrupted_runs
from energy_core.settings import RegistrySettings

log = logging.getLogger(__name__)

__all__ = ["GATE_TAG", "ORPHANED", "Recovery", "archive_orphans", "recover"]
WHO = "training-pipeline recovery"
_ALIVE_OR_DONE = frozenset({"RUNNING", "SCHEDULED", "FINISHED"})

RunStatus = Callable[[str], str | None]


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Recovery:
    interrupted_runs: list[str] = field(default_factory=list)
    orphaned_versions: list[int] = field(default_factory=list)


def recover(registry: ModelRegistry, settings: RegistrySettings, clock: Clock = _wall_clock) -> Recovery:
    """Mark interrupted runs FAILED, then archive the versions they left ungated (stamped by `clock`)."""
    interrupted = mark_interrupted_runs(settings)
    client = MlflowClient(tracking_uri=settings.resolved_tracking_uri, registry_uri=settings.registry_uri)

    def status(run_id: str) -> str | None:
        try:
            return str(client.get_run(run_id).info.status)
        except MlflowException:
            return None  # the run was deleted

    return Recovery(interrupted, archive_orphans(registry, status, clock))


def archive_orphans(registry: ModelRegistry, run_status: RunStatus, clock: Clock = _wall_clock) -> list[int]:
    """Archive every ungated version whose training run ended unfinished; returns their numbers."""
    orphaned: list[int] = []
    lifecycle = Lifecycle(registry, min_gain_over_naive=0.0, clock=clock)  # archive never consults the gate
    with registry.transition_lock():
        for info in registry.list_versions():
            if GATE_TAG in info.tags or info.approval == ORPHANED:
                continue
            run_id = info.tags.get("training_run_id") or info.run_id
            status = run_status(run_id) if run_id else None
            if status in _ALIVE_OR_DONE:
                continue  # still being gated by a live run, or gated by a run that finished
            if CHAMPION in info.aliases:
                registry.set_tags(info.version, {GATE_TAG: "promoted (tag completed after an interrupted run)"})
                continue
            reason = f"orphaned: training run {run_id} ended {status or 'deleted'} before the gate decided"
            lifecycle.archive(info.version, WHO, reason)
            log.warning("version %d archived: %s", info.version, reason)
            orphaned.append(info.version)
    return orphaned
