"""The `files` mapping and the conversion of a file's rows into `energy_consumption` rows.

Any hourly (or sub-hourly) series in a CSV or Parquet file becomes the canonical
(datetime_utc, area, consumer_type, energy_consumption_kwh) rows the rest of the platform already
understands, so another grid's load enters the unchanged pipelines. The YAML mapping (`FilesMapping`)
says which column is the time and in which zone, which column is the value and in which unit, and
what the series is called (see the feature-pipeline README, "Bring your own series").

Bad input stops here with `FileSeriesError`, naming the rule and the rows (`file:line`), never a
guess: a wall time that does not exist (the spring DST gap), a repeated autumn hour that cannot be
told apart, a value that is not a number, a missing value, a time off the hour, a missing column.
Every function here is pure; reading files is `extract/files.py`'s job.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from energy_core.schemas import AREA_PATTERN, CONSUMER_TYPE_PATTERN, ENERGY_CONSUMPTION, TOTAL, UTC_DTYPE

EnergyUnit = Literal["Wh", "kWh", "MWh", "GWh"]
PowerUnit = Literal["W", "kW", "MW", "GW"]
# kWh per unit. A power value is the mean power over its interval, so its hourly mean in kW is kWh.
KWH_PER_UNIT: dict[str, float] = {
    "Wh": 1e-3, "kWh": 1.0, "MWh": 1e3, "GWh": 1e6,
    "W": 1e-3, "kW": 1.0, "MW": 1e3, "GW": 1e6,
}  # fmt: skip
ENERGY_UNITS = frozenset({"Wh", "kWh", "MWh", "GWh"})
SHOWN_ROWS = 10

log = logging.getLogger(__name__)


class FileSeriesError(ValueError):
    """A file's rows broke a rule of the `files` source; nothing from the mapping is written."""

    def __init__(self, rule: str, series: str, problem: str, rows: Sequence[str] = ()) -> None:
        self.rule = rule
        self.series = series
        self.rows = list(rows)
        shown = "; ".join(self.rows[:SHOWN_ROWS])
        more = f" (and {len(self.rows) - SHOWN_ROWS} more)" if len(self.rows) > SHOWN_ROWS else ""
        where = f": {shown}{more}" if self.rows else ""
        super().__init__(f"files source, series {series!r}, rule {rule}: {problem}{where}")


# --------------------------------------------------------------------------------------------- mapping
class _Strict(BaseModel):
    """Unknown YAML fields are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(_Strict):
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    decimal: str = Field(default=".", min_length=1, max_length=1)
    thousands: str | None = Field(default=None, min_length=1, max_length=1)
    encoding: str = "utf-8"


class TimeSpec(_Strict):
    """The time column: wall-clock times in `zone`, or absolute times when they carry an offset."""

    column: str
    zone: str = "UTC"
    format: str | None = None  # strftime format; None: ISO 8601
    # How to place the repeated autumn hour: by order (infer), or refuse it (raise). An
    # `offset_column` (e.g. "+02:00" / "+0100" / 2) settles it explicitly and overrides this.
    ambiguous: Literal["infer", "raise"] = "infer"
    offset_column: str | None = None

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use UTC or an IANA name such as Europe/Copenhagen"
            ) from None
        return value


class ValueSpec(_Strict):
    column: str
    unit: EnergyUnit | PowerUnit


class KeySource(_Strict):
    """A series key part: the same `constant` for every row, or read from a `column`."""

    constant: str | None = None
    column: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> KeySource:
        if (self.constant is None) == (self.column is None):
            raise ValueError("give exactly one of `constant` or `column`")
        return self


class KeySpec(_Strict):
    area: KeySource
    consumer_type: KeySource

    @model_validator(mode="after")
    def _constants_are_valid_keys(self) -> KeySpec:
        area, ctype = self.area.constant, self.consumer_type.constant
        if area is not None and not re.match(AREA_PATTERN, area):
            raise ValueError(f"area constant {area!r} does not match {AREA_PATTERN}")
        if ctype is not None and not re.match(CONSUMER_TYPE_PATTERN, ctype):
            raise ValueError(f"consumer_type constant {ctype!r} does not match {CONSUMER_TYPE_PATTERN}")
        if ctype == TOTAL:
            raise ValueError(f"consumer_type {TOTAL!r} is reserved for computed parent totals; name the leaf")
        return self


class ResampleSpec(_Strict):
    """Sub-hourly rows to hours: `sum` for energy per interval, `mean` for power; complete hours only."""

    rule: Literal["sum", "mean"]
    minutes: int = Field(gt=0, lt=60)

    @field_validator("minutes")
    @classmethod
    def _divides_the_hour(cls, value: int) -> int:
        if 60 % value:
            raise ValueError(f"{value} does not divide an hour (use 1, 5, 15, 30, ...)")
        return value


class FileSeries(_Strict):
    """One entry of the mapping: a glob of files holding one or more series of the same layout."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    path: str = Field(min_length=1)  # glob, relative to the mapping file's folder
    format: Literal["csv", "parquet"]
    csv: CsvOptions = CsvOptions()
    time: TimeSpec
    value: ValueSpec
    key: KeySpec
    # The country the area lies in: the catalogue's parent of the area (and of its total). Required:
    # a leaf without a known parent is rejected (`known_parent`), so say it here, once.
    country: str = Field(pattern=AREA_PATTERN)
    resample: ResampleSpec | None = None
    label: str | None = None  # may use {area} and {consumer_type}

    @model_validator(mode="after")
    def _rule_fits_the_unit(self) -> FileSeries:
        if self.resample is None:
            return self
        energy = self.value.unit in ENERGY_UNITS
        if energy and self.resample.rule != "sum":
            raise ValueError(f"resample.rule must be `sum` for energy per interval ({self.value.unit}): a mean "
                             "of 15-minute energies is not the hour's energy")  # fmt: skip
        if not energy and self.resample.rule != "mean":
            raise ValueError(f"resample.rule must be `mean` for power ({self.value.unit}): the hour's energy is "
                             "its mean power times one hour")  # fmt: skip
        return self

    @property
    def source_dataset(self) -> str:
        return f"files:{self.name}"

    @property
    def columns(self) -> list[str]:
        """Every column this entry reads from its files."""
        keys = [k.column for k in (self.key.area, self.key.consumer_type) if k.column is not None]
        offset = [self.time.offset_column] if self.time.offset_column else []
        return [self.time.column, self.value.column, *keys, *offset]

    def series_label(self, area: str, consumer_type: str) -> str:
        return (self.label or "{area} · {consumer_type}").format(area=area, consumer_type=consumer_type)


