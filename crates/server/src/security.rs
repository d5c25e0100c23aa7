//! Response headers that limit what a browser lets pages do with ours:
//! a Content-Security-Policy, no MIME sniffing, no referrer, and CORS (closed
//! unless origins are configured).

use actix_cors::Cors;
use actix_web::http::{header, Method};
use actix_web::middleware::DefaultHeaders;

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

/// On every response, the stream included.
pub fn headers(frame_ancestors: &str) -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(frame_ancestors),
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
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
