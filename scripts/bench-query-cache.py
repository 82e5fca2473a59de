#!/usr/bin/env python3
"""What the query cache (cache.enable_query_cache) buys: repeated searches and gets over HTTP.

Usage: scripts/bench-query-cache.py [N=100000] [DIM=128] [DISTINCT=50] [REQUESTS=4000]

Starts two release servers (2 workers each, 127.0.0.1, fresh data directories): one with the
query cache on, one with it off. Loads the same N seeded random vectors (dimension DIM) into
each, then for each server in turn: REQUESTS top-10 searches drawn from DISTINCT different query
vectors (2 keep-alive client threads), and REQUESTS gets of DISTINCT different ids. Prints
requests/s and the median and p99 latency per server, and the hit and miss counts from
/metrics. Every process it starts is stopped by its PID; every wait is bounded.
Build first: swift build -c release --product jadevectordb
"""
import http.client, json, os, random, shutil, signal, socket, subprocess, sys, tempfile, threading, time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
DIM = int(sys.argv[2]) if len(sys.argv) > 2 else 128
DISTINCT = int(sys.argv[3]) if len(sys.argv) > 3 else 50
REQUESTS = int(sys.argv[4]) if len(sys.argv) > 4 else 4000
BATCH = 500
PASSWORD = "bench-admin-password-1"
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.environ.get("BENCH_JADE_BIN", os.path.join(repo, ".build/release/jadevectordb"))
if not os.path.exists(binary):
    sys.exit(f"bench-query-cache: {binary} is missing; run swift build -c release --product jadevectordb")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cache_on, work):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JADEVECTORDB_")}
    env.update({
        "JADEVECTORDB_CONFIG_DIR": os.path.join(repo, "config"), "JADEVECTORDB_DATA_DIR": work,
        "JADEVECTORDB_HOST": "127.0.0.1", "JADEVECTORDB_PORT": str(port), "JADEVECTORDB_WORKERS": "2",
        "JADEVECTORDB_ADMIN_PASSWORD": PASSWORD, "JADEVECTORDB_CACHE_ENABLE_QUERY_CACHE": str(cache_on).lower(),
        "JADEVECTORDB_RATE_LIMITS_API_LIMIT": "10000000", "JADEVECTORDB_RATE_LIMITS_API_BURST": "10000000",
        "JADEVECTORDB_RATE_LIMITS_GLOBAL_LIMIT": "10000000", "JADEVECTORDB_RATE_LIMITS_GLOBAL_BURST": "10000000",
    })
    log = open(os.path.join(work, "server.log"), "w")
    process = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit("bench-query-cache: a server did not become healthy within 30 s")


def call(conn, method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, body=body if isinstance(body, (bytes, type(None))) else json.dumps(body), headers=headers)
    r = conn.getresponse()
    return r.status, r.read()


def load(port, batches):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    token = json.loads(call(c, "POST", "/v1/auth/login", {"username": "admin", "password": PASSWORD})[1])["token"]
    status, _ = call(c, "POST", "/v1/databases", {"name": "bench", "dimension": DIM, "metric": "cosine"}, token)
    assert status == 201, status
    for body in batches:
        status, data = call(c, "PUT", "/v1/databases/bench/vectors", body, token)
        assert status == 200, (status, data[:200])
    return token


def measure(port, token, requests):
    latencies, errors = [], []
    lock = threading.Lock()

    def worker(part):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for method, path, body in part:
            t = time.perf_counter()
            status, _ = call(c, method, path, body, token)
            mine.append(time.perf_counter() - t)
            if status != 200:
                errors.append(status)
        with lock:
            latencies.extend(mine)

    parts = [requests[i::2] for i in range(2)]
    threads = [threading.Thread(target=worker, args=(p,)) for p in parts]
    start_time = time.perf_counter()
    [t.start() for t in threads]
    [t.join() for t in threads]
    elapsed = time.perf_counter() - start_time
    latencies.sort()
    return len(requests) / elapsed, latencies[len(latencies) // 2] * 1e3, latencies[int(len(latencies) * 0.99)] * 1e3, errors


def cache_counts(port, token):
    _, data = call(http.client.HTTPConnection("127.0.0.1", port, timeout=10), "GET", "/metrics", None, token)
    counts = {}
    for line in data.decode().splitlines():
        if line.startswith("jadevectordb_query_cache_requests_total{"):
            counts[line.split('result="')[1].split('"')[0]] = float(line.split()[-1])
    return counts


rng = random.Random(42)
batches = []
for b in range(N // BATCH):
    vectors = [{"id": f"v{b * BATCH + i}", "values": [round(rng.uniform(-1, 1), 5) for _ in range(DIM)]} for i in range(BATCH)]
    batches.append(json.dumps({"vectors": vectors}).encode())
queries = [json.dumps({"vector": [rng.uniform(-1, 1) for _ in range(DIM)], "k": 10}).encode() for _ in range(DISTINCT)]
ids = [f"v{rng.randrange(N)}" for _ in range(DISTINCT)]
searches = [("POST", "/v1/databases/bench/search", queries[rng.randrange(DISTINCT)]) for _ in range(REQUESTS)]
gets = [("GET", f"/v1/databases/bench/vectors/{ids[rng.randrange(DISTINCT)]}", None) for _ in range(REQUESTS)]

print(f"bench-query-cache: {N} vectors of dimension {DIM}; {REQUESTS} searches (top 10) and {REQUESTS} gets "
      f"drawn from {DISTINCT} distinct ones; 2 workers, 2 client threads")
for cache_on in (True, False):
    work = tempfile.mkdtemp(prefix="bench-query-cache.")
    process, port = start(cache_on, work)
    try:
        token = load(port, batches)
        for name, requests in (("search", searches), ("get", gets)):
            measure(port, token, requests[: len(requests) // 10])  # warm-up
            rate, p50, p99, errors = measure(port, token, requests)
            print(f"cache {'on ' if cache_on else 'off'} {name:6}: {rate:8,.0f} req/s  p50 {p50:6.2f} ms  "
                  f"p99 {p99:6.2f} ms  errors {len(errors)}")
        print(f"cache {'on ' if cache_on else 'off'} metrics: {cache_counts(port, token)}")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)
