"""Robustness run (issue 13): the same code, unchanged and not hand-tuned, on the price-area totals.

Sums the snapshot's consumer types to one series per price area (DK1, DK2) and to Denmark (DK),
keeping only hours where every consumer type of the area reported, writes them to a CSV in a
temporary folder (derived at run time from `ENERGY_SNAPSHOT_DIR`; Energinet's data is never copied
into the repository) with a files-source mapping, then runs the console scripts in a fresh
`ENERGY_HOME`: `feature-pipeline backfill` with `ENERGY_SOURCE=files` and `training-pipeline run`
with the chosen profile (default `full`, the scorecard's), as of the scorecard's hour. Prints the
backtest's scorecard (same protocol: 7 daily origins, 1-24 h, fit once).

    .venv/bin/python training-pipeline/experiments/totals_robustness.py [--profile full]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

BIN = Path(sys.executable).parent
SNAPSHOT = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
START, END, AS_OF = "2022-12-21T16:00Z", "2023-01-24T23:00Z", "2023-01-24T22:00Z"

MAPPING = """series:
  - name: price-area-totals
    path: totals.csv
    format: csv
    time: {column: hour_utc, zone: UTC, format: "%Y-%m-%dT%H:%M:%S"}
    value: {column: consumption_kwh, unit: kWh}
    key: {area: {column: area}, consumer_type: {constant: all-consumers}}
    country: DENMARK
    label: "{area} · all consumer types (sum of the snapshot)"
"""


def totals(snapshot: Path) -> pd.DataFrame:
    """Hourly sums per price area and for both, over complete hours only."""
    raw = pd.concat(pd.read_parquet(p) for p in sorted(snapshot.glob("consumption_de35_hour_*.parquet")))
    expected = raw.groupby("PriceArea")["ConsumerType_DE35"].nunique()
    per_area = raw.groupby(["HourUTC", "PriceArea"]).agg(
        consumption_kwh=("TotalCon", "sum"), reported=("ConsumerType_DE35", "nunique")
    )
    per_area = per_area.reset_index()
    per_area = per_area[per_area["reported"] == per_area["PriceArea"].map(expected)]
    both = per_area.groupby("HourUTC").filter(lambda g: len(g) == len(expected))
    country = both.groupby("HourUTC", as_index=False)["consumption_kwh"].sum().assign(PriceArea="DK")
    out = pd.concat([per_area[["HourUTC", "PriceArea", "consumption_kwh"]], country], ignore_index=True)
    return out.rename(columns={"HourUTC": "hour_utc", "PriceArea": "area"}).sort_values(["area", "hour_utc"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full", help="training profile (default full, the scorecard's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="totals-") as tmp:
        folder = Path(tmp)
        frame = totals(SNAPSHOT)
        frame.to_csv(folder / "totals.csv", index=False)
        (folder / "mapping.yaml").write_text(MAPPING)
        span = f"{frame['hour_utc'].min()} … {frame['hour_utc'].max()}"
        print(f"{frame['area'].nunique()} series, {len(frame)} rows, {span}")
        env = dict(os.environ, ENERGY_HOME=str(folder / "home"), ENERGY_SOURCE="files",
                   ENERGY_FILES_MAPPING=str(folder / "mapping.yaml"), MLFLOW_DISABLE_TELEMETRY="true",
                   WANDB_MODE="offline", WANDB_SILENT="true")  # fmt: skip
        env.pop("MLFLOW_TRACKING_URI", None)
        for name, command in (
            ("backfill", ["feature-pipeline", "backfill", "--start", START, "--end", END, "--no-progress"]),
            ("training", ["training-pipeline", "run", "--as-of", AS_OF, "--profile", args.profile]),
        ):
            started = time.perf_counter()
            done = subprocess.run([str(BIN / command[0]), *command[1:]], env=env, cwd=folder, capture_output=True,
                                  text=True, check=False)  # fmt: skip
            print(f"{name}: {time.perf_counter() - started:.1f} s")
            if done.returncode:
                sys.exit(f"{name} failed:\n{done.stderr[-4000:]}")
        print(done.stdout[-8000:])  # the run's scorecard table and the gate's decision


if __name__ == "__main__":
    main()
