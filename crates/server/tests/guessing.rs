//! Tokens cannot be guessed at full speed, black-box on a real server: every
//! endpoint that answers whether a token is right (a publish, a viewer token
//! as `Bearer` on a read or on `GET /api/session`, a login) counts a wrong
//! one against the client's address, and past a burst answers 429 with
//! `Retry-After`, for right tokens too; other addresses are unaffected, and
//! `/metrics` counts it all. Short configured tokens are refused at start, and
//! a generated publish token is kept for the next start.
//!
//! The server trusts 127.0.0.1 as its proxy, so each test client names its own
//! address in `X-Forwarded-For`, as nginx would.

mod common;

use common::process::{path_str, run_to_exit, ServerProcess, TOKEN};
use common::{api_config, spawn, TestServer};
use pulseboard::Config;
use reqwest::{Client, Method};
use serde_json::json;

const VIEWER: &str = "wall-screen-token";
/// More than any burst of failures the server allows.
const GUESSES: usize = 500;

fn config() -> Config {
    let mut config = api_config();
    config.viewer_tokens = vec![VIEWER.into()];
    config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a net")];
    config
}

/// How one endpoint is asked whether `token` is right.
#[derive(Clone, Copy, Debug)]
enum Probe {
    SessionStatus,
    ReadWidgets,
    Publish,
    Login,
}

impl Probe {
    const ALL: [Probe; 4] = [
        Probe::SessionStatus,
        Probe::ReadWidgets,
        Probe::Publish,
        Probe::Login,
    ];

    fn right_token(self) -> &'static str {
        match self {
            Probe::Publish => TOKEN,
            _ => VIEWER,
        }
    }

    fn credential(self) -> &'static str {
        match self {
            Probe::SessionStatus | Probe::ReadWidgets => "viewer_token",
            Probe::Publish => "publish_token",
            Probe::Login => "login",
        }
    }

    /// The status and `Retry-After` of one attempt from `client`.
    async fn attempt(self, server: &TestServer, client: &str, token: &str) -> (u16, Option<u64>) {
        let http = Client::new();
        let request = match self {
            Probe::SessionStatus => http.get(server.url("/api/session")).bearer_auth(token),
            Probe::ReadWidgets => http.get(server.url("/api/widgets")).bearer_auth(token),
            Probe::Publish => http
                .request(Method::POST, server.url("/api/widgets/guessed"))
                .bearer_auth(token)
                .json(&json!({"value": 1})),
            Probe::Login => http
                .post(server.url("/api/session"))
                .json(&json!({ "token": token })),
        };
        let response = request
            .header("X-Forwarded-For", client)
            .send()
            .await
            .expect("answered");
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        // `GET /api/session` answers 200 either way: its body is the oracle.
        if status == 200 && body["authenticated"] == json!(false) {
            return (401, retry_after);
        }
        (status, retry_after)
    }
}

#[tokio::test]
async fn wrong_tokens_of_every_kind_are_limited_per_address() {
    for probe in Probe::ALL {
        let server = spawn(config()).await;
        let guesser = "198.51.100.7";
        let mut statuses = Vec::with_capacity(GUESSES);
        let mut first_refusal = None;
        for guess in 0..GUESSES {
            let (status, retry_after) = probe
                .attempt(&server, guesser, &format!("guess-{guess:012}"))
                .await;
            if status == 429 && first_refusal.is_none() {
                first_refusal = Some((guess, retry_after));
            }
            statuses.push(status);
        }
        let (first, retry_after) = first_refusal
            .unwrap_or_else(|| panic!("{probe:?}: {GUESSES} wrong tokens, never a 429"));
        assert!(
            (5..=50).contains(&first),
            "{probe:?}: a few honest mistakes get 401 first, not {first}"
        );
        assert!(
            statuses[..first].iter().all(|s| *s == 401),
            "{probe:?}: {statuses:?}"
        );
        assert!(
            statuses[first..].iter().all(|s| *s == 429),
            "{probe:?}: once over, every guess is refused"
        );
        assert!(
            retry_after.is_some_and(|secs| secs >= 1),
            "{probe:?}: 429 says when to come back"
        );

        // The right token from the guessing address is refused too (no
        // oracle), and works from anywhere else.
        assert_eq!(
            probe.attempt(&server, guesser, probe.right_token()).await.0,
            429,
            "{probe:?}: the right token from the guesser"
        );
        assert_eq!(
            probe
                .attempt(&server, "203.0.113.50", probe.right_token())
                .await
                .0,
            200,
            "{probe:?}: the right token from another address"
        );

        let failures = server
            .metric(&format!(
                "pulseboard_auth_failures_total{{credential=\"{}\"}}",
                probe.credential()
            ))
            .await;
        // The 401s, and the failure that tipped the address over.
        assert_eq!(
            failures,
            (first + 1) as f64,
            "{probe:?}: each failed check is counted"
        );
        // (Logins also meet their own limit of attempts per minute.)
        let refused = server
            .metric("pulseboard_requests_refused_total{reason=\"auth_failures\"}")
            .await
            + server
                .metric("pulseboard_requests_refused_total{reason=\"login_rate\"}")
                .await;
        assert_eq!(
            refused,
            (GUESSES - first + 1) as f64,
            "{probe:?}: each 429 is counted"
        );
    }
}

