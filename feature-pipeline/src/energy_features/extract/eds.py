"""The live source: one consumption dataset from the Energi Data Service REST API."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from energy_features.extract.datasets import ConsumptionDataset
from energy_features.extract.eds_client import EdsClient
from energy_features.windows import Window


@dataclass(frozen=True)
class EdsConsumption:
    """Raw records of `dataset` for a window, fetched completely or not at all."""

    client: EdsClient
    dataset: ConsumptionDataset

    def fetch(self, window: Window) -> pd.DataFrame:
        if window.hours == 0:
            return self.dataset.empty_records()
        records = self.client.fetch(
            self.dataset.name,
            window.start,
            window.end,
            required_columns=self.dataset.columns,
            sort=f"{self.dataset.time_column} ASC",
        )
        if not records:
            return self.dataset.empty_records()
        return pd.DataFrame.from_records(records)
