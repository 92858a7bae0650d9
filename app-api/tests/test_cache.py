"""The versioned response cache: hits within the TTL, misses after it or on a new table version."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from energy_api.cache import ResponseCache, TableVersionProbe
from energy_core.feature_store import FeatureStore, open_feature_store
from energy_core.schemas import PREDICTIONS

from .conftest import HOUR, LAST_HOUR, AppFactory, home_settings, predictions_frame


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_second_request_within_the_ttl_is_served_from_the_cache() -> None:
    clock, calls = FakeClock(), []
    cache = ResponseCache(ttl_s=5, clock=clock)
    for _ in range(3):
        assert cache.get_or_compute("k", lambda: calls.append(1) or b"body") == b"body"
    assert len(calls) == 1
    assert (cache.stats.hits, cache.stats.misses) == (2, 1)


def test_an_entry_older_than_the_ttl_is_rebuilt() -> None:
    clock, calls = FakeClock(), []
    cache = ResponseCache(ttl_s=5, clock=clock)
    cache.get_or_compute("k", lambda: calls.append(1) or b"old")
    clock.now = 5.0
    assert cache.get_or_compute("k", lambda: calls.append(1) or b"new") == b"new"
    assert len(calls) == 2


def test_a_zero_ttl_disables_caching() -> None:
    cache, calls = ResponseCache(ttl_s=0), []
    cache.get_or_compute("k", lambda: calls.append(1) or b"x")
    cache.get_or_compute("k", lambda: calls.append(1) or b"x")
    assert len(calls) == 2


def test_a_failed_computation_is_not_cached() -> None:
    cache = ResponseCache(ttl_s=5)

    def fail() -> bytes:
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", fail)
    assert cache.get_or_compute("k", lambda: b"recovered") == b"recovered"


def test_concurrent_misses_on_one_key_compute_once() -> None:
    cache, calls = ResponseCache(ttl_s=5), []
    gate = threading.Event()

    def slow() -> bytes:
        calls.append(1)
        gate.wait(2)
        return b"x"

    threads = [threading.Thread(target=cache.get_or_compute, args=("k", slow)) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1


def test_the_least_recently_stored_entry_is_evicted_beyond_max_entries() -> None:
    cache = ResponseCache(ttl_s=5, max_entries=2)
    for key in ("a", "b", "c"):
        cache.get_or_compute(key, lambda: b"x")
    assert len(cache) == 2
    calls = []
    cache.get_or_compute("a", lambda: calls.append(1) or b"x")
    assert calls == [1]


def test_the_version_probe_asks_the_store_at_most_once_per_interval() -> None:
    class CountingStore:
        def __init__(self) -> None:
            self.calls = 0

        def table_version(self, group: object) -> int:
            self.calls += 1
            return 7

    clock, store = FakeClock(), CountingStore()
    probe = TableVersionProbe(interval_s=1.0, clock=clock)
    assert probe.versions(store, PREDICTIONS) == (7,)  # type: ignore[arg-type]
    probe.versions(store, PREDICTIONS)  # type: ignore[arg-type]
    assert store.calls == 1
    clock.now = 1.0
    probe.versions(store, PREDICTIONS)  # type: ignore[arg-type]
    assert store.calls == 2


def test_a_new_predictions_version_invalidates_the_cached_forecast(make_app: AppFactory, writable_home: Path) -> None:
    app = make_app(writable_home, cache_ttl_s=3600, version_probe_interval_s=0)
    with TestClient(app) as client:
        before = client.get("/api/v1/forecasts/DK1/111").json()
        assert client.get("/api/v1/forecasts/DK1/111").json() == before  # served from the cache
        newer = LAST_HOUR + HOUR
        open_feature_store(home_settings(writable_home)[0]).insert(
            PREDICTIONS, predictions_frame(newer, model_version=3, scale=1.0)
        )
        after = client.get("/api/v1/forecasts/DK1/111").json()
    assert before["model_version"] == 2
    assert after["model_version"] == 3
    assert after["forecast_made_at"] == newer.strftime("%Y-%m-%dT%H:%M:%SZ")


class CountingStore:
    """Wraps the real embedded store and counts the calls that reach it."""

    def __init__(self, store: FeatureStore) -> None:
        self._store = store
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        self.calls += 1
        return getattr(self._store, name)


def test_a_cached_forecast_is_served_without_touching_the_store(make_app: AppFactory, filled_home: Path) -> None:
    store = CountingStore(open_feature_store(home_settings(filled_home)[0]))
    app = make_app(filled_home, store_factory=lambda: store, version_probe_interval_s=60)
    with TestClient(app) as client:
        first = client.get("/api/v1/forecasts/DK1/112")
        calls_after_first = store.calls
        second = client.get("/api/v1/forecasts/DK1/112")
    assert calls_after_first > 0
    assert store.calls == calls_after_first
    assert second.content == first.content
