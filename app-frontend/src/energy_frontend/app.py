"""The forecast page (the Streamlit script `app-frontend` runs).

Thin on purpose: it fetches through the shared typed client `energy_core.dashboard.client` (cached
with the settings' TTL), hands data to the pure builders in `charts`, `export` and `freshness`, and
turns every API failure into a message instead of a traceback. Read `charts.py`, then this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from energy_core.api_models import BOTTOM_UP_FAMILY, AreaOverview, Forecast, SeriesNode
from energy_core.dashboard.client import ApiClient, ApiError, ApiUnavailable, NoData, area_choices, series_in_area
from energy_core.dashboard.frames import forecast_frame, history_frame, overview_frame
from energy_core.settings import DashboardSettings, SettingsError, load
from energy_frontend.charts import change_heatmap, forecast_figure
from energy_frontend.export import shown_table, to_csv_bytes
from energy_frontend.freshness import assess_freshness

HISTORY_HOURS = 168
NO_DATA_HINT = (
    "No forecasts yet — run `make pipeline` (features → training → batch prediction) and reload. The API said: {reason}"
)
ATTRIBUTION = "Data: Energinet (www.energidataservice.dk), CC BY 4.0. Times are UTC."


@contextmanager
def api_problems_shown(api_url: str, stop: bool = True) -> Iterator[None]:
    """Turn the client's three failure kinds into a message; `stop` ends the page after it."""
    try:
        yield
    except ApiUnavailable as exc:
        st.error(f"The forecasting API at {api_url} is not reachable: {exc}")
        st.caption("Start it with `make demo` or `app-api`, or point ENERGY_API_URL at a running one.")
    except NoData as exc:
        st.info(NO_DATA_HINT.format(reason=exc))
    except ApiError as exc:
        st.error(f"The forecasting API at {api_url} gave an answer this page cannot use: {exc}")
    else:
        return
    if stop:
        st.stop()


def main() -> None:
    st.set_page_config(page_title="Electricity demand forecast", page_icon="⚡", layout="wide")
    st.title("Danish electricity demand — the next 24 hours")
    try:
        settings = load(DashboardSettings)
    except SettingsError as exc:
        st.error(f"The dashboard is misconfigured: {exc}")
        st.stop()
    url, timeout, ttl = settings.api_url, settings.request_timeout_s, settings.cache_ttl_s

    @st.cache_data(ttl=ttl, show_spinner=False)
    def cached_series(base_url: str, timeout_s: float) -> list[SeriesNode]:
        return ApiClient(base_url, timeout_s).series()

    @st.cache_data(ttl=ttl, show_spinner="Loading the forecast…")
    def cached_forecast(base_url: str, timeout_s: float, area: str, consumer_type: str) -> Forecast:
        return ApiClient(base_url, timeout_s).forecast(area, consumer_type, HISTORY_HOURS)

    @st.cache_data(ttl=ttl, show_spinner=False)
    def cached_overview(base_url: str, timeout_s: float, area: str) -> AreaOverview:
        return ApiClient(base_url, timeout_s).overview(area)

    with api_problems_shown(url):
        nodes = cached_series(url, timeout)
    with st.sidebar:
        node = series_picker(nodes)
        st.caption(ATTRIBUTION)
    area_labels = area_choices(nodes)

    with api_problems_shown(url):
        series = cached_forecast(url, timeout, node.area, node.consumer_type)
    render_forecast(series, area_labels[node.area])
    st.divider()
    with api_problems_shown(url, stop=False):
        render_overview([cached_overview(url, timeout, code) for code in area_labels], node.area)


def area_option(code: str, label: str) -> str:
    return code if label == code else f"{code} — {label}"


def series_picker(nodes: list[SeriesNode]) -> SeriesNode:
    """Two linked selects: the area (the country first), then its series (its total first)."""
    areas = area_choices(nodes)
    area = st.selectbox("Area", list(areas), format_func=lambda c: area_option(c, areas[c]), key="area")
    in_area = series_in_area(nodes, area)
    chosen = st.selectbox("Series", list(in_area), format_func=lambda i: in_area[i].label, key="series")
    return in_area[chosen]


def model_badge(series: Forecast) -> tuple[str, str, str] | None:
    """(text, colour, explanation) of the badge saying how the forecast was made, when it is not the model."""
    if series.cold_start:
        return (
            "cold start: seasonal naive",
            "orange",
            "This series has less history than the model needs, so it is forecast by repeating the "
            "same hour of the previous day until enough history has accumulated.",
        )
    if series.model_family == BOTTOM_UP_FAMILY:
        return ("total: sum of its series", "blue", "The forecasts of the series below it, added up (bottom-up).")
    return None


def render_forecast(series: Forecast, area_label: str) -> None:
    """Headline numbers, freshness badge, the chart and the CSV of what it shows."""
    forecast = forecast_frame(series)
    version = f"v{series.model_version}" if series.model_version is not None else "unknown"
    made_at = f"{series.forecast_made_at:%Y-%m-%d %H:%M} UTC" if series.forecast_made_at else "unknown"
    col_model, col_made, col_total, col_fresh = st.columns([1, 1.8, 1.5, 1.2])
    col_model.metric("Model version", version, help=f"Registered model {series.model_name or 'unknown'}")
    col_made.metric("Forecast made as of", made_at, help="The last observed hour the forecast knew.")
    col_total.metric("Next 24 h total", f"{forecast['prediction_kwh'].sum():,.0f} kWh")
    freshness = assess_freshness(series.forecast_made_at, series.latest_data_at, datetime.now(UTC))
    with col_fresh:
        st.markdown("**Data freshness**")
        st.badge(freshness.label, color=freshness.colour, help=freshness.explanation)
        if freshness.is_replay:
            st.caption("Replaying the historical snapshot (demo).")
        badge = model_badge(series)
        if badge is not None:
            st.badge(badge[0], color=badge[1], help=badge[2])
    title = (
        series.consumer_type_label
        if series.consumer_type == "total"
        else f"{series.area} ({area_label}) · {series.consumer_type} — {series.consumer_type_label}"
    )
    st.plotly_chart(forecast_figure(history_frame(series), forecast, title), width="stretch")
    st.download_button(
        "Download the data shown (CSV)",
        data=to_csv_bytes(shown_table(series)),
        file_name=f"forecast_{series.area}_{series.consumer_type}.csv",
        mime="text/csv",
        on_click="ignore",
    )


def render_overview(overviews: list[AreaOverview], selected_area: str) -> None:
    """The heatmap over every series, then the selected area's series as a sortable table."""
    st.subheader("All series: expected change against last week")
    frame = pd.concat([overview_frame(o) for o in overviews], ignore_index=True)
    st.plotly_chart(change_heatmap(frame), width="stretch")
    table = frame[frame["area"] == selected_area].sort_values("expected_change_pct", ascending=False)
    st.dataframe(
        table.drop(columns=["area"]),
        hide_index=True,
        column_config={
            "consumer_type": st.column_config.TextColumn("Key"),
            "label": st.column_config.TextColumn("Series"),
            "model_family": st.column_config.TextColumn("Forecast by"),
            "forecast_next_24h_kwh": st.column_config.NumberColumn("Next 24 h (kWh)", format="%,.0f"),
            "same_hours_last_week_kwh": st.column_config.NumberColumn("Same hours last week (kWh)", format="%,.0f"),
            "expected_change_pct": st.column_config.NumberColumn("Change (%)", format="%+.1f"),
        },
    )


if __name__ == "__main__":
    main()
