"""The backtest protocol: which origins, which horizon. Pure; parameters from BacktestSettings.

As of T every hour whose start is <= T is known. Origins are T - step·k for k = n … 1; at an
origin o a model may use actuals with datetime <= o and forecasts o+1h … o+horizon. Models are
fitted once, on data up to the first origin, and never refitted inside the backtest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from energy_core.settings import BacktestSettings


@dataclass(frozen=True)
class Protocol:
    as_of: pd.Timestamp
    origins: tuple[pd.Timestamp, ...]
    horizon_hours: int

    @property
    def fit_cutoff(self) -> pd.Timestamp:
        """Training data for the backtest ends here (inclusive): the first origin."""
        return self.origins[0]

    def describe(self) -> dict[str, str | int]:
        return {
            "as_of": self.as_of.isoformat(),
            "first_origin": self.origins[0].isoformat(),
            "last_origin": self.origins[-1].isoformat(),
            "origins": len(self.origins),
            "horizon_hours": self.horizon_hours,
        }


def utc_hour(value: datetime | pd.Timestamp | str) -> pd.Timestamp:
    """A timezone-aware UTC timestamp on the hour; naive input is taken as UTC."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts != ts.floor("h"):
        raise ValueError(f"{value!r} is not on the hour; as-of times and origins are whole UTC hours")
    return ts


def backtest_protocol(as_of: datetime | pd.Timestamp | str, settings: BacktestSettings) -> Protocol:
    """The scorecard protocol as of T: origins T - step·k, k = origins … 1."""
    t = utc_hour(as_of)
    step = timedelta(hours=settings.origin_step_hours)
    origins = tuple(t - step * k for k in range(settings.origins, 0, -1))
    return Protocol(as_of=t, origins=origins, horizon_hours=settings.horizon_hours)


def tuning_protocol(main: Protocol, origins: int, settings: BacktestSettings) -> Protocol:
    """Origins just before the backtest window, so tuning never sees the hours it is scored on.

    The tuning 'as of' is the backtest's first origin minus one horizon, so even the last tuning
    forecast ends at or before the first backtest origin.
    """
    tuning_as_of = main.fit_cutoff - timedelta(hours=main.horizon_hours)
    shifted = settings.model_copy(update={"origins": origins})
    return backtest_protocol(tuning_as_of, shifted)
