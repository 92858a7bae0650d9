"""The app-api contract models: what the API serialises is what the dashboards parse back."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from energy_core.api_models import AlertStatus, Forecast


def test_utc_times_serialise_with_z_and_round_trip() -> None:
    body = {
        "area": "DK1",
        "consumer_type": "111",
        "consumer_type_label": "Households",
        "forecast_made_at": "2023-01-24T22:00:00Z",
        "model_name": None,
        "model_version": None,
        "latest_data_at": None,
        "history": [{"datetime_utc": "2023-01-24T22:00:00Z", "energy_consumption_kwh": 1.5}],
        "forecast": [],
    }
    forecast = Forecast.model_validate(body)
    assert forecast.forecast_made_at == datetime(2023, 1, 24, 22, tzinfo=UTC)
    dumped = forecast.model_dump_json()
    assert '"forecast_made_at":"2023-01-24T22:00:00Z"' in dumped
    assert Forecast.model_validate_json(dumped) == forecast


def test_unknown_alert_status_breaks_the_contract() -> None:
    with pytest.raises(ValidationError, match="status"):
        AlertStatus.model_validate(
            {"status": "panic", "retraining_recommended": False, "checked_at": None, "checks": []}
        )


def test_importing_the_contract_pulls_in_no_web_framework() -> None:
    code = "import sys, energy_core.api_models; print(any(m in sys.modules for m in ('fastapi', 'streamlit')))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
