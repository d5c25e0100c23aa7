//! `GET /api/dashboards`: the declared dashboards, the default one first.

use actix_web::{web, HttpRequest, HttpResponse};
use protocol::DashboardSpec;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::ViewerAccess;
use crate::error::ApiError;
use crate::hub::Hub;

#[derive(Serialize, ToSchema)]
pub struct DashboardList<'a> {
    pub dashboards: &'a [DashboardSpec],
}

/// The declared dashboards, in menu order; the first is the default one.
#[utoipa::path(get, path = "/api/dashboards", tag = "dashboards",
    responses(
        (status = 200, body = DashboardList),
        (status = 401, description = "unauthorized: viewer tokens are set and this request has no session", body = crate::error::ErrorBody),
        (status = 429, description = "rate_limited: too many failed token checks from this address, with `Retry-After`", body = crate::error::ErrorBody),
    ))]
pub async fn list(
    hub: web::Data<Hub>,
    viewers: web::Data<ViewerAccess>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    viewers.check(&req)?;
    Ok(HttpResponse::Ok().json(DashboardList {
        dashboards: hub.dashboards().specs(),
    }))
}
