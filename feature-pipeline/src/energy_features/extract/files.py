"""`ENERGY_SOURCE=files`: the user's own hourly series from CSV or Parquet files, through a YAML mapping.

The mapping (`ENERGY_FILES_MAPPING`, model in `transform/files.py`) names, per entry, a glob of
files, the time column and its zone, the value column and its unit, and the series key. This is how
another grid's load (a utility's export, a national TSO's CSV) enters the unchanged pipelines.

Why the whole mapping is read and converted on first use, not window by window: local wall times
are resolved in order (the repeated autumn hour is placed by its position), and bad input anywhere
in the files must stop the run before its first chunk is written. So the first `fetch` reads every
file, converts it, and checks the result against core's `energy_consumption` rules; later fetches
slice that result (re-read only when a file changes). The records it returns are already canonical
rows plus the series' catalogue facts (`FILES.columns`); `transform/files.py` turns them into a
`ConsumptionBatch`.

Files carry no weather: the files source pairs with `NoWeather`, so the feature view's weather
columns are null for these series (LightGBM handles that; see the README's honest limits).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import yaml
from pydantic import ValidationError

from energy_core.feature_store import FeatureValidationError
from energy_core.feature_store.relational import validate_batch
from energy_core.schemas import ENERGY_CONSUMPTION
from energy_features.extract.datasets import FILES, ConsumptionDataset
from energy_features.extract.weather import Granularity
from energy_features.transform.files import (
    FileSeries,
    FileSeriesError,
    FilesMapping,
    to_hourly_kwh,
)
from energy_features.windows import Window

log = logging.getLogger(__name__)


class FilesMappingError(ValueError):
    """The YAML mapping is missing, unreadable or breaks the mapping model; names file and field."""


def load_mapping(path: Path) -> FilesMapping:
    """The mapping at `path`, or FilesMappingError naming each bad field (`series[0].time.zone`)."""
    if not path.is_file():
        raise FilesMappingError(f"ENERGY_FILES_MAPPING={path}: no such file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FilesMappingError(f"{path}: not valid YAML: {exc}") from None
    try:
        return FilesMapping.model_validate(document)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
            problems.append(f"{where or '(document)'}: {err['msg']}")
        raise FilesMappingError(f"{path}: invalid files mapping: " + "; ".join(problems)) from None


def matching_files(spec: FileSeries, base: Path) -> list[Path]:
    """The entry's glob, relative to the mapping's folder (or absolute), in name order."""
    pattern = Path(spec.path)
    root, relative = (Path(pattern.anchor), str(pattern.relative_to(pattern.anchor))) if pattern.is_absolute() else (
        base, spec.path
    )
    found = sorted(p for p in root.glob(relative) if p.is_file())
    if not found:
        raise FileSeriesError("no_files", spec.name, f"path {spec.path!r} matches no file under {root}")
    return found


def read_raw(path: Path, spec: FileSeries) -> tuple[pd.DataFrame, pd.Series]:
    """One file's rows as stored (CSV: every cell as text) and their origins (`name:line`)."""
    if spec.format == "csv":
        frame = pd.read_csv(
            path, sep=spec.csv.delimiter, dtype=str, keep_default_na=False, encoding=spec.csv.encoding
        )
        origin = pd.Series([f"{path.name}:{i + 2}" for i in range(len(frame))], dtype="object")  # line 1: header
    else:
        frame = pq.read_table(path).to_pandas()
        origin = pd.Series([f"{path.name}[row {i}]" for i in range(len(frame))], dtype="object")
    return frame.reset_index(drop=True), origin


@dataclass(frozen=True)
class NoWeather:
    """The weather source of the files source: none (a user's area has no Meteostat station mapped)."""

    granularity: Granularity = "daily"
    stations: dict[str, str] = field(default_factory=dict)

    def fetch(self, window: Window) -> pd.DataFrame:
        return pd.DataFrame({"station": pd.Series(dtype="object"), "date": pd.Series(dtype="object")})


