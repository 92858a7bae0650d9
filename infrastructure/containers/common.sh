# Shared by build-images.sh and stack-test.sh (sourced from the repository root, never run).
# shellcheck shell=bash

die() { echo "${0##*/}: $*" >&2; exit 1; }

require_tools() {  # require_tools TOOL...: podman/buildah come from ../shared/containers/setup.sh
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null \
            || die "$tool not found: run ../shared/containers/setup.sh as root first (installs podman, buildah, runc)"
    done
}

# The flags measured to work on these hosts (../shared/containers/setup.sh): crun fails under hybrid
# cgroups, runc works when podman is given `--ulimit host`; no default ulimits in containers.conf.
if [[ -z ${CONTAINERS_CONF:-} && -f /etc/containers/containers.conf.d-local ]]; then
    export CONTAINERS_CONF=/etc/containers/containers.conf.d-local
fi
podman_run() { podman --runtime runc run --ulimit host "$@"; }

SHARED_DIR=${SHARED_DIR:-$(cd .. && pwd)/shared}
ENERGY_IMAGE_PREFIX=${ENERGY_IMAGE_PREFIX:-localhost/energy-forecasting}

# The commit the images are built from; "-dirty" when the working tree differs from it, so a model
# trained from an uncommitted tree never claims a clean commit in its lineage.
if GIT_COMMIT=$(git rev-parse HEAD 2>/dev/null); then
    [[ -z $(git status --porcelain --untracked-files=no 2>/dev/null) ]] || GIT_COMMIT+=-dirty
else
    GIT_COMMIT=unknown
fi
if [[ -z ${IMAGE_TAG:-} ]]; then
    IMAGE_TAG=${GIT_COMMIT:0:12}
    [[ $GIT_COMMIT != *-dirty ]] || IMAGE_TAG+=-dirty
fi

image_name() { echo "$ENERGY_IMAGE_PREFIX/energy-$1:$IMAGE_TAG"; }

# The import name of each service's package (docs/conventions.md).
declare -A PACKAGE_OF=(
    [feature-pipeline]=energy_features
    [training-pipeline]=energy_training
    [batch-prediction-pipeline]=energy_batch
    [app-api]=energy_api
    [app-frontend]=energy_frontend
    [app-monitoring]=energy_monitoring_app
)

smoke_check() {  # smoke_check SERVICE IMAGE: what a build alone does not prove
    local service=$1 image=$2 code
    # As the image's own user: uid 10001, the commit baked in, no pip configuration left behind,
    # the service package, its console script and the hopsworks extra import; where LightGBM is
    # installed it loads (libgomp1) and torch is a CPU build unless a CUDA index was asked for.
    code=$(cat <<'PY'
import importlib, importlib.util, os, pathlib, subprocess, sys
service, package, commit, cuda_ok = sys.argv[1:5]
problems = []
if os.getuid() != 10001:
    problems.append(f"runs as uid {os.getuid()}, expected 10001")
if os.environ.get("ENERGY_GIT_COMMIT") != commit:
    problems.append(f"ENERGY_GIT_COMMIT={os.environ.get('ENERGY_GIT_COMMIT')!r}, expected {commit!r}")
left = sorted(k for k in os.environ if k.startswith("PIP_"))
if pathlib.Path("/opt/venv/pip.conf").exists():
    left.append("/opt/venv/pip.conf")
if left:
    problems.append(f"pip configuration left in the image: {left}")
importlib.import_module(package)
importlib.import_module("hopsworks")
if subprocess.run([service, "--help"], capture_output=True).returncode != 0:
    problems.append(f"`{service} --help` failed")
if importlib.util.find_spec("lightgbm"):
    importlib.import_module("lightgbm")
if importlib.util.find_spec("torch"):
    import torch
    if torch.version.cuda and cuda_ok != "1":
        problems.append(f"torch {torch.__version__} is a CUDA build")
sys.exit("; ".join(problems) or None)
PY
)
    local cuda_ok=0
    [[ ${TORCH_INDEX_URL:-} != */cu* ]] || cuda_ok=1
    podman_run --rm --network none --no-healthcheck --entrypoint python "$image" -c "$code" \
        "$service" "${PACKAGE_OF[$service]}" "$GIT_COMMIT" "$cuda_ok" \
        || die "smoke check of $image failed (see above)"
    # pip's configuration files as root, since uid 10001 cannot look into /root.
    podman_run --rm --network none --no-healthcheck --user 0 --entrypoint sh "$image" -c \
        'for f in /etc/pip.conf /etc/xdg/pip /root/.config/pip /root/.pip; do [ ! -e "$f" ] || { echo "pip configuration left in the image: $f" >&2; exit 1; }; done' \
        || die "smoke check of $image failed: pip configuration in the image"
    echo "   smoke check ok: uid 10001, commit $GIT_COMMIT, $service --help, hopsworks, no pip configuration"
}
