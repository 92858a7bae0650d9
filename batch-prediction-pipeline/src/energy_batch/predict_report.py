"""What the latest `predict` did per series, for `status --json` (ENERGY_HOME/state/predict.json).

`predictions` says which series were forecast and by what (`model_family`); it cannot say why a
series is absent. This file keeps that: the cold-start series (forecast by the baseline, and why)
and the series not forecast at all (e.g. under 24 h of history), each with its hours of history.
Written after the forecast is stored, so it never describes a forecast that failed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from energy_batch.series_plan import SeriesNote
from energy_batch.state_files import write_json_atomically

REPORT_FILE = "predict.json"


@dataclass(frozen=True)
class PredictReport:
    as_of: str
    champion_version: int
    series_by_family: dict[str, int]  # series forecast per model_family (leaves and bottom_up totals)
    cold_start: list[SeriesNote] = field(default_factory=list)
    not_forecast: list[SeriesNote] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_report(path: Path, report: PredictReport) -> None:
    write_json_atomically(path, report.to_dict())


def read_report(path: Path) -> PredictReport | None:
    """The saved report, or None when there is none; an unreadable file is an error naming it."""
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        return PredictReport(
            as_of=str(raw["as_of"]),
            champion_version=int(raw["champion_version"]),
            series_by_family={str(k): int(v) for k, v in raw["series_by_family"].items()},
            cold_start=[SeriesNote(**n) for n in raw.get("cold_start", [])],
            not_forecast=[SeriesNote(**n) for n in raw.get("not_forecast", [])],
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"predict report {path} is unreadable ({exc}); run `predict` again or delete it") from exc
