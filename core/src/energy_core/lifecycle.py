"""The model lifecycle, once: states, the promotion gate, and the transitions that move between them.

Why here: the gate used to live in three services (the training CLI, the training run, app-api)
and the three disagreed, so which model served depended on which door a person used. Every door
(training's `run`, `approve`/`reject`/`rollback`/`history`, app-api's `/models`, batch
prediction's champion lookup) now calls this module and nothing else decides.

States, derived from the registry (never stored twice, so they cannot drift from the aliases):
    candidate  registered, not yet gated (no `gate` tag)
    challenger holds the `challenger` alias (gated; may await approval)
    champion   holds the `champion` alias: the version batch prediction serves
    rejected   `approval=rejected`: a person refused it; it never serves
    archived   everything else: gated and passed over, replaced or rolled back, orphaned by a crash

The gate (`gate_rule`, the only copy): a version may become champion only if its backtest WAPE
beats seasonal naive 24 by the configured margin (`min_gain_over_naive`) AND beats the champion.
The champion is judged by the *fair reference* (`champion_reference`): its re-score on the
challenger's own backtest, unless it was trained past that backtest's first origin (then the
re-score is in-sample and its recorded `backtest_wape` counts). The training run records the
reference on the version (`gate.champion_version`, `gate.champion_wape`), so a later approval
judges against the same number while that champion still serves; against any other champion the
champion's recorded `backtest_wape` counts.

Operations, each a guarded transition under `ModelRegistry.transition_lock()`:
    gate      candidate -> champion (passes, automatic mode) | challenger
    approve   records `approval=approved`; promotes only if the gate passes: necessary in manual
              mode, never sufficient, identical from the CLI and the API
    promote   -> champion, only through the gate (and an approval in manual mode)
    reject    -> rejected. Rejecting the champion rolls `champion` back to the previous champion
              (the nearest one in its `previous_champion` chain that is neither rejected nor
              orphaned); if there is none, the rejection is refused, because batch prediction
              would have nothing to serve. Same rule in the CLI and the API (409).
    rollback  champion -> archived, the previous (or a named) version -> champion. Rollback is the
              inverse of promote: it does not overwrite the target's own `previous_champion`.
    archive   a version a killed training run left ungated (training's `recovery`).

Every transition writes an audit record on each version it changes, as registry tags
(`audit.0001`, ... a JSON object each), so every registry backend carries them: who (a CLI user
or an API key id, never a key), when (the injected clock: simulated time in a simulation),
from -> to, why. Records are written before the alias moves, so a crash in between leaves a
record of the intended move, never a move without a record.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from energy_core.registry.base import CHALLENGER, CHAMPION, ModelNotFound, ModelRegistry, ModelVersionInfo

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

APPROVAL_TAG = "approval"
PENDING, APPROVED, REJECTED_APPROVAL, ORPHANED = "pending", "approved", "rejected", "orphaned"
GATE_TAG = "gate"  # written last by `gate`: a version without it was never gated (crash recovery)
GATE_REASON_TAG = "gate_reason"
PREVIOUS_CHAMPION_TAG = "previous_champion"
PROMOTED_AT_TAG = "promoted_at"
REFERENCE_VERSION_TAG = "gate.champion_version"
REFERENCE_WAPE_TAG = "gate.champion_wape"
REFERENCE_NOTE_TAG = "champion_comparison"
AUDIT_PREFIX = "audit."
_WHY_LIMIT = 1000  # keeps one record well under every backend's tag-value limit


class State(StrEnum):
    CANDIDATE = "candidate"
    CHALLENGER = "challenger"
    CHAMPION = "champion"
    REJECTED = "rejected"
    ARCHIVED = "archived"


class TransitionRefused(Exception):
    """A guard refused a transition (e.g. rejecting the only champion); nothing was changed."""


def state_of(info: ModelVersionInfo) -> State:
    """The lifecycle state a version is in, from its aliases and tags alone."""
    if CHAMPION in info.aliases:
        return State.CHAMPION
    if info.tags.get(APPROVAL_TAG) == REJECTED_APPROVAL:
        return State.REJECTED
    if CHALLENGER in info.aliases:
        return State.CHALLENGER
    if GATE_TAG not in info.tags and info.tags.get(APPROVAL_TAG) != ORPHANED:
        return State.CANDIDATE
    return State.ARCHIVED


def may_serve(info: ModelVersionInfo) -> bool:
    """Whether this version may be (or become) champion: never a rejected or orphaned one."""
    return info.tags.get(APPROVAL_TAG) not in {REJECTED_APPROVAL, ORPHANED}


# ------------------------------------------------------------------------------------------ the gate


@dataclass(frozen=True)
class GateDecision:
    passes: bool
    reason: str


@dataclass(frozen=True)
class ChampionReference:
    """The champion WAPE a challenger must beat, and why that number."""

    version: int
    wape: float
    note: str


def gate_rule(wape: float, naive24_wape: float, champion_wape: float | None, min_gain: float) -> GateDecision:
    """THE promotion rule: beat naive 24 by `min_gain`, and beat the champion's reference WAPE."""
    required = naive24_wape * (1.0 - min_gain)
    gain = 1.0 - wape / naive24_wape if naive24_wape > 0 else 0.0
    if not wape <= required:
        return GateDecision(
            False,
            f"WAPE {wape:.4f} does not beat seasonal naive 24 ({naive24_wape:.4f}) by {min_gain:.0%} "
            f"(needs <= {required:.4f}; gain {gain:.1%})",
        )
    if champion_wape is not None and not wape < champion_wape:
        return GateDecision(False, f"WAPE {wape:.4f} does not beat the champion's {champion_wape:.4f}")
    versus = "no champion yet" if champion_wape is None else f"champion {champion_wape:.4f}"
    return GateDecision(True, f"WAPE {wape:.4f}: {gain:.1%} better than naive 24 ({naive24_wape:.4f}), {versus}")


