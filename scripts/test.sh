#!/usr/bin/env bash
# scripts/test.sh — the project's test command. Takes no arguments.
#
# Stages (each counted in the final "scimd-tests: N passed, M failed" line):
#   1. cargo test --locked --all-targets   (against a throwaway PostgreSQL 15 cluster)
#   2. scripts/conformance.sh with the SQLite backend (validates /openapi.json as OpenAPI 3.1,
#      then runs scim2-tester)
#   3. scripts/conformance.sh with the PostgreSQL backend
#
# Environment:
#   PG_BIN                     directory holding initdb/pg_ctl/postgres (default: `pg_config --bindir`,
#                              then /usr/lib/postgresql/15/bin)
#   CI=true                    missing PostgreSQL is always fatal
#   SCIMD_TEST_SKIP_POSTGRES=1 (not in CI) run without PostgreSQL: SQLite-only, loud warning
#   SCIMD_TEST_FILTER          name filter handed to `cargo test`
#   SCIMD_TEST_SKIP_CONFORMANCE=1  debug aid: skip both conformance stages
#   SCIMD_TEST_ONLY_PG=1       debug aid: start the cluster, run `select 1` through psql, stop, exit
#
# Exported to the tests: SCIMD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres
# (the tests create their own databases in that cluster).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=lib/pg-cluster.sh
source scripts/lib/pg-cluster.sh
passed=0
skipped=0

log() { printf '\n==> %s\n' "$*"; }

cleanup() {
    local rc=$?
    pg_cluster_stop
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_postgres() {
    # fsync off: a test cluster that dies is thrown away anyway, and the suite runs faster.
    pg_cluster_start -c fsync=off -c max_connections=300 || return 1
    export SCIMD_TEST_POSTGRES_URL=$PG_URL
}

psql_bin() { pg_psql; }

# --- PostgreSQL -------------------------------------------------------------
use_pg=1
log "PostgreSQL cluster"
if ! PG_BINDIR=$(pg_find_bin); then
    {
        echo "error: PostgreSQL 15 server binaries (initdb, pg_ctl, postgres) not found."
        if [[ -n ${PG_BIN:-} ]]; then echo "       PG_BIN=$PG_BIN does not contain them."; fi
        echo "       Install the Debian package postgresql-15 (apt-get install postgresql-15),"
        echo "       or set PG_BIN to the directory holding those binaries."
    } >&2
    if [[ ${CI:-} == true || ${SCIMD_TEST_SKIP_POSTGRES:-} != 1 ]]; then
        [[ ${CI:-} == true ]] || echo "       (set SCIMD_TEST_SKIP_POSTGRES=1 to run the SQLite-only subset locally)" >&2
        echo "scimd-tests: 0 passed, 1 failed"
        exit 1
    fi
    cat >&2 <<'EOF'

!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! WARNING: SCIMD_TEST_SKIP_POSTGRES=1 — running WITHOUT PostgreSQL.  !!
!! Only the SQLite backend is tested. CI will test PostgreSQL too.    !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!

EOF
    use_pg=0
    unset SCIMD_TEST_POSTGRES_URL
else
    if ! start_postgres; then
        echo "scimd-tests: 0 passed, 1 failed"
        exit 1
    fi
fi

if [[ ${SCIMD_TEST_ONLY_PG:-} == 1 ]]; then
    [[ $use_pg -eq 1 ]] || { echo "SCIMD_TEST_ONLY_PG=1 needs PostgreSQL" >&2; exit 1; }
    "$(psql_bin)" "$SCIMD_TEST_POSTGRES_URL" -v ON_ERROR_STOP=1 -c 'select 1'
    echo "SCIMD_TEST_ONLY_PG=1: cluster works; stopping."
    exit 0
fi

# --- stages -----------------------------------------------------------------
run_stage() {
    local name=$1
    shift
    log "$name"
    if "$@"; then
        passed=$((passed + 1))
        echo "--> $name: passed"
    else
        echo "--> $name: FAILED" >&2
        echo "scimd-tests: $passed passed, 1 failed"
        exit 1
    fi
}

cargo_tests() {
    if [[ -n ${SCIMD_TEST_FILTER:-} ]]; then
        cargo test --locked --all-targets "$SCIMD_TEST_FILTER"
    else
        cargo test --locked --all-targets
    fi
}

conformance_postgres() {
    local base=${SCIMD_TEST_POSTGRES_URL%/*}
    PGOPTIONS='-c client_min_messages=warning' "$(psql_bin)" "$SCIMD_TEST_POSTGRES_URL" -v ON_ERROR_STOP=1 -q \
        -c 'DROP DATABASE IF EXISTS conformance' -c 'CREATE DATABASE conformance' &&
        scripts/conformance.sh "$base/conformance"
}

# The webhook tests verify signatures with PyPI's standardwebhooks as well as our own code: an
# implementation that is not ours. A venv of its own, made once (a few seconds).
HOOKS_PIN="standardwebhooks==1.3.0"
HOOKS_VENV=${SCIMD_HOOKS_VENV:-target/webhooks-venv}
hooks_venv() {
    if [[ -f $HOOKS_VENV/.scimd-pins && $(cat "$HOOKS_VENV/.scimd-pins") == "$HOOKS_PIN" ]]; then
        return 0
    fi
    rm -rf "$HOOKS_VENV"
    python3 -m venv "$HOOKS_VENV" &&
        "$HOOKS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$HOOKS_PIN" &&
        echo "$HOOKS_PIN" >"$HOOKS_VENV/.scimd-pins"
}
log "Python venv for the webhook signature check ($HOOKS_PIN)"
if hooks_venv; then
    export SCIMD_TEST_PYTHON=$PWD/$HOOKS_VENV/bin/python
else
    rm -rf "$HOOKS_VENV"
    echo "warning: could not install $HOOKS_PIN; in CI the webhook test will fail on it" >&2
fi

run_stage "cargo tests" cargo_tests

if [[ ${SCIMD_TEST_SKIP_CONFORMANCE:-} == 1 ]]; then
    echo "warning: SCIMD_TEST_SKIP_CONFORMANCE=1 — conformance stages skipped" >&2
    skipped=$((skipped + 2))
else
    run_stage "conformance (sqlite)" scripts/conformance.sh sqlite
    if [[ $use_pg -eq 1 ]]; then
        run_stage "conformance (postgres)" conformance_postgres
    else
        skipped=$((skipped + 1))
    fi
fi

if [[ $skipped -gt 0 ]]; then
    echo "scimd-tests: $passed passed, 0 failed, $skipped skipped"
else
    echo "scimd-tests: $passed passed, 0 failed"
fi
