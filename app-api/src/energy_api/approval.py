"""Approve and reject over HTTP: the lifecycle's operations (`energy_core.lifecycle`), nothing more.

The rule is not here. `training-pipeline approve/reject` calls the same `Lifecycle` methods, so a
version refused by one door is refused by the other, for the same reason:
- approve records `approval=approved`; the version becomes champion only if it passes the gate
  (beats naive 24 by `min_gain_over_naive` and the champion's fair reference). A refused
  promotion is still a 200, with `promoted: false` and the reason.
- reject of the champion rolls `champion` back to the previous champion that may serve; with none
  to roll back to, it is refused (409), because batch prediction would have nothing to serve.
Each call holds the registry's transition lock and writes an audit record naming the API key
(by its id, `key_id`; never the key) and the API's clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from energy_api.registry_queries import registry_failures
from energy_core.api_models import ApprovalResult
from energy_core.lifecycle import Lifecycle, Outcome

Clock = Callable[[], datetime]


def key_id(api_key: str) -> str:
    """The audit trail's name for an API key: a short SHA-256 fingerprint, so rotated keys can be
    told apart in the history while the key itself never reaches the registry."""
    return "api-key:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


def approve(registry_lifecycle: Lifecycle, version: int, who: str) -> ApprovalResult:
    """Approve `version`; it is promoted only when the gate passes."""
    with registry_failures():
        return _result(registry_lifecycle.approve(version, who), "approved")


def reject(registry_lifecycle: Lifecycle, version: int, who: str) -> ApprovalResult:
    """Reject `version`; the champion is rolled back to the previous one (409 when there is none)."""
    with registry_failures():
        return _result(registry_lifecycle.reject(version, who), "rejected")


def _result(outcome: Outcome, approval: str) -> ApprovalResult:
    return ApprovalResult.model_validate(
        {
            "version": outcome.version,
            "approval": approval,
            "aliases": outcome.aliases,
            "promoted": outcome.promoted,
            "reason": outcome.reason,
        }
    )
