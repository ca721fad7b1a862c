"""Beacon's nightly run as an Airflow DAG.

One task per night runs `beacon run` for the DAG run's logical date (`{{ ds }}`), so Airflow's
backfills and clears re-run exactly the dates they name: a re-run of a date replaces that date's
outputs whole (Beacon's publish is atomic per date). Beacon's exit codes: 0 success, 1 the run
failed (nothing was published; a retry can help with a transient storage fault), 2 the pipeline
or SQL is invalid (a retry will fail the same way; the log says what to fix).

Install: put this file in your dags/ folder and set the Airflow Variables (or edit the defaults
below): beacon_bin (the binary), beacon_pipeline (the pipeline YAML), beacon_output (an
object-store URL such as s3://analytics/beacon/published). Credentials for the object store come
from the worker's environment (AWS_* variables or profile files), never from this file.
"""

from __future__ import annotations

import datetime as dt

from airflow import DAG

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

DEFAULTS = {
    "owner": "growth-analytics",
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=10),
}

with DAG(
    dag_id="beacon_nightly",
    description="Beacon: load the five growth datasets, run the SQL models, publish the scored tables",
    schedule="30 2 * * *",
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULTS,
    tags=["beacon", "growth"],
) as dag:
    BashOperator(
        task_id="beacon_run",
        bash_command=(
            "{{ var.value.get('beacon_bin', 'beacon') }} run "
            "{{ var.value.get('beacon_pipeline', '/opt/beacon/pipelines/beacon.yaml') }} "
            "--date {{ ds }} --log-format json "
            "--set output={{ var.value.get('beacon_output', '/srv/beacon/output') }}"
        ),
        # No exit code means "skipped": every non-zero exit fails the task.
        skip_on_exit_code=None,
        execution_timeout=dt.timedelta(hours=3),
    )
