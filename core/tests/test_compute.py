"""Thread caps for the hourly processes that share the cores (`energy_core.compute`)."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from energy_core.compute import cap_hourly_processes, child_environment, limit_threads, limit_threads_from_settings
from energy_core.feature_store import relational


@pytest.fixture
def restored() -> Iterator[None]:
    arrow = pa.cpu_count()
    yield
    pa.set_cpu_count(arrow)
    relational.set_duckdb_threads(2)


def _duckdb_threads() -> int:
    with relational.connect() as con:
        row = con.execute("SELECT current_setting('threads')").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.usefixtures("restored")
def test_a_cap_reaches_arrow_and_duckdb_including_an_open_connection() -> None:
    before = _duckdb_threads()  # this thread's connection now exists
    assert before == 2
    limit_threads(1)
    assert pa.cpu_count() == 1
    assert _duckdb_threads() == 1


@pytest.mark.usefixtures("restored")
def test_energy_threads_caps_a_worker_and_unset_leaves_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENERGY_THREADS", raising=False)
    assert limit_threads_from_settings() is None
    assert _duckdb_threads() == 2
    monkeypatch.setenv("ENERGY_THREADS", "1")
    assert limit_threads_from_settings() == 1
    assert _duckdb_threads() == 1 and pa.cpu_count() == 1


def test_a_child_gets_the_cap_for_its_openmp_pools_too_and_zero_threads_is_refused() -> None:
    assert child_environment(1) == {"ENERGY_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with pytest.raises(ValueError, match="at least 1"):
        limit_threads(0)


@pytest.mark.usefixtures("restored")
def test_simulates_cap_applies_here_and_to_the_children_and_zero_caps_nothing() -> None:
    arrow = pa.cpu_count()
    assert cap_hourly_processes(0) is None
    assert pa.cpu_count() == arrow and _duckdb_threads() == 2
    assert cap_hourly_processes(1) == child_environment(1)
    assert pa.cpu_count() == 1 and _duckdb_threads() == 1
