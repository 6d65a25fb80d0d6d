#!/usr/bin/env bash
# scripts/fault.sh — the standing fault suite: scimd against a database that goes away and a
# process that is killed. Takes no arguments. Scenarios (scripts/lib/fault_driver.py):
#
#   postgres-stop   8 clients GET and POST; PostgreSQL is stopped (-m immediate) for 6 s and
#                   started again. While it is down every answer must be 503 with a SCIM Error
#                   saying the database is unavailable, within the request timeout (5 s here,
#                   + 1 s slack); scimd must stay up and answer 2xx again by itself (bound
#                   30 s). The time from PostgreSQL accepting connections to the first 2xx is
#                   printed.
#   kill9           8 writers POST users and PATCH each into one group; scimd gets SIGKILL
#                   after 4 s and is started again on the same database: every acknowledged
#                   user and membership add must be there. On PostgreSQL, then on SQLite.
#   webhook-kill9   a webhook receiver holds the first delivery; scimd gets SIGKILL meanwhile
#                   and is started again: that event is sent again and all five events
#                   arrive, in order. On PostgreSQL, then on SQLite.
#
# It builds the debug binary (`cargo build --locked`, the one scripts/test.sh and
# scripts/conformance.sh build too, so in CI it costs nothing extra; the faults under test are
# about answers and durability, not speed), starts its own throwaway PostgreSQL cluster
# (scripts/lib/pg-cluster.sh; as root it runs as `postgres`) and deletes it afterwards. The
# scenarios take about 30 s; with the build up to date the whole run takes under a minute
# (the driver is killed at 240 s).
# Ends with a "fault figures:" block (for RELIABILITY.md) and "fault: every assertion held", or
# the list of failed assertions and exit status 1.
#
# Environment: PG_BIN (as for scripts/test.sh), SCIMD_FAULT_KEEP=1 keeps the work directory
# (scimd logs, SQLite file, PostgreSQL's log) for a look afterwards; a failed run always keeps it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
# shellcheck source=lib/pg-cluster.sh
source scripts/lib/pg-cluster.sh

TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR
BIN=$TARGET_DIR/debug/scimd
WORK=""

say() { printf '[fault] %s\n' "$*"; }

cleanup() {
    local rc=$?
    # The driver stops the scimd processes it started; should it be killed midway, they are
    # found by the pids it noted.
    local pid
    if [[ -n $WORK && -f $WORK/scimd.pids ]]; then
        while read -r pid; do
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        done <"$WORK/scimd.pids"
    fi
    # A failed run keeps its work directory (scimd logs, SQLite file, PostgreSQL's log).
    local keep=${SCIMD_FAULT_KEEP:-}
    [[ $rc -eq 0 ]] || keep=1
    if [[ -n $WORK && $keep == 1 ]]; then
        pg_cluster_stop "$WORK/postgres.log"
    else
        pg_cluster_stop
    fi
    if [[ -n $WORK ]]; then
        if [[ $rc -ne 0 ]]; then
            for f in "$WORK"/scimd-*.log; do
                [[ -s $f ]] || continue
                echo "----- $(basename "$f") (last 20 lines) -----"
                tail -n 20 "$f" | cut -c 1-600
            done
        fi
        if [[ $keep == 1 ]]; then
            say "work directory kept: $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
say "building scimd (cargo build --locked, debug)"
cargo build --locked
[[ -x $BIN ]] || { say "error: $BIN was not built" >&2; exit 1; }
build_s=$((SECONDS - start))

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scimd-fault.XXXXXX")
pg_cluster_start
PSQL=$(pg_psql)
PGOPTIONS='-c client_min_messages=warning' "$PSQL" "$PG_URL" -v ON_ERROR_STOP=1 -q \
    -c 'CREATE DATABASE fault_stop' -c 'CREATE DATABASE fault_kill' -c 'CREATE DATABASE fault_hook'
base=${PG_URL%/*}

rc=0
timeout --kill-after=10 240 python3 scripts/lib/fault_driver.py \
    --bin "$BIN" --workdir "$WORK" \
    --pg-bindir "$PG_BINDIR" --pg-dir "$PG_DIR" --pg-port "$PG_PORT" \
    --pg-url-stop "$base/fault_stop" --pg-url-kill "$base/fault_kill" \
    --pg-url-hook "$base/fault_hook" || rc=$?
say "build ${build_s} s, whole run $((SECONDS - start)) s"
exit "$rc"
