#!/usr/bin/env bash
# Build the six service images with buildah (no Docker daemon needed), then smoke-check each one.
#
#   infrastructure/containers/build-images.sh [SERVICE ...]      (default: all six; `make images`)
#
# Every image gets GIT_COMMIT (-> ENERGY_GIT_COMMIT, recorded in every training run's lineage) and is
# tagged $ENERGY_IMAGE_PREFIX/energy-<service>:$IMAGE_TAG, the names docker-compose.yml uses.
# The builds run one after another in an order that reuses layers: the four light images share the
# venv + core[hopsworks] layers, the training and batch images share torch + core + model libraries.
#
# Environment (all optional):
#   ENERGY_IMAGE_PREFIX  image name prefix (default localhost/energy-forecasting)
#   IMAGE_TAG            tag (default: the commit's first 12 hex digits, "-dirty" if the tree differs)
#   BASE_IMAGE           base of both stages (default: localhost/debian-python:bookworm when it exists,
#                        which ../shared/containers/setup.sh builds, else the Dockerfiles' pinned slim)
#   TORCH_INDEX_URL      where torch comes from; empty = pip's configuration (here: the local CPU
#                        wheel); unset = the Dockerfiles' default, the PyTorch CPU index
#   SHARED_DIR           the shared folder beside the clone (default ../shared): pip-build-args.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=infrastructure/containers/common.sh
source infrastructure/containers/common.sh

ALL_SERVICES=(feature-pipeline app-api app-frontend app-monitoring training-pipeline batch-prediction-pipeline)
services=("$@")
(( ${#services[@]} )) || services=("${ALL_SERVICES[@]}")
for service in "${services[@]}"; do
    [[ -f $service/Dockerfile ]] || die "no $service/Dockerfile (services: ${ALL_SERVICES[*]})"
done
require_tools buildah podman

build_args=(--build-arg "GIT_COMMIT=$GIT_COMMIT")
if [[ -n ${BASE_IMAGE:-} ]]; then
    build_args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
elif podman image exists localhost/debian-python:bookworm; then
    BASE_IMAGE=localhost/debian-python:bookworm
    build_args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
else
    BASE_IMAGE="(the Dockerfiles' pinned python:3.11-slim)"
fi
if [[ -z ${TORCH_INDEX_URL+set} ]]; then
    torch_from="the Dockerfiles' default (PyTorch CPU index)"
else
    torch_from=${TORCH_INDEX_URL:-"pip's configuration"}
fi
# pip inside a build uses this host's setup: pip-build-args.sh prints PIP_* build arguments (they go
# to both passes below: they are part of the builder's cache key) and --volume mounts (first pass only).
pip_volumes=()
if [[ -x $SHARED_DIR/containers/pip-build-args.sh ]]; then
    mapfile -t pip_args < <("$SHARED_DIR/containers/pip-build-args.sh")
    for (( i = 0; i + 1 < ${#pip_args[@]}; i += 2 )); do
        case ${pip_args[i]} in
            --volume) pip_volumes+=(--volume "${pip_args[i + 1]}") ;;
            --build-arg) build_args+=(--build-arg "${pip_args[i + 1]}") ;;
            *) die "unexpected argument from pip-build-args.sh: ${pip_args[i]}" ;;
        esac
    done
fi

# A frozen copy of the build context, taken once: every pass and every image then sees the same
# files even while the working tree changes (the second pass must hit the first one's cache), and
# the files match the commit recorded above. Only what the Dockerfiles copy, minus .dockerignore.
context=$(mktemp -d "${TMPDIR:-/var/tmp}/energy-images.XXXXXX")
trap 'rm -rf -- "$context"' EXIT
tar -c --exclude-vcs --exclude=__pycache__ --exclude='*.egg-info' --exclude=.pytest_cache --exclude=.mypy_cache \
    --exclude=.ruff_cache --exclude=.venv --exclude=.energy --exclude=tests \
    .dockerignore constraints.txt core "${services[@]}" | tar -x -C "$context"

echo "images: commit $GIT_COMMIT, tag $IMAGE_TAG, base $BASE_IMAGE, torch from $torch_from"
declare -A seconds=()
for service in "${services[@]}"; do
    image=$(image_name "$service")
    echo "== building $image"
    started=$SECONDS
    torch_arg=()  # only where the Dockerfile declares it, so buildah does not warn about the others
    if [[ -n ${TORCH_INDEX_URL+set} ]] && grep -q '^ARG TORCH_INDEX_URL' "$service/Dockerfile"; then
        torch_arg=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
    fi
    # --format docker keeps HEALTHCHECK (the OCI format has none); --layers caches every step.
    bud=(buildah bud --layers --format docker --isolation chroot --ulimit nofile=20000:20000
        "${build_args[@]}" "${torch_arg[@]}" -f "$context/$service/Dockerfile")
    # Two passes, because buildah leaves an empty mount point in the image for every --volume of a
    # RUN (an empty /etc/pip.conf, /root/.config/pip, /opt/wheels): the builder stage with pip's
    # volumes, then the whole file without them, which takes the builder from the layer cache and
    # runs the runtime stage clean. Were the cache missed, pip would run without its configuration
    # and fail rather than build something else.
    "${bud[@]}" "${pip_volumes[@]}" --target builder "$context"
    "${bud[@]}" -t "$image" "$context"
    # buildah 1.28's layer cache ignores build-arg values: a runtime stage whose files did not change
    # comes from the cache with the commit of the build that made it. Stamp this commit onto the
    # final image (config only, no new layer), as the Dockerfile's ARG does on a fresh build.
    stamp=$(buildah from --pull=false "$image")
    buildah config --env "ENERGY_GIT_COMMIT=$GIT_COMMIT" \
        --label "org.opencontainers.image.revision=$GIT_COMMIT" "$stamp"
    buildah commit --quiet --format docker --rm "$stamp" "$image" >/dev/null
    seconds[$service]=$((SECONDS - started))
    smoke_check "$service" "$image"
done

echo
printf '%-28s %10s %8s  %s\n' service size build image
for service in "${services[@]}"; do
    image=$(image_name "$service")
    size=$(podman image inspect --format '{{.Size}}' "$image")
    printf '%-28s %7d MB %6d s  %s\n' "$service" $((size / 1000000)) "${seconds[$service]}" "$image"
done
