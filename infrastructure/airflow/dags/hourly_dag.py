"""Hourly: features -> predict -> monitor, as of the last hour of the run's data interval.

One run at a time (max_active_runs=1): monitor reads the predictions of earlier hours, and two
overlapping runs would race on the same feature groups. Each job is idempotent, so a retry or a
backfill (`airflow backfill create --dag-id energy_hourly --from-date ... --to-date ...`) recomputes
exactly the hours of its interval. A failed task posts to ENERGY_ALERT_WEBHOOK_URL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG
from energy_jobs import AS_OF, DEFAULT_ARGS, alert_on_failure, job

with DAG(
    dag_id="energy_hourly",
    description="features -> predict -> monitor as of the last finished hour",
    # hh:05: the hour that just ended has been published (ENERGY_PUBLICATION_LAG_HOURS covers later ones).
    schedule="5 * * * *",
    # Early enough for backfills over the offline snapshot (Dec 2022 - Jan 2023); catchup stays off.
    start_date=datetime(2022, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "on_failure_callback": alert_on_failure},
    dagrun_timeout=timedelta(minutes=55),
    tags=["energy", "hourly"],
) as dag:
    features = job("features", "feature-pipeline", ["run", "--as-of", AS_OF], execution_timeout=timedelta(minutes=20))
    predict = job(
        "predict", "batch-prediction-pipeline", ["predict", "--as-of", AS_OF], execution_timeout=timedelta(minutes=15)
    )
    monitor = job(
        "monitor", "batch-prediction-pipeline", ["monitor", "--as-of", AS_OF], execution_timeout=timedelta(minutes=15)
    )
    features >> predict >> monitor
