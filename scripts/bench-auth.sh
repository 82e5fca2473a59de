#!/usr/bin/env bash
# Authentication micro-benchmarks (release build): cached and uncached permission checks, API-key
# and session authentication on a warm cache, Argon2id hash time. Builds are serialized on shared
# machines through $JADE_BUILD_LOCK (default /tmp/jade-build.lock).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOCK=${JADE_BUILD_LOCK:-/tmp/jade-build.lock}
flock "$LOCK" swift build -c release --product jade-bench-auth >/dev/null
"$(swift build -c release --show-bin-path)/jade-bench-auth"
