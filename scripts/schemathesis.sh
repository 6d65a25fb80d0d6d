#!/usr/bin/env bash
# scripts/schemathesis.sh [BACKEND] — fuzz a live scimd from its own /openapi.json with PyPI
# schemathesis: every documented operation gets generated requests (valid and invalid), sent
# with a token, and every answer is checked: no 5xx, a documented status, a documented content
# type and headers, a body matching the documented schema.
#
#   BACKEND   `sqlite` (default: a fresh SQLite file in a temp dir) or a database URL handed to
#             scimd as SCIMD_DATABASE_URL (the database must exist and should be empty).
#
# Environment:
#   SCIMD_SCHEMATHESIS_VENV          venv to create/reuse (default: target/schemathesis-venv)
#   SCIMD_PYTHON                     Python (>= 3.10) used to create the venv (default: python3)
#   SCIMD_SCHEMATHESIS_MAX_EXAMPLES  generated cases per operation and phase (default: 25)
#   SCIMD_SCHEMATHESIS_TIMEOUT       seconds allowed for the whole schemathesis run (default: 240)
#   SCIMD_SCHEMATHESIS_SEED          the random seed (default: 1, so CI runs are reproducible;
#                                    set another to explore)
#   SCIMD_SCHEMATHESIS_REPORT_DIR    keep the JSON and JUnit reports there (default: a temp dir,
#                                    removed afterwards)
#
# Exit: 0 when schemathesis found nothing; 1 on any failure (build, token, server start, a
# finding, a time-out, a schemathesis error); 2 on bad usage.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

