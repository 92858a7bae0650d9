"""The monitoring page, run by Streamlit's AppTest against the fake API (or against nothing).

ENERGY_API_URL points the page at the API exactly as in production; the cache is cleared before
each test because AppTest runs every page in this one process and st.cache_data is global.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from energy_monitoring_app.cli import PAGE


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


def array(field: list | dict) -> np.ndarray:
    """A trace array from the figure JSON; Plotly ships numeric arrays base64-encoded ("bdata")."""
    if isinstance(field, dict):
        shape = [int(n) for n in str(field.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(field["bdata"]), dtype=field["dtype"]).reshape(shape)
    return np.asarray(field)


def forecast_horizons(page: AppTest) -> set[int]:
    chart = json.loads(page.get("plotly_chart")[2].proto.spec)
    forecast = next(t for t in chart["data"] if t["name"] == "Forecast")
    assert len(forecast["x"]) == 48  # one per target hour, not one per (hour, horizon)
    return {int(h) for h in array(forecast["customdata"])[:, 0]}


def titles(page: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in page.get("plotly_chart")]


def test_every_panel_is_drawn(monkeypatch, full_api) -> None:
    page = run_page(monkeypatch, full_api.url)
    assert titles(page) == [
        "Hourly error across all series",
        "Error by hours ahead",
        "DK|total — Denmark · all consumers",
        "Model timeline: champion tenures (bars) and registrations (◆)",
    ]
    assert {m.label: m.value for m in page.metric} == {
        "Champion": "v2",
        "Backtest WAPE": "4.5%",
        "Mean hourly WAPE (window)": "5.5%",
        "Monitored hours": "48",
    }
    assert len(page.dataframe) == 4  # alerts, ranking, model versions, lifecycle transitions
    transitions = page.dataframe[3].value
    assert transitions["at"].iloc[0] == pd.Timestamp("2023-01-20T00:00Z")  # simulated time, newest first
    assert transitions["to_state"].tolist() == ["challenger", "champion", "archived", "champion"]
    assert page.warning[0].value == "Retraining is recommended by the latest checks."
    assert not page.error and not page.info


def test_series_selectors_have_labels_and_default_to_the_latest_forecast(monkeypatch, full_api) -> None:
    page = run_page(monkeypatch, full_api.url)
    assert [s.label for s in page.selectbox] == ["Area", "Series", "Forecast horizon"]
    assert page.selectbox(key="area").options == ["DK — Denmark", "DK1 — West Denmark", "DK2 — East Denmark"]
    assert forecast_horizons(page) == {1}


def test_an_areas_series_are_offered_with_labels_and_its_total_first(monkeypatch, full_api) -> None:
    page = run_page(monkeypatch, full_api.url)
    page.selectbox(key="area").select("DK2").run()
    assert page.selectbox(key="series").options == ["DK2 · all consumers", "Households", "Agriculture", "Other"]


def test_choosing_a_horizon_and_series_redraws_for_them(monkeypatch, full_api) -> None:
    page = run_page(monkeypatch, full_api.url)
    page.selectbox(key="area").select("DK2").run()
    page.selectbox(key="series").select("DK2|111")
    page.selectbox(key="hours_ahead").select(2).run()
    assert titles(page)[2] == "DK2|111 — Households"
    assert forecast_horizons(page) == {2}


def test_api_down_shows_one_error_naming_the_url(monkeypatch, closed_port_url) -> None:
    page = run_page(monkeypatch, closed_port_url)
    assert len(page.error) == 1
    assert page.error[0].value.startswith(f"The forecasting API at {closed_port_url} is not reachable")
    assert not page.get("plotly_chart")


def test_empty_store_shows_the_no_data_hint_once(monkeypatch, empty_api) -> None:
    page = run_page(monkeypatch, empty_api.url)
    assert len(page.info) == 1 and page.info[0].value.startswith("No monitoring data yet — run `make pipeline`")
    assert not page.error and not page.get("plotly_chart")


def test_a_running_simulation_shows_hour_k_of_n_with_its_eta(monkeypatch, full_api) -> None:
    page = run_page(monkeypatch, full_api.url)
    bars = page.get("progress")
    assert len(bars) == 1
    assert bars[0].proto.value == int(100 * 6 / 168)  # Streamlit stores a whole percentage, truncated
    text = bars[0].proto.text
    assert "hour 6 of 168" in text and "2023-01-18 04:00 UTC" in text and "ETA 12:02:06 UTC" in text


def test_no_simulation_shows_no_progress_bar(monkeypatch, empty_api) -> None:
    page = run_page(monkeypatch, empty_api.url)
    assert not page.get("progress")
