#!/usr/bin/env bash
# HTTP throughput of `GET /health`: JadeVectorDB (release build, 2 workers) against nginx
# (2 worker processes answering a fixed JSON body), both on loopback, measured with wrk.
#
# Usage: scripts/bench-http.sh
# Environment:
#   BENCH_DURATION   wrk duration per target (default 10s)
#   BENCH_WARMUP     warm-up run before each measurement (default 2s, 0 to skip)
#   BENCH_TARGETS    which targets to run, in order (default "nginx jadevectordb baseline
#                    nolimits nometrics": baseline, nolimits and nometrics each start a fresh
#                    server and measure /v1/auth/me right away, with everything on, with the rate
#                    limiter off, and with metrics (recording and /metrics) off)
#   BENCH_AB_ROUNDS  pairs of runs for the limiter-ab target (default 6): a server with the
#                    rate limiter on and one with it off stay up, and runs alternate between them
#   BENCH_AB_OFF     the settings (NAME=VALUE ...) of the "off" server of limiter-ab (default
#                    JADEVECTORDB_SECURITY_ENABLE_RATE_LIMITING=false; e.g.
#                    JADEVECTORDB_METRICS_ENABLED=false to measure metrics), named BENCH_AB_NAME
#   BENCH_AB_OFF_BIN another jadevectordb binary for the "off" server of limiter-ab (default: the
#                    same binary): with BENCH_AB_OFF="" it compares two builds, e.g. the
#                    hostile-client protections against the commit before them
#   BENCH_AB_PATH    the route limiter-ab measures (default /v1/auth/me; /health works too)
#   BENCH_AB_KEYS    limiter-ab with N API keys sent in turn (default 1: one session token, so
#                    every request of every worker takes from the same API-limit bucket)
#   BENCH_JADE_BIN   the jadevectordb binary to measure (default .build/release/jadevectordb;
#                    set it to measure another build, which is then never built by the script)
#
# The release binary is built (swift build -c release) only if .build/release/jadevectordb is
# missing. Every process the script starts is stopped by its PID on exit; every wait is bounded.
# Both servers and wrk share the machine: compare the percentages, not the absolute figures.
set -euo pipefail

readonly THREADS=2
readonly CONNECTIONS=64
readonly DURATION="${BENCH_DURATION:-10s}"
readonly WARMUP="${BENCH_WARMUP:-2s}"
readonly TARGETS="${BENCH_TARGETS:-nginx jadevectordb baseline nolimits nometrics}"
readonly WORKERS=2
readonly AB_OFF="${BENCH_AB_OFF-JADEVECTORDB_SECURITY_ENABLE_RATE_LIMITING=false}"
readonly AB_PATH="${BENCH_AB_PATH:-/v1/auth/me}"
readonly AB_NAME="${BENCH_AB_NAME:-rate limiter}"
readonly READY_TIMEOUT=30   # seconds to wait for a server to answer /health
readonly STOP_TIMEOUT=40    # seconds to wait for a server to exit after its stop signal

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jade_bin="${BENCH_JADE_BIN:-$repo/.build/release/jadevectordb}"

log() { echo "bench-http: $*" >&2; }
die() { log "$*"; exit 1; }

for tool in wrk curl nginx python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/bench-http.XXXXXX")"
declare -a started_pids=()

