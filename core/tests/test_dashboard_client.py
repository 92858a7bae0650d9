"""The dashboards' shared client turns the contract's JSON into typed models and every failure into
one of three kinds, for the forecast page's routes and the monitoring page's alike.

Most tests talk HTTP to the fake app-api of `energy_core.dashboard.testing` (a stand-in, served for
real on 127.0.0.1); the timeout and broken-body cases mock the transport with httpx.MockTransport,
because a real server cannot be made to misbehave that precisely.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pandas as pd
import pytest

from energy_core.dashboard.client import (
    ApiClient,
    ApiError,
    ApiUnavailable,
    NoData,
    Window,
    area_choices,
    series_in_area,
)
from energy_core.dashboard.frames import (
    checks_frame,
    forecast_frame,
    history_frame,
    overview_frame,
    rows_frame,
    timeline_frame,
)
from energy_core.dashboard.testing import RunningApi, closed_port_url, empty_api, full_api
from energy_core.settings import DashboardSettings

__all__ = ["closed_port_url", "empty_api", "full_api"]  # the fixtures, imported for pytest to find

DEFAULT = Window()


def api_at(url: str) -> ApiClient:
    return ApiClient(url, timeout_s=5)


def mocked(handler: Callable[[httpx.Request], httpx.Response]) -> ApiClient:
    """Mocked transport: no server, the handler answers every request."""
    return ApiClient("http://api.invalid", timeout_s=1, transport=httpx.MockTransport(handler))


def answering(status: int, **body: Any) -> ApiClient:
    return mocked(lambda request: httpx.Response(status, **body))


# ------------------------------------------------------------------------------------------ catalogue
def test_client_from_settings_uses_the_url_and_the_per_request_timeout() -> None:
    settings = DashboardSettings(ENERGY_API_URL="http://api:8001", ENERGY_DASHBOARD_TIMEOUT_S=2.5)  # type: ignore[call-arg]
    assert ApiClient.from_settings(settings) == ApiClient("http://api:8001", 2.5)


def test_areas_and_consumer_types_come_with_labels(full_api: RunningApi) -> None:
    api = api_at(full_api.url)
    assert [(a.code, a.label) for a in api.areas()] == [("DK1", "West Denmark"), ("DK2", "East Denmark")]
    assert (api.consumer_types()[0].code, api.consumer_types()[0].label) == ("111", "Households")


def test_series_come_as_a_tree_the_pickers_keep_in_order(full_api: RunningApi) -> None:
    nodes = api_at(full_api.url).series()
    assert area_choices(nodes) == {"DK": "Denmark", "DK1": "West Denmark", "DK2": "East Denmark"}
    dk2 = series_in_area(nodes, "DK2")
    assert list(dk2) == ["DK2|total", "DK2|111", "DK2|112", "DK2|999"]
    assert (dk2["DK2|total"].level, dk2["DK2|total"].parent_id) == ("area", "DK|total")
    assert series_in_area(nodes, "DK")["DK|total"].level == "country"


def test_an_empty_catalogue_is_no_data() -> None:
    """Mocked transport: the answer of an API over a store nothing was ingested into."""
    with pytest.raises(NoData, match="returned no series"):
        answering(200, json=[]).series()


# ------------------------------------------------------------------------------------------ forecasts
def test_forecast_frames_are_utc_and_sorted(full_api: RunningApi) -> None:
    series = api_at(full_api.url).forecast("DK1", "111", history_hours=48)
    history, forecast = history_frame(series), forecast_frame(series)
    assert len(history) == 48 and len(forecast) == 24
    assert str(history["datetime_utc"].dt.tz) == "UTC" and history["datetime_utc"].is_monotonic_increasing
    assert forecast["hours_ahead"].tolist() == list(range(1, 25))
    assert forecast["datetime_utc"].min() == history["datetime_utc"].max() + pd.Timedelta(hours=1)
    assert series.model_version == 3


def test_forecast_carries_the_cold_start_flag_and_model_family(full_api: RunningApi) -> None:
    series = api_at(full_api.url).forecast("DK2", "999")
    assert (series.cold_start, series.model_family) == (True, "seasonal_naive_24")
    assert set(forecast_frame(series)["model_family"]) == {"seasonal_naive_24"}


def test_overview_frame_carries_the_area(full_api: RunningApi) -> None:
    frame = overview_frame(api_at(full_api.url).overview("DK2"))
    assert set(frame["area"]) == {"DK2"}
    assert frame["consumer_type"].tolist() == ["total", "111", "112", "999"]
    assert frame["expected_change_pct"].tolist() == [1.0, -4.0, 2.5, 7.5]


def test_unknown_series_is_no_data_with_the_api_detail(full_api: RunningApi) -> None:
    with pytest.raises(NoData, match="valid values"):
        api_at(full_api.url).forecast("DK9", "111")


# ------------------------------------------------------------------------------------------ monitoring
def test_timeline_keeps_fractions_and_the_backtest_reference(full_api: RunningApi) -> None:
    timeline = api_at(full_api.url).error_timeline(DEFAULT)
    frame = timeline_frame(timeline)
    assert timeline.backtest_wape == 0.045 and timeline.champion_version == 2
    assert len(frame) == 48 and frame["datetime_utc"].is_monotonic_increasing
    assert str(frame["datetime_utc"].dt.tz) == "UTC" and frame["wape"].max() < 1


def test_series_errors_ask_for_one_horizon_when_given(full_api: RunningApi) -> None:
    api = api_at(full_api.url)
    every = api.series_errors("DK1", "111", DEFAULT)
    one = api.series_errors("DK1", "111", DEFAULT, hours_ahead=2)
    assert {p.hours_ahead for p in every} == {1, 2} and {p.hours_ahead for p in one} == {2}
    assert every[-1].actual_missing and every[-1].actual_kwh is None
    assert api.series_errors("DK1", "total", DEFAULT), "a parent total is monitored like any series"


def test_ranking_horizons_alerts_models_and_history_parse(full_api: RunningApi) -> None:
    api = api_at(full_api.url)
    assert [r.wape for r in api.ranking(DEFAULT, limit=4)] == pytest.approx([0.2, 0.19, 0.18, 0.17])
    assert [h.hours_ahead for h in api.horizon_errors(DEFAULT)] == list(range(1, 25))
    alerts = api.alerts()
    assert alerts.status == "warn" and alerts.retraining_recommended and len(checks_frame(alerts)) == 2
    assert [m.version for m in api.models()] == [3, 2, 1]
    assert [(t.version, t.to_state) for t in api.model_history()][-1] == (3, "challenger")
    progress = api.simulation()
    assert progress is not None and (progress.status, progress.hours_done) == ("running", 6)


def test_rows_frame_keeps_the_columns_and_utc_times_of_an_empty_list() -> None:
    from energy_core.api_models import SeriesErrorPoint

    frame = rows_frame([], SeriesErrorPoint)
    assert list(frame.columns) == list(SeriesErrorPoint.model_fields) and frame.empty


def test_window_sends_iso_times_and_omits_what_is_unset() -> None:
    start = datetime(2023, 1, 17, 23, tzinfo=UTC)
    assert Window(start=start).params() == {"start": "2023-01-17T23:00:00+00:00"}
    assert Window().params() == {}


def test_fresh_store_is_no_data_everywhere(empty_api: RunningApi) -> None:
    api = api_at(empty_api.url)
    for fetch in (
        lambda: api.forecast("DK1", "111"),
        lambda: api.overview("DK1"),
        lambda: api.error_timeline(DEFAULT),
        lambda: api.horizon_errors(DEFAULT),
        lambda: api.series_errors("DK1", "111", DEFAULT),
        lambda: api.ranking(DEFAULT),
        lambda: api.alerts(),
        lambda: api.models(),
    ):
        with pytest.raises(NoData):
            fetch()


def test_optional_routes_of_an_older_api_are_empty_not_errors() -> None:
    """Mocked transport: an API released before /models/history and /simulation answers 404."""
    old_api = answering(404, json={"detail": "Not Found"})
    assert old_api.model_history() == [] and old_api.simulation() is None


# ------------------------------------------------------------------------------------------ failures
def test_closed_port_is_api_unavailable(closed_port_url: str) -> None:
    with pytest.raises(ApiUnavailable, match="cannot connect"):
        api_at(closed_port_url).areas()


@pytest.mark.parametrize("timeout", [httpx.ReadTimeout, httpx.ConnectTimeout])
def test_timeout_is_api_unavailable_and_names_the_limit(timeout: type[httpx.TimeoutException]) -> None:
    """Mocked transport: the request times out."""

    def slow(request: httpx.Request) -> httpx.Response:
        raise timeout("timed out", request=request)

    with pytest.raises(ApiUnavailable, match="within 1 s"):
        mocked(slow).alerts()


def test_server_error_is_api_error_with_status_and_detail() -> None:
    """Mocked transport: a 500 with a FastAPI-style detail."""
    with pytest.raises(ApiError, match="500: boom") as info:
        answering(500, json={"detail": "boom"}).areas()
    assert not isinstance(info.value, ApiUnavailable | NoData)


def test_body_breaking_the_contract_names_the_endpoint_the_row_and_the_field() -> None:
    """Mocked transport: the second row lacks its label."""
    body = [{"code": "DK1", "label": "West"}, {"code": "DK2"}]
    with pytest.raises(ApiError, match=r"GET /areas broke the API contract in row 1[\s\S]*label"):
        answering(200, json=body).areas()


def test_a_list_route_answering_an_object_breaks_the_contract() -> None:
    """Mocked transport: an object where the contract says list."""
    with pytest.raises(ApiError, match="expected a JSON list, got dict"):
        answering(200, json={"areas": []}).areas()


def test_unknown_status_value_breaks_the_contract_by_name() -> None:
    """Mocked transport: an alert status outside ok/warn/alert."""
    body = {"status": "panic", "retraining_recommended": False, "checked_at": None, "checks": []}
    with pytest.raises(ApiError, match=r"monitoring/alerts broke the API contract[\s\S]*status"):
        answering(200, json=body).alerts()


def test_body_that_is_not_json_is_api_error() -> None:
    """Mocked transport: a proxy's HTML page instead of JSON."""
    with pytest.raises(ApiError, match="not JSON"):
        answering(200, text="<html>proxy</html>").areas()
