#!/usr/bin/env bash
# Builds JadeVectorDB and runs the whole test suite: unit tests and the integration tests that
# drive the real binary (master + workers) on 127.0.0.1. Extra arguments go to `swift test`
# (for example `--filter Lifecycle`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
swift build --build-tests
swift test --skip-build "$@"
