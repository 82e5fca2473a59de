#!/usr/bin/env bash
# Builds JadeVectorDB and runs the whole test suite: unit tests and the integration tests that
# drive the real binary (master + workers) on 127.0.0.1, then the Python client's tests against
# the same binary. Extra arguments go to `swift test` (for example `--filter Lifecycle`) and
# skip the Python client's tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
swift build --build-tests
swift test --skip-build "$@"
# The Python client against the same binary (the whole suite only, not a filtered run).
if [[ $# -eq 0 ]]; then
    scripts/test-python-client.sh
fi
