"""`training-pipeline scorecard`: the latest backtest table, read from the tracking server.

Read from MLflow (the latest run tagged energy.run_type=training in the configured experiment),
not from local files, so it shows the same thing wherever it runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from rich.console import Console
from rich.table import Table

from energy_core.lifecycle import current_champion
from energy_core.registry import ModelRegistry
from energy_core.settings import RegistrySettings
from energy_training.metrics import METRICS
from energy_training.tracking import RUN_TYPE_TAG, RUN_TYPE_TRAINING


class NoScorecard(LookupError):
    """No training run has logged a scorecard yet."""


def latest(settings: RegistrySettings, registry: ModelRegistry) -> dict[str, Any]:
    """The latest training run's scorecard plus the registry's current champion."""
    client = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment_name)
    if experiment is None:
        raise NoScorecard(f"no MLflow experiment {settings.experiment_name!r} yet; run `training-pipeline run` first")
    champion = current_champion(registry)
    run, note = _run_to_show(client, experiment.experiment_id, champion.run_id if champion else None)
    with TemporaryDirectory() as tmp:
        path = client.download_artifacts(run.info.run_id, "scorecard/scorecard.json", tmp)
        payload: dict[str, Any] = json.loads(Path(path).read_text())
    payload.update(
        run_id=run.info.run_id,
        run_name=run.info.run_name,
        note=note,
        tuning=payload.get("tuning") or run.data.tags.get("tuning_summary"),
        champion_version=champion.version if champion else None,
        champion_model=champion.tags.get("model_config") if champion else None,
        gate={k.removeprefix("gate."): v for k, v in run.data.tags.items() if k.startswith("gate.")},
    )
    return payload


def _run_to_show(client: MlflowClient, experiment_id: str, champion_run_id: str | None) -> tuple[Run, str | None]:
    """The latest training run if it finished; else the champion's run (with a note saying why),
    else the latest finished one. A killed run stays RUNNING until the next start marks it FAILED,
    and must not hide the scorecard the champion was chosen on."""
    training = f"tags.`{RUN_TYPE_TAG}` = '{RUN_TYPE_TRAINING}'"
    newest = client.search_runs([experiment_id], training, order_by=["attributes.start_time DESC"], max_results=1)
    if not newest:
        raise NoScorecard("no training run found; run `training-pipeline run` first")
    if newest[0].info.status == "FINISHED":
        return newest[0], None
    unfinished = f"the latest training run {newest[0].info.run_id} is {newest[0].info.status}"
    if champion_run_id:
        try:
            return client.get_run(champion_run_id), f"{unfinished}; showing the champion's run"
        except MlflowException:
            pass  # the champion's run was deleted: fall back to the latest finished one
    finished = client.search_runs(
        [experiment_id],
        f"{training} and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not finished:
        raise NoScorecard(f"{unfinished} and no training run has finished; run `training-pipeline run`")
    return finished[0], f"{unfinished}; showing the latest finished run"


def render(payload: dict[str, Any], console: Console | None = None) -> None:
    """The scorecard as a rich table: every model and baseline, every metric."""
    console = console or Console()
    if payload.get("note"):
        console.print(str(payload["note"]))
    p = payload["protocol"]
    table = Table(
        title=(
            f"Backtest as of {p['as_of']} - {p['origins']} origins {p['first_origin']} … {p['last_origin']}, "
            f"1-{p['horizon_hours']} h"
        )
    )
    table.add_column("model")
    for metric in METRICS:
        table.add_column(metric, justify="right")
    table.add_column("seconds", justify="right")
    for row in payload["models"]:
        cells = [
            f"{row[m]:.4f}"
            if row.get(m) is not None and m not in ("rmse", "pinball_q10", "pinball_q50", "pinball_q90")
            else f"{row.get(m) or float('nan'):,.0f}"
            for m in METRICS
        ]
        seconds = row.get("fit_and_backtest_s")
        table.add_row(str(row["model"]), *cells, "" if seconds is None else f"{seconds:.1f}")
    console.print(table)
    if payload.get("tuning"):
        console.print(str(payload["tuning"]))
    champion = payload.get("champion_version")
    console.print(f"champion: {'v' + str(champion) if champion else 'none'} ({payload.get('champion_model') or '-'})")
    for name, verdict in (payload.get("gate") or {}).items():
        console.print(f"gate {name}: {verdict}")
