#!/usr/bin/env bash
# scripts/eventbench.sh — the event log's read side on PostgreSQL (benches/events.rs): long-poll
# wake-up on the same and on another server, feed throughput for one consumer, webhook
# delivery throughput. Not part of CI, not a test: it prints figures (BENCHMARKS.md).
#
# Starts a throwaway PostgreSQL 15 cluster with default durability, runs
# `cargo bench --bench events` against a fresh database in it, and removes the cluster.
# About a minute on 2 cores after the build.
#
# Environment: SCIMD_BENCH_EVENTS (default 100000), SCIMD_BENCH_WAKE_SAMPLES (default 100),
# PG_BIN, CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=lib/pg-cluster.sh
source scripts/lib/pg-cluster.sh
TARGET_DIR=${CARGO_TARGET_DIR:-target}

cleanup() {
    local rc=$?
    pg_cluster_stop "$TARGET_DIR/eventbench-postgres.log"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_cluster_start -c max_connections=100
PGOPTIONS='-c client_min_messages=warning' "$(pg_psql)" "$PG_URL" -v ON_ERROR_STOP=1 -q \
    -c 'CREATE DATABASE scimd_eventbench'
export SCIMD_BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/scimd_eventbench"
echo "scimd source: $(git describe --always --dirty 2>/dev/null || echo unknown)"
cargo bench --bench events
