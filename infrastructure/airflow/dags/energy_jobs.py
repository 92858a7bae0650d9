"""How the energy DAGs run one service job: the only module that knows modes, images and alerts.

The DAGs never import a service (Airflow has its own virtual environment and the services have
theirs). A task runs a service's console script, in one of two modes chosen by ENERGY_AIRFLOW_MODE
when the DAG file is parsed:

- ``docker`` (default, the compose deployment): a DockerOperator starts the service image at the
  commit the stack was deployed with (``ENERGY_IMAGE_PREFIX``/``energy-<service>:IMAGE_TAG``, the names
  CD pushes) on the host's engine (``ENERGY_DOCKER_URL``: Docker's or podman's socket), with the
  ``energy-home`` volume and the compose network. Training goes to the L4 host's engine instead
  (``ENERGY_TRAINING_DOCKER_URL``, e.g. ``ssh://energy@<training host>``) with the GPU reserved.
- ``process`` (tests, a single machine without containers): a BashOperator runs the console script
  from the services' virtual environment, ``ENERGY_SERVICES_BIN`` (e.g. ``/opt/energy/.venv/bin``).

Every job receives the as-of clock from the run's data interval, so a backfill of a past interval
recomputes exactly that hour (docs/conventions.md "Time": as of T means hour T is the last known).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

log = logging.getLogger(__name__)

MODES = ("docker", "process")

# The run that becomes due at the end of its interval sees every hour that started before that end:
# the last known hour is the interval's end minus one hour (an hour is known once it is over).
AS_OF = "{{ (data_interval_end - macros.timedelta(hours=1)).strftime('%Y-%m-%dT%H:00Z') }}"

# Configuration handed to the service containers in docker mode: names only, values come from the
# scheduler's environment (compose passes them from .env). Secrets go through private_environment,
# so they never appear in the rendered task fields of the UI.
SERVICE_ENV = (
    "ENERGY_SOURCE",
    "ENERGY_FEATURE_STORE",
    "ENERGY_MODEL_NAME",
    "ENERGY_EXPERIMENT_NAME",
    "ENERGY_MANUAL_APPROVAL",
    "HOPSWORKS_HOST",
    "HOPSWORKS_PROJECT",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "WANDB_MODE",
    "WANDB_PROJECT",
    "WANDB_ENTITY",
)
SERVICE_SECRETS = (
    "HOPSWORKS_API_KEY",
    "MLFLOW_TRACKING_PASSWORD",
    "WANDB_API_KEY",
    "ENERGY_ALERT_WEBHOOK_URL",
)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "energy",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}


class ConfigurationError(RuntimeError):
    """A variable the DAGs need is missing or invalid; the message names it and says what to set."""


def mode() -> str:
    """docker or process, from ENERGY_AIRFLOW_MODE (read at parse time: it decides the operators)."""
    value = os.environ.get("ENERGY_AIRFLOW_MODE", "docker").strip().lower()
    if value not in MODES:
        raise ConfigurationError(f"ENERGY_AIRFLOW_MODE={value!r}: expected one of {', '.join(MODES)}")
    return value


def manual_approval() -> bool:
    """The same switch the training pipeline reads: a passing challenger waits for a person."""
    return os.environ.get("ENERGY_MANUAL_APPROVAL", "false").strip().lower() in {"1", "true", "yes", "on"}


def job(
    task_id: str, service: str, args: Sequence[str], *, gpu: bool = False, json_output: bool = False, **kwargs: Any
) -> BaseOperator:
    """One run of `service`'s console script with `args` (Jinja-templated) as an Airflow task.

    json_output: the command prints one JSON document (possibly over several lines); it is joined
    into one line so that the task's XCom (its last output line) holds all of it.
    """
    if mode() == "process":
        return _process_job(task_id, service, args, json_output=json_output, **kwargs)
    return _docker_job(task_id, service, args, gpu=gpu, json_output=json_output, **kwargs)


def _one_line(command: str) -> str:
    return f"set -o pipefail; {command} | tr -d '\\n'"


def _process_job(task_id: str, service: str, args: Sequence[str], *, json_output: bool, **kwargs: Any) -> BaseOperator:
    from airflow.providers.standard.operators.bash import BashOperator

    bin_dir = os.environ.get("ENERGY_SERVICES_BIN", "")
    if not bin_dir:
        raise ConfigurationError(
            "ENERGY_SERVICES_BIN is not set: process mode runs the console scripts from the services' "
            "virtual environment, e.g. ENERGY_SERVICES_BIN=/opt/energy/.venv/bin"
        )
    command = " ".join([shlex.quote(str(Path(bin_dir) / service)), *args])
    if json_output:
        command = _one_line(command)
    # BashOperator treats a command ending in .sh as a template file; a trailing space prevents it.
    return BashOperator(task_id=task_id, bash_command=command + " ", **kwargs)


def _docker_job(
    task_id: str, service: str, args: Sequence[str], *, gpu: bool, json_output: bool, **kwargs: Any
) -> BaseOperator:
    from airflow.providers.docker.operators.docker import DockerOperator
    from docker.types import DeviceRequest, Mount

    prefix = os.environ.get("ENERGY_IMAGE_PREFIX", "ghcr.io/energy-forecasting")
    tag = os.environ.get("IMAGE_TAG", "")
    if not tag:
        raise ConfigurationError("IMAGE_TAG is not set: docker mode runs the images of one commit (CD sets it)")
    environment = {name: os.environ[name] for name in SERVICE_ENV if name in os.environ}
    secrets = {name: os.environ[name] for name in SERVICE_SECRETS if name in os.environ}
    entrypoint: list[str] = [service]
    command: list[str] = list(args)
    if json_output:
        entrypoint, command = ["bash", "-c"], [_one_line(" ".join([service, *args]))]
        kwargs.setdefault("xcom_all", True)  # container logs mix stderr in: the reader picks the JSON line
    if gpu:
        # The L4 host keeps its own ENERGY_HOME; production shares state through Hopsworks + MLflow,
        # which it reaches at the app host's reserved internal address, not the compose name.
        training_mlflow = os.environ.get("ENERGY_TRAINING_MLFLOW_TRACKING_URI")
        if training_mlflow:
            environment["MLFLOW_TRACKING_URI"] = training_mlflow
        return DockerOperator(
            task_id=task_id,
            image=f"{prefix}/energy-{service}:{tag}-cuda",
            entrypoint=entrypoint,
            command=command,
            docker_url=os.environ.get("ENERGY_TRAINING_DOCKER_URL", "unix://var/run/docker.sock"),
            environment=environment,
            private_environment=secrets,
            device_requests=[DeviceRequest(count=-1, capabilities=[["gpu"]])],
            mounts=[Mount(target="/data/energy", source="energy-home", type="volume")],
            auto_remove="success",
            mount_tmp_dir=False,
            **kwargs,
        )
    # compose names them <project>_<name>; docker-compose.yml fixes the project name.
    volume = os.environ.get("ENERGY_DOCKER_VOLUME", "energy-forecasting_energy-home")
    return DockerOperator(
        task_id=task_id,
        image=f"{prefix}/energy-{service}:{tag}",
        entrypoint=entrypoint,
        command=command,
        docker_url=os.environ.get("ENERGY_DOCKER_URL", "unix://var/run/docker.sock"),
        network_mode=os.environ.get("ENERGY_DOCKER_NETWORK", "energy-forecasting_default"),
        environment={**environment, "ENERGY_HOME": "/data/energy"},
        private_environment=secrets,
        mounts=[Mount(target="/data/energy", source=volume, type="volume")],
        user=os.environ.get("ENERGY_CONTAINER_USER", "10001:10001"),
        auto_remove="success",
        mount_tmp_dir=False,
        **kwargs,
    )


def json_line(output: str | Sequence[str] | None) -> str:
    """The JSON line of a json_output job's XCom: a string (process) or its log lines (docker)."""
    lines = output.splitlines() if isinstance(output, str) else list(output or [])
    for line in reversed(lines):
        if line.strip().startswith("{"):
            return line.strip()
    raise ValueError(f"no JSON line in the job's output (last lines: {lines[-3:]!r})")


def alert_on_failure(context: Mapping[str, Any]) -> None:
    """Post a failed task to the Slack-compatible ENERGY_ALERT_WEBHOOK_URL (the services' alert hook).

    Never raises: a dead webhook must not hide the task failure it reports.
    """
    url = os.environ.get("ENERGY_ALERT_WEBHOOK_URL", "")
    if not url:
        log.warning("ENERGY_ALERT_WEBHOOK_URL is not set: task failure not posted")
        return
    message = failure_message(context)
    request = urllib.request.Request(
        url, data=json.dumps({"text": message}).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=float(os.environ.get("ENERGY_ALERT_TIMEOUT_S", "5"))):
            pass
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
        log.error("could not post the failure alert to the webhook: %s", exc)


def failure_message(context: Mapping[str, Any]) -> str:
    """`dag.task failed (try n) for logical date X: error`, one line for a chat channel."""
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    try_number = getattr(ti, "try_number", "?")
    logical_date = context.get("logical_date") or context.get("data_interval_end")
    error = context.get("exception")
    return f"energy-forecasting: {dag_id}.{task_id} failed (try {try_number}) for {logical_date}: {error}"
