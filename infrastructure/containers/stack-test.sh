#!/usr/bin/env bash
# The whole stack in containers on the snapshot, from an empty store (`make stack-test`):
#   1. one-shot jobs on one podman network, every one over the same ENERGY_HOME (a host directory
#      owned by uid 10001, mounted at /data/energy) with the snapshot read-only at /data/snapshot:
#      feature-pipeline backfill -> training-pipeline run (smoke profile) -> for a few hours:
#      feature-pipeline run, batch-prediction-pipeline predict, batch-prediction-pipeline monitor
#      (what the hourly schedule runs, hour by hour, as separate containers);
#   2. app-api, app-frontend and app-monitoring as services, published on 127.0.0.1 only; the
#      dashboards reach the API by its name on the network, as in docker-compose.yml;
#   3. each service's own HEALTHCHECK, the commit in the champion's lineage, and the system test
#      tests/test_dashboards_in_browser.py (HTTP + headless Chromium) pointed at the containers.
# Containers, network and store are removed on exit (KEEP_STACK_HOME=1 keeps the store).
# Needs the images (`make images`, same IMAGE_TAG), the snapshot and the dev venv (`make install`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=infrastructure/containers/common.sh
source infrastructure/containers/common.sh

# The same store as conftest.py's snapshot_home, so the browser assertions hold unchanged: the
# snapshot's last known hour is 2023-01-24T22:00Z; train one day before, then four hours of the clock.
BACKFILL_START=2022-12-21T16:00Z
BACKFILL_END=2023-01-23T23:00Z
TRAIN_AS_OF=2023-01-23T22:00Z
HOURS=(2023-01-23T23:00Z 2023-01-24T00:00Z 2023-01-24T01:00Z 2023-01-24T02:00Z)
TRAINING_PROFILE=${TRAINING_PROFILE:-smoke}
VENV_PYTHON=${VENV_PYTHON:-.venv/bin/python}
SNAPSHOT=$(realpath -m "${ENERGY_SNAPSHOT_DIR:-$SHARED_DIR/data}")

require_tools podman
compgen -G "$SNAPSHOT/consumption_de35_hour_*.parquet" >/dev/null \
    || die "no snapshot in $SNAPSHOT (set ENERGY_SNAPSHOT_DIR)"
# A missing browser would only skip the browser tests, and a skipped test passes: require it.
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is missing: apt-get install chromium"
[[ -x $VENV_PYTHON ]] || die "$VENV_PYTHON not found: run \`make install\` (the browser test runs from the dev venv)"
for service in feature-pipeline training-pipeline batch-prediction-pipeline app-api app-frontend app-monitoring; do
    podman image exists "$(image_name "$service")" || die "no image $(image_name "$service"): run \`make images\` first"
done

started=$SECONDS
stack=energy-stack-$$
network=$stack
home=$(mktemp -d "${TMPDIR:-/var/tmp}/$stack.XXXXXX")
containers=()
as_uid_10001() {  # run a command with uid 10001 owning what it touches (rootless podman: inside its user namespace)
    if [[ $(id -u) == 0 ]]; then "$@"; else podman unshare "$@"; fi
}
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if (( status != 0 )); then
        for name in "${containers[@]}"; do
            echo "---- last log lines of $name" >&2
            podman logs --tail 40 "$name" >&2 2>&1 || true
        done
    fi
    for name in "${containers[@]}"; do podman rm -f -t 5 "$name" >/dev/null 2>&1 || true; done
    podman network rm -f "$network" >/dev/null 2>&1 || true
    if [[ ${KEEP_STACK_HOME:-0} == 1 ]]; then
        echo "stack-test: store kept at $home"
    else
        as_uid_10001 rm -rf -- "$home"
    fi
    exit "$status"
}
trap cleanup EXIT INT TERM
as_uid_10001 chown 10001:10001 "$home"
podman network create "$network" >/dev/null

