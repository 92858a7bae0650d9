"""Drift (PSI), error-vs-backtest checks, status rows and the Slack-compatible webhook."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from energy_batch.alerts import Check, error_check, overall_check
from energy_batch.champion import champion_info
from energy_batch.drift import feature_drift, psi
from energy_batch.pipeline import monitor
from energy_batch.settings import BatchSettings
from energy_batch.webhook import post_alert
from energy_core.feature_store import FeatureStore
from energy_core.registry import ModelRegistry
from energy_core.schemas import ALERTS, ENERGY_CONSUMPTION, ENERGY_FORECASTING_VIEW
from energy_core.settings import AlertSettings

from .batch_support import AS_OF, consumption

THRESHOLDS = AlertSettings()


def test_psi_of_a_hand_checked_two_bin_example() -> None:
    # Reference splits 50/50 at its median; recent is 25/75: PSI = .25 ln 2 + .25 ln 1.5.
    assert psi([0, 0, 1, 1], [0, 1, 1, 1], bins=2) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 20_000)
    assert psi(reference, rng.normal(0, 1, 5_000)) < 0.02
    assert 0.1 < psi(reference, rng.normal(0.4, 1, 5_000)) < 0.25
    assert psi(reference, rng.normal(1.0, 1, 5_000)) > 0.25


def test_psi_refuses_an_empty_side() -> None:
    with pytest.raises(ValueError, match="0 recent"):
        psi([1.0, 2.0], [float("nan")])


def test_feature_drift_skips_features_with_too_few_values() -> None:
    reference = pd.DataFrame({"energy_consumption_kwh": np.arange(500.0), "weather_temperature_c": np.nan})
    recent = pd.DataFrame({"energy_consumption_kwh": np.arange(500.0) + 1000, "weather_temperature_c": np.nan})

    drifts = {d.feature: d for d in feature_drift(ENERGY_FORECASTING_VIEW, reference, recent, min_values=100)}

    assert drifts["energy_consumption_kwh"].psi is not None and drifts["energy_consumption_kwh"].psi > 1
    assert drifts["weather_temperature_c"].psi is None


def test_feature_drift_needs_distinct_observations_not_repeated_rows() -> None:
    # A week of daily weather repeated on every hourly row: 7 observations, however many rows.
    reference = pd.DataFrame({"weather_temperature_c": np.repeat(np.arange(60.0), 24)})
    recent = pd.DataFrame({"weather_temperature_c": np.repeat(np.arange(7.0) + 100, 24)})

    (drift,) = feature_drift(ENERGY_FORECASTING_VIEW, reference, recent, min_values=50)

    assert drift.psi is None and (drift.reference_count, drift.recent_count) == (60, 7)


@pytest.mark.parametrize(
    ("recent", "status"), [(0.05, "ok"), (0.065, "warn"), (0.08, "alert"), (0.2, "alert")]
)
def test_error_check_grades_recent_wape_against_the_backtest(recent: float, status: str) -> None:
    check = error_check(recent, 1000, 0.05, THRESHOLDS, min_count=100)
    assert check.status == status
    assert check.value == pytest.approx(recent / 0.05)


def test_error_check_without_enough_forecasts_is_ok_and_says_why() -> None:
    check = error_check(0.5, 10, 0.05, THRESHOLDS, min_count=100)
    assert (check.status, check.value) == ("ok", None)
    assert "10 monitored forecasts" in check.reason


def test_overall_status_is_the_worst_check_with_its_reason() -> None:
    checks = [
        Check("a", "ok", 0.0, 0.1, "fine"),
        Check("b", "alert", 0.4, 0.25, "shifted"),
        Check("c", "warn", 0.15, 0.1, "slightly"),
    ]
    overall = overall_check(checks)
    assert overall.status == "alert"
    assert overall.reason == "b: shifted"


class _Recorder(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A real HTTP server on 127.0.0.1 that records what is POSTed to it."""
    _Recorder.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Recorder.bodies
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def test_post_alert_sends_slack_compatible_json(webhook_server: tuple[str, list[dict[str, str]]]) -> None:
    url, bodies = webhook_server
    assert post_alert(url, "drift!", timeout_s=5) is True
    assert bodies == [{"text": "drift!"}]


def test_post_alert_to_a_dead_webhook_returns_false_without_raising() -> None:
    assert post_alert(closed_port_url(), "drift!", timeout_s=2) is False


def _drifted_store(store: FeatureStore) -> pd.Timestamp:
    """Add a week after the data in which every series consumes 3x: consumption drifts."""
    start = pd.Timestamp("2023-01-26T00:00Z")
    week = consumption(start, 168)
    week["energy_consumption_kwh"] *= 3
    store.insert(ENERGY_CONSUMPTION, week)
    return start + pd.Timedelta(hours=167)