@dataclass
class FilesConsumption:
    """Every series of a files mapping, converted once per change of the files, sliced per window."""

    mapping_path: Path
    mapping: FilesMapping
    dataset: ConsumptionDataset = FILES
    _cache: tuple[tuple[tuple[str, int, int], ...], pd.DataFrame] | None = field(default=None, repr=False)

    @classmethod
    def from_yaml(cls, path: Path) -> FilesConsumption:
        path = path.expanduser().resolve()
        return cls(path, load_mapping(path))

    def fetch(self, window: Window) -> pd.DataFrame:
        """Records (FILES.columns) with window.start <= datetime_utc < window.end."""
        records = self.records()
        times = records["datetime_utc"]
        inside = (times >= pd.Timestamp(window.start)) & (times < pd.Timestamp(window.end))
        return records[inside].reset_index(drop=True)

    def records(self) -> pd.DataFrame:
        """All records of the mapping, re-read only when a matched file's size or mtime changed."""
        base = self.mapping_path.parent
        files = {spec.name: matching_files(spec, base) for spec in self.mapping.series}
        signature = tuple(
            (str(p), p.stat().st_mtime_ns, p.stat().st_size) for paths in files.values() for p in paths
        )
        if self._cache is not None and self._cache[0] == signature:
            return self._cache[1]
        records = self._convert(files)
        self._cache = (signature, records)
        return records

    def _convert(self, files: dict[str, list[Path]]) -> pd.DataFrame:
        frames, origins = [], []
        owner: dict[tuple[str, str], str] = {}
        for spec in self.mapping.series:
            raws = [read_raw(path, spec) for path in files[spec.name]]
            raw = pd.concat([r for r, _ in raws], ignore_index=True)
            origin = pd.concat([o for _, o in raws], ignore_index=True)
            rows, row_origin = to_hourly_kwh(raw, origin, spec)
            for key in rows[["area", "consumer_type"]].drop_duplicates().itertuples(index=False):
                area, ctype = str(key[0]), str(key[1])
                if owner.setdefault((area, ctype), spec.name) != spec.name:
                    raise FileSeriesError(
                        "one_entry_per_series", spec.name,
                        f"series {area}|{ctype} also comes from mapping entry {owner[(area, ctype)]!r}",
                    )  # fmt: skip
            frames.append(_with_catalogue_facts(rows, spec))
            origins.append(row_origin)
            log.info("files source: %s: %d file(s), %d hourly row(s)", spec.name, len(files[spec.name]), len(rows))
        records = pd.concat(frames, ignore_index=True)
        origin = pd.concat(origins, ignore_index=True)
        # Exact repeats (overlapping exports) are one row; two values for one hour are not (validation).
        unique = ~records.duplicated(subset=list(ENERGY_CONSUMPTION.columns))
        order = records[unique].sort_values(list(ENERGY_CONSUMPTION.key), kind="stable").index
        records, origin = records.loc[order].reset_index(drop=True), origin.loc[order].reset_index(drop=True)
        _check_whole(records, origin)
        return records


def _with_catalogue_facts(rows: pd.DataFrame, spec: FileSeries) -> pd.DataFrame:
    attributes = json.dumps(
        {"mapping_entry": spec.name, "path": spec.path, "value_column": spec.value.column,
         "source_unit": spec.value.unit, "time_zone": spec.time.zone},
        ensure_ascii=False, sort_keys=True,
    )  # fmt: skip
    labels = [spec.series_label(str(a), str(c)) for a, c in zip(rows["area"], rows["consumer_type"], strict=True)]
    return rows.assign(
        label=pd.array(labels, dtype="string"),
        source_dataset=pd.array([spec.source_dataset] * len(rows), dtype="string"),
        country=pd.array([spec.country] * len(rows), dtype="string"),
        attributes=pd.array([attributes] * len(rows), dtype="string"),
    )


def _check_whole(records: pd.DataFrame, origin: pd.Series) -> None:
    """Core's energy_consumption rules over every row of the mapping at once, naming file and line.

    The pipeline validates each chunk again before writing; this pass makes a bad row anywhere in
    the files stop the run before the first chunk, so a file is taken whole or not at all.
    """
    try:
        validate_batch(ENERGY_CONSUMPTION, records[list(ENERGY_CONSUMPTION.columns)])
    except FeatureValidationError as exc:
        failures = exc.failures
        rules = sorted(set(failures["rule"].astype(str)))
        rows = [
            f"{origin.get(row, f'row {row}') if pd.notna(row) else '(column)'} {column}={value!r}"
            for row, column, value in zip(failures["row"], failures["column"], failures["value"], strict=True)
        ]
        raise FileSeriesError(
            ",".join(rules), "(all)", f"{len(failures)} violation(s) of energy_consumption rule(s) {rules}", rows
        ) from exc