# Stops one process we started: its stop signal, a bounded wait, then SIGKILL.
stop_pid() {
    local pid="$1" signal="$2" waited=0
    kill -0 "$pid" 2>/dev/null || return 0
    kill "-$signal" "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited < STOP_TIMEOUT * 10)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local entry
    for entry in "${started_pids[@]}"; do
        stop_pid "${entry%%:*}" "${entry##*:}"
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# An unused loopback TCP port (the kernel's choice; released just before the server binds it).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until $1/health answers 200, while process $2 is still alive.
wait_ready() {
    local url="$1" pid="$2" deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if curl --silent --fail --max-time 1 --noproxy '*' -o /dev/null "$url/health"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# Runs wrk against $2 (path $3, default /health; further arguments are wrk options such as
# -H headers) and appends "target req/s p50 p99 non2xx errors" to the results.
declare -a results=()
measure() {
    local name="$1" url="$2" path="${3:-/health}"
    shift 3 2>/dev/null || shift $#
    local out="$work/wrk-${name//[^A-Za-z0-9]/_}.txt"
    local limit=$(($(duration_seconds "$DURATION") + 30))
    if [[ "$WARMUP" != 0 && "$WARMUP" != 0s && -z "${skip_warmup:-}" ]]; then
        timeout "$(($(duration_seconds "$WARMUP") + 30))" \
            wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$@" "$url$path" >/dev/null
    fi
    log "measuring $name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $url$path"
    timeout "$limit" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url$path" >"$out"
    local rps p50 p99 non2xx errors
    rps="$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
    p50="$(awk '/Latency Distribution/ { f = 1 } f && $1 == "50%" { print $2; exit }' "$out")"
    p99="$(awk '/Latency Distribution/ { f = 1 } f && $1 == "99%" { print $2; exit }' "$out")"
    non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")"
    errors="$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' "$out")"
    [[ -n "$rps" ]] || { cat "$out" >&2; die "could not read wrk's output for $name"; }
    last_requests="$(awk '/requests in/ { print $1 }' "$out")"
    results+=("$name|$rps|${p50:--}|${p99:--}|${non2xx:-0}|${errors:-none}")
}

# wrk durations: 10, 10s, 2m, 1h -> seconds.
duration_seconds() {
    local d="$1"
    case "$d" in
        *h) echo $((${d%h} * 3600)) ;;
        *m) echo $((${d%m} * 60)) ;;
        *s) echo "${d%s}" ;;
        *) echo "$d" ;;
    esac
}

# --- targets -------------------------------------------------------------------------------

bench_nginx() {
    local port dir="$work/nginx"
    port="$(free_port)"
    mkdir -p "$dir"
    # As root, nginx would switch its workers to "nobody", who cannot use the private temp dir.
    local user_line=""
    if [[ $EUID -eq 0 ]]; then user_line="user root;"; fi
    cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes $WORKERS;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$port;
        location / {
            default_type application/json;
            return 200 '{"status":"ok"}';
        }
    }
}
EOF
    # -e: the startup error log, before the config's own error_log applies (nginx >= 1.19.5).
    nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" &
    local pid=$!
    started_pids+=("$pid:QUIT")   # QUIT: graceful stop of master and workers
    wait_ready "http://127.0.0.1:$port" "$pid" || { cat "$dir/error.log" >&2 || true; die "nginx did not become ready"; }
    measure nginx "http://127.0.0.1:$port"
}

# Starts jadevectordb on a free port (extra NAME=VALUE settings as arguments); sets $jade_url.
start_jadevectordb() {
    if [[ ! -x "$jade_bin" ]]; then
        [[ -z "${BENCH_JADE_BIN:-}" ]] || die "BENCH_JADE_BIN=$BENCH_JADE_BIN is not an executable"
        log "building the release binary (swift build -c release)"
        (cd "$repo" && swift build -c release --product jadevectordb) >&2
    fi
    local port dir
    port="$(free_port)"
    dir="$work/jadevectordb-$port"
    mkdir -p "$dir/data"
    # Only the settings below: drop any JADEVECTORDB_* from the caller's environment.
    local name
    for name in $(compgen -e); do
        if [[ "$name" == JADEVECTORDB_* ]]; then unset "$name"; fi
    done
    env JADEVECTORDB_ENV=development \
        JADEVECTORDB_CONFIG_DIR="$repo/config" \
        JADEVECTORDB_DATA_DIR="$dir/data" \
        JADEVECTORDB_HOST=127.0.0.1 \
        JADEVECTORDB_PORT="$port" \
        JADEVECTORDB_WORKERS="$WORKERS" \
        JADEVECTORDB_LOGGING_ACCESS_LOG=false \
        JADEVECTORDB_ADMIN_PASSWORD=bench-admin-password \
        JADEVECTORDB_RATE_LIMITS_API_LIMIT=100000000 JADEVECTORDB_RATE_LIMITS_API_PERIOD_SECONDS=1 \
        JADEVECTORDB_RATE_LIMITS_GLOBAL_LIMIT=100000000 \
        "$@" "$jade_bin" serve 2>"$dir/server.log" &
    local pid=$!
    started_pids+=("$pid:TERM")   # TERM: drain and stop; the workers follow their master
    jade_url="http://127.0.0.1:$port"
    jade_pid="$pid"
    wait_ready "$jade_url" "$pid" || { tail -20 "$dir/server.log" >&2 || true; die "jadevectordb did not become ready"; }
}

