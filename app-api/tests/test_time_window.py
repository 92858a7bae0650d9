"""The window rules behind `start`/`end` on the monitoring endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from energy_api.time_window import InvalidTimeWindow, resolve_window

LATEST = datetime(2023, 1, 24, 22, tzinfo=UTC)


def test_no_bounds_means_the_week_ending_with_the_latest_monitored_hour() -> None:
    window = resolve_window(None, None, LATEST)
    assert window is not None
    assert window.end == LATEST + timedelta(hours=1)
    assert window.end - window.start == timedelta(days=7)


def test_no_bounds_and_nothing_monitored_gives_no_window() -> None:
    assert resolve_window(None, None, None) is None


def test_only_start_runs_to_the_latest_hour_or_one_week_when_that_is_earlier() -> None:
    start = datetime(2023, 1, 20, tzinfo=UTC)
    assert resolve_window(start, None, LATEST).end == LATEST + timedelta(hours=1)  # type: ignore[union-attr]
    after = datetime(2023, 2, 1, tzinfo=UTC)
    assert resolve_window(after, None, LATEST).end == after + timedelta(days=7)  # type: ignore[union-attr]


def test_only_end_covers_the_week_before_it() -> None:
    end = datetime(2023, 1, 10, tzinfo=UTC)
    assert resolve_window(None, end, None).start == end - timedelta(days=7)  # type: ignore[union-attr]


def test_naive_bounds_are_utc_and_aware_ones_are_converted() -> None:
    window = resolve_window(datetime(2023, 1, 1, 12), datetime(2023, 1, 1, 14, tzinfo=UTC), None)
    assert window is not None and window.start == datetime(2023, 1, 1, 12, tzinfo=UTC)


def test_start_not_before_end_is_rejected_naming_end() -> None:
    t = datetime(2023, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidTimeWindow) as err:
        resolve_window(t, t, None)
    assert err.value.field == "end"


def test_times_outside_1970_to_2200_are_rejected() -> None:
    with pytest.raises(InvalidTimeWindow, match="supported range"):
        resolve_window(datetime(1, 1, 1, tzinfo=UTC), None, None)
    with pytest.raises(InvalidTimeWindow):
        resolve_window(None, datetime(9999, 12, 31, 23, tzinfo=UTC), None)
