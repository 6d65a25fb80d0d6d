//! Postgres serves identity providers' lookups and sorted pages from indexes. The plans are
//! read with EXPLAIN on the SQL scimd really generates, with sequential scans disabled: if a
//! change makes a query unindexable, Postgres falls back to a sequential scan and this fails.

use scimd::scim::filter::FilterLimits;
use scimd::scim::schema::ResourceKind;
use scimd::service::filter::lower_filter;
use scimd::service::sort::resolve_sort;
use scimd::store::postgres::PgStore;
use scimd::store::query::{ListQuery, Literal, Seek};
use scimd::store::System;

use crate::helpers::{Backend, TestApp};

/// Resource type, filter, sortBy, and the indexes any of which may serve it.
type Case = (
    ResourceKind,
    Option<&'static str>,
    Option<&'static str>,
    &'static [&'static str],
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_and_sorted_pages_use_indexes_on_postgres() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    app.user("seed-user").await;
    let store = PgStore::connect(&app.database_url, 2).await.unwrap();
    let realm = app
        .admin
        .list_realms(Some("default"))
        .await
        .unwrap()
        .remove(0);
    // Enough rows, with statistics, that the planner weighs indexes as it would in production.
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO resources (id, realm_id, kind, name, name_ci, external_id, data, version, \
         created, last_modified) \
         SELECT gen_random_uuid(), CAST($1 AS uuid), CASE WHEN i % 10 = 0 THEN 'Group' ELSE 'User' END, \
           'user' || i || '@example.com', 'user' || i || '@example.com', 'ext-' || i, \
           jsonb_build_object('userName', 'user' || i || '@example.com', 'emails', \
             jsonb_build_array(jsonb_build_object('value', 'user' || i || '@example.com', \
             'type', 'work'))), 1, timestamptz '2026-01-01T00:00:00.000Z', \
           timestamptz '2026-01-01T00:00:00.000Z' + i * interval '1 second' \
         FROM generate_series(1, 20000) AS i",
    )
    .bind(&realm.id)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("ANALYZE resources")
        .execute(&mut conn)
        .await
        .unwrap();
    let cases: [Case; 10] = [
        (
            ResourceKind::User,
            Some("userName eq \"Alice@Example.com\""),
            None,
            &["resources_name", "resources_sort_name"],
        ),
        (
            ResourceKind::User,
            Some("externalId eq \"00aa-11bb\""),
            None,
            &["resources_external_id"],
        ),
        (
            ResourceKind::User,
            Some("emails[type eq \"work\"].value eq \"a@example.com\""),
            None,
            &["resources_email_values"],
        ),
        (
            ResourceKind::User,
            Some("emails.value eq \"A@example.com\""),
            None,
            &["resources_email_values"],
        ),
        (
            ResourceKind::User,
            Some("userName sw \"ali\""),
            None,
            &["resources_name_trgm", "resources_sort_name"],
        ),
        (
            ResourceKind::User,
            Some("userName co \"ser1234@\""),
            None,
            &["resources_name_trgm"],
        ),
        (
            ResourceKind::User,
            Some("emails.value co \"ser1234@\""),
            None,
            &["resources_email_trgm"],
        ),
        (
            ResourceKind::Group,
            Some("displayName eq \"Engineering\""),
            None,
            &["resources_name", "resources_sort_name"],
        ),
        (
            ResourceKind::User,
            None,
            Some("userName"),
            &["resources_sort_name"],
        ),
        (
            ResourceKind::User,
            None,
            Some("meta.lastModified"),
            &["resources_sort_modified"],
        ),
    ];
    for (kind, filter, sort_by, indexes) in cases {
        let query = ListQuery {
            filter: filter.map(|f| lower_filter(kind, f, &FilterLimits::default()).unwrap()),
            offset: 0,
            limit: 100,
            sort: resolve_sort(kind, sort_by, None).unwrap(),
            seek: None,
        };
        let plan = store.explain_list(&realm.id, kind, &query).await.unwrap();
        assert!(
            !plan.contains("Seq Scan on resources"),
            "{filter:?} / sortBy {sort_by:?} scans the table:\n{plan}"
        );
        assert!(
            indexes.iter().any(|i| plan.contains(i)),
            "{filter:?} / sortBy {sort_by:?} uses none of {indexes:?}:\n{plan}"
        );
    }
    // A cursor page deep in the list must start its index range at the cursor's key, not
    // scan from the first row and filter (which made the last page of 1M users cost ~7x the
    // first). Both directions, both sort orders.
    for (sort_by, index, key) in [
        ("userName", "resources_sort_name", "user5000@example.com"),
        (
            "meta.lastModified",
            "resources_sort_modified",
            "2026-01-01T00:00:00.000Z",
        ),
    ] {
        for order in ["ascending", "descending"] {
            for backward in [false, true] {
                let query = ListQuery {
                    filter: None,
                    offset: 0,
                    limit: 100,
                    sort: resolve_sort(ResourceKind::User, Some(sort_by), Some(order)).unwrap(),
                    seek: Some(Seek {
                        key: Some(Literal::String(key.to_owned())),
                        id: "55555555-5555-4555-8555-555555555555".to_owned(),
                        backward,
                    }),
                };
                let plan = store
                    .explain_list(&realm.id, ResourceKind::User, &query)
                    .await
                    .unwrap();
                // The Index Cond of the page's scan (the count subquery has its own).
                let cond = plan
                    .lines()
                    .skip_while(|l| !l.contains(&format!("using {index}")))
                    .find(|l| l.contains("Index Cond"))
                    .unwrap_or_default();
                assert!(
                    plan.contains(index) && (cond.contains(">=") || cond.contains("<=")),
                    "seek on {sort_by} {order} (backward {backward}) does not start the range \
                     of {index} at the cursor:\n{plan}"
                );
            }
        }
    }
    store.close().await;
    app.stop().await;
}
