//! The `Idempotency-Key` request header of publishes: a publisher that could
//! not tell whether its update was applied (its instance died mid-request;
//! nginx answered 502) sends it again with the same key, and the update is
//! applied once and answered with the first event ids.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::log::Idempotency;

pub const HEADER: &str = "idempotency-key";
/// Set on the answer to a retry: nothing was applied this time.
pub const REPLAYED: &str = "idempotent-replayed";
/// Long enough for a UUID or a job name with a counter, short enough that
/// remembering keys stays cheap.
const MAX_LEN: usize = 255;

/// The request's key, with a digest of the request (method, path, body) so
/// that reusing a key for another update is refused rather than answered
/// with the wrong ids.
pub fn of(request: &HttpRequest, body: &[u8]) -> Result<Option<Idempotency>, ApiError> {
    let mut values = request.headers().get_all(HEADER);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = |problem: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            format!("Idempotency-Key {problem}"),
        )
    };
    if values.next().is_some() {
        return Err(invalid("is sent more than once"));
    }
    let key = value
        .to_str()
        .ok()
        .filter(|key| key.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| invalid("must be printable ASCII without spaces"))?;
    if key.is_empty() || key.len() > MAX_LEN {
        return Err(invalid(&format!("must be 1 to {MAX_LEN} characters long")));
    }
    let mut digest = Sha256::new();
    digest.update(request.method().as_str());
    digest.update(b" ");
    digest.update(request.path());
    digest.update(b"\n");
    digest.update(body);
    let request = digest
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(Some(Idempotency {
        key: key.to_owned(),
        request,
    }))
}

/// Marks the answer to a retry.
pub fn mark_replayed(response: &mut HttpResponse, replayed: bool) {
    if replayed {
        response.headers_mut().insert(
            HeaderName::from_static(REPLAYED),
            HeaderValue::from_static("true"),
        );
    }
}
