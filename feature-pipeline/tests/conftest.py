"""Fixtures for the feature-pipeline tests: a temporary ENERGY_HOME and a pipeline context around a
real EmbeddedFeatureStore (nothing mocked: the store is the embedded one, on a temporary disk)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_features.extract import Sources
from energy_features.extract.weather import SnapshotDailyWeather
from energy_features.pipeline import PipelineContext
from energy_features.windows import WindowPolicy

from .support import CONSUMER_CATEGORY_SAMPLE, FIXED_NOW, REAL_SNAPSHOT, RecordedEds

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("WANDB_MODE", "offline")

ContextFactory = Callable[..., PipelineContext]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    energy_home = tmp_path / "energy_home"
    energy_home.mkdir()
    monkeypatch.setenv("ENERGY_HOME", str(energy_home))
    return energy_home


@pytest.fixture
def store(home: Path) -> EmbeddedFeatureStore:
    return EmbeddedFeatureStore(home / "feature_store")


@pytest.fixture
def make_context(home: Path, store: EmbeddedFeatureStore, tmp_path: Path) -> ContextFactory:
    """Build a PipelineContext over a consumption source; weather from an (empty) directory."""
    weather_dir = tmp_path / "no_weather"
    weather_dir.mkdir()

    def build(
        consumption: object, policy: WindowPolicy | None = None, weather_dir_: Path | None = None
    ) -> PipelineContext:
        weather = SnapshotDailyWeather(weather_dir_ or weather_dir, {"DK1": "06060", "DK2": "06180"})
        return PipelineContext(
            store=store,
            sources=Sources(consumption, weather),  # type: ignore[arg-type]
            policy=policy or WindowPolicy(),
            home=home,
            now=lambda: FIXED_NOW,
        )

    return build


@pytest.fixture
def real_snapshot() -> Path:
    if not any(REAL_SNAPSHOT.glob("consumption_de35_hour_*.parquet")):
        pytest.skip(f"real snapshot not found in {REAL_SNAPSHOT} (set ENERGY_SNAPSHOT_DIR)")
    return REAL_SNAPSHOT


@pytest.fixture
def consumer_category_sample() -> pd.DataFrame:
    """The 30 real ConsumptionConsumerCategoryHour records (SOURCES.md section 3) as API records:
    every field the CSV's text, kWh parsed as a float (the API sends a JSON number)."""
    path = REAL_SNAPSHOT / CONSUMER_CATEGORY_SAMPLE
    if not path.exists():
        pytest.skip(f"{CONSUMER_CATEGORY_SAMPLE} not found in {REAL_SNAPSHOT} (set ENERGY_SNAPSHOT_DIR)")
    text = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    return text.assign(ConsumptionkWh=text["ConsumptionkWh"].map(float))


@pytest.fixture
def serve() -> Iterator[list[RecordedEds]]:
    """Start the stand-in server for a RecordedEds put into the yielded list."""
    served: list[RecordedEds] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            status, headers, payload = served[-1].answer(url.path, parse_qs(url.query))
            self.send_response(status)
            for name, value in {**headers, "Content-Type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    served.append(RecordedEds([], url=url))
    yield served
    server.shutdown()
    server.server_close()
