#!/usr/bin/env bash
# Installs the system packages JadeVectorDB needs to build, run and test on Debian 12.
# Idempotent: does nothing when everything is present. Uses sudo when not run as root.
set -euo pipefail

packages=(
    libsqlite3-dev   # SQLite (GRDB links the system library)
    libsystemd-dev   # sd_notify, socket activation, watchdog
    libargon2-dev    # Argon2id password hashing
    sqlite3          # the CLI, used by fault-injection tests and operators
    systemd          # systemd-analyze, used to verify the unit file
    curl             # health checks in scripts
    python3-venv     # schemathesis runs from a private virtualenv
    prometheus       # promtool checks the /metrics scrape and the alert rules (about 96 MB installed)
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3-venv is moot where python3 already has a working venv module (pyenv builds).
if [[ " ${missing[*]} " == *" python3-venv "* ]] && python3 -c 'import venv, ensurepip' 2>/dev/null; then
    missing=("${missing[@]/python3-venv/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "bootstrap: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
