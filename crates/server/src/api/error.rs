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
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized() -> ApiError {
        // The same body whether the token is missing or wrong: no oracle.
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "publishing needs a valid `Authorization: Bearer <token>` header",
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        // Logged once, here; a client error is the client's business, so info.
        tracing::info!(status = self.status.as_u16(), code = self.code, message = %self.message, "request refused");
        HttpResponse::build(self.status).json(ErrorBody {
            error: self.code.to_owned(),
            message: self.message.clone(),
        })
    }
}
