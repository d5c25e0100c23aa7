//! Who may view and from where, black-box: viewer tokens and session cookies,
//! security headers, and CORS, on a real server on port 0.

mod common;

use common::process::TOKEN;
use common::viewer::{
    attributes, cookie_pair, login, request, set_cookie_of, status_of, viewer_config, READS,
};
use common::{api_config, assert_api_error, send, spawn, SseClient, TestServer};
use pulseboard::Config;
use reqwest::header::HeaderMap;
use reqwest::{Client, Method};
use serde_json::json;

const VIEWER: &str = "wall-screen-token";
const OTHER_VIEWER: &str = "lobby-screen-token";

#[tokio::test]
async fn without_a_session_viewer_tokens_close_the_stream_and_the_reads() {
    let server = spawn(viewer_config(&[VIEWER, OTHER_VIEWER])).await;
    server.published("cpu", json!({"value": 1})).await;
    for path in READS {
        let answer = status_of(&server, path, None).await;
        assert_api_error(&answer, 401, "unauthorized", &["viewer token"]);
        let forged = status_of(&server, path, Some("pulseboard_session=v1.99999999999.abc")).await;
        assert_eq!(forged.0, 401, "{path} with a forged cookie");
    }
    let (status, body) = server.get_json("/api/session").await;
    assert_eq!(
        (status, body),
        (200, json!({"required": true, "authenticated": false}))
    );
    // Publishing is a publisher's business: the publish token still works.
    server.published("cpu", json!({"value": 2})).await;
    // The SPA's files stay reachable, so the login form can load (no SPA is
    // built for these tests: 404, but not 401).
    assert_ne!(server.get("/").await.status(), 401);
    assert_eq!(server.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_wrong_token_gets_no_session() {
    let server = spawn(viewer_config(&[VIEWER])).await;
    for wrong in ["", "wall-screen-toke", "WALL-SCREEN-TOKEN", TOKEN] {
        let (answer, cookie) = login(&server, wrong, &[]).await;
        assert_api_error(&answer, 401, "unauthorized", &["not a viewer token"]);
        assert_eq!(cookie, None, "{wrong:?}");
    }
    let bad_json =
        send(request(&server, Method::POST, "/api/session", None).body("token=wall-screen-token"))
            .await;
    assert_api_error(&bad_json, 400, "invalid_json", &["token"]);
}

#[tokio::test]
async fn a_session_opens_the_stream_and_the_reads_until_logout() {
    let server = spawn(viewer_config(&[VIEWER, OTHER_VIEWER])).await;
    let (answer, set_cookie) = login(&server, OTHER_VIEWER, &[]).await;
    assert_eq!(
        answer,
        (200, json!({"required": true, "authenticated": true}))
    );
    let set_cookie = set_cookie.expect("a session cookie");
    assert!(
        set_cookie.starts_with("pulseboard_session="),
        "{set_cookie}"
    );
    let attrs = attributes(&set_cookie);
    for wanted in ["httponly", "samesite=strict", "path=/"] {
        assert!(
            attrs.contains(&wanted.to_owned()),
            "{wanted} in {set_cookie}"
        );
    }
    assert!(
        attrs.iter().any(|a| a.starts_with("max-age=")),
        "{set_cookie}"
    );
    assert!(
        !attrs.contains(&"secure".to_owned()),
        "plain http: {set_cookie}"
    );
    let cookie = cookie_pair(&set_cookie);
    assert!(
        !cookie.contains(OTHER_VIEWER),
        "the token itself is not in the cookie"
    );

    // The stream works with the cookie and carries what is published.
    let mut viewer = SseClient::from_request(
        request(&server, Method::GET, "/api/events", Some(&cookie)),
        "stream with a session",
    )
    .await;
    viewer.init().await;
    let event_id = server.published("cpu", json!({"value": 7})).await;
    assert_eq!(viewer.expect_update(&event_id).await.id.as_str(), "cpu");
    for path in READS.iter().skip(1) {
        assert_eq!(
            status_of(&server, path, Some(&cookie)).await.0,
            200,
            "{path}"
        );
    }
    let (status, body) = send(request(&server, Method::GET, "/api/session", Some(&cookie))).await;
    assert_eq!(
        (status, body),
        (200, json!({"required": true, "authenticated": true}))
    );
    // Scripts can read with a viewer token instead of a cookie.
    let bearer =
        send(request(&server, Method::GET, "/api/widgets/cpu", None).bearer_auth(VIEWER)).await;
    assert_eq!(bearer.0, 200);

    // Logout tells the browser to forget the cookie.
    let response = request(&server, Method::DELETE, "/api/session", Some(&cookie))
        .send()
        .await
        .expect("logout answered");
    assert_eq!(response.status(), 200);
    let cleared = set_cookie_of(response.headers()).expect("logout clears the cookie");
    assert!(cleared.starts_with("pulseboard_session=;"), "{cleared}");
    assert!(
        attributes(&cleared).contains(&"max-age=0".to_owned()),
        "{cleared}"
    );
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body, json!({"required": true, "authenticated": false}));
}

#[tokio::test]
async fn the_cookie_is_secure_over_https_or_when_configured() {
    let server = spawn(viewer_config(&[VIEWER])).await;
    let (_, proxied) = login(&server, VIEWER, &[("X-Forwarded-Proto", "https")]).await;
    assert!(attributes(&proxied.expect("cookie")).contains(&"secure".to_owned()));
    let mut config = viewer_config(&[VIEWER]);
    config.secure_cookie = true;
    let always = spawn(config).await;
    let (_, cookie) = login(&always, VIEWER, &[]).await;
    assert!(attributes(&cookie.expect("cookie")).contains(&"secure".to_owned()));
}

#[tokio::test]
async fn without_viewer_tokens_viewing_is_open() {
    let server = spawn(api_config()).await;
    let (status, body) = server.get_json("/api/session").await;
    assert_eq!(
        (status, body),
        (200, json!({"required": false, "authenticated": true}))
    );
    for path in READS {
        let expected = if path == "/api/widgets/cpu" { 404 } else { 200 };
        assert_eq!(status_of(&server, path, None).await.0, expected, "{path}");
    }
    let (answer, cookie) = login(&server, "anything", &[]).await;
    assert_eq!(
        answer,
        (200, json!({"required": false, "authenticated": true}))
    );
    assert_eq!(cookie, None);
}

// ---------------------------------------------------------------------------
// Security headers and CORS.
// ---------------------------------------------------------------------------

const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn assert_security_headers(headers: &HeaderMap, csp: &str, what: &str) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    assert_eq!(get("content-security-policy"), csp, "{what}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
}

/// A static dir with an `index.html`, so `/` is the SPA's page.
fn spa_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pulseboard-access-spa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("index.html"), "<!doctype html><title>t</title>").expect("index");
    dir
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let mut config = viewer_config(&[VIEWER]);
    config.static_dir = spa_dir();
    let server = spawn(config).await;
    let (_, cookie) = login(&server, VIEWER, &[]).await;
    let cookie = cookie_pair(&cookie.expect("cookie"));
    for (path, cookie, status) in [
        ("/", None, 200),
        ("/d/host", None, 200),
        ("/api/widgets", Some(cookie.as_str()), 200),
        ("/api/widgets", None, 401),
        ("/api/nope", None, 404),
        ("/healthz", None, 200),
    ] {
        let response = request(&server, Method::GET, path, cookie)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_security_headers(response.headers(), CSP, path);
    }
    // The stream is read by EventSource, never rendered, and kept free of
    // middleware (each layer costs every viewer memory): `nosniff` only, on
    // the stream and on its refusals.
    for (cookie, status) in [(Some(cookie.as_str()), 200), (None, 401)] {
        let stream = request(&server, Method::GET, "/api/events", cookie)
            .send()
            .await
            .expect("answered");
        assert_eq!(stream.status(), status);
        assert_eq!(stream.headers()["x-content-type-options"], "nosniff");
    }
}

