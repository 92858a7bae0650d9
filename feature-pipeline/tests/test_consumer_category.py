"""ConsumptionConsumerCategoryHour, the current Energi Data Service dataset, end to end.

The format fixture is the 30 real records in ENERGY_SNAPSHOT_DIR
(`eds_consumption_consumer_category_hour_sample_2025-12-31.csv`, SOURCES.md section 3: 2 hours x 5
regions x 3 categories), turned into API records exactly as the REST API sends them (strings, kWh
as a JSON float). The live API is mocked by a real HTTP server on 127.0.0.1 serving those records
in the recorded answer format (`{"total", "dataset", "records"}`, offset/limit paging, one 429 with
Retry-After mid-way). Anything synthetic is named so where it is built.
"""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from energy_core.feature_store import FeatureValidationError
from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import CALENDAR, ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, SERIES, WEATHER
from energy_features import pipeline
from energy_features.extract.datasets import CONSUMER_CATEGORY
from energy_features.extract.eds import EdsConsumption
from energy_features.extract.eds_client import EdsClient
from energy_features.transform.columns import MissingColumnError
from energy_features.transform.consumption import consumption_from_consumer_category

from .conftest import ContextFactory
from .support import FrameSource, RecordedEds, utc

AS_OF = utc("2025-12-31T22:00")  # the sample's last hour
REGIONS = {"Region Hovedstaden", "Region Midtjylland", "Region Nordjylland", "Region Sjælland", "Region Syddanmark"}
# Synthetic, clearly not real data: a consumer category the real dataset does not have.
SYNTHETIC_CATEGORY = "Synthetic test category (not real data)"


@pytest.fixture
def sample(consumer_category_sample: pd.DataFrame) -> pd.DataFrame:
    return consumer_category_sample


def _source(records: pd.DataFrame) -> FrameSource:
    return FrameSource(records, dataset=CONSUMER_CATEGORY)


def _assert_totals_are_sums_of_their_leaves(store: EmbeddedFeatureStore) -> None:
    leaves = store.read(ENERGY_CONSUMPTION)
    totals = store.read(ENERGY_CONSUMPTION_TOTALS)
    area_country = {"DK1": "DK", "DK2": "DK"}
    for row in totals.itertuples(index=False):
        hour = leaves[leaves["datetime_utc"] == row.datetime_utc]
        members = hour if row.area == "DK" else hour[hour["area"] == row.area]
        assert row.area in area_country or row.area == "DK"
        assert len(members) == row.leaf_count
        assert row.energy_consumption_kwh == pytest.approx(members["energy_consumption_kwh"].sum(), rel=1e-6)


def test_the_real_sample_ingests_into_15_leaves_2_area_totals_and_1_country_total_per_hour(
    sample: pd.DataFrame, make_context: ContextFactory, store: EmbeddedFeatureStore
) -> None:
    pipeline.run(AS_OF, make_context(_source(sample)))
    leaves = store.read(ENERGY_CONSUMPTION)
    totals = store.read(ENERGY_CONSUMPTION_TOTALS)
    assert len(leaves) == 30 and leaves.groupby(["area", "consumer_type"]).ngroups == 15
    assert leaves.groupby("datetime_utc").size().tolist() == [15, 15]
    assert sorted(totals[totals["datetime_utc"] == AS_OF]["area"]) == ["DK", "DK1", "DK2"]
    assert set(totals["consumer_type"]) == {"total"} and len(totals) == 2 * 3
    assert dict(zip(totals["area"], totals["leaf_count"], strict=False)) == {"DK": 15, "DK1": 9, "DK2": 6}
    _assert_totals_are_sums_of_their_leaves(store)


