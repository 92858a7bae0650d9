"""The promotion gate and the alias moves it leads to.

A challenger becomes champion only if (1) its backtest WAPE beats seasonal naive 24 by at least
`min_gain` (15 % by default) and (2) it beats the current champion *on the same backtest*: the
champion is re-scored through its own pyfunc on the challenger's protocol and as-of time, never
compared through numbers from a different window. Exception: a champion trained on data after
the challenger's first origin has seen those hours, so its re-score is in-sample; then its own
recorded backtest WAPE is the reference (pipeline.champion_reference, tagged on the run).
With manual approval on, a passing challenger waits as `approval=pending`
until `approve`. Promotion and rollback are alias moves only.

Every transition below holds the registry's transition lock (`ModelRegistry.transition_lock`),
as app-api's approve/reject do, so a CLI approval racing an API rejection (or a training run's
promotion) cannot interleave their reads and alias moves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from energy_core.registry import CHALLENGER, CHAMPION, ModelNotFound, ModelRegistry, ModelVersionInfo

log = logging.getLogger(__name__)

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    awaiting_approval: bool
    reason: str


def decide(
    challenger_wape: float,
    naive24_wape: float,
    champion_wape: float | None,
    min_gain: float,
    manual_approval: bool,
) -> GateDecision:
    """Pure gate: whether a challenger with these backtest numbers should become champion."""
    required = naive24_wape * (1.0 - min_gain)
    gain = 1.0 - challenger_wape / naive24_wape if naive24_wape > 0 else 0.0
    if not challenger_wape <= required:
        return GateDecision(
            False,
            False,
            f"WAPE {challenger_wape:.4f} does not beat seasonal naive 24 ({naive24_wape:.4f}) by "
            f"{min_gain:.0%} (needs <= {required:.4f}; gain {gain:.1%})",
        )
    if champion_wape is not None and not challenger_wape < champion_wape:
        return GateDecision(
            False,
            False,
            f"WAPE {challenger_wape:.4f} does not beat the champion's {champion_wape:.4f} on the same backtest",
        )
    versus = "no champion yet" if champion_wape is None else f"champion {champion_wape:.4f}"
    reason = f"WAPE {challenger_wape:.4f}: {gain:.1%} better than naive 24 ({naive24_wape:.4f}), {versus}"
    if manual_approval:
        return GateDecision(False, True, reason + "; awaiting manual approval")
    return GateDecision(True, False, reason)


def current_champion(registry: ModelRegistry) -> ModelVersionInfo | None:
    try:
        return registry.get(alias=CHAMPION)
    except ModelNotFound:
        return None


def promote(registry: ModelRegistry, version: int, clock: Clock, reason: str) -> None:
    """Move `champion` to `version`, remembering the previous one for rollback."""
    previous = current_champion(registry)
    tags = {"promoted_at": clock().astimezone(UTC).isoformat(), "promotion_reason": reason}
    if previous is not None and previous.version != version:
        tags["previous_champion"] = str(previous.version)
    registry.set_tags(version, tags)
    registry.set_alias(CHAMPION, version)
    log.info("version %d is champion (was %s): %s", version, previous.version if previous else None, reason)


def apply_decision(registry: ModelRegistry, version: int, decision: GateDecision, clock: Clock) -> None:
    """Tag and alias a freshly registered version according to the gate."""
    with registry.transition_lock():
        registry.set_alias(CHALLENGER, version)
        tags = {"gate_reason": decision.reason}
        if decision.awaiting_approval:
            tags["approval"] = PENDING
        registry.set_tags(version, tags)
        if decision.promote:
            promote(registry, version, clock, decision.reason)


def approve(registry: ModelRegistry, version: int, clock: Clock) -> ModelVersionInfo:
    """A person approves `version`: it becomes champion whatever its approval state was."""
    with registry.transition_lock():
        registry.get(version=version)  # ModelNotFound names the versions that exist
        registry.set_tags(version, {"approval": APPROVED})
        promote(registry, version, clock, "approved manually")
        return registry.get(version=version)


def reject(registry: ModelRegistry, version: int) -> ModelVersionInfo:
    """A person rejects `version`: it can no longer be champion; if it was, roll back."""
    with registry.transition_lock():
        info = registry.get(version=version)
        registry.set_tags(version, {"approval": REJECTED})
        if CHALLENGER in info.aliases:
            registry.delete_alias(CHALLENGER)
        if CHAMPION in info.aliases:
            previous = info.tags.get("previous_champion")
            if previous:
                registry.set_alias(CHAMPION, int(previous))
                log.info("version %d rejected; champion rolled back to %s", version, previous)
            else:
                registry.delete_alias(CHAMPION)
                log.warning("version %d rejected and no previous champion exists: no champion now", version)
        return registry.get(version=version)


def rollback(registry: ModelRegistry, clock: Clock, to_version: int | None = None) -> ModelVersionInfo:
    """Move `champion` back (to `to_version`, or to the version it replaced)."""
    with registry.transition_lock():
        champion = current_champion(registry)
        if to_version is None:
            if champion is None or not champion.tags.get("previous_champion"):
                raise ModelNotFound("no previous champion recorded; pass the version to roll back to")
            to_version = int(champion.tags["previous_champion"])
        registry.get(version=to_version)
        registry.set_alias(CHAMPION, to_version)
        registry.set_tags(
            to_version, {"promoted_at": clock().astimezone(UTC).isoformat(), "promotion_reason": "rollback"}
        )
        return registry.get(version=to_version)
