//! Users: create, read, replace, delete, list, filter, and what real clients send.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::TestApp;

both_backends!(
    create_user_returns_201_with_location_equal_to_meta_location,
    loose_identity_provider_payloads_are_accepted_and_normalised,
    password_is_stored_as_argon2_hash_and_never_returned,
    duplicate_user_name_in_any_case_is_409_uniqueness,
    unknown_user_is_404_scim_error,
    put_echoing_a_get_body_replaces_and_ignores_read_only_attributes,
    deactivated_user_keeps_id_memberships_and_is_still_found,
    deleted_user_is_gone_from_reads_filters_and_groups,
    list_paging_follows_rfc_7644,
    filters_find_users_the_way_identity_providers_look_them_up,
    malformed_filter_is_400_invalid_filter,
    projection_limits_the_returned_attributes,
    stale_if_match_is_412_and_current_one_succeeds,
    if_match_with_several_tags_writes_when_any_matches,
    attributes_with_a_value_filter_is_400_naming_the_parameter,
    missing_user_name_is_400_invalid_value,
);

async fn create_user_returns_201_with_location_equal_to_meta_location(app: &TestApp) {
    let r = app
        .post(
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                   "userName": "alice@example.com", "name": {"givenName": "Alice"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let loc = r.header("location").unwrap();
    assert_eq!(loc, r.body["meta"]["location"].as_str().unwrap());
    assert!(loc.starts_with(&app.base) && loc.ends_with(&format!("/Users/{id}")));
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert!(r.body["meta"]["created"].is_string());
    assert!(r.body["meta"]["lastModified"].is_string());
    assert_eq!(r.header("etag"), r.body["meta"]["version"].as_str());
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/scim+json"));

    let got = app.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["userName"], "alice@example.com");
    assert_eq!(got.body["name"]["givenName"], "Alice");
}

async fn loose_identity_provider_payloads_are_accepted_and_normalised(app: &TestApp) {
    // COMPAT 9, 10, 13: nulls, empty strings, [] for read-only groups, unknown attributes and
    // extensions, string booleans and a single email object.
    let r = app
        .post(
            "/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:example:custom"],
                "UserName": "bob@example.com",
                "active": "True",
                "displayName": null,
                "nickName": "",
                "groups": [],
                "roles": [],
                "favouriteColour": "blue",
                "urn:example:custom": {"x": 1},
                "emails": {"value": "bob@example.com", "type": "work", "primary": "true"},
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "employeeNumber": 42,
                    "manager": "some-hr-id"
                }
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["userName"], "bob@example.com");
    assert_eq!(b["active"], json!(true));
    assert_eq!(
        b["emails"],
        json!([{"value": "bob@example.com", "type": "work", "primary": true}])
    );
    assert!(b.get("favouriteColour").is_none());
    assert!(b.get("nickName").is_none());
    assert!(b.get("urn:example:custom").is_none());
    let ent = &b["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(ent["employeeNumber"], "42");
    assert_eq!(ent["manager"]["value"], "some-hr-id");
    assert!(b["schemas"].as_array().unwrap().contains(&json!(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )));
}

async fn password_is_stored_as_argon2_hash_and_never_returned(app: &TestApp) {
    let r = app
        .post(
            "/Users",
            json!({"userName": "carol", "password": "correct horse"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.body.get("password").is_none());
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(app
        .get(&format!("/Users/{id}"))
        .await
        .body
        .get("password")
        .is_none());
    let listed = app.get("/Users?attributes=password,userName").await;
    assert!(listed.body["Resources"][0].get("password").is_none());

    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    let hash: String = sqlx::Row::get(
        &sqlx::query("SELECT password_hash FROM resources WHERE CAST(id AS TEXT) = $1")
            .bind(&id)
            .fetch_one(&mut conn)
            .await
            .unwrap(),
        "password_hash",
    );
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));

    // A PUT without a password keeps the stored hash.
    let put = app
        .put(&format!("/Users/{id}"), json!({"userName": "carol"}))
        .await;
    assert_eq!(put.status, StatusCode::OK);
    let kept: Option<String> = sqlx::Row::get(
        &sqlx::query("SELECT password_hash FROM resources WHERE CAST(id AS TEXT) = $1")
            .bind(&id)
            .fetch_one(&mut conn)
            .await
            .unwrap(),
        "password_hash",
    );
    assert_eq!(kept.as_deref(), Some(hash.as_str()));
}

