"""The app-api response models: the wire format of docs/api-contract.md, one pydantic model per body.

Why in core: this is the contract between app-api (which serialises these models) and the two
dashboards, app-frontend and app-monitoring (which parse app-api's JSON into them). Services never
import each other, so the one schema all three share lives in the shared package instead of being
copied three times; docs/api-contract.md is the prose, this module is its typed form. A change
here is a change of the JSON contract, so it must stay backward compatible or bump the version.
Only pydantic and the standard library are imported, so a dashboard pulls in no web framework.

Why every metric is `float | None`: an hour with no actuals has no error, and pandas' NaN is not
JSON; the API says `null` and the schema says so too, so clients never meet a surprise type.
Datetimes are timezone-aware UTC and serialise as ISO-8601 with `Z` (pydantic's default for UTC).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["ok", "warn", "alert"]
SeriesLevel = Literal["leaf", "area", "country"]

# What produced a forecast row (`predictions.model_family`) besides a trained model's own family.
COLD_START_FAMILY = "seasonal_naive_24"
BOTTOM_UP_FAMILY = "bottom_up"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorDetail(_Model):
    """Every non-422 error body: a sentence saying what was wrong and what is valid."""

    detail: str


class Health(_Model):
    status: Literal["ok"] = "ok"


class Readiness(_Model):
    ready: bool
    feature_store: str = Field(description='"ok" or why the feature store cannot be read')
    registry: str = Field(description='"ok" or why the model registry cannot be read')
    champion_version: int | None
    latest_data_at: datetime | None
    latest_forecast_at: datetime | None


class CodeLabel(_Model):
    code: str
    label: str


class SeriesNode(_Model):
    """One entry of the series catalogue: a leaf a source measures, or a bottom-up parent total.

    `/series` lists nodes in tree order (country totals, then per area its total before its
    leaves), so a picker can keep the order it receives.
    """

    id: str = Field(description="'<area>|<consumer_type>'")
    area: str
    area_label: str = Field(description="Human name of the area (or country) the series belongs to")
    consumer_type: str = Field(description="Leaf key within the area, or 'total' for a parent")
    level: SeriesLevel
    parent_id: str | None = Field(description="Id of the parent total; null for a root")
    label: str
    unit: str
    source_dataset: str | None
    first_seen_utc: datetime | None
    last_seen_utc: datetime | None
    status: str = Field(description="active or retired")


class SeriesOverview(_Model):
    consumer_type: str
    label: str
    forecast_next_24h_kwh: float | None
    same_hours_last_week_kwh: float | None = Field(
        description="Actual consumption 168 h before the forecast hours; null unless every hour is known"
    )
    expected_change_pct: float | None
    model_family: str | None = Field(default=None, description="What produced the forecast (see Forecast.model_family)")


class AreaOverview(_Model):
    area: str
    forecast_made_at: datetime | None
    model_version: int | None
    series: list[SeriesOverview]


class HistoryPoint(_Model):
    datetime_utc: datetime
    energy_consumption_kwh: float


class ForecastPoint(_Model):
    datetime_utc: datetime
    hours_ahead: int
    prediction_kwh: float
    prediction_q10_kwh: float | None
    prediction_q90_kwh: float | None
    model_family: str | None = Field(default=None, description="What produced this row (see Forecast)")


class Forecast(_Model):
    area: str
    consumer_type: str
    consumer_type_label: str
    forecast_made_at: datetime | None
    model_name: str | None
    model_version: int | None
    latest_data_at: datetime | None
    history: list[HistoryPoint]
    forecast: list[ForecastPoint]
    model_family: str | None = Field(
        default=None,
        description=(
            "What produced the latest forecast: the model's family (lightgbm..., nhits...), "
            f"'{COLD_START_FAMILY}' for a series with too little history (cold start) or "
            f"'{BOTTOM_UP_FAMILY}' for a parent total summed from its leaves; null for rows written "
            "before this field existed (model_name/model_version still name the model)"
        ),
    )
    cold_start: bool = Field(
        default=False, description=f"True when the latest forecast is the {COLD_START_FAMILY} fallback"
    )


class HourlyErrorPoint(_Model):
    datetime_utc: datetime
    mape: float | None
    wape: float | None
    mae_kwh: float | None
    bias_kwh: float | None
    interval_coverage: float | None
    count: int
    missing_count: int


class MonitoringMetrics(_Model):
    backtest_wape: float | None = Field(description="The champion's backtest WAPE, for reference lines")
    champion_version: int | None
    points: list[HourlyErrorPoint]


class HorizonError(_Model):
    hours_ahead: int
    mape: float | None
    wape: float | None
    mae_kwh: float | None
    bias_kwh: float | None
    count: int


class SeriesErrorPoint(_Model):
    datetime_utc: datetime
    hours_ahead: int
    forecast_made_at: datetime
    model_version: int
    actual_kwh: float | None
    prediction_kwh: float
    prediction_q10_kwh: float | None
    prediction_q90_kwh: float | None
    abs_error_kwh: float | None
    pct_error: float | None
    in_interval: bool | None
    actual_missing: bool


class SeriesRank(_Model):
    area: str
    consumer_type: str
    label: str
    wape: float | None
    mape: float | None
    mae_kwh: float | None
    bias_kwh: float | None
    count: int


class AlertCheck(_Model):
    check_name: str
    status: Status
    value: float | None
    threshold: float | None
    reason: str
    datetime_utc: datetime


class AlertStatus(_Model):
    status: Status = Field(description="The worst status among the latest row of every check")
    retraining_recommended: bool
    checked_at: datetime | None
    checks: list[AlertCheck]


class ModelVersion(_Model):
    name: str
    version: int
    aliases: list[str]
    created_at: datetime
    model_family: str | None
    approval: str | None
    metrics: dict[str, float | None]
    lineage: dict[str, Any] | None
    promoted_at: datetime | None


class ApprovalResult(_Model):
    version: int
    approval: Literal["approved", "rejected"]
    aliases: list[str]
    promoted: bool = Field(description="Whether this call moved `champion` to the version")
    reason: str = Field(description="Why the version was or was not promoted")


LifecycleState = Literal["candidate", "challenger", "champion", "rejected", "archived"]


class ModelTransition(_Model):
    """One audit record of the model lifecycle (`energy_core.lifecycle`): who moved a version from
    one state to another, when (simulated time in a simulation) and why. `training-pipeline history
    --json` prints the same list."""

    version: int
    operation: str = Field(description="gate, approve, promote, reject, rollback or archive")
    from_state: LifecycleState | None
    to_state: LifecycleState
    at: datetime
    who: str = Field(description="`cli:<user>`, `api-key:<key id>` or the training run; never a key")
    why: str
    champion_before: int | None
    champion_after: int | None


class SimulationProgress(_Model):
    """Where the batch simulation (`make demo`'s background run) stands: hour k of n and an ETA.

    `status` is `not_started` when no simulation has written its state, `finished` after its last
    hour, else `running`; `updated_at` tells a live run from one that was stopped (it stops moving).
    """

    status: Literal["not_started", "running", "finished"]
    start: datetime | None = Field(default=None, description="First simulated as-of hour")
    end: datetime | None = Field(default=None, description="End of the window (exclusive)")
    hours_total: int = Field(default=0, ge=0)
    hours_done: int = Field(default=0, ge=0)
    completed_through: datetime | None = Field(default=None, description="Last as-of hour fully simulated")
    seconds_per_hour: float | None = Field(default=None, description="Mean wall time per simulated hour so far")
    eta: datetime | None = Field(default=None, description="When the last hour should be done, at that pace")
    updated_at: datetime | None = None
    retrain_profile: str | None = None
