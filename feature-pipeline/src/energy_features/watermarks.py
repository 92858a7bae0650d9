"""Per-source watermarks (last complete hour ingested) under ENERGY_HOME/state/.

The watermark only bounds work; the store's idempotent insert is the source of truth. So a lost or
stale watermark costs a longer re-read, never wrong data. Written atomically (temp file +
os.replace) so a crash mid-write leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from energy_features.hours import iso_hour, parse_hour

FILE_NAME = "feature_pipeline_watermarks.json"


def read_watermarks(state_dir: Path) -> dict[str, datetime]:
    path = state_dir / FILE_NAME
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {source: parse_hour(value) for source, value in raw.items()}
    except (ValueError, AttributeError) as exc:
        raise ValueError(
            f"{path} is not a valid watermark file ({exc}); delete it to re-derive windows from "
            "ENERGY_INITIAL_HISTORY_HOURS (the store keeps re-reads idempotent)"
        ) from exc


def advance_watermarks(state_dir: Path, latest: Mapping[str, datetime]) -> dict[str, datetime]:
    """Move each source's watermark forward to `latest` (never backwards, so a backfill of old
    hours does not make the next run re-read everything since then). Returns the new marks."""
    marks = read_watermarks(state_dir)
    changed = False
    for source, hour in latest.items():
        if source not in marks or hour > marks[source]:
            marks[source] = hour
            changed = True
    if changed:
        write_json_atomically(state_dir / FILE_NAME, {s: iso_hour(h) for s, h in sorted(marks.items())})
    return marks


def write_json_atomically(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True, default=str)
            handle.write("\n")
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
