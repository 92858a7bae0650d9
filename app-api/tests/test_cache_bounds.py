"""The response cache is bounded in bytes as well as entries, evicting the least recently used."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from energy_api.app import create_app
from energy_api.cache import ENTRY_OVERHEAD_BYTES, ResponseCache, entry_bytes
from energy_core.feature_store import open_feature_store
from energy_core.registry import open_registry
from energy_core.settings import ApiSettings

from .conftest import home_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def accounted(cache: ResponseCache) -> int:
    """What the entries really hold, recomputed independently of the running total."""
    return sum(entry_bytes(value) + ENTRY_OVERHEAD_BYTES for _, value, _ in cache._entries.values())


def test_inserting_many_large_entries_keeps_the_accounted_bytes_within_the_bound() -> None:
    bound = 1_000_000
    cache = ResponseCache(ttl_s=60, max_bytes=bound)
    for i in range(500):
        body = bytes(100_000 + i)
        assert cache.get_or_compute(("big", i), lambda body=body: body) is body
        assert cache.stats.bytes <= bound
    assert cache.stats.bytes == accounted(cache)
    assert 0 < len(cache) < 10
    assert cache.stats.evictions == 500 - len(cache)


def test_the_least_recently_used_entry_is_evicted_first() -> None:
    size = 1000 + ENTRY_OVERHEAD_BYTES
    cache = ResponseCache(ttl_s=60, max_bytes=4 * size)
    for key in "abcd":
        cache.get_or_compute(key, lambda: bytes(1000))
    cache.get_or_compute("a", lambda: b"rebuilt")  # a hit: "a" is now the most recently used
    cache.get_or_compute("e", lambda: bytes(1000))
    assert cache.peek("b") is None
    assert cache.peek("a") == bytes(1000)
    assert all(cache.peek(key) is not None for key in "cde")


def test_an_entry_larger_than_a_quarter_of_the_bound_is_served_but_not_kept() -> None:
    cache = ResponseCache(ttl_s=60, max_bytes=4000)
    cache.get_or_compute("small", lambda: b"s")
    assert cache.get_or_compute("huge", lambda: bytes(1001)) == bytes(1001)
    assert cache.peek("huge") is None and cache.peek("small") == b"s"


def test_expired_and_cleared_entries_give_their_bytes_back() -> None:
    clock = FakeClock()
    cache = ResponseCache(ttl_s=5, max_bytes=1_000_000, clock=clock)
    cache.get_or_compute("a", lambda: bytes(5000))
    cache.get_or_compute("b", lambda: bytes(5000))
    clock.now = 10.0
    assert cache.peek("a") is None
    assert cache.stats.bytes == accounted(cache) == 5000 + ENTRY_OVERHEAD_BYTES
    cache.clear()
    assert cache.stats.bytes == 0


def test_frames_and_tuples_are_sized_by_their_contents() -> None:
    frame = pd.DataFrame({"x": range(10_000)})
    assert entry_bytes(frame) >= 80_000
    assert entry_bytes((frame, b"abc")) >= entry_bytes(frame) + 3


def test_distinct_requests_leave_the_api_cache_within_its_configured_bytes(filled_home: Path) -> None:
    bound = 200_000
    store_settings, registry_settings = home_settings(filled_home)
    settings = ApiSettings(ENERGY_API_CACHE_TTL_S=60, ENERGY_API_CACHE_MAX_BYTES=bound)  # type: ignore[call-arg]
    app = create_app(
        settings,
        lambda: open_feature_store(store_settings),
        lambda: open_registry(registry_settings),
        min_gain_over_naive=0.15,
    )
    with TestClient(app) as client:
        for hours in range(1, 241, 4):
            assert client.get(f"/api/v1/forecasts/DK1/111?history_hours={hours}").status_code == 200
        cache = app.state.services.cache
        assert cache.stats.evictions > 0
        assert cache.stats.bytes <= bound
        assert 'energy_api_cache_bytes' in client.get("/api/v1/metrics").text
