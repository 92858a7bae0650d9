"""`energy-admin`: back up, restore, check and migrate an embedded ENERGY_HOME.

Why these live in core: the feature store's locks and format record, and the MLflow SQLite file,
are core's; a copy taken without them (a plain `cp -r` while a job writes) can hold half a Delta
commit or a torn SQLite page. Here:

- `backup DEST` copies the feature store under every table's writer lock (so each table, and the
  training-dataset records that pin their versions, are one consistent moment), the MLflow
  database with SQLite's online backup API, then the MLflow artifacts, `state/` and `quarantine/`,
  and writes `manifest.json` (table versions, size and SHA-256 of every file). It writes into a
  temporary folder and renames it at the end, so DEST is complete or absent.
- `restore SRC` verifies every checksum first, refuses a non-empty ENERGY_HOME unless `--force`,
  and swaps the restored folders in only once all are copied. Absolute artifact locations recorded
  by MLflow under the old home are rewritten to the new one, so a restored home is portable.
- `check` reports each feature group's storage format; `migrate` upgrades every table (see
  `EmbeddedFeatureStore.upgrade`), refusing, table by table, any change that would lose values.

`logs/` and `wandb/` are not backed up: they are diagnostics, not state.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deltalake import DeltaTable

from energy_core.feature_store.base import FeatureStoreError
from energy_core.feature_store.embedded import (
    STORE_FORMAT_VERSION,
    EmbeddedFeatureStore,
    _file_lock,
)
from energy_core.schemas import FEATURE_GROUPS, FeatureGroupSpec
from energy_core.settings import FeatureStoreSettings, RegistrySettings, SettingsError, load

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
BACKUP_FORMAT = 1
# Folders of ENERGY_HOME that hold state, in restore order. The MLflow database is handled apart.
_COPIED = ("feature_store", "mlflow/artifacts", "state", "quarantine")
_MLFLOW_DB = "mlflow/mlflow.db"
# MLflow columns that may hold an absolute artifact location under the old home.
_ARTIFACT_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
    ("logged_models", "artifact_location"),
)


class MaintenanceError(RuntimeError):
    """A backup, restore or migration refused or failed; nothing was half-done. Says what to do."""


@dataclass
class Manifest:
    """What a backup holds: enough to verify it and to know which table versions it froze."""

    created_at: str
    source_home: str
    store_format: int
    table_versions: dict[str, int] = field(default_factory=dict)
    mlflow_db: bool = False
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # relative path -> size, sha256
    backup_format: int = BACKUP_FORMAT


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_empty_dir(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


@contextlib.contextmanager
def _all_table_locks(store_root: Path, timeout_s: float) -> Iterator[list[str]]:
    """Every table's writer lock plus the format record's, taken in name order (so two backups
    cannot deadlock). Writers wait; readers are never blocked."""
    tables = sorted(p.name for p in (store_root / "tables").iterdir() if p.is_dir()) if (
        store_root / "tables"
    ).is_dir() else []
    with contextlib.ExitStack() as stack:
        for name in [*tables, "STORE_FORMAT"]:
            stack.enter_context(_file_lock(store_root / "locks" / f"{name}.lock", timeout_s))
        yield tables


def _copy_store(store_root: Path, dest: Path, timeout_s: float) -> dict[str, int]:
    with _all_table_locks(store_root, timeout_s) as tables:
        shutil.copytree(store_root, dest, ignore=shutil.ignore_patterns("locks", "*.tmp"))
        return {name: int(DeltaTable(str(dest / "tables" / name)).version()) for name in tables}


def _sqlite_backup(source: Path, dest: Path) -> None:
    """A transactionally consistent copy even while MLflow writes (SQLite online backup API)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, contextlib.closing(
        sqlite3.connect(dest)
    ) as dst:
        src.backup(dst)


def backup(home: Path, dest: Path, lock_timeout_s: float = 120.0) -> Manifest:
    """Copy ENERGY_HOME's state to `dest` (absent or empty) and return the manifest written there."""
    home, dest = home.resolve(), dest.resolve()
    if not home.is_dir():
        raise MaintenanceError(f"ENERGY_HOME {home} does not exist: nothing to back up")
    if not _is_empty_dir(dest):
        raise MaintenanceError(f"backup destination {dest} is not empty: choose a new folder")
    if dest == home or home in dest.parents:
        raise MaintenanceError(f"backup destination {dest} is inside ENERGY_HOME {home}: choose a folder outside it")
    staging = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        manifest = Manifest(
            created_at=datetime.now(UTC).isoformat(), source_home=str(home), store_format=STORE_FORMAT_VERSION
        )
        store_root = home / "feature_store"
        if store_root.is_dir():
            store = EmbeddedFeatureStore(store_root, lock_timeout_s=lock_timeout_s)
            manifest.store_format = int(store.read_format()["format_version"])
            manifest.table_versions = _copy_store(store_root, staging / "feature_store", lock_timeout_s)
        # The database before the artifacts: every artifact it refers to is then in the copy.
        if (home / _MLFLOW_DB).is_file():
            _sqlite_backup(home / _MLFLOW_DB, staging / _MLFLOW_DB)
            manifest.mlflow_db = True
        for part in _COPIED[1:]:
            if (home / part).is_dir():
                shutil.copytree(home / part, staging / part)
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            rel_path = path.relative_to(staging).as_posix()
            manifest.files[rel_path] = {"size": path.stat().st_size, "sha256": _sha256(path)}
        (staging / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2))
        if dest.exists():
            dest.rmdir()
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("backup of %s to %s: %d files, tables %s", home, dest, len(manifest.files), manifest.table_versions)
    return manifest


