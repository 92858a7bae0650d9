"""Both dashboards in a real browser, against the real app-api over a store filled from the snapshot.

A system test (it spans app-api, app-frontend and app-monitoring), so it lives at the repository
root. Nothing is mocked: the three services run as their console scripts over the `snapshot_home`
store (conftest.py), headless Chromium (Debian's `chromium` package, never a downloaded browser)
loads each page, and the test waits in the DOM for Plotly to draw its charts with data.
Screenshots go to docs/screenshots/ when ENERGY_SAVE_SCREENSHOTS=1 (to refresh the README), else to
a temporary directory.

With ENERGY_STACK_API_URL, ENERGY_STACK_FRONTEND_URL and ENERGY_STACK_MONITORING_URL all set, the same
assertions run against a stack that is already up and nothing is started here:
infrastructure/containers/stack-test.sh points them at the service containers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

STACK_URL_VARIABLES = ("ENERGY_STACK_API_URL", "ENERGY_STACK_FRONTEND_URL", "ENERGY_STACK_MONITORING_URL")
STACK_URLS = {name: os.environ.get(name, "").rstrip("/") for name in STACK_URL_VARIABLES}
EXTERNAL_STACK = all(STACK_URLS.values())

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"),
    pytest.mark.skipif(
        not EXTERNAL_STACK and not (BIN / "app-api").exists(), reason="the app-api console script is not installed"
    ),
]
if any(STACK_URLS.values()) and not EXTERNAL_STACK:
    raise RuntimeError(f"set all of {', '.join(STACK_URL_VARIABLES)} or none of them; got {STACK_URLS}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout_s:g} s")


@contextmanager
def serve(command: list[str], env: dict[str, str], health_url: str, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_up(health_url, process)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def live_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if EXTERNAL_STACK:  # the stack's own services already run over their own store
        return {}
    snapshot_home: Path = request.getfixturevalue("snapshot_home")
    env = dict(os.environ, ENERGY_HOME=str(snapshot_home), MLFLOW_DISABLE_TELEMETRY="true", WANDB_MODE="offline")
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


@pytest.fixture(scope="module")
def live_api(live_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if EXTERNAL_STACK:
        yield STACK_URLS["ENERGY_STACK_API_URL"]
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("logs") / "app-api.log"
    with serve([str(BIN / "app-api"), "--port", str(port)], live_env, f"{url}/api/v1/health", log):
        yield url


@contextmanager
def dashboard(script: str, live_env: dict[str, str], live_api: str, logs: Path) -> Iterator[str]:
    """Serve one Streamlit dashboard (its console script) against the live API; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(live_env, ENERGY_API_URL=live_api, ENERGY_DASHBOARD_TIMEOUT_S="30")
    with serve([str(BIN / script), "--port", str(port)], env, f"{url}/_stcore/health", logs / f"{script}.log"):
        yield url


@pytest.fixture(scope="module")
def frontend_page(live_env: dict[str, str], live_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if EXTERNAL_STACK:
        yield STACK_URLS["ENERGY_STACK_FRONTEND_URL"]
        return
    with dashboard("app-frontend", live_env, live_api, tmp_path_factory.mktemp("logs")) as url:
        yield url


@pytest.fixture(scope="module")
def monitoring_page(live_env: dict[str, str], live_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if EXTERNAL_STACK:
        yield STACK_URLS["ENERGY_STACK_MONITORING_URL"]
        return
    with dashboard("app-monitoring", live_env, live_api, tmp_path_factory.mktemp("logs")) as url:
        yield url


def fit_viewport_to_page(page: Any) -> None:
    """Streamlit scrolls inside its main container, so a full-page screenshot needs a tall viewport."""
    height = page.evaluate("document.querySelector('[data-testid=stMain]')?.scrollHeight ?? 1300")
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 80, 8000)})
    page.wait_for_timeout(1000)


def screenshot_path(name: str, tmp_path: Path) -> Path:
    if os.environ.get("ENERGY_SAVE_SCREENSHOTS") == "1":
        target = REPO / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        return target / name
    return tmp_path / name


def test_api_is_ready_and_serves_a_leaf_forecast_from_the_champion(live_api: str) -> None:
    ready = httpx.get(f"{live_api}/api/v1/ready", timeout=30)
    assert ready.status_code == 200, ready.text
    readiness = ready.json()
    assert readiness["champion_version"] is not None and readiness["latest_forecast_at"] is not None, readiness
    leaves = httpx.get(f"{live_api}/api/v1/series", params={"level": "leaf"}, timeout=30).json()
    assert leaves, "expected the catalogue to list at least one leaf series"
    leaf = leaves[0]
    forecast = httpx.get(f"{live_api}/api/v1/forecasts/{leaf['area']}/{leaf['consumer_type']}", timeout=30)
    assert forecast.status_code == 200, forecast.text
    body = forecast.json()
    assert body["history"] and len(body["forecast"]) == 24, f"{leaf['id']}: {len(body['history'])} history points"
    if not body["cold_start"]:  # a cold-start series is forecast by the seasonal-naive fallback instead
        assert body["model_version"] == readiness["champion_version"], body["model_name"]


def test_forecast_page_draws_history_forecast_and_heatmap(frontend_page: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.goto(frontend_page, wait_until="domcontentloaded")
            page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", timeout=90_000)
            page.wait_for_selector(".js-plotly-plot .heatmaplayer", timeout=30_000)
            page.wait_for_timeout(1500)  # let Plotly finish its transitions before the screenshot
            lines = page.locator(".js-plotly-plot .scatterlayer .trace path.js-line")
            paths = lines.evaluate_all("els => els.map(e => e.getAttribute('d') || '')")
            drawn = [d for d in paths if d.count("L") >= 1]  # at least one segment: two or more data points
            assert len(drawn) >= 2, "expected the observed and the forecast lines to be drawn with data"
            assert page.get_by_text("Data freshness").count() == 1
            assert page.locator("[data-testid='stAlertContentError']").count() == 0
            assert page.get_by_text("Download the data shown (CSV)").count() == 1
            fit_viewport_to_page(page)
            page.screenshot(path=str(screenshot_path("frontend.png", tmp_path)), full_page=True)
        finally:
            browser.close()


def test_monitoring_page_draws_every_chart_with_data(monitoring_page: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.goto(monitoring_page, wait_until="domcontentloaded")
            page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", timeout=90_000)
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 4", timeout=60_000)
            page.wait_for_selector(".js-plotly-plot .barlayer .trace", timeout=30_000)
            page.wait_for_timeout(1500)  # let Plotly finish its transitions before the screenshot
            lines = page.locator(".js-plotly-plot .scatterlayer .trace path.js-line")
            paths = lines.evaluate_all("els => els.map(e => e.getAttribute('d') || '')")
            drawn = [d for d in paths if d.count("L") >= 1]  # at least one segment: two or more data points
            assert len(drawn) >= 3, "expected WAPE, MAPE and the actual/forecast lines to be drawn with data"
            assert page.locator("[data-testid='stAlertContentError']").count() == 0
            assert page.get_by_text("Alerts and drift").count() == 1
            fit_viewport_to_page(page)
            page.screenshot(path=str(screenshot_path("monitoring.png", tmp_path)), full_page=True)
        finally:
            browser.close()
