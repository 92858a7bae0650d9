"""Rejected batches go to ENERGY_HOME/quarantine/ so a person can inspect exactly what failed.

One folder per rejection: `batch.parquet` (or `batch.csv` when the values are too mixed for
Parquet, which is often why the batch failed), `failures.csv` (rule, column, row, value) and
`reason.txt` (the error message). Quarantining never touches the feature store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa


def quarantine_batch(
    root: Path,
    group: str,
    frame: pd.DataFrame,
    failures: pd.DataFrame,
    reason: str,
    now: datetime,
    label: str = "",
) -> Path:
    """Write the whole rejected batch and why; return its folder (unique per call)."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = root / group / f"{stamp}{'_' + label if label else ''}"
    suffix = 1
    while folder.exists():
        folder = folder.with_name(f"{folder.name}-{suffix}")
        suffix += 1
    folder.mkdir(parents=True)
    try:
        frame.to_parquet(folder / "batch.parquet", index=True)
    except (pa.ArrowException, ValueError, TypeError):
        (folder / "batch.parquet").unlink(missing_ok=True)
        frame.to_csv(folder / "batch.csv", index=True)
    failures.to_csv(folder / "failures.csv", index=False)
    (folder / "reason.txt").write_text(reason + "\n", encoding="utf-8")
    return folder
