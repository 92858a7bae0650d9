"""Session-wide homes of the fault-injection suite, each built once by uninterrupted runs.

They are the references a killed-and-rerun home is compared with, and the durations measured
while building them decide where the kills land:

    backfilled_home  = backfill of the whole snapshot
    trained_home     = backfilled_home + training (the `faults` profile, tests/faults/models.yaml)
    predicted_home   = trained_home + predict as of the snapshot's last hour

Each later home is a copy of the earlier one plus one command, so a test that kills that command
starts from a copy of the earlier home and must end equal to the later one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .support import (
    BuiltHome,
    RevisedSnapshot,
    backfill_command,
    copy_home,
    predict_command,
    run_to_completion,
    snapshot_dir,
    train_command,
)

REVISION_FACTOR = 1.01
REVISED_HOURS = 24


@pytest.fixture(scope="session")
def snapshot() -> Path:
    found = snapshot_dir()
    if found is None:
        pytest.skip("the real snapshot (ENERGY_SNAPSHOT_DIR, default ../shared/data) is not available")
    return found


@pytest.fixture(scope="session")
def backfilled_home(snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> BuiltHome:
    home = tmp_path_factory.mktemp("backfilled")
    return BuiltHome(home, run_to_completion(backfill_command(snapshot), home))


@pytest.fixture(scope="session")
def trained_home(snapshot: Path, backfilled_home: BuiltHome, tmp_path_factory: pytest.TempPathFactory) -> BuiltHome:
    home = copy_home(backfilled_home.path, tmp_path_factory.mktemp("trained") / "home")
    return BuiltHome(home, run_to_completion(train_command(snapshot), home))


@pytest.fixture(scope="session")
def predicted_home(snapshot: Path, trained_home: BuiltHome, tmp_path_factory: pytest.TempPathFactory) -> BuiltHome:
    home = copy_home(trained_home.path, tmp_path_factory.mktemp("predicted") / "home")
    return BuiltHome(home, run_to_completion(predict_command(snapshot), home))


@pytest.fixture(scope="session")
def revised_snapshot(snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RevisedSnapshot]:
    """The DE35 file with its last 24 h × 76 series (1,824 values) raised by 1 %, beside the
    unchanged weather file and SOURCES.md (linked). Made here, in a temporary folder, never committed."""
    directory = tmp_path_factory.mktemp("revised_snapshot")
    (source,) = sorted(snapshot.glob("consumption_de35_hour_*.parquet"))
    table = pq.read_table(source)
    frame = table.to_pandas()
    last = pd.Timestamp(frame["HourUTC"].max())
    first_revised = (last - pd.Timedelta(hours=REVISED_HOURS - 1)).strftime("%Y-%m-%dT%H:%M:%S")
    revise = frame["HourUTC"] >= first_revised
    new_values = (frame.loc[revise, "TotalCon"] * REVISION_FACTOR).round().astype("int64")
    assert (new_values != frame.loc[revise, "TotalCon"]).all(), "every revised value must change"
    original = frame.loc[revise].copy()
    frame.loc[revise, "TotalCon"] = new_values
    pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False), directory / source.name,
                   compression="zstd")  # fmt: skip
    for other in snapshot.iterdir():
        if other.name != source.name and not (directory / other.name).exists():
            (directory / other.name).symlink_to(other)
    yield RevisedSnapshot(directory, _as_store_rows(frame.loc[revise]), _as_store_rows(original))


def _as_store_rows(records: pd.DataFrame) -> pd.DataFrame:
    """Raw DE35 records in the energy_consumption group's key and value columns, sorted by key."""
    return (
        pd.DataFrame(
            {
                "area": records["PriceArea"].astype(str),
                "consumer_type": records["ConsumerType_DE35"].astype(str),
                "datetime_utc": pd.to_datetime(records["HourUTC"], utc=True),
                "energy_consumption_kwh": records["TotalCon"].astype("float64"),
            }
        )
        .sort_values(["area", "consumer_type", "datetime_utc"])
        .reset_index(drop=True)
    )
