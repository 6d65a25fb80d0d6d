//! Hostile input: deep JSON, huge filters, huge bodies, invalid UTF-8, NUL bytes and slow
//! clients. Each gets a clear 4xx (a SCIM Error wherever the request reaches scimd's code), and
//! other clients are served as usual while and after it happens.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::{addr, read_response, send, Resp, TestApp};
use crate::{both_backends, both_backends_with};

both_backends!(
    a_body_nested_100k_arrays_deep_is_a_400_invalid_syntax,
    a_patch_value_nested_100k_arrays_deep_is_a_400_and_changes_nothing,
    filters_nested_10k_deep_are_refused_with_invalid_filter,
    a_filter_of_10k_or_terms_is_refused_and_a_4000_character_chain_is_answered,
    a_10_mb_body_is_refused_with_413_while_other_clients_are_served,
    invalid_utf8_in_a_body_is_a_400_invalid_syntax,
    invalid_utf8_in_a_query_string_is_a_400,
    invalid_utf8_in_a_path_segment_is_a_scim_400,
    nul_bytes_in_attribute_values_are_refused_with_invalid_value,
    nul_bytes_in_filter_values_are_refused_or_match_nothing,
    nul_bytes_in_a_path_segment_find_no_resource,
    fifty_slow_clients_holding_connections_do_not_stop_others_being_served,
);

both_backends_with!(long_filters =>
    with_the_length_limit_raised_deep_filters_hit_the_depth_limit,
    with_the_length_limit_raised_a_10k_or_filter_hits_the_term_limit,
);

both_backends_with!(short_deadline =>
    a_body_that_trickles_past_the_request_deadline_gets_408_and_others_are_served,
);

fn long_filters(c: &mut scimd::config::Config) {
    c.filter_max_length = 1_000_000;
}

fn short_deadline(c: &mut scimd::config::Config) {
    c.request_timeout_seconds = 2;
}

/// Waits long enough for anything reasonable, never forever.
const PATIENCE: Duration = Duration::from_secs(60);

const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The answer is a SCIM Error with `status`, and `scimType` when one is given.
fn assert_scim_error(r: &Resp, status: StatusCode, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["schemas"][0], ERROR_URN, "{}", r.body);
    assert_eq!(r.body["status"], status.as_str(), "{}", r.body);
    if let Some(t) = scim_type {
        assert_eq!(r.body["scimType"], t, "{}", r.body);
    }
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.len() > 15,
        "a detail a person can act on: {}",
        r.body
    );
}

fn detail(r: &Resp) -> &str {
    r.body["detail"].as_str().unwrap_or_default()
}

/// A normal client, on its own connection, reads the user back as it was created.
async fn others_are_served(app: &TestApp, id: &str, user_name: &str) {
    let fresh = reqwest::Client::new();
    let r = send(
        fresh
            .get(format!("{}/Users/{id}", app.base))
            .bearer_auth(&app.token)
            .timeout(PATIENCE),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["userName"], user_name);
}

async fn post_raw(app: &TestApp, path: &str, body: Vec<u8>) -> Resp {
    send(
        app.client
            .post(format!("{}{path}", app.base))
            .bearer_auth(&app.token)
            .header("content-type", "application/scim+json")
            .body(body),
    )
    .await
}

/// `GET /scim/v2/Users?filter=...` with the filter's spaces and quotes percent-encoded and the
/// rest sent as is, on a raw connection (reqwest refuses URIs over 64 kB; this test wants to see
/// what the server does with them).
async fn get_filter_raw(app: &TestApp, filter: &str) -> (u16, Value) {
    let target = format!(
        "/scim/v2/Users?filter={}",
        filter.replace(' ', "%20").replace('"', "%22")
    );
    let mut stream = TcpStream::connect(addr(app)).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        app.token
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, _, body) = tokio::time::timeout(PATIENCE, read_response(&mut stream))
        .await
        .expect("an answer");
    (status, body)
}

async fn search(app: &TestApp, path: &str, filter: &str) -> Resp {
    app.post(
        path,
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
               "filter": filter}),
    )
    .await
}

fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