def champion_reference(
    champion: ModelVersionInfo, rescored_wape: float | None, first_origin: datetime | None
) -> ChampionReference | None:
    """The fair champion reference for a challenger whose backtest starts at `first_origin`.

    Its re-score on that backtest (`rescored_wape`), unless the champion was trained on data after
    `first_origin`: then it has seen those hours, its re-score is in-sample and no honest
    challenger can beat it, so its own recorded backtest WAPE (out of sample, same protocol, its
    own window) counts. Without a re-score the recorded one counts; None when neither exists.
    """
    stored = champion.metrics.get("backtest_wape")
    as_of = champion.lineage.as_of if champion.lineage else None
    trained_past_origin = trained_past(champion, first_origin)
    if rescored_wape is not None and (stored is None or not trained_past_origin):
        return ChampionReference(
            champion.version, rescored_wape, f"champion v{champion.version} re-scored on this backtest"
        )
    if stored is None:
        return None
    if rescored_wape is None:
        return ChampionReference(
            champion.version, float(stored), f"champion v{champion.version}'s recorded backtest_wape"
        )
    return ChampionReference(
        champion.version,
        float(stored),
        f"champion v{champion.version}'s recorded backtest_wape {stored:.4f}: it was trained up to {as_of}, "
        f"after this backtest's first origin, so its re-score ({rescored_wape:.4f}) is in-sample",
    )


def trained_past(champion: ModelVersionInfo, first_origin: datetime | None) -> bool:
    """Whether `champion` was trained on data after `first_origin`: its re-score on a backtest from
    that origin would be in-sample, so `champion_reference` takes its recorded WAPE instead (and a
    training run need not compute the re-score when it has a recorded one)."""
    as_of = champion.lineage.as_of if champion.lineage else None
    return as_of is not None and first_origin is not None and _utc(as_of) > _utc(first_origin)


def reference_for(candidate: ModelVersionInfo, champion: ModelVersionInfo) -> ChampionReference | None:
    """The reference recorded when `candidate` was gated if it is about this champion, else the
    champion's recorded backtest WAPE (the only number comparable without a re-score)."""
    recorded = candidate.tags.get(REFERENCE_WAPE_TAG)
    if candidate.tags.get(REFERENCE_VERSION_TAG) == str(champion.version) and recorded:
        note = candidate.tags.get(REFERENCE_NOTE_TAG, f"champion v{champion.version} as recorded at the gate")
        return ChampionReference(champion.version, float(recorded), note)
    return champion_reference(champion, None, None)


