#!/usr/bin/env bash
# scripts/conformance.sh BACKEND — run the SCIM conformance checker (PyPI scim2-tester, through
# scim2-cli's `scim2 test`) against a live scimd, after checking that the server's
# /openapi.json and /admin/openapi.json are served without a token and are valid OpenAPI 3.1 documents (PyPI
# openapi-spec-validator).
#
#   BACKEND   `sqlite` (a fresh SQLite file in a temp dir) or a database URL handed to scimd as
#             SCIMD_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/conformance; the
#             database must exist and should be empty).
#
# Environment:
#   SCIMD_VENV                 Python venv to create/reuse (default: target/conformance-venv)
#   SCIMD_PYTHON               Python (>= 3.11) used to create the venv (default: python3)
#   SCIMD_CONFORMANCE_TIMEOUT  seconds allowed for the checker run (default: 600)
#
# Exit: 0 when the OpenAPI document is valid and every check is SUCCESS; 1 on any failure
# (build, token, server start, OpenAPI document, a check that is not SUCCESS, checker error);
# 2 on bad usage.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

if [[ $# -ne 1 || -z $1 ]]; then
    echo "usage: $0 sqlite|DATABASE_URL" >&2
    exit 2
fi

PINS="scim2-cli==0.6.0 scim2-tester==0.5.2 openapi-spec-validator==0.9.0"
VENV=${SCIMD_VENV:-target/conformance-venv}
PYTHON=${SCIMD_PYTHON:-python3}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR
BIN=$TARGET_DIR/debug/scimd
STATUSES_BAD='COMPLIANT|ACCEPTABLE|DEVIATION|ERROR|CRITICAL|SKIPPED'

TMP=""
SERVER_PID=""
FAILED=1

say() { printf '[conformance] %s\n' "$*"; }

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            say "server did not stop within 10 s of SIGTERM; killing it"
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

cleanup() {
    local rc=$?
    stop_server
    if [[ $rc -ne 0 || $FAILED -ne 0 ]] && [[ -n $TMP && -s $TMP/server.log ]]; then
        echo "----- scimd server log (last 100 lines) -----"
        tail -n 100 "$TMP/server.log"
        echo "----- end of server log -----"
    fi
    [[ -z $TMP ]] || rm -rf "$TMP"
    [[ $rc -ne 0 ]] || rc=$FAILED
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Python venv with the pinned checker --------------------------------------
ensure_venv() {
    if [[ -x $VENV/bin/scim2 && -x $VENV/bin/openapi-spec-validator && -f $VENV/.scimd-pins &&
        $(cat "$VENV/.scimd-pins") == "$PINS" ]]; then
        return 0
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        say "error: $PYTHON is missing or older than 3.11 (scim2-cli needs Python >= 3.11); set SCIMD_PYTHON" >&2
        return 1
    fi
    if [[ -e $VENV && ! -f $VENV/pyvenv.cfg && -n $(ls -A "$VENV" 2>/dev/null) ]]; then
        say "error: $VENV exists and is not a Python venv; remove it or set SCIMD_VENV" >&2
        return 1
    fi
    say "creating Python venv $VENV with $PINS"
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV"; then
        rm -rf "$VENV"
        say "error: '$PYTHON -m venv' failed; on Debian install python3-venv" >&2
        return 1
    fi
    # shellcheck disable=SC2086 # PINS is a list of requirement specifiers
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PINS; then
        rm -rf "$VENV"
        say "error: pip install $PINS failed" >&2
        return 1
    fi
    echo "$PINS" >"$VENV/.scimd-pins"
}
ensure_venv
VENV=$(cd "$VENV" && pwd)

# --- scimd binary -------------------------------------------------------------
say "building scimd (cargo build --locked)"
cargo build --locked
[[ -x $BIN ]] || { say "error: $BIN was not built" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/scimd-conformance.XXXXXX")
if [[ $1 == sqlite ]]; then
    DB_URL="sqlite://$TMP/scimd.db?mode=rwc"
    BACKEND=sqlite
else
    DB_URL=$1
    BACKEND=${1%%:*}
fi
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
BASE=http://127.0.0.1:$PORT
SCIM_URL=$BASE/v1/tenants/default/realms/default/scim/v2
say "backend: $BACKEND; server: $BASE"

# --- token (before the server starts) -----------------------------------------
if ! (cd "$TMP" && SCIMD_DATABASE_URL=$DB_URL "$BIN" token create --tenant default --realm default \
    --name conformance --expires-in-days 1 >"$TMP/token" 2>"$TMP/token.err"); then
    say "error: 'scimd token create' failed:" >&2
    cat "$TMP/token.err" >&2
    exit 1
fi
n_lines=$(grep -c . "$TMP/token" || true)
if [[ $n_lines -ne 1 ]]; then
    say "error: 'scimd token create' must print exactly one line (the secret) on stdout; it printed $n_lines" >&2
    cat "$TMP/token.err" >&2
    exit 1
fi
TOKEN=$(tr -d '\r\n' <"$TMP/token")
bad_chars='[[:space:];]'
if [[ -z $TOKEN || $TOKEN =~ $bad_chars ]]; then
    say "error: the token printed by 'scimd token create' is empty or contains whitespace or ';'" >&2
    exit 1
fi
rm -f "$TMP/token"

# --- server ---------------------------------------------------------------------
# The checker fires ~800 requests as fast as it can: far above an identity provider's rate,
# so rate limits are off here. Metrics get an ephemeral port so nothing else can clash.
(cd "$TMP" && SCIMD_DATABASE_URL=$DB_URL SCIMD_LISTEN=127.0.0.1:$PORT \
    SCIMD_RATE_LIMIT_TOKEN_PER_SECOND=0 SCIMD_RATE_LIMIT_REALM_PER_SECOND=0 SCIMD_AUTH_FAILURES_PER_MINUTE=0 \
    SCIMD_METRICS_LISTEN=127.0.0.1:0 exec "$BIN" serve) >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
ready=0
deadline=$((SECONDS + 30))
while [[ $SECONDS -lt $deadline ]]; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        wait "$SERVER_PID" && rc=0 || rc=$?
        SERVER_PID=""
        say "error: scimd serve exited (status $rc) before becoming ready" >&2
        exit 1
    fi
    if curl -fsS --max-time 2 -o /dev/null "$BASE/readyz" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.25
done
if [[ $ready -ne 1 ]]; then
    say "error: scimd did not answer $BASE/readyz within 30 s" >&2
    exit 1
fi
say "scimd is ready (pid $SERVER_PID)"

# --- OpenAPI document ---------------------------------------------------------------
# No token: each document must be readable by anyone who can reach the API. The admin API's
# own document is linked from the first.
validate_openapi() {
    local path=$1 out=$TMP/$2
    if ! curl -fsS --max-time 10 -o "$out.json" "$BASE$path"; then
        say "error: GET $BASE$path without a token failed" >&2
        exit 1
    fi
    if ! "$VENV/bin/openapi-spec-validator" --schema 3.1 "$out.json" >"$out.out" 2>&1; then
        # The first line says what is wrong; the rest quotes the whole document and meta-schema.
        say "error: $path is not a valid OpenAPI 3.1 document:" >&2
        head -n 3 "$out.out" | cut -c 1-1000 >&2
        exit 1
    fi
    say "$path is a valid OpenAPI 3.1 document ($(wc -c <"$out.json") bytes)"
}
validate_openapi /openapi.json openapi
validate_openapi /admin/openapi.json admin-openapi

# --- checker ----------------------------------------------------------------------
# The bearer token goes through SCIM_CLI_HEADERS (';'-separated "Name: value" headers), never argv.
rc=0
SCIM_CLI_HEADERS="Authorization: Bearer $TOKEN" timeout --kill-after=10 "${SCIMD_CONFORMANCE_TIMEOUT:-600}" \
    "$VENV/bin/scim2" --url "$SCIM_URL" test --verbose >"$TMP/scim2.out" 2>&1 || rc=$?
# click strips colours when writing to a file; strip any ANSI escapes anyway.
sed -e 's/\x1b\[[0-9;]*m//g' "$TMP/scim2.out" >"$TMP/scim2.txt"
echo "----- scim2 test output -----"
# The verbose details are long; they are shown in full only when something failed.
if [[ $rc -eq 0 ]]; then
    grep -E '^[A-Z]+ ' "$TMP/scim2.txt" || true
else
    cat "$TMP/scim2.txt"
fi
echo "----- end of scim2 test output -----"

# Every check result is printed as "<STATUS> <title>" at the start of a line (reasons are
# indented); anything but SUCCESS is a failure.
n_ok=$(grep -cE '^SUCCESS( |$)' "$TMP/scim2.txt" || true)
n_bad=$(grep -cE "^($STATUSES_BAD)( |\$)" "$TMP/scim2.txt" || true)
problems=()
[[ $rc -eq 0 ]] || problems+=("scim2 test exited with status $rc")
[[ $n_bad -eq 0 ]] || problems+=("$n_bad check(s) not SUCCESS")
grep -q '^Performing a SCIM compliance check' "$TMP/scim2.txt" || problems+=("checker never started its checks")
[[ $n_ok -gt 0 ]] || problems+=("no SUCCESS check at all")

if [[ ${#problems[@]} -gt 0 ]]; then
    say "FAILED ($BACKEND): $(printf '%s; ' "${problems[@]}")" >&2
    if [[ $n_bad -gt 0 ]]; then
        say "checks not SUCCESS:" >&2
        grep -E "^($STATUSES_BAD)( |\$)" "$TMP/scim2.txt" | sed 's/^/    /' >&2
    fi
    exit 1
fi
FAILED=0
say "PASSED ($BACKEND): $n_ok checks, all SUCCESS"
