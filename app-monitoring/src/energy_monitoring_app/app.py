"""The monitoring page (the Streamlit script `app-monitoring` runs).

Thin on purpose: it fetches through the shared typed client `energy_core.dashboard.client`
(cached with the settings' TTL), hands data to the pure builders in `charts`, `series_view` and
`model_timeline`, and turns every API failure into a message instead of a traceback. Each panel
fails on its own, so a missing ranking does not hide the error chart. Read `charts.py`, then this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from energy_core.api_models import (
    AlertStatus,
    HorizonError,
    ModelTransition,
    ModelVersion,
    MonitoringMetrics,
    SeriesErrorPoint,
    SeriesNode,
    SeriesRank,
    SimulationProgress,
)
from energy_core.dashboard.client import (
    ApiClient,
    ApiError,
    ApiUnavailable,
    NoData,
    Window,
    area_choices,
    series_in_area,
)
from energy_core.dashboard.frames import checks_frame, rows_frame, timeline_frame
from energy_core.settings import DashboardSettings, SettingsError, load
from energy_monitoring_app.charts import (
    actuals_figure,
    error_timeline_figure,
    horizon_figure,
    model_timeline_figure,
)
from energy_monitoring_app.model_timeline import (
    champion_periods,
    registered_at,
    timeline_until,
    transitions_table,
    versions_table,
)
from energy_monitoring_app.series_view import latest_forecast_per_hour

NO_DATA_HINT = (
    "No monitoring data yet — run `make pipeline` (predictions are scored once their actuals arrive) "
    "and reload. The API said: {reason}"
)
STATUS_COLOURS = {"ok": "green", "warn": "orange", "alert": "red"}
LATEST = "Most recent forecast per hour"
RANKING_LIMIT = 20
WINDOW = Window()  # the API's default: the last 7 days of monitored hours
PROGRESS_REFRESH_S = 5  # how often a running simulation's progress bar asks the API again


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
    st.set_page_config(page_title="Forecast monitoring", page_icon="📈", layout="wide")
    st.title("Forecast monitoring")
    try:
        settings = load(DashboardSettings)
    except SettingsError as exc:
        st.error(f"The dashboard is misconfigured: {exc}")
        st.stop()
    url, timeout, ttl = settings.api_url, settings.request_timeout_s, settings.cache_ttl_s
    simulation_progress(url, timeout)

    @st.cache_data(ttl=ttl, show_spinner=False)
    def cached_timeline(base_url: str, timeout_s: float, window: Window) -> MonitoringMetrics:
        return ApiClient(base_url, timeout_s).error_timeline(window)

    @st.cache_data(ttl=ttl, show_spinner=False)
    def cached_horizons(base_url: str, timeout_s: float, window: Window) -> pd.DataFrame:
        return rows_frame(ApiClient(base_url, timeout_s).horizon_errors(window), HorizonError)

    @st.cache_data(ttl=ttl, show_spinner=False)
    def cached_alerts(base_url: str, timeout_s: float) -> AlertStatus:
        return ApiClient(base_url, timeout_s).alerts()

    @st.cache_data(ttl=ttl, show_spinner=False)
    def cached_catalogue(base_url: str, timeout_s: float) -> list[SeriesNode]:
        return ApiClient(base_url, timeout_s).series()

    @st.cache_data(ttl=ttl, show_spinner=False)
    def cached_series(
        base_url: str, timeout_s: float, area: str, consumer_type: str, window: Window, hours_ahead: int | None
    ) -> pd.DataFrame:
        points = ApiClient(base_url, timeout_s).series_errors(area, consumer_type, window, hours_ahead)
        return rows_frame(points, SeriesErrorPoint)

    @st.cache_data(ttl=ttl, show_spinner=False)
    def cached_ranking(base_url: str, timeout_s: float, window: Window) -> pd.DataFrame:
        return rows_frame(ApiClient(base_url, timeout_s).ranking(window, RANKING_LIMIT), SeriesRank)

    @st.cache_data(ttl=ttl, show_spinner=False)
    def cached_models(base_url: str, timeout_s: float) -> list[ModelVersion]:
        return ApiClient(base_url, timeout_s).models()

    with api_problems_shown(url):
        timeline = cached_timeline(url, timeout, WINDOW)
    render_error_timeline(timeline)

    horizon_col, alerts_col = st.columns([3, 2])
    with horizon_col, api_problems_shown(url, stop=False):
        st.plotly_chart(horizon_figure(cached_horizons(url, timeout, WINDOW)), width="stretch")
    with alerts_col:
        st.subheader("Alerts and drift")
        with api_problems_shown(url, stop=False):
            render_alerts(cached_alerts(url, timeout))

    st.subheader("Predictions against actuals")
    with api_problems_shown(url, stop=False):
        node, hours_ahead = series_selectors(cached_catalogue(url, timeout))
        points = cached_series(url, timeout, node.area, node.consumer_type, WINDOW, hours_ahead)
        shown = latest_forecast_per_hour(points) if hours_ahead is None else points
        st.plotly_chart(actuals_figure(shown, f"{node.id} — {node.label}"), width="stretch")

    st.subheader(f"Series ranked by recent error (worst {RANKING_LIMIT})")
    with api_problems_shown(url, stop=False):
        render_ranking(cached_ranking(url, timeout, WINDOW))

    @st.cache_data(ttl=ttl, show_spinner=False)
    def cached_history(base_url: str, timeout_s: float) -> list[ModelTransition]:
        return ApiClient(base_url, timeout_s).model_history()

    st.subheader("Model timeline")
    with api_problems_shown(url, stop=False):
        until = timeline_until(_simulation(url, timeout), datetime.now(UTC))
        render_models(cached_models(url, timeout), cached_history(url, timeout), until)


def simulation_progress(url: str, timeout: float) -> None:
    """The simulation's progress bar; while it runs, it asks the API again every PROGRESS_REFRESH_S
    (a fragment, so the charts below are not redrawn). Any API trouble hides it: the panels below
    report that trouble themselves."""
    progress = _simulation(url, timeout)
    if progress is None or progress.status == "not_started":
        return
    if progress.status == "running":
        st.fragment(_live_simulation, run_every=PROGRESS_REFRESH_S)(url, timeout)
    else:
        render_simulation(progress)


def _live_simulation(url: str, timeout: float) -> None:
    progress = _simulation(url, timeout)
    if progress is not None and progress.status != "not_started":
        render_simulation(progress)


def _simulation(url: str, timeout: float) -> SimulationProgress | None:
    try:
        return ApiClient(url, timeout).simulation()
    except ApiError:
        return None


def render_simulation(progress: SimulationProgress) -> None:
    """"Simulating hour k of n" with the ETA, or one line once the window is done."""
    through = f"{progress.completed_through:%Y-%m-%d %H:%M} UTC" if progress.completed_through else "not yet"
    if progress.status == "finished":
        st.caption(f"Simulation finished: {progress.hours_total} hours simulated, through {through}.")
        return
    total = max(progress.hours_total, 1)
    eta = f", ETA {progress.eta:%H:%M:%S} UTC" if progress.eta else ""
    pace = f" at {progress.seconds_per_hour:.2f} s/hour" if progress.seconds_per_hour else ""
    st.progress(
        min(progress.hours_done / total, 1.0),
        text=f"Simulation running: hour {progress.hours_done} of {progress.hours_total} (through {through}){pace}{eta}."
        " Forecasts and monitoring fill in as it goes; reload to see them.",
    )


def render_error_timeline(timeline: MonitoringMetrics) -> None:
    """Headline numbers and the hourly error chart with the backtest reference line."""
    points = timeline_frame(timeline)
    recent = points["wape"].mean()
    champion, backtest, live, hours = st.columns(4)
    champion.metric("Champion", f"v{timeline.champion_version}" if timeline.champion_version else "none")
    backtest.metric("Backtest WAPE", f"{timeline.backtest_wape:.1%}" if timeline.backtest_wape is not None else "n/a")
    delta = (
        f"{(recent - timeline.backtest_wape) * 100:+.1f} pp vs backtest"
        if timeline.backtest_wape is not None and pd.notna(recent)
        else None
    )
    live.metric("Mean hourly WAPE (window)", f"{recent:.1%}" if pd.notna(recent) else "n/a", delta, "inverse")
    hours.metric("Monitored hours", f"{len(points)}", help="Target hours with scored forecasts in the window.")
    st.plotly_chart(error_timeline_figure(points, timeline.backtest_wape), width="stretch")


def render_alerts(alerts: AlertStatus) -> None:
    """Overall status, the retraining flag and every check with its reason."""
    st.badge(alerts.status.upper(), color=STATUS_COLOURS[alerts.status])
    if alerts.retraining_recommended:
        st.warning("Retraining is recommended by the latest checks.")
    checked = f"{alerts.checked_at:%Y-%m-%d %H:%M} UTC" if alerts.checked_at else "never"
    st.caption(f"Last checked: {checked}")
    checks = checks_frame(alerts)
    st.dataframe(
        checks[["status", "check_name", "value", "threshold", "reason"]],
        hide_index=True,
        column_config={
            "status": st.column_config.TextColumn("Status"),
            "check_name": st.column_config.TextColumn("Check"),
            "value": st.column_config.NumberColumn("Value", format="%.3f"),
            "threshold": st.column_config.NumberColumn("Threshold", format="%.3f"),
            "reason": st.column_config.TextColumn("Reason", width="large"),
        },
    )


def series_selectors(nodes: list[SeriesNode]) -> tuple[SeriesNode, int | None]:
    """Area (the country first), then its series (its total first), then the horizon."""
    areas = area_choices(nodes)
    area_col, series_col, horizon_col = st.columns(3)
    area = area_col.selectbox(
        "Area", list(areas), format_func=lambda c: c if areas[c] == c else f"{c} — {areas[c]}", key="area"
    )
    in_area = series_in_area(nodes, area)
    chosen = series_col.selectbox("Series", list(in_area), format_func=lambda i: in_area[i].label, key="series")
    horizon = horizon_col.selectbox(
        "Forecast horizon",
        [LATEST, *range(1, 25)],
        format_func=lambda h: h if h == LATEST else f"{h} h ahead",
        key="hours_ahead",
    )
    return in_area[chosen], None if horizon == LATEST else int(horizon)


def render_ranking(ranking: pd.DataFrame) -> None:
    st.dataframe(
        ranking,
        hide_index=True,
        column_config={
            "area": st.column_config.TextColumn("Area"),
            "consumer_type": st.column_config.TextColumn("Key"),
            "label": st.column_config.TextColumn("Series"),
            "wape": st.column_config.NumberColumn("WAPE", format="percent"),
            "mape": st.column_config.NumberColumn("MAPE", format="percent"),
            "mae_kwh": st.column_config.NumberColumn("MAE (kWh)", format="%,.0f"),
            "bias_kwh": st.column_config.NumberColumn("Bias (kWh)", format="%+,.0f"),
            "count": st.column_config.NumberColumn("Forecasts"),
        },
    )


def render_models(models: list[ModelVersion], history: list[ModelTransition], until: datetime) -> None:
    """Champion tenures and every lifecycle transition, on the simulated clock in a simulation."""
    table = versions_table(models)
    periods = champion_periods(models, until=until, history=history)
    st.plotly_chart(model_timeline_figure(periods, registered_at(models, history)), width="stretch")
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "backtest_wape": st.column_config.NumberColumn("Backtest WAPE", format="percent"),
            "naive24_backtest_wape": st.column_config.NumberColumn("Naive-24h WAPE", format="percent"),
            "backtest_coverage_80": st.column_config.NumberColumn("80 % coverage", format="percent"),
        },
    )
    if history:
        st.caption("Lifecycle transitions (who, when, from → to, why), newest first")
        st.dataframe(transitions_table(history), hide_index=True)


if __name__ == "__main__":
    main()