async fn a_body_nested_100k_arrays_deep_is_a_400_invalid_syntax(app: &TestApp) {
    let id = app.user("steady").await;
    let body = format!(
        r#"{{"userName": "deep", "title": {}}}"#,
        nested_arrays(100_000)
    );
    let r = post_raw(app, "/Users", body.into_bytes()).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    assert!(detail(&r).contains("128 levels deep"), "{}", r.body);
    // Nested objects are refused alike.
    let objects = format!("{}{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    let r = post_raw(app, "/Users", objects.into_bytes()).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let r = app.get(r#"/Users?filter=userName eq "deep""#).await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.body);
    others_are_served(app, &id, "steady").await;
}

async fn a_patch_value_nested_100k_arrays_deep_is_a_400_and_changes_nothing(app: &TestApp) {
    let id = app.user("patched").await;
    let body = format!(
        r#"{{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{{"op": "replace", "path": "title", "value": {}}}]}}"#,
        nested_arrays(100_000)
    );
    let r = send(
        app.client
            .patch(format!("{}/Users/{id}", app.base))
            .bearer_auth(&app.token)
            .header("content-type", "application/scim+json")
            .body(body),
    )
    .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let r = app.get(&format!("/Users/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["meta"]["version"], "W/\"1\"", "{}", r.body);
    assert!(r.body.get("title").is_none(), "{}", r.body);
}

async fn filters_nested_10k_deep_are_refused_with_invalid_filter(app: &TestApp) {
    let id = app.user("nested").await;
    let parens = format!(
        "{}userName eq \"nested\"{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let nots = format!(
        "{}userName eq \"nested\"{}",
        "not(".repeat(10_000),
        ")".repeat(10_000)
    );
    for filter in [&parens, &nots] {
        // Both in a query string (30-50 kB: under the URI limit) and in a SearchRequest.
        let (status, body) = get_filter_raw(app, filter).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["scimType"], "invalidFilter", "{body}");
        let text = body["detail"].as_str().unwrap_or_default();
        assert!(text.contains("exceeds the limit of 4096"), "{body}");
        let r = search(app, "/Users/.search", filter).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    }
    others_are_served(app, &id, "nested").await;
}

async fn with_the_length_limit_raised_deep_filters_hit_the_depth_limit(app: &TestApp) {
    let id = app.user("deepest").await;
    let deep =
        |open: &str, inner: &str| format!("{}{inner}{}", open.repeat(10_000), ")".repeat(10_000));
    for filter in [
        deep("(", "userName eq \"deepest\""),
        deep("not (", "userName eq \"deepest\""),
        format!("emails[{}]", deep("(", "value pr")),
    ] {
        let r = search(app, "/Users/.search", &filter).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
        assert!(detail(&r).contains("nested too deeply"), "{}", r.body);
    }
    // Within the depth limit the same shape is answered.
    let filter = format!(
        "{}userName eq \"deepest\"{}",
        "(".repeat(30),
        ")".repeat(30)
    );
    let r = search(app, "/Users/.search", &filter).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["Resources"][0]["id"], id.as_str());
}

/// `userName eq "u0" or userName eq "u1" or ...`, with the user `hit` somewhere in it.
fn or_chain(n: usize, hit: &str) -> String {
    let mut terms: Vec<String> = (0..n).map(|i| format!("userName eq \"u{i}\"")).collect();
    terms[n / 2] = format!("userName eq \"{hit}\"");
    terms.join(" or ")
}

async fn a_filter_of_10k_or_terms_is_refused_and_a_4000_character_chain_is_answered(app: &TestApp) {
    let id = app.user("needle").await;
    let filter = or_chain(10_000, "needle");
    // In a SearchRequest (229 kB: under the body limit) the filter's length is refused.
    for path in ["/Users/.search", "/.search"] {
        let r = search(app, path, &filter).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
        assert!(
            detail(&r).contains("exceeds the limit of 4096"),
            "{}",
            r.body
        );
    }
    // In a query string it is longer than any URI the server reads: 414 from the HTTP layer
    // (which answers before scimd's code runs, so without a SCIM body).
    let (status, _) = get_filter_raw(app, &filter).await;
    assert_eq!(status, 414);

    // The longest chains the default length admits (450 terms of `id pr`, 4,046 characters)
    // once aborted the process: lowering them to SQL recursed once per term. They are refused
    // by the term limit now; 400 terms are answered on both backends.
    let too_many = vec!["id pr"; 450].join(" or ");
    let r = search(app, "/Users/.search", &too_many).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    assert!(
        detail(&r).contains("more than 400 attribute expressions"),
        "{}",
        r.body
    );
    let most = or_chain(180, "needle");
    assert!(most.len() < 4096);
    for filter in [most, vec!["id pr"; 400].join(" or ")] {
        let r = search(app, "/Users/.search", &filter).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["totalResults"], 1, "{}", r.body);
        assert_eq!(r.body["Resources"][0]["id"], id.as_str());
    }
    others_are_served(app, &id, "needle").await;
}

