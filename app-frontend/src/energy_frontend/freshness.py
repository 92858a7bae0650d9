"""How fresh is what the page shows? A pure judgement, so the clock is passed in.

Two ages matter and they answer different questions:
- forecast lag = latest data hour − forecast origin: is the forecast built on the newest data the
  API has? This is what the colour is based on, because it is meaningful both live and in the
  demo, which replays the January 2023 snapshot as if it were now.
- data age = now − latest data hour: has the feature pipeline stopped? When the data is days older
  than the wall clock we say so plainly and call it a replay, rather than showing a red badge
  forever in the demo; live operation would never be that far behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Colour = Literal["green", "orange", "red", "gray"]

FRESH_LAG = timedelta(hours=1)  # the forecast was made from the newest hour (or the one before)
STALE_LAG = timedelta(hours=24)  # beyond this the whole forecast horizon is already in the past
REPLAY_AGE = timedelta(days=2)  # data older than this vs the wall clock: a replay, not live


@dataclass(frozen=True)
class Freshness:
    colour: Colour
    label: str
    explanation: str
    is_replay: bool


def assess_freshness(forecast_made_at: datetime | None, latest_data_at: datetime | None, now: datetime) -> Freshness:
    """Colour and words for the freshness badge; every datetime must be timezone-aware."""
    if forecast_made_at is None or latest_data_at is None:
        return Freshness("gray", "unknown", "The API did not say when the data or forecast is from.", False)
    lag = latest_data_at - forecast_made_at
    if lag <= FRESH_LAG:
        colour: Colour = "green"
        label = "up to date"
        why = "The forecast was made from the newest data hour the API has."
    elif lag <= STALE_LAG:
        colour, label = "orange", f"{_humanise(lag)} behind the data"
        why = "Newer data has arrived since this forecast was made; the next batch run will catch up."
    else:
        colour, label = "red", f"{_humanise(lag)} behind the data"
        why = "The forecast is older than its 24-hour horizon: batch prediction has not run since."
    age = now - latest_data_at
    is_replay = age > REPLAY_AGE
    if is_replay:
        why += (
            f" The newest data hour is {_humanise(age)} older than the wall clock: this is a replay of"
            " the historical snapshot (the demo), so freshness is judged against the API's newest data."
        )
    else:
        why += f" The newest data hour is {_humanise(age)} old."
    return Freshness(colour, label, why, is_replay)


def _humanise(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"
