"""The client turns the monitoring endpoints' JSON into typed frames and every failure into one of
three kinds. A real HTTP fake (conftest.py) serves the data; MockTransport only fakes a timeout."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from energy_monitoring_app.api_client import (
    Api,
    ApiError,
    ApiUnavailable,
    NoData,
    Window,
    area_choices,
    checks_frame,
    fetch_alerts,
    fetch_error_timeline,
    fetch_horizon_errors,
    fetch_models,
    fetch_ranking,
    fetch_series,
    fetch_series_errors,
    series_in_area,
    timeline_frame,
)

DEFAULT = Window()


def api_at(url: str) -> Api:
    return Api(url, timeout_s=5)


def test_timeline_keeps_fractions_and_the_backtest_reference(full_api) -> None:
    timeline = fetch_error_timeline(api_at(full_api.url), DEFAULT)
    frame = timeline_frame(timeline)
    assert timeline.backtest_wape == 0.045 and timeline.champion_version == 2
    assert len(frame) == 48 and frame["datetime_utc"].is_monotonic_increasing
    assert str(frame["datetime_utc"].dt.tz) == "UTC" and frame["wape"].max() < 1


def test_series_asks_for_one_horizon_when_given(full_api) -> None:
    every = fetch_series_errors(api_at(full_api.url), "DK1", "111", DEFAULT)
    one = fetch_series_errors(api_at(full_api.url), "DK1", "111", DEFAULT, hours_ahead=2)
    assert set(every["hours_ahead"]) == {1, 2} and set(one["hours_ahead"]) == {2}
    assert every["actual_missing"].iloc[-1] and every["actual_kwh"].isna().iloc[-1]


def test_ranking_horizons_alerts_and_models_parse(full_api) -> None:
    api = api_at(full_api.url)
    assert fetch_ranking(api, DEFAULT, limit=4)["wape"].tolist() == pytest.approx([0.2, 0.19, 0.18, 0.17])
    assert fetch_horizon_errors(api, DEFAULT)["hours_ahead"].tolist() == list(range(1, 25))
    alerts = fetch_alerts(api)
    assert alerts.status == "warn" and alerts.retraining_recommended and len(checks_frame(alerts)) == 2
    assert [m.version for m in fetch_models(api)] == [3, 2, 1]


def test_window_sends_iso_times_and_omits_what_is_unset() -> None:
    start = datetime(2023, 1, 17, 23, tzinfo=UTC)
    assert Window(start=start).params() == {"start": "2023-01-17T23:00:00+00:00"}
    assert Window().params() == {}


def test_api_down_is_api_unavailable(closed_port_url: str) -> None:
    with pytest.raises(ApiUnavailable, match="cannot connect"):
        fetch_error_timeline(api_at(closed_port_url), DEFAULT)


def test_timeout_is_api_unavailable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(ApiUnavailable, match="within 1 s"):
        fetch_alerts(Api("http://api.invalid", 1, transport=httpx.MockTransport(slow)))


def test_fresh_store_is_no_data_everywhere(empty_api) -> None:
    api = api_at(empty_api.url)
    for fetch in (
        lambda: fetch_error_timeline(api, DEFAULT),
        lambda: fetch_horizon_errors(api, DEFAULT),
        lambda: fetch_series_errors(api, "DK1", "111", DEFAULT),
        lambda: fetch_ranking(api, DEFAULT),
        lambda: fetch_alerts(api),
        lambda: fetch_models(api),
    ):
        with pytest.raises(NoData):
            fetch()


def test_unknown_status_value_breaks_the_contract_by_name() -> None:
    body = {"status": "panic", "retraining_recommended": False, "checked_at": None, "checks": []}
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=body))
    with pytest.raises(ApiError, match=r"monitoring/alerts broke the API contract[\s\S]*status"):
        fetch_alerts(Api("http://api.invalid", 1, transport=transport))


def test_series_come_as_a_tree_the_pickers_keep_in_order(full_api) -> None:
    nodes = fetch_series(api_at(full_api.url))
    assert area_choices(nodes) == {"DK": "Denmark", "DK1": "West Denmark", "DK2": "East Denmark"}
    assert list(series_in_area(nodes, "DK1")) == ["DK1|total", "DK1|111", "DK1|112", "DK1|999"]
    assert series_in_area(nodes, "DK")["DK|total"].level == "country"


def test_a_parent_total_is_monitored_like_any_series(full_api) -> None:
    assert not fetch_series_errors(api_at(full_api.url), "DK1", "total", DEFAULT).empty