#[tokio::test]
async fn frame_ancestors_can_allow_embedding() {
    let mut config = api_config();
    config.frame_ancestors = "'self' https://wall.example.com".into();
    let server = spawn(config).await;
    let response = server.get("/healthz").await;
    let csp = CSP.replace(
        "frame-ancestors 'none'",
        "frame-ancestors 'self' https://wall.example.com",
    );
    assert_security_headers(response.headers(), &csp, "/healthz");
}

#[test]
fn frame_ancestors_cannot_inject_directives() {
    for bad in ["'self'; script-src *", "a,b", "", "x\ny"] {
        let parsed = Config::load_from(["pulseboard", "--frame-ancestors", bad]);
        assert!(parsed.is_err(), "{bad:?} accepted");
    }
}

async fn allow_origin(
    server: &TestServer,
    method: Method,
    path: &str,
    origin: &str,
) -> (u16, Option<String>) {
    let mut request = Client::new()
        .request(method.clone(), server.url(path))
        .header("Origin", origin);
    if method == Method::OPTIONS {
        request = request
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            );
    }
    let response = request.send().await.expect("answered");
    let allowed = response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (response.status().as_u16(), allowed)
}

#[tokio::test]
async fn cors_is_closed_by_default() {
    let server = spawn(api_config()).await;
    for (method, path) in [
        (Method::GET, "/api/widgets"),
        (Method::GET, "/api/events"),
        (Method::OPTIONS, "/api/widgets/cpu"),
    ] {
        let (_, allowed) =
            allow_origin(&server, method.clone(), path, "https://evil.example").await;
        assert_eq!(allowed, None, "{method} {path}");
    }
}