class FilesMapping(_Strict):
    series: list[FileSeries] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> FilesMapping:
        names = [s.name for s in self.series]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"series names must be unique; repeated: {doubled}")
        return self


# ------------------------------------------------------------------------------------------ conversion
def to_hourly_kwh(raw: pd.DataFrame, origin: pd.Series, spec: FileSeries) -> tuple[pd.DataFrame, pd.Series]:
    """A file's rows (in file order) as canonical energy_consumption rows, and each row's origin.

    `origin` names every raw row (`load.csv:17`) so errors point at the file; the returned origin
    names each hourly row by its first source row. Raises FileSeriesError naming rule and rows.
    """
    missing = [c for c in spec.columns if c not in raw.columns]
    if missing:
        raise FileSeriesError(
            "missing_column", spec.name, f"column(s) {missing} not in the file; columns present: {list(raw.columns)}"
        )
    raw = raw.reset_index(drop=True)
    origin = origin.reset_index(drop=True)
    area = _key(raw, spec.key.area)
    consumer_type = _key(raw, spec.key.consumer_type)
    value = _numbers(raw[spec.value.column], origin, spec)
    wall = _parse_times(raw[spec.time.column], origin, spec)
    if spec.time.offset_column:
        utc = _by_offset(wall, raw[spec.time.offset_column], origin, spec)
    else:
        utc = _localize(wall, area + "|" + consumer_type, origin, spec)
    frame = pd.DataFrame({"datetime_utc": utc, "area": area, "consumer_type": consumer_type, "value": value})
    frame, origin = _hourly(frame, origin, spec)
    frame["energy_consumption_kwh"] = frame.pop("value") * KWH_PER_UNIT[spec.value.unit]
    frame["datetime_utc"] = frame["datetime_utc"].astype(UTC_DTYPE)
    return frame[list(ENERGY_CONSUMPTION.columns)], origin


def _key(raw: pd.DataFrame, source: KeySource) -> pd.Series:
    if source.constant is not None:
        return pd.Series(source.constant, index=raw.index, dtype="string")
    # Left as read: a value that breaks the key pattern is rejected by core's rule, naming the row.
    return raw[str(source.column)].astype("string").str.strip()


