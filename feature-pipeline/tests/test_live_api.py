"""ENERGY_SOURCE=api end to end: consumption from Energi Data Service and weather from meteostat.

The internet is mocked: a real HTTP server on 127.0.0.1 serves the 30 real
ConsumptionConsumerCategoryHour records in the recorded answer format (paged, one 429 with
Retry-After: 1 mid-way) and, at MS_HOURLY_ENDPOINT, one small *synthetic* Meteostat hourly file per
station in the current format (gzip CSV with header: year, month, day, hour, then parameters and
their `_source` columns). The run goes through the installed `feature-pipeline` console script in a
subprocess, so meteostat reads its MS_* variables at import exactly as in production.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, SERIES, WEATHER

from .support import RecordedEds

STATIONS = {"DK1": "06060", "DK2": "06180"}


def test_meteostat_is_a_default_dependency_not_an_extra() -> None:
    """Live runs used to end in ModuleNotFoundError: meteostat was only in an optional extra."""
    requirements = importlib.metadata.requires("energy-features") or []
    meteostat = [r for r in requirements if r.lower().startswith("meteostat")]
    assert meteostat, f"meteostat is not a requirement of energy-features: {requirements}"
    assert all("extra ==" not in r for r in meteostat), meteostat


def _synthetic_hourly_csv_gz(first: str, hours: int) -> bytes:
    """Synthetic weather (not real observations) in Meteostat's current hourly file format."""
    times = pd.date_range(first, periods=hours, freq="h")
    lines = ["year,month,day,hour,temp,temp_source,prcp,prcp_source,wspd,wspd_source,pres,pres_source"]
    lines += [
        f"{t.year},{t.month},{t.day},{t.hour},{1.0 + i / 10:.1f},synop,0.0,synop,12.5,synop,1012.0,synop"
        for i, t in enumerate(times)
    ]
    return gzip.compress(("\n".join(lines) + "\n").encode())


@pytest.mark.slow
def test_a_live_run_ingests_consumption_and_weather_through_the_console_script(
    consumer_category_sample: pd.DataFrame,
    serve: list[RecordedEds],
    home: Path,
    store: EmbeddedFeatureStore,
    tmp_path: Path,
) -> None:
    url = serve[0].url
    weather = _synthetic_hourly_csv_gz("2025-12-30T00:00", 48)
    serve.append(
        RecordedEds(
            consumer_category_sample.to_dict("records"),
            throttle_at={2},
            url=url,
            files={f"/hourly/2025/{station}.csv.gz": weather for station in STATIONS.values()},
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENERGY_", "MS_"))}
    env.update(
        ENERGY_HOME=str(home),
        ENERGY_SOURCE="api",
        ENERGY_EDS_BASE_URL=url,
        ENERGY_EDS_DATASET="ConsumptionConsumerCategoryHour",
        ENERGY_EDS_PAGE_SIZE="16",
        ENERGY_EDS_MAX_WAIT_S="30",
        ENERGY_PUBLICATION_LAG_HOURS="0",
        ENERGY_INITIAL_HISTORY_HOURS="24",
        MS_HOURLY_ENDPOINT=f"{url}/hourly/{{year}}/{{station}}.csv.gz",
        MS_CACHE_DIRECTORY=str(tmp_path / "meteostat_cache"),
    )
    script = Path(sys.executable).with_name("feature-pipeline")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "energy_features.cli"]
    done = subprocess.run(
        [*command, "run", "--as-of", "2025-12-31T22:00Z"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "429 Too Many Requests" in done.stderr

    assert len(store.read(ENERGY_CONSUMPTION)) == 30
    assert len(store.read(ENERGY_CONSUMPTION_TOTALS)) == 2 * 3
    assert len(store.read(SERIES)) == 15 + 3
    rows = store.read(WEATHER)
    assert rows.groupby("area").size().to_dict() == {"DK1": 24, "DK2": 24}
    assert set(rows["period_hours"]) == {1}
    assert rows["datetime_utc"].max() == pd.Timestamp("2025-12-31T22:00Z")  # the weather window ends at as-of
