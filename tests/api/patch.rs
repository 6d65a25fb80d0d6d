//! PATCH as each identity provider speaks it (COMPAT 15-29), and its errors.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::TestApp;

both_backends!(
    entra_deactivates_with_capitalised_op_and_string_false,
    okta_deactivates_with_pathless_replace,
    entra_pathless_dotted_and_urn_keys_update_user,
    entra_work_email_filter_creates_the_missing_entry,
    manager_in_every_shape_and_removed_by_filter_or_empty_string,
    entra_member_remove_by_value_list_removes_only_listed_members,
    okta_member_add_and_filtered_remove_are_idempotent,
    replace_members_sets_exactly_the_list,
    pathless_rename_keeps_members,
    prefer_return_minimal_answers_204,
    patch_errors_are_scim_errors_and_change_nothing,
    patch_user_name_to_a_taken_one_is_409,
    pathless_replace_of_a_complex_attribute_keeps_what_it_does_not_name,
    value_filter_matching_no_email_is_no_target_and_adds_none,
);

fn ops(list: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list})
}

async fn patch(app: &TestApp, path: &str, body: Value) -> crate::helpers::Resp {
    app.call(Method::PATCH, path, Some(body)).await
}

async fn entra_deactivates_with_capitalised_op_and_string_false(app: &TestApp) {
    let id = app.user("entra-user").await;
    let g = app.group("entra-group", &[&id]).await;
    let r = patch(
        app,
        &format!("/Users/{id}"),
        ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], json!(false));
    assert_eq!(r.body["groups"][0]["value"], g.as_str());
    assert_eq!(r.header("etag"), Some("W/\"2\""));
}

async fn okta_deactivates_with_pathless_replace(app: &TestApp) {
    let id = app.user("okta-user").await;
    let r = patch(
        app,
        &format!("/Users/{id}"),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "replace", "value": {"active": false}}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["active"], json!(false));
    let found = app.get("/Users?filter=active%20eq%20false").await;
    assert_eq!(found.body["totalResults"], 1);
}

async fn entra_pathless_dotted_and_urn_keys_update_user(app: &TestApp) {
    let id = app.user("dotted").await;
    let r = patch(
        app,
        &format!("/Users/{id}"),
        json!({"Schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "operations": [{"op": "ADD", "value": {
                   "name.givenName": "A",
                   "name.familyName": "B",
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7"}}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"], json!({"givenName": "A", "familyName": "B"}));
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "7"
    );
}

