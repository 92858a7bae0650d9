"""Plotly figures for the forecast page: data in, figure out, no Streamlit and no HTTP.

Kept pure so tests can check what a chart shows (traces, values, colours) without a browser.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

OBSERVED_COLOUR = "#1f77b4"
FORECAST_COLOUR = "#d62728"
BAND_COLOUR = "rgba(214, 39, 40, 0.18)"


def forecast_figure(history: pd.DataFrame, forecast: pd.DataFrame, title: str) -> go.Figure:
    """Observed history, then the forecast with its 10–90 % band.

    `history` has `datetime_utc`, `energy_consumption_kwh`; `forecast` has `datetime_utc`,
    `prediction_kwh`, `prediction_q10_kwh`, `prediction_q90_kwh`. The band is drawn only where
    both quantiles exist, so a model without intervals still plots its point forecast.
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=history["datetime_utc"],
            y=history["energy_consumption_kwh"],
            name="Observed",
            mode="lines",
            line={"color": OBSERVED_COLOUR, "width": 1.8},
            hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<br>%{y:,.0f} kWh<extra>observed</extra>",
        )
    )
    band = forecast.dropna(subset=["prediction_q10_kwh", "prediction_q90_kwh"])
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
            x=forecast["datetime_utc"],
            y=forecast["prediction_kwh"],
            name="Forecast",
            mode="lines+markers",
            marker={"size": 4},
            line={"color": FORECAST_COLOUR, "width": 2, "dash": "dot"},
            hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<br>%{y:,.0f} kWh<extra>forecast</extra>",
        )
    )
    if not forecast.empty:
        fig.add_vline(x=forecast["datetime_utc"].min(), line={"color": "gray", "width": 1, "dash": "dash"})
    fig.update_layout(
        title=title,
        xaxis_title="Hour (UTC)",
        yaxis_title="Consumption (kWh)",
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"t": 70, "b": 40, "l": 60, "r": 20},
    )
    return fig


def change_heatmap(overview: pd.DataFrame) -> go.Figure:
    """Expected change of the next 24 hours against the same hours last week, area × consumer type.

    `overview` has `area`, `consumer_type`, `label`, `expected_change_pct`,
    `forecast_next_24h_kwh`, `same_hours_last_week_kwh`. Diverging colours centred on zero so
    "up" and "down" read at a glance; missing cells (no forecast for a series) stay blank.
    """
    z = overview.pivot_table(
        index="area", columns="consumer_type", values="expected_change_pct", aggfunc="first", dropna=False
    )
    labels = overview.pivot_table(index="area", columns="consumer_type", values="label", aggfunc="first")
    labels = labels.reindex(index=z.index, columns=z.columns)
    limit = float(max(5.0, z.abs().max().max())) if z.notna().any().any() else 5.0
    fig = go.Figure(
        go.Heatmap(
            z=z.to_numpy(),
            x=[str(c) for c in z.columns],
            y=[str(a) for a in z.index],
            customdata=labels.to_numpy(),
            colorscale="RdBu_r",
            zmid=0,
            zmin=-limit,
            zmax=limit,
            colorbar={"title": "change %"},
            hovertemplate="%{y} · %{x} %{customdata}<br>%{z:+.1f} % vs last week<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(
        title="Next 24 h against the same hours last week",
        xaxis={"title": "Consumer type", "type": "category"},
        yaxis={"title": "Area", "type": "category", "autorange": "reversed"},
        height=260,
        margin={"t": 50, "b": 40, "l": 60, "r": 20},
    )
    return fig
