"""The two Energi Data Service consumption datasets the pipeline understands, by their record format.

`ConsumptionDE35Hour` (discontinued mid-2023) is what the offline snapshot holds and what the
feature groups' consumer types (DE35 codes) come from. `ConsumptionConsumerCategoryHour` is the
current dataset; it is keyed by region and consumer category instead (see
`transform/consumption.py` for how it maps onto areas and consumer types).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ConsumptionDataset:
    """One dataset: its API name, the UTC time column and the columns every record must carry."""

    name: str
    time_column: str
    columns: tuple[str, ...]

    def empty_records(self) -> pd.DataFrame:
        return pd.DataFrame({column: pd.Series(dtype="object") for column in self.columns})


DE35 = ConsumptionDataset(
    name="ConsumptionDE35Hour",
    time_column="HourUTC",
    columns=("HourUTC", "HourDK", "PriceArea", "ConsumerType_DE35", "TotalCon"),
)

CONSUMER_CATEGORY = ConsumptionDataset(
    name="ConsumptionConsumerCategoryHour",
    time_column="TimeUTC",
    columns=("TimeUTC", "TimeDK", "RegionName", "ConsumerCategory3", "ConsumerCategory2", "ConsumptionkWh"),
)

# ENERGY_SOURCE=files (extract/files.py): rows already converted to UTC hours and kWh by the user's
# mapping, plus the catalogue facts of each row's series. Not an Energi Data Service dataset.
FILES = ConsumptionDataset(
    name="files",
    time_column="datetime_utc",
    columns=("datetime_utc", "area", "consumer_type", "energy_consumption_kwh",
             "label", "source_dataset", "country", "attributes"),
)  # fmt: skip

DATASETS: dict[str, ConsumptionDataset] = {d.name: d for d in (DE35, CONSUMER_CATEGORY)}


def dataset_named(name: str) -> ConsumptionDataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown consumption dataset {name!r} (ENERGY_EDS_DATASET); known: {sorted(DATASETS)}"
        ) from None
