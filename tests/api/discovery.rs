//! Discovery endpoints, readable with curl and true to what the server does.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{send, Backend, TestApp};

both_backends!(
    service_provider_config_is_readable_without_a_token_and_truthful,
    resource_types_have_relative_endpoints_and_the_enterprise_extension,
    schemas_publish_every_core_user_attribute_with_its_characteristics,
    write_methods_on_discovery_are_405_scim_errors,
);

async fn service_provider_config_is_readable_without_a_token_and_truthful(app: &TestApp) {
    let r = send(
        app.client
            .get(format!("{}/ServiceProviderConfig", app.base)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let b = &r.body;
    assert_eq!(
        b["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(b["filter"]["supported"], true);
    assert_eq!(b["filter"]["maxResults"], 1000);
    assert_eq!(b["patch"]["supported"], true);
    assert_eq!(b["etag"]["supported"], true);
    assert_eq!(b["bulk"]["supported"], false);
    assert_eq!(b["sort"]["supported"], true);
    assert_eq!(b["changePassword"]["supported"], true);
    assert_eq!(b["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(b["authenticationSchemes"][1]["type"], "httpbasic");
    assert_eq!(b["authenticationSchemes"][2]["type"], "oauth2");
    assert_eq!(b["authenticationSchemes"][3]["type"], "oauthbearertoken");
    assert_eq!(b["authenticationSchemes"].as_array().unwrap().len(), 4);
    assert_eq!(b["pagination"]["maxPageSize"], 1000);
    assert_eq!(b["pagination"]["defaultPageSize"], 100);
    // The default realm is also served at /scim/v2.
    let r = send(
        app.client
            .get(format!("{}/scim/v2/ServiceProviderConfig", app.origin)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn resource_types_have_relative_endpoints_and_the_enterprise_extension(app: &TestApp) {
    let r = send(app.client.get(format!("{}/ResourceTypes", app.base))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 2);
    let user = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "User")
        .unwrap();
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(
        user["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    let one = send(app.client.get(format!("{}/ResourceTypes/Group", app.base))).await;
    assert_eq!(one.body["endpoint"], "/Groups");
    let none = send(app.client.get(format!("{}/ResourceTypes/Device", app.base))).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

fn attr<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("attribute {name} missing"))
}

async fn schemas_publish_every_core_user_attribute_with_its_characteristics(app: &TestApp) {
    let r = send(app.client.get(format!("{}/Schemas", app.base))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 3);
    let user = send(app.client.get(format!(
        "{}/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        app.base
    )))
    .await
    .body;
    for name in [
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
    ] {
        let a = attr(&user, name);
        for k in [
            "type",
            "multiValued",
            "required",
            "caseExact",
            "mutability",
            "returned",
            "uniqueness",
        ] {
            assert!(a.get(k).is_some(), "{name}.{k} missing");
        }
    }
    assert_eq!(attr(&user, "userName")["uniqueness"], "server");
    assert_eq!(attr(&user, "userName")["required"], true);
    assert_eq!(attr(&user, "password")["returned"], "never");
    assert_eq!(attr(&user, "groups")["mutability"], "readOnly");
    assert_eq!(attr(&user, "emails")["multiValued"], true);
    let ent = send(app.client.get(format!(
        "{}/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        app.base
    )))
    .await
    .body;
    let manager = attr(&ent, "manager");
    assert_eq!(manager["type"], "complex");
    assert!(manager["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "value"));
}

async fn write_methods_on_discovery_are_405_scim_errors(app: &TestApp) {
    for (m, p) in [
        (Method::POST, "/Schemas"),
        (Method::PUT, "/ServiceProviderConfig"),
        (Method::DELETE, "/ResourceTypes"),
        (Method::PATCH, "/Schemas"),
    ] {
        let r = app.call(m.clone(), p, None).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{m} {p}");
        assert_eq!(r.body["status"], "405");
    }
}

#[tokio::test]
async fn discovery_can_require_a_token() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.discovery_requires_auth = true)
        .await
        .unwrap();
    let r = send(app.client.get(format!("{}/Schemas", app.base))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/Schemas").await.status, StatusCode::OK);
    app.stop().await;
}