#[tokio::test]
async fn cors_allows_exactly_the_configured_origins() {
    let mut config = api_config();
    config.cors_origins = vec!["https://wall.example.com".into()];
    let server = spawn(config).await;
    let friend = "https://wall.example.com";
    assert_eq!(
        allow_origin(&server, Method::GET, "/api/widgets", friend).await,
        (200, Some(friend.to_owned()))
    );
    let (status, allowed) =
        allow_origin(&server, Method::OPTIONS, "/api/widgets/cpu", friend).await;
    assert_eq!((status, allowed.as_deref()), (200, Some(friend)));
    let (_, allowed) = allow_origin(&server, Method::GET, "/api/events", friend).await;
    assert_eq!(allowed.as_deref(), Some(friend), "the stream too");
    for stranger in [
        "https://evil.example",
        "https://wall.example.com.evil.example",
        "http://wall.example.com",
    ] {
        let (_, allowed) = allow_origin(&server, Method::GET, "/api/widgets", stranger).await;
        assert_eq!(allowed, None, "{stranger}");
    }
    // The dashboard's own pages send their Origin on POST too: unaffected.
    let own = send(
        Client::new()
            .post(server.url("/api/widgets/cpu"))
            .header("Origin", &server.base)
            .bearer_auth(TOKEN)
            .body(r#"{"value": 1}"#),
    )
    .await;
    assert_eq!(own.0, 200, "{own:?}");
}

#[test]
fn cors_origins_must_be_origins() {
    for bad in [
        "wall.example.com",
        "https://wall.example.com/path",
        "ftp://x",
        "https://",
    ] {
        assert!(
            Config::load_from(["pulseboard", "--cors-origin", bad]).is_err(),
            "{bad}"
        );
    }
    let config = Config::load_from([
        "pulseboard",
        "--cors-origin",
        "https://A.example/,http://b:8080",
    ])
    .expect("valid origins");
    assert_eq!(config.cors_origins, ["https://a.example", "http://b:8080"]);
}
