"""Approximate nearest-neighbour benchmark: JadeVectorDB's HNSWGraph (in process, one thread,
through `jade-bench-vectors ann`) beside hnswlib and faiss IndexHNSWFlat on the same clustered
data, with the same M and ef_construction, one thread each.

  ann.py --jade-bin BIN --work DIR [--n 200000] [--dim 128] [--queries 1000] [--clusters 1000]
         [--spread 1.0] [--m 16] [--ef-construction 200] [--seed 42]

Data: a Gaussian mixture (cluster centres uniform in [-1, 1]^dim, points at `spread` x 0.1
standard deviation around them; a larger spread makes clusters overlap). Ground truth: exact L2
top-10 (faiss IndexFlatL2). Prints, per library: build vectors/s, memory of the index (RSS
growth while building; jade also reports its own count of bytes), and for ef in 16..256 the
recall@10 and ms/query.
"""
import argparse, json, os, subprocess, time

import numpy as np


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def recall(found, truth):
    return float(np.mean([len(set(f[:10]) & set(t[:10])) / 10 for f, t in zip(found, truth)]))


EFS = [16, 32, 64, 128, 256]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--jade-bin", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--clusters", type=int, default=1000)
    p.add_argument("--spread", type=float, default=1.0)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()

    import faiss, hnswlib
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(a.seed)
    centres = rng.uniform(-1, 1, (a.clusters, a.dim)).astype(np.float32)
    def sample(count):
        which = rng.integers(0, a.clusters, count)
        return (centres[which] + rng.normal(0, 0.1 * a.spread, (count, a.dim))).astype(np.float32)
    base, queries = sample(a.n), sample(a.queries)
    os.makedirs(a.work, exist_ok=True)
    base.tofile(f"{a.work}/base.f32"); queries.tofile(f"{a.work}/queries.f32")
    flat = faiss.IndexFlatL2(a.dim); flat.add(base)
    _, truth = flat.search(queries, 10)
    np.asarray(truth, dtype=np.int32).tofile(f"{a.work}/truth.i32")
    del flat
    print(f"data: {a.n} x {a.dim}, {a.clusters} clusters, spread {a.spread}, {a.queries} queries; "
          f"M={a.m}, ef_construction={a.ef_construction}, one thread")

    rows = []
    def measure(name, build, search):
        before = rss_mib(); t = time.perf_counter(); index = build(); built = time.perf_counter() - t
        grown = rss_mib() - before
        row = {"name": name, "build_vps": a.n / built, "memory_mib": grown, "points": []}
        for ef in EFS:
            t = time.perf_counter(); found = search(index, ef); per = (time.perf_counter() - t) / a.queries
            row["points"].append((ef, recall(found, truth), per * 1000))
        rows.append(row)
        del index

    def hnsw_build():
        index = hnswlib.Index(space="l2", dim=a.dim)
        index.init_index(max_elements=a.n, M=a.m, ef_construction=a.ef_construction, random_seed=100)
        index.set_num_threads(1)
        index.add_items(base, np.arange(a.n), num_threads=1)
        return index
    def hnsw_search(index, ef):
        index.set_ef(ef)
        return [index.knn_query(q, k=10, num_threads=1)[0][0].tolist() for q in queries]
    measure("hnswlib", hnsw_build, hnsw_search)

    def faiss_build():
        index = faiss.IndexHNSWFlat(a.dim, a.m)
        index.hnsw.efConstruction = a.ef_construction
        index.add(base)
        return index
    def faiss_search(index, ef):
        index.hnsw.efSearch = ef
        return [index.search(q[None, :], 10)[1][0].tolist() for q in queries]
    measure("faiss IndexHNSWFlat", faiss_build, faiss_search)

    out = subprocess.run(
        [a.jade_bin, "ann", "--work", a.work, "--n", str(a.n), "--dim", str(a.dim), "--queries", str(a.queries),
         "--m", str(a.m), "--ef-construction", str(a.ef_construction), "--efs", ",".join(map(str, EFS))],
        check=True, capture_output=True, text=True).stdout
    jade = json.loads(out)
    rows.append({"name": "jade HNSWGraph", "build_vps": jade["build_vps"], "memory_mib": jade["rss_growth_mib"],
                 "own_bytes_mib": jade["index_mib"], "points": [tuple(p) for p in jade["points"]]})

    for row in rows:
        extra = f" (own count {row['own_bytes_mib']:.0f} MiB)" if "own_bytes_mib" in row else ""
        print(f"{row['name']}: build {row['build_vps']:,.0f} vectors/s, memory +{row['memory_mib']:.0f} MiB{extra}")
        for ef, r, ms in row["points"]:
            print(f"    ef {ef:4d}: recall@10 {r:.4f}, {ms:.3f} ms/query")


if __name__ == "__main__":
    main()
