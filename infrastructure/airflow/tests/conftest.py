"""Airflow test setup: a throw-away AIRFLOW_HOME (SQLite) and the repository's DAG folder.

Runs in Airflow's own virtual environment (`make airflow-test` creates .venv-airflow); the services'
console scripts come from their virtual environment, ENERGY_SERVICES_BIN (default: .venv/bin).
The environment is set before Airflow is imported, because Airflow reads its configuration once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DAGS = REPO / "infrastructure" / "airflow" / "dags"
SERVICES_BIN = Path(os.environ.get("ENERGY_SERVICES_BIN", REPO / ".venv" / "bin")).resolve()

_home = Path(tempfile.mkdtemp(prefix="airflow-test-"))
os.environ.update(
    AIRFLOW_HOME=str(_home),
    AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
    AIRFLOW__CORE__LOAD_EXAMPLES="false",
    AIRFLOW__CORE__EXECUTOR="LocalExecutor",
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{_home / 'airflow.db'}",
    AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(_home / "logs"),
    ENERGY_AIRFLOW_MODE="process",
    ENERGY_SERVICES_BIN=str(SERVICES_BIN),
)
