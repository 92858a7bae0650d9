"""The batch simulation's progress, read-only, so the monitoring page can show "hour k of n".

`make demo` serves the pages as soon as the first forecasts exist and lets the simulation run
behind them; batch prediction reports its progress in ENERGY_HOME/state/simulation.json (written
atomically after every hour). This route only reads that report and re-shapes it into the typed
contract, so dashboards keep talking to app-api alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends

from energy_api.errors import ERROR_RESPONSES
from energy_api.routers import API_PREFIX
from energy_core.api_models import SimulationProgress
from energy_core.feature_store import FeatureStoreUnavailable
from energy_core.settings import HomeSettings, load

router = APIRouter(prefix=API_PREFIX, tags=["operations"])
STATE_FILE = ("state", "simulation.json")


def simulation_state_path() -> Path:
    """Where batch prediction writes its progress (a dependency, so tests point it elsewhere)."""
    return load(HomeSettings).path(*STATE_FILE)


@router.get("/simulation", response_model=SimulationProgress, responses=ERROR_RESPONSES)
def simulation(path: Annotated[Path, Depends(simulation_state_path)]) -> SimulationProgress:
    """Progress of the hour-by-hour simulation: hours done of total, pace, ETA, last update."""
    if not path.exists():
        return SimulationProgress(status="not_started")
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FeatureStoreUnavailable(f"simulation progress {path} is unreadable: {exc}") from exc
    return progress_from_state(state)


def progress_from_state(state: dict[str, Any]) -> SimulationProgress:
    """The report as the contract shapes it; a report from before progress fields existed gets its
    counts from the window and `completed_through`."""
    start, end = _time(state.get("start")), _time(state.get("end"))
    done_through = _time(state.get("completed_through"))
    total = int(state.get("hours_total") or 0)
    done = int(state.get("hours_done") or 0)
    if not total and start is not None and end is not None:
        total = max(int((end - start) / pd.Timedelta(hours=1)), 0)
        done = 0 if done_through is None else int((done_through - start) / pd.Timedelta(hours=1)) + 1
    finished = bool(state.get("finished"))
    return SimulationProgress(
        status="finished" if finished else "running",
        start=start,
        end=end,
        hours_total=total,
        hours_done=min(done, total) if total else done,
        completed_through=done_through,
        seconds_per_hour=state.get("seconds_per_hour"),
        eta=_time(state.get("eta")),
        updated_at=_time(state.get("updated_at")),
        retrain_profile=state.get("profile"),
    )


def _time(text: Any) -> pd.Timestamp | None:
    if not text:
        return None
    moment = pd.Timestamp(text)
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
