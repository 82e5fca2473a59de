#!/usr/bin/env bash
# Exact vector search benchmark: JadeVectorDB's in-process search (release build, one thread)
# beside faiss-cpu's flat indexes and numpy brute force, on the same seeded data.
#
#   scripts/bench-vectors.sh            100,000 vectors x 128 dims, 1,000 top-10 queries
#   N=20000 DIM=64 QUERIES=200 K=10 SEED=42 ROUNDS=3 scripts/bench-vectors.sh
#
# Installs numpy and faiss-cpu from PyPI into .venv-bench (git-ignored). Loads the vectors in
# one process and searches in others (they share only the data directory, as workers do);
# jade's search process and faiss take turns for ROUNDS rounds, each keeping its best;
# then runs two processes that map the same segments at once to show the page cache holding
# one copy. Work files go to .build/bench-vectors (BENCH_DIR to change).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-100000} DIM=${DIM:-128} QUERIES=${QUERIES:-1000} K=${K:-10} SEED=${SEED:-42} ROUNDS=${ROUNDS:-3}
WORK=${BENCH_DIR:-.build/bench-vectors}
VENV=.venv-bench
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install --quiet numpy faiss-cpu

# Builds are serialized on shared machines through this lock (harmless elsewhere).
LOCK=${JADE_BUILD_LOCK:-/tmp/jade-build.lock}
flock "$LOCK" swift build -c release --product jade-bench-vectors >/dev/null
BIN="$(swift build -c release --show-bin-path)/jade-bench-vectors"

rm -rf "$WORK"
mkdir -p "$WORK"
"$VENV/bin/python" Benchmarks/vector-search/bench.py generate \
    --out "$WORK/data" --n "$N" --dim "$DIM" --queries "$QUERIES" --seed "$SEED"
"$BIN" load --data "$WORK/data" --store "$WORK/store"
"$VENV/bin/python" Benchmarks/vector-search/bench.py compare --data "$WORK/data" --jade-bin "$BIN" \
    --store "$WORK/store" --k "$K" --rounds "$ROUNDS"

echo "two processes mapping the same segments at once:"
"$BIN" memory --store "$WORK/store" --hold 3 &
first=$!
"$BIN" memory --store "$WORK/store" --hold 3
wait "$first"
"$BIN" churn --store "$WORK/store"
