"""The hourly-continuity report: which hours each series is missing. Reported, never invented.

A missing hour is a fact about the source (not yet published, or never); filling it would put a
made-up value into training data. So the pipeline writes what arrived, and this report says what
did not, per series, inside the span the batch covers. Hours before the first or after the last
hour any series has are counted separately (`leading_missing_hours`, `trailing_missing_hours`):
they usually mean "not published yet", not "a hole".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from energy_features.hours import iso_hour
from energy_features.windows import Window


class EmptySourceWindow(ValueError):
    """The source delivered nothing for a window that has hours: a run fails loudly (exit 1)
    instead of reporting success with every hour missing."""


@dataclass(frozen=True)
class SeriesGap:
    area: str
    consumer_type: str
    missing_hours: list[str]


@dataclass(frozen=True)
class ContinuityReport:
    window: str
    series: int
    hours_with_data: int
    first_hour: str | None
    last_hour: str | None
    leading_missing_hours: int
    trailing_missing_hours: int
    gaps: list[SeriesGap] = field(default_factory=list)

    @property
    def missing_count(self) -> int:
        return sum(len(g.missing_hours) for g in self.gaps)

    @property
    def empty(self) -> bool:
        """The window had hours but the source delivered none of them."""
        return self.hours_with_data == 0 and self.leading_missing_hours > 0

    @property
    def continuous(self) -> bool:
        # An empty window is the largest possible gap, not a continuous batch.
        return not self.gaps and not self.empty

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "missing_count": self.missing_count,
            "continuous": self.continuous,
            "empty": self.empty,
        }


def continuity_report(frame: pd.DataFrame, window: Window) -> ContinuityReport:
    """Per (area, consumer_type) series, the hours between the batch's first and last hour it lacks."""
    times = frame["datetime_utc"].dropna()
    if times.empty:
        return ContinuityReport(str(window), 0, 0, None, None, window.hours, 0)
    first, last = times.min(), times.max()
    expected = pd.date_range(first, last, freq="h", unit="us")
    gaps = []
    rows = frame.dropna(subset=["datetime_utc"])
    # Only series with fewer distinct on-grid hours than expected can have gaps: the hourly run
    # re-reads ~49 hours of ~76 series, and listing every complete series' (empty) gaps cost more
    # than the rest of the report.
    on_grid = rows[rows["datetime_utc"].isin(expected)]
    covered = on_grid.groupby(["area", "consumer_type"], sort=True, observed=True)["datetime_utc"].nunique()
    complete = set(covered.index[covered == len(expected)])
    for (area, consumer_type), series in rows.groupby(["area", "consumer_type"], sort=True, observed=True):
        if (area, consumer_type) in complete:
            continue
        missing = expected.difference(pd.DatetimeIndex(series["datetime_utc"]))
        if len(missing):
            gaps.append(SeriesGap(str(area), str(consumer_type), [iso_hour(t) for t in missing]))
    leading = int((first - pd.Timestamp(window.start)) / pd.Timedelta(hours=1))
    trailing = int((pd.Timestamp(window.end) - last) / pd.Timedelta(hours=1)) - 1
    return ContinuityReport(
        window=str(window),
        series=int(frame.groupby(["area", "consumer_type"], observed=True).ngroups),
        hours_with_data=int(times.nunique()),
        first_hour=iso_hour(first),
        last_hour=iso_hour(last),
        leading_missing_hours=max(leading, 0),
        trailing_missing_hours=max(trailing, 0),
        gaps=gaps,
    )
