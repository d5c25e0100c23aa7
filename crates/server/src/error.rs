//! The one error shape of the HTTP API: a status and
//! `{"error": "<code>", "message": "<human text>"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable and machine-readable, e.g. `invalid_json`.
    pub error: String,
    /// What is wrong, for a human; names the field at fault.
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable and machine-readable, e.g. `invalid_json`.
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` (whole seconds): when a refused client may try again.
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, wait: std::time::Duration) -> ApiError {
        self.retry_after = Some(wait);
        self
    }

    pub fn unauthorized() -> ApiError {
        // The same body whether the token is missing or wrong: no oracle.
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "publishing needs a valid `Authorization: Bearer <token>` header",
        )
    }

    pub fn unauthorized_viewer() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "viewing needs a session (POST /api/session with a viewer token) or `Authorization: Bearer <viewer token>`",
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        // Also for the stream's refusals, which no other middleware sees.
        response.insert_header((
            actix_web::http::header::X_CONTENT_TYPE_OPTIONS,
            crate::security::NOSNIFF,
        ));
        if let Some(wait) = self.retry_after {
            // Rounded up: a client retrying after 0 s would just be refused again.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.insert_header((actix_web::http::header::RETRY_AFTER, secs.max(1)));
        }
        response.json(ErrorBody {
            error: self.code.to_owned(),
            message: self.message.clone(),
        })
    }
}
