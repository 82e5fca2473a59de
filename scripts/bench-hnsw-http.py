#!/usr/bin/env python3
"""HNSW over HTTP: a release `jadevectordb serve` with 2 workers (started and stopped here, on
127.0.0.1), an HNSW database loaded with a clustered data set, then the same top-10 queries
through the graph and with `"exact": true`, with 2 client threads, keep-alive.

Usage: scripts/bench-hnsw-http.py [--n 200000] [--dim 128] [--queries 1000] [--m 16]
                                  [--ef-construction 200] [--efs 32,64,128] [--bin PATH]

Data: Gaussian mixture of 1,000 clusters (centres uniform in [-1, 1]^dim, sd 0.1), seeded,
euclidean. Prints: ingest vectors/s; background graph build time and vectors/s (from the
first upsert until `GET /v1/databases/{name}` says `ready`); per ef, queries/s and recall@10
against the exact answers; exact queries/s and the ratio; the PSS and RSS of the graph
file's mapping in each worker (one copy shared: PSS adds up to about one file). Bounded:
n / 500 upserts, (1 + len(efs)) x queries searches, a 20-minute limit on the build.
"""
import argparse, http.client, json, os, random, shutil, signal, socket, subprocess, sys, tempfile, threading, time

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=200_000)
p.add_argument("--dim", type=int, default=128)
p.add_argument("--queries", type=int, default=1000)
p.add_argument("--m", type=int, default=16)
p.add_argument("--ef-construction", type=int, default=200)
p.add_argument("--efs", default="32,64,128")
p.add_argument("--bin", default=None)
a = p.parse_args()

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = a.bin
if binary is None:
    subprocess.run(["flock", "/tmp/jade-build.lock", "swift", "build", "-c", "release", "--product", "jadevectordb"],
                   cwd=repo, check=True, stdout=subprocess.DEVNULL)
    binary = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=repo, check=True,
                            capture_output=True, text=True).stdout.strip() + "/jadevectordb"

s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
work = tempfile.mkdtemp(prefix="jade-hnsw-bench-")
env = {k: v for k, v in os.environ.items() if not k.startswith("JADEVECTORDB_")}
env.update({
    "JADEVECTORDB_CONFIG_DIR": repo + "/config", "JADEVECTORDB_DATA_DIR": work + "/data",
    "JADEVECTORDB_HOST": "127.0.0.1", "JADEVECTORDB_PORT": str(port), "JADEVECTORDB_WORKERS": "2",
    "JADEVECTORDB_LOGGING_ACCESS_LOG": "false", "JADEVECTORDB_ADMIN_PASSWORD": "bench-admin-password",
    "JADEVECTORDB_RATE_LIMITS_API_LIMIT": "100000000", "JADEVECTORDB_RATE_LIMITS_API_PERIOD_SECONDS": "1",
    "JADEVECTORDB_RATE_LIMITS_GLOBAL_LIMIT": "100000000", "JADEVECTORDB_CACHE_ENABLE_QUERY_CACHE": "false",
})
log = open(work + "/server.log", "w")
server = subprocess.Popen([binary, "serve"], env=env, stderr=log, stdout=log)


def stop():
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
    shutil.rmtree(work, ignore_errors=True)


