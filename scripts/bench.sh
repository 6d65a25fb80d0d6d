#!/usr/bin/env bash
# scripts/bench.sh — directory-scale latency benchmark on PostgreSQL (benches/directory.rs).
# Not part of CI, not a test: it prints latency figures.
#
# Starts a throwaway PostgreSQL 15 cluster (as scripts/test.sh does, but with default
# durability: fsync and synchronous_commit stay on, since PATCH latency includes the commit),
# creates an empty database in it, runs `cargo bench --bench directory -- "$@"` against it,
# and removes the cluster on exit.
#
# Usage: scripts/bench.sh [--users N] [--samples N] [--only query,cursor,members]
#
# At 1,000,000 users a full run takes about an hour on 2 cores: loading takes minutes, and
# the cursor walk over every page (1,000 requests) is the longest part.
#
# Environment:
#   SCIMD_BENCH_USERS            users to load (default 1000000)
#   SCIMD_BENCH_SAMPLES          samples per query scenario (default 200; membership: half)
#   SCIMD_BENCH_REPLACE_SAMPLES  samples of `replace members` with 10,000 (default 5)
#   SCIMD_BENCH_BUDGET_SECS      time cap per scenario (default 180); sampling stops there
#   SCIMD_BENCH_WALK_BUDGET_SECS time cap on the full cursor walk (default 3600)
#   SCIMD_BENCH_ONLY             parts to run, comma-separated: query, cursor, members
#   SCIMD_BENCH_SHARED_BUFFERS   PostgreSQL shared_buffers (default 256MB)
#   SCIMD_BENCH_SLOW_MS          statements slower than this get their plan logged by
#                                auto_explain (default 200; 0 disables)
#   PG_BIN                       directory holding initdb/pg_ctl/postgres
#   CARGO_TARGET_DIR             honoured as usual
#
# The PostgreSQL server log (with the auto_explain plans of slow statements) is copied to
# ${CARGO_TARGET_DIR:-target}/bench-postgres.log before the cluster is removed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PG_DIR=""
PG_STARTED=0
PG_BINDIR=""
TARGET_DIR=${CARGO_TARGET_DIR:-target}

pg_as() {
    if [[ $EUID -eq 0 ]]; then
        (cd "$PG_DIR" && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

cleanup() {
    local rc=$?
    if [[ $PG_STARTED -eq 1 ]]; then
        pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        if [[ -f $PG_DIR/log ]]; then
            mkdir -p "$TARGET_DIR"
            cp "$PG_DIR/log" "$TARGET_DIR/bench-postgres.log" 2>/dev/null &&
                echo "PostgreSQL log (auto_explain plans of slow statements): $TARGET_DIR/bench-postgres.log"
        fi
    fi
    if [[ -n $PG_DIR ]]; then
        rm -rf "$PG_DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

find_pg_bin() {
    local d
    if [[ -n ${PG_BIN:-} ]]; then
        [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl && -x $PG_BIN/postgres ]] && { echo "$PG_BIN"; return 0; }
        return 1
    fi
    for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/15/bin; do
        if [[ -n $d && -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

psql_bin() {
    if [[ -x $PG_BINDIR/psql ]]; then echo "$PG_BINDIR/psql"; else echo psql; fi
}

if ! PG_BINDIR=$(find_pg_bin); then
    echo "error: PostgreSQL 15 server binaries (initdb, pg_ctl, postgres) not found;" \
        "install postgresql-15 or set PG_BIN" >&2
    exit 1
fi

if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || { echo "error: running as root but there is no 'postgres' user" >&2; exit 1; }
    PG_DIR=$(mktemp -d /tmp/scimd-bench-pg.XXXXXX)
    chown postgres: "$PG_DIR"
else
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench-pg.XXXXXX")
fi
port=$(free_port)
pg_as "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 || {
    echo "error: initdb failed:" >&2; cat "$PG_DIR/initdb.log" >&2; exit 1; }
PG_STARTED=1
slow=${SCIMD_BENCH_SLOW_MS:-200}
explain=""
if [[ $slow != 0 ]]; then
    # Plans only (no log_analyze): logging a slow statement's plan costs nothing measurable.
    explain="-c shared_preload_libraries=auto_explain -c auto_explain.log_min_duration=${slow}ms -c log_min_duration_statement=${slow}ms"
fi
pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w start \
    -o "-p $port -k '$PG_DIR' -c listen_addresses=127.0.0.1 -c max_connections=100 -c shared_buffers=${SCIMD_BENCH_SHARED_BUFFERS:-256MB} $explain" >/dev/null || {
    echo "error: PostgreSQL did not start; server log:" >&2; cat "$PG_DIR/log" >&2 || true; exit 1; }

PGOPTIONS='-c client_min_messages=warning' "$(psql_bin)" "postgres://postgres@127.0.0.1:$port/postgres" \
    -v ON_ERROR_STOP=1 -q -c 'CREATE DATABASE scimd_bench'
export SCIMD_BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/scimd_bench"
echo "PostgreSQL ($("$PG_BINDIR/postgres" --version)) at $SCIMD_BENCH_POSTGRES_URL (data in $PG_DIR)"
echo "scimd source: $(git describe --always --dirty 2>/dev/null || echo unknown)"

cargo bench --bench directory -- "$@"