# A session token, an API key and a database "bench" for the authenticated routes.
prepare_credentials() {
    local json='Content-Type: application/json'
    token="$(curl -s -X POST -H "$json" -d '{"username":"admin","password":"bench-admin-password"}' \
        "$jade_url/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
    key="$(curl -s -X POST -H "$json" -H "Authorization: Bearer $token" -d '{"name":"bench"}' \
        "$jade_url/v1/api-keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
    curl -s -o /dev/null -X POST -H "$json" -H "Authorization: Bearer $token" \
        -d '{"name":"bench","dimension":8,"metric":"cosine"}' "$jade_url/v1/databases"
}

bench_jadevectordb() {
    start_jadevectordb
    measure jadevectordb "$jade_url" /health
    prepare_credentials
    measure "jade me session" "$jade_url" /v1/auth/me -H "Authorization: Bearer $token"
    measure "jade me api-key" "$jade_url" /v1/auth/me -H "X-API-Key: $key"
    measure "jade db get" "$jade_url" /v1/databases/bench -H "Authorization: Bearer $token"
}

# The authenticated route on a fresh server with everything on: the reference for the two below.
bench_jadevectordb_baseline() {
    start_jadevectordb
    prepare_credentials
    measure "jade me baseline" "$jade_url" /v1/auth/me -H "Authorization: Bearer $token"
}

# The same authenticated route with the rate limiter switched off (its cost in the same run).
bench_jadevectordb_nolimits() {
    start_jadevectordb JADEVECTORDB_SECURITY_ENABLE_RATE_LIMITING=false
    prepare_credentials
    measure "jade me no-limiter" "$jade_url" /v1/auth/me -H "Authorization: Bearer $token"
}

# The same authenticated route with metrics switched off (no recording, no /metrics).
bench_jadevectordb_nometrics() {
    start_jadevectordb JADEVECTORDB_METRICS_ENABLED=false
    prepare_credentials
    measure "jade me no-metrics" "$jade_url" /v1/auth/me -H "Authorization: Bearer $token"
}

# The rate limiter's cost, paired: a server with it on and one with it off stay up together, and
# short wrk runs alternate between them (on then off, then off then on, ...), so that the drifts
# of a shared machine hit both alike. BENCH_AB_ROUNDS pairs (default 6).
# CPU time (clock ticks, user + system) used so far by the worker processes of master $1.
workers_cpu_ticks() {
    local child total=0
    for child in $(pgrep -P "$1"); do
        # Fields after the ")" of the command name: utime and stime are the 12th and 13th.
        total=$((total + $(sed 's/.*) //' "/proc/$child/stat" | awk '{ print $12 + $13 }')))
    done
    echo "$total"
}

declare -a ab_cpu=()
# One measured run of the limiter A/B with the workers' CPU time per request ($1 on|off; $3 a
# session token, or a wrk Lua script that rotates API keys).
ab_run() {
    local which="$1" url="$2" token="$3" pid="$4" before after
    local -a credential=(-H "Authorization: Bearer $token")
    [[ "$token" == *.lua ]] && credential=(-s "$token")
    before="$(workers_cpu_ticks "$pid")"
    skip_warmup=1 measure "ab $which" "$url" "$AB_PATH" "${credential[@]}"
    after="$(workers_cpu_ticks "$pid")"
    # Microseconds of worker CPU per request.
    ab_cpu+=("ab $which|$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$last_requests" \
        'BEGIN { printf "%.2f", t / hz * 1e6 / n }')")
}

