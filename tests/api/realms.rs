//! What a realm's deletion leaves behind in the database: nothing of it.

use serde_json::json;

use crate::both_backends;
use crate::helpers::TestApp;

both_backends!(deleting_a_realm_removes_its_resource_counts_too);

async fn count_rows(conn: &mut sqlx::AnyConnection, realm_id: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM resource_counts WHERE CAST(realm_id AS TEXT) = $1",
    )
    .bind(realm_id)
    .fetch_one(conn)
    .await
    .unwrap()
}

async fn deleting_a_realm_removes_its_resource_counts_too(app: &TestApp) {
    app.admin.create_tenant("gone").await.unwrap();
    let realm = app.admin.create_realm("gone", "soon").await.unwrap();
    let keep = app.admin.create_realm("gone", "stays").await.unwrap();
    for (r, n) in [("soon", 3), ("stays", 2)] {
        let token = app
            .admin
            .create_token("gone", r, "t", None)
            .await
            .unwrap()
            .secret;
        for i in 0..n {
            let resp = app
                .client
                .post(format!(
                    "{}/v1/tenants/gone/realms/{r}/scim/v2/Users",
                    app.origin
                ))
                .bearer_auth(&token)
                .header("content-type", "application/scim+json")
                .body(json!({"userName": format!("{r}-{i}")}).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), reqwest::StatusCode::CREATED);
        }
    }
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    assert!(count_rows(&mut conn, &realm.id).await > 0, "counts exist");
    // The realm goes as the admin API's delete will take it: its rows cascade.
    sqlx::query("DELETE FROM realms WHERE CAST(id AS TEXT) = $1")
        .bind(&realm.id)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        count_rows(&mut conn, &realm.id).await,
        0,
        "no count rows left"
    );
    let left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM resources WHERE CAST(realm_id AS TEXT) = $1")
            .bind(&realm.id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(left, 0);
    let kept: i64 = sqlx::query_scalar(
        "SELECT CAST(SUM(n) AS BIGINT) FROM resource_counts WHERE CAST(realm_id AS TEXT) = $1",
    )
    .bind(&keep.id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(kept, 2, "the other realm's count is untouched");
}
