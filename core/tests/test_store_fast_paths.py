"""The embedded store's fast paths give exactly what the slow paths gave.

- latest-version rows served from memory (`_cached_rows`): a revision, a new hour, a delete, a
  compaction or another process's write is seen by the next read, and every read equals a read
  from disk; a read pinned one version behind the latest is answered from memory too;
- the as-of join (pandas merge_asof over key codes) equals DuckDB's ASOF LEFT JOIN, the earlier
  implementation, kept here as the reference;
- a ValidatedBatch is inserted without running the schema again, and nothing else passes for one.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow
import pytest

from energy_core.feature_store import ValidatedBatch
from energy_core.feature_store import embedded as embedded_module
from energy_core.feature_store import relational as rel
from energy_core.feature_store.base import FeatureValidationError
from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import (
    CALENDAR,
    ENERGY_CONSUMPTION,
    ENERGY_FORECASTING_VIEW,
    UTC_DTYPE,
    WEATHER,
    FeatureGroupSpec,
    FeatureViewSpec,
    Join,
    feature_columns,
)

from .test_feature_store import T0, consumption


def disk_read(root: Path, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    """What a store without the in-memory rows reads (every file scanned from disk)."""
    with monkeypatch.context() as m:
        m.setattr(embedded_module, "_MEMORY_CACHE_MAX_BYTES", -1)
        return EmbeddedFeatureStore(root).read(ENERGY_CONSUMPTION)


def test_a_revision_of_an_hour_already_read_is_seen_by_the_next_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddedFeatureStore(tmp_path)
    store.insert(ENERGY_CONSUMPTION, consumption(6))
    assert len(store.read(ENERGY_CONSUMPTION)) == 24  # the rows are now held in memory

    revised = consumption(2, start=T0 + timedelta(hours=2), base=500.0)  # hours 2-3 change
    store.insert(ENERGY_CONSUMPTION, pd.concat([revised, consumption(1, start=T0 + timedelta(hours=6))]))
    after = store.read(ENERGY_CONSUMPTION)

    hour2 = after[after["datetime_utc"] == pd.Timestamp(T0 + timedelta(hours=2))]
    assert sorted(hour2["energy_consumption_kwh"]) == [500.0, 500.0, 501.0, 501.0]
    assert len(after) == 28
    pd.testing.assert_frame_equal(after, disk_read(tmp_path, monkeypatch))


def test_reads_equal_reads_from_disk_after_every_kind_of_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = EmbeddedFeatureStore(tmp_path)
    for h in range(30):  # hourly appends, past the compaction threshold
        store.insert(ENERGY_CONSUMPTION, consumption(1, start=T0 + timedelta(hours=h)))
        if h % 7 == 0:
            store.insert(ENERGY_CONSUMPTION, consumption(2, start=T0 + timedelta(hours=max(h - 1, 0)), base=7.0))
        pd.testing.assert_frame_equal(store.read(ENERGY_CONSUMPTION), disk_read(tmp_path, monkeypatch))
    store.delete(ENERGY_CONSUMPTION, T0 + timedelta(hours=3), T0 + timedelta(hours=5), {"area": "DK2"})
    pd.testing.assert_frame_equal(store.read(ENERGY_CONSUMPTION), disk_read(tmp_path, monkeypatch))
    store.compact(ENERGY_CONSUMPTION)
    window = {"start": T0 + timedelta(hours=4), "end": T0 + timedelta(hours=9), "filters": {"consumer_type": "112"}}
    pd.testing.assert_frame_equal(
        store.read(ENERGY_CONSUMPTION, **window),
        EmbeddedFeatureStore(tmp_path).read(ENERGY_CONSUMPTION, **window),
    )
    pd.testing.assert_frame_equal(store.read(ENERGY_CONSUMPTION), disk_read(tmp_path, monkeypatch))


def test_a_write_by_another_process_is_seen_and_only_new_files_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, writer = EmbeddedFeatureStore(tmp_path), EmbeddedFeatureStore(tmp_path)
    writer.insert(ENERGY_CONSUMPTION, consumption(4))
    assert len(reader.read(ENERGY_CONSUMPTION)) == 16

    writer.insert(ENERGY_CONSUMPTION, consumption(1, start=T0 + timedelta(hours=4)))  # one new file
    files_read: list[str] = []
    real_read_table = embedded_module.pq.read_table
    monkeypatch.setattr(embedded_module.pq, "read_table", lambda uri: files_read.append(uri) or real_read_table(uri))
    after = reader.read(ENERGY_CONSUMPTION)

    assert len(after) == 20
    assert len(files_read) == 1  # the four earlier hours came from memory
    assert reader.table_version(ENERGY_CONSUMPTION) == writer.table_version(ENERGY_CONSUMPTION)


def test_a_table_replaced_under_a_running_store_is_read_and_written_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddedFeatureStore(tmp_path / "live")
    other = EmbeddedFeatureStore(tmp_path / "other")
    for s_, base in ((store, 100.0), (other, 900.0)):  # same versions, different rows
        s_.insert(ENERGY_CONSUMPTION, consumption(2, base=base))
        s_.insert(ENERGY_CONSUMPTION, consumption(1, start=T0 + timedelta(hours=2), base=base))
    assert store.read(ENERGY_CONSUMPTION)["energy_consumption_kwh"].min() == 100.0  # held in memory now

    table = Path("tables") / ENERGY_CONSUMPTION.table_name
    shutil.rmtree(tmp_path / "live" / table)  # what a restore from another backup does
    shutil.copytree(tmp_path / "other" / table, tmp_path / "live" / table)
    assert store.read(ENERGY_CONSUMPTION)["energy_consumption_kwh"].min() == 900.0
    store.insert(ENERGY_CONSUMPTION, consumption(1, start=T0 + timedelta(hours=3), base=900.0))
    pd.testing.assert_frame_equal(store.read(ENERGY_CONSUMPTION), disk_read(tmp_path / "live", monkeypatch))
    assert len(store.read(ENERGY_CONSUMPTION)) == 16


def test_a_pinned_read_answered_from_memory_equals_a_read_from_disk(tmp_path: Path) -> None:
    store = EmbeddedFeatureStore(tmp_path)
    store.insert(ENERGY_CONSUMPTION, consumption(3))
    pinned = store.table_version(ENERGY_CONSUMPTION)
    args = {"start": T0 + timedelta(hours=1), "columns": ["area", "consumer_type"], "version": pinned}
    first = store.read(ENERGY_CONSUMPTION, **args)
    first.loc[:, "area"] = "changed by the caller"  # a caller's edit must not reach the next read
    store.insert(ENERGY_CONSUMPTION, consumption(3, base=5.0))  # a later version: the pinned one stays

    again = store.read(ENERGY_CONSUMPTION, **args)

    pd.testing.assert_frame_equal(again, EmbeddedFeatureStore(tmp_path).read(ENERGY_CONSUMPTION, **args))
    assert len(again) == 8 and set(again["area"]) == {"DK1", "DK2"}


# -- as-of join ----------------------------------------------------------------------------------


def duckdb_as_of_join(view: FeatureViewSpec, spine: pd.DataFrame, sources: dict[str, arrow.Table]) -> pd.DataFrame:
    """The earlier implementation of `rel.as_of_join`: DuckDB's ASOF LEFT JOIN (the reference)."""
    et = view.spine.event_time
    extra_types = {j.prefix + f: rel.dtype_name(j.group, f) for j in view.joins for f in feature_columns(j)}
    registered: dict[str, rel.Source | pd.DataFrame] = {"spine": spine}
    select, joins = ["spine.*"], []
    for i, join in enumerate(view.joins):
        alias = f"j{i}"
        select += [f"{alias}.{rel.q(f)} AS {rel.q(join.prefix + f)}" for f in feature_columns(join)]
        registered[alias] = sources[join.group.table_name]
        lag_s = int(join.lag / timedelta(seconds=1))
        conds = [f"spine.{rel.q(k)} = {alias}.{rel.q(k)}" for k in join.on]
        conds.append(f"spine.{rel.q(et)} - INTERVAL {lag_s} SECOND >= {alias}.{rel.q(join.group.event_time)}")
        joins.append(f"ASOF LEFT JOIN {alias} ON " + " AND ".join(conds))
    order = ", ".join(f"spine.{rel.q(k)}" for k in view.spine.key if k in spine.columns)
    with rel.connect(**registered) as con:
        table = con.sql(f"SELECT {', '.join(select)} FROM spine {' '.join(joins)} ORDER BY {order}").to_arrow_table()
    return rel.to_pandas(table, view.spine, extra_types)


