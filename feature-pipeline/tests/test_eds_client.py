"""The Energi Data Service client against a real HTTP server on 127.0.0.1 serving recorded-format
answers (the live API is the one thing not reachable here). Sleeps are injected so a 429 with
Retry-After: 60 costs no real minute."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import CALENDAR, ENERGY_CONSUMPTION, WEATHER
from energy_features import pipeline
from energy_features.extract.datasets import DE35
from energy_features.extract.eds import EdsConsumption
from energy_features.extract.eds_client import EdsClient, EdsResponseError, EdsUnavailable
from energy_features.watermarks import read_watermarks

from .conftest import ContextFactory
from .support import de35_records, utc

RECORDS = de35_records("2023-01-01T00:00", 3).to_dict(orient="records")  # 12 records
START, END = utc("2023-01-01T00:00"), utc("2023-01-01T03:00")


@dataclass
class Reply:
    status: int = 200
    body: object = None  # JSON-serialisable, or bytes sent as is; None: a page of RECORDS
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class FakeEds:
    """Scripted replies, then pages of RECORDS served from `offset`/`limit` in the recorded format."""

    url: str = ""
    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, list[str]]] = field(default_factory=list)

    def reply(self, query: dict[str, list[str]]) -> Reply:
        self.requests.append(query)
        if self.script:
            reply = self.script.pop(0)
            if reply.body is not None or reply.status != 200:
                return reply
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        page = RECORDS[offset : offset + limit]
        body = {"total": len(RECORDS), "limit": limit, "dataset": DE35.name, "sort": "HourUTC ASC", "records": page}
        return Reply(body=body)


@pytest.fixture
def eds() -> Iterator[FakeEds]:
    fake = FakeEds()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reply = fake.reply(parse_qs(urlparse(self.path).query))
            time.sleep(reply.delay_s)
            payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@dataclass
class FakeClock:
    """monotonic() advances only when the client sleeps, so waits are measured, not spent."""

    t: float = 0.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def _client(eds: FakeEds, clock: FakeClock, **overrides: object) -> EdsClient:
    options: dict[str, object] = {
        "base_url": eds.url, "timeout_s": 2.0, "max_wait_s": 120.0, "page_size": 5,
        "sleep": clock.sleep, "monotonic": clock.monotonic, "jitter": lambda: 1.0,
    }  # fmt: skip
    options.update(overrides)
    return EdsClient(**options)  # type: ignore[arg-type]


def test_pages_with_offset_until_total_is_reached(eds: FakeEds) -> None:
    records = _client(eds, FakeClock()).fetch(DE35.name, START, END, DE35.columns)
    assert records == RECORDS
    assert [q["offset"][0] for q in eds.requests] == ["0", "5", "10"]
    assert eds.requests[0]["start"] == ["2023-01-01T00:00"] and eds.requests[0]["end"] == ["2023-01-01T03:00"]
    assert eds.requests[0]["timezone"] == ["utc"]


def test_429_waits_exactly_retry_after_seconds_then_succeeds(eds: FakeEds) -> None:
    eds.script = [Reply(status=429, body={"error": "slow down"}, headers={"Retry-After": "60"})]
    clock = FakeClock()
    records = _client(eds, clock).fetch(DE35.name, START, END, DE35.columns)
    assert records == RECORDS
    assert clock.slept == [60.0]


def test_retry_after_as_an_http_date_is_honoured(eds: FakeEds) -> None:
    from datetime import timedelta
    from email.utils import format_datetime

    now = utc("2023-01-01T00:00")
    eds.script = [
        Reply(status=429, body={}, headers={"Retry-After": format_datetime(now + timedelta(seconds=30), usegmt=True)})
    ]
    clock = FakeClock()
    _client(eds, clock, now=lambda: now).fetch(DE35.name, START, END, DE35.columns)
    assert clock.slept == [30.0]


def test_5xx_is_retried_with_exponential_backoff(eds: FakeEds) -> None:
    eds.script = [Reply(status=503, body={}), Reply(status=502, body={})]
    clock = FakeClock()
    assert _client(eds, clock).fetch(DE35.name, START, END, DE35.columns) == RECORDS
    assert clock.slept == [2.0, 4.0]


def test_persistent_5xx_gives_up_after_the_bounded_wait_with_a_clear_error(eds: FakeEds) -> None:
    eds.script = [Reply(status=500, body={}) for _ in range(50)]
    clock = FakeClock()
    with pytest.raises(EdsUnavailable, match=r"HTTP 500.*ENERGY_EDS_MAX_WAIT_S"):
        _client(eds, clock, max_wait_s=30.0).fetch(DE35.name, START, END, DE35.columns)
    assert sum(clock.slept) <= 30.0


def test_a_429_asking_for_longer_than_the_bound_fails_at_once(eds: FakeEds) -> None:
    eds.script = [Reply(status=429, body={}, headers={"Retry-After": "3600"})]
    clock = FakeClock()
    with pytest.raises(EdsUnavailable, match="429"):
        _client(eds, clock, max_wait_s=600.0).fetch(DE35.name, START, END, DE35.columns)
    assert clock.slept == []


def test_timeouts_are_retried_then_reported(eds: FakeEds) -> None:
    eds.script = [Reply(delay_s=0.5, body={}) for _ in range(50)]
    client = _client(eds, FakeClock(), timeout_s=0.1, max_wait_s=0.6, backoff_base_s=0.01)
    client.monotonic = time.monotonic  # real time: the timeouts themselves must count
    client.sleep = time.sleep
    with pytest.raises(EdsUnavailable, match="timed out"):
        client.fetch(DE35.name, START, END, DE35.columns)


def test_a_timeout_followed_by_an_answer_succeeds(eds: FakeEds) -> None:
    eds.script = [Reply(delay_s=0.5, body={})]
    clock = FakeClock()
    assert _client(eds, clock, timeout_s=0.1).fetch(DE35.name, START, END, DE35.columns) == RECORDS
    assert len(clock.slept) == 1


def test_malformed_json_is_a_clear_error(eds: FakeEds) -> None:
    eds.script = [Reply(body=b'{"total": 12, "records": [')]
    with pytest.raises(EdsResponseError, match="not valid JSON"):
        _client(eds, FakeClock()).fetch(DE35.name, START, END, DE35.columns)


def test_a_response_without_records_is_a_clear_error(eds: FakeEds) -> None:
    eds.script = [Reply(body={"total": 12, "dataset": DE35.name})]
    with pytest.raises(EdsResponseError, match="lacks 'records'"):
        _client(eds, FakeClock()).fetch(DE35.name, START, END, DE35.columns)


def test_a_record_missing_a_column_names_the_column(eds: FakeEds) -> None:
    broken = [dict(r) for r in RECORDS[:5]]
    del broken[3]["TotalCon"]
    eds.script = [Reply(body={"total": 12, "records": broken})]
    with pytest.raises(EdsResponseError, match=r"record 3 lacks required column.*TotalCon"):
        _client(eds, FakeClock()).fetch(DE35.name, START, END, DE35.columns)


def test_a_client_error_is_not_retried(eds: FakeEds) -> None:
    eds.script = [Reply(status=400, body={"error": "bad filter"})]
    clock = FakeClock()
    with pytest.raises(EdsResponseError, match="HTTP 400"):
        _client(eds, clock).fetch(DE35.name, START, END, DE35.columns)
    assert clock.slept == []


def test_a_failed_extract_writes_nothing(
    eds: FakeEds, make_context: ContextFactory, home: Path, store: EmbeddedFeatureStore
) -> None:
    """The whole pipeline over the API source: the second page fails for good, so no group is
    written and no watermark moves, even though the first page arrived fine."""
    eds.script = [Reply(), *[Reply(status=500, body={}) for _ in range(50)]]
    source = EdsConsumption(_client(eds, FakeClock(), max_wait_s=20.0), DE35)
    with pytest.raises(EdsUnavailable):
        pipeline.run(utc("2023-01-01T02:00"), make_context(source))
    assert not any(store.exists(g) for g in (ENERGY_CONSUMPTION, WEATHER, CALENDAR))
    assert read_watermarks(home / "state") == {}


def test_an_api_extract_loads_like_the_snapshot(
    eds: FakeEds, make_context: ContextFactory, store: EmbeddedFeatureStore
) -> None:
    source = EdsConsumption(_client(eds, FakeClock()), DE35)
    result = pipeline.run(utc("2023-01-01T02:00"), make_context(source))
    assert result.rows_inserted(ENERGY_CONSUMPTION) == 12
    assert len(store.read(ENERGY_CONSUMPTION)) == 12
