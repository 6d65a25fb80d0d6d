//! Sorting and RFC 9865 cursor paging.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::TestApp;

both_backends!(
    sort_by_user_name_ignores_case_and_orders_both_ways,
    sort_puts_missing_values_last_and_rejects_multi_valued,
    cursor_pages_cover_everything_once_and_go_back,
    cursor_paging_skips_and_repeats_nothing_while_others_write,
    bad_cursors_and_counts_get_rfc_9865_errors,
    totals_follow_creates_and_deletes_and_deep_pages_stay_in_order,
);

fn names(body: &Value, attr: &str) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[attr].as_str().unwrap_or("-").to_owned())
        .collect()
}

async fn sort_by_user_name_ignores_case_and_orders_both_ways(app: &TestApp) {
    for n in ["bob", "ALICE", "carol", "Dave"] {
        app.user(n).await;
    }
    let r = app.get("/Users?sortBy=userName").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        names(&r.body, "userName"),
        ["ALICE", "bob", "carol", "Dave"]
    );
    let r = app
        .get("/Users?sortBy=username&sortOrder=descending&count=2")
        .await;
    assert_eq!(names(&r.body, "userName"), ["Dave", "carol"]);
    let r = app.get("/Users?sortBy=userName&sortOrder=sideways").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let spc = app.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["sort"]["supported"], true);
    assert_eq!(spc.body["pagination"]["cursor"], true);
    assert_eq!(spc.body["pagination"]["cursorTimeout"], 3600);
}

async fn sort_puts_missing_values_last_and_rejects_multi_valued(app: &TestApp) {
    for (n, title) in [
        ("u1", Some("b")),
        ("u2", None),
        ("u3", Some("a")),
        ("u4", None),
    ] {
        let mut body = json!({"userName": n});
        if let Some(t) = title {
            body["title"] = json!(t);
        }
        assert_eq!(app.post("/Users", body).await.status, StatusCode::CREATED);
    }
    let asc = app.get("/Users?sortBy=title").await;
    assert_eq!(names(&asc.body, "userName")[..2], ["u3", "u1"]);
    let desc = app.get("/Users?sortBy=title&sortOrder=descending").await;
    let d = names(&desc.body, "userName");
    assert_eq!(d[..2], ["u1", "u3"]);
    // Ties (both without a title) come in the same order both ways: by id.
    assert_eq!(d[2..], names(&asc.body, "userName")[2..]);
    let r = app.get("/Users?sortBy=emails").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["detail"].as_str().unwrap().contains("multi-valued"));
    let r = app
        .get("/Users?sortBy=meta.lastModified&sortOrder=descending")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(names(&r.body, "userName")[0], "u4");
}

async fn cursor_pages_cover_everything_once_and_go_back(app: &TestApp) {
    for i in 0..25 {
        app.user(&format!("p{i:02}")).await;
    }
    let first = app.get("/Users?cursor=&count=10&sortBy=userName").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["totalResults"], 25);
    assert!(first.body.get("previousCursor").is_none());
    let next = first.body["nextCursor"].as_str().unwrap().to_owned();
    let second = app
        .get(&format!("/Users?cursor={next}&count=10&sortBy=userName"))
        .await;
    let third = app
        .get(&format!(
            "/Users?cursor={}&count=10&sortBy=userName",
            second.body["nextCursor"].as_str().unwrap()
        ))
        .await;
    assert!(third.body.get("nextCursor").is_none());
    let all: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|p| names(&p.body, "userName"))
        .collect();
    let want: Vec<String> = (0..25).map(|i| format!("p{i:02}")).collect();
    assert_eq!(all, want);
    let back = app
        .get(&format!(
            "/Users?cursor={}&count=10&sortBy=userName",
            third.body["previousCursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        names(&back.body, "userName"),
        names(&second.body, "userName")
    );
    assert!(back.body["previousCursor"].is_string());
    assert!(back.body["nextCursor"].is_string());
}

async fn cursor_paging_skips_and_repeats_nothing_while_others_write(app: &TestApp) {
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(app.user(&format!("w{i:02}")).await);
    }
    let first = app.get("/Users?cursor=&count=4").await;
    let mut seen: Vec<String> = first.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    // Writes between pages: a new user, and a deletion of one not yet seen.
    app.user("late-arrival").await;
    let gone = ids.iter().find(|id| !seen.contains(id)).unwrap().clone();
    assert_eq!(
        app.delete(&format!("/Users/{gone}")).await.status,
        StatusCode::NO_CONTENT
    );
    let mut cursor = first.body["nextCursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let page = app.get(&format!("/Users?cursor={c}&count=4")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for r in page.body["Resources"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_owned());
        }
        cursor = page.body["nextCursor"].as_str().map(str::to_owned);
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row repeated");
    for id in ids.iter().filter(|id| **id != gone) {
        assert!(seen.contains(id), "row {id} skipped");
    }
    assert!(!seen.contains(&gone));
}

async fn bad_cursors_and_counts_get_rfc_9865_errors(app: &TestApp) {
    for i in 0..3 {
        app.user(&format!("b{i}")).await;
    }
    let first = app.get("/Users?cursor=&count=1").await;
    let c = first.body["nextCursor"].as_str().unwrap();
    let r = app.get(&format!("/Users?cursor={c}x&count=1")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "invalidCursor");
    let r = app
        .get(&format!("/Users?cursor={c}&count=1&filter=userName%20pr"))
        .await;
    assert_eq!(r.body["scimType"], "invalidCursor", "{}", r.body);
    let r = app.get("/Users?cursor=not-a-cursor").await;
    assert_eq!(r.body["scimType"], "invalidCursor");
    let r = app.get("/Users?cursor=&count=-2").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "invalidCount");
}

/// Unfiltered totals come from trigger-maintained counts and deep index pages from a deferred
/// join; both must say exactly what a real count and a plain walk say.
async fn totals_follow_creates_and_deletes_and_deep_pages_stay_in_order(app: &TestApp) {
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(app.user(&format!("t{i:02}")).await);
    }
    app.group("g", &[]).await;
    for id in &ids[..4] {
        assert_eq!(
            app.delete(&format!("/Users/{id}")).await.status,
            StatusCode::NO_CONTENT
        );
    }
    let all = app.get("/Users").await.body;
    assert_eq!(all["totalResults"], 8);
    let counted = app.get("/Users?filter=id%20pr").await.body;
    assert_eq!(
        counted["totalResults"], 8,
        "the counts table agrees with COUNT(*)"
    );
    assert_eq!(app.get("/Groups?count=0").await.body["totalResults"], 1);
    assert_eq!(app.get("/Users?count=0").await.body["totalResults"], 8);
    // An index page past the first (deferred join) and one past the end still carry the total.
    let r = app
        .get("/Users?sortBy=userName&startIndex=3&count=3")
        .await
        .body;
    assert_eq!(names(&r, "userName"), ["t06", "t07", "t08"]);
    assert_eq!(r["totalResults"], 8);
    let r = app
        .get("/Users?sortBy=userName&sortOrder=descending&startIndex=7&count=5")
        .await
        .body;
    assert_eq!(names(&r, "userName"), ["t05", "t04"]);
    let r = app.get("/Users?startIndex=20").await.body;
    assert_eq!(r["totalResults"], 8);
    assert_eq!(r["itemsPerPage"], 0);
}
