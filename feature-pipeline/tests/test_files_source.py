"""ENERGY_SOURCE=files: the user's own series through a YAML mapping, into the unchanged pipeline.

Every CSV here is generated in the test: a clearly synthetic load (a smooth daily and weekly profile
plus seeded noise) written with Europe/Copenhagen wall-clock times, so the spring DST gap and the
repeated autumn hour appear exactly as in a utility's export. Nothing is mocked: the store is the
real embedded one on a temporary disk.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import ENERGY_CONSUMPTION, SERIES
from energy_core.settings import DataSourceSettings, SettingsError, load
from energy_features import pipeline
from energy_features.extract import open_sources
from energy_features.extract.files import FilesConsumption, FilesMappingError, NoWeather
from energy_features.transform.files import FileSeriesError
from energy_features.windows import Window

from .conftest import ContextFactory

ZONE = "Europe/Copenhagen"


def synthetic_load(start_utc: str, hours: int, seed: int = 7) -> pd.DataFrame:
    """A synthetic hourly load in MWh (not real data): daily + weekly shape plus noise, local times."""
    utc = pd.date_range(start_utc, periods=hours, freq="h", tz="UTC")
    local = utc.tz_convert(ZONE)
    daily = 1.0 + 0.25 * np.sin((local.hour - 6) / 24 * 2 * np.pi)
    weekly = np.where(local.weekday >= 5, 0.85, 1.0)
    noise = np.random.default_rng(seed).normal(0.0, 0.01, hours)
    return pd.DataFrame(
        {
            "timestamp": local.strftime("%Y-%m-%d %H:%M"),
            "load_mw": np.round(500 * daily * weekly * (1 + noise), 3),
            "note": "synthetic",
        }
    )


def write_mapping(folder: Path, body: str) -> Path:
    path = folder / "mapping.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


MAPPING = """\
series:
  - name: my-utility
    path: data/load_*.csv
    format: csv
    time: {column: timestamp, zone: Europe/Copenhagen, format: "%Y-%m-%d %H:%M", ambiguous: infer}
    value: {column: load_mw, unit: MWh}
    key: {area: {constant: UTIL1}, consumer_type: {constant: all-load}}
    country: XX
    label: "My utility, all consumers"
