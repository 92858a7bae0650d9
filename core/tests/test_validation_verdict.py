"""The store validates with the declared schema's rules, in a cheaper form (`_checking_schema`).

Only the dtype check of `string` columns changes shape (one True instead of one flag per row when
every flag is True), so every batch must get the declared schema's verdict: the same frame when it
passes, the same failure cases when it does not. The checking schema is cached per group object.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa
import pytest

from energy_core.feature_store import relational as rel
from energy_core.feature_store.base import FeatureValidationError
from energy_core.schemas import (
    ALERTS,
    CALENDAR,
    ENERGY_CONSUMPTION,
    ENERGY_CONSUMPTION_TOTALS,
    MONITORING,
    MONITORING_HORIZON,
    MONITORING_HOURLY,
    PREDICTIONS,
    SERIES,
    WEATHER,
    FeatureGroupSpec,
)

from .test_feature_store import consumption

GROUPS = [
    ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, SERIES, WEATHER, CALENDAR, PREDICTIONS, MONITORING,
    MONITORING_HOURLY, MONITORING_HORIZON, ALERTS,
]  # fmt: skip


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_the_checking_schema_keeps_every_rule_of_the_declared_one(group: FeatureGroupSpec) -> None:
    declared, checking = group.schema, rel._checking_schema(group)
    assert (checking.unique, checking.strict, checking.coerce, checking.checks) == (
        declared.unique, declared.strict, declared.coerce, declared.checks,
    )  # fmt: skip
    assert list(checking.columns) == list(declared.columns)
    for name, column in declared.columns.items():
        other = checking.columns[name]
        assert str(other.dtype) == str(column.dtype)
        assert (other.checks, other.nullable, other.unique, other.required, other.coerce) == (
            column.checks, column.nullable, column.unique, column.required, column.coerce,
        )  # fmt: skip
    strings = [n for n, c in declared.columns.items() if str(c.dtype) == "string[python]"]
    assert all(isinstance(checking.columns[n].dtype, rel._StringVerdict) for n in strings)


def _verdict(schema: pa.DataFrameSchema, batch: pd.DataFrame) -> pd.DataFrame:
    """The validated frame, or the failure cases (as comparable records) when validation fails."""
    try:
        return schema.validate(batch, lazy=True)
    except pa_errors.SchemaErrors as exc:
        cases = exc.failure_cases.astype(str)
        return cases.sort_values(list(cases.columns)).reset_index(drop=True)


def _object_with(frame: pd.DataFrame, column: str, position: int, value: object) -> pd.DataFrame:
    out = frame.copy()
    values = out[column].astype(object)
    values.iloc[position] = value
    out[column] = values
    return out


BAD_BATCHES = {
    "passes": lambda f: f,
    "strings as plain objects": lambda f: f.astype({"area": object, "consumer_type": object}),
    "a number in a string column": lambda f: _object_with(f, "area", 1, 7),
    "a null in a string key": lambda f: _object_with(f, "consumer_type", 2, None),
    "a key off its pattern": lambda f: f.assign(area=f["area"].where(f.index != 3, "DK 1!")),
    "a duplicate key": lambda f: pd.concat([f, f.head(1)], ignore_index=True),
    "a negative reading": lambda f: f.assign(energy_consumption_kwh=-f["energy_consumption_kwh"]),
}


@pytest.mark.parametrize("case", list(BAD_BATCHES))
def test_every_batch_gets_the_declared_schemas_verdict(case: str) -> None:
    batch = rel.normalise(BAD_BATCHES[case](consumption(3)), ENERGY_CONSUMPTION)
    declared = _verdict(ENERGY_CONSUMPTION.schema, batch)
    cheaper = _verdict(rel._checking_schema(ENERGY_CONSUMPTION), batch)
    pd.testing.assert_frame_equal(cheaper, declared, check_exact=True)
    if case == "passes" or case == "strings as plain objects":
        pd.testing.assert_frame_equal(rel.validate_batch(ENERGY_CONSUMPTION, batch), declared)
    else:
        with pytest.raises(FeatureValidationError):
            rel.validate_batch(ENERGY_CONSUMPTION, batch)


def test_the_checking_schema_is_built_once_per_group_and_follows_a_changed_group() -> None:
    assert rel._checking_schema(SERIES) is rel._checking_schema(SERIES)
    strict_level = dict(SERIES.columns, level=pa.Column("string", pa.Check.isin(["leaf"])))
    changed = dataclasses.replace(SERIES, columns=strict_level)
    checking = rel._checking_schema(changed)
    assert checking is not rel._checking_schema(SERIES)
    assert checking.columns["level"].checks == changed.schema.columns["level"].checks
    assert isinstance(checking.columns["level"].dtype, rel._StringVerdict)
