"""Which areas and consumer types exist, and the 404s that name them.

Valid codes are core's (AREAS, CONSUMER_TYPES); a valid series the store has no rows for is
named separately, listing the consumer types that do have data, so a client can tell "typo" from
"not loaded yet".
"""

from __future__ import annotations

import pandas as pd
from fastapi import HTTPException

from energy_core.api_models import CodeLabel
from energy_core.schemas import AREA_LABELS, AREAS, CONSUMER_TYPES, consumer_type_label


def areas() -> list[CodeLabel]:
    return [CodeLabel(code=code, label=AREA_LABELS.get(code, code)) for code in AREAS]


def consumer_types() -> list[CodeLabel]:
    return [CodeLabel(code=code, label=consumer_type_label(code)) for code in CONSUMER_TYPES]


def require_area(area: str) -> None:
    if area not in AREAS:
        raise HTTPException(404, f"unknown area {area!r}; valid values: {list(AREAS)}")


def require_consumer_type(consumer_type: str) -> None:
    if consumer_type not in CONSUMER_TYPES:
        raise HTTPException(404, f"unknown consumer type {consumer_type!r}; valid values: {list(CONSUMER_TYPES)}")


def require_series(area: str, consumer_type: str) -> None:
    require_area(area)
    require_consumer_type(consumer_type)


def require_series_with_data(catalog: pd.DataFrame, area: str, consumer_type: str) -> pd.Series | None:
    """The catalog row of the series; None when the store holds no consumption at all yet.

    Raises 404 when the store has data but none for this series.
    """
    if catalog.empty:
        return None
    match = catalog[(catalog["area"] == area) & (catalog["consumer_type"] == consumer_type)]
    if match.empty:
        with_data = sorted(catalog.loc[catalog["area"] == area, "consumer_type"].astype(str))
        raise HTTPException(
            404, f"no consumption data for {area}/{consumer_type}; consumer types with data in {area}: {with_data}"
        )
    return match.iloc[0]
