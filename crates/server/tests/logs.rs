//! What the real binary writes to its log (stderr), black-box, at the
//! default level and at the verbose ones: a request cannot write a line of
//! its own, and secrets in query strings never appear.

mod common;

use std::net::IpAddr;

use common::process::{ServerProcess, TOKEN};
use common::{eventually, SOON};

/// A client whose connections come from `source` (a loopback address), so
/// each gets its own first refusal in the refusal log.
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().expect("an address"))
        .build()
        .expect("a client")
}

/// Sends `request`; its status (the body, a stream's included, is dropped).
async fn status(request: reqwest::RequestBuilder) -> u16 {
    tokio::time::timeout(SOON, request.send())
        .await
        .expect("answered within SOON")
        .expect("request succeeds")
        .status()
        .as_u16()
}

/// Waits until the log holds `needle`, failing with the log if it does not.
async fn wait_for_log(server: &ServerProcess, needle: &str) {
    eventually(SOON, &format!("the log shows {needle:?}"), || {
        let found = server.log().contains(needle);
        async move { found }
    })
    .await;
}

// ---------------------------------------------------------------------------
// Forged lines (issue 12, item 4).
// ---------------------------------------------------------------------------

/// A line as tracing writes it, but from another time: if it ever starts a
/// line of the log, a client wrote that line.
const FORGED: &str = "1999-12-31T23:59:59.000000Z  INFO pulseboard: FORGED";

/// Requests that carry a forged line (each with its own tag), and the
/// address each comes from; the ones only logged at debug last.
fn forging_requests(base: &str) -> Vec<(&'static str, reqwest::RequestBuilder)> {
    let json_line = FORGED.replace('"', "\\\"");
    let from = |n: u8| client_from(&format!("127.0.0.{n}"));
    vec![
        // The issue's attack: a JSON key quoted in serde's error.
        (
            "FORGED-key-lf",
            from(2)
                .post(format!("{base}/api/session"))
                .body(format!(r#"{{"token":"x","a\n{json_line}-key-lf":1}}"#)),
        ),
        (
            "FORGED-key-crlf",
            from(3)
                .post(format!("{base}/api/session"))
                .body(format!(r#"{{"token":"x","a\r\n{json_line}-key-crlf":1}}"#)),
        ),
        (
            "FORGED-key-separators",
            from(4).post(format!("{base}/api/session")).body(format!(
                r#"{{"token":"x","a\u2028\u0085\u001b[2K\r{json_line}-key-separators":1}}"#
            )),
        ),
        // A publisher's batch with an unknown field.
        (
            "FORGED-publish",
            from(5)
                .post(format!("{base}/api/batch"))
                .bearer_auth(TOKEN)
                .body(format!(r#"{{"updates":[],"b\n{json_line}-publish":1}}"#)),
        ),
        // A stream's filter (percent-decoded from the query).
        (
            "FORGED-topics",
            from(6).get(format!(
                "{base}/api/events?topics=a%0A{}-topics",
                FORGED.replace(' ', "%20")
            )),
        ),
        // A resume position, logged at debug when it cannot be used.
        (
            "FORGED-resume",
            from(7).get(format!(
                "{base}/api/events?last_event_id=x%0A{}-resume",
                FORGED.replace(' ', "%20")
            )),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cannot_forge_log_lines() {
    for level in [None, Some("debug")] {
        let server = ServerProcess::start_logging(&[], &[], level).await;
        let mut tags = Vec::new();
        for (tag, request) in forging_requests(&server.base) {
            status(request).await;
            tags.push(tag);
        }
        // Each forged text reached the log (so the check below means
        // something), but inside a line of the server's.
        let logged_at_default = tags.len() - 1;
        for tag in &tags[..if level.is_some() {
            tags.len()
        } else {
            logged_at_default
        }] {
            wait_for_log(&server, tag).await;
        }
        let log = server.log();
        let forged: Vec<&str> = log
            .lines()
            .filter(|line| {
                line.starts_with("1999-") || (line.contains("FORGED") && !line.starts_with("20"))
            })
            .collect();
        assert!(
            forged.is_empty(),
            "RUST_LOG={level:?}: lines written by a client:\n{}\n--- the log ---\n{log}",
            forged.join("\n")
        );
        let raw = ['\r', '\u{1b}', '\u{85}', '\u{2028}'];
        assert!(
            !log.contains(raw),
            "RUST_LOG={level:?}: a control character or line separator went into the log as is:\n{log:?}"
        );
        assert!(
            log.contains(&format!("\\n{FORGED}-key-lf")),
            "RUST_LOG={level:?}: the forged key, escaped:\n{log}"
        );
    }
}

// ---------------------------------------------------------------------------
// Secrets in query strings (issue 12, item 5).
// ---------------------------------------------------------------------------

const SECRET: &str = "s3cret-in-a-query-9f2c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_secrets_never_reach_the_log() {
    for level in [None, Some("info"), Some("debug"), Some("trace")] {
        let server = ServerProcess::start_logging(&[], &[], level).await;
        let base = &server.base;
        let q = format!("token={SECRET}&x=1");
        let client = reqwest::Client::new();
        let requests = [
            client.get(format!("{base}/api/events?{q}")),
            client.get(format!("{base}/api/events?{SECRET}")),
            client.get(format!("{base}/api/events?topics=bad!&{q}")),
            client.get(format!("{base}/api/widgets?{q}")),
            client.get(format!("{base}/api/widgets/missing?{q}")),
            client.get(format!("{base}/api/nope?{q}")),
            client.get(format!("{base}/index.html?{q}")),
            client.get(format!("{base}/no/such/file.js?{q}")),
            client.get(format!("{base}/healthz?{q}")),
            client.get(format!("{base}/metrics?{SECRET}")),
            client
                .post(format!("{base}/api/widgets/w?{q}"))
                .bearer_auth("a-wrong-token")
                .body(r#"{"value": 1}"#),
            client
                .post(format!("{base}/api/widgets/w?{q}"))
                .bearer_auth(TOKEN)
                .body(r#"{"value": 1}"#),
            client
                .post(format!("{base}/api/session?{q}"))
                .body(r#"{"token": "x"}"#),
        ];
        for request in requests {
            status(request).await;
        }
        // The log is written (the last request, at the levels that show
        // requests; the first refusal at the default level)...
        if level.is_some() {
            wait_for_log(&server, "/api/session?token=").await;
        } else {
            wait_for_log(&server, "request refused").await;
        }
        // ...without the secret.
        let log = server.log();
        let leaks: Vec<&str> = log.lines().filter(|l| l.contains(SECRET)).collect();
        assert!(
            leaks.is_empty(),
            "RUST_LOG={level:?}: the secret is in the log:\n{}",
            leaks.join("\n")
        );
    }
}
