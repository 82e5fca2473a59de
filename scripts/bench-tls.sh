#!/usr/bin/env bash
# What TLS costs per request: JadeVectorDB's own TLS (swift-nio-ssl) against its plain HTTP,
# beside nginx terminating TLS in front of `return 200` against nginx's plain HTTP, and nginx
# terminating TLS in front of JadeVectorDB (the reverse-proxy deployment). Paired runs: each
# round measures every target once, back to back, and the medians over the rounds are printed.
#
# Usage: scripts/bench-tls.sh [ROUNDS (default 3)] [SECONDS per run (default 5)]
#
# Needs nginx and wrk (apt-get install nginx-light wrk) and openssl. Everything listens on
# 127.0.0.1 on free ports and is stopped (by PID) at the end. JadeVectorDB and nginx each run
# one worker process; wrk runs one thread with 16 keep-alive connections on GET /health (the
# server's liveness answer; nginx answers the same bytes with `return 200`). A second pass with
# `Connection: close` measures a full TLS handshake per request.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds="${1:-3}"
seconds="${2:-5}"
for tool in nginx wrk openssl; do
    command -v "$tool" >/dev/null || { echo "bench-tls: $tool is needed (apt-get install nginx-light wrk openssl)" >&2; exit 2; }
done
flock /tmp/jade-build.lock swift build -c release --product jadevectordb >/dev/null
bin="$(swift build -c release --show-bin-path)/jadevectordb"

work="$(mktemp -d /tmp/jade-bench-tls.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A CA and a P-256 server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/ca.key" \
    -out "$work/ca.pem" -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" \
    -out "$work/req.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$work/ext"
openssl x509 -req -in "$work/req.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -out "$work/cert.pem" -days 2 -extfile "$work/ext" 2>/dev/null

start_jade() { # $1 port, $2 data dir, $3 tls (yes/no)
    local extra=()
    if [[ $3 == yes ]]; then
        extra=(JADEVECTORDB_SERVER_TLS_CERTIFICATE_FILE="$work/cert.pem"
            JADEVECTORDB_SERVER_TLS_PRIVATE_KEY_FILE="$work/key.pem")
    fi
    env -i PATH="$PATH" HOME="$HOME" JADEVECTORDB_CONFIG_DIR="$PWD/config" JADEVECTORDB_PORT="$1" \
        JADEVECTORDB_HOST=127.0.0.1 JADEVECTORDB_WORKERS=1 JADEVECTORDB_DATA_DIR="$2" \
        JADEVECTORDB_LOGGING_LEVEL=warning JADEVECTORDB_LOGGING_ACCESS_LOG=false \
        JADEVECTORDB_SECURITY_IP_ALLOWLIST=127.0.0.1/32 JADEVECTORDB_ADMIN_PASSWORD=Bench-Passw0rd-TLS \
        "${extra[@]}" "$bin" serve >"$2.log" 2>&1 &
    pids+=($!)
}

jade_plain=$(free_port); jade_tls=$(free_port); nginx_plain=$(free_port); nginx_tls=$(free_port); proxy=$(free_port)
start_jade "$jade_plain" "$work/plain" no
start_jade "$jade_tls" "$work/tls" yes

body='{"status":"ok"}'
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    upstream jade { server 127.0.0.1:$jade_plain; keepalive 32; }
    server { listen 127.0.0.1:$nginx_plain; location / { default_type application/json; return 200 '$body'; } }
    server {
        listen 127.0.0.1:$nginx_tls ssl;
        ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { default_type application/json; return 200 '$body'; }
    }
    server {
        listen 127.0.0.1:$proxy ssl;
        ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { proxy_pass http://jade; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
nginx -c "$work/nginx.conf" -p "$work" &
pids+=($!)

for url in "http://127.0.0.1:$jade_plain" "https://127.0.0.1:$jade_tls" "http://127.0.0.1:$nginx_plain" \
    "https://127.0.0.1:$nginx_tls" "https://127.0.0.1:$proxy"; do
    for _ in $(seq 1 200); do
        curl -s -o /dev/null --cacert "$work/ca.pem" "$url/health" && break
        sleep 0.05
    done
    curl -sf -o /dev/null --cacert "$work/ca.pem" "$url/health" || { echo "bench-tls: $url does not answer" >&2; exit 1; }
done

targets=(
    "jade-http http://127.0.0.1:$jade_plain/health"
    "jade-https https://127.0.0.1:$jade_tls/health"
    "nginx-http http://127.0.0.1:$nginx_plain/health"
    "nginx-https https://127.0.0.1:$nginx_tls/health"
    "nginx-https->jade-http https://127.0.0.1:$proxy/health"
)
results="$work/results"
: >"$results"
for mode in keepalive close; do
    header=()
    connections=16
    if [[ $mode == close ]]; then header=(-H "Connection: close"); connections=4; fi
    for round in $(seq 1 "$rounds"); do
        for target in "${targets[@]}"; do
            name=${target%% *}
            url=${target#* }
            rps=$(wrk -t1 -c"$connections" -d"${seconds}s" "${header[@]}" "$url" 2>/dev/null |
                awk '/Requests\/sec/ { print $2 }')
            echo "$mode $name $round ${rps:-0}" >>"$results"
        done
    done
done

python3 - "$results" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = {}
for mode, name, _, rps in rows:
    med.setdefault((mode, name), []).append(float(rps))
med = {k: statistics.median(v) for k, v in med.items()}
for mode, title in (("keepalive", "keep-alive, 16 connections"), ("close", "a new connection (full handshake) per request, 4 connections")):
    print(f"{title}: median requests/s of the rounds, and microseconds per request")
    for name in ("jade-http", "jade-https", "nginx-http", "nginx-https", "nginx-https->jade-http"):
        rps = med.get((mode, name), 0)
        print(f"  {name:24s} {rps:10,.0f}/s  {1e6 / rps if rps else float('nan'):8.1f} us")
    jade = 1e6 / med[(mode, "jade-https")] - 1e6 / med[(mode, "jade-http")]
    nginx = 1e6 / med[(mode, "nginx-https")] - 1e6 / med[(mode, "nginx-http")]
    print(f"  TLS costs jadevectordb {jade:+.1f} us a request, nginx {nginx:+.1f} us")
EOF
