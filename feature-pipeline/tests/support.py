"""Test helpers: tiny raw records built in code and an in-memory consumption source."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from energy_features.extract.datasets import DE35, ConsumptionDataset
from energy_features.windows import Window

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("WANDB_MODE", "offline")

CONSUMER_CATEGORY_SAMPLE = "eds_consumption_consumer_category_hour_sample_2025-12-31.csv"
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


@dataclass
class RecordedEds:
    """Serves `records` like the Energi Data Service: start/end filter on TimeUTC, sort, offset/limit
    paging, `{"total", "limit", "dataset", "records"}`; `throttle_at` request numbers answer 429.
    `files` are served as they are under their path (e.g. a Meteostat hourly `.csv.gz`); any other
    path outside /dataset/ is a 404, like a station-year Meteostat has no file for."""

    records: list[dict[str, object]]
    throttle_at: set[int] = field(default_factory=set)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        if not path.startswith("/dataset/"):
            return (200, {}, self.files[path]) if path in self.files else (404, {}, b"not found")
        self.requests.append(query)
        if len(self.requests) in self.throttle_at:
            return 429, {"Retry-After": "1"}, b'{"error": "Too Many Requests"}'
        start, end = query["start"][0], query["end"][0]
        inside = [r for r in self.records if start <= str(r["TimeUTC"])[:16] < end]
        if query.get("sort", [""])[0].endswith("ASC"):
            inside = sorted(inside, key=lambda r: str(r["TimeUTC"]))  # stable: the source order within an hour
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        body = {"total": len(inside), "limit": limit, "dataset": path.rsplit("/", 1)[-1],
                "records": inside[offset : offset + limit]}  # fmt: skip
        return 200, {}, json.dumps(body, ensure_ascii=False).encode()