def test_region_names_categories_and_float_values_arrive_unchanged(
    sample: pd.DataFrame, make_context: ContextFactory, store: EmbeddedFeatureStore
) -> None:
    pipeline.run(AS_OF, make_context(_source(sample)))
    catalogue = store.read(SERIES)
    leaves_catalogue = catalogue[catalogue["level"] == "leaf"]
    attributes = [json.loads(a) for a in leaves_catalogue["attributes"]]
    assert {a["RegionName"] for a in attributes} == REGIONS  # UTF-8 `Sjælland`, prefix kept
    assert {(a["ConsumerCategory2"], a["ConsumerCategory3"]) for a in attributes} == {
        ("Erhverv", "Erhverv"), ("Erhverv", "Offentlige foretagender"), ("Privat", "Privat")
    }  # fmt: skip
    by_key = leaves_catalogue.set_index("consumer_type")
    assert by_key.loc["sjaelland.offentlige-foretagender", "label"] == "Region Sjælland · Offentlige foretagender"
    assert by_key.loc["sjaelland.offentlige-foretagender", "parent_id"] == "DK2|total"
    assert by_key.loc["syddanmark.erhverv", "parent_id"] == "DK1|total"

    stored = store.read(ENERGY_CONSUMPTION)
    assert stored["energy_consumption_kwh"].dtype == "float64"
    keys = leaves_catalogue["consumer_type"]
    ids = {json.dumps(a, sort_keys=True): ct for a, ct in zip(attributes, keys, strict=True)}
    for record in sample.to_dict("records"):
        names = {k: record[k] for k in ("RegionName", "ConsumerCategory2", "ConsumerCategory3")}
        consumer_type = ids[json.dumps(names, sort_keys=True)]
        value = stored.loc[
            (stored["consumer_type"] == consumer_type)
            & (stored["datetime_utc"] == pd.Timestamp(record["TimeUTC"], tz="UTC")),
            "energy_consumption_kwh",
        ]
        assert value.tolist() == [record["ConsumptionkWh"]]  # exact: 3 decimals survive as float64


def test_mis_decoded_region_names_are_repaired_to_one_key_and_logged(
    sample: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    """Mojibake forms seen in other exports (SOURCES.md section 3), put into real records here."""
    records = sample.copy()
    sjaelland = records.index[records["RegionName"] == "Region Sjælland"]
    records.loc[sjaelland[:2], "RegionName"] = "Region SjÃ¦lland"  # UTF-8 read as cp1252
    records.loc[sjaelland[2:4], "RegionName"] = "Region Sj\ufffdlland"  # undecodable byte replaced
    with caplog.at_level(logging.WARNING):
        batch = consumption_from_consumer_category(records)
    assert batch.leaves.groupby(["area", "consumer_type"]).ngroups == 15
    assert {c for c in batch.leaves["consumer_type"] if c.startswith("sj")} == {
        "sjaelland.erhverv", "sjaelland.offentlige-foretagender", "sjaelland.privat"
    }  # fmt: skip
    assert {s.attributes["RegionName"] for s in batch.series} == REGIONS
    assert "repaired 4 mis-decoded RegionName" in caplog.text
    assert "'Region SjÃ¦lland' -> 'Region Sjælland'" in caplog.text


def _rejected(
    records: pd.DataFrame, make_context: ContextFactory, store: EmbeddedFeatureStore
) -> FeatureValidationError:
    with pytest.raises(FeatureValidationError) as caught:
        pipeline.run(AS_OF, make_context(_source(records)))
    for group in (ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, SERIES, WEATHER, CALENDAR):
        assert not store.exists(group), f"{group.name} was written despite the rejected batch"
    return caught.value


def test_a_region_without_a_known_price_area_is_rejected_naming_the_record(
    sample: pd.DataFrame, make_context: ContextFactory, store: EmbeddedFeatureStore
) -> None:
    records = sample.copy()
    records.loc[4, "RegionName"] = "Region Atlantis"  # synthetic: no such Danish region
    error = _rejected(records, make_context, store)
    assert error.failures[["rule", "row", "value"]].values.tolist() == [["known_region", "record 4", "Region Atlantis"]]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ("negative", "non_negative_consumption"),
        ("duplicate", "uniqueness"),
        ("long_category", "consumer_type_key_pattern"),
        ("text_kwh", "dtype"),
    ],
)
def test_bad_input_is_rejected_by_a_named_rule_and_nothing_is_written(
    change: str, rule: str, sample: pd.DataFrame, make_context: ContextFactory, store: EmbeddedFeatureStore
) -> None:
    records = sample.copy()
    if change == "negative":
        records.loc[3, "ConsumptionkWh"] = -1.5
    elif change == "duplicate":
        records = pd.concat([records, records.iloc[[0]].assign(ConsumptionkWh=1.0)], ignore_index=True)
    elif change == "long_category":
        records.loc[3, "ConsumerCategory3"] = "x" * 70  # key longer than the 64 characters allowed
    else:
        records = records.astype({"ConsumptionkWh": object})
        records.loc[3, "ConsumptionkWh"] = "541027,873"  # decimal comma, as some exports write it
    assert rule in str(_rejected(records, make_context, store))


