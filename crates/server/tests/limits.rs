//! What one client may cost, black-box: streams in total and per address
//! (503), publish and login rates (429), request heads (431) and slow bodies
//! (408). After each refusal the server is still healthy and the streams
//! already open still get every update.

mod common;

use std::time::Duration;

use common::process::TOKEN;
use common::{api_config, assert_api_error, eventually, send, spawn, SseClient, TestServer, SOON};
use pulseboard::Config;
use reqwest::Client;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A stream request as if forwarded by a trusted proxy for `client`.
fn stream_from(server: &TestServer, client: &str) -> reqwest::RequestBuilder {
    Client::new()
        .get(server.events_url())
        .header("X-Forwarded-For", client)
}

async fn stream_status(
    request: reqwest::RequestBuilder,
) -> (u16, Option<String>, serde_json::Value) {
    let response = tokio::time::timeout(SOON, request.send())
        .await
        .expect("answered within SOON")
        .expect("request succeeds");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ascii").to_owned());
    assert_ne!(status, 200, "expected a refusal");
    (
        status,
        retry_after,
        response.json().await.unwrap_or_default(),
    )
}

/// The server answers, is ready, and `viewer` still gets the next update.
async fn still_healthy(server: &TestServer, viewer: &mut SseClient) {
    assert_eq!(server.get("/readyz").await.status(), 200);
    let event_id = server.published("after", json!({"value": 1})).await;
    viewer.expect_update(&event_id).await;
}

