#!/usr/bin/env bash
# scripts/loadbench.sh — scimd's throughput benchmark (issue 6; results in BENCHMARKS.md).
# Not part of the tests; its --smoke mode runs in CI so it cannot rot.
#
# In one run: starts a throwaway PostgreSQL 15 cluster (default durability), measures the
# machine's ceilings with pgbench -S and -N, builds scimd (release), loads 10k, 100k and 1M
# users (and groups of 1k, 10k and 100k members) with SQL in the row shape scimd writes, and
# drives scimd over loopback with wrk at 32 connections through the scenarios of
# benches/load/scenario.lua; then the same on SQLite at 100k users. Prints requests/s,
# p50/p99, server CPU per request, peak server RSS, wrk's own CPU and the ratio to the
# pgbench ceiling, then which budget lines hold. Before scimd at each Postgres size it runs
# the floor (benches/load/floor.rs: one SELECT behind bare axum + sqlx, no auth or rendering)
# through the same GET scenario, so a run shows what the stack itself can do on this machine.
# Then, on each backend (issue 21), it provisions 10k and 100k users through POST /Users on a
# fresh database, as an identity provider's first sync does, and measures GET and filter at
# once (no ANALYZE, no restart), after a manual ANALYZE, and after a restart as well; the
# budget wants the first within 0.9 of the last.
#
# Usage: scripts/loadbench.sh [--smoke] [loadbench.py options: --sizes 10000,100000
#        --duration 10 --connections 32 --only S2,S3 --sqlite-users 0 --young-sizes 10000
#        --json FILE ...]
#   --smoke   1,000 users, groups of 100, 1,000 provisioned, 2 s per scenario, debug build;
#             fails on any failed request (CI)
# Needs: postgresql-15 (server binaries and pgbench), wrk, python3.
# SCIMD_BENCH_SLOW_MS=N logs the plans of statements slower than N ms (auto_explain) to
# ${CARGO_TARGET_DIR:-target}/loadbench-postgres.log.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=lib/pg-cluster.sh
source scripts/lib/pg-cluster.sh

TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$PWD/$TARGET_DIR

smoke=0
args=()
for a in "$@"; do
    if [[ $a == --smoke ]]; then smoke=1; else args+=("$a"); fi
done

missing=()
command -v wrk >/dev/null || missing+=("wrk")
command -v python3 >/dev/null || missing+=("python3")
pg_find_bin >/dev/null || missing+=("postgresql-15")
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "error: loadbench needs: ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
    exit 1
fi

cleanup() {
    local rc=$?
    pg_cluster_stop "$TARGET_DIR/loadbench-postgres.log"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ $smoke -eq 1 ]]; then
    cargo build --locked --bin scimd --example floor
    bin=$TARGET_DIR/debug/scimd
    floor=$TARGET_DIR/debug/examples/floor
    preset=(--smoke --sizes 1000 --group-sizes 100 --sqlite-users 1000 --young-sizes 1000 --duration 2)
else
    cargo build --locked --release --bin scimd --example floor
    bin=$TARGET_DIR/release/scimd
    floor=$TARGET_DIR/release/examples/floor
    preset=()
fi

explain=()
if [[ ${SCIMD_BENCH_SLOW_MS:-0} != 0 ]]; then
    # Plans of statements slower than this go to the server log (kept in $TARGET_DIR).
    explain=(-c shared_preload_libraries=auto_explain
        -c "auto_explain.log_min_duration=${SCIMD_BENCH_SLOW_MS}ms"
        -c "log_min_duration_statement=${SCIMD_BENCH_SLOW_MS}ms")
fi
pg_cluster_start -c max_connections=200 -c "shared_buffers=${SCIMD_BENCH_SHARED_BUFFERS:-256MB}" "${explain[@]}"
PGOPTIONS='-c client_min_messages=warning' "$(pg_psql)" "$PG_URL" -v ON_ERROR_STOP=1 -q \
    -c 'CREATE DATABASE scimd_load'
PATH=$PG_BINDIR:$PATH python3 benches/load/loadbench.py \
    --postgres-url "postgres://postgres@127.0.0.1:$PG_PORT/scimd_load" --scimd "$bin" --floor "$floor" \
    "${preset[@]}" "${args[@]}"
