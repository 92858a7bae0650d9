"""Test helpers: tiny raw records built in code and an in-memory consumption source."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from energy_features.extract.datasets import DE35, ConsumptionDataset
from energy_features.windows import Window

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("WANDB_MODE", "offline")

REAL_SNAPSHOT = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).parents[3] / "shared" / "data")).resolve()
FIXED_NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def de35_records(
    start: str, hours: int, areas: tuple[str, ...] = ("DK1", "DK2"), types: tuple[str, ...] = ("111", "112")
) -> pd.DataFrame:
    """Raw ConsumptionDE35Hour records exactly as the API sends them (strings, int kWh)."""
    first = utc(start)
    rows = []
    for h in range(hours):
        t = first + timedelta(hours=h)
        local = pd.Timestamp(t).tz_convert("Europe/Copenhagen")
        for area in areas:
            for code in types:
                rows.append({
                    "HourUTC": t.strftime("%Y-%m-%dT%H:%M:%S"),
                    "HourDK": local.strftime("%Y-%m-%dT%H:%M:%S"),
                    "PriceArea": area,
                    "ConsumerType_DE35": code,
                    "TotalCon": 1000 + 10 * h + int(code),
                })  # fmt: skip
    return pd.DataFrame(rows)


@dataclass
class FrameSource:
    """An in-memory consumption source: returns the given records inside the asked window."""

    records: pd.DataFrame
    dataset: ConsumptionDataset = DE35
    calls: list[Window] = field(default_factory=list)

    def fetch(self, window: Window) -> pd.DataFrame:
        self.calls.append(window)
        times = self.records[self.dataset.time_column]
        lo, hi = window.start.strftime("%Y-%m-%dT%H:%M:%S"), window.end.strftime("%Y-%m-%dT%H:%M:%S")
        return self.records[(times >= lo) & (times < hi)].reset_index(drop=True)
