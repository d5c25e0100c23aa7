//! The SPA's few plain HTTP requests: the viewer session (`/api/session`).
//! Everything else comes over the event stream.
//!
//! Same origin, so the browser sends and stores the HttpOnly session cookie
//! by itself (fetch's default `credentials: "same-origin"`). Plain `fetch`
//! through web-sys: gloo-net's request builder would add ~20 KiB to the
//! bundle for three requests.

use std::time::Duration;

use futures::future::{select, Either};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};
use yew::platform::time::sleep;

use crate::session::{json_string, LoginOutcome, SessionStatus};

/// Relative, like the stream's URL, so the SPA works behind a prefix-free proxy.
pub const SESSION_URL: &str = "/api/session";

/// What the session requests need from an answer.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

/// `GET /api/session`, given up on after `timeout` (a server that accepts the
/// connection but never answers must not hold back a reconnect for long).
/// `Err` for no answer, another status, or a body that is not a session.
pub async fn session_status(timeout: Duration) -> Result<SessionStatus, String> {
    let request = Box::pin(async {
        let answer = send("GET", None).await?;
        if !(200..300).contains(&answer.status) {
            return Err(format!("GET {SESSION_URL} answered {}", answer.status));
        }
        SessionStatus::parse(&answer.body)
    });
    match select(request, Box::pin(sleep(timeout))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(format!(
            "GET {SESSION_URL}: no answer within {} s",
            timeout.as_secs()
        )),
    }
}

/// `POST /api/session` with the viewer token; on success the response sets
/// the session cookie.
pub async fn log_in(token: &str) -> LoginOutcome {
    let body = format!("{{\"token\":{}}}", json_string(token));
    match send("POST", Some(&body)).await {
        Ok(answer) => {
            LoginOutcome::of_response(answer.status, answer.retry_after.as_deref(), &answer.body)
        }
        Err(_) => LoginOutcome::Failed("the server could not be reached".to_owned()),
    }
}

/// `DELETE /api/session`: whether the server confirmed (2xx) that the
/// session is over and its cookie cleared.
pub async fn log_out() -> bool {
    matches!(send("DELETE", None).await, Ok(answer) if (200..300).contains(&answer.status))
}

/// One request to [`SESSION_URL`], with a JSON body if given. `Err` when no
/// HTTP answer came (network error, server down).
async fn send(method: &str, json: Option<&str>) -> Result<Answer, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(json) = json {
        let headers = Headers::new().map_err(describe)?;
        headers
            .set("content-type", "application/json")
            .map_err(describe)?;
        init.set_headers(&headers);
        init.set_body(&JsValue::from_str(json));
    }
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(SESSION_URL, &init))
        .await
        .map_err(describe)?
        .dyn_into()
        .map_err(describe)?;
    let retry_after = response.headers().get("retry-after").ok().flatten();
    let body = match response.text() {
        Ok(text) => JsFuture::from(text)
            .await
            .ok()
            .and_then(|text| text.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Ok(Answer {
        status: response.status(),
        retry_after,
        body,
    })
}

fn describe(error: JsValue) -> String {
    error
        .as_string()
        .or_else(|| {
            error
                .dyn_ref::<js_sys::Error>()
                .map(|error| String::from(error.message()))
        })
        .unwrap_or_else(|| "the request failed".to_owned())
}