# The credential for the A/B runs on the server at $jade_url: the session token, or with
# BENCH_AB_KEYS=N (N > 1) a wrk Lua script sending N API keys of the admin in turn (many clients,
# each with its own API-limit bucket, instead of one credential every worker contends for).
ab_credential() {
    local keys="${BENCH_AB_KEYS:-1}" i script="$work/keys-$1.lua"
    if ((keys <= 1)); then
        echo "$token"
        return
    fi
    {
        echo "local keys = {"
        for ((i = 0; i < keys; i++)); do
            curl -s -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
                -d "{\"name\":\"bench-$1-$i\"}" "$jade_url/v1/api-keys" |
                python3 -c 'import json,sys; print("  \"%s\"," % json.load(sys.stdin)["key"])'
        done
        echo "}"
        echo "local n = 0"
        echo "request = function()"
        echo "  n = n + 1"
        echo "  return wrk.format(nil, nil, { [\"X-API-Key\"] = keys[n % #keys + 1] })"
        echo "end"
    } >"$script"
    echo "$script"
}

bench_limiter_ab() {
    local rounds="${BENCH_AB_ROUNDS:-6}" i on_url off_url on_token off_token on_pid off_pid
    start_jadevectordb
    on_url="$jade_url"
    on_pid="$jade_pid"
    prepare_credentials
    on_token="$(ab_credential on)"
    local on_bin="$jade_bin"
    jade_bin="${BENCH_AB_OFF_BIN:-$jade_bin}"
    # shellcheck disable=SC2086 # NAME=VALUE settings, split on spaces
    start_jadevectordb $AB_OFF
    jade_bin="$on_bin"
    off_url="$jade_url"
    off_pid="$jade_pid"
    prepare_credentials
    off_token="$(ab_credential off)"
    # One warm-up each; the measured runs then go without (their CPU time is counted).
    local which
    for which in on off; do
        local url_var="${which}_url" token_var="${which}_token"
        local -a credential=(-H "Authorization: Bearer ${!token_var}")
        [[ "${!token_var}" == *.lua ]] && credential=(-s "${!token_var}")
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP/#0/1s}" "${credential[@]}" "${!url_var}$AB_PATH" >/dev/null
    done
    for ((i = 0; i < rounds; i++)); do
        if ((i % 2 == 0)); then
            ab_run on "$on_url" "$on_token" "$on_pid"
            ab_run off "$off_url" "$off_token" "$off_pid"
        else
            ab_run off "$off_url" "$off_token" "$off_pid"
            ab_run on "$on_url" "$on_token" "$on_pid"
        fi
    done
}

for target in $TARGETS; do
    case "$target" in
        nginx) bench_nginx ;;
        jadevectordb) bench_jadevectordb ;;
        baseline) bench_jadevectordb_baseline ;;
        nolimits) bench_jadevectordb_nolimits ;;
        nometrics) bench_jadevectordb_nometrics ;;
        limiter-ab) bench_limiter_ab ;;
        *) die "unknown target '$target' (known: nginx jadevectordb baseline nolimits nometrics limiter-ab)" ;;
    esac
done

# --- report --------------------------------------------------------------------------------

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $WORKERS server workers, $(nproc) CPUs (nginx: return 200 on /health)"
printf '%-20s %-20s %12s %10s %10s %8s %9s  %s\n' target route req/s p50 p99 non-2xx "% nginx" "socket errors"
nginx_rps=""
for row in "${results[@]}"; do
    IFS='|' read -r name rps _ _ _ _ <<<"$row"
    [[ "$name" == nginx ]] && nginx_rps="$rps"
done
for row in "${results[@]}"; do
    IFS='|' read -r name rps p50 p99 non2xx errors <<<"$row"
    case "$name" in
        nginx | jadevectordb) route="GET /health" ;;
        "jade db get") route="GET /v1/databases/x" ;;
        "ab on" | "ab off") route="GET $AB_PATH" ;;
        *) route="GET /v1/auth/me" ;;
    esac
    pct="-"
    [[ -n "$nginx_rps" ]] && pct="$(awk -v j="$rps" -v n="$nginx_rps" 'BEGIN { printf "%.1f%%", 100 * j / n }')"
    printf '%-20s %-20s %12s %10s %10s %8s %9s  %s\n' "$name" "$route" "$rps" "$p50" "$p99" "$non2xx" "$pct" "$errors"
done

