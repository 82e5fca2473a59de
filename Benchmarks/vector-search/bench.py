#!/usr/bin/env python3
"""The Python side of scripts/bench-vectors.sh.

  bench.py generate --out DIR --n N --dim D --queries Q --seed S
      writes DIR/base.f32, DIR/queries.f32 (raw float32 rows, standard normal) and DIR/meta.json
  bench.py compare --data DIR --jade-bin BIN --store DIR --k K --rounds R
      times jade (`BIN search` on the loaded store DIR, in its own process), faiss (IndexFlatIP on
      normalized copies for cosine, IndexFlatL2) and numpy brute force, one query at a time on one
      thread; jade and faiss alternate for R rounds and keep their best, numpy runs once. Prints a
      table with the ratio to faiss and the overlap of each top-k with faiss's.
"""
import argparse
import json
import os
import subprocess
import time

# One thread everywhere, before numpy or faiss load their BLAS / OpenMP runtimes.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402


def generate(args):
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    base = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    base.tofile(os.path.join(args.out, "base.f32"))
    queries.tofile(os.path.join(args.out, "queries.f32"))
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"n": args.n, "dim": args.dim, "queries": args.queries, "seed": args.seed}, f)


def load(data):
    with open(os.path.join(data, "meta.json")) as f:
        meta = json.load(f)
    base = np.fromfile(os.path.join(data, "base.f32"), dtype=np.float32).reshape(meta["n"], meta["dim"])
    queries = np.fromfile(os.path.join(data, "queries.f32"), dtype=np.float32).reshape(meta["queries"], meta["dim"])
    return base, queries


def per_query(search, queries):
    """Mean and p50 in ms of search(one query as a 1 x d array), after a short warm-up."""
    for i in range(min(20, len(queries))):
        search(queries[i : i + 1])
    times, ids = [], []
    for i in range(len(queries)):
        start = time.perf_counter()
        found = search(queries[i : i + 1])
        times.append(time.perf_counter() - start)
        ids.append(found)
    times.sort()
    return {"mean_ms": 1000 * sum(times) / len(times), "p50_ms": 1000 * times[len(times) // 2], "ids": ids}


def normalized(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def best(a, b):
    return a if b is None or a["mean_ms"] <= b["mean_ms"] else b


def compare(args):
    import faiss

    faiss.omp_set_num_threads(1)
    k = args.k
    base, queries = load(args.data)
    d = base.shape[1]

    base_n, queries_n = normalized(base), normalized(queries)
    ip = faiss.IndexFlatIP(d)
    ip.add(base_n)
    l2 = faiss.IndexFlatL2(d)
    l2.add(base)
    # Rounds alternate between jade (a fresh search process each time) and faiss, so that both
    # meet the same background load; each keeps its best round by mean.
    jade, faiss_ip, faiss_l2 = None, None, None
    out = os.path.join(os.path.dirname(os.path.abspath(args.data)), "jade.json")
    for _ in range(args.rounds):
        subprocess.run(
            [args.jade_bin, "search", "--data", args.data, "--store", args.store, "--k", str(k)]
            + ["--rounds", "1", "--out", out],
            check=True,
        )
        with open(out) as f:
            run = json.load(f)
        if jade is None:
            jade = run
        else:
            jade["cos"], jade["l2"] = best(run["cos"], jade["cos"]), best(run["l2"], jade["l2"])
        faiss_ip = best(per_query(lambda q: ip.search(normalized(q), k)[1][0].tolist(), queries), faiss_ip)
        faiss_l2 = best(per_query(lambda q: l2.search(q, k)[1][0].tolist(), queries), faiss_l2)
    results = {"faiss IndexFlatIP (cosine)": faiss_ip, "faiss IndexFlatL2": faiss_l2}
    # The same 1,000 queries in one call: faiss then uses BLAS (sgemm), a throughput figure.
    start = time.perf_counter()
    ip.search(queries_n, k)
    batch_ip = 1000 * (time.perf_counter() - start) / len(queries)
    start = time.perf_counter()
    l2.search(queries, k)
    batch_l2 = 1000 * (time.perf_counter() - start) / len(queries)

    def top(scores, best_high):
        part = np.argpartition(-scores if best_high else scores, k)[:k]
        order = np.argsort(-scores[part] if best_high else scores[part], kind="stable")
        return part[order].tolist()

    base_sq = (base * base).sum(axis=1)
    results["numpy brute force (cosine)"] = per_query(lambda q: top(base_n @ normalized(q)[0], True), queries)
    results["numpy brute force (L2)"] = per_query(lambda q: top(base_sq - 2 * (base @ q[0]), False), queries)

    def overlap(a, b):
        return sum(len(set(x) & set(y)) for x, y in zip(a, b)) / (k * len(a))

    faiss_ip = results["faiss IndexFlatIP (cosine)"]
    faiss_l2 = results["faiss IndexFlatL2"]
    rows = [
        ("jade cosine", jade["cos"], faiss_ip),
        ("jade euclidean", jade["l2"], faiss_l2),
        ("faiss IndexFlatIP (cosine)", faiss_ip, faiss_ip),
        ("faiss IndexFlatL2", faiss_l2, faiss_l2),
        ("numpy brute force (cosine)", results["numpy brute force (cosine)"], faiss_ip),
        ("numpy brute force (L2)", results["numpy brute force (L2)"], faiss_l2),
    ]
    print(
        f"{base.shape[0]:,} vectors x {d} dims, {len(queries):,} queries, top-{k}, one query at a time, one thread"
        f" (jade and faiss: best of {args.rounds} alternating rounds)"
    )
    print(f"{'engine':<30} {'mean ms/query':>14} {'vs faiss':>9} {'p50 ms':>8} {'vs faiss':>9} {'top-k = faiss':>14}")
    for name, r, ref in rows:
        print(
            f"{name:<30} {r['mean_ms']:>14.3f} {r['mean_ms'] / ref['mean_ms']:>8.2f}x"
            f" {r['p50_ms']:>8.3f} {r['p50_ms'] / ref['p50_ms']:>8.2f}x {100 * overlap(r['ids'], ref['ids']):>13.2f}%"
        )
    print(
        f"(faiss with all {len(queries):,} queries in one call, BLAS: IP {batch_ip:.3f} ms/query, "
        f"L2 {batch_l2:.3f} ms/query)"
    )
    print(
        f"jade: first search of a freshly opened process (map + read ids) cos {jade['cos']['first_search_ms']:.1f} ms, "
        f"l2 {jade['l2']['first_search_ms']:.1f} ms; fixed cost of a search on a 1-row database "
        f"{jade['fixed_overhead_ms'] * 1000:.0f} us"
    )
    m = jade["memory_mib"]
    print(
        f"jade search process: mapped {jade['mapped_mib']:.1f} MiB; RSS {m.get('VmRSS', 0):.1f} MiB "
        f"(anon {m.get('RssAnon', 0):.1f} + file-backed {m.get('RssFile', 0):.1f})"
    )


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", required=True)
    g.add_argument("--n", type=int, default=100_000)
    g.add_argument("--dim", type=int, default=128)
    g.add_argument("--queries", type=int, default=1000)
    g.add_argument("--seed", type=int, default=42)
    c = sub.add_parser("compare")
    c.add_argument("--data", required=True)
    c.add_argument("--jade-bin", required=True)
    c.add_argument("--store", required=True)
    c.add_argument("--k", type=int, default=10)
    c.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    {"generate": generate, "compare": compare}[args.command](args)


if __name__ == "__main__":
    main()
