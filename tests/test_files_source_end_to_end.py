"""Any hourly series from a file runs through the unchanged pipelines (issue 10, ENERGY_SOURCE=files).

The test writes a 3-column CSV of one year of a clearly SYNTHETIC hourly load (not real data: a
smooth daily and weekly profile plus seeded noise, in MWh) with Europe/Copenhagen wall-clock times,
so the file lacks 02:00 on 2023-03-26 and holds 02:00 twice on 2023-10-29, exactly as a utility's
export does. A YAML mapping points `ENERGY_SOURCE=files` at it, and the three pipelines run through
their console scripts (services never import each other, tests included): feature backfill,
training (retrain profile: LightGBM + baselines, no tuning) and batch prediction. Nothing mocked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import ENERGY_CONSUMPTION, PREDICTIONS

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ZONE = "Europe/Copenhagen"
FIRST_UTC = "2022-12-31T23:00Z"  # local 2023-01-01 00:00
YEAR_HOURS = 8760
AS_OF = "2023-11-30T22:00Z"

MAPPING = """\
series:
  - name: synthetic-utility
    path: load_*.csv
    format: csv
    csv: {delimiter: ";", decimal: ","}
    time: {column: local_time, zone: Europe/Copenhagen, format: "%d-%m-%Y %H:%M", ambiguous: infer}
    value: {column: load_mwh, unit: MWh}
    key: {area: {constant: SYNTH1}, consumer_type: {constant: all-load}}
    country: XX
    label: "Synthetic utility · all consumers"
"""


def write_synthetic_year(folder: Path) -> pd.DataFrame:
    """The CSV a utility might export: `local_time;load_mwh;quality`, decimal comma. Synthetic."""
    utc = pd.date_range(FIRST_UTC, periods=YEAR_HOURS, freq="h", tz="UTC")
    local = utc.tz_convert(ZONE)
    daily = 1.0 + 0.3 * np.sin((local.hour - 7) / 24 * 2 * np.pi)
    weekly = np.where(local.weekday >= 5, 0.8, 1.0)
    seasonal = 1.0 + 0.2 * np.cos((local.dayofyear - 15) / 365 * 2 * np.pi)
    noise = np.random.default_rng(20231029).normal(0.0, 0.01, YEAR_HOURS)
    load = np.round(400 * daily * weekly * seasonal * (1 + noise), 3)
    frame = pd.DataFrame(
        {"local_time": local.strftime("%d-%m-%Y %H:%M"), "load_mwh": load, "quality": "synthetic"}
    )
    text = frame.assign(load_mwh=frame["load_mwh"].map(lambda v: f"{v:.3f}".replace(".", ",")))
    text.to_csv(folder / "load_2023.csv", sep=";", index=False)
    return frame


def run_cli(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]], env=env, cwd=home, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def test_a_local_time_csv_trains_and_forecasts_through_the_unchanged_pipelines(tmp_path: Path) -> None:
    home, files = tmp_path / "home", tmp_path / "files"
    home.mkdir()
    files.mkdir()
    raw = write_synthetic_year(files)
    assert (raw["local_time"] == "29-10-2023 02:00").sum() == 2 and (raw["local_time"] == "26-03-2023 02:00").sum() == 0
    (files / "mapping.yaml").write_text(textwrap.dedent(MAPPING), encoding="utf-8")
    env = dict(os.environ)
    env.update(
        ENERGY_HOME=str(home), ENERGY_SOURCE="files", ENERGY_FILES_MAPPING=str(files / "mapping.yaml"),
        MLFLOW_DISABLE_TELEMETRY="true", WANDB_MODE="offline", WANDB_SILENT="true",
    )  # fmt: skip
    for name in ("MLFLOW_TRACKING_URI", "ENERGY_FEATURE_STORE"):
        env.pop(name, None)

    run_cli(home, env, "feature-pipeline", "backfill", "--start", FIRST_UTC, "--end", "2024-01-01T00:00Z",
            "--chunk-days", "92", "--no-progress")  # fmt: skip
    stats = run_cli(home, env, "feature-pipeline", "stats", "--json").stdout
    assert '"energy_consumption"' in stats
    run_cli(home, env, "training-pipeline", "run", "--as-of", AS_OF, "--profile", "retrain")
    run_cli(home, env, "batch-prediction-pipeline", "predict", "--as-of", AS_OF)

    store = EmbeddedFeatureStore(home / "feature_store")  # core is shared; no service package imported
    consumption = store.read(ENERGY_CONSUMPTION)
    assert len(consumption) == YEAR_HOURS  # every UTC hour once: the DST gap and repeat resolved
    assert consumption["datetime_utc"].is_unique
    predictions = store.read(PREDICTIONS)
    ours = predictions[(predictions["area"] == "SYNTH1") & (predictions["consumer_type"] == "all-load")]
    assert sorted(ours["hours_ahead"]) == list(range(1, 25))
    first_target = pd.Timestamp(AS_OF) + pd.Timedelta(hours=1)
    assert ours["datetime_utc"].min() == first_target
    actual = consumption.set_index("datetime_utc")["energy_consumption_kwh"]
    compared = ours.set_index("datetime_utc")["prediction_kwh"]
    wape = float((compared - actual.reindex(compared.index)).abs().sum() / actual.reindex(compared.index).sum())
    assert wape < 0.1, f"forecast WAPE {wape:.3f} on a smooth synthetic series"