READINGS = FeatureGroupSpec(
    name="test_readings",
    version=1,
    primary_key=("area", "consumer_type"),
    event_time="datetime_utc",
    description="test group joined on two keys, with nulls in its keys and values",
    columns={
        "datetime_utc": pa.Column(UTC_DTYPE, nullable=True),
        "area": pa.Column("string", nullable=True),
        "consumer_type": pa.Column("string", nullable=True),
        "reading": pa.Column("float64", nullable=True),
        "flag": pa.Column("bool", nullable=True),
        "count": pa.Column("int64", nullable=True),
    },
)


TICKS = FeatureGroupSpec(
    name="test_ticks",
    version=1,
    primary_key=(),
    event_time="datetime_utc",
    description="test group keyed by time alone (like the calendar), some times null",
    columns={"datetime_utc": pa.Column(UTC_DTYPE, nullable=True), "tick": pa.Column("float64")},
)


def random_readings(rng: np.random.Generator, n: int) -> arrow.Table:
    times = T0 + pd.to_timedelta(rng.integers(-48, 300, n), unit="h")
    frame = pd.DataFrame(
        {
            "datetime_utc": pd.Series(times, dtype=UTC_DTYPE),
            "area": pd.Series(rng.choice(["DK1", "DK2", "DE"], n), dtype="string"),
            "consumer_type": pd.Series(rng.choice(["111", "112"], n), dtype="string"),
            "reading": rng.normal(size=n),
            "flag": rng.random(n) < 0.5,
            "count": rng.integers(0, 9, n),
        }
    ).drop_duplicates(["area", "consumer_type", "datetime_utc"])  # one row per key and time, as stored
    table = arrow.Table.from_pandas(frame, schema=rel.arrow_schema(READINGS), preserve_index=False)
    nulls = {c: arrow.array(rng.random(len(frame)) < 0.05) for c in ("datetime_utc", "area", "reading", "flag")}
    columns = [
        arrow.compute.if_else(nulls[name], arrow.nulls(len(frame), table[name].type), table[name])
        if name in nulls
        else table[name]
        for name in table.column_names
    ]
    return arrow.Table.from_arrays(columns, schema=rel.arrow_schema(READINGS))


