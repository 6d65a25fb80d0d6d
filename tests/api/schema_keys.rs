//! Every key of a per-realm table leads with the realm: what lets a distributed Postgres
//! (docs/scale-out.md) keep each realm's rows together and route each statement to one node.
//! Read from the schema the migrations build, so a new table or key is held to it too.

use crate::helpers::{Backend, TestApp};

/// (table, key, its first column) for every primary key, unique constraint or index, and
/// foreign key of a table with a `realm_id` column.
async fn postgres_keys(conn: &mut sqlx::AnyConnection) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "WITH per_realm AS ( \
           SELECT attrelid AS rel FROM pg_attribute \
           WHERE attname = 'realm_id' AND NOT attisdropped \
             AND attrelid IN (SELECT oid FROM pg_class \
                              WHERE relnamespace = 'public'::regnamespace AND relkind = 'r')) \
         SELECT CAST(c.conrelid::regclass AS text), CAST(c.conname AS text), \
                CAST(a.attname AS text) \
         FROM pg_constraint c JOIN per_realm p ON p.rel = c.conrelid \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         WHERE c.contype IN ('p', 'u', 'f') \
         UNION ALL \
         SELECT CAST(i.indrelid::regclass AS text), CAST(ic.relname AS text), \
                COALESCE(CAST(a.attname AS text), '(expression)') \
         FROM pg_index i JOIN per_realm p ON p.rel = i.indrelid \
         JOIN pg_class ic ON ic.oid = i.indexrelid \
         LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
         WHERE i.indisunique",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

async fn sqlite_keys(conn: &mut sqlx::AnyConnection) -> Vec<(String, String, String)> {
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' \
         AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'realm_id')",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut keys = Vec::new();
    for (t,) in tables {
        // Primary keys and unique constraints are unique indexes here (origin 'pk' or 'u').
        let pk: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM pragma_table_info($1) WHERE pk = 1")
                .bind(&t)
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        if let Some((first,)) = pk.first() {
            keys.push((t.clone(), "primary key".into(), first.clone()));
        }
        let unique: Vec<(String, String)> = sqlx::query_as(
            "SELECT l.name, (SELECT i.name FROM pragma_index_info(l.name) i WHERE i.seqno = 0) \
             FROM pragma_index_list($1) l WHERE l.\"unique\" = 1",
        )
        .bind(&t)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        keys.extend(unique.into_iter().map(|(n, f)| (t.clone(), n, f)));
        let fks: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, \"from\" FROM pragma_foreign_key_list($1) WHERE seq = 0")
                .bind(&t)
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        keys.extend(
            fks.into_iter()
                .map(|(id, from)| (t.clone(), format!("foreign key {id}"), from)),
        );
    }
    keys
}

async fn every_key_of_a_per_realm_table_leads_with_the_realm(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    let keys = match backend {
        Backend::Postgres => postgres_keys(&mut conn).await,
        Backend::Sqlite => sqlite_keys(&mut conn).await,
    };
    let tables: std::collections::BTreeSet<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    for t in ["resources", "members", "tokens", "resource_counts"] {
        assert!(
            tables.contains(t),
            "{t} is a per-realm table with keys: {keys:?}"
        );
    }
    let wrong: Vec<_> = keys
        .iter()
        .filter(|(_, _, first)| first != "realm_id")
        .collect();
    assert!(
        wrong.is_empty(),
        "keys of per-realm tables must lead with realm_id: {wrong:?}"
    );
    drop(conn);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_of_a_per_realm_table_leads_with_the_realm_on_postgres() {
    every_key_of_a_per_realm_table_leads_with_the_realm(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_of_a_per_realm_table_leads_with_the_realm_on_sqlite() {
    every_key_of_a_per_realm_table_leads_with_the_realm(Backend::Sqlite).await;
}
