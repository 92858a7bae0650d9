"""The `calendar` group: per UTC hour, Danish local hour, weekday, month and holidays.

UTC is the truth; local time (Europe/Copenhagen) exists only as features, so the October day has
25 local hours (02:00 twice, `utc_offset_hours` 2 then 1) and the March day 23 (no 02:00). Public
holidays come from `holidays.Denmark`; Dec 24 and Dec 31 are not public holidays but consumption
behaves as if they were, so they are `is_holiday_like` (with their name) but not `is_holiday`.
The calendar is deterministic, which is why it may be written ahead of the as-of time.
"""

from __future__ import annotations

import holidays
import pandas as pd

from energy_core.schemas import CALENDAR
from energy_features.windows import Window

LOCAL_TZ = "Europe/Copenhagen"
HOLIDAY_LIKE: dict[tuple[int, int], str] = {(12, 24): "Christmas Eve", (12, 31): "New Year's Eve"}


def calendar_features(window: Window) -> pd.DataFrame:
    """One row per UTC hour in the window, with the declared CALENDAR columns and dtypes."""
    hours = pd.date_range(window.start, window.end, freq="h", inclusive="left", tz="UTC", unit="us")
    if len(hours) == 0:
        return CALENDAR.empty_frame()
    local = hours.tz_convert(LOCAL_TZ)
    dates = local.date
    public = holidays.country_holidays("DK", years=sorted({d.year for d in dates}))
    names = [public.get(d) or HOLIDAY_LIKE.get((d.month, d.day)) for d in dates]
    is_holiday = [d in public for d in dates]
    offsets = (local.tz_localize(None) - hours.tz_localize(None)) // pd.Timedelta(hours=1)
    return pd.DataFrame(
        {
            "datetime_utc": hours,
            "local_hour": local.hour.astype("int64"),
            "local_weekday": local.weekday.astype("int64"),
            "local_month": local.month.astype("int64"),
            "local_day_of_year": local.dayofyear.astype("int64"),
            "is_weekend": local.weekday >= 5,
            "is_holiday": is_holiday,
            "is_holiday_like": [name is not None for name in names],
            "holiday_name": pd.array(names, dtype="string"),
            "utc_offset_hours": offsets.astype("int64"),
        }
    )
