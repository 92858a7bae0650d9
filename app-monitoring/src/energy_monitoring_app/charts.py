"""Plotly figures for the monitoring page: data in, figure out, no Streamlit and no HTTP.

Error rates arrive as fractions and stay fractions; the axes format them as percentages, so the
numbers in hover labels are exactly what the API returned.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

WAPE_COLOUR = "#1f77b4"
MAPE_COLOUR = "#ff7f0e"
ACTUAL_COLOUR = "#2b2b2b"
FORECAST_COLOUR = "#d62728"
BAND_COLOUR = "rgba(214, 39, 40, 0.18)"
_MARGIN = {"t": 60, "b": 40, "l": 60, "r": 20}
_LEGEND = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}


def error_timeline_figure(points: pd.DataFrame, backtest_wape: float | None) -> go.Figure:
    """Hourly WAPE and MAPE across all series, with the champion's backtest WAPE as a dashed line.

    The reference line is what "normal" looks like: live error drifting above it is the signal.
    """
    fig = go.Figure()
    for column, name, colour in (("wape", "WAPE", WAPE_COLOUR), ("mape", "MAPE", MAPE_COLOUR)):
        fig.add_trace(
            go.Scatter(
                x=points["datetime_utc"],
                y=points[column],
                name=name,
                mode="lines+markers",
                marker={"size": 4},
                line={"color": colour, "width": 2},
                hovertemplate=f"%{{x|%Y-%m-%d %H:%M}} UTC<br>{name} %{{y:.2%}}<extra></extra>",
            )
        )
    if backtest_wape is not None:
        fig.add_hline(
            y=backtest_wape,
            line={"color": WAPE_COLOUR, "dash": "dash", "width": 1.5},
            annotation_text=f"champion backtest WAPE {backtest_wape:.1%}",
            annotation_position="top left",
        )
    fig.update_layout(
        title="Hourly error across all series",
        xaxis_title="Target hour (UTC)",
        yaxis={"title": "error", "tickformat": ".0%", "rangemode": "tozero"},
        hovermode="x unified",
        legend=_LEGEND,
        margin=_MARGIN,
    )
    return fig


def horizon_figure(horizons: pd.DataFrame) -> go.Figure:
    """WAPE (bars) and MAPE (line) per hours_ahead: error should grow gently with the horizon."""
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=horizons["hours_ahead"],
            y=horizons["wape"],
            name="WAPE",
            marker_color=WAPE_COLOUR,
            customdata=horizons["count"],
            hovertemplate="%{x} h ahead<br>WAPE %{y:.2%}<br>%{customdata} forecasts<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=horizons["hours_ahead"],
            y=horizons["mape"],
            name="MAPE",
            mode="lines+markers",
            line={"color": MAPE_COLOUR},
            hovertemplate="%{x} h ahead<br>MAPE %{y:.2%}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Error by hours ahead",
        xaxis={"title": "hours ahead", "dtick": 2},
        yaxis={"title": "error", "tickformat": ".0%", "rangemode": "tozero"},
        legend=_LEGEND,
        margin=_MARGIN,
    )
    return fig


def actuals_figure(points: pd.DataFrame, title: str) -> go.Figure:
    """Actual consumption against the forecast and its 10–90 % band for one series.

    Hours whose actual is missing keep their forecast but leave a gap in the actual line, so a
    missing value is visible rather than silently interpolated.
    """
    fig = go.Figure()
    band = points.dropna(subset=["prediction_q10_kwh", "prediction_q90_kwh"])
    if not band.empty:
        fig.add_trace(
            go.Scatter(
                x=pd.concat([band["datetime_utc"], band["datetime_utc"][::-1]]),
                y=pd.concat([band["prediction_q90_kwh"], band["prediction_q10_kwh"][::-1]]),
                name="10–90 % interval",
                fill="toself",
                fillcolor=BAND_COLOUR,
                line={"width": 0},
                hoverinfo="skip",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=points["datetime_utc"],
            y=points["prediction_kwh"],
            name="Forecast",
            mode="lines+markers",
            marker={"size": 4},
            line={"color": FORECAST_COLOUR, "dash": "dot"},
            customdata=points[["hours_ahead", "model_version"]],
            hovertemplate=(
                "%{x|%Y-%m-%d %H:%M} UTC<br>%{y:,.0f} kWh<br>%{customdata[0]} h ahead, "
                "model v%{customdata[1]}<extra>forecast</extra>"
            ),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=points["datetime_utc"],
            y=points["actual_kwh"],
            name="Actual",
            mode="lines+markers",
            marker={"size": 4},
            line={"color": ACTUAL_COLOUR},
            connectgaps=False,
            hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<br>%{y:,.0f} kWh<extra>actual</extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="Target hour (UTC)",
        yaxis_title="Consumption (kWh)",
        hovermode="x unified",
        legend=_LEGEND,
        margin=_MARGIN,
    )
    return fig


def model_timeline_figure(periods: pd.DataFrame, registered: pd.DataFrame) -> go.Figure:
    """Champion tenures as bars on a time axis, one row per version, with registration moments.

    `periods` comes from `model_timeline.champion_periods`; `registered` has `version` and
    `created_at` for every version, so challengers that never became champion are visible too.
    """
    fig = go.Figure()
    for row in periods.itertuples():
        fig.add_trace(
            go.Scatter(
                x=[row.start, row.end],
                y=[f"v{row.version}", f"v{row.version}"],
                mode="lines",
                line={"width": 14, "color": "#2ca02c" if row.is_current else "#98df8a"},
                name=f"v{row.version} champion" + (" (current)" if row.is_current else ""),
                hovertemplate=f"v{row.version} ({row.model_family}) champion<br>%{{x|%Y-%m-%d %H:%M}} UTC"
                "<extra></extra>",
                showlegend=False,
            )
        )
    fig.add_trace(
        go.Scatter(
            x=registered["created_at"],
            y=[f"v{v}" for v in registered["version"]],
            mode="markers",
            marker={"symbol": "diamond", "size": 10, "color": "#7f7f7f"},
            name="registered",
            hovertemplate="%{y} registered %{x|%Y-%m-%d %H:%M} UTC<extra></extra>",
        )
    )
    versions = sorted(set(registered["version"]) | set(periods["version"]))
    fig.update_layout(
        title="Model timeline: champion tenures (bars) and registrations (◆)",
        xaxis_title="Time (UTC)",
        yaxis={"title": "version", "type": "category", "categoryorder": "array",
               "categoryarray": [f"v{v}" for v in versions]},
        height=max(220, 60 + 36 * len(versions)),
        legend=_LEGEND,
        margin=_MARGIN,
    )  # fmt: skip
    return fig