# Cost of the rate limiter and of metrics on /v1/auth/me (session), each against a fresh server
# with everything on measured the same way (the baseline target).
# Median req/s of every row named $1 (targets may be listed several times, interleaved, e.g.
# BENCH_TARGETS="baseline nometrics nolimits baseline nometrics nolimits ...": on a shared
# machine run-to-run noise is larger than the effects measured here).
rps_of() {
    local row name rps
    for row in "${results[@]}"; do
        IFS='|' read -r name rps _ <<<"$row"
        if [[ "$name" == "$1" ]]; then echo "$rps"; fi
    done | sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
# With targets listed more than once: the median of each against nginx's median.
if ((${#results[@]} > $(printf '%s\n' "${results[@]}" | cut -d'|' -f1 | sort -u | wc -l))); then
    echo
    echo "medians over the repeated runs:"
    nginx_median="$(rps_of nginx)"
    printf '%s\n' "${results[@]}" | cut -d'|' -f1 | awk '!seen[$0]++' | while read -r name; do
        median="$(rps_of "$name")"
        runs="$(printf '%s\n' "${results[@]}" | cut -d'|' -f1 | grep -cx "$name")"
        pct="-"
        [[ -n "$nginx_median" ]] && pct="$(awk -v j="$median" -v n="$nginx_median" 'BEGIN { printf "%.1f%%", 100 * j / n }')"
        printf '  %-20s %10.0f req/s  %7s of nginx  (%s runs)\n' "$name" "$median" "$pct" "$runs"
    done
fi

base="$(rps_of "jade me baseline")"
for off in "jade me no-limiter" "jade me no-metrics"; do
    other="$(rps_of "$off")"
    [[ -n "$base" && -n "$other" ]] || continue
    awk -v on="$base" -v off="$other" -v n="$off" \
        'BEGIN { printf "%s: median %.0f req/s; with it on (baseline): median %.0f req/s; cost %.1f%%\n", n, off, on, 100 * (off - on) / off }'
done

# Paired limiter runs: the cost in each pair (runs 2k and 2k+1 of the ab rows), and their median.
ab_rows=()
for row in "${results[@]}"; do
    IFS='|' read -r name rps _ <<<"$row"
    case "$name" in "ab on" | "ab off") ab_rows+=("$name|$rps") ;; esac
done
if ((${#ab_rows[@]} >= 2)); then
    echo
    echo "$AB_NAME on vs off, paired runs (both servers up, alternating):"
    printf '%s\n' "${ab_rows[@]}" | awk -F'|' '
        { name[NR] = $1; rps[NR] = $2 }
        END {
            pairs = 0
            for (i = 1; i + 1 <= NR; i += 2) {
                if (name[i] ~ /on$/) { on = rps[i]; off = rps[i + 1] } else { off = rps[i]; on = rps[i + 1] }
                cost[++pairs] = 100 * (off - on) / off
                printf "  pair %d: on %.0f req/s, off %.0f req/s, cost %.1f%%\n", pairs, on, off, cost[pairs]
            }
            n = pairs
            for (i = 2; i <= n; i++) {  # insertion sort (no asort in mawk)
                v = cost[i]
                for (j = i - 1; j >= 1 && cost[j] > v; j--) cost[j + 1] = cost[j]
                cost[j + 1] = v
            }
            median = n % 2 ? cost[(n + 1) / 2] : (cost[n / 2] + cost[n / 2 + 1]) / 2
            printf "  median cost over %d pairs: %.1f%%\n", n, median
        }'
    printf '%s\n' "${ab_cpu[@]}" | awk -F'|' '
        { if ($1 ~ /on$/) on[++n_on] = $2; else off[++n_off] = $2 }
        function median(a, n,    i, j, v) {
            for (i = 2; i <= n; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        END {
            if (!n_on || !n_off) exit
            m_on = median(on, n_on); m_off = median(off, n_off)
            printf "  worker CPU per request (median): on %.2f us, off %.2f us: it adds %.2f us (%.1f%%)\n",
                m_on, m_off, m_on - m_off, 100 * (m_on - m_off) / m_off
        }'
    on_median="$(rps_of "ab on")"
    off_median="$(rps_of "ab off")"
    awk -v on="$on_median" -v off="$off_median" \
        'BEGIN { printf "  median req/s: on %.0f, off %.0f (cost of the medians %.1f%%)\n", on, off, 100 * (off - on) / off }'
fi