"""


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    (folder / "data").mkdir(parents=True)
    return folder


def source_for(folder: Path, frame: pd.DataFrame, mapping: str = MAPPING) -> FilesConsumption:
    frame.to_csv(folder / "data" / "load_2023.csv", index=False)
    return FilesConsumption.from_yaml(write_mapping(folder, mapping))


def everything() -> Window:
    return Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def test_a_local_time_year_with_both_dst_days_becomes_every_utc_hour_once(files_dir: Path) -> None:
    raw = synthetic_load("2022-12-31T23:00Z", 8760)  # local 2023-01-01 00:00 ... 2023-12-31 23:00
    assert (raw["timestamp"] == "2023-10-29 02:00").sum() == 2
    assert (raw["timestamp"] == "2023-03-26 02:00").sum() == 0
    records = source_for(files_dir, raw).fetch(everything())
    expected = pd.date_range("2022-12-31T23:00Z", periods=8760, freq="h", tz="UTC")
    assert list(records["datetime_utc"]) == list(expected)
    assert records["energy_consumption_kwh"].to_numpy() == pytest.approx(raw["load_mw"].to_numpy() * 1000)
    repeated = records[records["datetime_utc"].isin(pd.to_datetime(["2023-10-29T00:00Z", "2023-10-29T01:00Z"]))]
    assert repeated["energy_consumption_kwh"].tolist() == pytest.approx(
        (raw.loc[raw["timestamp"] == "2023-10-29 02:00", "load_mw"] * 1000).tolist()
    )
    assert set(records["source_dataset"]) == {"files:my-utility"}


def test_backfill_from_files_writes_the_series_and_its_catalogue_entry(
    files_dir: Path, make_context: ContextFactory, store: EmbeddedFeatureStore
) -> None:
    source = source_for(files_dir, synthetic_load("2023-03-20T00:00Z", 24 * 14))
    ctx = make_context(source)
    start, end = datetime(2023, 3, 20, tzinfo=UTC), datetime(2023, 4, 3, tzinfo=UTC)
    pipeline.backfill(start, end, ctx)
    stored = store.read(ENERGY_CONSUMPTION)
    assert len(stored) == 24 * 14
    assert set(zip(stored["area"], stored["consumer_type"], strict=True)) == {("UTIL1", "all-load")}
    catalogue = store.read(SERIES)
    entry = catalogue.set_index(["area", "consumer_type"]).loc[("UTIL1", "all-load")]
    assert entry["label"] == "My utility, all consumers"
    assert entry["source_dataset"] == "files:my-utility"
    assert entry["unit"] == "kWh"
    versions = {spec.name: store.table_version(spec) for spec in (ENERGY_CONSUMPTION, SERIES)}
    pipeline.backfill(start, end, ctx)
    assert {spec.name: store.table_version(spec) for spec in (ENERGY_CONSUMPTION, SERIES)} == versions


@pytest.mark.parametrize(
    ("mutate", "rule", "where"),
    [
        (lambda f: f.assign(area=f["area"].mask(f.index == 40, "bad key!")), "area_key_pattern", "load_2023.csv:42"),
        (lambda f: f.assign(load_mw=f["load_mw"].astype(str).mask(f.index == 5, "n/a")), "numeric_value",
         "load_2023.csv:7 ('n/a')"),
        (lambda f: f.drop(columns="load_mw"), "missing_column", "load_mw"),
    ],
    ids=["key_breaks_the_pattern", "float_column_arrives_as_text", "missing_column"],
)  # fmt: skip
def test_bad_input_is_rejected_by_a_named_rule_and_nothing_is_written(
    files_dir: Path, make_context: ContextFactory, store: EmbeddedFeatureStore, mutate: object, rule: str, where: str
) -> None:
    mapping = MAPPING.replace("{area: {constant: UTIL1}", "{area: {column: area}")
    frame = synthetic_load("2023-03-20T00:00Z", 24 * 10).assign(area="UTIL1")
    source = source_for(files_dir, mutate(frame), mapping)  # type: ignore[operator]
    with pytest.raises(FileSeriesError) as caught:
        pipeline.backfill(datetime(2023, 3, 20, tzinfo=UTC), datetime(2023, 3, 30, tzinfo=UTC), make_context(source))
    assert rule in caught.value.rule
    assert where in str(caught.value)
    assert not store.exists(ENERGY_CONSUMPTION)
    assert not store.exists(SERIES)


def test_a_wall_time_in_the_spring_gap_is_an_error_naming_its_line(files_dir: Path) -> None:
    raw = synthetic_load("2023-03-25T00:00Z", 48)
    raw.loc[len(raw)] = {"timestamp": "2023-03-26 02:00", "load_mw": 1.0, "note": "synthetic"}
    with pytest.raises(FileSeriesError) as caught:
        source_for(files_dir, raw).fetch(everything())
    assert caught.value.rule == "nonexistent_local_time"
    assert caught.value.rows == [f"load_2023.csv:{len(raw) + 1} (Timestamp('2023-03-26 02:00:00'))"]


def test_a_repeated_autumn_hour_given_once_cannot_be_placed(files_dir: Path) -> None:
    raw = synthetic_load("2023-10-28T00:00Z", 48)
    first = raw.index[raw["timestamp"] == "2023-10-29 02:00"][0]
    with pytest.raises(FileSeriesError) as caught:
        source_for(files_dir, raw.drop(index=first)).fetch(everything())
    assert caught.value.rule == "ambiguous_local_time"


def test_an_offset_column_places_the_repeated_hour_whatever_the_row_order(files_dir: Path) -> None:
    raw = synthetic_load("2023-10-28T22:00Z", 6)
    offsets = pd.date_range("2023-10-28T22:00Z", periods=6, freq="h", tz="UTC").tz_convert(ZONE).strftime("%z")
    raw = raw.assign(offset=offsets).iloc[::-1]  # newest first: order alone could not tell the 02:00s apart
    mapping = MAPPING.replace("ambiguous: infer}", "offset_column: offset}")
    records = source_for(files_dir, raw, mapping).fetch(everything())
    assert list(records["datetime_utc"]) == list(pd.date_range("2023-10-28T22:00Z", periods=6, freq="h", tz="UTC"))


def test_quarter_hour_power_is_averaged_into_complete_hours_only(files_dir: Path) -> None:
    times = pd.date_range("2023-06-01 00:00", periods=4 * 3 - 1, freq="15min")  # the last hour lacks 00:45
    raw = pd.DataFrame({"t": times.strftime("%Y-%m-%dT%H:%M"), "mw": np.arange(len(times), dtype=float)})
    mapping = """\
    series:
      - name: quarter-hours
        path: data/*.csv
        format: csv
        time: {column: t, zone: UTC}
        value: {column: mw, unit: MW}
        key: {area: {constant: TSO}, consumer_type: {constant: grid-load}}
        country: XX
        resample: {rule: mean, minutes: 15}
    """
    records = source_for(files_dir, raw, mapping).fetch(everything())
    assert list(records["energy_consumption_kwh"]) == [1.5 * 1000, 5.5 * 1000]  # MW mean over the hour = MWh


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (("zone: Europe/Copenhagen", "zone: Europe/Kopenhagen"), "series[0].time.zone: Value error, unknown time zone"),
        (("unit: MWh", "unit: MWh, scale: 2"), "series[0].value.scale: Extra inputs are not permitted"),
        (("constant: all-load", "constant: total"), "reserved for computed parent totals"),
        (("unit: MWh}", "unit: MWh}\n    resample: {rule: mean, minutes: 15}"), "must be `sum` for energy"),
    ],
    ids=["unknown_zone", "unknown_field", "reserved_total", "mean_of_energy"],
)
def test_a_bad_mapping_names_the_yaml_field(files_dir: Path, replace: tuple[str, str], expected: str) -> None:
    path = write_mapping(files_dir, MAPPING.replace(*replace))
    with pytest.raises(FilesMappingError, match="invalid files mapping") as caught:
        FilesConsumption.from_yaml(path)
    assert expected in str(caught.value)


def test_a_glob_matching_no_file_is_an_error_naming_it(files_dir: Path) -> None:
    source = FilesConsumption.from_yaml(write_mapping(files_dir, MAPPING))
    with pytest.raises(FileSeriesError, match=r"rule no_files: path 'data/load_\*.csv' matches no file"):
        source.fetch(everything())


def test_settings_pick_the_files_source_and_require_its_mapping(
    files_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENERGY_SOURCE", "files")
    monkeypatch.delenv("ENERGY_FILES_MAPPING", raising=False)
    with pytest.raises(SettingsError, match="ENERGY_FILES_MAPPING"):
        load(DataSourceSettings)
    monkeypatch.setenv("ENERGY_FILES_MAPPING", str(write_mapping(files_dir, MAPPING)))
    sources = open_sources(load(DataSourceSettings))
    assert isinstance(sources.consumption, FilesConsumption)
    assert isinstance(sources.weather, NoWeather)


PARQUET_MAPPING = """\
series:
  - name: tso-export
    path: data/*.parquet
    format: parquet
    time: {column: start_utc, zone: UTC}
    value: {column: load, unit: GWh}
    key: {area: {column: zone}, consumer_type: {constant: grid-load}}
    country: XX
    label: "{area} grid load"
"""


def test_parquet_with_aware_times_and_a_key_column_gives_one_series_per_key(files_dir: Path) -> None:
    hours = pd.date_range("2023-01-01T00:00Z", periods=3, freq="h", tz="UTC")
    frame = pd.DataFrame({"start_utc": list(hours) * 2, "zone": ["N1"] * 3 + ["S1"] * 3, "load": np.arange(6.0)})
    frame.to_parquet(files_dir / "data" / "export.parquet")
    source = FilesConsumption.from_yaml(write_mapping(files_dir, PARQUET_MAPPING))
    records = source.fetch(everything())
    assert records.groupby("area")["energy_consumption_kwh"].sum().to_dict() == {"N1": 3e6, "S1": 12e6}
    assert set(records["label"]) == {"N1 grid load", "S1 grid load"}


def test_a_parquet_value_column_stored_as_text_is_refused(files_dir: Path) -> None:
    hours = pd.date_range("2023-01-01T00:00Z", periods=3, freq="h", tz="UTC")
    pd.DataFrame({"start_utc": hours, "zone": "N1", "load": ["1.0", "2.0", "3.0"]}).to_parquet(
        files_dir / "data" / "export.parquet"
    )
    with pytest.raises(FileSeriesError, match="rule numeric_value: column 'load' is stored as text"):
        FilesConsumption.from_yaml(write_mapping(files_dir, PARQUET_MAPPING)).fetch(everything())


def test_the_cli_exits_1_naming_the_rule_and_writes_nothing(
    files_dir: Path, home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from energy_features import cli

    raw = synthetic_load("2023-03-20T00:00Z", 48)
    raw["load_mw"] = raw["load_mw"].astype(str).mask(raw.index == 3, "1,5")
    raw.to_csv(files_dir / "data" / "load_2023.csv", index=False)
    monkeypatch.setenv("ENERGY_SOURCE", "files")
    monkeypatch.setenv("ENERGY_FILES_MAPPING", str(write_mapping(files_dir, MAPPING)))
    code = cli.main(["backfill", "--start", "2023-03-20T00:00Z", "--end", "2023-03-22T00:00Z", "--no-progress"])
    assert code == 1
    assert "rule numeric_value" in caplog.text and "load_2023.csv:5 ('1,5')" in caplog.text
    assert not (home / "feature_store").exists() or not EmbeddedFeatureStore(home / "feature_store").exists(
        ENERGY_CONSUMPTION
    )
