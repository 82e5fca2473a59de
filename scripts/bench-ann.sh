#!/usr/bin/env bash
# Approximate nearest-neighbour benchmark: JadeVectorDB's HNSW graph (in process, one thread,
# release build) beside hnswlib and faiss IndexHNSWFlat on the same clustered data with the
# same M and ef_construction: recall@10 at ef 16..256, ms/query, build vectors/s, memory.
#
#   scripts/bench-ann.sh                      200,000 x 128, 1,000 clusters (separated), then
#                                             the same with spread 3 (overlapping clusters)
#   N=20000 DIM=64 QUERIES=200 SPREADS=1 scripts/bench-ann.sh
#
# Installs numpy, hnswlib and faiss-cpu from PyPI into .venv-bench (git-ignored). Work files
# go to .build/bench-ann. Bounded: N inserts and 5 x QUERIES searches per library and spread.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-200000} DIM=${DIM:-128} QUERIES=${QUERIES:-1000} M=${M:-16} EFC=${EFC:-200} SPREADS=${SPREADS:-"1 3"}
WORK=${BENCH_DIR:-.build/bench-ann}
VENV=.venv-bench
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install --quiet numpy hnswlib faiss-cpu

LOCK=${JADE_BUILD_LOCK:-/tmp/jade-build.lock}
flock "$LOCK" swift build -c release --product jade-bench-vectors >/dev/null
BIN="$(swift build -c release --show-bin-path)/jade-bench-vectors"

for spread in $SPREADS; do
    rm -rf "$WORK"
    "$VENV/bin/python" Benchmarks/vector-search/ann.py --jade-bin "$BIN" --work "$WORK" --n "$N" --dim "$DIM" \
        --queries "$QUERIES" --m "$M" --ef-construction "$EFC" --spread "$spread"
done
