//! `/api/session`: viewers log in with a viewer token and get a session cookie
//! (see `access::viewer`), and log out again, which revokes the session on
//! the server (through the log, so on every instance sharing it).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::request_body::{self, BodyLimits};
use crate::access::{TrustedProxies, ViewerAccess};
use crate::error::ApiError;
use crate::error::ErrorBody;
use crate::limits::RateLimits;
use crate::log::{Log, Revocation};

/// Whether this browser may view the dashboard.
#[derive(Serialize, ToSchema)]
pub struct SessionStatus {
    /// Viewers must log in (viewer tokens are configured).
    pub required: bool,
    /// This request may view: viewing is open, or it has a valid session.
    pub authenticated: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// One of the server's viewer tokens (`--viewer-token`).
    pub token: String,
}

/// Whether viewers must log in, and whether this one is. Allowed without a
/// session: the SPA asks it to decide between the login form and the
/// dashboard. A wrong `Bearer` viewer token here counts as a failed check.
#[utoipa::path(get, path = "/api/session", tag = "session",
    responses(
        (status = 200, body = SessionStatus),
        (status = 429, description = "rate_limited: too many failed token checks from this address", body = ErrorBody),
    ))]
pub async fn status(
    viewers: web::Data<ViewerAccess>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(SessionStatus {
        required: viewers.required(),
        authenticated: viewers.is_viewer(&req)?,
    }))
}

/// Log in: a valid viewer token gets an `HttpOnly; SameSite=Strict` session
/// cookie (`Secure` over https).
#[utoipa::path(post, path = "/api/session", tag = "session",
    request_body = LoginBody,
    responses(
        (status = 200, description = "logged in; the cookie is set", body = SessionStatus),
        (status = 400, description = "invalid_json", body = ErrorBody),
        (status = 401, description = "unauthorized: not a viewer token", body = ErrorBody),
        (status = 429, description = "rate_limited: too many attempts, or failed token checks, from this address", body = ErrorBody),
    ))]
pub async fn login(
    viewers: web::Data<ViewerAccess>,
    rates: web::Data<RateLimits>,
    proxies: web::Data<TrustedProxies>,
    limits: web::Data<BodyLimits>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if let Some(client) = proxies.client_ip(&req) {
        rates.login(client)?;
    }
    let body = request_body::read(payload, **limits).await?;
    let LoginBody { token } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("expected {{\"token\": \"...\"}}: {e}"),
        )
    })?;
    if !viewers.required() {
        return Ok(HttpResponse::Ok().json(SessionStatus {
            required: false,
            authenticated: true,
        }));
    }
    let cookie = viewers.login(&token, &req)?;
    Ok(HttpResponse::Ok().cookie(cookie).json(SessionStatus {
        required: true,
        authenticated: true,
    }))
}

/// Log out: the session is revoked on the server (its cookie no longer
/// passes anywhere, and its open streams end) and the browser forgets it.
#[utoipa::path(delete, path = "/api/session", tag = "session",
    responses(
        (status = 200, body = SessionStatus),
        (status = 503, description = "storage_unavailable: the revocation could not be stored, so the session still holds; try again", body = ErrorBody),
    ))]
pub async fn logout(
    viewers: web::Data<ViewerAccess>,
    log: web::Data<Log>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if let Some(session) = viewers.session(&req) {
        let revocation = Revocation {
            id: session.id,
            expires: session.expires,
        };
        log.revoke(revocation).await.map_err(|error| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                format!("the logout could not be stored, so the session still holds ({error}); try again"),
            )
            .retry_after(std::time::Duration::from_secs(1))
        })?;
    }
    Ok(HttpResponse::Ok()
        .cookie(viewers.logout_cookie(&req))
        .json(SessionStatus {
            required: viewers.required(),
            authenticated: !viewers.required(),
        }))
}
