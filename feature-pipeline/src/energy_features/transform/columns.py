"""Column checks shared by the transforms: a missing source column is an error that names it."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


class MissingColumnError(ValueError):
    """Raw records lack a column the transform needs; nothing is transformed or written."""


def require_columns(records: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    missing = [c for c in columns if c not in records.columns]
    if missing:
        raise MissingColumnError(
            f"{source} records lack column(s) {', '.join(missing)}; columns present: "
            f"{list(records.columns)} (rule required_columns). Check the source format: SOURCES.md in "
            "ENERGY_SNAPSHOT_DIR describes each dataset's columns."
        )


def as_float(values: pd.Series) -> pd.Series:
    """float64 when every value converts; otherwise the values unchanged, so validation's dtype rule
    reports them (a bad value is shown to a person, not coerced into NaN or a number)."""
    try:
        return values.astype("float64")
    except (TypeError, ValueError):
        return values


def as_utc(values: pd.Series) -> pd.Series:
    """Naive ISO strings are UTC (the API is asked for timezone=utc); unparseable ones become NaT,
    which validation rejects as a null event time, naming the row."""
    return pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce").astype("datetime64[us, UTC]")