async fn with_the_length_limit_raised_a_10k_or_filter_hits_the_term_limit(app: &TestApp) {
    let id = app.user("haystack").await;
    for filter in [
        or_chain(10_000, "haystack"),
        format!(
            "emails[{}]",
            (0..10_000)
                .map(|i| format!("value eq \"u{i}\""))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        vec!["userName pr"; 10_000].join(" and "),
    ] {
        let r = search(app, "/Users/.search", &filter).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
        assert!(
            detail(&r).contains("more than 400 attribute expressions"),
            "{}",
            r.body
        );
    }
    let groups = (0..10_000)
        .map(|i| format!("members[value eq \"u{i}\"]"))
        .collect::<Vec<_>>()
        .join(" or ");
    let r = search(app, "/Groups/.search", &groups).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    // 400 terms are answered, the user found among them.
    let r = search(app, "/Users/.search", &or_chain(400, "haystack")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["Resources"][0]["id"], id.as_str());
    others_are_served(app, &id, "haystack").await;
}

async fn a_10_mb_body_is_refused_with_413_while_other_clients_are_served(app: &TestApp) {
    let id = app.user("small").await;
    let total = 10 * 1024 * 1024;
    // With a declared length and without one (chunked), the body is cut off at the limit. The
    // client keeps sending on one half of the connection while the answer is read on the other.
    for chunked in [false, true] {
        let stream = TcpStream::connect(addr(app)).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_owned()
        } else {
            format!("Content-Length: {total}")
        };
        let head = format!(
            "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/scim+json\r\n{framing}\r\n\r\n",
            app.token
        );
        let sender = tokio::spawn(async move {
            write.write_all(head.as_bytes()).await?;
            let chunk = [b'x'; 64 * 1024];
            for _ in 0..(total / chunk.len()) {
                if chunked {
                    let size = format!("{:x}\r\n", chunk.len());
                    write.write_all(size.as_bytes()).await?;
                }
                write.write_all(&chunk).await?;
                if chunked {
                    write.write_all(b"\r\n").await?;
                }
            }
            if chunked {
                write.write_all(b"0\r\n\r\n").await?;
            }
            Ok::<_, std::io::Error>(())
        });
        let (status, _, body) = tokio::time::timeout(PATIENCE, read_response(&mut read))
            .await
            .expect("an answer to a 10 MB body");
        assert_eq!(status, 413, "{body}");
        assert_eq!(body["schemas"][0], ERROR_URN);
        assert_eq!(body["status"], "413");
        let text = body["detail"].as_str().unwrap_or_default();
        assert!(text.contains("exceeds the 1048576-byte limit"), "{body}");
        drop(read);
        // The server stops reading and closes: the sender's error is expected then.
        let _ = tokio::time::timeout(PATIENCE, sender).await;
    }
    others_are_served(app, &id, "small").await;
    let r = app.get(r#"/Users?filter=userName eq "huge""#).await;
    assert_eq!(r.body["totalResults"], 0);
}

async fn invalid_utf8_in_a_body_is_a_400_invalid_syntax(app: &TestApp) {
    let id = app.user("utf8").await;
    for body in [
        b"{\"userName\": \"a\xff\xfeb\"}".to_vec(),
        b"{\"userName\": \"ok\", \"title\": \"\xc3\x28\"}".to_vec(),
        b"\xef\xbb\xbf\xff{\"userName\": \"x\"}".to_vec(),
    ] {
        let r = post_raw(app, "/Users", body).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
        assert!(detail(&r).contains("not valid JSON"), "{}", r.body);
    }
    // A lone surrogate escape is not a character either.
    let r = post_raw(app, "/Users", br#"{"userName": "\ud800"}"#.to_vec()).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    others_are_served(app, &id, "utf8").await;
}

async fn invalid_utf8_in_a_query_string_is_a_400(app: &TestApp) {
    let id = app.user("query").await;
    // Percent-encoded bytes that are not UTF-8: refused, not searched for as U+FFFD.
    let r = app.get("/Users?filter=userName%20eq%20%22%FF%FE%22").await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    assert!(detail(&r).contains("not UTF-8"), "{}", r.body);
    let r = app.get(&format!("/Users/{id}?attributes=%C3%28")).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert!(detail(&r).contains("\"attributes\""), "{}", r.body);
    let r = app.get("/Schemas?x=%FF").await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    // Raw bytes that are not even ASCII in the request target: refused by the HTTP layer.
    let mut stream = TcpStream::connect(addr(app)).await.unwrap();
    let request = [
        b"GET /scim/v2/Users?filter=userName%20eq%20%22".as_slice(),
        b"\xff\xfe".as_slice(),
        format!(
            "%22 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
            app.token
        )
        .as_bytes(),
    ]
    .concat();
    stream.write_all(&request).await.unwrap();
    let (status, _, _) = tokio::time::timeout(PATIENCE, read_response(&mut stream))
        .await
        .expect("an answer");
    assert_eq!(status, 400);
    // Valid UTF-8, percent-encoded, still works.
    let r = app.get("/Users?filter=userName%20eq%20%22query%22").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["Resources"][0]["id"], id.as_str());
}

async fn invalid_utf8_in_a_path_segment_is_a_scim_400(app: &TestApp) {
    let id = app.user("pathy").await;
    for (method, path) in [
        (reqwest::Method::GET, "/Users/%FF%FE"),
        (reqwest::Method::DELETE, "/Users/%FF%FE"),
        (reqwest::Method::GET, "/Groups/%C3%28"),
        (reqwest::Method::GET, "/Schemas/%FF"),
        (reqwest::Method::GET, "/ResourceTypes/%FF"),
    ] {
        let r = app.call(method.clone(), path, None).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(
            detail(&r).contains("not UTF-8"),
            "{method} {path}: {}",
            r.body
        );
    }
    let r = app.put("/Users/%FF", json!({"userName": "pathy"})).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    others_are_served(app, &id, "pathy").await;
}

async fn nul_bytes_in_attribute_values_are_refused_with_invalid_value(app: &TestApp) {
    let id = app.user("clean").await;
    let r = app
        .post("/Users", json!({"userName": "nul\u{0}name"}))
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert!(detail(&r).contains("\"userName\""), "{}", r.body);
    assert!(detail(&r).contains("NUL"), "{}", r.body);
    let r = app
        .post(
            "/Users",
            json!({"userName": "nul-deep", "emails": [{"value": "a\u{0}@x.com"}]}),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let r = app
        .post("/Users", json!({"userName": "nul-key", "x\u{0}y": "1"}))
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let r = app
        .put(&format!("/Users/{id}"), json!({"userName": "clean\u{0}"}))
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let r = app
        .call(
            reqwest::Method::PATCH,
            &format!("/Users/{id}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "displayName",
                                        "value": "a\u{0}b"}]}),
            ),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let r = app.post("/Groups", json!({"displayName": "g\u{0}"})).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    // Nothing was stored or changed.
    let r = app.get("/Users?filter=userName sw \"nul\"").await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.body);
    let r = app.get(&format!("/Users/{id}")).await;
    assert_eq!(r.body["meta"]["version"], "W/\"1\"", "{}", r.body);
    others_are_served(app, &id, "clean").await;
}

