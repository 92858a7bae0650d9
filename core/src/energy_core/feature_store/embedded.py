"""The embedded feature store: Delta Lake tables (deltalake) queried with DuckDB, under ENERGY_HOME.

Kept thin on purpose: storage, ACID commits, schema enforcement and time travel are Delta Lake's;
filters and as-of joins are DuckDB's (`ASOF LEFT JOIN` over Arrow datasets, no extension needed).
This module maps the feature-store concepts onto them:

- one Delta table per feature group version (`tables/<name>_v<version>`);
- `insert` validates with the group's pandera schema, then computes, in DuckDB, which rows are new
  or changed against the rows already stored for the batch's event-time range. Unchanged rows are
  skipped (so re-inserting a batch creates no new version); new rows are appended, changed rows
  merged. Either way the batch lands in exactly one Delta commit, or not at all;
- writers to one table serialise on an OS file lock (`locks/<table>.lock`), which makes
  concurrent processes safe without relying on Delta's optimistic-concurrency retries;
- training datasets are JSON records of (view, time range, split, pinned table versions): reading
  one re-runs the view at those versions, so it returns identical rows after any later insert.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pandera.errors as pa_errors
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import TableNotFoundError

from energy_core.feature_store.base import (
    ColumnSummary,
    FeatureGroupNotFound,
    FeatureGroupStatistics,
    FeatureStore,
    FeatureStoreUnavailable,
    FeatureValidationError,
    InsertResult,
    Split,
    TrainingData,
    TrainingDatasetMeta,
    TrainingDatasetNotFound,
    ValidationReport,
)
from energy_core.schemas import UTC_DTYPE, FeatureGroupSpec, FeatureViewSpec, feature_columns

log = logging.getLogger(__name__)

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string[python]": pa.string(),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    "datetime64[us, UTC]": pa.timestamp("us", tz="UTC"),
}
_PANDAS_TYPES: dict[str, Any] = {
    "string[python]": pd.StringDtype(),
    "float64": "float64",
    "int64": "int64",
    "bool": "bool",
    "boolean": pd.BooleanDtype(),
    "datetime64[us, UTC]": UTC_DTYPE,
}


# Rows are written sorted by key (series, then time), so small row groups let a point read of one
# series' hours skip almost everything using Parquet statistics.
_WRITER = WriterProperties(max_row_group_size=32_768, compression="ZSTD")


def _dtype_name(spec: FeatureGroupSpec, column: str) -> str:
    return str(spec.columns[column].dtype)


def arrow_schema(spec: FeatureGroupSpec) -> pa.Schema:
    """The Delta table schema declared by a feature group spec."""
    fields = []
    for name, col in spec.columns.items():
        nullable = bool(col.nullable)
        fields.append(pa.field(name, _ARROW_TYPES[str(col.dtype)], nullable=nullable))
    return pa.schema(fields)


def _to_utc_us(value: datetime | pd.Timestamp) -> datetime:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: every time in the system must be timezone-aware UTC")
    return ts.tz_convert("UTC").to_pydatetime()


def _normalise(frame: pd.DataFrame, spec: FeatureGroupSpec) -> pd.DataFrame:
    """Harmless representation changes only (never value coercion), so validation sees the truth:
    tz-aware datetimes to microsecond UTC, Arrow-backed or all-str object columns to `string`."""
    out = frame.copy()
    for name in out.columns:
        if name not in spec.columns:
            continue
        declared = str(spec.columns[name].dtype)
        series = out[name]
        if isinstance(series.dtype, pd.DatetimeTZDtype) and declared.startswith("datetime64"):
            out[name] = series.dt.tz_convert("UTC").astype(UTC_DTYPE)
        elif declared == "string[python]" and (
            isinstance(series.dtype, pd.StringDtype)
            or (series.dtype == object and all(isinstance(v, str) for v in series.dropna()))
        ):
            out[name] = series.astype(pd.StringDtype())
    return out


def _failures_from(exc: pa_errors.SchemaErrors, frame: pd.DataFrame) -> pd.DataFrame:
    cases = exc.failure_cases
    rows = []
    for case in cases.itertuples(index=False):
        rule = str(case.check)
        column = None if pd.isna(case.column) else str(case.column)
        rows.append(
            {
                "rule": rule,
                "column": column,
                "row": None if pd.isna(case.index) else case.index,
                "value": None if pd.isna(case.failure_case) else str(case.failure_case),
            }
        )
    return pd.DataFrame(rows, columns=["rule", "column", "row", "value"])


def _frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash of a frame (values and column names, not the index)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _atomic_write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=2, default=str)
    Path(tmp).replace(path)


@contextlib.contextmanager
def _file_lock(path: Path, timeout_s: float) -> Iterator[None]:
    """An exclusive OS lock on `path`; waits up to `timeout_s` and then fails clearly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with path.open("a") as fh:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise FeatureStoreUnavailable(
                        f"could not lock {path} within {timeout_s:.0f}s: another writer holds it"
                    ) from exc
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("SET threads TO 2")
    return con


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class EmbeddedFeatureStore(FeatureStore):
    """Feature store on the local disk: see the module docstring for the design."""

    def __init__(self, root: Path, lock_timeout_s: float = 120.0) -> None:
        self.root = Path(root)
        self.lock_timeout_s = lock_timeout_s
        self._stats_cache: dict[tuple[str, int], FeatureGroupStatistics] = {}

    # -- paths -----------------------------------------------------------------------------------
    def _table_path(self, group: FeatureGroupSpec) -> Path:
        return self.root / "tables" / group.table_name

    def _meta_path(self, group: FeatureGroupSpec, name: str) -> Path:
        return self.root / "meta" / group.table_name / name

    def _lock_path(self, name: str) -> Path:
        return self.root / "locks" / f"{name}.lock"

    def _datasets_dir(self, view: FeatureViewSpec) -> Path:
        return self.root / "training_datasets" / f"{view.name}_v{view.version}"

    def _ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FeatureStoreUnavailable(f"feature store directory {self.root} is not usable: {exc}") from exc
        if not os.access(self.root, os.W_OK):
            raise FeatureStoreUnavailable(f"feature store directory {self.root} is not writable")

    def _open(self, group: FeatureGroupSpec, version: int | None = None) -> DeltaTable:
        path = self._table_path(group)
        if not (path / "_delta_log").is_dir():
            if self.root.exists() and not os.access(self.root, os.R_OK | os.X_OK):
                raise FeatureStoreUnavailable(f"feature store directory {self.root} is not readable")
            raise FeatureGroupNotFound(
                f"feature group {group.name!r} v{group.version} has no data yet in {self.root} "
                "(run the feature pipeline first)"
            )
        try:
            return DeltaTable(str(path), version=version)
        except TableNotFoundError as exc:
            raise FeatureGroupNotFound(f"feature group {group.name!r} v{group.version}: {exc}") from exc
        except OSError as exc:
            raise FeatureStoreUnavailable(f"cannot open feature group {group.name!r} at {path}: {exc}") from exc
        except Exception as exc:  # deltalake raises its own errors for a bad version
            if version is not None:
                raise FeatureStoreUnavailable(
                    f"feature group {group.name!r} has no table version {version}: {exc}"
                ) from exc
            raise FeatureStoreUnavailable(f"cannot open feature group {group.name!r} at {path}: {exc}") from exc

    # -- feature groups --------------------------------------------------------------------------
    def exists(self, group: FeatureGroupSpec) -> bool:
        return (self._table_path(group) / "_delta_log").is_dir()

    def table_version(self, group: FeatureGroupSpec) -> int | None:
        if not self.exists(group):
            return None
        return int(self._open(group).version())

    def insert(self, group: FeatureGroupSpec, frame: pd.DataFrame) -> InsertResult:
        batch = self._validate(group, frame)
        self._ensure_root()
        table = pa.Table.from_pandas(
            batch.sort_values(list(group.key)).reset_index(drop=True)[list(group.columns)],
            schema=arrow_schema(group),
            preserve_index=False,
        )
        with _file_lock(self._lock_path(group.table_name), self.lock_timeout_s):
            if not self.exists(group):
                write_deltalake(
                    str(self._table_path(group)),
                    table,
                    mode="error",
                    name=group.table_name,
                    description=group.description,
                    configuration={"delta.checkpointInterval": "50"},
                    writer_properties=_WRITER,
                )
                version = int(self._open(group).version())
                result = InsertResult(group.name, version, len(batch), len(batch), 0)
            else:
                result = self._upsert(group, table)
        log.info(
            "insert %s: %d rows in batch, %d inserted, %d updated, table version %d",
            group.table_name,
            result.rows_in_batch,
            result.rows_inserted,
            result.rows_updated,
            result.table_version,
        )
        return result

    def _validate(self, group: FeatureGroupSpec, frame: pd.DataFrame) -> pd.DataFrame:
        batch = _normalise(frame, group)
        if not batch.index.is_unique:  # rows are then named by position in the submitted frame
            batch = batch.reset_index(drop=True)
        missing = [c for c in group.columns if c not in batch.columns]
        try:
            validated = group.schema.validate(batch, lazy=True)
        except pa_errors.SchemaErrors as exc:
            failures = _failures_from(exc, batch)
            if missing:
                extra = pd.DataFrame(
                    [{"rule": "column_in_dataframe", "column": c, "row": None, "value": None} for c in missing]
                )
                failures = pd.concat([failures, extra], ignore_index=True).drop_duplicates()
            self._record_validation(group, passed=False, rows=len(batch), failures=failures)
            bad_rows = [r for r in failures["row"].dropna().unique() if r in batch.index]
            raise FeatureValidationError(group.name, failures, batch.loc[bad_rows]) from exc
        self._record_validation(group, passed=True, rows=len(batch), failures=pd.DataFrame())
        return validated

    def _record_validation(self, group: FeatureGroupSpec, passed: bool, rows: int, failures: pd.DataFrame) -> None:
        report = ValidationReport(
            group=group.name,
            validated_at=datetime.now(UTC),
            passed=passed,
            rows=rows,
            failures=[{str(k): v for k, v in r.items()} for r in failures.head(1000).to_dict(orient="records")],
        )
        try:
            _atomic_write_json(self._meta_path(group, "last_validation.json"), report.to_dict())
        except OSError as exc:  # the report is advisory: never mask the validation outcome
            log.warning("could not write validation report for %s: %s", group.name, exc)

    def _upsert(self, group: FeatureGroupSpec, batch: pa.Table) -> InsertResult:
        dt = self._open(group)
        et = group.event_time
        lo = pc.min(batch[et]).as_py()
        hi = pc.max(batch[et]).as_py()
        existing = dt.to_pyarrow_dataset().filter((ds.field(et) >= lo) & (ds.field(et) <= hi))
        keys = list(group.key)
        values = [c for c in group.columns if c not in keys]
        on = " AND ".join(f"b.{_q(k)} = e.{_q(k)}" for k in keys)
        differs = " OR ".join(f"b.{_q(c)} IS DISTINCT FROM e.{_q(c)}" for c in values) or "FALSE"
        con = _connect()
        try:
            con.register("b", batch)
            con.register("e", existing)
            changed = con.sql(
                f"SELECT b.*, e.{_q(keys[0])} IS NOT NULL AS _exists FROM b LEFT JOIN e ON {on} "
                f"WHERE e.{_q(keys[0])} IS NULL OR ({differs})"
            ).to_arrow_table()
        finally:
            con.close()
        n_updated = int(pc.sum(changed["_exists"]).as_py() or 0)
        n_inserted = changed.num_rows - n_updated
        changed = changed.drop_columns(["_exists"]).cast(arrow_schema(group))
        if changed.num_rows == 0:
            return InsertResult(group.name, int(dt.version()), batch.num_rows, 0, 0)
        if n_updated == 0:
            write_deltalake(dt, changed, mode="append", writer_properties=_WRITER)
        else:
            predicate = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in keys)
            (
                dt.merge(
                    source=changed,
                    predicate=predicate,
                    source_alias="s",
                    target_alias="t",
                    writer_properties=_WRITER,
                )
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
        return InsertResult(group.name, int(self._open(group).version()), batch.num_rows, n_inserted, n_updated)

    def read(
        self,
        group: FeatureGroupSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        filters: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        version: int | None = None,
    ) -> pd.DataFrame:
        dataset = self._open(group, version).to_pyarrow_dataset()
        expr = self._filter_expression(group, dataset.schema, start, end, filters)
        cols = columns or list(group.columns)
        unknown = [c for c in cols if c not in group.columns]
        if unknown:
            raise ValueError(f"unknown column(s) {unknown} for feature group {group.name!r}")
        table = dataset.to_table(columns=cols, filter=expr)
        sort_keys = [(k, "ascending") for k in group.key if k in cols]
        if sort_keys:
            table = table.sort_by(sort_keys)
        return self._to_pandas(table, group)

    @staticmethod
    def _filter_expression(
        group: FeatureGroupSpec,
        schema: pa.Schema,
        start: datetime | None,
        end: datetime | None,
        filters: dict[str, Any] | None,
    ) -> ds.Expression | None:
        expr: ds.Expression | None = None

        def _and(e: ds.Expression) -> None:
            nonlocal expr
            expr = e if expr is None else expr & e

        if start is not None:
            _and(ds.field(group.event_time) >= _to_utc_us(start))
        if end is not None:
            _and(ds.field(group.event_time) < _to_utc_us(end))
        for name, value in (filters or {}).items():
            if name not in group.columns:
                raise ValueError(f"cannot filter on unknown column {name!r} of feature group {group.name!r}")
            # Delta may store strings as string_view: cast literals to the stored type.
            kind = schema.field(name).type
            if isinstance(value, list | tuple | set):
                _and(ds.field(name).isin(pa.array(list(value)).cast(kind)))
            else:
                _and(ds.field(name) == pa.scalar(value).cast(kind))
        return expr

    @staticmethod
    def _to_pandas(
        table: pa.Table, group: FeatureGroupSpec | None, extra: dict[str, str] | None = None
    ) -> pd.DataFrame:
        """Arrow → pandas with the declared dtypes, so a read returns what was inserted."""
        frame: pd.DataFrame = table.to_pandas()
        declared = {n: str(c.dtype) for n, c in group.columns.items()} if group else {}
        declared.update(extra or {})
        for name in frame.columns:
            kind = declared.get(name)
            if kind is None:
                continue
            target = _PANDAS_TYPES[kind]
            if kind == "bool" and frame[name].isna().any():
                target = pd.BooleanDtype()
            if kind == "int64" and frame[name].isna().any():
                target = pd.Int64Dtype()
            frame[name] = frame[name].astype(target)
        return frame

    def statistics(self, group: FeatureGroupSpec) -> FeatureGroupStatistics:
        dt = self._open(group)
        version = int(dt.version())
        cached = self._stats_cache.get((group.table_name, version))
        if cached is not None:
            return cached
        con = _connect()
        try:
            con.register("t", dt.to_pyarrow_dataset())
            et = _q(group.event_time)
            key_expr = ", ".join(_q(k) for k in group.primary_key) or "1"
            rows, keys, tmin, tmax = con.execute(
                f"SELECT count(*), count(DISTINCT ({key_expr})), min({et}), max({et}) FROM t"
            ).fetchone() or (0, 0, None, None)
            summaries = []
            for name, col in group.columns.items():
                kind = str(col.dtype)
                numeric = kind in ("float64", "int64")
                agg = (
                    f"count(*) - count({_q(name)}), approx_count_distinct({_q(name)}), "
                    f"min({_q(name)}), max({_q(name)})"
                )
                if numeric:
                    agg += f", avg({_q(name)}), stddev_samp({_q(name)})"
                res = con.execute(f"SELECT {agg} FROM t").fetchone() or ()
                summaries.append(
                    ColumnSummary(
                        name=name,
                        dtype=kind,
                        null_count=int(res[0] or 0),
                        distinct_count=None if res[1] is None else int(res[1]),
                        min=res[2] if kind != "bool" else None,
                        max=res[3] if kind != "bool" else None,
                        mean=float(res[4]) if numeric and res[4] is not None else None,
                        std=float(res[5]) if numeric and res[5] is not None else None,
                    )
                )
        finally:
            con.close()
        stats = FeatureGroupStatistics(
            group=group.name,
            table_version=version,
            row_count=int(rows),
            key_count=int(keys) if group.primary_key else 1,
            event_time_min=tmin,
            event_time_max=tmax,
            columns=summaries,
        )
        self._stats_cache[(group.table_name, version)] = stats
        return stats

    def validation_report(self, group: FeatureGroupSpec) -> ValidationReport | None:
        path = self._meta_path(group, "last_validation.json")
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        raw["validated_at"] = datetime.fromisoformat(raw["validated_at"])
        return ValidationReport(**raw)

    # -- feature views ---------------------------------------------------------------------------
    def read_view(
        self,
        view: FeatureViewSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        spine: pd.DataFrame | None = None,
        table_versions: dict[str, int] | None = None,
    ) -> pd.DataFrame:
        # With pinned versions (a training dataset), a group that did not exist when the versions
        # were pinned stays empty, even if it has been written since: reads must be reproducible.
        pinned = table_versions is not None
        versions = table_versions or {}
        et = view.spine.event_time
        if spine is None:
            spine_frame = self.read(view.spine, start, end, version=versions.get(view.spine.table_name))
        else:
            needed = [*view.spine.primary_key, et]
            missing = [c for c in needed if c not in spine.columns]
            if missing:
                raise ValueError(f"spine frame for view {view.name!r} lacks column(s) {missing}")
            spine_frame = _normalise(spine, view.spine)
        if spine_frame.empty:
            return self._empty_view(view, spine_frame)
        t_max = spine_frame[et].max()
        con = _connect()
        try:
            con.register("spine", spine_frame)
            select = ["spine.*"]
            joins = []
            extra_types: dict[str, str] = {}
            for i, join in enumerate(view.joins):
                alias = f"j{i}"
                feats = feature_columns(join)
                for f in feats:
                    select.append(f"{alias}.{_q(f)} AS {_q(join.prefix + f)}")
                    extra_types[join.prefix + f] = _dtype_name(join.group, f)
                if not self.exists(join.group) or (pinned and join.group.table_name not in versions):
                    frame = join.group.empty_frame()
                    con.register(alias, pa.Table.from_pandas(frame, schema=arrow_schema(join.group)))
                else:
                    cutoff = t_max - join.lag
                    dataset = self._open(join.group, versions.get(join.group.table_name)).to_pyarrow_dataset()
                    con.register(alias, dataset.filter(ds.field(join.group.event_time) <= cutoff.to_pydatetime()))
                lag_s = int(join.lag / timedelta(seconds=1))
                conds = [f"spine.{_q(k)} = {alias}.{_q(k)}" for k in join.on]
                conds.append(f"spine.{_q(et)} - INTERVAL {lag_s} SECOND >= {alias}.{_q(join.group.event_time)}")
                joins.append(f"ASOF LEFT JOIN {alias} ON " + " AND ".join(conds))
            order = ", ".join(f"spine.{_q(k)}" for k in view.spine.key if k in spine_frame.columns)
            sql = f"SELECT {', '.join(select)} FROM spine {' '.join(joins)} ORDER BY {order}"
            table = con.sql(sql).to_arrow_table()
        finally:
            con.close()
        return self._to_pandas(table, view.spine, extra_types)

    def _empty_view(self, view: FeatureViewSpec, spine_frame: pd.DataFrame) -> pd.DataFrame:
        out = spine_frame.copy()
        for join in view.joins:
            for f in feature_columns(join):
                out[join.prefix + f] = pd.Series(dtype=_PANDAS_TYPES[_dtype_name(join.group, f)])
        return out

    # -- training datasets -----------------------------------------------------------------------
    def create_training_dataset(
        self,
        view: FeatureViewSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        split: Split | None = None,
        description: str = "",
    ) -> TrainingDatasetMeta:
        self._ensure_root()
        split = Split(
            validation_start=_to_utc_us(split.validation_start) if split and split.validation_start else None,
            test_start=_to_utc_us(split.test_start) if split and split.test_start else None,
        )
        groups = [view.spine, *(j.group for j in view.joins)]
        pinned = {g.table_name: v for g in groups if (v := self.table_version(g)) is not None}
        if view.spine.table_name not in pinned:
            raise FeatureGroupNotFound(
                f"cannot create a training dataset of view {view.name!r}: "
                f"its spine group {view.spine.name!r} has no data yet"
            )
        frame = self.read_view(view, start, end, table_versions=pinned)
        directory = self._datasets_dir(view)
        with _file_lock(self._lock_path(f"training_datasets_{view.name}_v{view.version}"), self.lock_timeout_s):
            existing = [int(p.stem) for p in directory.glob("*.json")] if directory.exists() else []
            meta = TrainingDatasetMeta(
                view_name=view.name,
                view_version=view.version,
                version=max(existing, default=0) + 1,
                start=_to_utc_us(start) if start else None,
                end=_to_utc_us(end) if end else None,
                table_versions=pinned,
                split=split,
                created_at=datetime.now(UTC),
                row_count=len(frame),
                data_sha256=_frame_sha256(frame),
                description=description,
            )
            _atomic_write_json(directory / f"{meta.version}.json", meta.to_dict())
        log.info(
            "training dataset %s v%d: %d rows, tables %s", view.name, meta.version, meta.row_count, pinned
        )
        return meta

    def _load_meta(self, path: Path) -> TrainingDatasetMeta:
        raw = json.loads(path.read_text())
        for key in ("start", "end", "created_at"):
            raw[key] = datetime.fromisoformat(raw[key]) if raw.get(key) else None
        split_raw = raw.pop("split") or {}
        split = Split(
            **{k: datetime.fromisoformat(v) if v else None for k, v in split_raw.items()}
        )
        return TrainingDatasetMeta(split=split, **raw)

    def list_training_datasets(self, view: FeatureViewSpec) -> list[TrainingDatasetMeta]:
        directory = self._datasets_dir(view)
        if not directory.exists():
            return []
        paths = sorted(directory.glob("*.json"), key=lambda p: int(p.stem))
        return [self._load_meta(p) for p in paths]

    def read_training_dataset(self, view: FeatureViewSpec, version: int) -> TrainingData:
        path = self._datasets_dir(view) / f"{version}.json"
        if not path.exists():
            known = [m.version for m in self.list_training_datasets(view)]
            raise TrainingDatasetNotFound(
                f"training dataset {view.name!r} v{view.version} #{version} does not exist; known: {known}"
            )
        meta = self._load_meta(path)
        frame = self.read_view(view, meta.start, meta.end, table_versions=meta.table_versions)
        et = frame[view.spine.event_time]
        val_start = meta.split.validation_start
        test_start = meta.split.test_start
        train_end = val_start or test_start
        train_mask = et < _to_utc_us(train_end) if train_end else pd.Series(True, index=frame.index)
        val_mask = pd.Series(False, index=frame.index)
        if val_start:
            val_mask = et >= _to_utc_us(val_start)
            if test_start:
                val_mask &= et < _to_utc_us(test_start)
        test_mask = et >= _to_utc_us(test_start) if test_start else pd.Series(False, index=frame.index)
        return TrainingData(
            meta=meta,
            train=frame[train_mask].reset_index(drop=True),
            validation=frame[val_mask].reset_index(drop=True),
            test=frame[test_mask].reset_index(drop=True),
        )
