#!/usr/bin/env bash
# Overhead of the resilience wrapper (retries + shared circuit breaker) on a point read, against
# GRDB's pool called directly, and the breaker round trip alone (release build). Target: under
# 100 ns per call. Builds are serialized on shared machines through $JADE_BUILD_LOCK (default
# /tmp/jade-build.lock).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOCK=${JADE_BUILD_LOCK:-/tmp/jade-build.lock}
flock "$LOCK" swift build -c release --product jade-bench-store >/dev/null
"$(swift build -c release --show-bin-path)/jade-bench-store"