def _numbers(values: pd.Series, origin: pd.Series, spec: FileSeries) -> pd.Series:
    """Finite floats, or an error naming each row that is empty or not a number."""
    column = spec.value.column
    if pd.api.types.is_bool_dtype(values) or not (
        pd.api.types.is_numeric_dtype(values) or pd.api.types.is_object_dtype(values)
        or pd.api.types.is_string_dtype(values)
    ):  # fmt: skip
        raise FileSeriesError(
            "numeric_value", spec.name, f"column {column!r} has dtype {values.dtype}; expected numbers"
        )
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        empty = numbers.isna()
    else:
        if spec.format == "parquet":
            raise FileSeriesError(
                "numeric_value", spec.name,
                f"column {column!r} is stored as text ({values.dtype}); write it as a float column",
            )  # fmt: skip
        text = values.astype("string").str.strip()
        empty = text.isna() | (text == "")
        if spec.csv.thousands:
            text = text.str.replace(spec.csv.thousands, "", regex=False)
        if spec.csv.decimal != ".":
            text = text.str.replace(spec.csv.decimal, ".", regex=False)
        numbers = pd.to_numeric(text.mask(empty), errors="coerce").astype("float64")
    if empty.any():
        raise FileSeriesError(
            "missing_value", spec.name,
            f"column {column!r} is empty in {int(empty.sum())} row(s); leave a missing hour out of the file "
            "(it is reported as a gap, never invented)",
            _rows(origin, empty),
        )  # fmt: skip
    bad = ~np.isfinite(numbers.to_numpy(dtype="float64", na_value=np.nan))
    if bad.any():
        mask = pd.Series(bad, index=values.index)
        raise FileSeriesError(
            "numeric_value", spec.name,
            f"column {column!r}: {int(mask.sum())} value(s) are not numbers (decimal {spec.csv.decimal!r})",
            _rows(origin, mask, values),
        )  # fmt: skip
    return numbers


def _parse_times(values: pd.Series, origin: pd.Series, spec: FileSeries) -> pd.Series:
    """Wall-clock times (naive), or UTC when the file's times carry their own offset or zone."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return pd.Series(values.dt.tz_convert("UTC"))
    if pd.api.types.is_datetime64_dtype(values):
        return values
    text = values.astype("string").str.strip()
    fmt = spec.time.format or "ISO8601"
    try:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    except ValueError:  # mixed offsets (+01:00 / +02:00): absolute times, read as such
        parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    bad = parsed.isna()
    if bad.any():
        raise FileSeriesError(
            "unparseable_time", spec.name,
            f"column {spec.time.column!r}: {int(bad.sum())} value(s) do not match format {fmt!r}",
            _rows(origin, bad, values),
        )  # fmt: skip
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC")
    return pd.Series(parsed)


def _localize(wall: pd.Series, series: pd.Series, origin: pd.Series, spec: FileSeries) -> pd.Series:
    """Wall-clock times in the declared zone to UTC, series by series in file order.

    Why per series and in order: the repeated autumn hour is told apart by its position (the first
    02:00 is summer time), which only holds within one series' own sequence.
    """
    if isinstance(wall.dtype, pd.DatetimeTZDtype):
        return wall
    zone = spec.time.zone
    out = pd.Series(pd.NaT, index=wall.index, dtype=pd.DatetimeTZDtype(unit="ns", tz="UTC"))
    for _, rows in wall.groupby(series, sort=False).groups.items():
        part = pd.DatetimeIndex(wall.loc[rows])
        gap = np.asarray(part.tz_localize(zone, ambiguous=np.ones(len(part), dtype=bool), nonexistent="NaT").isna())
        if gap.any():
            raise FileSeriesError(
                "nonexistent_local_time", spec.name,
                f"{int(gap.sum())} wall time(s) do not exist in {zone} (the spring DST gap); drop those rows or "
                "give times in UTC",
                _rows(origin.loc[rows], pd.Series(gap, index=rows), wall.loc[rows]),
            )  # fmt: skip
        repeated = np.asarray(part.tz_localize(zone, ambiguous="NaT", nonexistent="NaT").isna())
        try:
            local = part.tz_localize(zone, ambiguous=spec.time.ambiguous)
        except Exception as exc:  # pytz's AmbiguousTimeError, raised through pandas
            how = "by order (ambiguous: infer)" if spec.time.ambiguous == "infer" else "(ambiguous: raise)"
            raise FileSeriesError(
                "ambiguous_local_time", spec.name,
                f"the repeated autumn hour cannot be placed {how}: {exc}; each repeated wall time must appear "
                "twice in order, or add an offset column (time.offset_column)",
                _rows(origin.loc[rows], pd.Series(repeated, index=rows), wall.loc[rows]),
            ) from None  # fmt: skip
        out.loc[rows] = local.tz_convert("UTC")
    return out


def _by_offset(wall: pd.Series, offsets: pd.Series, origin: pd.Series, spec: FileSeries) -> pd.Series:
    """UTC = wall time - the row's own UTC offset, which must agree with the declared zone."""
    hours = offsets.map(_offset_hours)
    bad = hours.isna()
    if bad.any():
        raise FileSeriesError(
            "unparseable_offset", spec.name,
            f"column {spec.time.offset_column!r}: expected +HH:MM, +HHMM or hours", _rows(origin, bad, offsets),
        )  # fmt: skip
    naive = wall.dt.tz_localize(None) if isinstance(wall.dtype, pd.DatetimeTZDtype) else wall
    utc = (naive - pd.to_timedelta(hours.astype("float64"), unit="h")).dt.tz_localize("UTC")
    mismatch = utc.dt.tz_convert(spec.time.zone).dt.tz_localize(None) != naive
    if mismatch.any():
        raise FileSeriesError(
            "offset_mismatch", spec.name,
            f"the offset does not match {spec.time.zone} at that wall time", _rows(origin, mismatch, offsets),
        )  # fmt: skip
    return utc


