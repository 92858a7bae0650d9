"""Daily: train -> gate -> (approval wait, when ENERGY_MANUAL_APPROVAL) -> promote.

The only schedule that trains (no cron, timer or shell loop elsewhere). In docker mode the training
container runs on the L4 host's engine with the GPU reserved (energy_jobs: ENERGY_TRAINING_DOCKER_URL).

`training-pipeline run` trains, backtests, registers and applies the promotion gate itself (the rule
lives once, in `energy_core.lifecycle`); this DAG reads the gate's verdict from the run's
scorecard and only decides what happens next:
- promoted automatically -> done;
- awaiting approval -> a person approves in Airflow (Human-in-the-loop), then `promote` runs
  `training-pipeline approve <version>`; app-api's approve endpoint stays for out-of-band use and
  `approve` of a version that is already champion changes nothing;
- not promoted -> done (the scorecard in MLflow says why).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task
from energy_jobs import AS_OF, DEFAULT_ARGS, alert_on_failure, job, json_line, manual_approval

# `<model>: v<N>: <verdict> - <reason>` per gated model, as training-pipeline tags the run.
_VERDICT = re.compile(r"^v(?P<version>\d+): (?P<verdict>promoted|awaiting approval|not promoted) - ")


def gate_verdicts(scorecard_json: str) -> dict[str, tuple[int, str]]:
    """Model name -> (version, verdict) from `training-pipeline scorecard --json` output."""
    payload = json.loads(scorecard_json)
    verdicts: dict[str, tuple[int, str]] = {}
    for model, text in (payload.get("gate") or {}).items():
        match = _VERDICT.match(str(text))
        if match is None:
            raise ValueError(f"gate tag of {model!r} is {text!r}: expected 'v<N>: <verdict> - <reason>'")
        verdicts[model] = (int(match["version"]), match["verdict"])
    return verdicts


with DAG(
    dag_id="energy_training",
    description="train, backtest, register and gate; wait for approval when manual; promote",
    schedule="30 2 * * *",
    # Early enough for backfills over the offline snapshot (Dec 2022 - Jan 2023); catchup stays off.
    start_date=datetime(2022, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "retries": 1, "on_failure_callback": alert_on_failure},
    tags=["energy", "training"],
) as dag:
    train = job("train", "training-pipeline", ["run", "--as-of", AS_OF], gpu=True, execution_timeout=timedelta(hours=4))
    scorecard = job("scorecard", "training-pipeline", ["scorecard", "--json"], json_output=True)

    @task.branch(task_id="gate")
    def gate(scorecard_output: str | list[str], awaiting_task: str) -> list[str]:
        """Follow the verdict training-pipeline's gate recorded on this run."""
        verdicts = gate_verdicts(json_line(scorecard_output))
        print(f"gate verdicts: {verdicts}")
        if any(verdict == "awaiting approval" for _, verdict in verdicts.values()):
            return [awaiting_task]
        return ["done"]

    done = EmptyOperator(task_id="done")
    scorecard_line = scorecard.output
    if manual_approval():
        from airflow.providers.standard.operators.hitl import ApprovalOperator

        approval = ApprovalOperator(
            task_id="wait_for_approval",
            subject="energy-forecasting: a challenger passed the gate and waits for approval",
            body="Approve to make it champion. Scorecard: {{ ti.xcom_pull(task_ids='scorecard') }}",
            response_timeout=timedelta(hours=20),
        )

        @task(task_id="pending_version")
        def pending_version(scorecard_output: str | list[str]) -> int:
            """The version the gate left awaiting approval (the newest if several models wait)."""
            verdicts = gate_verdicts(json_line(scorecard_output))
            return max(v for v, verdict in verdicts.values() if verdict == "awaiting approval")

        version = pending_version(scorecard_line)
        promote = job("promote", "training-pipeline", ["approve", "{{ ti.xcom_pull(task_ids='pending_version') }}"])
        branch = gate(scorecard_line, "wait_for_approval")
        train >> scorecard >> branch >> [approval, done]
        approval >> version >> promote
    else:
        branch = gate(scorecard_line, "done")
        train >> scorecard >> branch >> done
