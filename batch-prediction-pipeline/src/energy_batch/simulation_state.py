"""Progress of a simulation, persisted after every completed hour so an interrupted run resumes.

The file (ENERGY_HOME/state/simulation.json) is written atomically (`state_files`), so a kill
at any moment leaves either the previous or the new progress, never a torn file. Because every
step of an hour is idempotent, redoing a half-finished hour after a restart is harmless.

It is also the simulation's progress report: `make demo` serves the pages while the simulation
runs, and app-api's `/api/v1/simulation` reads this file (read-only) so the monitoring page can
show "hour k of n" and an ETA. Hence `hours_done`, `seconds_per_hour`, `eta` and `updated_at` (a
report that stops updating is a simulation that stopped).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from energy_batch.state_files import write_json_atomically


@dataclass(frozen=True)
class SimulationState:
    """Which window is simulated and the last hour whose every step completed."""

    start: str
    end: str
    retrain_every_hours: int
    profile: str
    completed_through: str | None = None
    finished: bool = False
    summary: dict[str, Any] = field(default_factory=dict)
    hours_total: int = 0
    hours_done: int = 0
    seconds_per_hour: float | None = None  # mean wall time of the hours this run has simulated
    eta: str | None = None  # when the last hour should be done, at that pace
    updated_at: str | None = None
    # hour → the feature tables' versions its ingest left, for every hour after `completed_through`
    # already ingested (up to a day of them: `simulation.simulate` ingests ahead while a retrain
    # runs); a resumed run reads those hours at these versions instead of ingesting them again
    ingested: dict[str, dict[str, int]] = field(default_factory=dict)

    def same_window(self, other: SimulationState) -> bool:
        return (self.start, self.end, self.retrain_every_hours) == (
            other.start, other.end, other.retrain_every_hours
        )

    def next_hour(self) -> pd.Timestamp:
        """The first hour still to simulate."""
        if self.completed_through is None:
            return pd.Timestamp(self.start)
        return pd.Timestamp(self.completed_through) + pd.Timedelta(hours=1)


def with_progress(
    state: SimulationState, hours_total: int, hours_done: int, seconds_per_hour: float | None, now: datetime
) -> SimulationState:
    """`state` with its progress report brought up to `now`."""
    left = max(hours_total - hours_done, 0)
    eta = None if seconds_per_hour is None else now + timedelta(seconds=left * seconds_per_hour)
    return replace(
        state,
        hours_total=hours_total,
        hours_done=hours_done,
        seconds_per_hour=None if seconds_per_hour is None else round(seconds_per_hour, 4),
        eta=None if eta is None else _iso(eta),
        updated_at=_iso(now),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_state(path: Path) -> SimulationState | None:
    """The saved state, or None when there is none (a corrupt file is an error, not a fresh start)."""
    if not path.exists():
        return None
    try:
        return SimulationState(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"simulation state {path} is unreadable ({exc}); delete it to start the window over") from exc


def write_state(path: Path, state: SimulationState) -> None:
    """Atomically replace the state file."""
    write_json_atomically(path, asdict(state))
