"""Which series exist (the learned `series` catalogue), and the 422s and 404s that say so.

The set of series is data, not code: a key is first checked against core's key patterns (a
malformed key is a 422, whatever the store holds), then looked up in the catalogue (a well-formed
key the catalogue does not know is a 404 naming what does exist). Nothing a client sends is
echoed beyond `MAX_ECHO` characters, so an error body never grows with the request.

The catalogue is read once per table version of the groups it depends on and cached as typed
nodes in tree order (country totals, then per area its total before its leaves): every endpoint
then labels, validates and orders series the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import HTTPException, Path
from fastapi.exceptions import RequestValidationError

from energy_api import cached_reads, queries
from energy_api.dependencies import Services
from energy_core.api_models import CodeLabel, SeriesNode
from energy_core.feature_store import FeatureStore
from energy_core.schemas import (
    AREA_LABELS,
    AREA_PATTERN,
    CONSUMER_TYPE_PATTERN,
    ENERGY_CONSUMPTION,
    ENERGY_CONSUMPTION_TOTALS,
    SERIES,
    TOTAL,
    consumer_type_label,
    series_id,
)
from energy_core.series import AREA, COUNTRY, COUNTRY_LABELS, LEAF

# The groups the catalogue is built from: a new version of any of them rebuilds it.
CATALOGUE_GROUPS = (SERIES, ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS)
LEVELS = (LEAF, AREA, COUNTRY)
MAX_ECHO = 64
MAX_NAMED = 20
_AREA_KEY = re.compile(AREA_PATTERN)
_CONSUMER_TYPE_KEY = re.compile(CONSUMER_TYPE_PATTERN)

# Path keys: the patterns are documented in the OpenAPI schema but checked here (`check_*`), not by
# FastAPI, so a rejected value is echoed truncated in the 422 instead of in full.
AreaKey = Annotated[
    str,
    Path(description="Area key, e.g. DK1 (DK for the country total)", json_schema_extra={"pattern": AREA_PATTERN}),
]
ConsumerTypeKey = Annotated[
    str,
    Path(description="Leaf key within the area, or 'total'", json_schema_extra={"pattern": CONSUMER_TYPE_PATTERN}),
]


# -- 422: malformed keys ---------------------------------------------------------------------------
def _echo(value: str) -> str:
    return value if len(value) <= MAX_ECHO else f"{value[:MAX_ECHO]}…"


def _invalid(where: str, name: str, value: str, rule: str) -> RequestValidationError:
    """FastAPI's own 422 shape, so clients meet one format whatever rule was broken."""
    return RequestValidationError(
        [
            {
                "loc": [where, name],
                "msg": f"{name} must match {rule}",
                "type": "string_pattern_mismatch",
                "input": _echo(value),
            }
        ]
    )


def check_area_key(area: str, where: str = "path", name: str = "area") -> None:
    if not _AREA_KEY.fullmatch(area):
        raise _invalid(where, name, area, AREA_PATTERN)


def check_series_key(area: str, consumer_type: str) -> None:
    check_area_key(area)
    if not _CONSUMER_TYPE_KEY.fullmatch(consumer_type):
        raise _invalid("path", "consumer_type", consumer_type, CONSUMER_TYPE_PATTERN)


def check_series_id(value: str, name: str) -> None:
    """A series id query parameter: '<area>|<consumer_type>', both parts well-formed."""
    area, _, consumer_type = value.partition("|")
    if not (_AREA_KEY.fullmatch(area) and _CONSUMER_TYPE_KEY.fullmatch(consumer_type)):
        raise _invalid("query", name, value, "'<area>|<consumer_type>'")


def check_level(value: str) -> None:
    if value not in LEVELS:
        raise _invalid("query", "level", value, f"one of {list(LEVELS)}")


# -- the catalogue ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Catalogue:
    """The series the API can answer for, as contract nodes, plus each one's newest observed hour."""

    nodes: tuple[SeriesNode, ...]
    latest_data_at: dict[str, datetime]
    by_id: dict[str, SeriesNode] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {n.id: n for n in self.nodes})

    def get(self, area: str, consumer_type: str) -> SeriesNode | None:
        return self.by_id.get(series_id(area, consumer_type))

    def areas(self) -> list[str]:
        return list(dict.fromkeys(n.area for n in self.nodes))

    def in_area(self, area: str) -> list[SeriesNode]:
        return [n for n in self.nodes if n.area == area]

    def label(self, area: str, consumer_type: str) -> str:
        node = self.get(area, consumer_type)
        return node.label if node is not None else consumer_type_label(consumer_type)


