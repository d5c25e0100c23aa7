//! Response headers that limit what a browser lets pages do with ours:
//! a Content-Security-Policy, no MIME sniffing, no referrer, and CORS (closed
//! unless origins are configured).

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;

/// The SPA is same-origin wasm: its own scripts (the wasm-bindgen glue and a
/// loader file, no inline code), `'wasm-unsafe-eval'` to compile the module,
/// its stylesheet, and `connect-src 'self'` for the stream and the API.
pub fn content_security_policy(frame_ancestors: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
    )
}

/// Browsers must take the declared content type, never guess one.
pub const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

/// The header values, built once at start.
#[derive(Clone)]
pub struct SecurityHeaders {
    content_security_policy: HeaderValue,
}

impl SecurityHeaders {
    pub fn new(frame_ancestors: &str) -> SecurityHeaders {
        let policy = content_security_policy(frame_ancestors);
        SecurityHeaders {
            // The config parser refuses frame-ancestors that could not be a
            // header value; should one slip through, the policy without it
            // is still sent rather than none.
            content_security_policy: HeaderValue::from_str(&policy)
                .unwrap_or_else(|_| HeaderValue::from_static(FALLBACK_POLICY)),
        }
    }
}

const FALLBACK_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the headers to every response but the event stream's, which is
/// outside this middleware (see startup.rs) and sets `nosniff` itself:
/// EventSource reads it and no browser renders it, and any middleware layer
/// around the stream costs every viewer ~0.3 KiB for the stream's life
/// (measured with `scripts/bench.sh idle`).
pub async fn add_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let policy = req
        .app_data::<web::Data<SecurityHeaders>>()
        .map(|headers| headers.content_security_policy.clone());
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let is_event_stream = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
    if !is_event_stream {
        if let Some(policy) = policy {
            headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        }
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    Ok(response)
}

/// Cross-origin access for the configured origins only. With none, no
/// response carries `Access-Control-Allow-Origin`, so browsers keep other
/// sites' pages from reading anything; requests from unlisted origins pass
/// through untouched (same-origin pages send `Origin` too).
pub fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods([Method::GET, Method::POST, Method::DELETE])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("last-event-id"),
        ])
        .max_age(3600)
}