def judge(candidate: ModelVersionInfo, champion: ModelVersionInfo | None, min_gain: float) -> GateDecision:
    """The gate applied to a registered version's recorded metrics and the current champion."""
    wape = candidate.metrics.get("backtest_wape")
    naive = candidate.metrics.get("naive24_backtest_wape")
    if wape is None or naive is None:
        return GateDecision(False, f"version {candidate.version} lacks backtest_wape or naive24_backtest_wape")
    reference = reference_for(candidate, champion) if champion is not None else None
    decision = gate_rule(wape, naive, reference.wape if reference else None, min_gain)
    return replace(decision, reason=f"{decision.reason} ({reference.note})") if reference else decision


# ----------------------------------------------------------------------------------- the audit trail


@dataclass(frozen=True)
class Transition:
    """One audit record: `who` moved `version` from `from_state` to `to_state` at `at`, and why."""

    version: int
    operation: str
    from_state: str | None
    to_state: str
    at: datetime
    who: str
    why: str
    champion_before: int | None
    champion_after: int | None
    # Wall-clock ns when written: orders records that share `at` (a simulated clock can stand still).
    seq: int = 0

    def as_dict(self) -> dict[str, object]:
        """The fields as `energy_core.api_models.ModelTransition` names them (the CLI's and API's JSON)."""
        return {
            "version": self.version,
            "operation": self.operation,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "at": self.at,
            "who": self.who,
            "why": self.why,
            "champion_before": self.champion_before,
            "champion_after": self.champion_after,
        }

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "operation": self.operation,
                "from": self.from_state,
                "to": self.to_state,
                "at": self.at.isoformat(),
                "who": self.who,
                "why": self.why,
                "champion_before": self.champion_before,
                "champion_after": self.champion_after,
                "seq": self.seq,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Transition:
        raw = json.loads(text)
        return cls(
            version=int(raw["version"]),
            operation=str(raw["operation"]),
            from_state=raw.get("from"),
            to_state=str(raw["to"]),
            at=_utc(datetime.fromisoformat(raw["at"])),
            who=str(raw["who"]),
            why=str(raw["why"]),
            champion_before=raw.get("champion_before"),
            champion_after=raw.get("champion_after"),
            seq=int(raw.get("seq", 0)),
        )


def transitions_of(info: ModelVersionInfo) -> list[Transition]:
    """The audit records stored on one version, oldest first; unreadable ones are logged and skipped."""
    records = []
    for key in sorted(k for k in info.tags if k.startswith(AUDIT_PREFIX)):
        try:
            records.append(Transition.from_json(info.tags[key]))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("version %d: audit tag %s is unreadable (%s); skipped", info.version, key, exc)
    return records


def history(registry: ModelRegistry, version: int | None = None) -> list[Transition]:
    """Every transition (of one version, or of all), in the order they happened."""
    infos = [registry.get(version=version)] if version is not None else registry.list_versions()
    records = [t for info in infos for t in transitions_of(info)]
    return sorted(records, key=lambda t: (t.at, t.seq, t.version))


# -------------------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Outcome:
    """What an operation did to the version it was called for."""

    version: int
    state: State
    approval: str | None
    aliases: list[str]
    promoted: bool
    reason: str
    transitions: list[Transition]


def current_champion(registry: ModelRegistry) -> ModelVersionInfo | None:
    try:
        return registry.get(alias=CHAMPION)
    except ModelNotFound:
        return None


