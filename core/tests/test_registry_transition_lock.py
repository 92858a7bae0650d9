"""The registry's transition lock: one holder at a time across registry instances, threads and
processes, re-entrant within a thread, with a clear error on timeout. Nothing is mocked: a real
SQLite registry in a temporary ENERGY_HOME (the server's tag lease is exercised on it too, since
registered-model tags behave the same on both backends)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from energy_core.registry import RegistryUnavailable
from energy_core.registry.mlflow_registry import TRANSITION_LEASE_TAG, MlflowModelRegistry
from energy_core.settings import RegistrySettings


def registry(home: Path) -> MlflowModelRegistry:
    return MlflowModelRegistry(RegistrySettings(ENERGY_HOME=home, MLFLOW_TRACKING_URI=None))  # type: ignore[call-arg]


def test_a_second_holder_waits_for_the_first_and_times_out_naming_the_lock(tmp_path: Path) -> None:
    first, second = registry(tmp_path), registry(tmp_path)
    refused = pytest.raises(RegistryUnavailable, match="transition lock")
    with first.transition_lock(), refused, second.transition_lock(timeout_s=0.1):
        pass
    with second.transition_lock(timeout_s=1):
        pass


def test_the_lock_is_reentrant_within_a_thread_but_not_across_threads(tmp_path: Path) -> None:
    shared = registry(tmp_path)
    other_thread: list[BaseException] = []

    def try_from_another_thread() -> None:
        try:
            with shared.transition_lock(timeout_s=0.1):
                pass
        except RegistryUnavailable as exc:
            other_thread.append(exc)

    with shared.transition_lock(), shared.transition_lock(timeout_s=0.1):
        thread = threading.Thread(target=try_from_another_thread)
        thread.start()
        thread.join(30)
    assert len(other_thread) == 1
    with shared.transition_lock(timeout_s=1):  # fully released after the nested exit
        pass


def test_another_process_cannot_take_the_lock_while_it_is_held(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from energy_core.registry.mlflow_registry import MlflowModelRegistry\n"
        "from energy_core.settings import RegistrySettings\n"
        "r = MlflowModelRegistry(RegistrySettings(ENERGY_HOME=Path(sys.argv[1]), MLFLOW_TRACKING_URI=None))\n"
        "with r.transition_lock(timeout_s=0.2):\n"
        "    print('acquired')\n"
    )
    holder = registry(tmp_path)
    with holder.transition_lock():
        blocked = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert blocked.returncode != 0 and "transition lock" in blocked.stderr
    free = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert free.returncode == 0 and "acquired" in free.stdout


def test_the_server_lease_excludes_a_second_holder_and_is_removed_on_release(tmp_path: Path) -> None:
    first, second = registry(tmp_path), registry(tmp_path)
    refused = pytest.raises(RegistryUnavailable, match=TRANSITION_LEASE_TAG)
    with first._tag_lease(timeout_s=5), refused, second._tag_lease(timeout_s=0.1):
        pass
    assert TRANSITION_LEASE_TAG not in first._client.get_registered_model(first._name).tags
    with second._tag_lease(timeout_s=5):
        pass


def test_an_expired_server_lease_of_a_dead_holder_is_taken_over(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    reg._ensure_registered_model()
    reg._client.set_registered_model_tag(reg._name, TRANSITION_LEASE_TAG, f"dead-holder {time.time() - 3600}")
    with reg._tag_lease(timeout_s=5):
        holder = reg._client.get_registered_model(reg._name).tags[TRANSITION_LEASE_TAG]
        assert not holder.startswith("dead-holder")
