"""A full disk under ENERGY_HOME: the write fails with a clear error and no table is torn.

The disk is a real, tiny tmpfs mounted for the test (root only; skipped with the reason where
mounting is not permitted), filled with a filler file until only a few KiB are free, so a
backfill fails in the middle of its writes. Then: the command exits non-zero with a one-line
reason naming the lack of space (no traceback), every table reads back its previous version
completely, no watermark moved, and once space is freed the same command completes and the
store equals one that never saw a full disk. Nothing is mocked.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from energy_core.schemas import ENERGY_CONSUMPTION, FEATURE_GROUPS

from .support import (
    Command,
    assert_same_store,
    group_rows,
    run_captured,
    store_of,
    watermarks,
)

pytestmark = pytest.mark.slow

DISK_SIZE = "8m"
FREE_BYTES = 16 * 1024  # far less than the second backfill writes, more than a lock file needs
FIRST = ("2023-01-10T00:00Z", "2023-01-13T00:00Z")
SECOND = ("2023-01-13T00:00Z", "2023-01-24T00:00Z")  # one 11-day chunk: ~10x the free space


def backfill(snapshot: Path, window: tuple[str, str]) -> Command:
    start, end = window
    return Command(("feature-pipeline", "backfill", "--start", start, "--end", end, "--chunk-days", "11",
                    "--no-progress"), snapshot)  # fmt: skip


def succeed(command: Command, home: Path) -> None:
    result = run_captured(command, home)
    assert result.returncode == 0, f"{command.label} exited {result.returncode}\n{result.stderr[-4000:]}"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A DISK_SIZE tmpfs mounted on a fresh folder, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("a full disk needs a tmpfs mount, which needs root and mount(8); not available here")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)


def fill(disk: Path, leave_free: int) -> Path:
    """Write a filler file until the disk refuses, then give back `leave_free` bytes."""
    filler = disk / "filler"
    block = b"\0" * (64 * 1024)
    with filler.open("wb", buffering=0) as fh:
        while True:
            try:
                fh.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    os.truncate(filler, max(0, filler.stat().st_size - leave_free))
    return filler


def test_a_backfill_on_a_full_disk_fails_clearly_tears_no_table_and_completes_once_space_is_freed(
    snapshot: Path, tiny_disk: Path, tmp_path: Path
) -> None:
    home = tiny_disk / "home"
    home.mkdir()
    succeed(backfill(snapshot, FIRST), home)
    store = store_of(home)
    before = {g.name: (store.table_version(g), group_rows(store, g)) for g in FEATURE_GROUPS if store.exists(g)}
    marks = watermarks(home)

    filler = fill(tiny_disk, FREE_BYTES)
    failed = run_captured(backfill(snapshot, SECOND), home)
    filler.unlink()

    output = failed.stdout + failed.stderr
    assert failed.returncode != 0, "the backfill succeeded on a full disk"
    assert "No space left on device" in output, f"the error does not name the full disk:\n{output[-3000:]}"
    assert "Traceback (most recent call last)" not in output, (
        f"a full disk should end with a one-line reason (exit 1), not a traceback:\n{output[-3000:]}"
    )

    store = store_of(home)  # a fresh process's view of the disk
    for group in FEATURE_GROUPS:
        if group.name not in before:
            assert not store.exists(group), f"{group.name}: a table appeared from the failed backfill"
            continue
        version, rows = before[group.name]
        group_rows(store, group)  # the latest version reads back completely (no missing file)
        assert group_rows(store, group, version=version).equals(rows), f"{group.name} v{version} changed"
    version, rows = before[ENERGY_CONSUMPTION.name]
    assert store.table_version(ENERGY_CONSUMPTION) == version, "the failed leaves insert left a commit"
    assert group_rows(store, ENERGY_CONSUMPTION).equals(rows)
    assert watermarks(home) == marks, "a watermark moved although the backfill failed"

    succeed(backfill(snapshot, SECOND), home)
    reference = tmp_path / "reference"
    reference.mkdir()
    succeed(backfill(snapshot, FIRST), reference)
    succeed(backfill(snapshot, SECOND), reference)
    assert_same_store(home, reference, "after the full disk was freed")
