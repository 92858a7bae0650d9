"""Parsing and rounding of UTC hours, the only unit of time the pipeline reasons in.

Why a module of its own: every command-line time, watermark and record time goes through the same
rules (timezone-aware UTC, on the hour), so a naive or half-past time fails loudly at the edge.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)


def parse_hour(text: str) -> datetime:
    """An ISO-8601 time on the hour as aware UTC; naive input is read as UTC (docs/api-contract.md)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO-8601 time; expected e.g. 2023-01-24T22:00Z") from exc
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value != floor_hour(value):
        raise ValueError(f"{text!r} is not on the hour; the pipeline works in whole UTC hours")
    return value


def floor_hour(value: datetime) -> datetime:
    """The start of the UTC hour containing `value` (which must be timezone-aware)."""
    if value.tzinfo is None:
        raise ValueError(f"{value!r} is naive; every time inside the system is timezone-aware UTC")
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def iso_hour(value: datetime) -> str:
    """`2023-01-24T22:00:00Z`, the form used in logs, state files and reports."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
