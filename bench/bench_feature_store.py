"""Benchmark the embedded feature store (issue 2).

- insert throughput: 1M synthetic rows (76 series x 13,158 hours) into a fresh `energy_consumption`
  group, validation included (target >= 500k rows/s);
- read latency: 24 hours of one series from a 2M-row group (target <= 50 ms), through the same
  `read` call the API uses, with a fresh store object per repetition for a cold-ish path and one
  reused object for the warm path.

Run: .venv/bin/python bench/bench_feature_store.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import AREAS, CONSUMER_TYPES, ENERGY_CONSUMPTION, UTC_DTYPE

START = datetime(2020, 1, 1, tzinfo=UTC)


def synthetic(rows: int, seed: int = 0) -> pd.DataFrame:
    series = [(a, c) for a in AREAS for c in CONSUMER_TYPES]
    hours = -(-rows // len(series))
    times = pd.date_range(START, periods=hours, freq="h", tz="UTC").astype(UTC_DTYPE)
    frame = pd.DataFrame(
        {
            "datetime_utc": np.repeat(times.to_numpy(), len(series)),
            "area": pd.array([a for _ in range(hours) for a, _c in series], dtype="string"),
            "consumer_type": pd.array([c for _ in range(hours) for _a, c in series], dtype="string"),
            "energy_consumption_kwh": np.random.default_rng(seed).gamma(2.0, 10_000.0, hours * len(series)),
        }
    )
    frame["datetime_utc"] = frame["datetime_utc"].astype(UTC_DTYPE)
    return frame.head(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    one_million = synthetic(1_000_000)
    insert_s = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            store = EmbeddedFeatureStore(Path(tmp))
            t = time.perf_counter()
            store.insert(ENERGY_CONSUMPTION, one_million)
            insert_s.append(time.perf_counter() - t)
    med = statistics.median(insert_s)
    runs = [round(x, 3) for x in insert_s]
    print(f"insert 1M rows: median {med:.3f} s -> {1_000_000 / med:,.0f} rows/s (runs: {runs})")

    two_million = synthetic(2_000_000, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        EmbeddedFeatureStore(Path(tmp)).insert(ENERGY_CONSUMPTION, two_million)
        day = START + timedelta(days=500)
        warm_store = EmbeddedFeatureStore(Path(tmp))
        cold, warm = [], []
        for i in range(max(args.repeats, 20)):
            t = time.perf_counter()
            frame = EmbeddedFeatureStore(Path(tmp)).read(
                ENERGY_CONSUMPTION, start=day, end=day + timedelta(hours=24),
                filters={"area": "DK1", "consumer_type": CONSUMER_TYPES[i % len(CONSUMER_TYPES)]},
            )
            cold.append(time.perf_counter() - t)
            assert len(frame) == 24
            t = time.perf_counter()
            warm_store.read(
                ENERGY_CONSUMPTION, start=day, end=day + timedelta(hours=24),
                filters={"area": "DK2", "consumer_type": CONSUMER_TYPES[i % len(CONSUMER_TYPES)]},
            )
            warm.append(time.perf_counter() - t)
    print(f"read 24 h of one series from 2M rows: median {statistics.median(cold) * 1000:.1f} ms "
          f"(new store object each time), {statistics.median(warm) * 1000:.1f} ms (reused object)")


if __name__ == "__main__":
    main()
