#!/usr/bin/env python3
"""Hostile clients and measurements for scripts/soak.sh, all against 127.0.0.0/8 only.

Runs, for a bounded time, at the same time as the polite load (wrk, started by soak.sh):
  - a brute forcer: wrong logins from one address as fast as they are answered;
  - a table filler: password-reset requests for random accounts from 250 addresses;
  - a pipeliner that never reads: GET /health pipelined on one connection until the server
    stops reading, reconnecting every 20 s;
  - a slowloris crowd: 200 connections from 200 addresses, each sending one header byte every
    5 s and never finishing;
  - large-answer clients: searches with k=1000 and values that are never read;
  - polite logins: the right password from another address, once a second (must all succeed);
and samples the workers' resident memory every 5 s (VmRSS, and its anonymous, file-backed and
shared-memory parts).

Prints one JSON object with the counts and the memory series. Usage:
  soak-hostile.py PORT MASTER_PID POLITE_PASSWORD API_KEY SECONDS
The brute forcer attacks the account `admin`; the polite logins are of the user `polite` (a
brute-forced account is locked by design, and its owner's logins then fail too).
SOAK_CLIENTS (comma-separated, default all) picks the clients: brute, reset, pipeline,
slowloris, large, logins.
"""
import http.client
import json
import os
import random
import socket
import sys
import threading
import time

PORT, MASTER, PASSWORD, KEY, SECONDS = (
    int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]))
DEADLINE = time.monotonic() + SECONDS
lock = threading.Lock()
counts = {}


def count(name, n=1):
    with lock:
        counts[name] = counts.get(name, 0) + n


def running():
    return time.monotonic() < DEADLINE


def connect(source=None, rcvbuf=None, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", PORT))
    return s


def post(path, body, source=None, headers=None):
    """One request on a fresh connection from `source`; returns the status (or -1)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10, source_address=(source, 0) if source else None)
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **(headers or {})})
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return -1


def brute_force():
    while running():
        status = post("/v1/auth/login", {"username": "admin", "password": "guess-%d" % random.randrange(10**9)},
                      source="127.0.66.1")
        count("brute_force_%s" % status)


def reset_flood():
    addresses = ["127.0.%d.%d" % (80 + i // 200, 1 + i % 200) for i in range(250)]
    while running():
        status = post("/v1/auth/password-reset/request", {"username": "u%016x" % random.getrandbits(64)},
                      source=random.choice(addresses))
        count("reset_flood_%s" % status)
        time.sleep(0.002)


def pipeliner():
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 4096
    while running():
        try:
            s = connect(rcvbuf=4096, timeout=1)
            started = time.monotonic()
            while running() and time.monotonic() - started < 20:
                try:
                    count("pipelined_bytes", s.send(request))
                except socket.timeout:
                    time.sleep(0.5)
            s.close()
        except OSError:
            count("pipeliner_errors")
            time.sleep(1)


def slowloris():
    sockets = []
    for i in range(200):
        try:
            sockets.append(connect(source="127.0.90.%d" % (1 + i % 250) if i < 250 else None, timeout=2))
        except OSError:
            count("slowloris_connect_failed")
    for s in sockets:
        try:
            s.send(b"GET /health HTTP/1.1\r\n")
        except OSError:
            pass
    while running():
        time.sleep(5)
        alive = 0
        for s in sockets:
            try:
                s.send(b"X")
                alive += 1
            except OSError:
                pass
        with lock:
            counts["slowloris_alive"] = alive
    for s in sockets:
        s.close()


def large_answers():
    body = json.dumps({"vector": [0.5] * 32, "k": 1000, "include_values": True}).encode()
    head = ("POST /v1/databases/soak/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "X-API-Key: %s\r\nContent-Length: %d\r\n\r\n" % (KEY, len(body))).encode()
    while running():
        held = []
        for _ in range(20):
            try:
                s = connect(rcvbuf=4096)
                s.sendall(head + body)
                held.append(s)
                count("large_answer_requests")
            except OSError:
                count("large_answer_errors")
        time.sleep(min(10, max(0, DEADLINE - time.monotonic())))
        for s in held:
            s.close()


def polite_logins():
    while running():
        status = post("/v1/auth/login", {"username": "polite", "password": PASSWORD}, source="127.0.0.1")
        count("polite_login_%s" % status)
        time.sleep(1)


def rss_of_workers():
    try:
        children = open("/proc/%d/task/%d/children" % (MASTER, MASTER)).read().split()
    except OSError:
        return {}
    out = {}
    for pid in children:
        try:
            fields = {}
            for line in open("/proc/%s/status" % pid):
                name, _, value = line.partition(":")
                if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    fields[name] = int(value.split()[0]) * 1024
            out[pid] = fields
        except OSError:
            pass
    return out


samples = []


def sampler():
    start = time.monotonic()
    while running():
        samples.append((round(time.monotonic() - start, 1), rss_of_workers()))
        time.sleep(5)


clients = {"brute": brute_force, "reset": reset_flood, "pipeline": pipeliner, "slowloris": slowloris,
           "large": large_answers, "logins": polite_logins}
chosen = os.environ.get("SOAK_CLIENTS", ",".join(clients)).split(",")
threads = [threading.Thread(target=f, daemon=True) for f in [clients[c] for c in chosen if c] + [sampler]]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=max(0, DEADLINE - time.monotonic()) + 30)

print(json.dumps({"counts": counts, "rss": samples}))
