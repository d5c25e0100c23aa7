//! Which address a request counts for (the per-address stream cap, the login
//! rate), black-box, against the real binary: a client cannot pick it by
//! sending a header, through the real nginx with the site config we ship,
//! nor straight to the server; and the header the operator chose
//! (`--client-ip-header`) is believed from trusted proxies only.
//!
//! Clients connect from different loopback addresses (127.0.0.2, ...), so
//! "the address nginx saw" and "the proxy's own address" (127.0.0.1) differ.

mod common;

use std::net::IpAddr;

use common::nginx::{Nginx, Site};
use common::process::ServerProcess;
use common::SOON;

/// Streams one address may hold in these tests.
const CAP: usize = 3;

/// The headers a client might try to name itself with, each naming
/// 203.0.113.`i`.
fn spoofed(request: reqwest::RequestBuilder, i: usize) -> reqwest::RequestBuilder {
    let ip = format!("203.0.113.{i}");
    request
        .header("CF-Connecting-IP", &ip)
        .header("True-Client-IP", &ip)
        .header("X-Real-IP", &ip)
        .header("X-Forwarded-For", &ip)
        .header("Forwarded", format!("for={ip}"))
}

/// An HTTP client whose connections come from `source` (a loopback address).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().expect("an address"))
        .build()
        .expect("a client")
}

/// The viewer token of the servers behind nginx (streams present it; where
/// viewing is open, it is not needed and does no harm).
const VIEWER: &str = "the-viewer-token";

/// Opens `count` streams from `client`, the `i`-th with `headers(i)`,
/// keeping each open; returns their statuses.
async fn open_streams(
    base: &str,
    client: &reqwest::Client,
    count: usize,
    headers: impl Fn(reqwest::RequestBuilder, usize) -> reqwest::RequestBuilder,
) -> (Vec<u16>, Vec<reqwest::Response>) {
    let mut statuses = Vec::new();
    let mut open = Vec::new();
    for i in 1..=count {
        let request = headers(client.get(format!("{base}/api/events")), i)
            .header("Accept", "text/event-stream")
            .bearer_auth(VIEWER);
        let response = tokio::time::timeout(SOON, request.send())
            .await
            .expect("stream answered within SOON")
            .expect("stream request");
        statuses.push(response.status().as_u16());
        open.push(response);
    }
    (statuses, open)
}

/// `count` login attempts with a wrong token from `client`; their statuses.
async fn login_attempts(
    base: &str,
    client: &reqwest::Client,
    count: usize,
    headers: impl Fn(reqwest::RequestBuilder, usize) -> reqwest::RequestBuilder,
) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 1..=count {
        let request = headers(client.post(format!("{base}/api/session")), i)
            .body(r#"{"token": "a-wrong-guess"}"#);
        let response = tokio::time::timeout(SOON, request.send())
            .await
            .expect("login answered within SOON")
            .expect("login request");
        statuses.push(response.status().as_u16());
    }
    statuses
}

/// The server as the docs set it up behind nginx on the same machine.
async fn server_behind_nginx(extra: &[&str]) -> (ServerProcess, Nginx) {
    let cap = CAP.to_string();
    let mut args = vec![
        "--trusted-proxy",
        "127.0.0.1",
        "--max-streams-per-ip",
        &cap,
        "--viewer-token",
        VIEWER,
    ];
    args.extend_from_slice(extra);
    let server = ServerProcess::start(&args).await;
    let nginx = Nginx::start(&Site::new(&[&server.base])).await;
    (server, nginx)
}

/// The attack of issue 12, through nginx: every request names another
/// client in every header a client could use. The streams stop at the cap
/// and the logins at the rate limit, as for any one client; and another
/// client is still counted apart, so nginx does pass the real address on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_headers_through_nginx_do_not_escape_the_per_address_limits() {
    let (server, nginx) = server_behind_nginx(&[]).await;

    let attacker = client_from("127.0.0.2");
    let (statuses, _open) = open_streams(&nginx.base, &attacker, CAP + 3, spoofed).await;
    assert_eq!(
        statuses,
        [200, 200, 200, 503, 503, 503],
        "streams from one client naming others in its headers, through nginx\n{}",
        server.log()
    );
    let (others, _open_too) =
        open_streams(&nginx.base, &client_from("127.0.0.3"), 1, spoofed).await;
    assert_eq!(others, [200], "another client has its own streams");

    let guesser = client_from("127.0.0.4");
    let statuses = login_attempts(&nginx.base, &guesser, 40, spoofed).await;
    let first_refused = statuses.iter().position(|s| *s == 429);
    assert!(
        first_refused.is_some_and(|i| i < 31),
        "40 logins from one client naming others in its headers, through nginx: {statuses:?}"
    );
    let other = login_attempts(&nginx.base, &client_from("127.0.0.5"), 1, spoofed).await;
    assert_eq!(other, [401], "another client may still try");
}

