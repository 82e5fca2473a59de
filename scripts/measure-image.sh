#!/usr/bin/env bash
# Measures the runtime image without a Docker engine: builds the binary the way docker/Dockerfile
# does (release, --static-swift-stdlib, stripped), assembles the image's filesystem with
# docker/assemble-rootfs.sh (the script the Dockerfile runs), and prints its size, which is the
# uncompressed size of the image's one layer (FROM scratch + one COPY) to within the tar headers,
# and a gzip estimate of the compressed (pushed) size. Exits 1 above the 100 MB target.
#
# The host's libraries stand in for the builder image's: both are Debian 12 (bookworm).
# Builds are serialized on shared machines through $JADE_BUILD_LOCK (default /tmp/jade-build.lock).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly LIMIT_BYTES=$((100 * 1000 * 1000))
LOCK=${JADE_BUILD_LOCK:-/tmp/jade-build.lock}
scratch=.build-static

flock "$LOCK" swift build -c release --product jadevectordb --static-swift-stdlib --scratch-path "$scratch" >&2
work="$(mktemp -d "${TMPDIR:-/tmp}/measure-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT
install -m 0755 "$(swift build -c release --scratch-path "$scratch" --show-bin-path)/jadevectordb" "$work/jadevectordb"
strip "$work/jadevectordb"
docker/assemble-rootfs.sh "$work/jadevectordb" config "$work/rootfs"

bytes="$(du -sb --apparent-size "$work/rootfs" | awk '{ print $1 }')"
gz="$(tar -C "$work/rootfs" -cf - . | gzip -6 | wc -c)"
echo "image filesystem (uncompressed layer): $bytes bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB)"
echo "gzip -6 of the layer tar (about the pushed size): $gz bytes ($(awk -v b="$gz" 'BEGIN { printf "%.1f", b / 1e6 }') MB)"
echo "largest files:"
find "$work/rootfs" -type f -printf '%s %P\n' | sort -rn | head -8 | awk '{ printf "  %8.1f MB  /%s\n", $1 / 1e6, $2 }'
if ((bytes > LIMIT_BYTES)); then
    echo "over the 100 MB target" >&2
    exit 1
fi
