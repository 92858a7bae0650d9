"""Which hours a run or a backfill touches: pure functions of the as-of time and the watermarks.

"As of T" means every hour whose start is <= T is known (docs/conventions.md). Windows are
half-open, [start, end), in event time. The watermark only bounds work: the store's idempotent
insert is what makes re-reading a window harmless, so a window may safely overlap what is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from energy_features.hours import HOUR, iso_hour

CONSUMPTION = "energy_consumption"
WEATHER = "weather"
CALENDAR = "calendar"


@dataclass(frozen=True)
class Window:
    """Event times start <= t < end, in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window end {iso_hour(self.end)} is before its start {iso_hour(self.start)}")

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)

    def __str__(self) -> str:
        return f"[{iso_hour(self.start)}, {iso_hour(self.end)})"


@dataclass(frozen=True)
class IngestPlan:
    """What one ingest touches: per source a window of event times, all decided before any I/O."""

    as_of: datetime
    consumption: Window
    weather: Window
    calendar: Window


@dataclass(frozen=True)
class WindowPolicy:
    """The knobs of incremental ingestion (from DataSourceSettings)."""

    reread_hours: int = 48
    initial_history_hours: int = 720
    calendar_ahead_hours: int = 192
    publication_lag_hours: int = 0


def plan_run(as_of: datetime, watermarks: Mapping[str, datetime], policy: WindowPolicy) -> IngestPlan:
    """The windows for `run --as-of T`: only new hours plus a re-read of the last N hours.

    The source revises recent values, so each source's window reaches `reread_hours` behind its
    watermark. Without a watermark it starts `initial_history_hours` before T. Consumption is
    published `publication_lag_hours` late, so its window ends there; weather ends at T (an
    observation's event time is when it is complete); the deterministic calendar runs
    `calendar_ahead_hours` beyond T so batch prediction has calendar features for future hours.
    """
    known_end = as_of + HOUR
    consumption_end = known_end - timedelta(hours=policy.publication_lag_hours)
    consumption = Window(_start(watermarks.get(CONSUMPTION), consumption_end, as_of, policy), consumption_end)
    weather = Window(_start(watermarks.get(WEATHER), known_end, as_of, policy), known_end)
    calendar_end = known_end + timedelta(hours=policy.calendar_ahead_hours)
    calendar_start = min(consumption.start, _start(watermarks.get(CALENDAR), calendar_end, as_of, policy))
    return IngestPlan(as_of, consumption, weather, Window(calendar_start, calendar_end))


def _start(watermark: datetime | None, end: datetime, as_of: datetime, policy: WindowPolicy) -> datetime:
    if watermark is None:
        return min(end, as_of + HOUR - timedelta(hours=policy.initial_history_hours))
    resume = min(watermark + HOUR, end)
    return resume - timedelta(hours=policy.reread_hours)


def plan_backfill(start: datetime, end: datetime, chunk: timedelta, policy: WindowPolicy) -> list[IngestPlan]:
    """Backfill [start, end) in chunks of `chunk`, each planned as a run as of its last hour.

    Chunking keeps memory bounded and makes progress visible; each chunk is one all-or-nothing
    insert per group. The calendar also covers `calendar_ahead_hours` past each chunk, so a
    backfill leaves the store ready for a forecast made as of its last hour.
    """
    if end <= start:
        raise ValueError(f"backfill needs start < end, got [{iso_hour(start)}, {iso_hour(end)})")
    if chunk < HOUR:
        raise ValueError("backfill chunks must be at least one hour long")
    plans = []
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(chunk_start + chunk, end)
        window = Window(chunk_start, chunk_end)
        ahead = chunk_end + timedelta(hours=policy.calendar_ahead_hours)
        plans.append(IngestPlan(chunk_end - HOUR, window, window, Window(chunk_start, ahead)))
        chunk_start = chunk_end
    return plans