_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{1,2}):?(\d{2})?$")


def _offset_hours(value: object) -> float | None:
    if isinstance(value, int | float | np.integer | np.floating) and np.isfinite(value):
        return float(value)
    match = _OFFSET.match(str(value).strip())
    if not match:
        return None
    sign = -1.0 if match.group(1) == "-" else 1.0
    return sign * (int(match.group(2)) + int(match.group(3) or 0) / 60)


def _hourly(frame: pd.DataFrame, origin: pd.Series, spec: FileSeries) -> tuple[pd.DataFrame, pd.Series]:
    """Hourly rows as they are, or complete sub-hourly intervals summed/averaged per hour.

    An hour with fewer intervals than it should have is dropped, not scaled up: it then shows as a
    gap in the continuity report instead of as a too-small value.
    """
    times = frame["datetime_utc"]
    if spec.resample is None:
        off = times.dt.floor("h") != times
        if off.any():
            raise FileSeriesError(
                "not_on_the_hour", spec.name,
                "times must be whole hours; for sub-hourly data declare `resample: {rule, minutes}`",
                _rows(origin, off, times.astype("string")),
            )  # fmt: skip
        return frame, origin
    minutes = spec.resample.minutes
    off = times.dt.floor(f"{minutes}min") != times
    if off.any():
        raise FileSeriesError(
            "off_interval_time", spec.name,
            f"times must lie on the declared {minutes}-minute grid", _rows(origin, off, times.astype("string")),
        )  # fmt: skip
    frame = frame.assign(_origin=origin).drop_duplicates(subset=["datetime_utc", "area", "consumer_type", "value"])
    twice = frame.duplicated(subset=["datetime_utc", "area", "consumer_type"], keep=False)
    if twice.any():
        raise FileSeriesError(
            "duplicate_interval", spec.name, "one interval of one series has two different values",
            _rows(frame["_origin"], twice, frame["value"]),
        )  # fmt: skip
    frame["_hour"] = frame["datetime_utc"].dt.floor("h")
    grouped = frame.groupby(["_hour", "area", "consumer_type"], sort=True, observed=True)
    hourly = grouped.agg(value=("value", spec.resample.rule), parts=("value", "size"),
                         _origin=("_origin", "first")).reset_index()  # fmt: skip
    complete = hourly["parts"] == 60 // minutes
    if not complete.all():
        log.warning(
            "files source, series %r: %d hour(s) with fewer than %d %d-minute intervals left out (reported as "
            "gaps, not scaled up): %s", spec.name, int((~complete).sum()), 60 // minutes, minutes,
            ", ".join(str(o) for o in hourly.loc[~complete, "_origin"].head(SHOWN_ROWS)),
        )  # fmt: skip
    hourly = hourly[complete].rename(columns={"_hour": "datetime_utc"}).reset_index(drop=True)
    return hourly[["datetime_utc", "area", "consumer_type", "value"]], hourly["_origin"]


def _rows(origin: pd.Series, mask: pd.Series, values: pd.Series | None = None) -> list[str]:
    picked = origin[mask.to_numpy()]
    if values is None:
        return [str(o) for o in picked]
    shown = values[mask.to_numpy()]
    return [f"{o} ({v!r})" for o, v in zip(picked, shown.astype("object"), strict=True)]
