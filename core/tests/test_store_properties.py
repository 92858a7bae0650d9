"""Property test of the embedded feature store against a pandas model of the table.

Random sequences of append, revise (changed values for stored keys), delete a window, compact and
a read running in another thread during a write. After every step every unfiltered and filtered
read must equal the model: whatever operation wrote a file, reads must not depend on it (issue 11).
The number of examples is bounded so the test runs in CI in well under a minute on two cores.
"""

from __future__ import annotations

import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pandas as pd
from hypothesis import HealthCheck, given, settings

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import ENERGY_CONSUMPTION, UTC_DTYPE

T0 = datetime(2024, 1, 1, tzinfo=UTC)
AREAS = ("DK1", "DK2")
TYPES = ("111", "112")
HOURS = 12
KEY = list(ENERGY_CONSUMPTION.key)

Model = dict[tuple[str, str, datetime], float]

values = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
cells = st.tuples(st.sampled_from(AREAS), st.sampled_from(TYPES), st.integers(0, HOURS - 1))
append = st.tuples(st.just("append"), st.dictionaries(cells, values, min_size=1, max_size=12))
revise = st.tuples(st.just("revise"), st.lists(st.tuples(st.integers(0, 10_000), values), min_size=1, max_size=6))
delete = st.tuples(
    st.just("delete"),
    st.tuples(st.integers(0, HOURS), st.integers(1, 6), st.sampled_from([None, "DK1", "DK2"])),
)
compact = st.tuples(st.just("compact"), st.none())
concurrent = st.tuples(st.just("read_during_write"), st.dictionaries(cells, values, min_size=1, max_size=8))
operations = st.lists(st.one_of(append, revise, delete, compact, concurrent), min_size=1, max_size=8)


def frame(rows: Model) -> pd.DataFrame:
    """The model as the store returns it: declared dtypes, sorted by key."""
    out = pd.DataFrame(
        [
            {"datetime_utc": t, "area": a, "consumer_type": c, "energy_consumption_kwh": v}
            for (a, c, t), v in rows.items()
        ],
        columns=list(ENERGY_CONSUMPTION.columns),
    )
    out["datetime_utc"] = out["datetime_utc"].astype(UTC_DTYPE)
    for name in ("area", "consumer_type"):
        out[name] = out[name].astype("string")
    out["energy_consumption_kwh"] = out["energy_consumption_kwh"].astype("float64")
    return out.sort_values(KEY).reset_index(drop=True)


def batch(cells_values: dict[tuple[str, str, int], float]) -> Model:
    return {(a, c, T0 + timedelta(hours=h)): v for (a, c, h), v in cells_values.items()}


def assert_reads_match(store: EmbeddedFeatureStore, model: Model) -> None:
    expected = frame(model)
    if not store.exists(ENERGY_CONSUMPTION):
        assert not model
        return
    pd.testing.assert_frame_equal(store.read(ENERGY_CONSUMPTION), expected)
    for area in AREAS:
        got = store.read(ENERGY_CONSUMPTION, filters={"area": area})
        pd.testing.assert_frame_equal(got, expected[expected.area == area].reset_index(drop=True))
    start, end = T0 + timedelta(hours=3), T0 + timedelta(hours=8)
    got = store.read(ENERGY_CONSUMPTION, start=start, end=end, filters={"consumer_type": ["112"], "area": "DK2"})
    want = expected[
        (expected.datetime_utc >= start) & (expected.datetime_utc < end)
        & (expected.consumer_type == "112") & (expected.area == "DK2")
    ]
    pd.testing.assert_frame_equal(got, want.reset_index(drop=True))


def run_step(store: EmbeddedFeatureStore, model: Model, op: str, arg: Any) -> None:
    if op == "append":
        rows = batch(arg)
        store.insert(ENERGY_CONSUMPTION, frame(rows))
        model.update(rows)
    elif op == "revise":
        if not model:
            return
        keys = sorted(model)
        rows = {keys[i % len(keys)]: v for i, v in arg}
        store.insert(ENERGY_CONSUMPTION, frame(rows))
        model.update(rows)
    elif op == "delete":
        first, length, area = arg
        if not store.exists(ENERGY_CONSUMPTION):
            return
        start, end = T0 + timedelta(hours=first), T0 + timedelta(hours=first + length)
        filters = {"area": area} if area else None
        doomed = [k for k in model if start <= k[2] < end and (area is None or k[0] == area)]
        result = store.delete(ENERGY_CONSUMPTION, start, end, filters)
        assert result.rows_deleted == len(doomed)
        for k in doomed:
            del model[k]
    elif op == "compact":
        if store.exists(ENERGY_CONSUMPTION):
            store.compact(ENERGY_CONSUMPTION)
    elif op == "read_during_write":
        before = frame(model)
        rows = batch(arg)
        after_model = {**model, **rows}
        seen: list[pd.DataFrame] = []
        errors: list[BaseException] = []

        def reader() -> None:
            try:
                for _ in range(3):
                    if store.exists(ENERGY_CONSUMPTION):
                        seen.append(store.read(ENERGY_CONSUMPTION, filters={"area": list(AREAS)}))
            except BaseException as exc:  # re-raised in the test thread
                errors.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        store.insert(ENERGY_CONSUMPTION, frame(rows))
        thread.join()
        assert not errors, errors
        after = frame(after_model)
        for snapshot in seen:  # a concurrent read sees the table before or after, never a mix
            assert snapshot.equals(before) or snapshot.equals(after), snapshot
        model.clear()
        model.update(after_model)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_every_read_equals_the_model_after_every_step(ops: list[tuple[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedFeatureStore(Path(tmp))
        model: Model = {}
        for op, arg in ops:
            run_step(store, model, op, arg)
            assert_reads_match(store, model)
        # A fresh instance (another process, e.g. the API) reads the same rows.
        assert_reads_match(EmbeddedFeatureStore(Path(tmp)), model)