@pytest.mark.parametrize("seed", range(8))
def test_as_of_join_equals_duckdbs_asof_join(seed: int) -> None:
    rng = np.random.default_rng(seed)
    view = FeatureViewSpec(
        name="test_two_key_view",
        version=1,
        spine=ENERGY_CONSUMPTION,
        joins=(
            Join(READINGS, on=("area", "consumer_type"), lag=timedelta(hours=int(rng.integers(0, 30)))),
            Join(TICKS, on=(), lag=timedelta(hours=1), prefix="tick_"),  # on no key: time alone
        ),
        description="test view",
    )
    n = 400
    spine = pd.DataFrame(
        {
            "datetime_utc": pd.Series(T0 + pd.to_timedelta(rng.permutation(n) % 250, unit="h"), dtype=UTC_DTYPE),
            "area": pd.Series(rng.choice(["DK1", "DK2", "DE", "SE"], n), dtype="string"),
            "consumer_type": pd.Series(rng.choice(["111", "112", "113"], n), dtype="string"),
            "energy_consumption_kwh": rng.random(n),
        }
    )
    spine.loc[spine.sample(frac=0.05, random_state=seed).index, "area"] = pd.NA  # null keys match nothing
    spine = spine.drop_duplicates(["area", "consumer_type", "datetime_utc"])  # unique keys: a defined order
    tick_times = pd.Series(T0 + pd.to_timedelta(rng.choice(np.arange(-10, 260), 120, replace=False), unit="h"))
    ticks = arrow.table(
        {
            "datetime_utc": arrow.array(tick_times.astype(UTC_DTYPE), mask=rng.random(120) < 0.05),
            "tick": rng.random(120),
        },
        schema=rel.arrow_schema(TICKS),
    )
    sources = {READINGS.table_name: random_readings(rng, 600), TICKS.table_name: ticks}

    expected = duckdb_as_of_join(view, spine, sources)
    got = rel.as_of_join(view, spine, sources)

    pd.testing.assert_frame_equal(got, expected)