def read_manifest(source: Path) -> Manifest:
    """The manifest of a backup, after checking every listed file's size and SHA-256."""
    path = source / MANIFEST
    if not path.is_file():
        raise MaintenanceError(f"{source} is not a backup: it has no {MANIFEST}")
    manifest = Manifest(**json.loads(path.read_text()))
    if manifest.backup_format > BACKUP_FORMAT:
        raise MaintenanceError(f"backup {source} has format {manifest.backup_format}: restore it with a newer release")
    bad = []
    for rel_path, info in manifest.files.items():
        file = source / rel_path
        if not file.is_file() or file.stat().st_size != info["size"] or _sha256(file) != info["sha256"]:
            bad.append(rel_path)
    if bad:
        raise MaintenanceError(
            f"backup {source} is damaged, nothing restored: {len(bad)} file(s) differ, e.g. {bad[:5]}"
        )
    return manifest


def _rehome_artifacts(db: Path, old_home: str, new_home: Path) -> int:
    """Point absolute artifact locations under the old home at the same place under the new one."""
    changed = 0
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        for table, column in _ARTIFACT_COLUMNS:
            columns = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                continue
            for old, new in ((f"file://{old_home}/", f"file://{new_home}/"), (f"{old_home}/", f"{new_home}/")):
                cur = con.execute(
                    f"UPDATE {table} SET {column} = {new!r} || substr({column}, {len(old) + 1}) "
                    f"WHERE substr({column}, 1, {len(old)}) = ?",
                    (old,),
                )
                changed += cur.rowcount
    return changed


def restore(source: Path, home: Path, force: bool = False) -> Manifest:
    """Restore a backup into ENERGY_HOME; refuses a home that holds state unless `force`."""
    source, home = source.resolve(), home.resolve()
    manifest = read_manifest(source)
    parts = [*_COPIED, _MLFLOW_DB]
    present = [p for p in parts if (home / p).exists()]
    if present and not force:
        raise MaintenanceError(
            f"ENERGY_HOME {home} already holds {present}: restore into an empty home, or pass --force to replace them"
        )
    home.mkdir(parents=True, exist_ok=True)
    staging = home / f".restore-partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns(MANIFEST))
        if manifest.mlflow_db:
            _rehome_artifacts(staging / _MLFLOW_DB, manifest.source_home, home)
        for part in parts:  # every copy is complete before the first swap
            target = home / part
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            if (staging / part).exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                (staging / part).rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("restored %s into %s: tables %s", source, home, manifest.table_versions)
    return manifest


def _known_groups() -> dict[str, FeatureGroupSpec]:
    return {g.table_name: g for g in FEATURE_GROUPS}


def check(store: EmbeddedFeatureStore) -> list[dict[str, Any]]:
    """Each table's format state (`current`, `upgradable`, `needs-migrate`, `unknown`); changes nothing."""
    known = _known_groups()
    report = [store.format_status(g) for g in known.values() if store.exists(g)]
    tables = store.root / "tables"
    for path in sorted(tables.iterdir()) if tables.is_dir() else []:
        if path.name not in known:
            report.append({"table": path.name, "state": "unknown", "schema": "no feature group declares it"})
    return report


def migrate(store: EmbeddedFeatureStore) -> dict[str, str]:
    """Upgrade every declared table; each table is all-or-nothing, a refusal names the table."""
    done: dict[str, str] = {}
    failed: dict[str, str] = {}
    for group in _known_groups().values():
        if not store.exists(group):
            continue
        try:
            done[group.table_name] = store.upgrade(group, rewrite=True)
        except FeatureStoreError as exc:
            failed[group.table_name] = str(exc)
    if failed:
        raise MaintenanceError(
            "migration refused for " + "; ".join(f"{t}: {m}" for t, m in failed.items()) + f" (done: {done})"
        )
    return done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="energy-admin", description=__doc__.split("\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("backup", help="copy ENERGY_HOME's state to a new folder").add_argument("dest", type=Path)
    restore_cmd = sub.add_parser("restore", help="restore a backup into ENERGY_HOME")
    restore_cmd.add_argument("source", type=Path)
    restore_cmd.add_argument("--force", action="store_true", help="replace the state ENERGY_HOME already holds")
    sub.add_parser("check", help="report each feature store table's format")
    sub.add_parser("migrate", help="upgrade every feature store table to this release's format")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load(FeatureStoreSettings)
        if args.command in ("backup", "restore") and not load(RegistrySettings).is_embedded:
            log.warning("MLFLOW_TRACKING_URI points to a server: back it up there; only its local files are copied")
        if args.command == "backup":
            manifest = backup(settings.home, args.dest, settings.lock_timeout_s)
            print(json.dumps({"backup": str(args.dest), "tables": manifest.table_versions,
                              "files": len(manifest.files)}, indent=2))
        elif args.command == "restore":
            manifest = restore(args.source, settings.home, force=args.force)
            print(json.dumps({"restored": str(settings.home), "tables": manifest.table_versions}, indent=2))
        else:
            store = EmbeddedFeatureStore(settings.root, lock_timeout_s=settings.lock_timeout_s)
            if args.command == "check":
                report = check(store)
                print(json.dumps(report, indent=2, default=str))
                return 0 if all(r["state"] in ("current", "upgradable") for r in report) else 1
            print(json.dumps(migrate(store), indent=2))
    except (MaintenanceError, FeatureStoreError, SettingsError) as exc:
        print(f"energy-admin {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
