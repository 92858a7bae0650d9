"""Consumption records into `energy_consumption`: datetime_utc, area, consumer_type, kWh.

`HourUTC`/`TimeUTC` is the truth for time; Danish local time (`HourDK`) is ignored here because it
repeats an hour in October and skips one in March. Exact duplicate records are dropped; two
different values for one key are left for validation to reject (it names both rows). Nothing is
filled in: a missing hour stays missing and shows up in the continuity report.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from energy_core.schemas import ENERGY_CONSUMPTION
from energy_features.extract.datasets import CONSUMER_CATEGORY, DE35
from energy_features.transform.columns import as_float, as_utc, require_columns

# ConsumptionConsumerCategoryHour reports five regions; each lies in exactly one price area.
REGION_AREAS: dict[str, str] = {
    "Hovedstaden": "DK2",
    "Sjælland": "DK2",
    "Nordjylland": "DK1",
    "Midtjylland": "DK1",
    "Syddanmark": "DK1",
}


def consumption_from_de35(records: pd.DataFrame) -> pd.DataFrame:
    """ConsumptionDE35Hour records (HourUTC, PriceArea, ConsumerType_DE35, TotalCon in kWh)."""
    require_columns(records, DE35.columns, DE35.name)
    frame = pd.DataFrame(
        {
            "datetime_utc": as_utc(records["HourUTC"]),
            "area": records["PriceArea"].astype("string"),
            "consumer_type": records["ConsumerType_DE35"].astype("string"),
            "energy_consumption_kwh": as_float(records["TotalCon"]),
        }
    )
    return _canonical(frame)


def consumer_type_from_category(category3: object, category2: object) -> str:
    """The consumer type for a ConsumptionConsumerCategoryHour record.

    The dataset's finest category (`ConsumerCategory3`, else `ConsumerCategory2`) prefixed `cc:`
    so it can never be mistaken for a DE35 code. The feature group accepts only DE35 codes today,
    so these rows are rejected by the `known_consumer_type` rule until core declares the
    category set (see the feature-pipeline README): deliberately not a silent loosening.
    """
    for value in (category3, category2):
        if isinstance(value, str) and value.strip():
            return f"cc:{value.strip()}"
    return "cc:unknown"


def consumption_from_consumer_category(records: pd.DataFrame) -> pd.DataFrame:
    """ConsumptionConsumerCategoryHour records, summed per (hour, price area, consumer category).

    A region outside REGION_AREAS keeps its own name as the area, so validation rejects it by name
    instead of it vanishing. A missing kWh in any summed record makes the sum missing (skipna=False).
    """
    require_columns(records, CONSUMER_CATEGORY.columns, CONSUMER_CATEGORY.name)
    # De-duplicate whole records before regions collapse into areas: two regions may report the
    # same value for the same hour and category, and both belong in the sum.
    records = records.drop_duplicates(subset=list(CONSUMER_CATEGORY.columns))
    region = records["RegionName"].astype("string")
    frame = pd.DataFrame(
        {
            "datetime_utc": as_utc(records["TimeUTC"]),
            "area": region.map(lambda r: REGION_AREAS.get(r, r) if isinstance(r, str) else r).astype("string"),
            "consumer_type": pd.Series(
                [
                    consumer_type_from_category(c3, c2)
                    for c3, c2 in zip(records["ConsumerCategory3"], records["ConsumerCategory2"], strict=True)
                ],
                dtype="string",
                index=records.index,
            ),
            "energy_consumption_kwh": as_float(records["ConsumptionkWh"]),
        }
    )
    if frame.empty or frame["energy_consumption_kwh"].dtype != "float64":
        return _canonical(frame)
    grouped = frame.groupby(["datetime_utc", "area", "consumer_type"], dropna=False, observed=True)[
        "energy_consumption_kwh"
    ]
    summed = grouped.sum()
    summed[grouped.count() < grouped.size()] = float("nan")  # any missing part makes the sum missing
    return _canonical(summed.reset_index())


TRANSFORMS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    DE35.name: consumption_from_de35,
    CONSUMER_CATEGORY.name: consumption_from_consumer_category,
}


def canonical_consumption(dataset: str, records: pd.DataFrame) -> pd.DataFrame:
    """Dispatch on the dataset the records came from."""
    return TRANSFORMS[dataset](records)


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    columns = list(ENERGY_CONSUMPTION.columns)
    frame = frame[columns].drop_duplicates()
    return frame.sort_values(list(ENERGY_CONSUMPTION.key), kind="stable").reset_index(drop=True)
