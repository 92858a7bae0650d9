"""HTTP client for the Energi Data Service REST API: paging, rate limits, retries, shape checks.

Why it is careful: the API allows about one request per dataset per minute per client and answers
429 with Retry-After; it also has bad minutes (5xx, timeouts). A job must neither hammer it nor
hang forever, so every wait is honoured but the total is bounded by `max_wait_s`, after which a
clear EdsUnavailable names what happened. A response in an unexpected shape (malformed JSON, no
`records`/`total`, a record without a required column) raises EdsResponseError naming the problem;
nothing is returned partially, so the caller writes nothing.

The clock, the sleep and the HTTP transport are injectable so tests run against a local server
without waiting a real minute.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger(__name__)


class EdsError(RuntimeError):
    """Base class: the Energi Data Service could not deliver a complete, well-formed answer."""


class EdsUnavailable(EdsError):
    """The service kept refusing (429, 5xx, timeouts) for longer than the bounded wait."""


class EdsResponseError(EdsError):
    """The service answered, but not in the documented shape (or with a client error)."""


@dataclass
class EdsClient:
    """Fetches every record of a dataset between two UTC times, page by page."""

    base_url: str
    timeout_s: float = 30.0
    max_wait_s: float = 600.0
    page_size: int = 10_000
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 60.0
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def fetch(
        self,
        dataset: str,
        start: datetime,
        end: datetime,
        required_columns: Sequence[str],
        sort: str | None = None,
        filters: str | None = None,
    ) -> list[dict[str, Any]]:
        """All records with start <= time < end (UTC), or an EdsError; never a partial list."""
        params: dict[str, str | int] = {
            "start": _api_time(start),
            "end": _api_time(end),
            "timezone": "utc",
            "limit": self.page_size,
        }
        if sort:
            params["sort"] = sort
        if filters:
            params["filter"] = filters
        records: list[dict[str, Any]] = []
        offset = 0
        deadline = self.monotonic() + self.max_wait_s
        with httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout_s, transport=self.transport) as http:
            while True:
                page = self._get_page(http, dataset, {**params, "offset": offset}, deadline)
                total, page_records = _check_page(page, dataset, required_columns, offset)
                records.extend(page_records)
                offset += len(page_records)
                log.info(
                    "EDS %s: page at offset %d gave %d of %d records",
                    dataset,
                    offset - len(page_records),
                    len(page_records),
                    total,
                )
                if offset >= total or not page_records:
                    break
        if len(records) < total:
            raise EdsResponseError(
                f"EDS {dataset}: the service announced total={total} records but paging ended after "
                f"{len(records)}; refusing a partial extract (re-run later)"
            )
        return records

    def _get_page(self, http: httpx.Client, dataset: str, params: dict[str, str | int], deadline: float) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = http.get(f"/dataset/{dataset}", params=params)
            except httpx.TimeoutException as exc:
                reason = f"timed out after {self.timeout_s:g} s ({type(exc).__name__})"
                wait = self._backoff(attempt)
            except httpx.TransportError as exc:
                reason = f"transport error: {exc}"
                wait = self._backoff(attempt)
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError as exc:
                        raise EdsResponseError(
                            f"EDS {dataset}: response at offset {params['offset']} is not valid JSON "
                            f"({exc}); first bytes: {response.text[:120]!r}"
                        ) from exc
                if response.status_code == 429:
                    reason = "429 Too Many Requests"
                    wait = _retry_after(response.headers.get("Retry-After"), self.now()) or self._backoff(attempt)
                elif response.status_code >= 500:
                    reason = f"HTTP {response.status_code}"
                    wait = self._backoff(attempt)
                else:
                    raise EdsResponseError(
                        f"EDS {dataset}: HTTP {response.status_code} for {response.request.url}: "
                        f"{response.text[:200]!r}"
                    )
            remaining = deadline - self.monotonic()
            if wait > remaining:
                raise EdsUnavailable(
                    f"EDS {dataset}: gave up after {attempt} attempt(s): last answer {reason}; waiting "
                    f"{wait:.1f} s more would exceed the {self.max_wait_s:g} s bound "
                    "(ENERGY_EDS_MAX_WAIT_S). Nothing was written; re-run later."
                )
            log.warning("EDS %s: %s, attempt %d, retrying in %.1f s", dataset, reason, attempt, wait)
            self.sleep(wait)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter (between half and all of the capped delay)."""
        delay = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1))
        return delay * (0.5 + 0.5 * self.jitter())


def _api_time(value: datetime) -> str:
    """The API's `yyyy-MM-ddTHH:mm` form, in UTC (the request also says timezone=utc)."""
    if value.tzinfo is None:
        raise ValueError(f"{value!r} is naive; pass timezone-aware UTC times")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _retry_after(header: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent/bad."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _check_page(
    page: Any, dataset: str, required_columns: Sequence[str], offset: int
) -> tuple[int, list[dict[str, Any]]]:
    if not isinstance(page, dict):
        raise EdsResponseError(
            f"EDS {dataset}: expected a JSON object with 'total' and 'records', got {type(page).__name__}"
        )
    missing = [key for key in ("total", "records") if key not in page]
    if missing:
        raise EdsResponseError(
            f"EDS {dataset}: response at offset {offset} lacks {', '.join(map(repr, missing))}; "
            f"keys present: {sorted(page)}"
        )
    total, records = page["total"], page["records"]
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise EdsResponseError(f"EDS {dataset}: 'total' should be a non-negative integer, got {total!r}")
    if not isinstance(records, list):
        raise EdsResponseError(f"EDS {dataset}: 'records' should be a list, got {type(records).__name__}")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise EdsResponseError(f"EDS {dataset}: record {offset + index} is not an object: {record!r}")
        absent = [column for column in required_columns if column not in record]
        if absent:
            raise EdsResponseError(
                f"EDS {dataset}: record {offset + index} lacks required column(s) {', '.join(absent)}: {record!r}"
            )
    return total, records
