//! Viewer sessions mean what they say, black-box on a real server: a cookie
//! tells nothing about the token it was made with, logout and expiry end the
//! session on the server (open streams included), and the key that signs
//! sessions lives in the data directory, where replacing it logs everyone
//! out.

mod common;

use std::time::Duration;

use common::viewer::{cookie_pair, login, request, status_of, viewer_config, READS};
use common::{spawn, SseClient, TestServer, SOON};
use hmac::{Hmac, KeyInit, Mac};
use pulseboard::config::StorageKind;
use reqwest::Method;
use serde_json::json;
use sha2::Sha256;

const VIEWER: &str = "wall-screen-token";
const OTHER_VIEWER: &str = "lobby-screen-token";

async fn session_cookie(server: &TestServer, token: &str) -> String {
    let (answer, set_cookie) = login(server, token, &[]).await;
    assert_eq!(answer.0, 200, "login: {answer:?}");
    cookie_pair(&set_cookie.expect("a session cookie"))
}

async fn logout(server: &TestServer, cookie: &str) -> u16 {
    request(server, Method::DELETE, "/api/session", Some(cookie))
        .send()
        .await
        .expect("logout answered")
        .status()
        .as_u16()
}

async fn authenticated(server: &TestServer, cookie: &str) -> bool {
    let (status, body) =
        common::send(request(server, Method::GET, "/api/session", Some(cookie))).await;
    assert_eq!(status, 200, "{body}");
    body["authenticated"] == json!(true)
}

async fn stream_with(server: &TestServer, cookie: &str) -> SseClient {
    let mut stream = SseClient::from_request(
        request(server, Method::GET, "/api/events", Some(cookie)),
        "stream with a session",
    )
    .await;
    stream.init().await;
    stream
}

