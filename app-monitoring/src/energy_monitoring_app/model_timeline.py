"""When was which version the champion? Derived from GET /models, a pure function of it.

The registry records, per version, when the `champion` alias last moved onto it (`promoted_at`).
Sorting those moments gives the tenure of each champion: from its promotion to the next one (or to
`until` for the current champion). A version promoted twice (a rollback) shows its latest tenure.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from energy_core.api_models import ModelVersion

PERIOD_COLUMNS = ("version", "model_family", "start", "end", "is_current")


def champion_periods(models: list[ModelVersion], until: datetime) -> pd.DataFrame:
    """One row per champion tenure (`version`, `model_family`, `start`, `end`, `is_current`).

    A current champion without `promoted_at` (registered before promotions were recorded) is
    taken to have been champion since it was created.
    """
    moments: list[tuple[datetime, ModelVersion]] = []
    for model in models:
        if model.promoted_at is not None:
            moments.append((model.promoted_at, model))
        elif "champion" in model.aliases:
            moments.append((model.created_at, model))
    moments.sort(key=lambda pair: pair[0])
    rows = []
    for i, (start, model) in enumerate(moments):
        end = moments[i + 1][0] if i + 1 < len(moments) else max(until, start)
        rows.append(
            {
                "version": model.version,
                "model_family": model.model_family or "unknown",
                "start": start,
                "end": end,
                "is_current": "champion" in model.aliases,
            }
        )
    frame = pd.DataFrame(rows, columns=list(PERIOD_COLUMNS))
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def versions_table(models: list[ModelVersion]) -> pd.DataFrame:
    """The registry as a table for the page: newest first, with the backtest scorecard."""
    rows = [
        {
            "version": m.version,
            "aliases": ", ".join(m.aliases),
            "model_family": m.model_family,
            "approval": m.approval,
            "created_at": m.created_at,
            "promoted_at": m.promoted_at,
            "backtest_wape": m.metrics.get("backtest_wape"),
            "naive24_backtest_wape": m.metrics.get("naive24_backtest_wape"),
            "backtest_coverage_80": m.metrics.get("backtest_coverage_80"),
        }
        for m in sorted(models, key=lambda m: m.version, reverse=True)
    ]
    return pd.DataFrame(rows)
