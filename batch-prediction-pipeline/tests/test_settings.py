"""BatchSettings: the forecast horizon is read once, when the settings are loaded."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from energy_batch.settings import BatchSettings
from energy_core.settings import load


def test_the_horizon_is_filled_at_load_and_not_re_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGY_HORIZON_HOURS", "6")
    settings = load(BatchSettings)
    monkeypatch.setenv("ENERGY_HORIZON_HOURS", "12")
    assert settings.horizon_hours == 6
    assert load(BatchSettings).horizon_hours == 12


def test_settings_are_frozen() -> None:
    settings = BatchSettings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.horizon_hours = 48  # type: ignore[misc]