/// Reads the stream until it ends; fails if it delivers a change meanwhile
/// or is still open after `SOON`.
async fn expect_end(stream: &mut SseClient, what: &str) {
    let ended = tokio::time::timeout(SOON, async {
        while let Some(event) = stream.next().await {
            assert!(
                event.event == "heartbeat",
                "{what}: the stream delivered {} after its session ended",
                event.event
            );
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "{what}: the stream is still open after {SOON:?}"
    );
}

#[tokio::test]
async fn a_captured_cookie_cannot_test_token_guesses_offline() {
    let server = spawn(viewer_config(&[VIEWER])).await;
    let cookie = session_cookie(&server, VIEWER).await;
    let value = cookie.trim_start_matches("pulseboard_session=");
    let parts: Vec<&str> = value.split('.').collect();
    let signature = *parts.last().expect("a signature");
    // An attacker holding the cookie tries candidate tokens, the right one
    // among them, signing each part of the cookie as the server might have.
    let candidates = ["guess-one-token-0001", VIEWER, "guess-two-token-0002"];
    let messages: Vec<String> = parts[..parts.len() - 1]
        .iter()
        .flat_map(|part| {
            [
                part.to_string(),
                format!("pulseboard-session:v1:{part}"),
                format!("pulseboard-session:v2:{part}"),
            ]
        })
        .chain([parts[..parts.len() - 1].join(".")])
        .collect();
    for candidate in candidates {
        for message in &messages {
            let mut mac = Hmac::<Sha256>::new_from_slice(candidate.as_bytes()).expect("any key");
            mac.update(message.as_bytes());
            let forged: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_ne!(
                forged, signature,
                "the cookie is signed with the token itself: a captured cookie confirms a guess offline"
            );
        }
    }
    // Each login is its own session, with its own id.
    let again = session_cookie(&server, VIEWER).await;
    assert_ne!(again, cookie);
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let server = spawn(viewer_config(&[VIEWER, OTHER_VIEWER])).await;
    server.published("cpu", json!({"value": 1})).await;
    let cookie = session_cookie(&server, VIEWER).await;
    let other_session = session_cookie(&server, VIEWER).await;
    for path in READS {
        assert_eq!(
            status_of(&server, path, Some(&cookie)).await.0,
            200,
            "{path}"
        );
    }
    assert_eq!(logout(&server, &cookie).await, 200);
    // The browser forgot the cookie; a copy of it (stolen, or a second tab
    // that kept it) no longer reads anything.
    for path in READS {
        assert_eq!(
            status_of(&server, path, Some(&cookie)).await.0,
            401,
            "{path} with a logged-out cookie"
        );
    }
    assert!(!authenticated(&server, &cookie).await);
    // Logging out again is harmless; other sessions of the same token stay.
    assert_eq!(logout(&server, &cookie).await, 200);
    assert!(authenticated(&server, &other_session).await);
}

#[tokio::test]
async fn an_open_stream_ends_when_its_session_is_logged_out() {
    let mut config = viewer_config(&[VIEWER]);
    // Long: the stream must end because of the logout, not a heartbeat.
    config.heartbeat_interval = Duration::from_secs(3600);
    let server = spawn(config).await;
    let cookie = session_cookie(&server, VIEWER).await;
    let bystander_cookie = session_cookie(&server, VIEWER).await;
    let mut stream = stream_with(&server, &cookie).await;
    let mut bystander = stream_with(&server, &bystander_cookie).await;
    let before = server.published("cpu", json!({"value": 1})).await;
    stream.expect_update(&before).await;
    bystander.expect_update(&before).await;

    // Logged out from another tab (the cookie is the same).
    assert_eq!(logout(&server, &cookie).await, 200);
    let after = server.published("cpu", json!({"value": 2})).await;
    expect_end(&mut stream, "after logout").await;
    // Its reconnect is refused, so the SPA shows the login form.
    assert_eq!(
        status_of(&server, "/api/events", Some(&cookie)).await.0,
        401
    );
    // Another session's stream carries on.
    bystander.expect_update(&after).await;
}

#[tokio::test]
async fn an_open_stream_ends_when_its_session_expires() {
    let mut config = viewer_config(&[VIEWER]);
    config.session_lifetime = Duration::from_secs(2);
    config.heartbeat_interval = Duration::from_millis(200);
    let server = spawn(config).await;
    let cookie = session_cookie(&server, VIEWER).await;
    let mut stream = stream_with(&server, &cookie).await;
    expect_end(&mut stream, "after expiry").await;
    assert_eq!(
        status_of(&server, "/api/events", Some(&cookie)).await.0,
        401
    );
    assert!(!authenticated(&server, &cookie).await);
}

/// A durable server in `dir` with `tokens`.
async fn spawn_in(dir: &std::path::Path, tokens: &[&str]) -> TestServer {
    let mut config = viewer_config(tokens);
    config.storage = StorageKind::Sqlite;
    config.data_dir = Some(dir.to_owned());
    spawn(config).await
}

async fn stop(mut server: TestServer) {
    server.shut_down();
    tokio::time::timeout(SOON, &mut server.stopped)
        .await
        .expect("stops within SOON")
        .expect("the server task ends")
        .expect("stops cleanly");
}

#[tokio::test]
async fn sessions_outlive_a_restart_but_not_their_logout_token_or_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = spawn_in(dir.path(), &[VIEWER, OTHER_VIEWER]).await;
    let kept = session_cookie(&server, VIEWER).await;
    let logged_out = session_cookie(&server, VIEWER).await;
    let of_other_token = session_cookie(&server, OTHER_VIEWER).await;
    assert_eq!(logout(&server, &logged_out).await, 200);
    stop(server).await;

    let key_file = dir.path().join("session-key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file)
            .expect("the key is kept")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the key is the owner's alone");

    // The same directory, the tokens in another order: sessions hold, and
    // a logout stays a logout.
    let server = spawn_in(dir.path(), &[OTHER_VIEWER, VIEWER]).await;
    assert!(authenticated(&server, &kept).await);
    assert!(authenticated(&server, &of_other_token).await);
    assert!(!authenticated(&server, &logged_out).await);
    stop(server).await;

    // A token removed from the configuration takes its sessions with it.
    let server = spawn_in(dir.path(), &[VIEWER]).await;
    assert!(authenticated(&server, &kept).await);
    assert!(!authenticated(&server, &of_other_token).await);
    stop(server).await;

    // Replacing the key (deleting it: a new one is made) logs everyone out.
    std::fs::remove_file(&key_file).expect("delete the key");
    let server = spawn_in(dir.path(), &[VIEWER]).await;
    assert!(!authenticated(&server, &kept).await);
    let fresh = session_cookie(&server, VIEWER).await;
    assert!(authenticated(&server, &fresh).await);
}
