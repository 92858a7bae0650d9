"""The offline source: files in the API's record format, replayed through an as-of clock.

Why replay: the whole system can then run "as if it were" any hour inside the snapshot. The
pipeline asks only for a window that ends at what is known as of its as-of time (see
`windows.plan_run`), so the snapshot never leaks a later hour. Parquet files are read with the
time filter pushed down (HourUTC is an ISO string, so string order is time order), which keeps the
hourly `run` fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from energy_features.extract.datasets import DE35, ConsumptionDataset
from energy_features.windows import Window

_ISO = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class SnapshotConsumption:
    """Every `consumption_de35_hour_*.parquet` and `*.json` (API format) in one directory."""

    directory: Path
    dataset: ConsumptionDataset = DE35
    pattern: str = "consumption_de35_hour_*"

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            raise FileNotFoundError(
                f"snapshot directory {self.directory} does not exist; set ENERGY_SNAPSHOT_DIR to the "
                "folder holding consumption_de35_hour_*.parquet"
            )
        found = sorted(self.directory.glob(f"{self.pattern}.parquet")) + sorted(
            self.directory.glob(f"{self.pattern}.json")
        )
        if not found:
            raise FileNotFoundError(f"no {self.pattern}.parquet or .json files in {self.directory}")
        return found

    def fetch(self, window: Window) -> pd.DataFrame:
        """Raw records with window.start <= HourUTC < window.end, in the API's record format."""
        lo, hi = window.start.astimezone(UTC).strftime(_ISO), window.end.astimezone(UTC).strftime(_ISO)
        time = self.dataset.time_column
        frames = []
        for path in self.files():
            if path.suffix == ".parquet":
                table = pq.read_table(path, filters=[(time, ">=", lo), (time, "<", hi)])
                frames.append(table.to_pandas())
            else:
                records = _json_records(path)
                frame = pd.DataFrame.from_records(records) if records else self.dataset.empty_records()
                if time in frame.columns:
                    frame = frame[(frame[time] >= lo) & (frame[time] < hi)]
                frames.append(frame)
        if not frames:
            return self.dataset.empty_records()
        return pd.concat(frames, ignore_index=True)


def _json_records(path: Path) -> list[dict[str, object]]:
    """Records from a saved API answer (`{"records": [...]}`) or a bare list of records."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{path}: not a readable API answer ({type(exc).__name__}: {exc}); expected UTF-8 JSON, "
            'either {"records": [...]} or a list of records. Fix or remove the file.'
        ) from exc
    records = payload.get("records") if isinstance(payload, dict) else payload
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected an API answer with a 'records' list or a list of records")
    return records
