//! Reading a request body: at most `--max-body-bytes`, within
//! `--body-timeout`, so neither a huge body nor a trickling one ties up the
//! server.

use actix_web::http::StatusCode;
use actix_web::web;
use futures_util::StreamExt;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: std::time::Duration,
}

/// Reads the whole body, refusing (413) rather than buffering more than the
/// limit, and (408) one that takes longer than the timeout to arrive.
pub async fn read(payload: web::Payload, limits: BodyLimits) -> Result<web::BytesMut, ApiError> {
    tokio::time::timeout(limits.timeout, read_at_most(payload, limits.max_bytes))
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the body did not arrive within {} (--body-timeout)",
                    humantime::format_duration(limits.timeout)
                ),
            ))
        })
}

async fn read_at_most(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_body",
                format!("could not read the body: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body must be at most {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
