"""The slow path sheds load: a bounded number of builds, a short queue, then 503 + Retry-After."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from energy_api.app import create_app
from energy_api.load_shedding import BuildLimiter, Overloaded
from energy_core.feature_store import FeatureStore, open_feature_store
from energy_core.registry import open_registry
from energy_core.settings import ApiSettings

from .conftest import home_settings


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Poll for a state another thread reaches (a synchronisation aid, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def test_a_request_beyond_the_slots_and_the_queue_is_refused_at_once() -> None:
    limiter, release, done = BuildLimiter(1, 1, queue_timeout_s=60), threading.Event(), []

    def build(name: str) -> None:
        with limiter.slot():
            release.wait(30)
            done.append(name)

    running = threading.Thread(target=build, args=("running",))
    running.start()
    wait_until(lambda: limiter.stats.active == 1, "the first build to start")
    queued = threading.Thread(target=build, args=("queued",))
    queued.start()
    wait_until(lambda: limiter.stats.queued == 1, "the second build to queue")

    with pytest.raises(Overloaded) as refused, limiter.slot():
        pass
    assert refused.value.retry_after_s >= 1
    release.set()
    running.join(30)
    queued.join(30)
    assert done == ["running", "queued"]
    assert (limiter.stats.active, limiter.stats.queued, limiter.stats.shed) == (0, 0, 1)


def test_a_queued_request_gives_up_after_the_queue_timeout() -> None:
    limiter, release = BuildLimiter(1, 4, queue_timeout_s=0.05), threading.Event()
    holder = threading.Thread(target=limiter.guard(lambda: release.wait(30)))
    holder.start()
    wait_until(lambda: limiter.stats.active == 1, "the first build to start")
    with pytest.raises(Overloaded, match="waited"):
        limiter.guard(lambda: None)()
    release.set()
    holder.join(30)
    assert limiter.guard(lambda: "free again")() == "free again"


def test_a_failing_build_gives_its_slot_back() -> None:
    limiter = BuildLimiter(1, 0, queue_timeout_s=1)
    with pytest.raises(RuntimeError):
        limiter.guard(lambda: (_ for _ in ()).throw(RuntimeError("store down")))()
    assert limiter.stats.active == 0 and limiter.guard(lambda: 1)() == 1


class GatedStore:
    """MOCKED slowness: the real embedded store, whose `read` blocks while `gate` is closed, so a
    test can hold a build in progress for as long as it needs (a stand-in for a slow disk)."""

    def __init__(self, store: FeatureStore) -> None:
        self._store = store
        self.gate = threading.Event()
        self.gate.set()

    def read(self, *args: Any, **kwargs: Any) -> Any:
        self.gate.wait(60)
        return self._store.read(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_an_uncached_request_while_every_slot_is_busy_is_answered_503_with_retry_after(filled_home: Path) -> None:
    store_settings, registry_settings = home_settings(filled_home)
    store = GatedStore(open_feature_store(store_settings))
    settings = ApiSettings(  # type: ignore[call-arg]
        ENERGY_API_CACHE_TTL_S=60, ENERGY_API_MAX_CONCURRENT_BUILDS=1, ENERGY_API_MAX_QUEUED_BUILDS=0
    )
    gated = cast(FeatureStore, store)
    app = create_app(settings, lambda: gated, lambda: open_registry(registry_settings), min_gain_over_naive=0.15)
    limiter = app.state.services.limiter
    with TestClient(app) as client:
        assert client.get("/api/v1/forecasts/DK1/112").status_code == 200  # warms the catalogue and versions
        store.gate.clear()
        answers: list[int] = []
        slow = threading.Thread(target=lambda: answers.append(client.get("/api/v1/forecasts/DK1/111").status_code))
        slow.start()
        wait_until(lambda: limiter.stats.active == 1, "the slow build to hold the only slot")

        shed = client.get("/api/v1/forecasts/DK2/111")
        assert shed.status_code == 503
        assert int(shed.headers["Retry-After"]) >= 1
        assert "overloaded" in shed.json()["detail"]
        assert client.get("/api/v1/forecasts/DK1/112").status_code == 200  # a cache hit needs no slot
        assert client.get("/api/v1/health").status_code == 200

        store.gate.set()
        slow.join(60)
        assert answers == [200]
        assert client.get("/api/v1/forecasts/DK2/111").status_code == 200
        assert "energy_api_shed_requests_total 1.0" in client.get("/api/v1/metrics").text
