#!/usr/bin/env bash
# Cost of recording metrics into a shared-memory block (a counter increment, a histogram
# observation) and of a scrape (snapshot of 8 worker blocks plus the retired block, rendered as
# Prometheus text) with a worker-sized series table. Builds jade-bench-metrics in release first.
# Exits 1 when a target is missed (50 ns per record, 10 ms per scrape).
# On a shared machine, run it under the build lock so no build competes for the CPUs:
#   flock /tmp/jade-build.lock scripts/bench-metrics.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

swift build -c release --product jade-bench-metrics >&2
exec "$(swift build -c release --show-bin-path)/jade-bench-metrics" "$@"
