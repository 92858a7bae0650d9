"""The forecast page, run by Streamlit's AppTest against the fake API (or against nothing).

ENERGY_API_URL points the page at the API exactly as in production; the cache is cleared before
each test because AppTest runs every page in this one process and st.cache_data is global.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from energy_frontend.cli import PAGE


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def run_page(monkeypatch: pytest.MonkeyPatch, api_url: str) -> AppTest:
    monkeypatch.setenv("ENERGY_API_URL", api_url)
    monkeypatch.setenv("ENERGY_DASHBOARD_TIMEOUT_S", "3")
    page = AppTest.from_file(str(PAGE.script), default_timeout=30)
    page.run()
    assert not page.exception, page.exception
    return page


def figures(page: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in page.get("plotly_chart")]


def test_pickers_offer_the_series_tree_with_labels_country_and_totals_first(monkeypatch, full_api) -> None:
    page = run_page(monkeypatch, full_api.url)
    area, series = page.selectbox(key="area"), page.selectbox(key="series")
    assert area.label == "Area" and area.options == ["DK — Denmark", "DK1 — West Denmark", "DK2 — East Denmark"]
    assert series.label == "Series" and series.options == ["Denmark · all consumers"]
    page.selectbox(key="area").select("DK1").run()
    assert page.selectbox(key="series").options == [
        "DK1 · all consumers",
        "Households",
        "Agriculture",
        "Other",
    ]


def test_the_default_choice_is_the_country_total_with_a_real_forecast(monkeypatch, full_api) -> None:
    page = run_page(monkeypatch, full_api.url)
    forecast = figures(page)[0]
    assert forecast["layout"]["title"]["text"] == "Denmark · all consumers"
    assert len(forecast["data"][2]["x"]) == 24
    assert any("total: sum of its series" in m.value for m in page.markdown)
    assert not any("cold start" in m.value for m in page.markdown)


def test_a_cold_start_series_shows_the_seasonal_naive_badge(monkeypatch, full_api) -> None:
    page = run_page(monkeypatch, full_api.url)
    page.selectbox(key="area").select("DK2").run()
    page.selectbox(key="series").select("DK2|999").run()
    assert not page.exception
    assert any("cold start: seasonal naive" in m.value for m in page.markdown)
    page.selectbox(key="series").select("DK2|111").run()
    assert not any("cold start" in m.value for m in page.markdown)


def test_page_shows_forecast_chart_heatmap_metrics_and_download(monkeypatch, full_api) -> None:
    page = run_page(monkeypatch, full_api.url)
    forecast, heatmap = figures(page)
    assert [t["name"] for t in forecast["data"]] == ["Observed", "10–90 % interval", "Forecast"]
    assert len(forecast["data"][0]["x"]) == 168 and len(forecast["data"][2]["x"]) == 24
    assert heatmap["data"][0]["type"] == "heatmap" and heatmap["data"][0]["y"] == ["DK", "DK1", "DK2"]
    assert "total" in heatmap["data"][0]["x"]
    assert {m.label: m.value for m in page.metric}["Model version"] == "v3"
    assert {m.label for m in page.metric} >= {"Forecast made as of", "Next 24 h total"}
    assert page.get("download_button")[0].label == "Download the data shown (CSV)"
    assert any("up to date" in m.value for m in page.markdown)
    assert not page.error and not page.info


def test_choosing_another_series_redraws_the_chart_for_it(monkeypatch, full_api) -> None:
    page = run_page(monkeypatch, full_api.url)
    page.selectbox(key="area").select("DK2").run()
    page.selectbox(key="series").select("DK2|999").run()
    forecast = figures(page)[0]
    assert forecast["layout"]["title"]["text"].startswith("DK2 (East Denmark) · 999 — Other")


def test_api_down_shows_an_error_naming_the_url_not_a_traceback(monkeypatch, closed_port_url) -> None:
    page = run_page(monkeypatch, closed_port_url)
    assert len(page.error) == 1
    assert page.error[0].value.startswith(f"The forecasting API at {closed_port_url} is not reachable")
    assert not page.get("plotly_chart") and not page.selectbox


def test_empty_store_shows_the_no_forecasts_hint(monkeypatch, empty_api) -> None:
    page = run_page(monkeypatch, empty_api.url)
    assert len(page.info) == 1 and page.info[0].value.startswith("No forecasts yet — run `make pipeline`")
    assert not page.error and not page.get("plotly_chart")
