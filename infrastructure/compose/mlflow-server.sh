#!/bin/sh
# Start the MLflow server with its Postgres backend and basic auth, credentials from compose secrets.
# Why a script: MLflow's basic-auth reads the admin password from an ini file, not from a secret
# file, so the ini is written at start into a private tmpfs path and never lands in an image or volume.
set -eu
password=$(cat /run/secrets/postgres_password)
auth_dir=$(mktemp -d)
chmod 700 "$auth_dir"
cat > "$auth_dir/basic_auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = postgresql://energy:${password}@postgres/mlflow_auth
admin_username = ${MLFLOW_ADMIN_USERNAME:-admin}
admin_password = $(cat /run/secrets/mlflow_admin_password)
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
export MLFLOW_AUTH_CONFIG_PATH="$auth_dir/basic_auth.ini"
exec mlflow server \
    --app-name basic-auth \
    --host 0.0.0.0 \
    --port 5000 \
    --backend-store-uri "postgresql://energy:${password}@postgres/mlflow" \
    --artifacts-destination "${MLFLOW_ARTIFACTS_DESTINATION}" \
    --serve-artifacts \
    --allowed-hosts "${MLFLOW_ALLOWED_HOSTS}"
