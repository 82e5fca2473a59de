#!/usr/bin/env bash
# Cost of one rate-limit decision on the shared-memory token-bucket table: one process, then two
# processes deciding at once (the second is a spawned copy of the benchmark that attaches the
# segment, as a worker does). Builds the jade-bench-ratelimit executable in release first.
#
# Usage: scripts/bench-ratelimit.sh [OPERATIONS]     (decisions per run, default 2,000,000)
#
# Figures are medians and 99th percentiles of the per-decision time over batches of 100
# decisions. On a shared machine, run it under the build lock so no build competes for the CPUs:
#   flock /tmp/jade-build.lock scripts/bench-ratelimit.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

swift build -c release --product jade-bench-ratelimit >&2
bin="$(swift build -c release --show-bin-path)/jade-bench-ratelimit"
exec "$bin" "$@"
