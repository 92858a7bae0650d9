"""A small TTL cache of serialised responses, keyed on the table versions they were built from.

Why keyed on versions: a response is a pure function of (endpoint, parameters, the versions of
the feature groups it reads). When a pipeline commits a new version the key changes, so the next
request rebuilds the response: no stale forecast survives a new batch for longer than the version
probe interval. The TTL bounds what versions cannot see (registry state, "last 7 days" defaults).

Why the probe is memoised: asking the store for a table version costs a metadata read; at
hundreds of requests per second that read would dominate, so it is refreshed at most every
`interval_s` seconds (default 1 s) per group.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from energy_core.feature_store import FeatureStore
from energy_core.schemas import FeatureGroupSpec

Clock = Callable[[], float]
T = TypeVar("T")


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


class ResponseCache:
    """Thread-safe TTL cache of response bodies (and the small frames they are built from), with
    single-flight computation per key.

    Single flight: when many requests miss the same key at once (e.g. right after a new table
    version), one thread computes and the others wait for its result instead of repeating the
    read. Errors are never cached; the next request tries again.
    """

    def __init__(self, ttl_s: float, max_entries: int = 4096, clock: Clock = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
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
                return None
            self.stats.hits += 1
            return entry[1]

    def _store(self, key: Hashable, body: object) -> None:
        with self._lock:
            self._entries[key] = (self._clock(), body)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