#[tokio::test]
async fn failures_of_all_kinds_share_one_budget_per_address() {
    let server = spawn(config()).await;
    let guesser = "198.51.100.8";
    let mut statuses = Vec::new();
    for guess in 0..60 {
        let probe = Probe::ALL[guess % Probe::ALL.len()];
        statuses.push(
            probe
                .attempt(&server, guesser, "wrong-token-0000000")
                .await
                .0,
        );
    }
    let first = statuses
        .iter()
        .position(|s| *s == 429)
        .expect("mixed guesses are limited too");
    assert!(first <= 50, "{statuses:?}");
    // A browser with a session is not a guess: its address still views.
    let (status, _) = Probe::SessionStatus
        .attempt(&server, "192.0.2.99", VIEWER)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn short_tokens_are_refused_at_start_without_being_shown() {
    for (flag, token) in [
        ("--publish-token", "short-secret"),
        ("--viewer-token", "tiny-viewer"),
    ] {
        let (status, stderr) = run_to_exit(
            &[
                "--addr",
                "127.0.0.1:0",
                "--host-metrics",
                "false",
                flag,
                token,
            ],
            &[],
        )
        .await;
        assert!(!status.success(), "{flag} {token}: started anyway");
        assert!(
            stderr.contains("at least 16"),
            "{flag}: the error says why: {stderr}"
        );
        assert!(
            !stderr.contains(token),
            "{flag}: the token is shown: {stderr}"
        );
    }
}

#[tokio::test]
async fn a_generated_publish_token_is_kept_for_the_next_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--host-metrics",
        "false",
        "--static-dir",
        "/nonexistent",
        "--data-dir",
        path_str(dir.path()),
    ];
    let (mut first, stdout) = ServerProcess::start_bare_printing(&args, &[]).await;
    let token = printed_token(&stdout).await;
    assert_eq!(token.len(), 64);
    let file = dir.path().join("publish-token");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&file).expect("kept").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "owner-only");
    assert!(!first.log().contains(&token), "never in the log");
    first.stop("TERM").await;

    let (second, stdout) = ServerProcess::start_bare_printing(&args, &[]).await;
    let again = printed_token(&stdout).await;
    assert_eq!(again, token, "the same token after a restart");
    let answer = common::call(
        Method::POST,
        &format!("{}/api/widgets/kept", second.base),
        Some(&token),
        Some(br#"{"value": 1}"#.to_vec()),
    )
    .await;
    assert_eq!(answer.0, 200, "{answer:?}");
}

/// The token a process prints on stdout (`Publish token (…): <token>`), once
/// it has printed it.
async fn printed_token(stdout: &std::sync::Mutex<String>) -> String {
    common::eventually_some(|| {
        let printed = stdout.lock().expect("stdout").clone();
        printed
            .lines()
            .find(|line| line.starts_with("Publish token ("))
            .and_then(|line| line.rsplit_once(": "))
            .map(|(_, token)| token.to_owned())
    })
    .await
}
