"""The canonical data model: feature groups, feature views and their validation rules.

Declared once here so that every backend (embedded Delta/DuckDB, Hopsworks) and every service
applies the same rules. Services refer to groups through these objects, never through string
literals, so a rename happens in one place.

Conventions
- Every time inside the system is timezone-aware UTC (`datetime64[us, UTC]`). Danish local time
  appears only as calendar features.
- A feature group row is identified by its primary key plus its event time.
- `event_time` is when a value becomes *known*. The as-of join of a feature view never returns a
  value whose event time is after the row's time minus the join's `lag`, which is how the system
  keeps future information out of training and prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd
import pandera.pandas as pa

UTC_DTYPE = pd.DatetimeTZDtype(unit="us", tz="UTC")

# Danish price areas and the ConsumptionDE35Hour consumer-type codes. They are *reference data*
# (labels, the DE35 snapshot's known vocabulary, benchmarks), not validation rules: the set of
# series is learned from the data into the `series` catalogue (see `energy_core.series`), so a
# series never seen before is admitted, not rejected.
AREAS: tuple[str, ...] = ("DK1", "DK2")
AREA_LABELS: dict[str, str] = {
    "DK": "Denmark",
    "DK1": "West Denmark (Jutland and Funen)",
    "DK2": "East Denmark (Zealand, Lolland-Falster, Bornholm)",
}

# ConsumerType_DE35 codes present in Energi Data Service's ConsumptionDE35Hour dataset.
CONSUMER_TYPES: tuple[str, ...] = (
    "111", "112", "119", "121", "122", "123", "130", "211", "212", "215", "220", "310", "320",
    "330", "340", "350", "360", "370", "381", "382", "390", "410", "421", "422", "431", "432",
    "433", "441", "442", "443", "444", "445", "446", "447", "450", "461", "462", "999",
)  # fmt: skip

# Human-readable labels for the DE35 codes. Only codes whose meaning is documented are listed;
# no verified DE35 label table was available, so every code falls back to "Consumer type <code>"
# (see `consumer_type_label`). Catalogue labels (`series` group) take precedence where present.
CONSUMER_TYPE_LABELS: dict[str, str] = {}

# A series key: `area` is a top-level node under a country (a price area such as DK1, a user's
# own area) or the country itself for its total; `consumer_type` the leaf within it, or TOTAL.
# The patterns keep keys safe in URLs, file names and model ids (no '|', '/', spaces).
AREA_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"
CONSUMER_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
TOTAL = "total"


def consumer_type_label(code: str) -> str:
    """The documented label for a consumer-type code, or a readable fallback when none is known."""
    if code == TOTAL:
        return "All consumers"
    return CONSUMER_TYPE_LABELS.get(code, f"Consumer type {code}")


def _rule(name: str, check: Callable[..., pa.Check], *args: Any) -> pa.Check:
    """A check whose failures are reported under `name` (the rule a user reads in the error)."""
    return check(*args, name=name, error=name)


def _utc(nullable: bool = False) -> pa.Column:
    return pa.Column(UTC_DTYPE, nullable=nullable)


def _float(nullable: bool = True, *checks: pa.Check) -> pa.Column:
    return pa.Column("float64", checks=list(checks), nullable=nullable)


_AREA = pa.Column("string", _rule("area_key_pattern", pa.Check.str_matches, AREA_PATTERN))
_CONSUMER_TYPE = pa.Column(
    "string", _rule("consumer_type_key_pattern", pa.Check.str_matches, CONSUMER_TYPE_PATTERN)
)
# A leaf of `energy_consumption` may not claim the reserved key of a parent total.
_LEAF_CONSUMER_TYPE = pa.Column(
    "string",
    [
        _rule("consumer_type_key_pattern", pa.Check.str_matches, CONSUMER_TYPE_PATTERN),
        _rule("reserved_total_key", pa.Check.notin, [TOTAL]),
    ],
)


@dataclass(frozen=True)
class FeatureGroupSpec:
    """A feature group: a versioned table of features keyed on primary key + event time."""

    name: str
    version: int
    primary_key: tuple[str, ...]
    event_time: str
    description: str
    columns: dict[str, pa.Column]
    column_descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, ...]:
        """The identity of a row: primary key columns then the event-time column."""
        return (*self.primary_key, self.event_time)

    @property
    def table_name(self) -> str:
        return f"{self.name}_v{self.version}"

    @property
    def schema(self) -> pa.DataFrameSchema:
        """The pandera schema: declared dtypes, value checks and uniqueness of the key."""
        return pa.DataFrameSchema(
            columns=self.columns,
            unique=list(self.key),
            strict=True,
            coerce=False,
            name=self.table_name,
        )

    def empty_frame(self) -> pd.DataFrame:
        """A zero-row frame with the declared columns and dtypes."""
        return pd.DataFrame({name: pd.Series(dtype=col.dtype.type) for name, col in self.columns.items()})


ENERGY_CONSUMPTION = FeatureGroupSpec(
    name="energy_consumption",
    version=1,
    primary_key=("area", "consumer_type"),
    event_time="datetime_utc",
    description=(
        "Hourly electricity consumption of every leaf series (a price area's DE35 consumer type, a "
        "region's consumer category, or a user's own series), from Energi Data Service (source: "
        "Energinet, www.energidataservice.dk, CC BY 4.0) or the files source. Event time is the start "
        "of the consumption hour in UTC. Parent totals live in energy_consumption_totals."
    ),
    columns={
        "datetime_utc": _utc(),
        "area": _AREA,
        "consumer_type": _LEAF_CONSUMER_TYPE,
        "energy_consumption_kwh": pa.Column(
            "float64", _rule("non_negative_consumption", pa.Check.ge, 0), nullable=False
        ),
    },
    column_descriptions={
        "datetime_utc": "Start of the hour, UTC",
        "area": "Price area or other top-level area (DK1 west, DK2 east; a user's own area)",
        "consumer_type": "Leaf within the area: DE35 code, <region>.<category>, or a user's key",
        "energy_consumption_kwh": "Total consumption in the hour, kWh",
    },
)

ENERGY_CONSUMPTION_TOTALS = FeatureGroupSpec(
    name="energy_consumption_totals",
    version=1,
    primary_key=("area", "consumer_type"),
    event_time="datetime_utc",
    description=(
        "Bottom-up totals of energy_consumption for every parent series of the catalogue (each "
        "area's 'total', the country's 'total'): the sum of the leaves' kWh, written only for hours "
        "where every leaf the catalogue knows under that parent has a value."
    ),
    columns={
        "datetime_utc": _utc(),
        "area": _AREA,
        "consumer_type": _CONSUMER_TYPE,
        "energy_consumption_kwh": pa.Column(
            "float64", _rule("non_negative_consumption", pa.Check.ge, 0), nullable=False
        ),
        "leaf_count": pa.Column("int64", _rule("positive_leaf_count", pa.Check.ge, 1)),
    },
    column_descriptions={
        "datetime_utc": "Start of the hour, UTC",
        "area": "The parent's area (DK1, DK2) or country (DK)",
        "consumer_type": "'total'",
        "energy_consumption_kwh": "Sum of the leaves' consumption in the hour, kWh",
        "leaf_count": "How many leaf series were summed",
    },
)

SERIES = FeatureGroupSpec(
    name="series",
    version=1,
    primary_key=("area", "consumer_type"),
    event_time="registered_at",
    description=(
        "The series catalogue, learned from the data: one row per series (leaf or parent total) with "
        "its place in the hierarchy country -> area -> leaf, a human label, unit, source dataset and the "
        "first/last hour seen. Event time is when the series entered the catalogue; it never changes."
    ),
    columns={
        "registered_at": _utc(),
        "area": _AREA,
        "consumer_type": _CONSUMER_TYPE,
        "level": pa.Column("string", _rule("known_level", pa.Check.isin, ["leaf", "area", "country"])),
        "parent_id": pa.Column("string", nullable=True),
        "label": pa.Column("string"),
        "unit": pa.Column("string", _rule("known_unit", pa.Check.isin, ["kWh"])),
        "source_dataset": pa.Column("string"),
        "first_seen_utc": _utc(nullable=True),
        "last_seen_utc": _utc(nullable=True),
        "status": pa.Column("string", _rule("known_status", pa.Check.isin, ["active", "retired"])),
        "attributes": pa.Column("string", nullable=True),
    },
    column_descriptions={
        "registered_at": "When the series entered the catalogue, UTC",
        "area": "Area key (or the country for a country total)",
        "consumer_type": "Leaf key within the area, or 'total'",
        "level": "leaf, area (an area's total) or country (a country's total)",
        "parent_id": "Series id ('area|consumer_type') of the parent total, null for a root",
        "label": "Human-readable name",
        "unit": "Unit of the values (kWh)",
        "source_dataset": "Where the series comes from (ConsumptionDE35Hour, files:<name>, ...)",
        "first_seen_utc": "First hour with a value, UTC",
        "last_seen_utc": "Last hour with a value, UTC",
        "status": "active or retired",
        "attributes": "JSON object of the source's own names for the series (e.g. RegionName)",
    },
)

WEATHER = FeatureGroupSpec(
    name="weather",
    version=1,
    primary_key=("area",),
    event_time="datetime_utc",
    description=(
        "Weather observations per price area from one Meteostat station each (Meteostat, "
        "meteostat.net). Event time is when the observation is complete and therefore known: the "
        "end of the observed hour, or of the observed day for daily values."
    ),
    columns={
        "datetime_utc": _utc(),
        "area": _AREA,
        "station": pa.Column("string"),
        "period_start_utc": _utc(),
        "period_hours": pa.Column("int64", _rule("known_period", pa.Check.isin, [1, 23, 24, 25])),
        "temperature_c": _float(True, _rule("plausible_temperature", pa.Check.in_range, -60, 60)),
        "temperature_min_c": _float(True, _rule("plausible_temperature", pa.Check.in_range, -60, 60)),
        "temperature_max_c": _float(True, _rule("plausible_temperature", pa.Check.in_range, -60, 60)),
        "precipitation_mm": _float(True, _rule("non_negative_precipitation", pa.Check.ge, 0)),
        "wind_speed_kmh": _float(True, _rule("non_negative_wind_speed", pa.Check.ge, 0)),
        "pressure_hpa": _float(True, _rule("plausible_pressure", pa.Check.in_range, 850, 1100)),
    },
    column_descriptions={
        "datetime_utc": "When the observation is complete (end of the hour, or of the local day), UTC",
        "area": "Price area the station represents; an area without a station's data has no rows",
        "station": "Meteostat station id (e.g. 06180 Copenhagen/Kastrup)",
        "period_start_utc": "Start of the observed period, UTC",
        "period_hours": "Length of the observed period: 1 (hourly) or 23/24/25 (a local day, DST-aware)",
        "temperature_c": "Mean air temperature over the period, °C",
        "temperature_min_c": "Minimum air temperature over the period, °C (daily values only)",
        "temperature_max_c": "Maximum air temperature over the period, °C (daily values only)",
        "precipitation_mm": "Total precipitation over the period, mm",
        "wind_speed_kmh": "Mean wind speed over the period, km/h",
        "pressure_hpa": "Mean sea-level air pressure over the period, hPa",
    },
)

CALENDAR = FeatureGroupSpec(
    name="calendar",
    version=1,
    primary_key=(),
    event_time="datetime_utc",
    description=(
        "Calendar per UTC hour in Danish local time (Europe/Copenhagen): hour, weekday, month, "
        "public holidays (holidays.Denmark) with Dec 24 and Dec 31 treated as holiday-like. "
        "Deterministic, so known in advance for any future hour."
    ),
    columns={
        "datetime_utc": _utc(),
        "local_hour": pa.Column("int64", pa.Check.in_range(0, 23)),
        "local_weekday": pa.Column("int64", pa.Check.in_range(0, 6)),
        "local_month": pa.Column("int64", pa.Check.in_range(1, 12)),
        "local_day_of_year": pa.Column("int64", pa.Check.in_range(1, 366)),
        "is_weekend": pa.Column("bool"),
        "is_holiday": pa.Column("bool"),
        "is_holiday_like": pa.Column("bool"),
        "holiday_name": pa.Column("string", nullable=True),
        "utc_offset_hours": pa.Column("int64", _rule("danish_utc_offset", pa.Check.isin, [1, 2])),
    },
    column_descriptions={
        "datetime_utc": "Start of the hour, UTC",
        "local_hour": "Hour of the day in Danish local time (02 repeats in October, is absent in March)",
        "local_weekday": "Day of the week in Danish local time, Monday = 0",
        "local_month": "Month in Danish local time, 1-12",
        "local_day_of_year": "Day of the year in Danish local time, 1-366",
        "is_weekend": "Saturday or Sunday in Danish local time",
        "is_holiday": "Danish public holiday (holidays.Denmark)",
        "is_holiday_like": "Public holiday, or Dec 24 / Dec 31, which behave like holidays in the data",
        "holiday_name": "Name of the holiday or holiday-like day, else null",
        "utc_offset_hours": "Danish UTC offset in that hour: 1 (CET) or 2 (CEST)",
    },
)

PREDICTIONS = FeatureGroupSpec(
    name="predictions",
    version=1,
    primary_key=("area", "consumer_type", "forecast_made_at"),
    event_time="datetime_utc",
    description=(
        "24-hour-ahead forecasts written by batch prediction: one row per series (leaves and their "
        "bottom-up parent totals), target hour and forecast time. datetime_utc is the target hour; "
        "forecast_made_at the as-of time of the run."
    ),
    columns={
        "datetime_utc": _utc(),
        "area": _AREA,
        "consumer_type": _CONSUMER_TYPE,
        "forecast_made_at": _utc(),
        "hours_ahead": pa.Column("int64", _rule("positive_horizon", pa.Check.in_range, 1, 168)),
        "prediction_kwh": _float(False),
        "prediction_q10_kwh": _float(True),
        "prediction_q90_kwh": _float(True),
        "model_name": pa.Column("string"),
        "model_version": pa.Column("int64"),
        # Added in release 2 (nullable, so release-1 stores migrate additively): what produced the
        # row: the model's family, `seasonal_naive_24` (cold start) or `bottom_up` (parent totals).
        "model_family": pa.Column("string", nullable=True),
    },
)

MONITORING = FeatureGroupSpec(
    name="monitoring",
    version=1,
    primary_key=("area", "consumer_type", "hours_ahead"),
    event_time="datetime_utc",
    description=(
        "Forecast error per series, target hour and hours_ahead, written as actuals arrive. "
        "actual_missing marks an hour whose actual has not landed or never will (not invented)."
    ),
    columns={
        "datetime_utc": _utc(),
        "area": _AREA,
        "consumer_type": _CONSUMER_TYPE,
        "hours_ahead": pa.Column("int64", _rule("positive_horizon", pa.Check.in_range, 1, 168)),
        "forecast_made_at": _utc(),
        "model_version": pa.Column("int64"),
        "prediction_kwh": _float(False),
        "prediction_q10_kwh": _float(True),
        "prediction_q90_kwh": _float(True),
        "actual_kwh": _float(True),
        "actual_missing": pa.Column("bool"),
        "error_kwh": _float(True),
        "abs_error_kwh": _float(True),
        "pct_error": _float(True),
        "in_interval": pa.Column("boolean", nullable=True),
    },
)

MONITORING_HOURLY = FeatureGroupSpec(
    name="monitoring_hourly",
    version=1,
    primary_key=(),
    event_time="datetime_utc",
    description="Forecast error per target hour aggregated across all series and horizons.",
    columns={
        "datetime_utc": _utc(),
        "mape": _float(True),
        "wape": _float(True),
        "mae_kwh": _float(True),
        "bias_kwh": _float(True),
        "interval_coverage": _float(True),
        "count": pa.Column("int64", pa.Check.ge(0)),
        "missing_count": pa.Column("int64", pa.Check.ge(0)),
    },
)

MONITORING_HORIZON = FeatureGroupSpec(
    name="monitoring_horizon",
    version=1,
    primary_key=("hours_ahead",),
    event_time="datetime_utc",
    description="Forecast error per target hour and hours_ahead, aggregated across all series.",
    columns={
        "datetime_utc": _utc(),
        "hours_ahead": pa.Column("int64", _rule("positive_horizon", pa.Check.in_range, 1, 168)),
        "mape": _float(True),
        "wape": _float(True),
        "mae_kwh": _float(True),
        "bias_kwh": _float(True),
        "abs_error_sum_kwh": _float(True),
        "actual_sum_kwh": _float(True),
        "count": pa.Column("int64", pa.Check.ge(0)),
    },
)

ALERTS = FeatureGroupSpec(
    name="alerts",
    version=1,
    primary_key=("check_name",),
    event_time="datetime_utc",
    description=(
        "Drift and performance status rows (ok / warn / alert) written by monitoring, with the "
        "reason; retraining_recommended is the flag an orchestrator acts on."
    ),
    columns={
        "datetime_utc": _utc(),
        "check_name": pa.Column("string"),
        "status": pa.Column("string", _rule("known_status", pa.Check.isin, ["ok", "warn", "alert"])),
        "value": _float(True),
        "threshold": _float(True),
        "reason": pa.Column("string"),
        "retraining_recommended": pa.Column("bool"),
    },
)

FEATURE_GROUPS: tuple[FeatureGroupSpec, ...] = (
    ENERGY_CONSUMPTION,
    ENERGY_CONSUMPTION_TOTALS,
    SERIES,
    WEATHER,
    CALENDAR,
    PREDICTIONS,
    MONITORING,
    MONITORING_HOURLY,
    MONITORING_HORIZON,
    ALERTS,
)


@dataclass(frozen=True)
class Join:
    """One feature group joined onto a feature view's spine, point-in-time correct.

    For a spine row at time t the join takes, per `on` key, the latest row of `group` whose event
    time is <= t - lag. `lag` expresses when a feature is usable: e.g. weather observed up to
    24 hours before the target hour is knowable at any forecast origin within the horizon.
    """

    group: FeatureGroupSpec
    on: tuple[str, ...] = ()
    lag: timedelta = timedelta(0)
    features: tuple[str, ...] | None = None  # None: all non-key columns
    prefix: str = ""


@dataclass(frozen=True)
class FeatureViewSpec:
    """A named, versioned, point-in-time-correct join of feature groups onto a spine group."""

    name: str
    version: int
    spine: FeatureGroupSpec
    joins: tuple[Join, ...]
    description: str
    label: str | None = None

    def output_columns(self) -> list[str]:
        """Column order of a materialised view: spine columns then each join's features."""
        cols = list(self.spine.columns)
        for j in self.joins:
            for c in feature_columns(j):
                cols.append(j.prefix + c)
        return cols


