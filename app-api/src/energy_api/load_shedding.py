"""Load shedding on the slow path: a few response builds at a time, a short queue, then 503.

Why: a cache miss (store reads plus serialisation) costs tens of milliseconds of CPU, so on two
cores the uncached forecast path serves about 10 requests/s whatever the concurrency. Without a
bound every extra request just queued (a 5 s median at 50 concurrent clients) and nothing told
clients to back off. Here at most `max_concurrent` builds run, at most `max_queued` wait (each
for at most `queue_timeout_s`), and anything beyond is answered at once with 503 + Retry-After.

Only builds take a slot: cache hits never wait here, and requests for a key another request is
already building wait on the cache's single flight instead (they get that build's answer).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class Overloaded(RuntimeError):
    """Every build slot is busy and the queue is full (or the wait timed out): answer 503."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class LimiterStats:
    active: int = 0
    queued: int = 0
    shed: int = 0


class BuildLimiter:
    """A counting semaphore with a bounded, time-limited wait; thread-safe (builds run in the
    threadpool). Not re-entrant: take a slot once per request, around the outermost build."""

    def __init__(self, max_concurrent: int, max_queued: int, queue_timeout_s: float) -> None:
        if max_concurrent < 1 or max_queued < 0 or queue_timeout_s <= 0:
            raise ValueError(
                f"need max_concurrent >= 1, max_queued >= 0, queue_timeout_s > 0; got {max_concurrent}, "
                f"{max_queued}, {queue_timeout_s}"
            )
        self._max_concurrent = max_concurrent
        self._max_queued = max_queued
        self._queue_timeout_s = queue_timeout_s
        self._retry_after_s = max(1, math.ceil(queue_timeout_s))
        self._changed = threading.Condition()
        self.stats = LimiterStats()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Run the block in a build slot, or raise Overloaded without running it."""
        stats = self.stats
        with self._changed:
            if stats.active >= self._max_concurrent:
                if stats.queued >= self._max_queued:
                    stats.shed += 1
                    raise Overloaded(
                        f"overloaded: {stats.active} responses are being built and {stats.queued} are waiting; "
                        f"retry in {self._retry_after_s} s",
                        self._retry_after_s,
                    )
                stats.queued += 1
                try:
                    free = self._changed.wait_for(
                        lambda: stats.active < self._max_concurrent, timeout=self._queue_timeout_s
                    )
                finally:
                    stats.queued -= 1
                if not free:
                    stats.shed += 1
                    raise Overloaded(
                        f"overloaded: waited {self._queue_timeout_s:g} s for one of {self._max_concurrent} build "
                        f"slots; retry in {self._retry_after_s} s",
                        self._retry_after_s,
                    )
            stats.active += 1
        try:
            yield
        finally:
            with self._changed:
                stats.active -= 1
                self._changed.notify()

    def guard(self, build: Callable[[], T]) -> Callable[[], T]:
        """`build`, run in a slot when called (for ResponseCache.get_or_compute)."""

        def guarded() -> T:
            with self.slot():
                return build()

        return guarded