async fn duplicate_user_name_in_any_case_is_409_uniqueness(app: &TestApp) {
    app.user("Dave@Example.com").await;
    let r = app
        .post("/Users", json!({"userName": "dave@EXAMPLE.com"}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["scimType"], "uniqueness");
    assert_eq!(r.body["status"], "409");
    assert!(r.body["detail"].as_str().unwrap().len() > 10);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    // Renaming another user onto the taken name is refused the same way.
    let other = app.user("erin").await;
    let r = app
        .put(
            &format!("/Users/{other}"),
            json!({"userName": "DAVE@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["scimType"], "uniqueness");
}

async fn unknown_user_is_404_scim_error(app: &TestApp) {
    let r = app.get("/Users/00000000-0000-0000-0000-000000000000").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["status"], "404");
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert!(r.body["detail"].is_string());
    let r = app.delete("/Users/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.put("/Users/nope", json!({"userName": "x"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn put_echoing_a_get_body_replaces_and_ignores_read_only_attributes(app: &TestApp) {
    let id = app.user("frank").await;
    let g = app.group("staff", &[&id]).await;
    let mut body = app.get(&format!("/Users/{id}")).await.body;
    assert_eq!(body["groups"][0]["value"], g.as_str());
    body["displayName"] = json!("Frank F.");
    body["meta"]["created"] = json!("1999-01-01T00:00:00Z");
    body["id"] = json!(id.clone());
    let r = app.put(&format!("/Users/{id}"), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Frank F.");
    assert_ne!(r.body["meta"]["created"], "1999-01-01T00:00:00Z");
    assert_eq!(r.body["groups"][0]["value"], g.as_str());
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    // PUT replaces: attributes left out are cleared.
    let r = app
        .put(&format!("/Users/{id}"), json!({"userName": "frank"}))
        .await;
    assert!(r.body.get("displayName").is_none());
}

async fn deactivated_user_keeps_id_memberships_and_is_still_found(app: &TestApp) {
    let id = app.user("grace").await;
    let g = app.group("admins", &[&id]).await;
    let r = app
        .put(
            &format!("/Users/{id}"),
            json!({"userName": "grace", "active": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["active"], json!(false));
    assert_eq!(r.body["id"], id.as_str());
    let found = app.get("/Users?filter=userName%20eq%20%22grace%22").await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["active"], json!(false));
    let group = app.get(&format!("/Groups/{g}")).await;
    assert_eq!(group.body["members"][0]["value"], id.as_str());
    let r = app
        .put(
            &format!("/Users/{id}"),
            json!({"userName": "grace", "active": "true"}),
        )
        .await;
    assert_eq!(r.body["active"], json!(true));
    assert_eq!(r.body["id"], id.as_str());
}

async fn deleted_user_is_gone_from_reads_filters_and_groups(app: &TestApp) {
    let id = app.user("heidi").await;
    let keep = app.user("ivan").await;
    let g = app.group("team", &[&id, &keep]).await;
    let r = app.delete(&format!("/Users/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/Users/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let f = app.get("/Users?filter=userName+eq+%22heidi%22").await;
    assert_eq!(f.body["totalResults"], 0);
    let group = app.get(&format!("/Groups/{g}")).await;
    let members: Vec<&str> = group.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![keep.as_str()]);
    assert_eq!(
        app.delete(&format!("/Users/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn list_paging_follows_rfc_7644(app: &TestApp) {
    for i in 0..5 {
        app.user(&format!("pager{i}")).await;
    }
    let p1 = app.get("/Users?startIndex=1&count=2").await;
    assert_eq!(p1.status, StatusCode::OK);
    assert_eq!(p1.body["totalResults"], 5);
    assert_eq!(p1.body["itemsPerPage"], 2);
    assert_eq!(p1.body["startIndex"], 1);
    assert_eq!(p1.body["Resources"].as_array().unwrap().len(), 2);
    let p2 = app.get("/Users?startIndex=3&count=2").await;
    let p3 = app.get("/Users?startIndex=5&count=2").await;
    let mut ids: Vec<String> = [&p1, &p2, &p3]
        .iter()
        .flat_map(|p| p.body["Resources"].as_array().unwrap().clone())
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 5);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "pages must not overlap");

    let past = app.get("/Users?startIndex=50&count=2").await;
    assert_eq!(past.status, StatusCode::OK);
    assert_eq!(past.body["Resources"], json!([]));
    assert_eq!(past.body["totalResults"], 5);

    let zero = app.get("/Users?count=0").await;
    assert_eq!(zero.body["totalResults"], 5);
    assert_eq!(zero.body["Resources"], json!([]));

    let low = app.get("/Users?startIndex=-3&count=1").await;
    assert_eq!(low.body["startIndex"], 1);
    assert_eq!(
        low.body["Resources"][0]["id"],
        p1.body["Resources"][0]["id"]
    );

    let bad = app.get("/Users?count=lots").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

async fn filters_find_users_the_way_identity_providers_look_them_up(app: &TestApp) {
    let r = app
        .post(
            "/Users",
            json!({"userName": "alice@x.com", "externalId": "EXT-1",
                   "emails": [{"value": "alice@work.example", "type": "work"},
                              {"value": "alice@home.example", "type": "home"}],
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_str().unwrap().to_owned();
    app.user("bob@x.com").await;

    let one = |q: &'static str| async move {
        let r = app.get(&format!("/Users?filter={q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        r.body
    };
    // COMPAT 4: an unknown name is an empty list, never 404.
    let none = one("userName%20eq%20%22a3c1c6a4-0000-4000-8000-000000000000%22").await;
    assert_eq!(none["totalResults"], 0);
    assert_eq!(none["Resources"], json!([]));
    // COMPAT 5: userName ignores case; externalId does not.
    assert_eq!(
        one("userName+eq+%22ALICE@X.COM%22").await["Resources"][0]["id"],
        id.as_str()
    );
    assert_eq!(
        one("externalId%20eq%20%22EXT-1%22").await["totalResults"],
        1
    );
    assert_eq!(
        one("externalId%20eq%20%22ext-1%22").await["totalResults"],
        0
    );
    assert_eq!(
        one("emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22alice@work.example%22").await
            ["totalResults"],
        1
    );
    assert_eq!(
        one("emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22alice@home.example%22").await
            ["totalResults"],
        0
    );
    // COMPAT 3: a value still percent-encoded inside the quotes.
    assert_eq!(
        one("userName%20eq%20%22alice%2540x.com%22").await["totalResults"],
        1
    );
    assert_eq!(
        one("userName%20sw%20%22ali%22%20or%20userName%20ew%20%22b@x.com%22").await["totalResults"],
        2
    );
    assert_eq!(
        one("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department%20eq%20%22r%26d%22").await
            ["totalResults"],
        1
    );
    assert_eq!(
        one("not%20(userName%20co%20%22alice%22)").await["totalResults"],
        1
    );
    assert_eq!(one("emails%20pr").await["totalResults"], 1);
}

async fn malformed_filter_is_400_invalid_filter(app: &TestApp) {
    for q in [
        "userName%20eq",
        "userName%20equals%20%22x%22",
        "(userName%20eq%20%22x%22",
        "noSuchAttribute%20eq%20%22x%22",
        "active%20gt%20true",
    ] {
        let r = app.get(&format!("/Users?filter={q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.body["scimType"], "invalidFilter", "{q}: {}", r.body);
        assert!(r.body["detail"].as_str().unwrap().len() > 15, "{}", r.body);
    }
    let r = app
        .get("/Users?filter=noSuchAttribute%20eq%20%22x%22")
        .await;
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("noSuchAttribute"));
}

async fn projection_limits_the_returned_attributes(app: &TestApp) {
    let id = app.user("judy").await;
    let r = app.get(&format!("/Users/{id}?attributes=userName")).await;
    assert_eq!(r.body["userName"], "judy");
    assert_eq!(r.body["id"], id.as_str());
    assert!(r.body.get("meta").is_none());
    let r = app
        .get(&format!("/Users/{id}?excludedAttributes=meta"))
        .await;
    assert!(r.body.get("meta").is_none());
    assert_eq!(r.body["userName"], "judy");
}

async fn stale_if_match_is_412_and_current_one_succeeds(app: &TestApp) {
    let id = app.user("ken").await;
    let path = format!("/Users/{id}");
    let r = app
        .call_with(
            Method::PUT,
            &path,
            Some(json!({"userName": "ken", "title": "x"})),
            &[("if-match", "W/\"7\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.body);
    let r = app
        .call_with(
            Method::PUT,
            &path,
            Some(json!({"userName": "ken", "title": "x"})),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call_with(Method::GET, &path, None, &[("if-none-match", "W/\"2\"")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let r = app
        .call_with(Method::DELETE, &path, None, &[("if-match", "W/\"1\"")])
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.get(&path).await.status, StatusCode::OK);
}

async fn missing_user_name_is_400_invalid_value(app: &TestApp) {
    let r = app.post("/Users", json!({"displayName": "nobody"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "invalidValue");
    assert!(r.body["detail"].as_str().unwrap().contains("userName"));
    let r = app
        .post("/Users", json!({"userName": "x", "active": "perhaps"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["detail"].as_str().unwrap().contains("active"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_past_the_configured_length_or_depth_are_invalid_filter() {
    let app = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, |c| {
        c.filter_max_length = 60;
        c.filter_max_depth = 3;
    })
    .await
    .unwrap();
    let long = format!("userName%20eq%20%22{}%22", "x".repeat(80));
    let r = app.get(&format!("/Users?filter={long}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "invalidFilter");
    let deep = "((((userName%20pr))))";
    let r = app.get(&format!("/Users?filter={deep}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "invalidFilter");
    let ok = "((userName%20pr))";
    assert_eq!(
        app.get(&format!("/Users?filter={ok}")).await.status,
        StatusCode::OK
    );
    app.stop().await;
}

async fn if_match_with_several_tags_writes_when_any_matches(app: &TestApp) {
    let id = app.user("tags").await;
    let path = format!("/Users/{id}");
    let put = |title: &'static str, tags: &'static str| {
        let path = path.clone();
        async move {
            app.call_with(
                Method::PUT,
                &path,
                Some(json!({"userName": "tags", "title": title})),
                &[("if-match", tags)],
            )
            .await
        }
    };
    let r = put("none", "W/\"3\", W/\"4\"").await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.body);
    assert_eq!(r.body["status"], "412");
    assert!(
        app.get(&path).await.body.get("title").is_none(),
        "nothing written"
    );
    let r = put("one", "W/\"3\", W/\"1\"").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    let r = app
        .call_with(
            Method::PATCH,
            &path,
            Some(json!({"Operations": [{"op": "replace", "path": "title", "value": "two"}]})),
            &[("if-match", "\"1\",W/\"2\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["title"], "two");
    let r = app
        .call_with(
            Method::GET,
            &path,
            None,
            &[("if-none-match", "W/\"1\", W/\"3\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let r = app
        .call_with(
            Method::GET,
            &path,
            None,
            &[("if-none-match", "W/\"1\", W/\"2\"")],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "changed since: the resource is sent"
    );
    let r = app
        .call_with(
            Method::DELETE,
            &path,
            None,
            &[("if-match", "W/\"1\", W/\"2\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = app
        .call_with(
            Method::DELETE,
            &path,
            None,
            &[("if-match", "W/\"1\", W/\"3\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
}

async fn attributes_with_a_value_filter_is_400_naming_the_parameter(app: &TestApp) {
    let id = app.user("attr-filter").await;
    for path in [
        format!("/Users/{id}?attributes=emails[type%20eq%20%22work%22]"),
        "/Users?attributes=emails[type%20eq%20%22work%22]".to_owned(),
        "/Users?excludedAttributes=emails[primary%20eq%20true]".to_owned(),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        assert_eq!(r.body["scimType"], "invalidValue");
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("ttributes=") && detail.contains("filter"),
            "{detail}"
        );
    }
}
