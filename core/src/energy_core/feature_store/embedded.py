"""The embedded feature store: Delta Lake tables (deltalake) queried with DuckDB, under ENERGY_HOME.

Kept thin on purpose: storage, ACID commits, schema enforcement and time travel are Delta Lake's;
filters and as-of joins are DuckDB's (`ASOF LEFT JOIN` over Arrow datasets, no extension needed).
This module maps the feature-store concepts onto them:

- one Delta table per feature group version (`tables/<name>_v<version>`);
- `insert` validates with the group's pandera schema, then computes, in DuckDB, which rows are new
  or changed against the rows already stored for the batch's event-time range. Unchanged rows are
  skipped (so re-inserting a batch creates no new version); new rows are appended; when some rows
  change, the event-time window they span is rewritten (`write_deltalake(predicate=...)`) with the
  stored rows plus the changes. `delete` rewrites its window the same way. Either way the batch
  lands in exactly one Delta commit, or not at all;
- every file is written from an Arrow table cast to the group's declared schema. Delta MERGE and
  DELETE are not used: deltalake 1.x writes their output with `string_view` columns, which
  pyarrow's dataset filters cannot compare with `string` (release 1 broke every filtered read of a
  revised table that way). Files written like that by release 1 are read through a cast, and
  rewritten when the store is upgraded;
- `STORE_FORMAT.json` records the store's format version and, per table, a fingerprint of the
  schema it was written for. Opening a table written for another schema adds new nullable columns
  in place (no row changes) and otherwise refuses, naming `energy-admin migrate`;
- writers to one table serialise on an OS file lock (`locks/<table>.lock`), which makes
  concurrent processes safe without relying on Delta's optimistic-concurrency retries;
- a long-lived instance (the hourly workers) keeps each small table's two newest versions' rows in
  memory, per immutable data file, so a new version costs a read of its new files only and a read
  pinned one version behind (the hourly jobs' while the next ingest commits) none (`_cached_rows`), and
  keeps its handles current with one stat of the next commit file instead of reopening them;
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
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from deltalake import DeltaTable, Field, WriterProperties, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from energy_core.feature_store import relational as rel
from energy_core.feature_store.base import (
    EVERY_EVENT_TIME,
    DeleteResult,
    FeatureGroupNotFound,
    FeatureGroupStatistics,
    FeatureStore,
    FeatureStoreError,
    FeatureStoreUnavailable,
    FeatureValidationError,
    InsertResult,
    Split,
    StoreFormatError,
    TrainingData,
    TrainingDatasetMeta,
    TrainingDatasetNotFound,
    ValidatedBatch,
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
# The newest versions' rows of a table whose data files total at most this many bytes on disk are kept
# in memory (see `_cached_rows`); larger tables are scanned from disk on every read.
_MEMORY_CACHE_MAX_BYTES = 16 * 2**20
# How many of a table's newest versions keep their rows in memory: the latest and the one before,
# which the hourly jobs read pinned while the next hour's ingest commits (see `_snapshot`).
_VERSIONS_IN_MEMORY = 2
# Results of reads at a pinned table version kept in memory (least recently used dropped first).
_PINNED_READS_KEPT = 8
# Versions whose data files' event-time ranges are kept (`_file_spans`).
_SPANS_KEPT = 8
_VersionKey = tuple[int, tuple[int, int] | None]  # (table version, identity of its first commit)
# Format 1: release 1 (no STORE_FORMAT.json; revised tables hold string_view files). Format 2: every
# file has the declared physical types and each table's schema fingerprint is recorded.
STORE_FORMAT_VERSION = 2
STORE_FORMAT_FILE = "STORE_FORMAT.json"
MIGRATE_HINT = "run `energy-admin migrate` (see docs/operations.md)"


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


@contextlib.contextmanager
def _write_failures(
    group: FeatureGroupSpec, operation: str, version_before: Callable[[], int | None]
) -> Iterator[None]:
    """Turn a failed Delta write (full disk, permissions, I/O) into one clear store error.

    Delta commits are atomic: a write that fails before its commit leaves the table at the version
    it had, so the message can say exactly that and what to do. That version is read only on a
    failure (`version_before`): the caller holds the table's writer lock, so it is still the one
    the write started from.
    """
    try:
        yield
    except (DeltaError, OSError) as exc:
        text = str(exc)
        hint = (
            "free disk space in ENERGY_HOME and re-run"
            if ("No space left" in text or "os error 28" in text or getattr(exc, "errno", None) == errno.ENOSPC)
            else "fix the cause and re-run"
        )
        try:
            before = version_before()
        except Exception:  # the message must not fail on a table it cannot read
            before = None
        at = f"stays at table version {before}" if before is not None else "was not created"
        first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise FeatureStoreUnavailable(
            f"{operation} of feature group {group.name!r} failed, nothing was written (the table {at}): "
            f"{first_line[:300]}; {hint}"
        ) from exc


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
        # One handle per table for writers, used only under the table's writer lock (which also
        # serialises this process's threads), so it needs no other lock; dropped after a failure.
        self._writer_handles: dict[str, tuple[DeltaTable, tuple[int, int] | None]] = {}
        self._handle_births: dict[str, tuple[int, int] | None] = {}
        # Tables whose format this instance has checked (and upgraded if needed), and whether a
        # (table, version)'s files all carry the declared physical types (files never change).
        self._prepared: set[str] = set()
        self._conforming: dict[tuple[str, int], bool] = {}
        # In-memory rows of each table's newest versions, per data file and concatenated (see
        # `_cached_rows`): table name -> {file: rows} (the files those versions list), and table
        # name -> {(version, birth): (all rows, the version's files)}, oldest version first.
        self._file_rows: dict[str, dict[str, pa.Table]] = {}
        self._version_rows: dict[str, dict[_VersionKey, tuple[pa.Table, tuple[str, ...]]]] = {}
        self._rows_lock = threading.Lock()
        self._pinned_reads: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()
        # (table, version) -> (birth, each data file's event-time range) (`changed_event_times`).
        self._spans: OrderedDict[tuple[str, int], tuple[Any, dict[str, tuple[datetime, datetime] | None]]] = (
            OrderedDict()
        )

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

    def _snapshot(self, group: FeatureGroupSpec, version: int | None = None) -> tuple[int, rel.Source]:
        """A consistent (version, rows) pair to read from. Latest-version reads reuse one
        handle per table, refreshed incrementally under a lock (delta-rs handles are not safe to
        mutate while another thread uses them); writers always open fresh handles. A pinned
        `version` that is still the latest is read the same way, from memory. An older one opens
        a handle of its own; it is read from memory too when it is one of the newest
        `_VERSIONS_IN_MEMORY` versions (`_cached_rows`): the hourly jobs pin the versions their
        hour's ingest left while the next hour's ingest may already have committed, so they read the
        version before the latest. Older ones (a training dataset's pins) are scanned from disk and
        leave the memory alone."""
        self._prepare(group)
        with self._handles_lock:
            handle = self._latest_handle(group)
            latest = int(handle.version())
            if version is None or latest == version:
                return latest, self._source(group, handle, cache=True)
        with self._rows_lock:
            hit = self._version_rows.get(group.table_name, {}).get((version, self._birth(group)))
        if hit is not None:
            return version, hit[0]
        dt = self._open(group, version)
        recent = version > latest - _VERSIONS_IN_MEMORY  # one of the versions memory holds
        return int(dt.version()), self._source(group, dt, cache=recent)

    def _latest_handle(self, group: FeatureGroupSpec) -> DeltaTable:
        """The shared handle of `group`'s table at its latest version (caller holds _handles_lock).

        Delta commits are the consecutive files `_delta_log/<version>.json`, each created whole, so
        when the handle's next commit file does not exist the handle is current: one stat instead
        of an incremental log read per access."""
        name = group.table_name
        handle = self._handles.get(name)
        birth = self._birth(group)
        if handle is None or birth is None or birth != self._handle_births.get(name):
            handle = self._handles[name] = self._open(group)
            self._handle_births[name] = birth
        else:
            self._refresh(group, handle)
        return handle

    def _birth(self, group: FeatureGroupSpec) -> tuple[int, int] | None:
        """The identity (inode, mtime) of the table's first commit file: it changes only if the table
        was replaced (a restore), which no incremental update could follow; None if absent."""
        try:
            first = (self._table_path(group) / "_delta_log" / f"{0:020d}.json").stat()
        except OSError:
            return None
        return first.st_ino, first.st_mtime_ns

    def _refresh(self, group: FeatureGroupSpec, handle: DeltaTable) -> None:
        """Advance `handle` to the table's latest version if another writer committed since."""
        if (self._table_path(group) / "_delta_log" / f"{int(handle.version()) + 1:020d}.json").exists():
            handle.update_incremental()

    @contextlib.contextmanager
    def _writer_handle(self, group: FeatureGroupSpec) -> Iterator[DeltaTable]:
        """The table at its latest version for a writer holding the table's lock. A write advances
        the handle to its own commit; a failed one may leave it anywhere, so it is dropped."""
        kept = self._writer_handles.pop(group.table_name, None)
        birth = self._birth(group)
        if kept is None or birth is None or kept[1] != birth:
            handle = self._open(group)
        else:
            handle = kept[0]
            self._refresh(group, handle)
        yield handle
        self._writer_handles[group.table_name] = (handle, birth)  # not reached when the write raised

    def _source(self, group: FeatureGroupSpec, dt: DeltaTable, cache: bool = False) -> rel.Source:
        """The table's rows as a lazily scanned dataset when every file has the declared types
        (filters are pushed down), else materialised and cast to them, so no read (pyarrow filter or
        DuckDB scan) ever depends on which operation or release wrote a file. `cache`: `dt` is one
        of the table's newest versions, whose rows may come from memory (`_cached_rows`)."""
        if cache:
            cached = self._cached_rows(group, dt)
            if cached is not None:
                return cached
        dataset = dt.to_pyarrow_dataset()
        if self._conforms(group, dt, dataset.schema):
            return dataset
        return rel.conform(dataset.to_table(), group)

    def _cached_rows(self, group: FeatureGroupSpec, dt: DeltaTable) -> pa.Table | None:
        """All rows of `dt`'s version in the declared types, from memory; None when not cacheable.

        Why it is exact: a Delta version's rows are the rows of the data files its log lists, and a
        data file is immutable and uniquely named (a revision or compaction writes new files and
        removes old ones from the log). So each file is read from disk once, a new version reads
        only its new files, and files no held version lists are dropped. The newest
        `_VERSIONS_IN_MEMORY` versions are held (two copies at most: the latest and the one the
        hourly jobs may still read pinned). Only plain tables qualify (reader protocol 1: no
        deletion vectors or column mapping; no partition columns, whose values live in paths) of at
        most _MEMORY_CACHE_MAX_BYTES on local disk."""
        key = (int(dt.version()), self._birth(group))  # a restored table may repeat version numbers
        name = group.table_name
        with self._rows_lock:
            hit = self._version_rows.get(name, {}).get(key)
            if hit is not None:
                return hit[0]
        if dt.protocol().min_reader_version > 1 or dt.metadata().partition_columns:
            return None
        uris = tuple(dt.file_uris())
        try:
            if any("://" in uri for uri in uris) or sum(Path(u).stat().st_size for u in uris) > _MEMORY_CACHE_MAX_BYTES:
                return None
        except OSError:
            return None  # a file vanished (vacuumed): let the ordinary read report it
        with self._rows_lock:
            known = self._file_rows.get(name, {})
            files = {uri: known[uri] if uri in known else rel.conform(pq.read_table(uri), group) for uri in uris}
            rows = pa.concat_tables(files.values()).combine_chunks() if files else rel.arrow_schema(group).empty_table()
            offset = 0
            for uri, part in files.items():  # each file's rows as a view into `rows`: one copy per version
                files[uri] = rows.slice(offset, part.num_rows)
                offset += part.num_rows
            held = {k: v for k, v in self._version_rows.get(name, {}).items() if k[1] == key[1]}
            held[key] = (rows, uris)
            held = dict(sorted(held.items(), key=lambda item: item[0][0])[-_VERSIONS_IN_MEMORY:])
            self._version_rows[name] = held
            listed = {uri for _, version_uris in held.values() for uri in version_uris}
            self._file_rows[name] = {uri: part for uri, part in {**known, **files}.items() if uri in listed}
        return rows

    def _conforms(self, group: FeatureGroupSpec, dt: DeltaTable, logical: pa.Schema) -> bool:
        key = (group.table_name, int(dt.version()))
        cached = self._conforming.get(key)
        if cached is None:
            declared = rel.arrow_schema(group)
            cached = set(declared.names) <= set(logical.names) and all(
                rel.conforms(pq.read_schema(uri), declared) for uri in dt.file_uris()
            )
            self._conforming[key] = cached
        return cached

    # -- store format ----------------------------------------------------------------------------
    @property
    def format_path(self) -> Path:
        return self.root / STORE_FORMAT_FILE

    def read_format(self) -> dict[str, Any]:
        """The store's format record; a store with tables but no record is release 1 (format 1).

        Raises StoreFormatError when a newer release wrote the store: this code must not touch it."""
        if self.format_path.exists():
            record: dict[str, Any] = json.loads(self.format_path.read_text())
        else:
            has_tables = (self.root / "tables").is_dir() and any((self.root / "tables").iterdir())
            record = {"format_version": 1 if has_tables else STORE_FORMAT_VERSION, "tables": {}}
        found = int(record.get("format_version", 0))
        if found > STORE_FORMAT_VERSION:
            raise StoreFormatError(
                f"feature store {self.root} has format {found}, written by a newer release; this code "
                f"reads format {STORE_FORMAT_VERSION} at most: upgrade energy-core (nothing was changed)"
            )
        record.setdefault("tables", {})
        return record

    def _record_table(self, group: FeatureGroupSpec, upgraded_from: str | None = None) -> None:
        """Note in STORE_FORMAT.json that `group`'s table matches its declaration (format 2)."""
        with _file_lock(self._lock_path("STORE_FORMAT"), self.lock_timeout_s):
            record = self.read_format()
            entry: dict[str, Any] = {
                "fingerprint": rel.schema_fingerprint(group),
                "columns": list(group.columns),
                "recorded_at": datetime.now(UTC).isoformat(),
            }
            if upgraded_from:
                entry["upgraded_from"] = upgraded_from
            record["tables"][group.table_name] = entry
            record["format_version"] = STORE_FORMAT_VERSION
            _atomic_write_json(self.format_path, record)
        self._prepared.add(group.table_name)

    def _prepare(self, group: FeatureGroupSpec) -> None:
        """Check, once per instance, that the group's table was written for this declaration and
        upgrade it in place if the difference is additive. Cheap when it is: one small JSON read."""
        if group.table_name in self._prepared:
            return
        record = self.read_format()
        if not self.exists(group):
            return
        entry = record["tables"].get(group.table_name)
        if entry is None or entry.get("fingerprint") != rel.schema_fingerprint(group):
            with _file_lock(self._lock_path(group.table_name), self.lock_timeout_s):
                self._upgrade_table(group, rewrite=False)
        self._prepared.add(group.table_name)

    def _upgrade_table(self, group: FeatureGroupSpec, rewrite: bool) -> str:
        """Bring one table to this release's format (caller holds its writer lock); says what it did.

        Without `rewrite` only lossless in-place changes are made: new nullable columns are added
        (Delta schema evolution, no row rewritten), and files whose physical types are not the
        declared ones are rewritten with the same rows. Anything else (a retyped, removed or new
        required column) raises StoreFormatError; `rewrite=True` (energy-admin migrate) rewrites the
        table with a safe cast, which still refuses any change that would lose or invent values."""
        dt = self._open(group)
        stored = dt.to_pyarrow_dataset().schema
        diff = rel.schema_diff(group, stored)
        where = f"feature group {group.name!r} ({self._table_path(group)})"
        if diff.removed:
            raise StoreFormatError(
                f"{where} has column(s) {list(diff.removed)} this release does not declare: it was written "
                "by a newer release or for another schema; upgrade energy-core (nothing was changed)"
            )
        if diff.added_required:
            raise StoreFormatError(
                f"{where}: this release declares required column(s) {list(diff.added_required)} that the "
                "stored rows have no values for; no automatic migration can invent them (nothing was changed)"
            )
        if diff.retyped and not rewrite:
            raise StoreFormatError(f"{where} was written for another schema ({diff.describe()}): {MIGRATE_HINT}")
        done: list[str] = []
        if diff.retyped:
            try:
                rows = rel.conform(dt.to_pyarrow_dataset().to_table(), group)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise StoreFormatError(f"{where}: cannot convert without loss ({diff.describe()}): {exc}") from exc
            write_deltalake(dt, rows, mode="overwrite", schema_mode="overwrite", writer_properties=_WRITER)
            done.append(f"rewrote {rows.num_rows} rows: {diff.describe()}")
        else:
            if diff.added_nullable:
                declared = rel.arrow_schema(group)
                dt.alter.add_columns([Field.from_arrow(declared.field(n)) for n in diff.added_nullable])
                done.append(f"added nullable column(s) {list(diff.added_nullable)}")
            for name in diff.relaxed_null:
                dt.alter.drop_column_not_null(name)
                done.append(f"column {name!r} made nullable")
            dt = self._open(group)
            if not self._conforms(group, dt, dt.to_pyarrow_dataset().schema):
                rows = rel.conform(dt.to_pyarrow_dataset().to_table(), group)
                write_deltalake(dt, rows, mode="overwrite", writer_properties=_WRITER)
                done.append(f"rewrote {rows.num_rows} rows with the declared physical types")
        summary = "; ".join(done) or "already current"
        self._record_table(group, upgraded_from=summary if done else None)
        if done:
            log.info("upgraded %s to store format %d: %s", group.table_name, STORE_FORMAT_VERSION, summary)
        return summary

    def upgrade(self, group: FeatureGroupSpec, rewrite: bool = False) -> str:
        """`_upgrade_table` under the table's writer lock, for `energy-admin migrate`."""
        self.read_format()
        if not self.exists(group):
            return "no table"
        with _file_lock(self._lock_path(group.table_name), self.lock_timeout_s):
            return self._upgrade_table(group, rewrite=rewrite)

    def format_status(self, group: FeatureGroupSpec) -> dict[str, Any]:
        """What `energy-admin check` reports for one group, without changing anything."""
        record = self.read_format()
        if not self.exists(group):
            return {"table": group.table_name, "state": "absent"}
        dt = self._open(group)
        dataset = dt.to_pyarrow_dataset()
        diff = rel.schema_diff(group, dataset.schema)
        entry = record["tables"].get(group.table_name)
        recorded = entry is not None and entry.get("fingerprint") == rel.schema_fingerprint(group)
        physical = self._conforms(group, dt, dataset.schema)
        if recorded and physical and diff.empty:
            state = "current"
        elif diff.additive:
            state = "upgradable"  # opened by this release, it is upgraded in place
        else:
            state = "needs-migrate"
        return {
            "table": group.table_name,
            "state": state,
            "version": int(dt.version()),
            "schema": diff.describe(),
            "declared_physical_types": physical,
            "recorded": recorded,
        }

    # -- feature groups --------------------------------------------------------------------------
    def exists(self, group: FeatureGroupSpec) -> bool:
        return (self._table_path(group) / "_delta_log").is_dir()

    def table_version(self, group: FeatureGroupSpec) -> int | None:
        if not self.exists(group):
            return None
        with self._handles_lock:
            return int(self._latest_handle(group).version())

    def changed_event_times(
        self, group: FeatureGroupSpec, since_version: int, version: int
    ) -> tuple[datetime, datetime] | None:
        """From the two versions' data files: a Delta version's rows are those of the files its log
        lists, and a data file is immutable and uniquely named, so rows can differ only in files
        listed by one version and not the other (added, removed, or both when rewritten), and the
        log records each file's event-time range. A file without that range (or a table whose
        rows are not just its files: deletion vectors) makes the answer the whole time line."""
        if since_version == version:
            return None
        old, new = self._file_spans(group, since_version), self._file_spans(group, version)
        if old is None or new is None:
            return EVERY_EVENT_TIME
        spans = [old[path] if path in old else new[path] for path in old.keys() ^ new.keys()]
        if not spans:
            return None
        if any(span is None for span in spans):
            return EVERY_EVENT_TIME
        known = [span for span in spans if span is not None]
        return min(span[0] for span in known), max(span[1] for span in known)

    def _file_spans(self, group: FeatureGroupSpec, version: int) -> dict[str, tuple[datetime, datetime] | None] | None:
        """Each data file of `version` with the event-time range of its rows from the Delta log's
        statistics (None: not recorded); None for a version that cannot be read that way. The
        newest few versions' answers are kept: an hourly reader asks for the same version twice,
        as the new end of one span and the old end of the next. A version asked for again after
        its table was replaced (a restore under a running process) answers None (unknown)."""
        key, birth = (group.table_name, version), self._birth(group)
        with self._handles_lock:
            cached = self._spans.get(key)
            if cached is not None:  # the same version of a replaced table (a restore) tells nothing
                return cached[1] if cached[0] == birth else None
            try:
                handle = self._latest_handle(group)
                dt = handle if int(handle.version()) == version else self._open(group, version)
                if dt.protocol().min_reader_version > 1 or dt.metadata().partition_columns:
                    return None
                actions = pa.table(dt.get_add_actions(flatten=True))
            except FeatureStoreError:
                return None
            lo, hi = f"min.{group.event_time}", f"max.{group.event_time}"
            if lo not in actions.column_names or hi not in actions.column_names:
                return None
            spans: dict[str, tuple[datetime, datetime] | None] = {
                str(path): (first, last) if first is not None and last is not None else None
                for path, first, last in zip(
                    actions.column("path").to_pylist(),
                    actions.column(lo).to_pylist(),
                    actions.column(hi).to_pylist(),
                    strict=True,
                )
            }
            self._spans[key] = (birth, spans)
            while len(self._spans) > _SPANS_KEPT:
                self._spans.popitem(last=False)
            return spans

    def insert(self, group: FeatureGroupSpec, frame: pd.DataFrame | ValidatedBatch) -> InsertResult:
        try:
            batch = rel.batch_to_store(group, frame)
        except FeatureValidationError as exc:
            self._record_validation(group, passed=False, rows=len(frame), failures=exc.failures)
            raise
        self._record_validation(group, passed=True, rows=len(batch), failures=pd.DataFrame())
        self._ensure_root()
        self._prepare(group)
        table = rel.to_arrow(group, batch)
        with (
            _file_lock(self._lock_path(group.table_name), self.lock_timeout_s),
            _write_failures(group, "insert", lambda: self.table_version(group)),
        ):
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
                self._record_table(group)
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

    def _rows_between(
        self, group: FeatureGroupSpec, dt: DeltaTable, lo: datetime | None, hi: datetime | None, end_inclusive: bool
    ) -> pa.Table:
        """Stored rows with lo <= event time < hi (<= hi if `end_inclusive`), in declared types.

        Only writers call this, holding the table's lock with `dt` freshly opened: the latest version."""
        et = ds.field(group.event_time)
        parts = []
        if lo is not None:
            parts.append(et >= rel.to_utc(lo))
        if hi is not None:
            parts.append(et <= rel.to_utc(hi) if end_inclusive else et < rel.to_utc(hi))
        expr = parts[0] & parts[1] if len(parts) == 2 else (parts[0] if parts else None)
        source = self._source(group, dt, cache=True)
        dataset = source if isinstance(source, ds.Dataset) else ds.dataset(source)
        return rel.conform(dataset.to_table(filter=expr), group)

    def _upsert(self, group: FeatureGroupSpec, batch: pa.Table) -> InsertResult:
        """New keys are appended; changed keys rewrite the window they span with the stored rows
        of that window plus the changes (one commit, declared types, no MERGE: see module doc)."""
        with self._writer_handle(group) as dt:
            return self._upsert_with(group, dt, batch)

    def _upsert_with(self, group: FeatureGroupSpec, dt: DeltaTable, batch: pa.Table) -> InsertResult:
        lo, hi = rel.event_time_bounds(group, batch)
        existing = self._rows_between(group, dt, lo, hi, end_inclusive=True)
        changed, n_updated = rel.changed_rows(group, batch, existing)
        n_inserted = changed.num_rows - n_updated
        if changed.num_rows == 0:
            return InsertResult(group.name, int(dt.version()), batch.num_rows, 0, 0)
        if n_updated == 0:
            write_deltalake(dt, changed, mode="append", writer_properties=_WRITER)
        else:
            c_lo, c_hi = rel.event_time_bounds(group, changed)
            et = pc.field(group.event_time)
            window = existing.filter((et >= c_lo) & (et <= c_hi))
            write_deltalake(
                dt,
                rel.replace_rows(group, window, changed),
                mode="overwrite",
                predicate=rel.time_window_predicate(group, c_lo, c_hi, end_inclusive=True),
                writer_properties=_WRITER,
            )
        # write_deltalake advanced `dt` to the version it committed
        result = InsertResult(group.name, int(dt.version()), batch.num_rows, n_inserted, n_updated)
        self._maybe_compact(group, dt)
        return result

    def delete(
        self,
        group: FeatureGroupSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        filters: dict[str, Any] | None = None,
    ) -> DeleteResult:
        rel.filter_mask(group, rel.arrow_schema(group).empty_table(), filters)  # unknown column: fail early
        self._ensure_root()
        self._prepare(group)
        with (
            _file_lock(self._lock_path(group.table_name), self.lock_timeout_s),
            _write_failures(group, "delete", lambda: self.table_version(group)),
        ):
            dt = self._open(group)
            window = self._rows_between(group, dt, start, end, end_inclusive=False)
            doomed = rel.filter_mask(group, window, filters)
            n_deleted = int(pc.sum(doomed).as_py() or 0)
            if n_deleted == 0:
                return DeleteResult(group.name, int(dt.version()), 0)
            write_deltalake(
                dt,
                window.filter(pc.invert(doomed)),
                mode="overwrite",
                predicate=rel.time_window_predicate(group, start, end),
                writer_properties=_WRITER,
            )
            version = int(dt.version())  # write_deltalake advanced `dt` to the version it committed
        log.info(
            "delete %s: %d rows in [%s, %s) %s, table version %d",
            group.table_name,
            n_deleted,
            start,
            end,
            filters or {},
            version,
        )
        return DeleteResult(group.name, version, n_deleted)

    def compact(self, group: FeatureGroupSpec) -> int:
        """Z-order the table now, whatever its file count (maintenance); returns the table version."""
        self._prepare(group)
        with _file_lock(self._lock_path(group.table_name), self.lock_timeout_s):
            dt = self._open(group)
            self._maybe_compact(group, dt, min_files=1)
            return int(dt.version())

    def _maybe_compact(self, group: FeatureGroupSpec, dt: DeltaTable, min_files: int = _COMPACT_AFTER_FILES) -> None:
        """Z-order the table on its key when small files pile up (caller holds the writer lock).

        Rows and their values do not change; the new version only reorganises files, so reads
        stay fast and earlier versions stay readable for pinned training datasets. The rewritten
        files carry the declared physical types (deltalake's optimize keeps the table's types).
        `dt` is the table's latest version (the writer's handle) and is advanced past the compaction."""
        if len(dt.file_uris()) < min_files:
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
        if version is None:
            return rel.scan(group, self._snapshot(group, version)[1], start, end, filters, columns)
        # A pinned version's rows never change, so the same read is answered from memory (batch
        # prediction reads its champion's training series this way every hour).
        key = (group.table_name, self._birth(group), version, start, end, repr(sorted((filters or {}).items())),
               tuple(columns or ()))  # fmt: skip
        with self._rows_lock:
            hit = self._pinned_reads.get(key)
            if hit is not None:
                self._pinned_reads.move_to_end(key)
                return hit.copy()
        frame = rel.scan(group, self._snapshot(group, version)[1], start, end, filters, columns)
        with self._rows_lock:
            self._pinned_reads[key] = frame.copy()
            while len(self._pinned_reads) > _PINNED_READS_KEPT:
                self._pinned_reads.popitem(last=False)
        return frame

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
        log.info("training dataset %s v%d: %d rows, tables %s", view.name, meta.version, meta.row_count, pinned)
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
