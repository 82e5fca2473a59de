#!/usr/bin/env bash
# Property-based API conformance test: runs Schemathesis against a running JadeVectorDB with
# docs/openapi.yaml as the contract and every check enabled.
#
# Usage: scripts/schemathesis.sh http://127.0.0.1:18080
#        ST_AUTH_TOKEN=jvs_... scripts/schemathesis.sh http://127.0.0.1:18080
#
# The server must already run (for example `JADEVECTORDB_PORT=18080 jadevectordb serve`); the
# script only ever talks to 127.0.0.1. Exit status: 0 when every check passes, non-zero on any
# failure or error (Schemathesis's own status), 2 on bad usage.
#
# Run the server with 127.0.0.1 on the allowlist and rate limits far above what a run sends, as
# Tests/IntegrationTests/ToolingTests.swift does:
#   JADEVECTORDB_SECURITY_IP_ALLOWLIST=127.0.0.1/32, and 1000000 for every
#   JADEVECTORDB_RATE_LIMITS_{LOGIN,REGISTRATION,PASSWORD_RESET,API,GLOBAL}_{LIMIT,BURST}.
# Otherwise the run's random failed logins get 127.0.0.1 blocked and its pace exhausts the
# limits: every later answer is then 403 `ip_blocked` or 429 (conforming, but no handler runs).
#
# Without ST_AUTH_TOKEN every protected route is exercised unauthenticated (it must answer 401
# to everything). With ST_AUTH_TOKEN (a session token of an administrator, from
# `POST /v1/auth/login`), every request carries `Authorization: Bearer $ST_AUTH_TOKEN`, so the
# protected routes run their real handlers. Operations that can take that very token or its
# administrator rights away are then left out, since they would turn the rest of the run into
# 401/403 noise (see AUTH_EXCLUDED below); the unauthenticated run still covers them.
#
# Schemathesis comes from, in order: .venv-tools/ in the repository (created on first use with
# the pinned version below), or a `schemathesis` 4.x already on PATH. Override the pin with
# SCHEMATHESIS_VERSION; tune the run with ST_MAX_EXAMPLES (default 50) and ST_SEED.
set -euo pipefail

readonly SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
readonly MAX_EXAMPLES="${ST_MAX_EXAMPLES:-50}"
readonly AUTH_TOKEN="${ST_AUTH_TOKEN:-}"

# Left out of authenticated runs (operation ids of docs/openapi.yaml), each because it can end
# the run's own credential or rights:
# - logout: ends the session behind ST_AUTH_TOKEN.
# - updateUser: a new `password` for the caller's own id ends all of the caller's sessions.
# - removeUserRole: `DELETE /v1/admin/users/{own id}/roles/admin` takes the caller's rights.
# - revokeRolePermission: `DELETE /v1/admin/roles/admin/permissions/admin` takes every
#   administrator's rights.
# deleteUser stays in: the server refuses to delete the caller (409), and deleting other users
# (created by the run itself) is harmless. blockIp stays in: 127.0.0.1 on the allowlist cannot
# be blocked (409; see above). revokeDatabaseAcl and deleteDatabase stay in: an administrator
# needs no ACL entry.
readonly AUTH_EXCLUDED=(logout updateUser removeUserRole revokeRolePermission)

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv-tools"
spec="$repo/docs/openapi.yaml"

die() { echo "schemathesis.sh: $*" >&2; exit 2; }

[[ $# -eq 1 ]] || die "usage: $0 http://127.0.0.1:PORT"
base="${1%/}"
# Loopback only, plain HTTP, an explicit port: never aim generated traffic anywhere else.
[[ "$base" =~ ^http://127\.0\.0\.1:([0-9]{1,5})$ ]] || die "the base URL must be http://127.0.0.1:PORT (got '$1')"
[[ -f "$spec" ]] || die "missing $spec"
if [[ -n "$AUTH_TOKEN" ]]; then
    # A session token (jvs_) or an API key (jvk_): 4 + 43 base64url characters.
    [[ "$AUTH_TOKEN" =~ ^jv[sk]_[A-Za-z0-9_-]{43}$ ]] || die "ST_AUTH_TOKEN is not a jvs_/jvk_ token"
fi

# --- find or install schemathesis (idempotent, quiet when already there) ---------------------
st=""
if [[ -x "$venv/bin/schemathesis" ]] && "$venv/bin/python" -c 'import schemathesis' 2>/dev/null; then
    st="$venv/bin/schemathesis"
elif command -v schemathesis >/dev/null 2>&1 \
    && [[ "$(schemathesis --version 2>/dev/null)" =~ version\ 4\. ]]; then
    st="$(command -v schemathesis)"
else
    echo "schemathesis.sh: installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION" >&2
    st="$venv/bin/schemathesis"
fi

# --- the server must answer before the run starts (bounded) ---------------------------------
if ! curl --silent --fail --max-time 5 --noproxy '*' -o /dev/null "$base/health"; then
    echo "schemathesis.sh: no answer from $base/health; start the server first" >&2
    exit 1
fi

# A private config file so that a stray schemathesis.toml in a parent directory cannot
# change the run; the hypothesis example database is off so nothing is written to the repo.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/schemathesis.toml" <<'TOML'
# The run authenticates only as the caller says (ST_AUTH_TOKEN): Schemathesis must not sign up
# an account of its own through /v1/auth/register and /v1/auth/login.
[auth]
auto-signup = false

# Schema-valid requests that the server rightly answers 400, so 400 is accepted for valid-looking
# data on these operations only:
# - a well-formed but wrong one-time secret (reset token, TOTP code), and a generated one is
#   always wrong;
# - a global permission scoped to a database (path and query together; the schema cannot say);
# - vectors or a query of another dimension than the database's (400 dimension_mismatch), an
#   empty metadata key, an all-zero query on a cosine database (the schema cannot say);
# - a metadata filter, which the schema describes only loosely (operators nest), and a scroll
#   cursor, which only the server can give out.
[[operations]]
include-operation-id = ["confirmPasswordReset", "verifyTotp", "disableTotp", "grantRolePermission", "revokeRolePermission", "upsertVectors", "searchVectors", "searchVectorsBatch", "scrollVectors", "countVectors", "deleteVectors", "updateVectorMetadata"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
TOML

args=(
    --config-file "$work/schemathesis.toml"
    run "$spec"
    --url "$base"
    # Every check: status codes, content types, response schemas and headers, 405 + Allow for
    # undocumented methods, negative/positive data handling, no 5xx.
    --checks all
    # Bounded: at most this many generated cases per operation and phase.
    --max-examples "$MAX_EXAMPLES"
    --request-timeout 10
    --max-response-time 5
    --workers 1
    --generation-database none
    # The server limits strings in UTF-8 bytes, JSON Schema's maxLength counts characters; with
    # ASCII strings the two agree, so the limits in docs/openapi.yaml are judged exactly.
    --generation-codec ascii
    --no-color
)
if [[ -n "${ST_SEED:-}" ]]; then args+=(--seed "$ST_SEED"); fi
if [[ -n "$AUTH_TOKEN" ]]; then
    args+=(--header "Authorization: Bearer $AUTH_TOKEN")
    for id in "${AUTH_EXCLUDED[@]}"; do args+=(--exclude-operation-id "$id"); done
fi

# Hypothesis deadlines: Schemathesis 4 runs every test with deadline=None (there is no flag any
# more); slow responses are judged by --max-response-time instead.
# Proxies from the environment must not see this traffic.
cd "$work"
set +e
env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
    NO_PROXY='*' no_proxy='*' "$st" "${args[@]}"
status=$?
set -e
exit "$status"
