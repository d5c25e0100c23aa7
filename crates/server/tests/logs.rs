//! What the real binary writes to its log (stderr), black-box, at the
//! default level and at the verbose ones: a request cannot write a line of
//! its own, secrets in query strings never appear, and a flood of refusals
//! makes a few lines, while `/metrics` still counts each.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::process::{ServerProcess, TOKEN};
use common::{eventually, metric_in, metrics_text, SOON};

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

// ---------------------------------------------------------------------------
// Refusal floods (issue 12, item 6).
// ---------------------------------------------------------------------------

/// The sum of every `pulseboard_error_responses_total` series.
fn error_responses(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("pulseboard_error_responses_total{"))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// What the log says about refusals of `client`: full lines, and the sum of
/// the summaries' counts.
fn refusals_logged(log: &str, client: &str) -> (usize, u64) {
    let about = format!("client={client} ");
    let mut full = 0;
    let mut summarized = 0;
    for line in log.lines().filter(|l| l.contains(&about)) {
        if line.contains("request refused") {
            full += 1;
        } else if let Some(rest) = line.split("refusals=").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            summarized += digits.parse::<u64>().unwrap_or(0);
        }
    }
    (full, summarized)
}

/// 500 refused requests from one address (wrong tokens, bad filters on the
/// stream, bad login bodies then the login limit, an oversized head): the
/// log gets a line or two per interval, however many refusals there are,
/// and summaries that add up to their number; the metrics count every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_summarized_not_logged_one_by_one() {
    const REFUSALS: usize = 500;
    // Set by the environment, which an older binary ignores: this test
    // runs against it too, and fails on its flood rather than on a flag.
    const INTERVAL: Duration = Duration::from_secs(1);
    for level in [None, Some("info")] {
        let server = ServerProcess::start_logging(
            &["--viewer-token", "the-viewer-token"],
            &[("PULSEBOARD_REFUSAL_LOG_INTERVAL", "1s")],
            level,
        )
        .await;
        let base = &server.base;
        wait_for_log(&server, "started").await;
        let lines_before = server.log().lines().count();
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        let started = Instant::now();
        for i in 0..REFUSALS {
            let request = match i % 5 {
                0 | 1 => client
                    .post(format!("{base}/api/widgets/w"))
                    .bearer_auth("a-wrong-token")
                    .body(r#"{"value": 1}"#),
                2 => client
                    .get(format!("{base}/api/events?topics=bad!id"))
                    .bearer_auth("the-viewer-token"),
                3 => client.post(format!("{base}/api/session")).body("not json"),
                _ if i == REFUSALS - 1 => client
                    .get(format!("{base}/api/widgets"))
                    .header("X-Padding", "x".repeat(20_000)),
                _ => client.get(format!("{base}/api/widgets")),
            };
            statuses.push(status(request).await);
        }
        let attack = started.elapsed();
        assert!(
            statuses.iter().all(|s| (400..=499).contains(s)),
            "every request refused: {statuses:?}"
        );
        // Each logged in full or summarized, once its interval is over (or
        // a line each, which fails below).
        eventually(SOON, "the refusals are summarized", || {
            let log = server.log();
            let (full, summarized) = refusals_logged(&log, "127.0.0.1");
            let lines = log.lines().count() - lines_before;
            async move { full as u64 + summarized >= REFUSALS as u64 || lines >= REFUSALS }
        })
        .await;
        let log = server.log();
        let new_lines: Vec<&str> = log.lines().skip(lines_before).collect();
        let (full, summarized) = refusals_logged(&log, "127.0.0.1");
        // At most a full line and a summary per interval the attack
        // touched, and a little slack.
        let intervals = (attack.as_secs_f64() / INTERVAL.as_secs_f64()).ceil() as usize + 1;
        assert!(
            new_lines.len() <= 2 * intervals + 2 && full <= intervals,
            "RUST_LOG={level:?}: {} lines for {REFUSALS} refusals in {attack:?} ({full} in full):\n{}",
            new_lines.len(),
            new_lines.iter().take(20).copied().collect::<Vec<_>>().join("\n")
        );
        assert_eq!(
            full as u64 + summarized,
            REFUSALS as u64,
            "every refusal logged or summarized, once:\n{log}"
        );
        let first = new_lines
            .iter()
            .find(|l| l.contains("request refused"))
            .expect("the first refusal is logged");
        assert!(
            first.contains("client=127.0.0.1 status=401 code=unauthorized detail="),
            "the first refusal in full: {first}"
        );
        let metrics = metrics_text(base).await;
        assert_eq!(
            error_responses(&metrics),
            REFUSALS as f64,
            "every refusal counted:\n{metrics}"
        );
        let headers_too_large =
            r#"pulseboard_error_responses_total{code="headers_too_large",status="431"}"#;
        assert_eq!(
            metric_in(&metrics, headers_too_large),
            Some(1.0),
            "{metrics}"
        );
        // The stream probes carry the right viewer token: 400 until the
        // wrong publish tokens put the address over its budget of failed
        // token checks, 429 after (tests/guessing.rs).
        let invalid_filter =
            r#"pulseboard_error_responses_total{code="invalid_filter",status="400"}"#;
        assert!(
            metric_in(&metrics, invalid_filter).is_some_and(|n| n >= 1.0),
            "{metrics}"
        );
    }
}

/// Below the flood, nothing is lost: a refusal from each of a few addresses
/// is logged in full, with its message, at the default level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_refusal_from_each_address_is_logged_in_full() {
    let server = ServerProcess::start_logging(&[], &[], None).await;
    for n in 2..=4 {
        let source = format!("127.0.0.{n}");
        let answer = status(
            client_from(&source)
                .post(format!("{}/api/widgets/w", server.base))
                .bearer_auth("a-wrong-token")
                .body(r#"{"value": 1}"#),
        )
        .await;
        assert_eq!(answer, 401);
        wait_for_log(
            &server,
            &format!("client={source} status=401 code=unauthorized"),
        )
        .await;
    }
    let log = server.log();
    assert!(
        log.contains("detail=publishing needs a valid `Authorization: Bearer <token>` header"),
        "{log}"
    );
}
