"""The manual-approval gate: what approving or rejecting a registered version does.

The promotion rule is the training pipeline's, read from the metrics it logs on every version
(docs/conventions.md): a version may become `champion` only if
    backtest_wape <= (1 - min_gain_over_naive) * naive24_backtest_wape      (beats naive by 15 %)
and, when another version is champion, backtest_wape < that champion's backtest_wape.
A human approval is necessary for promotion in manual mode, never sufficient: an approved version
that fails the rule stays where it is, and the response says why.

Reject never touches `champion`: rejecting the serving model would leave batch prediction with
nothing to serve, so it is refused (409); roll back by approving another version instead. A
rejected version loses the `challenger` alias so nothing picks it up later.

Both run under the registry's transition lock (`ModelRegistry.transition_lock`), which the
training CLI's approve/reject/rollback take too: each reads the champion, decides and moves
aliases in several calls, and two of them interleaved (two approvals, or an approval and a
rejection, from the API and the CLI at once) would leave a state neither decided: the worse
version as champion, or a champion tagged `rejected`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from energy_api.registry_queries import PROMOTED_AT_TAG, call, champion, registry_failures
from energy_core.api_models import ApprovalResult
from energy_core.registry import CHALLENGER, CHAMPION, ModelRegistry, ModelVersionInfo

Clock = Callable[[], datetime]


class RejectingChampion(RuntimeError):
    """Rejecting the current champion was refused (it would leave nothing to serve)."""


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def promotion_decision(
    candidate: ModelVersionInfo, current: ModelVersionInfo | None, min_gain_over_naive: float
) -> GateDecision:
    """Whether `candidate` may replace `current` as champion, and why (pure: no registry I/O)."""
    if current is not None and current.version == candidate.version:
        return GateDecision(False, f"version {candidate.version} is already the champion")
    wape = candidate.metrics.get("backtest_wape")
    naive = candidate.metrics.get("naive24_backtest_wape")
    if wape is None or naive is None:
        return GateDecision(
            False, f"version {candidate.version} lacks backtest_wape or naive24_backtest_wape; cannot judge it"
        )
    bar = (1 - min_gain_over_naive) * naive
    if not wape <= bar:
        return GateDecision(
            False,
            f"backtest_wape {wape:.4f} does not beat the 24-hour naive baseline by {min_gain_over_naive:.0%} "
            f"(needs <= {bar:.4f})",
        )
    current_wape = current.metrics.get("backtest_wape") if current is not None else None
    if current is not None and current_wape is not None and not wape < current_wape:
        return GateDecision(
            False,
            f"backtest_wape {wape:.4f} is not better than champion version {current.version}'s {current_wape:.4f}",
        )
    return GateDecision(True, f"backtest_wape {wape:.4f} passes the gate (<= {bar:.4f} and beats the champion)")


@contextmanager
def serialised(registry: ModelRegistry) -> Iterator[None]:
    """Hold the registry's transition lock; failing to take it is a RegistryUnavailable (503),
    while errors of the guarded block (a refused rejection) pass through unchanged."""
    with ExitStack() as held:
        with registry_failures():
            held.enter_context(registry.transition_lock())
        yield


def approve(
    registry: ModelRegistry, version: int, min_gain_over_naive: float, clock: Clock = lambda: datetime.now(UTC)
) -> ApprovalResult:
    """Mark `version` approved and promote it to champion when it passes the gate."""
    with serialised(registry):
        return _approve(registry, version, min_gain_over_naive, clock)


def reject(registry: ModelRegistry, version: int, clock: Clock = lambda: datetime.now(UTC)) -> ApprovalResult:
    """Mark `version` rejected and drop its `challenger` alias; refuse for the champion."""
    with serialised(registry):
        return _reject(registry, version, clock)


def _approve(registry: ModelRegistry, version: int, min_gain_over_naive: float, clock: Clock) -> ApprovalResult:
    candidate = call(lambda: registry.get(version=version))
    now = clock().isoformat()
    call(lambda: registry.set_tags(version, {"approval": "approved", "approved_at": now}))
    decision = promotion_decision(candidate, champion(registry), min_gain_over_naive)
    if decision.promote:
        call(lambda: registry.set_alias(CHAMPION, version))
        call(lambda: registry.set_tags(version, {PROMOTED_AT_TAG: now}))
        if CHALLENGER in candidate.aliases:
            call(lambda: registry.delete_alias(CHALLENGER))
    after = call(lambda: registry.get(version=version))
    return ApprovalResult(
        version=version, approval="approved", aliases=sorted(after.aliases), promoted=decision.promote,
        reason=decision.reason,
    )


def _reject(registry: ModelRegistry, version: int, clock: Clock) -> ApprovalResult:
    candidate = call(lambda: registry.get(version=version))
    if CHAMPION in candidate.aliases:
        raise RejectingChampion(
            f"version {version} is the champion; approve another version to replace it before rejecting this one"
        )
    call(lambda: registry.set_tags(version, {"approval": "rejected", "rejected_at": clock().isoformat()}))
    if CHALLENGER in candidate.aliases:
        call(lambda: registry.delete_alias(CHALLENGER))
    after = call(lambda: registry.get(version=version))
    return ApprovalResult(
        version=version, approval="rejected", aliases=sorted(after.aliases), promoted=False,
        reason=f"version {version} rejected; champion unchanged",
    )
