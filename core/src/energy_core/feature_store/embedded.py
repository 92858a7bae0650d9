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
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import TableNotFoundError

from energy_core.feature_store import relational as rel
from energy_core.feature_store.base import (
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
from energy_core.schemas import FeatureGroupSpec, FeatureViewSpec

log = logging.getLogger(__name__)

# Rows are written sorted by key (series, then time), so small row groups let a point read of one
# series' hours skip almost everything using Parquet statistics.
_WRITER = WriterProperties(max_row_group_size=32_768, compression="ZSTD")
# Hourly jobs add one small file per commit; scanning cost grows with the file count, so once this
# many files accumulate the writer Z-orders the table on its key (same rows, one commit).
_COMPACT_AFTER_FILES = 24


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    Path(tmp).replace(path)


def _atomic_write_json(path: Path, payload: Any) -> None:
    _atomic_write_text(path, json.dumps(payload, indent=2, default=str))


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


class EmbeddedFeatureStore(FeatureStore):
    """Feature store on the local disk: see the module docstring for the design."""

    def __init__(self, root: Path, lock_timeout_s: float = 120.0) -> None:
        self.root = Path(root)
        self.lock_timeout_s = lock_timeout_s
        self._stats_cache: dict[tuple[str, int], FeatureGroupStatistics] = {}
        # One refreshed handle per table for latest-version reads: reopening replays the log from
        # the last checkpoint (milliseconds), an incremental update reads only new commits.
        self._handles: dict[str, DeltaTable] = {}
        self._handles_lock = threading.Lock()

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

    def _snapshot(self, group: FeatureGroupSpec, version: int | None = None) -> tuple[int, ds.Dataset]:
        """A consistent (version, dataset) pair to read from. Latest-version reads reuse one
        handle per table, refreshed incrementally under a lock (delta-rs handles are not safe to
        mutate while another thread uses them); writers always open fresh handles."""
        if version is not None:
            dt = self._open(group, version)
            return int(dt.version()), dt.to_pyarrow_dataset()
        with self._handles_lock:
            handle = self._handles.get(group.table_name)
            if handle is None:
                handle = self._handles[group.table_name] = self._open(group)
            else:
                handle.update_incremental()
            return int(handle.version()), handle.to_pyarrow_dataset()

    # -- feature groups --------------------------------------------------------------------------
    def exists(self, group: FeatureGroupSpec) -> bool:
        return (self._table_path(group) / "_delta_log").is_dir()

    def table_version(self, group: FeatureGroupSpec) -> int | None:
        if not self.exists(group):
            return None
        with self._handles_lock:
            handle = self._handles.get(group.table_name)
            if handle is None:
                handle = self._handles[group.table_name] = self._open(group)
            else:
                handle.update_incremental()
            return int(handle.version())

    def insert(self, group: FeatureGroupSpec, frame: pd.DataFrame) -> InsertResult:
        try:
            batch = rel.validate_batch(group, frame)
        except FeatureValidationError as exc:
            self._record_validation(group, passed=False, rows=len(frame), failures=exc.failures)
            raise
        self._record_validation(group, passed=True, rows=len(batch), failures=pd.DataFrame())
        self._ensure_root()
        table = rel.to_arrow(group, batch)
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
                if result.changed:
                    self._maybe_compact(group)
        log.info(
            "insert %s: %d rows in batch, %d inserted, %d updated, table version %d",
            group.table_name,
            result.rows_in_batch,
            result.rows_inserted,
            result.rows_updated,
            result.table_version,
        )
        return result

    def _record_validation(self, group: FeatureGroupSpec, passed: bool, rows: int, failures: pd.DataFrame) -> None:
        records = failures.head(1000).to_dict(orient="records")
        report = ValidationReport(
            group=group.name,
            validated_at=datetime.now(UTC),
            passed=passed,
            rows=rows,
            failures=[{str(k): v for k, v in r.items()} for r in records],
        )
        try:
            _atomic_write_json(self._meta_path(group, "last_validation.json"), report.to_dict())
        except OSError as exc:  # the report is advisory: never mask the validation outcome
            log.warning("could not write validation report for %s: %s", group.name, exc)

    def _upsert(self, group: FeatureGroupSpec, batch: pa.Table) -> InsertResult:
        dt = self._open(group)
        lo, hi = rel.event_time_bounds(group, batch)
        et = ds.field(group.event_time)
        existing = dt.to_pyarrow_dataset().filter((et >= lo) & (et <= hi))
        changed, n_updated = rel.changed_rows(group, batch, existing)
        n_inserted = changed.num_rows - n_updated
        keys = list(group.key)
        if changed.num_rows == 0:
            return InsertResult(group.name, int(dt.version()), batch.num_rows, 0, 0)
        if n_updated == 0:
            write_deltalake(dt, changed, mode="append", writer_properties=_WRITER)
        else:
            predicate = " AND ".join(f"t.{rel.q(k)} = s.{rel.q(k)}" for k in keys)
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

    def _maybe_compact(self, group: FeatureGroupSpec) -> None:
        """Z-order the table on its key when small files pile up (caller holds the writer lock).

        Rows and their values do not change; the new version only reorganises files, so reads
        stay fast and earlier versions stay readable for pinned training datasets."""
        dt = self._open(group)
        if len(dt.file_uris()) < _COMPACT_AFTER_FILES:
            return
        dt.optimize.z_order(list(group.key), writer_properties=_WRITER)
        dt.create_checkpoint()
        log.info("compacted %s to %d file(s) at version %d", group.table_name, len(dt.file_uris()), dt.version())

    def read(
        self,
        group: FeatureGroupSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        filters: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        version: int | None = None,
    ) -> pd.DataFrame:
        return rel.scan(group, self._snapshot(group, version)[1], start, end, filters, columns)

    def statistics(self, group: FeatureGroupSpec) -> FeatureGroupStatistics:
        version, dataset = self._snapshot(group)
        cached = self._stats_cache.get((group.table_name, version))
        if cached is None:
            cached = rel.statistics(group, version, dataset)
            self._stats_cache[(group.table_name, version)] = cached
        return cached

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
        if spine is None:
            spine_frame = self.read(view.spine, start, end, version=versions.get(view.spine.table_name))
        else:
            missing = [c for c in view.spine.key if c not in spine.columns]
            if missing:
                raise ValueError(f"spine frame for view {view.name!r} lacks column(s) {missing}")
            spine_frame = rel.normalise(spine, view.spine)
        sources: dict[str, rel.Source | None] = {}
        for join in view.joins:
            name = join.group.table_name
            visible = self.exists(join.group) and (not pinned or name in versions)
            sources[name] = self._snapshot(join.group, versions.get(name))[1] if visible else None
        return rel.as_of_join(view, spine_frame, sources)

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
        split = rel.normalised_split(split)
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
                start=rel.to_utc(start) if start else None,
                end=rel.to_utc(end) if end else None,
                table_versions=pinned,
                split=split,
                created_at=datetime.now(UTC),
                row_count=len(frame),
                data_sha256=rel.frame_sha256(frame),
                description=description,
            )
            _atomic_write_text(directory / f"{meta.version}.json", rel.meta_to_json(meta))
        log.info(
            "training dataset %s v%d: %d rows, tables %s", view.name, meta.version, meta.row_count, pinned
        )
        return meta

    def _load_meta(self, path: Path) -> TrainingDatasetMeta:
        return rel.meta_from_json(path.read_text())

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
        return rel.split_by_time(meta, frame, view.spine.event_time)
