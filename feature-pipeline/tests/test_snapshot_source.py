"""The offline snapshot source: a broken file is named in the error, never a bare parser message."""

from __future__ import annotations

from pathlib import Path

import pytest

from energy_features.extract.snapshot import SnapshotConsumption
from energy_features.transform.columns import MissingColumnError
from energy_features.transform.consumption import consumption_from_de35
from energy_features.windows import Window

from .support import de35_records, utc

WINDOW = Window(utc("2023-01-01T00:00"), utc("2023-01-02T00:00"))


@pytest.mark.parametrize(
    "content", [b'{"records": [{"HourUTC": "2023-01-01T00:00:00",', b"\xff\xfe not utf-8"], ids=["truncated", "binary"]
)
def test_an_unreadable_json_snapshot_is_named_in_the_error(tmp_path: Path, content: bytes) -> None:
    broken = tmp_path / "consumption_de35_hour_broken.json"
    broken.write_bytes(content)
    with pytest.raises(ValueError, match=r"consumption_de35_hour_broken\.json: not a readable API answer"):
        SnapshotConsumption(tmp_path).fetch(WINDOW)


def test_a_missing_column_points_to_the_snapshot_sources_not_a_development_machine() -> None:
    with pytest.raises(MissingColumnError) as caught:
        consumption_from_de35(de35_records("2023-01-01T00:00", 1).drop(columns="PriceArea"))
    message = str(caught.value)
    assert "PriceArea" in message and "SOURCES.md in ENERGY_SNAPSHOT_DIR" in message
    assert "/work/" not in message