def area_label(area: str) -> str:
    return AREA_LABELS.get(area) or COUNTRY_LABELS.get(area) or area


def _optional(value: Any) -> Any:
    return None if value is None or value is pd.NA or (not isinstance(value, str) and pd.isna(value)) else value


def tree_order(node: SeriesNode) -> tuple[bool, str, bool, str]:
    """Country totals first, then area by area: the area's total before its leaves."""
    return (node.level != COUNTRY, node.area, node.consumer_type != TOTAL, node.consumer_type)


def build_catalogue(frame: pd.DataFrame, with_data: Iterable[pd.DataFrame]) -> Catalogue:
    """Nodes from catalogue rows (SERIES columns); `with_data`: frames of area, consumer_type, latest_data_at."""
    nodes = [
        SeriesNode(
            id=series_id(str(row["area"]), str(row["consumer_type"])),
            area=str(row["area"]),
            area_label=area_label(str(row["area"])),
            consumer_type=str(row["consumer_type"]),
            level=str(row["level"]),  # type: ignore[arg-type]
            parent_id=_optional(row["parent_id"]),
            label=str(row["label"]),
            unit=str(_optional(row["unit"]) or "kWh"),
            source_dataset=_optional(row["source_dataset"]),
            first_seen_utc=_optional(row["first_seen_utc"]),
            last_seen_utc=_optional(row["last_seen_utc"]),
            status=str(_optional(row["status"]) or "active"),
        )
        for row in frame.to_dict("records")
    ]
    latest: dict[str, datetime] = {}
    for data in with_data:
        for area, consumer_type, at in zip(data["area"], data["consumer_type"], data["latest_data_at"], strict=True):
            latest[series_id(str(area), str(consumer_type))] = pd.Timestamp(at).to_pydatetime()
    return Catalogue(tuple(sorted(nodes, key=tree_order)), latest)


def catalogue(services: Services, store: FeatureStore) -> Catalogue:
    """The catalogue at the current table versions (cached; rebuilt when a pipeline writes)."""
    versions = services.versions.versions(store, *CATALOGUE_GROUPS)
    return services.cache.get_or_compute(
        ("series_catalogue", versions),
        lambda: build_catalogue(
            queries.catalogue(store),
            (cached_reads.series_catalog(services, store), queries.totals_catalog(store)),
        ),
    )


# -- 404: well-formed but unknown ------------------------------------------------------------------
def _named(values: Sequence[str]) -> str:
    shown = list(values[:MAX_NAMED])
    more = f" and {len(values) - MAX_NAMED} more" if len(values) > MAX_NAMED else ""
    return f"{shown}{more}"


def require_area(known: Catalogue, area: str) -> None:
    """404 unless the catalogue has the area; an empty catalogue (nothing ingested yet) knows every area."""
    if known.nodes and not known.in_area(area):
        raise HTTPException(404, f"unknown area {area!r}; valid values: {_named(known.areas())}")


def require_series(known: Catalogue, area: str, consumer_type: str) -> SeriesNode | None:
    """The series' node; None before anything was ingested (the answer is then empty, not an error)."""
    if not known.nodes:
        return None
    require_area(known, area)
    node = known.get(area, consumer_type)
    if node is None:
        in_area = [n.consumer_type for n in known.in_area(area)]
        raise HTTPException(
            404, f"unknown series {area}/{consumer_type}; consumer types of {area}, valid values: {_named(in_area)}"
        )
    return node


# -- the old routes, as views of the catalogue -----------------------------------------------------
def areas(known: Catalogue) -> list[CodeLabel]:
    """Areas that hold leaves or an area total (countries are not areas)."""
    codes = dict.fromkeys(n.area for n in known.nodes if n.level in (LEAF, AREA))
    return [CodeLabel(code=code, label=area_label(code)) for code in sorted(codes)]


def consumer_types(known: Catalogue) -> list[CodeLabel]:
    """Every leaf consumer type, labelled by the first leaf that has it."""
    labels: dict[str, str] = {}
    for node in known.nodes:
        if node.level == LEAF:
            labels.setdefault(node.consumer_type, node.label)
    return [CodeLabel(code=code, label=labels[code]) for code in sorted(labels)]
