"""Property test of the model lifecycle over random sequences of operations (hypothesis stateful).

Runs over `MemoryRegistry`, an in-memory FAKE of the ModelRegistry interface (see its docstring:
hundreds of sequences over MLflow would take minutes); test_lifecycle.py runs fixed sequences over
the real MLflow backend. Invariants after every step: at most one champion; a rejected or orphaned
version never serves; every version's latest audit record ends in the state it is in; and
rollback right after a promotion restores the champion it replaced.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from energy_core.lifecycle import (
    APPROVAL_TAG,
    Lifecycle,
    State,
    TransitionRefused,
    current_champion,
    history,
    state_of,
    transitions_of,
)
from energy_core.registry import ModelNotFound

from .memory_registry import MemoryRegistry

WAPES = st.sampled_from([0.05, 0.06, 0.07, 0.08, 0.089, 0.095])
NAIVE = 0.09
WHO = "property-test"


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.registry = MemoryRegistry()
        self.now = datetime(2023, 1, 1, tzinfo=UTC)
        self.lifecycle = Lifecycle(self.registry, 0.15, manual_approval=False, clock=self._tick)

    def _tick(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now

    @property
    def versions(self) -> list[int]:
        return [info.version for info in self.registry.list_versions()]

    @rule(wape=WAPES, manual=st.booleans())
    def register_and_gate(self, wape: float, manual: bool) -> None:
        version = self.registry.add({"backtest_wape": wape, "naive24_backtest_wape": NAIVE})
        self.lifecycle.manual_approval = manual
        try:
            self.lifecycle.gate(version, WHO)
        finally:
            self.lifecycle.manual_approval = False

    @precondition(lambda self: bool(self.versions))
    @rule(data=st.data(), operation=st.sampled_from(["approve", "reject", "promote"]))
    def operate(self, data: st.DataObject, operation: str) -> None:
        version = data.draw(st.sampled_from(self.versions))
        with contextlib.suppress(TransitionRefused):
            getattr(self.lifecycle, operation)(version, WHO)

    @rule(data=st.data())
    def rollback(self, data: st.DataObject) -> None:
        target = data.draw(st.none() | st.sampled_from(self.versions)) if self.versions else None
        with contextlib.suppress(TransitionRefused, ModelNotFound):
            self.lifecycle.rollback(WHO, target)

    @precondition(lambda self: bool(self.versions))
    @rule(data=st.data())
    def promote_then_rollback_restores_the_champion(self, data: st.DataObject) -> None:
        version = data.draw(st.sampled_from(self.versions))
        before = current_champion(self.registry)
        try:
            outcome = self.lifecycle.approve(version, WHO)
        except TransitionRefused:
            return
        if not outcome.promoted:
            return
        if before is None:
            try:
                self.lifecycle.rollback(WHO)
            except TransitionRefused:
                assert current_champion(self.registry).version == version  # type: ignore[union-attr]
                return
        else:
            self.lifecycle.rollback(WHO)
        after = current_champion(self.registry)
        assert after is not None and after.version == (before.version if before else after.version)
        assert state_of(self.registry.get(version=version)) is State.ARCHIVED

    @invariant()
    def at_most_one_champion(self) -> None:
        champions = [i for i in self.registry.list_versions() if state_of(i) is State.CHAMPION]
        assert len(champions) <= 1

    @invariant()
    def a_rejected_version_never_serves(self) -> None:
        champion = current_champion(self.registry)
        assert champion is None or champion.tags.get(APPROVAL_TAG) not in {"rejected", "orphaned"}, champion

    @invariant()
    def every_latest_audit_record_names_the_current_state(self) -> None:
        for info in self.registry.list_versions():
            records = transitions_of(info)
            if records:
                assert records[-1].to_state == state_of(info), (info.version, records[-1], info.aliases)

    @invariant()
    def the_history_replays_to_the_current_champion(self) -> None:
        records = history(self.registry)
        champion = current_champion(self.registry)
        replayed = records[-1].champion_after if records else None
        assert replayed == (champion.version if champion else None)


LifecycleMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=25, deadline=None)
test_lifecycle_sequences = LifecycleMachine.TestCase
