"""A small TTL cache of serialised responses, keyed on the table versions they were built from.

Why keyed on versions: a response is a pure function of (endpoint, parameters, the versions of
the feature groups it reads). When a pipeline commits a new version the key changes, so the next
request rebuilds the response: no stale forecast survives a new batch for longer than the version
probe interval. The TTL bounds what versions cannot see (registry state, "last 7 days" defaults).

Why the probe is memoised: asking the store for a table version costs a metadata read; at
hundreds of requests per second that read would dominate, so it is refreshed at most every
`interval_s` seconds (default 1 s) per group.

Why bounded in bytes, not only in entries: entries differ in size by four orders of magnitude
(a 90-day history is ~200 kB, an alert status ~1 kB), so 4,096 entries could hold gigabytes; the
issue measured 320 distinct large requests growing the process from 250 to 802 MB. The cache
accounts each entry's size (`entry_bytes`) and evicts least-recently-used entries beyond
`max_bytes` (ENERGY_API_CACHE_MAX_BYTES, default 64 MiB); an entry larger than a quarter of the
budget is served but not kept, so one huge answer cannot flush everything else.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from energy_core.feature_store import FeatureStore
from energy_core.schemas import FeatureGroupSpec

Clock = Callable[[], float]
T = TypeVar("T")
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
ENTRY_OVERHEAD_BYTES = 200  # key tuple, timestamp and dict slot: small, but not free


def entry_bytes(value: object) -> int:
    """Approximate memory held by a cached value: exact for bytes and frames, shallow otherwise."""
    if isinstance(value, bytes | bytearray | str):
        return len(value)
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=True, deep=True).sum())
    if isinstance(value, tuple | list):
        return sum(entry_bytes(item) for item in value) + sys.getsizeof(value)
    return sys.getsizeof(value)


class TableVersionProbe:
    """`store.table_version(group)`, memoised per group for `interval_s` seconds."""

    def __init__(self, interval_s: float, clock: Clock = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, int | None]] = {}

    def versions(self, store: FeatureStore, *groups: FeatureGroupSpec) -> tuple[int | None, ...]:
        return tuple(self._version(store, g) for g in groups)

    def peek(self, *groups: FeatureGroupSpec) -> tuple[int | None, ...] | None:
        """The memoised versions when all are fresh, else None; never touches the store, so it
        is safe on the event loop."""
        now = self._clock()
        with self._lock:
            seen = [self._seen.get(g.table_name) for g in groups]
        if any(s is None or now - s[0] >= self._interval_s for s in seen):
            return None
        return tuple(s[1] for s in seen if s is not None)

    def _version(self, store: FeatureStore, group: FeatureGroupSpec) -> int | None:
        now = self._clock()
        with self._lock:
            seen = self._seen.get(group.table_name)
        if seen is not None and now - seen[0] < self._interval_s:
            return seen[1]
        version = store.table_version(group)
        with self._lock:
            self._seen[group.table_name] = (now, version)
        return version


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    bytes: int = 0


class ResponseCache:
    """Thread-safe TTL + LRU cache of response bodies (and the small frames they are built from),
    bounded in entries and in bytes, with single-flight computation per key.

    Single flight: when many requests miss the same key at once (e.g. right after a new table
    version), one thread computes and the others wait for its result instead of repeating the
    read. Errors are never cached; the next request tries again.
    """

    def __init__(
        self,
        ttl_s: float,
        max_entries: int = 4096,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Clock = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[float, Any, int]] = OrderedDict()  # (stored at, value, bytes)
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self.stats = CacheStats()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        if self._ttl_s <= 0:
            return compute()
        cached: T | None = self._fresh(key)
        if cached is not None:
            return cached
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        try:
            with key_lock:
                cached = self._fresh(key)  # another thread may have filled it while we waited
                if cached is not None:
                    return cached
                with self._lock:
                    self.stats.misses += 1
                body = compute()
                self._store(key, body)
                return body
        finally:
            with self._lock:
                self._key_locks.pop(key, None)

    def peek(self, key: Hashable) -> Any:
        """The fresh entry for `key` or None, without computing anything."""
        return self._fresh(key) if self._ttl_s > 0 else None

    def clear(self) -> None:
        """Forget everything, e.g. after this process changed the registry."""
        with self._lock:
            self._entries.clear()
            self.stats.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _fresh(self, key: Hashable) -> Any:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now - entry[0] >= self._ttl_s:
                del self._entries[key]
                self.stats.bytes -= entry[2]
                return None
            self._entries.move_to_end(key)  # least recently *used* is evicted first
            self.stats.hits += 1
            return entry[1]

    def _store(self, key: Hashable, body: object) -> None:
        size = entry_bytes(body) + ENTRY_OVERHEAD_BYTES
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self.stats.bytes -= previous[2]
            if size > self._max_bytes // 4:
                return
            self._entries[key] = (self._clock(), body, size)
            self.stats.bytes += size
            while len(self._entries) > self._max_entries or self.stats.bytes > self._max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.stats.bytes -= evicted[2]
                self.stats.evictions += 1