try:
    deadline = time.time() + 30
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.time() > deadline or server.poll() is not None:
            sys.exit("server did not become ready")
        time.sleep(0.2)

    def call(conn, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        conn.request(method, path, body=body if isinstance(body, (bytes, type(None))) else json.dumps(body),
                     headers=headers)
        r = conn.getresponse()
        return r.status, r.read()

    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    token = json.loads(call(c, "POST", "/v1/auth/login", {"username": "admin", "password": "bench-admin-password"})[1])["token"]
    status, body = call(c, "POST", "/v1/databases", {
        "name": "ann", "dimension": a.dim, "metric": "euclidean",
        "index": {"type": "hnsw", "m": a.m, "ef_construction": a.ef_construction}}, token)
    assert status == 201, body

    rng = random.Random(42)
    centres = [[rng.uniform(-1, 1) for _ in range(a.dim)] for _ in range(1000)]
    def point():
        c0 = centres[rng.randrange(1000)]
        return [round(x + rng.gauss(0, 0.1), 5) for x in c0]
    batches = []
    for b in range(a.n // 500):
        batches.append(json.dumps({"vectors": [{"id": f"v{b * 500 + i}", "values": point()} for i in range(500)]}).encode())
    queries = [point() for _ in range(a.queries)]

    def run(work_fn, items, threads=2):
        errors = []
        def worker(part):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for item in part:
                st = work_fn(conn, item)
                if st != 200:
                    errors.append(st)
        parts = [items[i::threads] for i in range(threads)]
        ts = [threading.Thread(target=worker, args=(part,)) for part in parts]
        start = time.time(); [t.start() for t in ts]; [t.join() for t in ts]
        return time.time() - start, errors

    start = time.time()
    elapsed, errors = run(lambda conn, body: call(conn, "PUT", "/v1/databases/ann/vectors", body, token)[0], batches)
    print(f"ingest: {a.n / elapsed:,.0f} vectors/s ({elapsed:.1f} s, errors {errors[:3]})")
    while True:
        info = json.loads(call(c, "GET", "/v1/databases/ann", token=token)[1])["database"]["index"]
        if info["state"] == "ready":
            break
        if time.time() - start > 1200:
            sys.exit(f"graph not ready after 20 minutes: {info}")
        time.sleep(1)
    built = time.time() - start
    print(f"graph build: ready {built:.1f} s after the first upsert ({a.n / built:,.0f} vectors/s, "
          f"M={a.m}, ef_construction={a.ef_construction}, background, one worker at a time)")

    answers = {}
    def search(conn, key, body):
        st, data = call(conn, "POST", "/v1/databases/ann/search", body, token)
        if st == 200:
            answers[key] = [h["id"] for h in json.loads(data)["results"]]
        return st
    exact_bodies = [(("exact", i), json.dumps({"vector": q, "k": 10, "exact": True}).encode()) for i, q in enumerate(queries)]
    run(lambda conn, kb: search(conn, *kb), exact_bodies[:20])  # warm the mappings
    elapsed, errors = run(lambda conn, kb: search(conn, *kb), exact_bodies)
    exact_qps = a.queries / elapsed
    print(f"exact: {exact_qps:,.1f} queries/s ({elapsed:.1f} s, errors {errors[:3]})")
    for ef in [int(x) for x in a.efs.split(",")]:
        bodies = [(("ef", ef, i), json.dumps({"vector": q, "k": 10, "ef": ef}).encode()) for i, q in enumerate(queries)]
        run(lambda conn, kb: search(conn, *kb), bodies[:20])
        elapsed, errors = run(lambda conn, kb: search(conn, *kb), bodies)
        hits = sum(len(set(answers[("ef", ef, i)]) & set(answers[("exact", i)])) for i in range(a.queries))
        qps = a.queries / elapsed
        print(f"hnsw ef={ef}: {qps:,.1f} queries/s, recall@10 {hits / (10 * a.queries):.4f}, "
              f"{qps / exact_qps:.1f}x exact ({elapsed:.1f} s, errors {errors[:3]})")

    # The graph file's mapping in each worker: PSS (shared pages split between the processes
    # that map them) and RSS.
    children = open(f"/proc/{server.pid}/task/{server.pid}/children").read().split()
    for pid in children:
        pss = rss = 0
        current = False
        for line in open(f"/proc/{pid}/smaps"):
            fields = line.split()
            if len(fields) >= 5 and "-" in fields[0] and ":" in fields[3]:
                current = line.rstrip().endswith(".hnsw")
            elif current and fields[0] == "Pss:":
                pss += int(fields[1])
            elif current and fields[0] == "Rss:":
                rss += int(fields[1])
        print(f"worker {pid}: graph mapping RSS {rss / 1024:.1f} MiB, PSS {pss / 1024:.1f} MiB")
    files = [f for f in os.listdir(work + "/data/vectors") if f.endswith(".hnsw")]
    for f in files:
        print(f"graph file {f}: {os.path.getsize(work + '/data/vectors/' + f) / 1048576:.1f} MiB")
finally:
    stop()
