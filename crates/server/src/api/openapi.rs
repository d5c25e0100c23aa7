//! `GET /api/openapi.json`: the API described from the handlers and the types
//! they parse and answer with, so the document cannot drift from the code.

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{dashboards, session, widgets};
use crate::routes::events;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pulseboard",
        description = "Push values to widgets; every open dashboard sees them at once. Field rules, \
                       kind inference and examples: docs/api.md. The event stream: docs/protocol.md."
    ),
    paths(
        widgets::publish,
        widgets::publish_batch,
        widgets::list,
        widgets::get,
        widgets::delete,
        dashboards::list,
        session::status,
        session::login,
        session::logout,
        events::stream_events,
    ),
    modifiers(&BearerToken),
)]
pub struct ApiDoc;

/// Publishing needs `Authorization: Bearer <token>`.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