#[tokio::test]
async fn streams_are_limited_per_address_and_in_total() {
    let mut config = api_config();
    config.max_streams = 3;
    config.max_streams_per_ip = 2;
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let server = spawn(config).await;

    let mut a1 = SseClient::from_request(stream_from(&server, "198.51.100.1"), "a1").await;
    a1.init().await;
    let a2 = SseClient::from_request(stream_from(&server, "198.51.100.1"), "a2").await;
    let (status, retry_after, body) = stream_status(stream_from(&server, "198.51.100.1")).await;
    assert_eq!(status, 503);
    assert_eq!(retry_after.as_deref(), Some("10"));
    assert_api_error(
        &(status, body),
        503,
        "too_many_streams",
        &["--max-streams-per-ip"],
    );

    // Another address still gets in, up to the total.
    let _b1 = SseClient::from_request(stream_from(&server, "198.51.100.2"), "b1").await;
    let (status, retry_after, body) = stream_status(stream_from(&server, "198.51.100.3")).await;
    assert_eq!((status, retry_after.as_deref()), (503, Some("10")));
    assert_api_error(&(status, body), 503, "too_many_streams", &["--max-streams"]);
    assert_eq!(
        server
            .metric("pulseboard_requests_refused_total{reason=\"max_streams_per_ip\"}")
            .await,
        1.0
    );
    assert_eq!(
        server
            .metric("pulseboard_requests_refused_total{reason=\"max_streams\"}")
            .await,
        1.0
    );
    still_healthy(&server, &mut a1).await;

    // A closed stream gives its slot back.
    drop(a2);
    server.wait_for_metric("pulseboard_open_streams", 2.0).await;
    eventually(SOON, "a's slot is free again", || async {
        let response = stream_from(&server, "198.51.100.1")
            .send()
            .await
            .expect("answered");
        response.status() == 200
    })
    .await;
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let mut config = api_config();
    config.max_streams_per_ip = 1;
    let server = spawn(config).await;
    // Not trusted: every stream is 127.0.0.1's, whatever the header claims.
    let _first = SseClient::from_request(stream_from(&server, "198.51.100.1"), "first").await;
    let (status, _, _) = stream_status(stream_from(&server, "198.51.100.2")).await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn a_publish_burst_over_the_rate_gets_429() {
    let mut config = api_config();
    config.publish_tokens = vec![TOKEN.into(), "second-publish-token".into()];
    config.publish_rate = 1;
    config.publish_burst = 5;
    let server = spawn(config).await;
    let mut viewer = server.connect().await;
    viewer.init().await;
    let mut last = String::new();
    for i in 0..5 {
        last = server.published("load", json!({ "value": i })).await;
    }
    let seen = viewer.next_changes(5).await;
    assert_eq!(seen.last().map(|e| e.id.as_str()), Some(last.as_str()));

    let refused = server.publish_json("load", json!({"value": 99})).await;
    assert_api_error(&refused, 429, "rate_limited", &["--publish-rate"]);
    let response = Client::new()
        .post(server.url("/api/widgets/load"))
        .bearer_auth(TOKEN)
        .body(r#"{"value": 99}"#)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    // Batches and deletes count too.
    let batch = server.batch(json!([{"id": "load", "value": 99}])).await;
    assert_eq!(batch.0, 429);
    assert_eq!(server.delete_widget("load", Some(TOKEN)).await.0, 429);

    // Refused publishes changed nothing; another token has its own budget.
    let other = send(
        Client::new()
            .post(server.url("/api/widgets/load"))
            .bearer_auth("second-publish-token")
            .body(r#"{"value": 6}"#),
    )
    .await;
    assert_eq!(other.0, 200, "{other:?}");
    let update = viewer.next_change().await;
    assert_eq!(
        update.id,
        other.1["event_id"].as_str().unwrap(),
        "no event from refused publishes"
    );
    let (_, widget) = server.get_json("/api/widgets/load").await;
    assert_eq!(widget["value"]["value"], 6.0);
    // A wrong token is a 401 before any rate is counted.
    assert_eq!(
        server
            .post_raw("/api/widgets/load", Some("nope"), b"{}".to_vec())
            .await
            .0,
        401
    );
    assert!(
        server
            .metric("pulseboard_requests_refused_total{reason=\"publish_rate\"}")
            .await
            >= 4.0
    );

    // After the wait, the token may publish again.
    eventually(SOON, "the token's rate recovers", || async {
        server.publish_json("load", json!({"value": 7})).await.0 == 200
    })
    .await;
    let recovered: serde_json::Value =
        serde_json::from_str(&viewer.next_change().await.data).expect("JSON");
    assert_eq!(recovered["value"]["value"], 7.0, "{recovered}");
    assert_eq!(server.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn logins_are_rate_limited_per_address() {
    let mut config = api_config();
    config.viewer_tokens = vec!["viewer-token-of-the-wall".into()];
    let server = spawn(config).await;
    // Even with the right token: logins cost a cookie and a signature each.
    // (Wrong tokens are refused sooner, as failed checks: tests/guessing.rs.)
    let attempt = || {
        send(
            Client::new()
                .post(server.url("/api/session"))
                .body(r#"{"token": "viewer-token-of-the-wall"}"#),
        )
    };
    let mut statuses = Vec::new();
    for _ in 0..31 {
        statuses.push(attempt().await.0);
    }
    assert!(statuses[..30].iter().all(|s| *s == 200), "{statuses:?}");
    assert_api_error(&attempt().await, 429, "rate_limited", &["login attempts"]);
    assert!(
        server
            .metric("pulseboard_requests_refused_total{reason=\"login_rate\"}")
            .await
            >= 2.0
    );
}

#[tokio::test]
async fn oversized_heads_are_refused() {
    let mut config = api_config();
    config.max_header_bytes = 4096;
    let server = spawn(config).await;
    let mut viewer = server.connect().await;
    viewer.init().await;

    let big = "x".repeat(5000);
    let answer = send(
        Client::new()
            .get(server.url("/api/widgets"))
            .header("X-Padding", &big),
    )
    .await;
    assert_api_error(
        &answer,
        431,
        "headers_too_large",
        &["--max-header-bytes", "4096"],
    );
    let long_url = send(Client::new().get(server.url(&format!("/api/widgets?{big}")))).await;
    assert_eq!(long_url.0, 431);
    // A refused publish changes nothing.
    let publish = send(
        Client::new()
            .post(server.url("/api/widgets/cpu"))
            .bearer_auth(TOKEN)
            .header("X-Padding", &big)
            .body(r#"{"value": 1}"#),
    )
    .await;
    assert_eq!(publish.0, 431);
    // Past what actix buffers at all (128 KiB): still a 431, not a hang.
    let huge = "y".repeat(200 * 1024);
    let response = Client::new()
        .get(server.url("/api/widgets"))
        .header("X-Padding", &huge)
        .send()
        .await;
    if let Ok(response) = response {
        assert_eq!(response.status(), 431);
    } // else: the server closed the connection while the client still wrote
    assert_eq!(
        send(Client::new().get(server.url("/api/widgets"))).await.0,
        200
    );
    still_healthy(&server, &mut viewer).await;
    let (_, widgets) = server.get_json("/api/widgets").await;
    assert!(
        !widgets.to_string().contains("\"cpu\""),
        "the refused publish changed nothing"
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let mut config = api_config();
    config.max_body_bytes = 1024;
    let server = spawn(config).await;
    let mut viewer = server.connect().await;
    viewer.init().await;
    let body = format!(r#"{{"text": "{}"}}"#, "z".repeat(2000));
    let answer = server
        .post_raw("/api/widgets/note", Some(TOKEN), body.into_bytes())
        .await;
    assert_api_error(&answer, 413, "body_too_large", &["1024"]);
    still_healthy(&server, &mut viewer).await;
}

/// Writes `parts` to a raw connection, pausing `between` each, then returns
/// what the server answered (until it closed the connection).
async fn raw_exchange(server: &TestServer, parts: &[&str], between: Duration) -> String {
    let mut socket = TcpStream::connect(server.addr()).await.expect("connect");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(between).await;
        }
        if socket.write_all(part.as_bytes()).await.is_err() {
            break; // the server already gave up on us
        }
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(SOON, socket.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server did not end the connection within {SOON:?}"
    );
    String::from_utf8_lossy(&answer).into_owned()
}

fn slow_config() -> Config {
    let mut config = api_config();
    config.body_timeout = Duration::from_millis(500);
    config.head_timeout = Duration::from_millis(500);
    config
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_408() {
    let server = spawn(slow_config()).await;
    let mut viewer = server.connect().await;
    viewer.init().await;
    let head = format!(
        "POST /api/widgets/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{{\"value\":"
    );
    // The rest never comes: the server stops waiting after --body-timeout.
    let answer = raw_exchange(&server, &[&head], Duration::ZERO).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"body_timeout\""), "{answer}");
    still_healthy(&server, &mut viewer).await;
    assert_eq!(
        server.get_json("/api/widgets/slow").await.0,
        404,
        "nothing was applied"
    );
}

#[tokio::test]
async fn a_head_that_trickles_in_is_cut_off() {
    let server = spawn(slow_config()).await;
    let mut viewer = server.connect().await;
    viewer.init().await;
    // Slowloris: a few bytes of the head, then a pause longer than the timeout.
    let answer = raw_exchange(
        &server,
        &["GET /api/widgets HTTP/1.1\r\n", "Host: x\r\n", "\r\n"],
        Duration::from_millis(1500),
    )
    .await;
    assert!(
        !answer.contains("200 OK"),
        "served a request that took 3 s to send: {answer}"
    );
    still_healthy(&server, &mut viewer).await;
}

#[tokio::test]
async fn limits_are_bounded_settings() {
    for (flag, bad) in [
        ("--max-streams", "0"),
        ("--max-streams-per-ip", "0"),
        ("--publish-rate", "0"),
        ("--publish-burst", "0"),
        ("--max-header-bytes", "10"),
        ("--body-timeout", "0s"),
        ("--trusted-proxy", "not-an-address"),
    ] {
        assert!(
            Config::load_from(["pulseboard", flag, bad]).is_err(),
            "{flag} {bad}"
        );
    }
    let config = Config::load_from(["pulseboard", "--trusted-proxy", "127.0.0.1, 10.0.0.0/8"])
        .expect("valid");
    assert_eq!(config.trusted_proxies.len(), 2);
}
