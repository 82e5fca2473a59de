#!/usr/bin/env bash
# Tests the Python client (clients/python) against the real server binary.
# Creates or reuses the virtualenv .venv-client at the repository root, installs the client with
# its test extra, and runs its pytest suite. JADEVECTORDB_BIN selects the server binary (default
# .build/debug/jadevectordb; build it first). Extra arguments go to pytest.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv-client"
BIN="${JADEVECTORDB_BIN:-$ROOT/.build/debug/jadevectordb}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac

if [[ ! -x "$BIN" ]]; then
    echo "test-python-client: no server binary at $BIN (run 'swift build' or set JADEVECTORDB_BIN)" >&2
    exit 1
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "./clients/python[test]"

JADEVECTORDB_BIN="$BIN" "$VENV/bin/python" -m pytest -q -p no:cacheprovider clients/python/tests "$@"
