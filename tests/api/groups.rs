//! Groups: membership as rows, derived user groups, uniqueness.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::TestApp;

both_backends!(
    group_with_extra_schema_and_external_id_is_created_with_members,
    duplicate_group_display_name_is_409_uniqueness,
    user_groups_are_derived_direct_and_indirect,
    put_sets_membership_to_exactly_the_list,
    unknown_member_ids_are_400_naming_them,
    group_cannot_contain_itself_even_indirectly,
    group_list_excluding_members_still_carries_id_name_and_meta,
    deleting_a_group_removes_it_from_parent_groups,
);

async fn group_with_extra_schema_and_external_id_is_created_with_members(app: &TestApp) {
    let u = app.user("member1").await;
    let r = app
        .post(
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                               "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                   "displayName": "Engineering", "externalId": "aad-123",
                   "members": [{"value": u, "$ref": null, "display": "ignored"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["externalId"], "aad-123");
    assert_eq!(r.body["displayName"], "Engineering");
    let m = &r.body["members"][0];
    assert_eq!(m["value"], u.as_str());
    assert_eq!(m["type"], "User");
    assert!(m["$ref"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/Users/{u}")));
    assert_eq!(r.header("location"), r.body["meta"]["location"].as_str());
    // members.display is returned on request only, so members round-trip as sent.
    assert!(m.get("display").is_none(), "{m}");
    let id = r.body["id"].as_str().unwrap();
    let r = app
        .get(&format!(
            "/Groups/{id}?attributes=members.display,members.value"
        ))
        .await;
    assert_eq!(r.body["members"][0]["display"], "member1");
    assert!(r.body["members"][0].get("type").is_none());
}

async fn duplicate_group_display_name_is_409_uniqueness(app: &TestApp) {
    app.group("Sales", &[]).await;
    let r = app.post("/Groups", json!({"displayName": "SALES"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["scimType"], "uniqueness");
    let r = app.post("/Groups", json!({"externalId": "x"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["detail"].as_str().unwrap().contains("displayName"));
}

async fn user_groups_are_derived_direct_and_indirect(app: &TestApp) {
    let u = app.user("nested").await;
    let inner = app.group("inner", &[&u]).await;
    let outer = app.group("outer", &[&inner]).await;
    let top = app.group("top", &[&outer]).await;
    // A direct group that is in no group itself, beside the nested chain.
    let flat = app.group("flat", &[&u]).await;
    let r = app.get(&format!("/Users/{u}")).await;
    let groups = r.body["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 4, "{}", r.body);
    let find = |id: &str| groups.iter().find(|g| g["value"] == id).unwrap().clone();
    assert_eq!(find(&inner)["type"], "direct");
    assert_eq!(find(&flat)["type"], "direct");
    assert_eq!(find(&outer)["type"], "indirect");
    assert_eq!(find(&outer)["display"], "outer");
    assert_eq!(
        find(&top)["type"],
        "indirect",
        "three levels up: {}",
        r.body
    );
    // A list page reads the same groups (they ride on the page query), and a user in no
    // group on the same page has none.
    let alone = app.user("nested-alone").await;
    let page = app
        .get("/Users?filter=userName%20sw%20%22nested%22&sortBy=userName")
        .await;
    let resources = page.body["Resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2, "{}", page.body);
    let listed = resources.iter().find(|x| x["id"] == u.as_str()).unwrap();
    assert_eq!(listed["groups"], r.body["groups"], "{}", page.body);
    let listed_alone = resources
        .iter()
        .find(|x| x["id"] == alone.as_str())
        .unwrap();
    assert!(listed_alone.get("groups").is_none(), "{listed_alone}");
    let og = app.get(&format!("/Groups/{outer}")).await;
    assert_eq!(og.body["members"][0]["type"], "Group");
    // groups is read-only: a client cannot set it.
    let r = app
        .put(
            &format!("/Users/{u}"),
            json!({"userName": "nested", "groups": []}),
        )
        .await;
    assert_eq!(r.body["groups"].as_array().unwrap().len(), 4);
}

async fn put_sets_membership_to_exactly_the_list(app: &TestApp) {
    let a = app.user("pa").await;
    let b = app.user("pb").await;
    let c = app.user("pc").await;
    let g = app.group("putters", &[&a, &b]).await;
    let r = app
        .put(
            &format!("/Groups/{g}"),
            json!({"displayName": "putters", "members": [{"value": b}, {"value": c}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut ids: Vec<String> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut want = vec![b.clone(), c.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert!(app
        .get(&format!("/Users/{a}"))
        .await
        .body
        .get("groups")
        .is_none());
}

async fn unknown_member_ids_are_400_naming_them(app: &TestApp) {
    let a = app.user("real").await;
    let r = app
        .post(
            "/Groups",
            json!({"displayName": "ghosts", "members": [{"value": a}, {"value": "ghost-1"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "invalidValue");
    assert!(r.body["detail"].as_str().unwrap().contains("ghost-1"));
    // Nothing was created.
    let l = app
        .get("/Groups?filter=displayName%20eq%20%22ghosts%22")
        .await;
    assert_eq!(l.body["totalResults"], 0);
}

async fn group_cannot_contain_itself_even_indirectly(app: &TestApp) {
    let a = app.group("ga", &[]).await;
    let b = app.group("gb", &[&a]).await;
    let r = app
        .put(
            &format!("/Groups/{a}"),
            json!({"displayName": "ga", "members": [{"value": b}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = app
        .put(
            &format!("/Groups/{a}"),
            json!({"displayName": "ga", "members": [{"value": a}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

async fn group_list_excluding_members_still_carries_id_name_and_meta(app: &TestApp) {
    let u = app.user("lm").await;
    app.group("listed", &[&u]).await;
    let r = app
        .get("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22listed%22")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let g = &r.body["Resources"][0];
    assert!(g.get("members").is_none());
    assert!(g["id"].is_string());
    assert_eq!(g["displayName"], "listed");
    for k in [
        "resourceType",
        "location",
        "created",
        "lastModified",
        "version",
    ] {
        assert!(g["meta"][k].is_string(), "meta.{k} missing: {g}");
    }
    let full = app.get("/Groups").await;
    assert_eq!(full.body["Resources"][0]["members"][0]["value"], u.as_str());
}

async fn deleting_a_group_removes_it_from_parent_groups(app: &TestApp) {
    let child = app.group("child", &[]).await;
    let parent = app.group("parent", &[&child]).await;
    assert_eq!(
        app.delete(&format!("/Groups/{child}")).await.status,
        StatusCode::NO_CONTENT
    );
    let p = app.get(&format!("/Groups/{parent}")).await;
    assert!(p.body.get("members").is_none(), "{}", p.body);
}
