"""kill -9 at a seeded random point of backfill, run, train and predict, then run the same command
again to completion: the home must end exactly as an uninterrupted run left it.

"Exactly" means: every feature group's rows (sorted by key, values compared exactly; only the
catalogue's wall-clock `registered_at` is left out), the feature pipeline's watermarks and, where
a registry exists, the champion's backtest metrics, model and training-data hash, no MLflow run
left RUNNING and no registered version without a gate decision. Version numbers may differ (a
killed run may have committed a table version or registered a model first); contents may not.

Each kill starts the command in its own process group and SIGKILLs the group after a seeded
fraction (10-90 %) of the uninterrupted run's measured duration; the failure message names the
seed and the last log line before the kill, so a failing point can be replayed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .support import (
    BuiltHome,
    Command,
    Kill,
    RevisedSnapshot,
    assert_same_store,
    backfill_command,
    copy_home,
    kill_at_random_point,
    predict_command,
    registry_state,
    run_command,
    run_to_completion,
    train_command,
)

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)
KILL_ATTEMPTS = 4


def kill_then_rerun(
    command: Command, start_home: Callable[[Path], object], home: Path, seed: int, reference_s: float
) -> Kill:
    """Kill `command` in a home made by `start_home`, then run it again to completion.

    If it finished before its kill (the machine is less loaded than when the reference was
    measured), start again from a fresh home with the delay halved, so every test really kills."""
    for attempt in range(KILL_ATTEMPTS):
        shutil.rmtree(home, ignore_errors=True)
        start_home(home)
        kill = kill_at_random_point(command, home, seed, reference_s * 0.5**attempt)
        log.info("%s: %s", command.label, kill)  # shown with a failure, to replay the point
        if not kill.finished_first:
            break
    else:
        pytest.fail(f"{command.label} finished before its kill {KILL_ATTEMPTS} times; last: {kill}")
    run_to_completion(command, home)
    return kill


def assert_registry_recovered(home: Path, reference: Path, kill: Kill) -> None:
    state, expected = registry_state(home), registry_state(reference)
    assert not state.running_runs, f"{kill}: MLflow runs left RUNNING after the re-run: {state.running_runs}"
    assert not state.ungated_versions, f"{kill}: versions without a gate decision: {state.ungated_versions}"
    assert state.champion_model_config == expected.champion_model_config, f"{kill}: another model is champion"
    assert state.champion_data_sha256 == expected.champion_data_sha256, f"{kill}: champion trained on other data"
    assert state.champion_metrics == expected.champion_metrics, f"{kill}: champion's backtest metrics differ"


@pytest.mark.parametrize("seed", [13, 15])
def test_backfill_killed_at_a_random_point_then_rerun_equals_an_uninterrupted_backfill(
    snapshot: Path, backfilled_home: BuiltHome, tmp_path: Path, seed: int
) -> None:
    home = tmp_path / "home"
    kill = kill_then_rerun(backfill_command(snapshot), Path.mkdir, home, seed, backfilled_home.seconds)
    assert_same_store(home, backfilled_home.path, str(kill))


@pytest.mark.parametrize("seed", [21, 10, 22])
def test_run_revising_values_killed_at_a_random_point_then_rerun_equals_an_uninterrupted_run(
    revised_snapshot: RevisedSnapshot, backfilled_home: BuiltHome, tmp_path: Path, seed: int
) -> None:
    """The run re-reads 48 h of which the source revised 24 h, so the kill can hit the merge."""
    command = run_command(revised_snapshot.directory)
    reference = copy_home(backfilled_home.path, tmp_path / "reference")
    reference_s = run_to_completion(command, reference)
    home = tmp_path / "home"
    kill = kill_then_rerun(command, lambda p: copy_home(backfilled_home.path, p), home, seed, reference_s)
    assert_same_store(home, reference, str(kill))


@pytest.mark.parametrize("seed", [33, 52])
def test_training_killed_at_a_random_point_then_rerun_leaves_the_same_champion_and_no_half_state(
    snapshot: Path, backfilled_home: BuiltHome, trained_home: BuiltHome, tmp_path: Path, seed: int
) -> None:
    home = tmp_path / "home"
    start = lambda p: copy_home(backfilled_home.path, p)  # noqa: E731
    kill = kill_then_rerun(train_command(snapshot), start, home, seed, trained_home.seconds)
    assert_same_store(home, trained_home.path, str(kill))
    assert_registry_recovered(home, trained_home.path, kill)


@pytest.mark.parametrize("seed", [29, 46])
def test_predict_killed_at_a_random_point_then_rerun_equals_an_uninterrupted_predict(
    snapshot: Path, trained_home: BuiltHome, predicted_home: BuiltHome, tmp_path: Path, seed: int
) -> None:
    home = tmp_path / "home"
    start = lambda p: copy_home(trained_home.path, p)  # noqa: E731
    kill = kill_then_rerun(predict_command(snapshot), start, home, seed, predicted_home.seconds)
    assert_same_store(home, predicted_home.path, str(kill))
    assert_registry_recovered(home, predicted_home.path, kill)
