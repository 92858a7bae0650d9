"""Consumption records into leaf series of `energy_consumption`, plus what the catalogue needs.

A transform returns a `ConsumptionBatch`: the leaf rows (datetime_utc, area, consumer_type, kWh),
the `SeriesInfo` of every leaf it saw (label and the source's own names, for the `series`
catalogue), the area -> country geography of the source, and any row it could not place
(`problems`, reported by validation under a named rule, never dropped silently).

`HourUTC`/`TimeUTC` is the truth for time; Danish local time (`HourDK`/`TimeDK`) is ignored because
it repeats an hour in October and skips one in March. Exact duplicate records are dropped; two
different values for one key are left for validation to reject (it names both rows). Nothing is
filled in: a missing hour stays missing and shows up in the continuity report.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from energy_core.schemas import ENERGY_CONSUMPTION, consumer_type_label
from energy_core.series import SeriesInfo, slug
from energy_features.extract.datasets import CONSUMER_CATEGORY, DE35, FILES
from energy_features.transform.columns import as_float, as_utc, require_columns

log = logging.getLogger(__name__)

PROBLEM_COLUMNS: tuple[str, ...] = ("rule", "column", "row", "value")

# Both Energi Data Service datasets cover the two Danish price areas.
DANISH_AREAS: dict[str, str] = {"DK1": "DK", "DK2": "DK"}

# ConsumptionConsumerCategoryHour reports five regions (without their `Region ` prefix); each lies
# in exactly one price area (SOURCES.md section 3). Geography cannot be learned from consumption
# data, so a region outside this table is rejected by the `known_region` rule.
REGION_AREAS: dict[str, str] = {
    "Hovedstaden": "DK2",
    "Sjælland": "DK2",
    "Nordjylland": "DK1",
    "Midtjylland": "DK1",
    "Syddanmark": "DK1",
}
_REGION_PREFIX = "Region "


@dataclass(frozen=True)
class ConsumptionBatch:
    """One window of leaf consumption, canonical, with the catalogue facts the source knows."""

    leaves: pd.DataFrame  # ENERGY_CONSUMPTION columns, sorted by key
    series: list[SeriesInfo]  # one per leaf series in `leaves` (or in `problems`)
    area_country: Mapping[str, str]  # the source's geography: area -> country
    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(PROBLEM_COLUMNS)))

    @classmethod
    def empty(cls, area_country: Mapping[str, str]) -> ConsumptionBatch:
        return cls(ENERGY_CONSUMPTION.empty_frame(), [], dict(area_country))


def consumption_from_de35(records: pd.DataFrame) -> ConsumptionBatch:
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
    leaves = _canonical(frame)
    keys = leaves[["area", "consumer_type"]].dropna().drop_duplicates()
    series = [
        SeriesInfo(
            area=str(area),
            consumer_type=str(code),
            label=consumer_type_label(str(code)),
            source_dataset=DE35.name,
            attributes={"PriceArea": str(area), "ConsumerType_DE35": str(code)},
        )
        for area, code in keys.itertuples(index=False)
    ]
    return ConsumptionBatch(leaves, series, DANISH_AREAS)


# Mojibake of the Danish letters seen in exports of this dataset: UTF-8 bytes read as Latin-1 /
# cp1252 (`SjÃ¦lland`), or an undecodable byte replaced by U+FFFD (`Sj\ufffdlland`).
_REPLACEMENT = "\ufffd"


def repair_text(text: str, known: Mapping[str, str] | None = None) -> str:
    """The intended text of a possibly mis-decoded name.

    `SjÃ¦lland` is reversible (re-encode as cp1252/Latin-1, decode as UTF-8). `Sj\\ufffdlland` lost
    its letter, so it is repaired only when exactly one name in `known` matches with the
    replacement character standing for one letter; otherwise it is returned unchanged and the
    key-pattern rule rejects it by name.
    """
    for codec in ("cp1252", "latin-1"):
        try:
            candidate = text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if candidate != text:
            text = candidate
            break
    if _REPLACEMENT in text and known:
        pattern = re.compile("^" + ".".join(re.escape(part) for part in text.split(_REPLACEMENT)) + "$")
        matches = [name for name in known if pattern.match(name)]
        if len(matches) == 1:
            return matches[0]
    return text


def region_key(region: str) -> str:
    """`Region Sjælland` -> `Sjælland`, the name the geography table is keyed on."""
    region = region.strip()
    return region[len(_REGION_PREFIX) :].strip() if region.startswith(_REGION_PREFIX) else region


def consumption_from_consumer_category(records: pd.DataFrame) -> ConsumptionBatch:
    """ConsumptionConsumerCategoryHour records, one leaf per (region, consumer category).

    The region level is kept (it is what the source measures); the price area is the region's
    parent and DK the area's, so area and country totals are bottom-up sums of these leaves.
    consumer_type = `<region-slug>.<category-slug>` from ConsumerCategory3 (else 2), e.g.
    `sjaelland.offentlige-foretagender`. Mis-decoded names are repaired to one key and logged.
    """
    require_columns(records, CONSUMER_CATEGORY.columns, CONSUMER_CATEGORY.name)
    records = records.drop_duplicates(subset=list(CONSUMER_CATEGORY.columns))
    names = {
        column: _repaired(records[column], column)
        for column in ("RegionName", "ConsumerCategory2", "ConsumerCategory3")
    }
    region_names = names["RegionName"]
    regions = region_names.map(lambda r: region_key(r) if isinstance(r, str) else r)
    category = names["ConsumerCategory3"].where(_present(names["ConsumerCategory3"]), names["ConsumerCategory2"])
    areas = regions.map(lambda r: REGION_AREAS.get(r) if isinstance(r, str) else None)
    # A category that slugs to nothing ("???") would make a key without a leaf name: rejected too.
    no_region, no_category = areas.isna(), ~category.map(lambda c: _is_text(c) and bool(slug(str(c)))).astype(bool)
    problems = pd.concat(
        [
            _problems("known_region", "RegionName", region_names[no_region]),
            _problems("required_category", "ConsumerCategory3", category[no_category & ~no_region]),
        ],
        ignore_index=True,
    )
    if no_region.any():
        log.error(
            "%s: %d record(s) from region(s) %s that no price area is known for (known: %s); the batch "
            "will be rejected by rule known_region",
            CONSUMER_CATEGORY.name, int(no_region.sum()), sorted(set(region_names[no_region].astype(str))),
            sorted(REGION_AREAS),
        )  # fmt: skip
    placed = ~(no_region | no_category)
    consumer_types = pd.Series(
        [f"{slug(str(r))}.{slug(str(c))}" for r, c in zip(regions[placed], category[placed], strict=True)],
        index=records.index[placed],
        dtype="string",
    )
    frame = pd.DataFrame(
        {
            "datetime_utc": as_utc(records.loc[placed, "TimeUTC"]),
            "area": areas[placed].astype("string"),
            "consumer_type": consumer_types,
            "energy_consumption_kwh": as_float(records.loc[placed, "ConsumptionkWh"]),
        }
    )
    leaves = _canonical(frame)
    series: dict[tuple[str, str], SeriesInfo] = {}
    for index in records.index[placed]:
        key = (str(areas[index]), str(consumer_types[index]))
        if key in series:
            continue
        region, cat2, cat3 = region_names[index], names["ConsumerCategory2"][index], names["ConsumerCategory3"][index]
        attributes = {"RegionName": str(region)}
        attributes.update(
            {k: str(v) for k, v in (("ConsumerCategory2", cat2), ("ConsumerCategory3", cat3)) if _is_text(v)}
        )
        series[key] = SeriesInfo(
            area=key[0],
            consumer_type=key[1],
            label=f"{region} · {category[index]}",
            source_dataset=CONSUMER_CATEGORY.name,
            attributes=attributes,
        )
    return ConsumptionBatch(leaves, list(series.values()), DANISH_AREAS, problems)


def _problems(rule: str, column: str, values: pd.Series) -> pd.DataFrame:
    """Rows the transform could not place, in validation's failure format (rule, column, row, value)."""
    return pd.DataFrame(
        # Named as source records: these rows never became leaf rows, so a leaf row number would mislead.
        {"rule": rule, "column": column, "row": [f"record {i}" for i in values.index], "value": values.astype(object)},
        columns=list(PROBLEM_COLUMNS),
    ).reset_index(drop=True)


