#!/usr/bin/env python3
"""Time from a fault clearing to the first successful write (issue 5's recovery benchmark).

Runs the real server (release build, 2 workers) with its data directory on a small tmpfs (root
only: it mounts one), fills the disk until writes answer 503 `read_only` and the shared write
breaker is open, then frees the space and sends a write every 10 ms until one succeeds. The time
from freeing the space to that first 201 is the recovery time; it is bounded by the breaker's
open timeout (the one probe goes out when it expires) plus one request. Each round frees the
space right after the breaker opened, the worst case.

Usage: sudo scripts/bench-recovery.py [--rounds 3] [--open-timeout 5] [--binary PATH]
Everything it starts (the server, the mount) is stopped or removed on exit; every wait is bounded.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
ADMIN_PASSWORD = "bench-recovery-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None, token=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text or b"{}")
        except ValueError:
            return error.code, {}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--open-timeout", type=int, default=5, help="circuit_breaker.open_timeout_seconds")
    parser.add_argument("--binary", default=os.path.join(REPO, ".build/release/jadevectordb"))
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench-recovery: needs root (it mounts a small tmpfs for the data directory)")
    if not os.access(args.binary, os.X_OK):
        subprocess.run(["swift", "build", "-c", "release", "--product", "jadevectordb"], cwd=REPO, check=True)

    work = tempfile.mkdtemp(prefix="bench-recovery.")
    mount = os.path.join(work, "small")
    os.makedirs(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mount], check=True)
    server = None
    try:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("JADEVECTORDB_")}
        env.update({
            "JADEVECTORDB_CONFIG_DIR": os.path.join(REPO, "config"),
            "JADEVECTORDB_DATA_DIR": os.path.join(mount, "data"),
            "JADEVECTORDB_HOST": "127.0.0.1",
            "JADEVECTORDB_PORT": str(port),
            "JADEVECTORDB_WORKERS": "2",
            "JADEVECTORDB_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "JADEVECTORDB_LOGGING_ACCESS_LOG": "false",
            "JADEVECTORDB_CIRCUIT_BREAKER_OPEN_TIMEOUT_SECONDS": str(args.open_timeout),
            "JADEVECTORDB_RATE_LIMITS_API_LIMIT": "100000000",
        })
        log = open(os.path.join(work, "server.log"), "w")
        server = subprocess.Popen([args.binary, "serve"], env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if call(port, "GET", "/health", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            sys.exit("bench-recovery: the server did not become healthy")
        status, body = call(port, "POST", "/v1/auth/login", {"username": "admin", "password": ADMIN_PASSWORD})
        token = body["token"]
        filler = os.path.join(mount, "filler")
        results = []
        for round_ in range(args.rounds):
            with open(filler, "wb") as f:  # fill the disk; ENOSPC ends the loop
                chunk = b"\0" * (1 << 20)
                try:
                    while True:
                        f.write(chunk)
                        f.flush()
                except OSError:
                    pass
            opened = False
            for i in range(200):
                status, body = call(port, "POST", "/v1/admin/groups", {"name": f"r{round_}-f{i}"}, token)
                breaker = (call(port, "GET", "/health/db", token=token)[1].get("circuit_breaker") or {}).get("writes") or {}
                if breaker.get("state") == "open":
                    opened = True
                    break
            if not opened:
                sys.exit("bench-recovery: the write breaker did not open on a full disk")
            os.remove(filler)
            cleared = time.monotonic()
            attempts = 0
            while time.monotonic() - cleared < args.open_timeout + 30:
                attempts += 1
                status, _ = call(port, "POST", "/v1/admin/groups", {"name": f"r{round_}-ok"}, token)
                if status == 201:
                    break
                time.sleep(0.01)
            else:
                sys.exit("bench-recovery: no successful write within the open timeout + 30 s")
            elapsed = time.monotonic() - cleared
            results.append(elapsed)
            print(f"round {round_ + 1}: first successful write {elapsed:.3f} s after the space returned "
                  f"({attempts} attempts; open timeout {args.open_timeout} s)")
        print(f"recovery time: min {min(results):.3f} s, max {max(results):.3f} s over {len(results)} rounds; "
              f"bound: open timeout ({args.open_timeout} s) + one request")
    finally:
        if server and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=45)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        subprocess.run(["umount", "-l", mount])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