async fn entra_work_email_filter_creates_the_missing_entry(app: &TestApp) {
    let id = app.user("mailer").await;
    let r = patch(
        app,
        &format!("/Users/{id}"),
        ops(json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "m@work.example"},
                   {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"}])),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["emails"],
        json!([{"value": "m@work.example", "type": "work"}])
    );
    assert_eq!(r.body["phoneNumbers"][0]["type"], "mobile");
    let found = app
        .get("/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22m@work.example%22")
        .await;
    assert_eq!(found.body["totalResults"], 1);
}

async fn manager_in_every_shape_and_removed_by_filter_or_empty_string(app: &TestApp) {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let id = app.user("report").await;
    let path = format!("/Users/{id}");
    for value in [
        json!("hr-42"),
        json!({"value": "hr-42"}),
        json!([{"$ref": null, "value": "hr-42"}]),
    ] {
        let r = patch(
            app,
            &path,
            ops(json!([{"op": "Add", "path": format!("{ent}:manager"), "value": value}])),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body[ent]["manager"], json!({"value": "hr-42"}));
    }
    // Entra removes the manager with a value filter (COMPAT 21): one that does not match
    // changes nothing, one that matches removes it; with or without the extension URN.
    for (filter_path, gone) in [
        (format!("{ent}:manager[value eq \"someone-else\"]"), false),
        ("manager[value eq \"someone-else\"]".to_owned(), false),
        (format!("{ent}:manager[value eq \"hr-42\"]"), true),
    ] {
        let r = patch(
            app,
            &path,
            ops(json!([{"op": "Remove", "path": filter_path}])),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{filter_path}: {}", r.body);
        let manager = r.body.get(ent).and_then(|e| e.get("manager"));
        assert_eq!(manager.is_none(), gone, "{filter_path}: {}", r.body);
    }
    patch(
        app,
        &path,
        ops(json!([{"op": "Add", "path": format!("{ent}:manager"), "value": "hr-44"}])),
    )
    .await;
    let r = patch(
        app,
        &path,
        ops(json!([{"op": "remove", "path": "manager[value eq \"hr-44\"]"}])),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.get(ent).is_none_or(|e| e.get("manager").is_none()),
        "{}",
        r.body
    );
    patch(
        app,
        &path,
        ops(json!([{"op": "Add", "path": format!("{ent}:manager"), "value": "hr-43"}])),
    )
    .await;
    let r = patch(
        app,
        &path,
        ops(json!([{"op": "Replace", "path": format!("{ent}:manager"), "value": ""}])),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.get(ent).is_none_or(|e| e.get("manager").is_none()),
        "{}",
        r.body
    );
}

async fn entra_member_remove_by_value_list_removes_only_listed_members(app: &TestApp) {
    let a = app.user("ma").await;
    let b = app.user("mb").await;
    let c = app.user("mc").await;
    let g = app.group("entra-members", &[&a, &b, &c]).await;
    let r = patch(
        app,
        &format!("/Groups/{g}"),
        ops(json!([{"op": "Remove", "path": "members", "value": [{"value": b}]}])),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let got = app.get(&format!("/Groups/{g}")).await;
    let mut ids: Vec<&str> = got.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![a.as_str(), c.as_str()];
    want.sort();
    assert_eq!(ids, want);
}

async fn okta_member_add_and_filtered_remove_are_idempotent(app: &TestApp) {
    let a = app.user("oa").await;
    let b = app.user("ob").await;
    let g = app.group("okta-members", &[]).await;
    let path = format!("/Groups/{g}");
    for _ in 0..2 {
        let r = patch(
            app,
            &path,
            ops(json!([{"op": "add", "path": "members",
                        "value": [{"$ref": null, "value": a}, {"value": b, "display": "ob"}]}])),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
    }
    for _ in 0..2 {
        let r = patch(
            app,
            &path,
            ops(json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}])),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.body["members"],
            json!([{"value": b, "type": "User",
            "$ref": format!("{}/Users/{b}", app.base)}])
        );
    }
    // The user sees the membership change too.
    assert!(app
        .get(&format!("/Users/{a}"))
        .await
        .body
        .get("groups")
        .is_none());
}

async fn replace_members_sets_exactly_the_list(app: &TestApp) {
    let a = app.user("ra").await;
    let b = app.user("rb").await;
    let g = app.group("replacers", &[&a]).await;
    let r = patch(
        app,
        &format!("/Groups/{g}"),
        ops(json!([{"op": "replace", "path": "members", "value": [{"value": b}]}])),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["members"][0]["value"], b.as_str());
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
}

async fn pathless_rename_keeps_members(app: &TestApp) {
    let a = app.user("rn").await;
    let g = app.group("old-name", &[&a]).await;
    let r = patch(
        app,
        &format!("/Groups/{g}"),
        ops(json!([{"op": "replace", "value": {"id": g, "displayName": "new-name"}}])),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "new-name");
    assert_eq!(r.body["members"][0]["value"], a.as_str());
}

async fn prefer_return_minimal_answers_204(app: &TestApp) {
    let id = app.user("minimal").await;
    let r = app
        .call_with(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(ops(
                json!([{"op": "replace", "path": "title", "value": "Boss"}]),
            )),
            &[("prefer", "return=minimal")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/Users/{id}")).await.body["title"], "Boss");
}

async fn patch_errors_are_scim_errors_and_change_nothing(app: &TestApp) {
    let id = app.user("careful").await;
    let path = format!("/Users/{id}");
    let cases = [
        (
            json!([{"op": "replace", "path": "title", "value": "T"},
                {"op": "add", "path": "noSuchThing", "value": 1}]),
            "invalidPath",
        ),
        (
            json!([{"op": "remove", "path": "userName"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "groups", "value": []}]),
            "mutability",
        ),
        (json!([{"op": "remove"}]), "noTarget"),
        (
            json!([{"op": "replace", "path": "active", "value": "sometimes"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq]", "value": "x"}]),
            "invalidPath",
        ),
    ];
    for (list, scim_type) in cases {
        let r = patch(app, &path, ops(list.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{list}: {}", r.body);
        assert_eq!(r.body["scimType"], scim_type, "{list}: {}", r.body);
    }
    let got = app.get(&path).await;
    assert!(
        got.body.get("title").is_none(),
        "a failed PATCH must change nothing"
    );
    assert_eq!(got.body["meta"]["version"], "W/\"1\"");
    let r = app
        .call_with(
            Method::PATCH,
            &path,
            Some(ops(
                json!([{"op": "replace", "path": "title", "value": "T"}]),
            )),
            &[("if-match", "W/\"9\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = patch(app, &path, json!({"Operations": "nope"})).await;
    assert_eq!(r.body["scimType"], "invalidSyntax");
}

async fn patch_user_name_to_a_taken_one_is_409(app: &TestApp) {
    app.user("taken").await;
    let id = app.user("renamer").await;
    let r = patch(
        app,
        &format!("/Users/{id}"),
        ops(json!([{"op": "add", "path": "userName", "value": "TAKEN"}])),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["scimType"], "uniqueness");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_over_the_configured_operation_bound_is_400_too_many() {
    let app = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, |c| {
        c.patch_max_operations = 2
    })
    .await
    .unwrap();
    let id = app.user("bounded").await;
    let three = ops(json!([
        {"op": "add", "path": "title", "value": "a"},
        {"op": "add", "path": "nickName", "value": "b"},
        {"op": "add", "path": "displayName", "value": "c"}
    ]));
    let r = patch(&app, &format!("/Users/{id}"), three).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "tooMany");
    assert!(r.body["detail"].as_str().unwrap().contains('2'));
    app.stop().await;
}

async fn pathless_replace_of_a_complex_attribute_keeps_what_it_does_not_name(app: &TestApp) {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let r = app
        .post(
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ent],
                   "userName": "complex-keep",
                   "name": {"givenName": "Ada", "familyName": "Lovelace", "middleName": "K"},
                   ent: {"employeeNumber": "1001", "department": "Eng", "costCenter": "CC-1",
                         "organization": "Org", "division": "Div",
                         "manager": {"value": "boss-1"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let path = format!("/Users/{}", r.body["id"].as_str().unwrap());
    for (op, extension_path) in [("replace", false), ("add", false), ("replace", true)] {
        let body = if extension_path {
            json!({"op": op, "path": ent, "value": {"costCenter": "CC-9"}})
        } else {
            json!({"op": op, "value": {ent: {"costCenter": "CC-9"}, "name": {"givenName": "X"}}})
        };
        let r = patch(app, &path, ops(json!([body]))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let got = app.get(&path).await.body;
        assert_eq!(
            got[ent],
            json!({"employeeNumber": "1001", "department": "Eng", "costCenter": "CC-9",
                   "organization": "Org", "division": "Div",
                   "manager": {"value": "boss-1"}}),
            "{op} (URN path: {extension_path}) must keep the attributes it does not name"
        );
        assert_eq!(
            got["name"],
            json!({"givenName": "X", "familyName": "Lovelace", "middleName": "K"})
        );
    }
    let r = patch(
        app,
        &path,
        ops(json!([{"op": "replace", "path": "name", "value": {"familyName": "Byron"}}])),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["name"],
        json!({"givenName": "X", "familyName": "Byron", "middleName": "K"})
    );
}

async fn value_filter_matching_no_email_is_no_target_and_adds_none(app: &TestApp) {
    let r = app
        .post(
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                   "userName": "no-target",
                   "emails": [{"value": "a@example.com", "type": "work"}]}),
        )
        .await;
    let path = format!("/Users/{}", r.body["id"].as_str().unwrap());
    let before = app.get(&path).await.body;
    let r = patch(
        app,
        &path,
        ops(
            json!([{"op": "replace", "path": "emails[value eq \"absent@example.com\"]",
                    "value": {"value": "x@example.com"}}]),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["scimType"], "noTarget");
    assert_eq!(app.get(&path).await.body, before, "nothing changed");
    // The attr[filter].sub form still creates the element it describes (COMPAT 20).
    let r = patch(
        app,
        &path,
        ops(
            json!([{"op": "replace", "path": "emails[type eq \"home\"].value",
                    "value": "h@example.com"}]),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["emails"],
        json!([{"value": "a@example.com", "type": "work"},
               {"value": "h@example.com", "type": "home"}])
    );
}