def test_as_of_join_of_the_forecasting_view_equals_duckdbs() -> None:
    rng = np.random.default_rng(0)
    days = pd.Series(pd.date_range(T0 - timedelta(days=3), periods=10, freq="D", tz="UTC")).astype(UTC_DTYPE)
    weather = pd.DataFrame({"datetime_utc": days, "area": "DK2", "station": "06180", "period_start_utc": days})
    weather["period_hours"] = 24
    for column in ("temperature_c", "temperature_min_c", "temperature_max_c", "precipitation_mm"):
        weather[column] = np.where(rng.random(10) < 0.2, np.nan, rng.normal(size=10))
    weather["wind_speed_kmh"] = weather["pressure_hpa"] = np.nan
    hours = pd.Series(pd.date_range(T0 + timedelta(hours=2), periods=24 * 8, freq="h", tz="UTC")).astype(UTC_DTYPE)
    hours = hours[rng.random(len(hours)) < 0.7].reset_index(drop=True)  # gaps; none before T0 + 2 h
    n = len(hours)
    calendar = pd.DataFrame({"datetime_utc": hours, "local_hour": hours.dt.hour, "local_weekday": hours.dt.weekday})
    calendar["local_month"], calendar["local_day_of_year"] = hours.dt.month, hours.dt.dayofyear
    calendar["is_weekend"], calendar["is_holiday"] = rng.random(n) < 0.3, rng.random(n) < 0.1
    calendar["is_holiday_like"] = rng.random(n) < 0.2
    calendar["holiday_name"] = np.where(calendar["is_holiday"], "a holiday", None)
    calendar["utc_offset_hours"] = 1
    sources = {
        group.table_name: arrow.Table.from_pandas(
            rel.normalise(frame[list(group.columns)], group), schema=rel.arrow_schema(group), preserve_index=False
        )
        for group, frame in ((WEATHER, weather), (CALENDAR, calendar))
    }
    spine = consumption(24 * 6)  # DK1 has no weather at all, DK2 daily rows with gaps

    got = rel.as_of_join(ENERGY_FORECASTING_VIEW, spine, sources)

    pd.testing.assert_frame_equal(got, duckdb_as_of_join(ENERGY_FORECASTING_VIEW, spine, sources))
    assert got["is_holiday"].isna().any() and got["weather_temperature_c"].notna().any()


# -- validate once -------------------------------------------------------------------------------


def test_a_validated_batch_is_not_validated_again_and_stores_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = rel.validated(ENERGY_CONSUMPTION, consumption(3))
    plain = EmbeddedFeatureStore(tmp_path / "plain")
    plain.insert(ENERGY_CONSUMPTION, consumption(3))

    calls: list[str] = []
    real = rel.validate_batch
    monkeypatch.setattr(rel, "validate_batch", lambda group, frame: calls.append(group.name) or real(group, frame))
    fast = EmbeddedFeatureStore(tmp_path / "fast")
    result = fast.insert(ENERGY_CONSUMPTION, batch)

    assert calls == []
    assert result.rows_inserted == 12
    pd.testing.assert_frame_equal(fast.read(ENERGY_CONSUMPTION), plain.read(ENERGY_CONSUMPTION))
    fast.insert(ENERGY_CONSUMPTION, consumption(1))  # a plain frame is still validated
    assert calls == [ENERGY_CONSUMPTION.name]


def test_nothing_else_passes_for_a_validated_batch(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"relational\.validated"):
        ValidatedBatch(ENERGY_CONSUMPTION, consumption(1), object())
    bad = consumption(1)
    bad.loc[0, "energy_consumption_kwh"] = -1.0
    with pytest.raises(FeatureValidationError):
        rel.validated(ENERGY_CONSUMPTION, bad)
    store = EmbeddedFeatureStore(tmp_path)
    with pytest.raises(ValueError, match="validated for feature group 'energy_consumption'"):
        store.insert(ENERGY_CONSUMPTION_COPY, rel.validated(ENERGY_CONSUMPTION, consumption(1)))
    assert not store.exists(ENERGY_CONSUMPTION_COPY)


ENERGY_CONSUMPTION_COPY = FeatureGroupSpec(
    name="test_consumption_copy",
    version=1,
    primary_key=ENERGY_CONSUMPTION.primary_key,
    event_time=ENERGY_CONSUMPTION.event_time,
    description="another group with the same columns",
    columns=dict(ENERGY_CONSUMPTION.columns),
)


