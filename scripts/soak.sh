#!/usr/bin/env bash
# Soak under hostile traffic (the sprint plan's load tests): a release build with 2 workers
# serves polite mixed traffic from wrk (health, authenticated reads, searches, upserts,
# database reads) while scripts/soak-hostile.py runs the hostile clients at the same time
# (brute force, a reset flood from 250 addresses, a pipeliner that never reads, a slowloris
# crowd, large answers never read) plus polite logins, and samples the workers' memory.
#
# Usage: scripts/soak.sh
# Environment:
#   SOAK_DURATION  seconds of load (default 600)
#   SOAK_WARMUP    seconds excluded from the memory-flatness check (default 60)
#   SOAK_JADE_BIN  the binary (default .build/release/jadevectordb, built if missing)
#   SOAK_CLIENTS   the hostile clients to run (default all; see scripts/soak-hostile.py)
#
# Passes (exit 0) when: the polite requests saw no error (no non-2xx answer, no socket error)
# and every polite login succeeded; more than 99% of the brute forcer's attempts were refused;
# and each worker's anonymous RSS (its heap; total RSS also counts the page cache of the mapped
# vector segments, which grows with the data) is flat after the warm-up: the median of the last
# third of the samples within 10% of the median of the first third (single samples taken while
# large answers are in flight are reported as the peak, not judged).
# Everything goes to 127.0.0.0/8; every process started is stopped by its PID.
set -euo pipefail

readonly DURATION="${SOAK_DURATION:-600}"
readonly WARMUP="${SOAK_WARMUP:-60}"
readonly ADMIN_PASSWORD=soak-admin-password
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jade_bin="${SOAK_JADE_BIN:-$repo/.build/release/jadevectordb}"

log() { echo "soak: $*" >&2; }
die() { log "$*"; exit 1; }
for tool in wrk curl python3; do command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"; done
if [[ ! -x "$jade_bin" ]]; then
    [[ -z "${SOAK_JADE_BIN:-}" ]] || die "SOAK_JADE_BIN=$SOAK_JADE_BIN is not an executable"
    log "building the release binary"
    (cd "$repo" && swift build -c release --product jadevectordb) >&2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 400); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
for name in $(compgen -e); do [[ "$name" == JADEVECTORDB_* ]] && unset "$name"; done
# Polite clients use one API key at a high rate: its limit is raised, nothing else.
env JADEVECTORDB_ENV=development JADEVECTORDB_CONFIG_DIR="$repo/config" JADEVECTORDB_DATA_DIR="$work/data" \
    JADEVECTORDB_HOST=127.0.0.1 JADEVECTORDB_PORT="$port" JADEVECTORDB_WORKERS=2 \
    JADEVECTORDB_LOGGING_ACCESS_LOG=false JADEVECTORDB_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    JADEVECTORDB_RATE_LIMITS_API_LIMIT=100000000 JADEVECTORDB_RATE_LIMITS_API_PERIOD_SECONDS=1 \
    JADEVECTORDB_RATE_LIMITS_LOGIN_LIMIT=120 JADEVECTORDB_RATE_LIMITS_GLOBAL_LIMIT=100000 \
    "$jade_bin" serve 2>"$work/server.log" &
server_pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 1 150); do curl -sf -o /dev/null "$url/health" && break; sleep 0.2; done
curl -sf -o /dev/null "$url/health" || { tail -20 "$work/server.log" >&2; die "server did not start"; }

json='Content-Type: application/json'
token="$(curl -s -X POST -H "$json" -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PASSWORD\"}" "$url/v1/auth/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
key="$(curl -s -X POST -H "$json" -H "Authorization: Bearer $token" -d '{"name":"soak"}' "$url/v1/api-keys" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
curl -sf -o /dev/null -X POST -H "$json" -H "X-API-Key: $key" -d '{"name":"soak","dimension":32,"metric":"dot"}' \
    "$url/v1/databases"
readonly POLITE_PASSWORD=polite-user-password
curl -sf -o /dev/null -X POST -H "$json" -H "Authorization: Bearer $token" \
    -d "{\"username\":\"polite\",\"password\":\"$POLITE_PASSWORD\"}" "$url/v1/admin/users"
python3 - "$url" "$key" <<'EOF'
import json, random, sys, urllib.request
url, key = sys.argv[1], sys.argv[2]
for batch in range(4):
    vectors = [{"id": "seed-%d-%d" % (batch, i), "values": [random.uniform(-1, 1) for _ in range(32)],
                "metadata": {"batch": batch}} for i in range(500)]
    req = urllib.request.Request(url + "/v1/databases/soak/vectors", json.dumps({"vectors": vectors}).encode(),
                                 {"Content-Type": "application/json", "X-API-Key": key}, method="PUT")
    urllib.request.urlopen(req, timeout=30).read()