phase() { echo; echo "== [$((SECONDS - started)) s] $*"; }
volumes=(-v "$home:/data/energy" -v "$SNAPSHOT:/data/snapshot:ro")
job() {  # job SERVICE ARGS...: one container run to completion, as a scheduler would start it
    local service=$1
    shift
    podman_run --rm --network "$network" --name "$stack-job" "${volumes[@]}" \
        -e ENERGY_SNAPSHOT_DIR=/data/snapshot "$(image_name "$service")" "$@"
}

phase "backfill $BACKFILL_START .. $BACKFILL_END (feature-pipeline)"
job feature-pipeline backfill --start "$BACKFILL_START" --end "$BACKFILL_END"
phase "train as of $TRAIN_AS_OF, profile $TRAINING_PROFILE (training-pipeline)"
job training-pipeline run --as-of "$TRAIN_AS_OF" --profile "$TRAINING_PROFILE"
for hour in "${HOURS[@]}"; do
    phase "hour $hour: features, predict, monitor"
    job feature-pipeline run --as-of "$hour"
    job batch-prediction-pipeline predict --as-of "$hour"
    job batch-prediction-pipeline monitor --as-of "$hour"
done
job batch-prediction-pipeline status

phase "services: app-api, app-frontend, app-monitoring on 127.0.0.1"
free_port() { "$VENV_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
api_port=$(free_port)
frontend_port=$(free_port)
monitoring_port=$(free_port)
serve() {  # serve SERVICE HOST_PORT CONTAINER_PORT ARGS...: a detached service named like in compose
    local service=$1 host_port=$2 container_port=$3
    shift 3
    containers+=("$stack-$service")
    podman_run -d --name "$stack-$service" --network "$network" --network-alias "$service" \
        -p "127.0.0.1:$host_port:$container_port" "$@" "$(image_name "$service")" >/dev/null
}
serve app-api "$api_port" 8001 -v "$home:/data/energy"
serve app-frontend "$frontend_port" 8501 -e ENERGY_API_URL=http://app-api:8001 -e ENERGY_DASHBOARD_TIMEOUT_S=30
serve app-monitoring "$monitoring_port" 8502 -e ENERGY_API_URL=http://app-api:8001 -e ENERGY_DASHBOARD_TIMEOUT_S=30

# Each image's own HEALTHCHECK decides when it is up (so the Dockerfiles' probes are tested too),
# probed with `podman healthcheck run`: without systemd podman cannot schedule the probes itself and
# says so on stderr ("unable to get systemd connection"), which is harmless here.
for name in "${containers[@]}"; do
    for attempt in $(seq 90); do
        [[ $(podman inspect --format '{{.State.Running}}' "$name") == true ]] || die "$name exited during start-up"
        if podman healthcheck run "$name" >/dev/null 2>&1; then break; fi
        (( attempt < 90 )) || die "$name is not healthy after 90 s"
        sleep 1
    done
    echo "   $name healthy"
done

phase "the champion's lineage names the commit the training image was built from"
built_from=$(podman image inspect --format '{{index .Config.Labels "org.opencontainers.image.revision"}}' \
    "$(image_name training-pipeline)")
champion_commit=$(podman exec "$stack-app-api" python -c \
    'from energy_core.registry import open_registry; print(open_registry().get(alias="champion").lineage.git_commit)')
[[ -n $built_from && $champion_commit == "$built_from" ]] \
    || die "champion lineage git_commit=$champion_commit, training image built from '$built_from'"
echo "   champion trained from $champion_commit"

phase "HTTP and browser assertions (tests/test_dashboards_in_browser.py) against the containers"
ENERGY_STACK_API_URL=http://127.0.0.1:$api_port \
ENERGY_STACK_FRONTEND_URL=http://127.0.0.1:$frontend_port \
ENERGY_STACK_MONITORING_URL=http://127.0.0.1:$monitoring_port \
    "$VENV_PYTHON" -m pytest -q -p no:cacheprovider tests/test_dashboards_in_browser.py

phase "stack-test passed in $((SECONDS - started)) s"