/// The shipped nginx config clears the headers a client must not set, so
/// even a server told to read `CF-Connecting-IP` (as if Cloudflare were in
/// front) does not get a client's own: it counts everyone as nginx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_nginx_config_clears_client_address_headers() {
    let (server, nginx) = server_behind_nginx(&["--client-ip-header", "CF-Connecting-IP"]).await;
    let (statuses, _open) =
        open_streams(&nginx.base, &client_from("127.0.0.2"), CAP + 1, spoofed).await;
    assert_eq!(statuses, [200, 200, 200, 503], "{}", server.log());
}

/// Straight to the server (no nginx), from a trusted proxy's address:
/// `CF-Connecting-IP` and the others are ignored unless chosen, so only
/// `X-Forwarded-For` names a client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_chosen_header_names_the_client() {
    let cap = CAP.to_string();
    let server =
        ServerProcess::start(&["--trusted-proxy", "127.0.0.1", "--max-streams-per-ip", &cap]).await;
    let proxy = client_from("127.0.0.1");
    let same = "198.51.100.1";
    let (statuses, _open) = open_streams(&server.base, &proxy, CAP + 1, |request, i| {
        let ip = format!("203.0.113.{i}");
        request
            .header("CF-Connecting-IP", &ip)
            .header("True-Client-IP", &ip)
            .header("X-Real-IP", &ip)
            .header("X-Forwarded-For", same)
    })
    .await;
    assert_eq!(
        statuses,
        [200, 200, 200, 503],
        "one X-Forwarded-For client, other headers varying"
    );
    // The default header still works: each X-Forwarded-For client is counted
    // apart.
    let (statuses, _open_too) = open_streams(&server.base, &proxy, CAP + 1, |request, i| {
        request.header("X-Forwarded-For", format!("192.0.2.{i}"))
    })
    .await;
    assert_eq!(statuses, [200; CAP + 1], "{}", server.log());
}

/// `--client-ip-header CF-Connecting-IP` (Cloudflare straight to the server):
/// believed from a trusted peer, and then it alone names the client; from
/// any other peer, ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_header_is_believed_from_trusted_peers_only() {
    let cap = CAP.to_string();
    let server = ServerProcess::start(&[
        "--client-ip-header",
        "CF-Connecting-IP",
        "--trusted-proxy",
        "127.0.0.1",
        "--max-streams-per-ip",
        &cap,
    ])
    .await;
    let cloudflare = client_from("127.0.0.1");
    let (statuses, _open) = open_streams(&server.base, &cloudflare, CAP + 1, |request, i| {
        request.header("CF-Connecting-IP", format!("203.0.113.{i}"))
    })
    .await;
    assert_eq!(
        statuses,
        [200; CAP + 1],
        "each CF-Connecting-IP its own client"
    );
    let (statuses, _open_too) = open_streams(&server.base, &cloudflare, CAP + 1, |request, i| {
        request
            .header("CF-Connecting-IP", "198.51.100.9")
            .header("X-Forwarded-For", format!("192.0.2.{i}"))
    })
    .await;
    assert_eq!(
        statuses,
        [200, 200, 200, 503],
        "X-Forwarded-For is ignored once CF-Connecting-IP is chosen"
    );
    let stranger = client_from("127.0.0.2");
    let (statuses, _open_also) = open_streams(&server.base, &stranger, CAP + 1, |request, i| {
        request.header("CF-Connecting-IP", format!("203.0.113.{}", 100 + i))
    })
    .await;
    assert_eq!(
        statuses,
        [200, 200, 200, 503],
        "CF-Connecting-IP from an untrusted peer"
    );
}
