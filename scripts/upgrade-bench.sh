#!/usr/bin/env bash
# scripts/upgrade-bench.sh — how long the in-place conversion to native types and realm-led
# keys (Postgres migration 9) takes on a large directory. Not part of the tests.
#
# Starts a throwaway PostgreSQL 15 cluster, builds the schema of the release before it
# (migrations 1-8, applied with psql), loads USERS users (default 1,000,000) and a group of
# 100,000 members in that release's row shape (text ids and instants), then times migration 9
# alone and prints the database size before and after.
#
# Usage: USERS=100000 scripts/upgrade-bench.sh
# Needs: postgresql-15 server binaries.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=lib/pg-cluster.sh
source scripts/lib/pg-cluster.sh
pg_find_bin >/dev/null || { echo "error: needs postgresql-15" >&2; exit 1; }
pg_cluster_start >/dev/null
trap 'pg_cluster_stop' EXIT
PSQL=$(pg_psql)
USERS=${USERS:-1000000}
"$PSQL" "$PG_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE upgrade_bench"
DB=${PG_URL%/postgres}/upgrade_bench
run() { "$PSQL" "$DB" -X -q -v ON_ERROR_STOP=1 "$@"; }

for f in migrations/postgres/*.sql; do
    v=$(basename "$f" | cut -d_ -f1)
    [[ $v -lt 20261204000009 ]] && run -1 -f "$f"
done

REALM=0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b
GROUP=0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a64
TEXT_TS="'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"
run <<SQL
INSERT INTO tenants VALUES ('default', '2026-01-01T00:00:00.000Z');
INSERT INTO realms (id, tenant, name, state, created_at)
VALUES ('$REALM', 'default', 'default', 'enabled', '2026-01-01T00:00:00.000Z');
INSERT INTO resources (id, realm_id, kind, name, name_ci, external_id, data, password_hash,
                       version, created, last_modified)
SELECT gen_random_uuid()::text, '$REALM', 'User', u.user_name, lower(u.user_name),
       u.external_id, u.data, NULL, 1,
       to_char(u.ts AT TIME ZONE 'UTC', $TEXT_TS), to_char(u.ts AT TIME ZONE 'UTC', $TEXT_TS)
FROM generate_series(1, $USERS) AS s(g), LATERAL ($(cat benches/sql/user_row.postgres.sql)) u;
INSERT INTO resources (id, realm_id, kind, name, name_ci, external_id, data, version, created,
                       last_modified)
VALUES ('$GROUP', '$REALM', 'Group', 'big', 'big', NULL, '{"displayName": "big"}', 1,
        '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
INSERT INTO members SELECT '$GROUP', id FROM resources WHERE kind = 'User' LIMIT 100000;
VACUUM ANALYZE;
SQL
run -At -c "SELECT 'before: ' || count(*) || ' resources, '
                   || (SELECT count(*) FROM members) || ' memberships, '
                   || pg_size_pretty(pg_database_size(current_database())) FROM resources"
start=$(date +%s%N)
run -1 -f migrations/postgres/20261204000009_native_types_realm_keys.sql
end=$(date +%s%N)
echo "migration 9: $(( (end - start) / 1000000 )) ms"
run -At -c "SELECT 'after: ' || pg_size_pretty(pg_database_size(current_database()))"