EOF

# The polite mix, one request kind per wrk request in turn.
cat >"$work/mix.lua" <<EOF
local key = "$key"
local n = 0
local function vector()
  local v = {}
  for i = 1, 32 do v[i] = string.format("%.3f", math.random() * 2 - 1) end
  return "[" .. table.concat(v, ",") .. "]"
end
request = function()
  n = n + 1
  local k = n % 20
  local h = { ["X-API-Key"] = key, ["Content-Type"] = "application/json" }
  if k < 10 then
    return wrk.format("GET", "/health")
  elseif k < 15 then
    return wrk.format("GET", "/v1/auth/me", h)
  elseif k < 17 then
    return wrk.format("POST", "/v1/databases/soak/search", h, '{"vector":' .. vector() .. ',"k":10}')
  elseif k < 18 then
    return wrk.format("PUT", "/v1/databases/soak/vectors", h,
      '{"vectors":[{"id":"w' .. (n % 5000) .. '","values":' .. vector() .. '}]}')
  else
    return wrk.format("GET", "/v1/databases/soak", h)
  end
end
EOF

log "polite load and hostile clients for ${DURATION}s on $url"
python3 "$repo/scripts/soak-hostile.py" "$port" "$server_pid" "$POLITE_PASSWORD" "$key" "$DURATION" \
    >"$work/hostile.json" &
hostile_pid=$!
timeout $((DURATION + 60)) wrk -t2 -c32 -d"${DURATION}s" --latency -s "$work/mix.lua" "$url/health" \
    >"$work/wrk.txt"
wait "$hostile_pid"
cat "$work/wrk.txt" >&2

python3 - "$work/wrk.txt" "$work/hostile.json" "$WARMUP" <<'EOF'
import json, re, statistics, sys
wrk = open(sys.argv[1]).read()
hostile = json.load(open(sys.argv[2]))
warmup = float(sys.argv[3])
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", wrk) or [0, 0])[1])
socket_errors = re.search(r"Socket errors: (.*)", wrk)
c = hostile["counts"]
brute = {k[len("brute_force_"):]: v for k, v in c.items() if k.startswith("brute_force_")}
attempts = sum(brute.values())
let_in = brute.get("401", 0)
refused = attempts - let_in
polite_logins = {k: v for k, v in c.items() if k.startswith("polite_login_")}
ok = True
print("polite load: %.0f requests/s, non-2xx %d, socket errors: %s" % (
    rps, non2xx, socket_errors.group(1) if socket_errors else "none"))
if non2xx or socket_errors:
    ok = False
print("polite logins: %s" % polite_logins)
if set(polite_logins) - {"polite_login_200"}:
    ok = False
share = refused / attempts if attempts else 0
print("brute force: %d attempts, %d answered 401, %.3f%% refused (%s)" % (attempts, let_in, share * 100, brute))
if share <= 0.99:
    ok = False
print("hostile: %s" % {k: v for k, v in c.items() if not k.startswith(("brute_force_", "polite_login_"))})
# The anonymous RSS over time (MiB per worker, about every 30 s).
for t, rss in hostile["rss"][::6]:
    print("t=%5.0fs anonymous RSS: %s" % (t, " ".join("%.0f" % (v.get("RssAnon", 0) / 2**20) for _, v in sorted(rss.items()))))
# Flatness is judged on anonymous memory (heap: what clients can make a worker hold); total
# RSS also counts file pages of the mapped vector segments, which grow with the data.
series = {}
for t, rss in hostile["rss"]:
    if t < warmup:
        continue
    for pid, fields in rss.items():
        series.setdefault(pid, []).append(fields)
for pid, values in sorted(series.items()):
    anon = [v.get("RssAnon", 0) for v in values]
    total = [v.get("VmRSS", 0) for v in values]
    third = max(1, len(anon) // 3)
    early, late = statistics.median(anon[:third]), statistics.median(anon[-third:])
    trend = (late - early) / early
    print("worker %s after warm-up: anonymous RSS %.1f MiB (median of the first third) -> %.1f MiB (last third), "
          "%+.1f%%; peak %.1f MiB (answers in flight); total RSS %.1f to %.1f MiB" % (
              pid, early / 2**20, late / 2**20, trend * 100, max(anon) / 2**20, min(total) / 2**20,
              max(total) / 2**20))
    if abs(trend) > 0.10:
        ok = False
print("soak: %s" % ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
EOF
