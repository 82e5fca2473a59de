#!/usr/bin/env python3
"""Vector ingest and search over HTTP against a running JadeVectorDB (127.0.0.1 only).

Usage: scripts/bench-vectors-http.py PORT ADMIN_PASSWORD [N=100000] [DIM=128] [BATCH=500] [QUERIES=1000]
       [SEARCH_BATCH=100]

Creates databases bench_cos (cosine) and bench_l2 (euclidean), loads N seeded random vectors in
batches of BATCH with 2 client threads (keep-alive), then runs QUERIES top-10 searches with 2
threads, one per request, then the same QUERIES as batch searches of SEARCH_BATCH
(POST .../search/batch), and prints vectors/s and queries/s of each, checking that the batches
answer what the single searches did. Bounded: N/BATCH batch requests, 2 x QUERIES searches.
"""
import http.client, json, random, sys, threading, time

port = int(sys.argv[1]); password = sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
DIM = int(sys.argv[4]) if len(sys.argv) > 4 else 128
BATCH = int(sys.argv[5]) if len(sys.argv) > 5 else 500
QUERIES = int(sys.argv[6]) if len(sys.argv) > 6 else 1000
SEARCH_BATCH = int(sys.argv[7]) if len(sys.argv) > 7 else 100

def call(conn, method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token: headers["Authorization"] = "Bearer " + token
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse(); data = r.read()
    return r.status, data

c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
status, data = call(c, "POST", "/v1/auth/login", {"username": "admin", "password": password})
token = json.loads(data)["token"]
rng = random.Random(42)
for name, metric in (("bench_cos", "cosine"), ("bench_l2", "euclidean")):
    call(c, "POST", "/v1/databases", {"name": name, "dimension": DIM, "metric": metric}, token)

# Pre-encode the batches (client-side JSON work is not the server's).
batches = []
for b in range(N // BATCH):
    vectors = [{"id": f"v{b * BATCH + i}", "values": [round(rng.uniform(-1, 1), 5) for _ in range(DIM)]} for i in range(BATCH)]
    batches.append(json.dumps({"vectors": vectors}).encode())
print(f"batch body: {len(batches[0]) / 1024:.0f} KiB for {BATCH} vectors of dimension {DIM}")

def run(work, items, threads=2):
    errors = []
    def worker(part):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for item in part:
            s = work(conn, item)
            if s != 200: errors.append(s)
    parts = [items[i::threads] for i in range(threads)]
    ts = [threading.Thread(target=worker, args=(p,)) for p in parts]
    start = time.time(); [t.start() for t in ts]; [t.join() for t in ts]
    return time.time() - start, errors

def upsert(conn, body, name="bench_cos"):
    conn.request("PUT", f"/v1/databases/{name}/vectors", body=body,
                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
    r = conn.getresponse(); r.read(); return r.status

for name in ("bench_cos", "bench_l2"):
    elapsed, errors = run(lambda conn, body: upsert(conn, body, name), batches)
    print(f"ingest {name}: {N / elapsed:,.0f} vectors/s ({len(batches)} batches of {BATCH}, {elapsed:.1f} s, errors {errors[:3]})")

queries = [json.dumps({"vector": [rng.uniform(-1, 1) for _ in range(DIM)], "k": 10}).encode() for _ in range(QUERIES)]
answers = {}
def search(conn, body, name, path="search"):
    conn.request("POST", f"/v1/databases/{name}/{path}", body=body,
                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
    r = conn.getresponse(); data = r.read()
    if r.status == 200: answers[(name, path, body)] = data
    return r.status
batches_of_queries = []
for first in range(0, QUERIES, SEARCH_BATCH):
    group = [json.loads(q) for q in queries[first:first + SEARCH_BATCH]]
    batches_of_queries.append(json.dumps({"searches": group}).encode())
for name in ("bench_cos", "bench_l2"):
    run(lambda conn, body: search(conn, body, name), queries[:20])  # warm the workers' mappings
    elapsed, errors = run(lambda conn, body: search(conn, body, name), queries)
    single = QUERIES / elapsed
    print(f"search {name}: {single:,.1f} queries/s over HTTP (top-10, {elapsed:.1f} s, errors {errors[:3]})")
    elapsed, errors = run(lambda conn, body: search(conn, body, name, "search/batch"), batches_of_queries)
    batched = QUERIES / elapsed
    print(f"batch search {name}: {batched:,.1f} queries/s over HTTP in batches of {SEARCH_BATCH} "
          f"({batched / single:.1f}x the single searches; {elapsed:.1f} s, errors {errors[:3]})")
    # The batches answer exactly what the single searches did.
    mismatches = 0
    for b, body in enumerate(batches_of_queries):
        lists = json.loads(answers[(name, "search/batch", body)])["results"]
        for i, hits in enumerate(lists):
            one = json.loads(answers[(name, "search", queries[b * SEARCH_BATCH + i])])["results"]
            if [h["id"] for h in hits] != [h["id"] for h in one]: mismatches += 1
    print(f"batch search {name}: {mismatches} of {QUERIES} answers differ from the single search")
