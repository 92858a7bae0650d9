"""Query-time rules: what `start`/`end` mean and what they default to.

Naive times are UTC (the contract says so); every time leaves here timezone-aware UTC. Times are
bounded to a plausible range because the stores use pandas timestamps (years 1677-2262): an
out-of-range query must be a 422 naming the rule, not an overflow deep inside a read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_WINDOW = timedelta(days=7)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


class InvalidTimeWindow(ValueError):
    """A query's start/end broke a rule; `field` names the offending parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TimeWindow:
    """A half-open interval [start, end) of target hours."""

    start: datetime
    end: datetime


def as_utc(value: datetime, field: str) -> datetime:
    """`value` as aware UTC; naive means UTC. Raises InvalidTimeWindow outside 1970..2200."""
    try:
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidTimeWindow(field, f"{field}={value.isoformat()} cannot be expressed in UTC") from exc
    if not EARLIEST <= aware <= LATEST:
        raise InvalidTimeWindow(
            field, f"{field}={aware.isoformat()} is outside the supported range {EARLIEST.year}..{LATEST.year}"
        )
    return aware


def resolve_window(start: datetime | None, end: datetime | None, latest: datetime | None) -> TimeWindow | None:
    """The window a monitoring query covers.

    Defaults to the last 7 days of monitored hours, anchored on `latest` (the newest monitored
    hour), not on the wall clock, so a replayed or stalled system still shows its last week.
    Returns None when a bound is missing and there is nothing monitored to anchor it on.
    """
    start_utc = as_utc(start, "start") if start is not None else None
    end_utc = as_utc(end, "end") if end is not None else None
    if start_utc is not None and end_utc is not None and start_utc >= end_utc:
        raise InvalidTimeWindow("end", f"end={end_utc.isoformat()} must be after start={start_utc.isoformat()}")
    if end_utc is None:
        if latest is not None and (start_utc is None or latest + HOUR > start_utc):
            end_utc = latest + HOUR
        elif start_utc is not None:
            end_utc = start_utc + DEFAULT_WINDOW
        else:
            return None
    if start_utc is None:
        start_utc = end_utc - DEFAULT_WINDOW
    return TimeWindow(start=start_utc, end=end_utc)
