"""When was which version the champion? Pure functions of GET /models and GET /models/history.

The lifecycle's audit trail (`energy_core.lifecycle`) records every transition with the time its
clock gave, which in a simulation is the simulated hour, so the timeline is drawn from it: each
change of `champion_after` starts a tenure that lasts until the next change (or `until`). Every
tenure shows, rollbacks included. A registry from before the trail existed has no history; then
the tenures come from each version's `promoted_at` (its latest promotion only).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pandas as pd

from energy_core.api_models import ModelTransition, ModelVersion, SimulationProgress

PERIOD_COLUMNS = ("version", "model_family", "start", "end", "is_current")
TRANSITION_COLUMNS = ("at", "version", "operation", "from_state", "to_state", "who", "why")


def timeline_until(progress: SimulationProgress | None, wall_clock: datetime) -> datetime:
    """The timeline's "now": the simulated hour while a simulation runs or has run (hour T is
    complete at T+1h), else the wall clock."""
    if progress is not None and progress.status != "not_started" and progress.completed_through is not None:
        return progress.completed_through + timedelta(hours=1)
    return wall_clock


def champion_periods(
    models: list[ModelVersion], until: datetime, history: Sequence[ModelTransition] = ()
) -> pd.DataFrame:
    """One row per champion tenure (`version`, `model_family`, `start`, `end`, `is_current`).

    From the audit trail when there is one; otherwise from `promoted_at`, where a current champion
    without it (registered before promotions were recorded) counts from its creation.
    """
    if history:
        return _periods_from_history(models, history, until)
    moments: list[tuple[datetime, ModelVersion]] = []
    for model in models:
        if model.promoted_at is not None:
            moments.append((model.promoted_at, model))
        elif "champion" in model.aliases:
            moments.append((model.created_at, model))
    moments.sort(key=lambda pair: pair[0])
    rows = []
    for i, (start, model) in enumerate(moments):
        end = moments[i + 1][0] if i + 1 < len(moments) else max(until, start)
        rows.append(
            {
                "version": model.version,
                "model_family": model.model_family or "unknown",
                "start": start,
                "end": end,
                "is_current": "champion" in model.aliases,
            }
        )
    frame = pd.DataFrame(rows, columns=list(PERIOD_COLUMNS))
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def versions_table(models: list[ModelVersion]) -> pd.DataFrame:
    """The registry as a table for the page: newest first, with the backtest scorecard."""
    rows = [
        {
            "version": m.version,
            "aliases": ", ".join(m.aliases),
            "model_family": m.model_family,
            "approval": m.approval,
            "created_at": m.created_at,
            "promoted_at": m.promoted_at,
            "backtest_wape": m.metrics.get("backtest_wape"),
            "naive24_backtest_wape": m.metrics.get("naive24_backtest_wape"),
            "backtest_coverage_80": m.metrics.get("backtest_coverage_80"),
        }
        for m in sorted(models, key=lambda m: m.version, reverse=True)
    ]
    return pd.DataFrame(rows)


def _periods_from_history(
    models: list[ModelVersion], history: Sequence[ModelTransition], until: datetime
) -> pd.DataFrame:
    families = {m.version: m.model_family or "unknown" for m in models}
    current = next((m.version for m in models if "champion" in m.aliases), None)
    starts: list[tuple[int, datetime]] = []  # (version, start) per tenure
    ends: list[datetime] = []
    serving: int | None = None
    for record in sorted(history, key=lambda r: r.at):
        if record.champion_after == serving:
            continue
        if len(ends) < len(starts):
            ends.append(record.at)
        serving = record.champion_after
        if serving is not None:
            starts.append((serving, record.at))
    if len(ends) < len(starts):
        ends.append(max(until, starts[-1][1]))
    rows = [
        {
            "version": version,
            "model_family": families.get(version, "unknown"),
            "start": start,
            "end": end,
            "is_current": i == len(starts) - 1 and version == current and end >= until,
        }
        for i, ((version, start), end) in enumerate(zip(starts, ends, strict=True))
    ]
    frame = pd.DataFrame(rows, columns=list(PERIOD_COLUMNS))
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def registered_at(models: list[ModelVersion], history: Sequence[ModelTransition]) -> pd.DataFrame:
    """`version`, `created_at` per version: its first recorded transition (simulated time in a
    simulation), else the registry's creation time."""
    first: dict[int, datetime] = {}
    for record in sorted(history, key=lambda r: r.at):
        first.setdefault(record.version, record.at)
    rows = [{"version": m.version, "created_at": first.get(m.version, m.created_at)} for m in models]
    frame = pd.DataFrame(rows, columns=["version", "created_at"])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def transitions_table(history: Sequence[ModelTransition]) -> pd.DataFrame:
    """The audit trail for the page, newest first."""
    rows = [{c: getattr(r, c) for c in TRANSITION_COLUMNS} for r in sorted(history, key=lambda r: r.at, reverse=True)]
    return pd.DataFrame(rows, columns=list(TRANSITION_COLUMNS))
