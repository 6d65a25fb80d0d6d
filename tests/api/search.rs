//! POST .search on a resource type and at the realm root.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::TestApp;

both_backends!(
    search_on_users_applies_filter_paging_and_projection,
    root_search_returns_both_types_paged_as_one_list,
);

async fn search_on_users_applies_filter_paging_and_projection(app: &TestApp) {
    for n in ["s1", "s2", "s3"] {
        app.user(n).await;
    }
    let r = app
        .post(
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": "userName sw \"s\"", "startIndex": 1, "count": 2,
                   "attributes": ["userName"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(r.body["itemsPerPage"], 2);
    assert!(r.body["Resources"][0].get("meta").is_none());
}

async fn root_search_returns_both_types_paged_as_one_list(app: &TestApp) {
    app.user("root-user").await;
    app.group("root-group", &[]).await;
    let r = app
        .post(
            "/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "attributes": ["externalId"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 2);
    let schemas: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["schemas"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        schemas,
        vec![
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:core:2.0:Group"
        ]
    );
    let second = app
        .post("/.search", json!({"startIndex": 2, "count": 1}))
        .await;
    assert_eq!(second.body["Resources"][0]["displayName"], "root-group");
    let filtered = app
        .post(
            "/.search",
            json!({"filter": "displayName eq \"root-group\""}),
        )
        .await;
    assert_eq!(filtered.status, StatusCode::OK, "{}", filtered.body);
    assert_eq!(filtered.body["totalResults"], 1);
}
