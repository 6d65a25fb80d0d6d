# scripts/lib/pg-cluster.sh — a throwaway PostgreSQL cluster for the benchmark scripts.
# Sourced, not run. Provides:
#   pg_cluster_start [server options...]  initdb + start on a free loopback port; sets PG_DIR,
#                                         PG_PORT, PG_BINDIR and PG_URL (…/postgres)
#   pg_cluster_stop [LOG_COPY]            stop, optionally keep the server log, remove PG_DIR
#   pg_psql                               the psql binary matching the server
# As root the cluster runs as `postgres` (initdb refuses root). PG_BIN overrides the search.

PG_DIR=""
PG_PORT=""
PG_BINDIR=""
PG_URL=""
PG_STARTED=0

pg_as() {
    if [[ $EUID -eq 0 ]]; then
        (cd "$PG_DIR" && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_find_bin() {
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

pg_psql() {
    if [[ -x $PG_BINDIR/psql ]]; then echo "$PG_BINDIR/psql"; else echo psql; fi
}

pg_cluster_start() {
    if ! PG_BINDIR=$(pg_find_bin); then
        echo "error: PostgreSQL 15 server binaries (initdb, pg_ctl, postgres) not found;" \
            "install the Debian package postgresql-15 or set PG_BIN" >&2
        return 1
    fi
    if [[ $EUID -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || { echo "error: running as root but there is no 'postgres' user" >&2; return 1; }
        PG_DIR=$(mktemp -d /tmp/scimd-pg.XXXXXX)
        chown postgres: "$PG_DIR"
    else
        PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/scimd-pg.XXXXXX")
    fi
    PG_PORT=$(pg_free_port)
    pg_as "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 || {
        echo "error: initdb failed:" >&2; cat "$PG_DIR/initdb.log" >&2; return 1; }
    PG_STARTED=1
    pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w start \
        -o "-p $PG_PORT -k '$PG_DIR' -c listen_addresses=127.0.0.1 $*" >/dev/null || {
        echo "error: PostgreSQL did not start; server log:" >&2; cat "$PG_DIR/log" >&2 || true; return 1; }
    PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    echo "PostgreSQL ($("$PG_BINDIR/postgres" --version)) at $PG_URL (data in $PG_DIR)"
}

pg_cluster_stop() {
    local keep_log=${1:-}
    if [[ $PG_STARTED -eq 1 ]]; then
        pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        if [[ -n $keep_log && -f $PG_DIR/log ]]; then
            mkdir -p "$(dirname "$keep_log")"
            cp "$PG_DIR/log" "$keep_log" 2>/dev/null && echo "PostgreSQL server log: $keep_log"
        fi
        PG_STARTED=0
    fi
    if [[ -n $PG_DIR ]]; then
        rm -rf "$PG_DIR"
        PG_DIR=""
    fi
}