def feature_columns(join: Join) -> tuple[str, ...]:
    """Columns a join contributes (excluding its key and event-time columns)."""
    if join.features is not None:
        return join.features
    return tuple(c for c in join.group.columns if c not in join.group.key)


ENERGY_FORECASTING_VIEW = FeatureViewSpec(
    name="energy_forecasting",
    version=1,
    spine=ENERGY_CONSUMPTION,
    joins=(
        Join(CALENDAR),
        Join(
            WEATHER,
            on=("area",),
            lag=timedelta(hours=24),
            features=(
                "temperature_c",
                "temperature_min_c",
                "temperature_max_c",
                "precipitation_mm",
                "wind_speed_kmh",
                "pressure_hpa",
            ),
            prefix="weather_",
        ),
    ),
    description=(
        "Consumption per series and hour with calendar features for that hour (known in advance) "
        "and the latest weather observation known 24 hours before that hour, so every feature is "
        "available at any forecast origin within a 24-hour horizon."
    ),
    label="energy_consumption_kwh",
)

FEATURE_VIEWS: tuple[FeatureViewSpec, ...] = (ENERGY_FORECASTING_VIEW,)


def series_id(area: str, consumer_type: str) -> str:
    """The identifier models use for one series (area + consumer type)."""
    return f"{area}|{consumer_type}"