def test_a_read_pinned_one_version_behind_comes_from_memory_and_equals_a_read_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hourly jobs read the versions their hour's ingest left while the next ingest (another
    process) may already have committed: that version is held in memory beside the latest. A much
    older pin (a training dataset's) is read from disk and does not displace the newest two."""
    reader, writer = EmbeddedFeatureStore(tmp_path), EmbeddedFeatureStore(tmp_path)
    writer.insert(ENERGY_CONSUMPTION, consumption(4))
    pinned = reader.table_version(ENERGY_CONSUMPTION)
    assert pinned is not None
    before = reader.read(ENERGY_CONSUMPTION, version=pinned, start=T0)  # still the latest: now in memory
    revision = consumption(1, start=T0 + timedelta(hours=2), base=500.0)
    writer.insert(ENERGY_CONSUMPTION, pd.concat([revision, consumption(1, start=T0 + timedelta(hours=4))]))
    assert reader.read(ENERGY_CONSUMPTION)["energy_consumption_kwh"].max() >= 500.0  # the latest has it

    opened: list[int | None] = []
    real_open = reader._open

    def counted_open(group: FeatureGroupSpec, version: int | None = None) -> object:
        opened.append(version)
        return real_open(group, version)

    monkeypatch.setattr(reader, "_open", counted_open)
    behind = reader.read(ENERGY_CONSUMPTION, version=pinned)

    assert opened == []  # no handle, no file: the version before the latest is held
    with monkeypatch.context() as m:
        m.setattr(embedded_module, "_MEMORY_CACHE_MAX_BYTES", -1)
        from_disk = EmbeddedFeatureStore(tmp_path).read(ENERGY_CONSUMPTION, version=pinned)
    pd.testing.assert_frame_equal(behind, from_disk)
    pd.testing.assert_frame_equal(behind[behind["datetime_utc"] >= pd.Timestamp(T0)].reset_index(drop=True),
                                  before.reset_index(drop=True))  # fmt: skip
    assert behind["energy_consumption_kwh"].max() < 500.0

    for h in (5, 6):  # two more versions: the pinned one is now older than both held
        writer.insert(ENERGY_CONSUMPTION, consumption(1, start=T0 + timedelta(hours=h)))
    latest = reader.table_version(ENERGY_CONSUMPTION)
    reader.read(ENERGY_CONSUMPTION)
    reader.read(ENERGY_CONSUMPTION, version=pinned, end=T0 + timedelta(hours=3))  # a new pinned read: from disk
    assert pinned in opened
    held = reader._version_rows[ENERGY_CONSUMPTION.table_name]
    assert sorted(v for v, _ in held) == [pinned + 1, latest]  # the two newest this reader has built


def test_changed_event_times_covers_every_row_that_differs_between_two_versions(tmp_path: Path) -> None:
    """`changed_event_times` from the data files two versions list: an append, a revision, a delete
    and a compaction each give a span holding every row that differs (checked against the rows of
    both versions), None when nothing differs; the interface's default answers everything."""
    from energy_core.feature_store.base import EVERY_EVENT_TIME, FeatureStore

    store = EmbeddedFeatureStore(tmp_path)
    store.insert(ENERGY_CONSUMPTION, consumption(6))
    versions = [store.table_version(ENERGY_CONSUMPTION)]

    def write(action: object) -> None:
        assert action is not None
        versions.append(store.table_version(ENERGY_CONSUMPTION))

    write(store.insert(ENERGY_CONSUMPTION, consumption(2, start=T0 + timedelta(hours=6))))  # append hours 6-7
    write(store.insert(ENERGY_CONSUMPTION, consumption(1, start=T0 + timedelta(hours=2), base=5.0)))  # revise 2
    write(store.delete(ENERGY_CONSUMPTION, T0 + timedelta(hours=4), T0 + timedelta(hours=5), {"area": "DK1"}))
    write(store.compact(ENERGY_CONSUMPTION))

    def differing_hours(a: int, b: int) -> set[pd.Timestamp]:
        rows = [store.read(ENERGY_CONSUMPTION, version=v) for v in (a, b)]
        both = rows[0].merge(rows[1], how="outer", indicator=True, on=list(rows[0].columns))
        return set(both.loc[both["_merge"] != "both", "datetime_utc"])

    assert store.changed_event_times(ENERGY_CONSUMPTION, versions[0], versions[0]) is None
    spans = {}
    for a in versions:
        for b in versions:
            span = store.changed_event_times(ENERGY_CONSUMPTION, a, b)
            differ = differing_hours(a, b)
            if span is None:
                assert not differ
            else:
                assert all(span[0] <= t <= span[1] for t in differ), (a, b, span, differ)
            spans[a, b] = span
    v0, append, revise, delete, compact = versions
    assert spans[v0, append] == (T0 + timedelta(hours=6), T0 + timedelta(hours=7))  # just the new file
    assert spans[append, revise] == (T0, T0 + timedelta(hours=5))  # the rewritten file's hours, not hours 6-7
    assert spans[revise, delete] is not None and spans[revise, delete][1] <= T0 + timedelta(hours=7)
    assert spans[delete, compact] == (T0, T0 + timedelta(hours=7))  # every file rewritten, no row changed
    assert FeatureStore.changed_event_times(store, ENERGY_CONSUMPTION, v0, append) == EVERY_EVENT_TIME