def _repaired(values: pd.Series, column: str) -> pd.Series:
    known = {f"{_REGION_PREFIX}{name}": area for name, area in REGION_AREAS.items()} | REGION_AREAS
    lookup = known if column == "RegionName" else None
    distinct = {v for v in values.dropna().unique() if isinstance(v, str)}
    fixes = {v: repair_text(v, lookup) for v in distinct}
    fixes = {v: fixed for v, fixed in fixes.items() if fixed != v}
    if not fixes:
        return values
    changed = values.isin(list(fixes))
    log.warning(
        "%s: repaired %d mis-decoded %s value(s) to one key each: %s",
        CONSUMER_CATEGORY.name, int(changed.sum()), column,
        ", ".join(f"{bad!r} -> {good!r}" for bad, good in sorted(fixes.items())),
    )  # fmt: skip
    return values.map(lambda v: fixes.get(v, v) if isinstance(v, str) else v)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _present(values: pd.Series) -> pd.Series:
    return values.map(_is_text).astype(bool)


def consumption_from_files(records: pd.DataFrame) -> ConsumptionBatch:
    """Rows of the `files` source (extract/files.py): already UTC hours in kWh, converted by the
    user's mapping, each carrying its series' label, source, country and attributes (JSON)."""
    require_columns(records, FILES.columns, FILES.name)
    facts = records.drop_duplicates(subset=["area", "consumer_type"])
    series = [
        SeriesInfo(str(area), str(ctype), str(label), str(source), attributes=json.loads(str(attributes)))
        for area, ctype, label, source, attributes in facts[
            ["area", "consumer_type", "label", "source_dataset", "attributes"]
        ].itertuples(index=False)
    ]
    countries = facts.dropna(subset=["country"])
    area_country = {str(a): str(c) for a, c in zip(countries["area"], countries["country"], strict=True)}
    return ConsumptionBatch(_canonical(records), series, area_country)


TRANSFORMS: dict[str, Callable[[pd.DataFrame], ConsumptionBatch]] = {
    DE35.name: consumption_from_de35,
    CONSUMER_CATEGORY.name: consumption_from_consumer_category,
    FILES.name: consumption_from_files,
}


def canonical_consumption(dataset: str, records: pd.DataFrame) -> ConsumptionBatch:
    """Dispatch on the dataset the records came from."""
    return TRANSFORMS[dataset](records)


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    columns = list(ENERGY_CONSUMPTION.columns)
    frame = frame[columns].drop_duplicates()
    return frame.sort_values(list(ENERGY_CONSUMPTION.key), kind="stable").reset_index(drop=True)
