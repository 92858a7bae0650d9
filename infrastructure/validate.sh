#!/usr/bin/env bash
# Static checks of everything deployable: Dockerfiles, compose, workflows, Ansible, Terraform, scripts.
# Runs every check, skips (and says so) the ones whose tool is missing, fails if any check failed.
# Called by `make validate-infra`; YAMLLINT and PYTHON point at the project's virtual environment.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
YAMLLINT=${YAMLLINT:-yamllint}
PYTHON=${PYTHON:-python3}
failed=()
skipped=()

check() {  # check NAME COMMAND...: run one check, remember a failure instead of stopping
    local name=$1
    shift
    echo "== $name"
    if "$@"; then echo "   ok"; else failed+=("$name"); fi
}

shopt -s nullglob
dockerfiles=(*/Dockerfile)
if command -v hadolint >/dev/null; then
    for dockerfile in "${dockerfiles[@]}"; do check "hadolint $dockerfile" hadolint --config .hadolint.yaml "$dockerfile"; done
else
    skipped+=("hadolint (not installed; Debian has no package: see https://github.com/hadolint/hadolint/releases)")
fi

check "yamllint" "$YAMLLINT" -s -c .yamllint docker-compose.yml .github/workflows infrastructure/ansible
check "compose structure" "$PYTHON" infrastructure/compose/check_compose.py docker-compose.yml
check "compose checker specification" "$PYTHON" -m pytest -q -p no:cacheprovider infrastructure/tests

if docker compose version >/dev/null 2>&1; then
    check "docker compose config" docker compose --profile jobs --profile scheduler config -q
else
    skipped+=("docker compose config (the docker client here has no compose plugin)")
fi

if command -v terraform >/dev/null; then
    check "terraform fmt" terraform fmt -check -recursive -diff infrastructure/terraform
    if [[ -d infrastructure/terraform/.terraform ]]; then
        check "terraform validate" terraform -chdir=infrastructure/terraform validate -no-color
    else
        skipped+=("terraform validate (needs 'terraform -chdir=infrastructure/terraform init -backend=false', which downloads providers)")
    fi
else
    skipped+=("terraform fmt/validate (terraform not installed)")
fi

check "shell syntax" bash -c 'bash -n .ci/run && sh -n infrastructure/compose/every.sh'

for reason in "${skipped[@]}"; do echo "skipped: $reason"; done
if (( ${#failed[@]} )); then
    echo "validate-infra: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "validate-infra: all checks that could run passed"