def split_series_id(uid: str) -> tuple[str, str]:
    area, consumer_type = uid.split("|", 1)
    return area, consumer_type


# ---------------------------------------------------------------------------------------------
# The forecast contract between training (which registers a model) and batch prediction (which
# loads it by alias). A registered model is an MLflow pyfunc whose `predict` takes one frame of
# FORECAST_INPUT_COLUMNS plus feature-view columns, holding each series' history (label present)
# followed by the future hours to forecast (label null), and returns FORECAST_OUTPUT_COLUMNS.
# ---------------------------------------------------------------------------------------------
FORECAST_INPUT_COLUMNS: tuple[str, ...] = ("area", "consumer_type", "datetime_utc", "energy_consumption_kwh")
FORECAST_OUTPUT_COLUMNS: tuple[str, ...] = (
    "area",
    "consumer_type",
    "datetime_utc",
    "hours_ahead",
    "prediction_kwh",
    "prediction_q10_kwh",
    "prediction_q90_kwh",
)
QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)


def describe_groups() -> list[dict[str, Any]]:
    """A plain description of every feature group (for docs and `stats` output)."""
    return [
        {
            "name": g.name,
            "version": g.version,
            "primary_key": list(g.primary_key),
            "event_time": g.event_time,
            "description": g.description,
            "columns": {n: str(c.dtype) for n, c in g.columns.items()},
        }
        for g in FEATURE_GROUPS
    ]
