//! sortBy on a case-insensitive attribute folds as filters and the evaluator do (Unicode
//! lower case), on both backends: not ASCII-only, not the database locale's idea of it.

use serde_json::json;

use crate::helpers::TestApp;

async fn sorting_folds_non_ascii_capitals_like_filters_do(app: &TestApp) {
    // Folded: "eb" < "éa" < "émile" < "ørsted" in byte order. Unfolded (ASCII-only lower),
    // "Émile" and "Ørsted" would sort before "éa" (É and Ø are below é), and a descending
    // page would not be the exact reverse.
    for (user, display) in [
        ("u1", "Émile"),
        ("u2", "éa"),
        ("u3", "Eb"),
        ("u4", "Ørsted"),
    ] {
        let r = app
            .post(
                "/Users",
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user,
                    "displayName": display,
                }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let names = |body: &serde_json::Value| -> Vec<String> {
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["displayName"].as_str().unwrap().to_owned())
            .collect()
    };
    let up = app
        .get("/Users?sortBy=displayName&attributes=displayName")
        .await;
    assert_eq!(
        names(&up.body),
        ["Eb", "éa", "Émile", "Ørsted"],
        "{}",
        up.body
    );
    let down = app
        .get("/Users?sortBy=displayName&sortOrder=descending&attributes=displayName")
        .await;
    assert_eq!(names(&down.body), ["Ørsted", "Émile", "éa", "Eb"]);
    // Cursor pages of one walk the same order.
    let first = app
        .get("/Users?sortBy=displayName&attributes=displayName&count=2&cursor")
        .await;
    assert_eq!(names(&first.body), ["Eb", "éa"], "{}", first.body);
    let next = first.body["nextCursor"].as_str().expect("a next cursor");
    let second = app
        .get(&format!(
            "/Users?sortBy=displayName&attributes=displayName&count=2&cursor={next}"
        ))
        .await;
    assert_eq!(names(&second.body), ["Émile", "Ørsted"], "{}", second.body);
}

crate::both_backends!(sorting_folds_non_ascii_capitals_like_filters_do);
