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
# At 1,000,000 users a full run takes about 10 minutes on 2 cores, 4 of them loading.
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

# shellcheck source=lib/pg-cluster.sh
source scripts/lib/pg-cluster.sh
TARGET_DIR=${CARGO_TARGET_DIR:-target}

cleanup() {
    local rc=$?
    pg_cluster_stop "$TARGET_DIR/bench-postgres.log"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

slow=${SCIMD_BENCH_SLOW_MS:-200}
explain=()
if [[ $slow != 0 ]]; then
    # Plans only (no log_analyze): logging a slow statement's plan costs nothing measurable.
    explain=(-c shared_preload_libraries=auto_explain -c "auto_explain.log_min_duration=${slow}ms"
        -c "log_min_duration_statement=${slow}ms")
fi
pg_cluster_start -c max_connections=100 -c "shared_buffers=${SCIMD_BENCH_SHARED_BUFFERS:-256MB}" "${explain[@]}"

PGOPTIONS='-c client_min_messages=warning' "$(pg_psql)" "$PG_URL" -v ON_ERROR_STOP=1 -q \
    -c 'CREATE DATABASE scimd_bench'
export SCIMD_BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/scimd_bench"
echo "scimd source: $(git describe --always --dirty 2>/dev/null || echo unknown)"

cargo bench --bench directory -- "$@"