def test_drifted_consumption_raises_an_alert_recommends_retraining_and_posts_once(
    store: FeatureStore, registry: ModelRegistry, webhook_server: tuple[str, list[dict[str, str]]]
) -> None:
    url, bodies = webhook_server
    as_of = _drifted_store(store)
    champion = champion_info(registry)
    poster = lambda text: post_alert(url, text, timeout_s=5)  # noqa: E731

    first = monitor(store, champion, as_of, BatchSettings(), THRESHOLDS, poster)
    again = monitor(store, champion, as_of, BatchSettings(), THRESHOLDS, poster)
    next_hour = monitor(store, champion, as_of + pd.Timedelta(hours=1), BatchSettings(), THRESHOLDS, poster)

    assert first.status == "alert" and first.retraining_recommended and first.alert_posted
    assert not again.alert_posted and not next_hour.alert_posted  # posted on the way in, once
    assert len(bodies) == 1 and "psi:energy_consumption_kwh" in bodies[0]["text"]
    rows = store.read(ALERTS, end=(as_of + pd.Timedelta(hours=1)).to_pydatetime()).set_index("check_name")
    assert rows.loc["psi:energy_consumption_kwh", "status"] == "alert"
    assert bool(rows.loc["overall", "retraining_recommended"]) is True


def test_an_undrifted_window_is_ok(store: FeatureStore, registry: ModelRegistry) -> None:
    result = monitor(store, champion_info(registry), AS_OF, BatchSettings(), THRESHOLDS)
    rows = store.read(ALERTS).set_index("check_name")
    assert result.status == "ok", result.reason
    assert rows.loc["psi:energy_consumption_kwh", "value"] < THRESHOLDS.psi_warn
    assert bool(rows.loc["overall", "retraining_recommended"]) is False


def test_a_dead_webhook_never_fails_monitoring(store: FeatureStore, registry: ModelRegistry, tmp_path: Path) -> None:
    as_of = _drifted_store(store)
    url = closed_port_url()

    result = monitor(store, champion_info(registry), as_of, BatchSettings(), THRESHOLDS,
                     lambda text: post_alert(url, text, timeout_s=2))

    assert result.status == "alert" and result.alert_posted is False
    assert store.read(ALERTS, filters={"check_name": "overall"})["status"].tolist() == ["alert"]


def test_the_error_check_from_monitors_own_rows_equals_the_one_read_back_from_the_store(
    store: FeatureStore, registry: ModelRegistry
) -> None:
    """Monitor hands run_checks the leaf rows it has just stored instead of a read-back: both must
    give the same checks (and a window the rows do not cover is still read from the store)."""
    from energy_batch.forecast_errors import leaf_rows
    from energy_batch.health_checks import ScoredLeaves, run_checks
    from energy_core.schemas import MONITORING, PREDICTIONS, UTC_DTYPE

    window = store.read(ENERGY_CONSUMPTION, start=(AS_OF - pd.Timedelta(hours=30)).to_pydatetime(),
                        end=(AS_OF + pd.Timedelta(hours=1)).to_pydatetime())  # fmt: skip
    preds = window[["area", "consumer_type", "datetime_utc"]].copy()
    preds["hours_ahead"] = 1
    preds["forecast_made_at"] = (preds["datetime_utc"] - pd.Timedelta(hours=1)).astype(UTC_DTYPE)
    noise = np.random.default_rng(3).normal(1.0, 0.1, len(window))
    preds["prediction_kwh"] = window["energy_consumption_kwh"].to_numpy() * noise
    preds["prediction_q10_kwh"] = preds["prediction_kwh"] * 0.9
    preds["prediction_q90_kwh"] = preds["prediction_kwh"] * 1.1
    preds["model_name"] = pd.Series("m", index=preds.index, dtype="string")
    preds["model_version"] = 1
    preds["model_family"] = pd.Series("lightgbm", index=preds.index, dtype="string")
    store.insert(PREDICTIONS, preds[list(PREDICTIONS.columns)])
    champion = champion_info(registry)
    settings = BatchSettings()
    monitor(store, champion, AS_OF, settings, THRESHOLDS)

    start = AS_OF - pd.Timedelta(hours=settings.monitor_lookback_hours - 1)
    rows = leaf_rows(store.read(MONITORING, start=start.to_pydatetime()))
    assert len(rows) > 100  # enough known rows for the error check to grade
    cache: dict[tuple[str, int], pd.DataFrame] = {}
    read_back = run_checks(store, champion, AS_OF, settings, THRESHOLDS, cache)
    handed = run_checks(store, champion, AS_OF, settings, THRESHOLDS, cache, scored=ScoredLeaves(rows, start))
    assert handed == read_back
    errors = [c for c in handed if c.name == "error_ratio:wape"]
    assert errors and errors[0].value is not None
    too_short = ScoredLeaves(rows.iloc[:0], AS_OF)  # covers only the as-of hour: the store is read
    assert run_checks(store, champion, AS_OF, settings, THRESHOLDS, cache, scored=too_short) == read_back
