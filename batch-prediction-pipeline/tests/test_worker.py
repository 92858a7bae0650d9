"""`batch-prediction-pipeline worker`: monitor per JSON-lines request, the same rows as in process.

Nothing is mocked: the store is the real embedded backend and the registry the real MLflow one
(conftest). The requests go through `serve` over in-memory text streams; the real child process is
exercised by test_simulate's worker test.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd

from energy_batch.champion import champion_info, load_champion
from energy_batch.pipeline import monitor, predict
from energy_batch.settings import BatchSettings
from energy_batch.worker import MonitorContext, serve
from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.registry import ModelRegistry
from energy_core.schemas import MONITORING, MONITORING_HORIZON, MONITORING_HOURLY
from energy_core.settings import AlertSettings

from .batch_support import AS_OF

NEXT_DAY = AS_OF + pd.Timedelta(hours=24)


def _serve(ctx: MonitorContext, *requests: dict[str, object] | str) -> list[dict[str, object]]:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in requests]
    out = io.StringIO()
    serve(lines, out, ctx)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_monitor_request_writes_what_the_in_process_monitor_writes(
    store: EmbeddedFeatureStore, registry: ModelRegistry, tmp_path: Path
) -> None:
    predict(store, load_champion(registry), AS_OF, BatchSettings())
    twin = EmbeddedFeatureStore(shutil.copytree(store.root, tmp_path / "twin"))
    info = champion_info(registry)
    ctx = MonitorContext(store, registry, BatchSettings(), AlertSettings())
    ready, reply = _serve(ctx, {"command": "monitor", "as_of": NEXT_DAY.strftime("%Y-%m-%dT%H:%MZ"),
                                "champion_version": info.version})  # fmt: skip
    monitor(twin, info, NEXT_DAY, BatchSettings(), AlertSettings(), None, {})

    assert ready["ready"] is True
    assert reply["ok"] is True and reply["monitored_rows"] > 0 and reply["as_of"] == "2023-01-23T23:00Z"
    for group in (MONITORING, MONITORING_HOURLY, MONITORING_HORIZON):
        pd.testing.assert_frame_equal(store.read(group).reset_index(drop=True), twin.read(group).reset_index(drop=True))


def test_bad_requests_and_a_failed_hour_are_answered_and_the_worker_keeps_serving(
    store: EmbeddedFeatureStore, registry: ModelRegistry
) -> None:
    ctx = MonitorContext(store, registry, BatchSettings(), AlertSettings())
    when = NEXT_DAY.strftime("%Y-%m-%dT%H:%MZ")
    replies = _serve(
        ctx,
        "not json",
        {"command": "predict", "as_of": when},
        {"command": "monitor", "as_of": 17},
        {"command": "monitor", "as_of": when, "champion_version": "3"},
        {"command": "monitor", "as_of": when, "champion_version": 987},  # no such version: the hour fails
        {"command": "monitor", "as_of": when, "champion_version": None, "table_versions": {"t": "7"}},
        {"command": "monitor", "as_of": when, "champion_version": None},  # no champion: checks skipped
        {"command": "stop"},
        {"command": "monitor", "as_of": when, "champion_version": None},  # after stop: never answered
    )
    assert replies[0]["ready"] is True
    unreadable, unknown, bad_hour, bad_version, failed, bad_pins, served = replies[1:]
    assert not unreadable["ok"] and "unreadable request" in str(unreadable["error"])
    assert not unknown["ok"] and "unknown command 'predict'" in str(unknown["error"])
    assert not bad_hour["ok"] and "as_of" in str(bad_hour["error"])
    assert not bad_version["ok"] and "champion_version" in str(bad_version["error"])
    assert not failed["ok"] and failed["as_of"] == when and "987" in str(failed["error"])
    assert not bad_pins["ok"] and "'table_versions' must map table names to integer versions" in str(bad_pins["error"])
    assert served["ok"] is True and served["as_of"] == when