class Lifecycle:
    """The operations over one registry, with the gate's settings and a clock to stamp records."""

    def __init__(
        self,
        registry: ModelRegistry,
        min_gain_over_naive: float,
        manual_approval: bool = False,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.registry = registry
        self.min_gain = min_gain_over_naive
        self.manual_approval = manual_approval
        self.clock = clock

    # -- public operations ----------------------------------------------------------------------

    def gate(self, version: int, who: str, reference: ChampionReference | None = None) -> Outcome:
        """A freshly registered candidate meets the gate: champion (automatic mode), else challenger."""
        with self._locked():
            info = self.registry.get(version=version)
            if state_of(info) is not State.CANDIDATE:
                raise TransitionRefused(f"version {version} was gated already (it is {state_of(info)})")
            champion = current_champion(self.registry)
            tags: dict[str, str] = {}
            if reference is not None:
                tags |= {
                    REFERENCE_VERSION_TAG: str(reference.version),
                    REFERENCE_WAPE_TAG: repr(reference.wape),
                    REFERENCE_NOTE_TAG: reference.note,
                }
            info = _with(info, tags=tags)
            decision = judge(info, champion, self.min_gain)
            promote = decision.passes and not self.manual_approval
            verdict = "promoted" if promote else ("awaiting approval" if decision.passes else "not promoted")
            reason = decision.reason + (
                "; awaiting manual approval" if decision.passes and self.manual_approval else ""
            )
            tags[GATE_REASON_TAG] = reason
            if decision.passes and self.manual_approval:
                tags[APPROVAL_TAG] = PENDING
            if promote:
                outcome = self._move_champion(info, champion, "gate", who, reason, tags, record_previous=True)
            else:
                outcome = self._make_challenger(info, who, reason, tags)
            # Written last: a version without it was never gated (training's crash recovery).
            self.registry.set_tags(version, {GATE_TAG: verdict})
            return outcome

    def approve(self, version: int, who: str) -> Outcome:
        """A person approves `version`; it becomes champion only if the gate passes."""
        with self._locked():
            info = self.registry.get(version=version)
            champion = current_champion(self.registry)
            tags = {APPROVAL_TAG: APPROVED}
            if GATE_TAG not in info.tags:  # judged now: no longer a candidate, whatever the verdict
                tags[GATE_TAG] = "judged on approval"
            if champion is not None and champion.version == version:
                reason = f"version {version} is already the champion"
                if info.approval == APPROVED:
                    return _outcome(info, False, reason, [])
                return self._retag(info, "approve", who, reason, tags, champion)
            info_approved = _with(info, tags=tags)
            if info.approval == ORPHANED:
                raise TransitionRefused(f"version {version} is orphaned (its training run died before the gate)")
            decision = judge(info_approved, champion, self.min_gain)
            if decision.passes:
                return self._move_champion(info, champion, "approve", who, decision.reason, tags, record_previous=True)
            if info.approval == APPROVED:
                return _outcome(info, False, decision.reason, [])  # nothing to record twice
            return self._retag(info, "approve", who, decision.reason, tags, champion)

    def promote(self, version: int, who: str, why: str = "promoted") -> Outcome:
        """Make `version` champion through the gate (and, in manual mode, only once approved)."""
        with self._locked():
            info = self.registry.get(version=version)
            champion = current_champion(self.registry)
            if champion is not None and champion.version == version:
                return _outcome(info, False, f"version {version} is already the champion", [])
            if not may_serve(info):
                raise TransitionRefused(f"version {version} is {info.approval}: it may never serve")
            if self.manual_approval and info.approval != APPROVED:
                raise TransitionRefused(f"version {version} needs an approval first (manual approval is on)")
            decision = judge(info, champion, self.min_gain)
            if not decision.passes:
                raise TransitionRefused(f"version {version} fails the gate: {decision.reason}")
            return self._move_champion(info, champion, "promote", who, f"{why}: {decision.reason}", {}, True)

    def reject(self, version: int, who: str, why: str = "rejected") -> Outcome:
        """A person rejects `version`; if it is the champion, roll back to the previous one."""
        with self._locked():
            info = self.registry.get(version=version)
            if info.approval == REJECTED_APPROVAL and CHAMPION not in info.aliases:
                return _outcome(info, False, f"version {version} was rejected already", [])
            tags = {APPROVAL_TAG: REJECTED_APPROVAL}
            if CHAMPION not in info.aliases:
                champion = current_champion(self.registry)
                return self._retag(
                    info, "reject", who, f"{why}; champion unchanged", tags, champion, drop_challenger=True
                )
            target = self._rollback_target(info)
            if target is None:
                raise TransitionRefused(
                    f"version {version} is the champion and no earlier champion may serve instead (none recorded, or "
                    "all rejected); approve another version first, then reject this one"
                )
            reason = f"{why}; champion rolled back to v{target.version}"
            self._move_champion(target, info, "reject", who, reason, {}, record_previous=False, old_tags=tags)
            return _outcome(self.registry.get(version=version), False, reason, self._last_records(version))

    def rollback(self, who: str, to_version: int | None = None, why: str = "rollback") -> Outcome:
        """Move `champion` back to the version it replaced (or to `to_version`); the inverse of promote."""
        with self._locked():
            champion = current_champion(self.registry)
            if to_version is None:
                target = self._rollback_target(champion) if champion is not None else None
                if target is None:
                    raise TransitionRefused("no previous champion that may serve is recorded; pass the version (--to)")
            else:
                target = self.registry.get(version=to_version)
                if champion is not None and champion.version == to_version:
                    raise TransitionRefused(f"version {to_version} is the champion already")
                if not may_serve(target):
                    raise TransitionRefused(f"version {to_version} is {target.approval}: it may never serve")
            return self._move_champion(target, champion, "rollback", who, why, {}, record_previous=False)

    def archive(self, version: int, who: str, why: str) -> Outcome:
        """Archive a version that must never be gated or served (a crashed run's orphan)."""
        with self._locked():
            info = self.registry.get(version=version)
            if CHAMPION in info.aliases:
                raise TransitionRefused(f"version {version} is the champion; roll back before archiving it")
            if info.approval == ORPHANED:
                return _outcome(info, False, f"version {version} was archived already", [])
            tags = {APPROVAL_TAG: ORPHANED, GATE_TAG: why}
            return self._retag(info, "archive", who, why, tags, current_champion(self.registry), drop_challenger=True)

    # -- the moves --------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self.registry.transition_lock():
            yield

    def _rollback_target(self, champion: ModelVersionInfo) -> ModelVersionInfo | None:
        """The nearest version in the champion's `previous_champion` chain that may serve."""
        seen = {champion.version}
        previous = champion.tags.get(PREVIOUS_CHAMPION_TAG)
        while previous and previous.isdigit() and int(previous) not in seen:
            try:
                info = self.registry.get(version=int(previous))
            except ModelNotFound:
                return None  # the chain points at a deleted version
            if may_serve(info):
                return info
            seen.add(info.version)
            previous = info.tags.get(PREVIOUS_CHAMPION_TAG)
        return None

    def _move_champion(
        self,
        target: ModelVersionInfo,
        old: ModelVersionInfo | None,
        operation: str,
        who: str,
        why: str,
        tags: dict[str, str],
        record_previous: bool,
        old_tags: dict[str, str] | None = None,
    ) -> Outcome:
        """`champion` to `target` (from `old`): records on both, then the alias moves."""
        now = self.clock()
        before = old.version if old is not None else None
        target_tags = dict(tags) | {PROMOTED_AT_TAG: now.astimezone(UTC).isoformat(), "promotion_reason": why}
        if GATE_TAG not in target.tags and operation != "gate":  # made champion: decided on for good
            target_tags.setdefault(GATE_TAG, f"{operation}: {why}"[:_WHY_LIMIT])
        if record_previous and old is not None and old.version != target.version:
            target_tags[PREVIOUS_CHAMPION_TAG] = str(old.version)
        new_aliases = [a for a in target.aliases if a != CHALLENGER] + [CHAMPION]
        record = self._record(target, operation, who, why, now, before, target.version, target_tags, new_aliases)
        self.registry.set_tags(target.version, target_tags | record)
        if old is not None and old.version != target.version:
            old_after = [a for a in old.aliases if a != CHAMPION]
            extra = dict(old_tags or {})
            if GATE_TAG not in old.tags:  # a champion from before the lifecycle: decided on, never a candidate
                extra[GATE_TAG] = "served as champion"
            old_why = why if operation == "reject" else f"replaced by v{target.version}: {why}"
            self.registry.set_tags(
                old.version,
                extra | self._record(old, operation, who, old_why, now, before, target.version, extra, old_after),
            )
        self.registry.set_alias(CHAMPION, target.version)
        if CHALLENGER in target.aliases:
            self.registry.delete_alias(CHALLENGER)
        log.info("v%d is champion (was %s) by %s (%s): %s", target.version, before, operation, who, why)
        return _outcome(self.registry.get(version=target.version), True, why, self._last_records(target.version))

    def _make_challenger(self, info: ModelVersionInfo, who: str, why: str, tags: dict[str, str]) -> Outcome:
        """`challenger` to `info`; a version holding it before is passed over (archived, recorded)."""
        now = self.clock()
        champion = current_champion(self.registry)
        champ = champion.version if champion is not None else None
        try:
            holder: ModelVersionInfo | None = self.registry.get(alias=CHALLENGER)
        except ModelNotFound:
            holder = None
        self.registry.set_tags(
            info.version,
            tags | self._record(info, "gate", who, why, now, champ, champ, tags, [*info.aliases, CHALLENGER]),
        )
        if holder is not None and holder.version != info.version:
            record = self._record(
                holder, "gate", who, f"challenger passed on to v{info.version}", now, champ, champ, {},
                [a for a in holder.aliases if a != CHALLENGER],
            )  # fmt: skip
            self.registry.set_tags(holder.version, record)
        self.registry.set_alias(CHALLENGER, info.version)
        return _outcome(self.registry.get(version=info.version), False, why, self._last_records(info.version))

    def _retag(
        self,
        info: ModelVersionInfo,
        operation: str,
        who: str,
        why: str,
        tags: dict[str, str],
        champion: ModelVersionInfo | None,
        drop_challenger: bool = False,
    ) -> Outcome:
        """A transition that leaves `champion` alone (an approval the gate refuses, a rejection, an archive)."""
        champ = champion.version if champion is not None else None
        aliases = [a for a in info.aliases if not (drop_challenger and a == CHALLENGER)]
        record = self._record(info, operation, who, why, self.clock(), champ, champ, tags, aliases)
        self.registry.set_tags(info.version, tags | record)
        if drop_challenger and CHALLENGER in info.aliases:
            self.registry.delete_alias(CHALLENGER)
        return _outcome(self.registry.get(version=info.version), False, why, self._last_records(info.version))

    def _record(
        self,
        info: ModelVersionInfo,
        operation: str,
        who: str,
        why: str,
        at: datetime,
        champion_before: int | None,
        champion_after: int | None,
        new_tags: dict[str, str],
        new_aliases: list[str],
    ) -> dict[str, str]:
        """The audit tag for `info`'s move to the state its new tags and aliases put it in."""
        transition = Transition(
            version=info.version,
            operation=operation,
            from_state=str(state_of(info)),
            to_state=str(state_of(_with(info, tags=new_tags, aliases=new_aliases))),
            at=at.astimezone(UTC),
            who=who,
            why=why[:_WHY_LIMIT],
            champion_before=champion_before,
            champion_after=champion_after,
            seq=time.time_ns(),
        )
        sequence = sum(1 for k in info.tags if k.startswith(AUDIT_PREFIX)) + 1
        return {f"{AUDIT_PREFIX}{sequence:04d}": transition.to_json()}

    def _last_records(self, version: int) -> list[Transition]:
        records = transitions_of(self.registry.get(version=version))
        return records[-1:]


def _with(
    info: ModelVersionInfo, tags: dict[str, str] | None = None, aliases: list[str] | None = None
) -> ModelVersionInfo:
    return replace(info, tags=info.tags | (tags or {}), aliases=list(info.aliases if aliases is None else aliases))


def _outcome(info: ModelVersionInfo, promoted: bool, reason: str, transitions: list[Transition]) -> Outcome:
    return Outcome(info.version, state_of(info), info.approval, sorted(info.aliases), promoted, reason, transitions)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
