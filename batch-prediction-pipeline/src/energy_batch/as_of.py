"""The as-of clock: parsing user times and finding the last known hour.

"As of T" means every hour whose start is <= T is known (docs/conventions.md). T must be a whole
UTC hour: a forecast origin between hours has no meaning for hourly data.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from energy_core.feature_store import FeatureStore
from energy_core.schemas import ENERGY_CONSUMPTION


def parse_hour(text: str) -> pd.Timestamp:
    """An ISO-8601 time as a whole UTC hour; naive times are UTC. Raises ValueError otherwise."""
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{text!r} is not an ISO-8601 time (expected e.g. 2023-01-17T22:00Z)") from exc
    return to_hour(ts)


def to_hour(value: datetime | pd.Timestamp) -> pd.Timestamp:
    """A tz-aware UTC microsecond timestamp on a whole hour; naive input is taken as UTC."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts != ts.floor("h"):
        raise ValueError(f"{ts.isoformat()} is not a whole hour: as-of times are hour starts (e.g. 22:00Z)")
    return ts.as_unit("us")


def latest_known_hour(store: FeatureStore) -> pd.Timestamp:
    """The newest consumption hour in the store: the default as-of time for predict and monitor."""
    times = store.read(ENERGY_CONSUMPTION, columns=["datetime_utc"])["datetime_utc"]
    if times.empty:
        raise ValueError("the energy_consumption feature group is empty: run the feature pipeline first")
    return to_hour(times.max())
