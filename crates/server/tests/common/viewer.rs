//! A viewer's side of access control over raw HTTP: logging in, cookies as a
//! browser keeps them, and the read endpoints viewer tokens close.

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Client, Method};
use serde_json::json;

use super::{api_config, send, Answer, TestServer};
use pulseboard::Config;

/// [`api_config`] with `tokens` as viewer tokens.
pub fn viewer_config(tokens: &[&str]) -> Config {
    let mut config = api_config();
    config.viewer_tokens = tokens.iter().map(|t| t.to_string()).collect();
    config
}

/// A request with an optional `Cookie` header.
pub fn request(
    server: &TestServer,
    method: Method,
    path: &str,
    cookie: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut request = Client::new().request(method, server.url(path));
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    request
}

/// Logs in with `token`; returns the answer and the `Set-Cookie` header.
pub async fn login(
    server: &TestServer,
    token: &str,
    extra: &[(&str, &str)],
) -> (Answer, Option<String>) {
    let mut request =
        request(server, Method::POST, "/api/session", None).json(&json!({ "token": token }));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("login answered");
    let set_cookie = set_cookie_of(response.headers());
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    ((status, body), set_cookie)
}

pub fn set_cookie_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(SET_COOKIE)
        .map(|v| v.to_str().expect("ascii").to_owned())
}

/// `name=value` of a `Set-Cookie` header, as a browser sends it back.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .expect("a pair")
        .trim()
        .to_owned()
}

pub fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

/// The read endpoints a viewer uses, which viewer tokens close.
pub const READS: [&str; 4] = [
    "/api/events",
    "/api/widgets",
    "/api/widgets/cpu",
    "/api/dashboards",
];

pub async fn status_of(server: &TestServer, path: &str, cookie: Option<&str>) -> Answer {
    if path == "/api/events" {
        // Only the status and error body: a 200 stream never ends.
        let response = request(server, Method::GET, path, cookie)
            .send()
            .await
            .expect("answered");
        let status = response.status().as_u16();
        if status == 200 {
            return (status, serde_json::Value::Null);
        }
        return (status, response.json().await.unwrap_or_default());
    }
    send(request(server, Method::GET, path, cookie)).await
}
