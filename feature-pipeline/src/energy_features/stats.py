"""`feature-pipeline stats`: per feature group the row count, key count and event-time range."""

from __future__ import annotations

from typing import Any

from energy_core.feature_store import FeatureStore
from energy_core.schemas import (
    CALENDAR,
    ENERGY_CONSUMPTION,
    ENERGY_CONSUMPTION_TOTALS,
    SERIES,
    WEATHER,
    FeatureGroupSpec,
)
from energy_features.hours import iso_hour

GROUPS: tuple[FeatureGroupSpec, ...] = (ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, SERIES, WEATHER, CALENDAR)


def group_statistics(store: FeatureStore, groups: tuple[FeatureGroupSpec, ...] = GROUPS) -> list[dict[str, Any]]:
    """One plain dict per group; a group never written shows zero rows and `written: false`."""
    rows = []
    for spec in groups:
        row: dict[str, Any] = {"group": spec.name, "version": spec.version, "description": spec.description}
        if not store.exists(spec):
            rows.append({**row, "written": False, "table_version": None, "row_count": 0, "key_count": 0,
                         "event_time_min": None, "event_time_max": None})  # fmt: skip
            continue
        stats = store.statistics(spec)
        rows.append(
            {
                **row,
                "written": True,
                "table_version": stats.table_version,
                "row_count": stats.row_count,
                "key_count": stats.key_count,
                "event_time_min": iso_hour(stats.event_time_min) if stats.event_time_min else None,
                "event_time_max": iso_hour(stats.event_time_max) if stats.event_time_max else None,
                "columns": {
                    c.name: {"nulls": c.null_count, "min": _plain(c.min), "max": _plain(c.max), "mean": c.mean}
                    for c in stats.columns
                },
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table for people (the --json form is for machines)."""
    header = ("group", "table version", "rows", "keys", "first event time", "last event time")
    lines = [header] + [
        (
            f"{r['group']}_v{r['version']}",
            "-" if r["table_version"] is None else str(r["table_version"]),
            f"{r['row_count']:,}",
            f"{r['key_count']:,}",
            r["event_time_min"] or "-",
            r["event_time_max"] or "-",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)


def _plain(value: Any) -> Any:
    """JSON-friendly min/max (timestamps as ISO strings)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
