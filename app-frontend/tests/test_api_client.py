"""The client turns the contract's JSON into typed models and every failure into one of three kinds.

Most tests talk HTTP to the fake API from conftest.py; the timeout and broken-body cases use
httpx.MockTransport because a real server cannot be made to misbehave that precisely.
"""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from energy_frontend.api_client import (
    Api,
    ApiError,
    ApiUnavailable,
    NoData,
    area_choices,
    fetch_areas,
    fetch_consumer_types,
    fetch_forecast,
    fetch_overview,
    fetch_series,
    forecast_frame,
    history_frame,
    overview_frame,
    series_in_area,
)


def api_at(url: str) -> Api:
    return Api(url, timeout_s=5)


def mock_api(handler: httpx.MockTransport) -> Api:
    return Api("http://api.invalid", timeout_s=1, transport=handler)


def test_areas_and_consumer_types_come_with_labels(full_api) -> None:
    areas = fetch_areas(api_at(full_api.url))
    types = fetch_consumer_types(api_at(full_api.url))
    assert [(a.code, a.label) for a in areas] == [("DK1", "West Denmark"), ("DK2", "East Denmark")]
    assert types[0].code == "111" and types[0].label == "Households"


def test_forecast_frames_are_utc_and_sorted(full_api) -> None:
    series = fetch_forecast(api_at(full_api.url), "DK1", "111", history_hours=48)
    history, forecast = history_frame(series), forecast_frame(series)
    assert len(history) == 48 and len(forecast) == 24
    assert str(history["datetime_utc"].dt.tz) == "UTC"
    assert history["datetime_utc"].is_monotonic_increasing
    assert forecast["hours_ahead"].tolist() == list(range(1, 25))
    assert forecast["datetime_utc"].min() == history["datetime_utc"].max() + pd.Timedelta(hours=1)
    assert series.model_version == 3


def test_overview_frame_carries_the_area(full_api) -> None:
    frame = overview_frame(fetch_overview(api_at(full_api.url), "DK2"))
    assert set(frame["area"]) == {"DK2"}
    assert frame["consumer_type"].tolist() == ["total", "111", "112", "999"]
    assert frame["expected_change_pct"].tolist() == [1.0, -4.0, 2.5, 7.5]


def test_series_come_as_a_tree_the_pickers_keep_in_order(full_api) -> None:
    nodes = fetch_series(api_at(full_api.url))
    assert area_choices(nodes) == {"DK": "Denmark", "DK1": "West Denmark", "DK2": "East Denmark"}
    dk2 = series_in_area(nodes, "DK2")
    assert list(dk2) == ["DK2|total", "DK2|111", "DK2|112", "DK2|999"]
    assert (dk2["DK2|total"].level, dk2["DK2|total"].parent_id) == ("area", "DK|total")


def test_forecast_carries_the_cold_start_flag_and_model_family(full_api) -> None:
    series = fetch_forecast(api_at(full_api.url), "DK2", "999")
    assert (series.cold_start, series.model_family) == (True, "seasonal_naive_24")
    assert set(forecast_frame(series)["model_family"]) == {"seasonal_naive_24"}


def test_an_empty_catalogue_is_no_data() -> None:
    """Mocked transport: the answer of an API over a store nothing was ingested into."""
    api = mock_api(httpx.MockTransport(lambda request: httpx.Response(200, json=[])))
    with pytest.raises(NoData, match="returned no series"):
        fetch_series(api)


def test_closed_port_is_api_unavailable(closed_port_url: str) -> None:
    with pytest.raises(ApiUnavailable, match="cannot connect"):
        fetch_areas(api_at(closed_port_url))


def test_timeout_is_api_unavailable_and_names_the_limit() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ApiUnavailable, match="within 1 s"):
        fetch_areas(mock_api(httpx.MockTransport(slow)))


def test_not_ready_and_empty_answers_are_no_data(empty_api) -> None:
    with pytest.raises(NoData):
        fetch_forecast(api_at(empty_api.url), "DK1", "111")
    with pytest.raises(NoData):
        fetch_overview(api_at(empty_api.url), "DK1")


def test_unknown_series_is_no_data_with_the_api_detail(full_api) -> None:
    with pytest.raises(NoData, match="valid values"):
        fetch_forecast(api_at(full_api.url), "DK9", "111")


def test_server_error_is_api_error_with_status_and_detail() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(500, json={"detail": "boom"}))
    with pytest.raises(ApiError, match="500: boom") as info:
        fetch_areas(mock_api(transport))
    assert not isinstance(info.value, ApiUnavailable | NoData)


def test_body_breaking_the_contract_names_the_endpoint_and_field() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=[{"code": "DK1"}]))
    with pytest.raises(ApiError, match=r"GET /areas broke the API contract[\s\S]*label"):
        fetch_areas(mock_api(transport))


def test_body_that_is_not_json_is_api_error() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(ApiError, match="not JSON"):
        fetch_areas(mock_api(transport))
