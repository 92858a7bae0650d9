"""How long does a dashboard take to render, with a cold and with a warm cache?

Runs each page's Streamlit script headless (streamlit.testing AppTest) against the tests' fake API
served on 127.0.0.1, so the numbers measure the page (HTTP client, parsing, figure building,
Streamlit's script run) and not app-api's queries. Cold: the cache is cleared before the run, so
every API call goes over HTTP; warm: the same page again within the cache TTL (what a user gets
when they change nothing). Prints medians of several repetitions.

    .venv/bin/python bench/bench_dashboards.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import streamlit as st
import uvicorn
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]
PAGES = {
    "app-frontend": REPO / "app-frontend" / "src" / "energy_frontend" / "app.py",
    "app-monitoring": REPO / "app-monitoring" / "src" / "energy_monitoring_app" / "app.py",
}


def load_fake_api(service: str) -> ModuleType:
    """The service's test fake (tests/conftest.py), loaded by path: bench code imports no service."""
    path = REPO / service / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location(f"{service.replace('-', '_')}_fake_api", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def serve(fake: ModuleType) -> tuple[str, uvicorn.Server]:
    port = fake.free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.build_fake_api("full"), host="127.0.0.1", port=port, log_level="error", access_log=False)
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server


def render_seconds(script: Path, clear_cache: bool) -> float:
    if clear_cache:
        st.cache_data.clear()
    started = time.perf_counter()
    page = AppTest.from_file(str(script), default_timeout=60).run()
    elapsed = time.perf_counter() - started
    if page.exception or page.error:
        raise RuntimeError(f"{script.name} failed to render: {page.exception or page.error[0].value}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    print(f"{'page':<16}{'cache':<7}{'median s':>10}{'min s':>9}  (n={args.repeat})")
    for service, script in PAGES.items():
        url, server = serve(load_fake_api(service))
        os.environ["ENERGY_API_URL"] = url
        render_seconds(script, clear_cache=True)  # warm-up: imports, first figure
        for label, clear in (("cold", True), ("warm", False)):
            times = [render_seconds(script, clear_cache=clear) for _ in range(args.repeat)]
            print(f"{service:<16}{label:<7}{statistics.median(times):>10.3f}{min(times):>9.3f}")
        server.should_exit = True
    sys.stdout.flush()


if __name__ == "__main__":
    main()
