//! POST .search on a resource type and at the realm root.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::TestApp;

both_backends!(
    search_on_users_applies_filter_paging_and_projection,
    root_search_returns_both_types_paged_as_one_list,
    root_search_sorted_by_display_name_is_one_list_across_both_types,
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

fn names(r: &crate::helpers::Resp) -> Vec<String> {
    r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let v = x.get("displayName").or(x.get("userName"));
            v.and_then(|v| v.as_str()).unwrap_or("-").to_owned()
        })
        .collect()
}

async fn root_search_sorted_by_display_name_is_one_list_across_both_types(app: &TestApp) {
    for (user, shown) in [("u-b", "Bravo"), ("u-d", "delta"), ("u-f", "Foxtrot")] {
        let r = app
            .post(
                "/Users",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                       "userName": user, "displayName": shown}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    app.user("u-nameless").await;
    for g in ["alpha", "Charlie", "echo"] {
        app.group(g, &[]).await;
    }
    let search = |body: serde_json::Value| app.post("/.search", body);
    let r =
        search(json!({"sortBy": "displayName", "attributes": ["displayName", "userName"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 7);
    // displayName is caseExact=false: case folds; the user without one sorts last.
    assert_eq!(
        names(&r),
        [
            "alpha",
            "Bravo",
            "Charlie",
            "delta",
            "echo",
            "Foxtrot",
            "u-nameless"
        ]
    );
    let r = search(json!({"sortBy": "displayName", "sortOrder": "descending",
                           "attributes": ["displayName", "userName"]}))
    .await;
    assert_eq!(
        names(&r),
        [
            "Foxtrot",
            "echo",
            "delta",
            "Charlie",
            "Bravo",
            "alpha",
            "u-nameless"
        ]
    );
    // The page is cut from the merged list, not from each type's.
    let r = search(json!({"sortBy": "displayName", "startIndex": 3, "count": 3,
                           "attributes": ["displayName", "userName"]}))
    .await;
    assert_eq!(r.body["startIndex"], 3);
    assert_eq!(r.body["itemsPerPage"], 3);
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(names(&r), ["Charlie", "delta", "echo"]);
    // userName only Users have: Groups sort as missing, after every user.
    let r = search(json!({"sortBy": "userName", "count": 5,
                           "attributes": ["displayName", "userName"]}))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let got = names(&r);
    assert_eq!(
        &got[..4],
        ["Bravo", "delta", "Foxtrot", "u-nameless"],
        "{got:?}"
    );
    let r = search(json!({"sortBy": "nonsense"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue");
    let r = search(json!({"sortBy": "displayName", "startIndex": 20000, "count": 10})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("/Users/.search"),
        "{}",
        r.body
    );
}