if [[ $# -gt 1 || ($# -eq 1 && -z $1) ]]; then
    echo "usage: $0 [sqlite|DATABASE_URL]" >&2
    exit 2
fi
BACKEND_ARG=${1:-sqlite}

PINS="schemathesis==4.32.5"
VENV=${SCIMD_SCHEMATHESIS_VENV:-target/schemathesis-venv}
PYTHON=${SCIMD_PYTHON:-python3}
MAX_EXAMPLES=${SCIMD_SCHEMATHESIS_MAX_EXAMPLES:-25}
TIME_CAP=${SCIMD_SCHEMATHESIS_TIMEOUT:-240}
SEED=${SCIMD_SCHEMATHESIS_SEED:-1}
PHASES=${SCIMD_SCHEMATHESIS_PHASES:-examples,coverage,fuzzing,stateful}
# The response checks; negative_data_rejection and positive_data_acceptance are left out on
# purpose: scimd accepts what the schema calls invalid where real clients send it (COMPAT.md:
# booleans as strings, unknown attributes, a single object for a list).
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR
BIN=$TARGET_DIR/debug/scimd

TMP=""
SERVER_PID=""
FAILED=1

say() { printf '[schemathesis] %s\n' "$*"; }

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
        # Panics and internal errors are what a finding usually leaves in the log.
        echo "----- scimd server log: errors and panics (last 40) -----"
        grep -E '"level":"(ERROR|WARN)"|panicked' "$TMP/server.log" | tail -n 40 | cut -c 1-2000 || true
        echo "----- end of server log -----"
    fi
    [[ -z $TMP ]] || rm -rf "$TMP"
    [[ $rc -ne 0 ]] || rc=$FAILED
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Python venv with the pinned tool -----------------------------------------
ensure_venv() {
    if [[ -x $VENV/bin/schemathesis && -f $VENV/.scimd-pins && $(cat "$VENV/.scimd-pins") == "$PINS" ]]; then
        return 0
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        say "error: $PYTHON is missing or older than 3.10 (schemathesis needs Python >= 3.10); set SCIMD_PYTHON" >&2
        return 1
    fi
    if [[ -e $VENV && ! -f $VENV/pyvenv.cfg && -n $(ls -A "$VENV" 2>/dev/null) ]]; then
        say "error: $VENV exists and is not a Python venv; remove it or set SCIMD_SCHEMATHESIS_VENV" >&2
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

TMP=$(mktemp -d "${TMPDIR:-/tmp}/scimd-schemathesis.XXXXXX")
if [[ $BACKEND_ARG == sqlite ]]; then
    DB_URL="sqlite://$TMP/scimd.db?mode=rwc"
    BACKEND=sqlite
else
    DB_URL=$BACKEND_ARG
    BACKEND=${BACKEND_ARG%%:*}
fi
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
BASE=http://127.0.0.1:$PORT
say "backend: $BACKEND; server: $BASE"

# --- token (before the server starts) -----------------------------------------
if ! (cd "$TMP" && SCIMD_DATABASE_URL=$DB_URL "$BIN" token create --tenant default --realm default \
    --name schemathesis --expires-in-days 1 >"$TMP/token" 2>"$TMP/token.err"); then
    say "error: 'scimd token create' failed:" >&2
    cat "$TMP/token.err" >&2
    exit 1
fi
TOKEN=$(tr -d '\r\n' <"$TMP/token")
rm -f "$TMP/token"
if [[ -z $TOKEN || $TOKEN =~ [[:space:]] ]]; then
    say "error: 'scimd token create' printed no usable secret" >&2
    exit 1
fi

# --- server ---------------------------------------------------------------------
# Thousands of generated requests as fast as schemathesis can send them: rate limits off.
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

# --- schemathesis -----------------------------------------------------------------
# The token reaches schemathesis through its config file's ${VAR} expansion, never argv.
cat >"$TMP/schemathesis.toml" <<'EOF'
headers = { Authorization = "Bearer ${SCIMD_SCHEMATHESIS_TOKEN}" }
EOF
REPORTS=${SCIMD_SCHEMATHESIS_REPORT_DIR:-$TMP/reports}
mkdir -p "$REPORTS"
say "running schemathesis ($PINS): checks $CHECKS; $MAX_EXAMPLES examples per operation; seed $SEED; at most $TIME_CAP s"
started=$SECONDS
rc=0
# Stateful (link-following) testing has no example bound of its own; the examples, coverage
# and fuzzing phases give every operation its bounded share.
(cd "$TMP" && SCIMD_SCHEMATHESIS_TOKEN=$TOKEN timeout --kill-after=10 "$TIME_CAP" \
    "$VENV/bin/schemathesis" --config-file "$TMP/schemathesis.toml" run "$BASE/openapi.json" \
    --checks "$CHECKS" --phases "$PHASES" --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" --workers 2 --request-timeout 20 --generation-database none \
    --report json,junit --report-json-path "$REPORTS/schemathesis.json" \
    --report-junit-path "$REPORTS/junit.xml" --no-color) >"$TMP/schemathesis.out" 2>&1 || rc=$?
elapsed=$((SECONDS - started))
echo "----- schemathesis output -----"
# The progress lines are long and many; the failures and the summary are what matters.
sed -n '/^=\+ FAILURES =\+$/,$p; /^=\+ ERRORS =\+$/,$p' "$TMP/schemathesis.out" | awk '!seen[$0]++ || /^$/' >"$TMP/tail.txt"
if [[ -s $TMP/tail.txt ]]; then cat "$TMP/tail.txt"; else tail -n 60 "$TMP/schemathesis.out"; fi
echo "----- end of schemathesis output -----"

summary=""
if [[ -s $REPORTS/schemathesis.json ]]; then
    summary=$("$VENV/bin/python" - "$REPORTS/schemathesis.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ops, cases = d.get("operations", {}), d.get("test_cases", {})
failures = d.get("failures", [])
print(f"operations tested: {ops.get('tested', '?')}/{ops.get('selected', '?')}; "
      f"examples: {cases.get('generated', '?')}; "
      f"failures: {cases.get('unique_failures', '?')} unique "
      f"({', '.join(f['code'] + ' ' + f['title'] + ' x' + str(f['count']) for f in failures) or 'none'}); "
      f"errors: {len(d.get('errors', []))}; stop: {d.get('stop_reason', '?')}")
EOF
) || summary="(the JSON report could not be read)"
fi
[[ -n $summary ]] || summary="(no JSON report written)"

problems=()
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    problems+=("schemathesis did not finish within $TIME_CAP s")
elif [[ $rc -ne 0 ]]; then
    problems+=("schemathesis exited with status $rc")
fi
if grep -q 'panicked' "$TMP/server.log"; then
    problems+=("the server log has a panic")
fi
if [[ ${#problems[@]} -gt 0 ]]; then
    say "FAILED ($BACKEND, ${elapsed}s): $(printf '%s; ' "${problems[@]}")" >&2
    say "$summary" >&2
    exit 1
fi
FAILED=0
say "PASSED ($BACKEND, ${elapsed}s): $summary"
