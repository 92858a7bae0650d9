"""The console script's contract: one-line errors naming what is unavailable, nothing written; status."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pandas as pd
import pytest

from energy_batch.cli import main
from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import MONITORING, PREDICTIONS

from .batch_support import AS_OF
from .conftest import Stack

NEXT_DAY = AS_OF + pd.Timedelta(hours=24)


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%MZ")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_predict_monitor_then_status_json_reports_forecast_champion_wape_and_alerts(
    energy_env: Path, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", "--as-of", _iso(AS_OF)]) == 0
    assert main(["monitor", "--as-of", _iso(NEXT_DAY)]) == 0
    capsys.readouterr()

    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)

    assert status["latest_forecast_at"] == AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert status["champion_version"] == stack.champion_version
    assert status["champion_family"] == "seasonal_naive_24"
    assert status["monitored_hours"] == 24
    assert 0 < status["monitored_wape"] < 1
    assert status["alert_status"] in {"ok", "warn", "alert"}
    assert isinstance(status["retraining_recommended"], bool)


def test_predict_without_as_of_forecasts_from_the_newest_hour_in_the_store(
    energy_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict"]) == 0
    assert "as of 2023-01-25T23:00:00+00:00" in capsys.readouterr().out


def test_an_unreachable_registry_is_named_and_nothing_is_written(
    energy_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")

    code = main(["predict", "--as-of", _iso(AS_OF)])

    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert err[-1].startswith("batch-prediction-pipeline predict: error: model registry unavailable")
    assert not EmbeddedFeatureStore(energy_env / "feature_store").exists(PREDICTIONS)


def test_an_empty_feature_store_is_named_and_nothing_is_written(
    energy_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty_home = tmp_path / "empty_home"
    monkeypatch.setenv("ENERGY_HOME", str(empty_home))

    code = main(["monitor"])

    err = capsys.readouterr().err.strip()
    assert code != 0
    assert "error: feature store unavailable or refused: feature group 'energy_consumption'" in err
    assert not (empty_home / "feature_store" / "tables").exists()


def test_a_registry_without_champion_says_to_train_first(
    energy_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")

    code = main(["predict", "--as-of", _iso(AS_OF)])

    assert code != 0
    assert "no 'champion' model yet" in capsys.readouterr().err
    assert not EmbeddedFeatureStore(energy_env / "feature_store").exists(PREDICTIONS)


def test_status_with_nothing_forecast_yet_exits_non_zero(
    energy_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 3
    assert "latest forecast made at : none yet" in capsys.readouterr().out
    assert not EmbeddedFeatureStore(energy_env / "feature_store").exists(MONITORING)


def test_an_as_of_between_hours_is_refused(energy_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["predict", "--as-of", "2023-01-22T23:30Z"])
    assert "not a whole hour" in capsys.readouterr().err