async fn nul_bytes_in_filter_values_are_refused_or_match_nothing(app: &TestApp) {
    let id = app.user("filtered").await;
    // A raw NUL in the filter text is a syntax error of the filter.
    let r = app.get("/Users?filter=userName%20eq%20%22a%00b%22").await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    assert!(detail(&r).contains("U+0000"), "{}", r.body);
    // In a SearchRequest, the NUL is refused with the rest of the body.
    let r = search(app, "/Users/.search", "userName eq \"filtered\u{0}\"").await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    // Written as the escape \u0000 (a compared value holding NUL), on either backend.
    for (path, filter) in [
        ("/Users/.search", r#"userName eq "filtered\u0000""#),
        ("/Users/.search", r#"externalId eq "\u0000" or id pr"#),
        ("/Users/.search", r#"emails[value co "\u0000"]"#),
        ("/Groups/.search", r#"members[value eq "\u0000"]"#),
        ("/.search", r#"not (displayName sw "\u0000")"#),
    ] {
        let r = search(app, path, filter).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
        assert!(detail(&r).contains("NUL"), "{filter}: {}", r.body);
    }
    let (status, body) = get_filter_raw(app, r#"userName eq "\u0000""#).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["scimType"], "invalidFilter");
    others_are_served(app, &id, "filtered").await;
}

async fn nul_bytes_in_a_path_segment_find_no_resource(app: &TestApp) {
    let id = app.user("segment").await;
    let with_nul = format!("{}%00", id);
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = app
            .call(method.clone(), &format!("/Users/{with_nul}"), None)
            .await;
        assert_scim_error(&r, StatusCode::NOT_FOUND, None);
    }
    let r = app
        .put(
            &format!("/Users/{with_nul}"),
            json!({"userName": "segment"}),
        )
        .await;
    assert_scim_error(&r, StatusCode::NOT_FOUND, None);
    let r = app
        .call(
            reqwest::Method::PATCH,
            "/Groups/a%00b",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}),
            ),
        )
        .await;
    assert_scim_error(&r, StatusCode::NOT_FOUND, None);
    // In the tenant or realm segment: no such realm.
    let r = app
        .get(&format!(
            "{}/v1/tenants/def%00ault/realms/default/scim/v2/Users",
            app.origin
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.body["schemas"][0], ERROR_URN);
    // The user is intact.
    others_are_served(app, &id, "segment").await;
}

/// Opens a connection and sends `bytes`, then holds it open without finishing the request.
async fn hold(app: &TestApp, bytes: Vec<u8>) -> TcpStream {
    let mut s = TcpStream::connect(addr(app)).await.unwrap();
    s.write_all(&bytes).await.unwrap();
    s
}

async fn fifty_slow_clients_holding_connections_do_not_stop_others_being_served(app: &TestApp) {
    let id = app.user("patient").await;
    let mut held = Vec::new();
    for i in 0..50 {
        let bytes = if i % 2 == 0 {
            // Half a request head, never finished.
            b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec()
        } else {
            // A whole head announcing a body, and a few bytes of it.
            format!(
                "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
                 Content-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{{\"user",
                app.token
            )
            .into_bytes()
        };
        held.push(hold(app, bytes).await);
    }
    // While they hold on, every ordinary request is served, reads and writes alike.
    for round in 0..5 {
        others_are_served(app, &id, "patient").await;
        let name = format!("meanwhile{round}");
        let created = app.user(&name).await;
        others_are_served(app, &created, &name).await;
    }
    // Trickling a byte more on each changes nothing for the others.
    for s in held.iter_mut() {
        let _ = s.write_all(b"x").await;
    }
    others_are_served(app, &id, "patient").await;
    drop(held);
    others_are_served(app, &id, "patient").await;
}

async fn a_body_that_trickles_past_the_request_deadline_gets_408_and_others_are_served(
    app: &TestApp,
) {
    let id = app.user("prompt").await;
    let mut slow = Vec::new();
    for _ in 0..10 {
        let head = format!(
            "POST /v1/tenants/default/realms/default/scim/v2/Users HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {}\r\nContent-Type: application/scim+json\r\n\
             Content-Length: 100\r\n\r\n{{\"userName\": \"sl",
            app.token
        );
        slow.push(hold(app, head.into_bytes()).await);
    }
    // While the ten trickle, others are served.
    others_are_served(app, &id, "prompt").await;
    for s in slow.iter_mut() {
        let _ = s.write_all(b"o").await;
        let (status, _, body) = tokio::time::timeout(PATIENCE, read_response(s))
            .await
            .expect("an answer once the deadline passes");
        assert_eq!(status, 408, "{body}");
        assert_eq!(body["schemas"][0], ERROR_URN);
        assert_eq!(body["status"], "408");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("did not arrive within 2 s"),
            "{body}"
        );
    }
    others_are_served(app, &id, "prompt").await;
    let r = app.get(r#"/Users?filter=userName sw "sl""#).await;
    assert_eq!(r.body["totalResults"], 0);
}
