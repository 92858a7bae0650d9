"""Progress of a simulation, persisted after every completed hour so an interrupted run resumes.

The file (ENERGY_HOME/state/simulation.json) is written atomically (`state_files`), so a kill
at any moment leaves either the previous or the new progress, never a torn file. Because every
step of an hour is idempotent, redoing a half-finished hour after a restart is harmless.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
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

    def same_window(self, other: SimulationState) -> bool:
        return (self.start, self.end, self.retrain_every_hours) == (
            other.start, other.end, other.retrain_every_hours
        )

    def next_hour(self) -> pd.Timestamp:
        """The first hour still to simulate."""
        if self.completed_through is None:
            return pd.Timestamp(self.start)
        return pd.Timestamp(self.completed_through) + pd.Timedelta(hours=1)


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
