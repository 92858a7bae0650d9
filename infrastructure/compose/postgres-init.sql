-- Run once by the postgres image on an empty data volume: one database per consumer, same owner.
CREATE DATABASE mlflow OWNER energy;
-- MLflow basic auth keeps users and permissions apart from the tracking tables (own migrations).
CREATE DATABASE mlflow_auth OWNER energy;
CREATE DATABASE airflow OWNER energy;