def test_a_missing_column_is_named_and_nothing_is_written(
    sample: pd.DataFrame, make_context: ContextFactory, store: EmbeddedFeatureStore
) -> None:
    with pytest.raises(MissingColumnError, match=r"ConsumptionkWh.*required_columns"):
        pipeline.run(AS_OF, make_context(_source(sample.drop(columns="ConsumptionkWh"))))
    assert not any(store.exists(g) for g in (ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, SERIES, CALENDAR))


# --- the stand-in server ------------------------------------------------------------------------


def _synthetic_record() -> dict[str, object]:
    """Synthetic (not real data): a category only in the last hour, so it arrives on the second page."""
    return {"TimeUTC": "2025-12-31T22:00:00", "TimeDK": "2025-12-31T23:00:00",
            "RegionName": "Region Hovedstaden", "ConsumerCategory2": "Erhverv",
            "ConsumerCategory3": SYNTHETIC_CATEGORY, "ConsumptionkWh": 1234.5}  # fmt: skip


def test_paged_answers_with_a_429_midway_ingest_and_a_new_category_is_admitted_with_a_warning(
    sample: pd.DataFrame,
    serve: list[RecordedEds],
    make_context: ContextFactory,
    store: EmbeddedFeatureStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Mocked internet: the stand-in server above. The client's sleep is injected (Retry-After: 1)."""
    url = serve[0].url
    slept: list[float] = []
    client = EdsClient(base_url=url, page_size=16, sleep=slept.append, jitter=lambda: 1.0)
    source = EdsConsumption(client, CONSUMER_CATEGORY)

    serve.append(RecordedEds(sample.to_dict("records"), throttle_at={2}, url=url))
    first = pipeline.run(AS_OF, make_context(source))
    assert [q["offset"][0] for q in serve[-1].requests] == ["0", "16", "16"] and slept == [1.0]
    assert len(first.new_series) == 18 and first.rows_inserted(ENERGY_CONSUMPTION) == 30

    serve.append(RecordedEds([*sample.to_dict("records"), _synthetic_record()], throttle_at={2}, url=url))
    with caplog.at_level(logging.WARNING):
        second = pipeline.run(AS_OF, make_context(source))
    new_id = "DK2|hovedstaden.synthetic-test-category-not-real-data"
    assert second.new_series == [new_id]
    assert "never seen before" in caplog.text and new_id in caplog.text
    catalogue = store.read(SERIES).set_index(["area", "consumer_type"])
    entry = catalogue.loc[("DK2", "hovedstaden.synthetic-test-category-not-real-data")]
    assert entry["parent_id"] == "DK2|total" and entry["first_seen_utc"] == pd.Timestamp(AS_OF)
    assert len(catalogue) == 19 and len(store.read(ENERGY_CONSUMPTION)) == 31
    totals = store.read(ENERGY_CONSUMPTION_TOTALS)
    dk2 = totals[totals["area"] == "DK2"].set_index("datetime_utc")["leaf_count"]
    assert dk2.to_dict() == {pd.Timestamp("2025-12-31T21:00Z"): 6, pd.Timestamp(AS_OF): 7}
    _assert_totals_are_sums_of_their_leaves(store)
