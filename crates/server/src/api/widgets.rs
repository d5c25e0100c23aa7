//! The widget endpoints: set, read and delete widgets, one or many at a time.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use protocol::{EventId, Widget, WidgetId};
use serde::Serialize;
use utoipa::ToSchema;

#[allow(unused_imports)] // named in the OpenAPI attributes
use super::body::{BatchBody, PublishBody};
use super::idempotency_key;
use super::request_body::{self, BodyLimits};
use super::PublishTokens;
use crate::access::ViewerAccess;
use crate::error::ApiError;
use crate::error::ErrorBody;
use crate::hub::{unix_ms, Hub};
use crate::limits::RateLimits;
use crate::log::{Append, AppendError, Appended, Log};
use crate::publish::{self, Publication};

/// `POST /api/widgets/{id}` answers with the event that carries the change.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub widget: WidgetId,
    pub event_id: String,
}

/// `POST /api/batch` answers with one event id per update, in order.
#[derive(Serialize, ToSchema)]
pub struct BatchAccepted {
    pub event_ids: Vec<String>,
}

/// `GET /api/widgets`: every widget, and the id of the last change they include
/// (a stream resumed from it continues exactly from this state).
#[derive(Serialize, ToSchema)]
pub struct WidgetList {
    pub epoch: String,
    pub last_event_id: Option<String>,
    pub widgets: Vec<Widget>,
}

/// The `Idempotency-Key` header, as the OpenAPI document describes it.
const IDEMPOTENCY_KEY: &str = "1 to 255 printable ASCII characters, no spaces. A retry of the same request (method, path, body) with the same key, within the history window, is answered with the first answer's event ids and `Idempotent-Replayed: true`, and applied only once; the same key with another request is a 422 idempotency_key_reused";

/// Set a widget's value.
///
/// The body is the value's fields plus optional `kind`, `title` and
/// `expect_every` (seconds). The kind is the explicit `kind`, else the kind
/// the widget is declared with, else inferred from the fields (docs/api.md).
#[utoipa::path(
    post, path = "/api/widgets/{id}", tag = "widgets",
    params(
        ("id" = String, Path, description = "widget id: [a-z0-9][a-z0-9_.-]{0,63}"),
        ("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY),
    ),
    request_body(content = PublishBody, description = "one of the kinds' bodies"),
    responses(
        (status = 200, description = "applied and sent to every viewer; or, with `Idempotent-Replayed: true`, a retry answered with the first event id and not applied again", body = Accepted),
        (status = 400, description = "invalid_json, invalid_id, invalid_idempotency_key", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 408, description = "body_timeout", body = ErrorBody),
        (status = 413, description = "body_too_large", body = ErrorBody),
        (status = 422, description = "invalid_value, unknown_kind, kind_mismatch, too_many_widgets, idempotency_key_reused", body = ErrorBody),
        (status = 429, description = "rate_limited, with `Retry-After`", body = ErrorBody),
        (status = 503, description = "storage_unavailable, with `Retry-After`: nothing was applied", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn publish(
    request: HttpRequest,
    hub: web::Data<Hub>,
    log: web::Data<Log>,
    permit: PublishPermit,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limits = permit.admit()?;
    let id = parse_id(id.into_inner())?;
    let body = request_body::read(payload, limits).await?;
    let once = idempotency_key::of(&request, &body)?;
    let now = unix_ms();
    let publication = publish::parse_publication(&body, hub.kind_hints(&id), now)?;
    let change = publication.into_change(id.clone(), now);
    let appended = log
        .append_once(Append::Set(vec![change]), once)
        .await
        .map_err(|e| refused(e, "", &hub))?;
    accepted(id, appended)
}

/// The answer to a publish or delete of one widget.
fn accepted(widget: WidgetId, appended: Appended) -> Result<HttpResponse, ApiError> {
    let event_id = appended.ids.first().ok_or_else(no_id)?;
    let mut response = HttpResponse::Ok().json(Accepted {
        widget,
        event_id: event_id.to_string(),
    });
    idempotency_key::mark_replayed(&mut response, appended.replayed);
    Ok(response)
}

fn no_id() -> ApiError {
    tracing::error!("the log answered an append with no event id");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the update was stored but no event id came back",
    )
}

/// Apply many updates in order, all or nothing, each with its own event id.
#[utoipa::path(
    post, path = "/api/batch", tag = "widgets",
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY)),
    request_body(content = BatchBody),
    responses(
        (status = 200, description = "all applied; or, with `Idempotent-Replayed: true`, a retry answered with the first event ids and not applied again", body = BatchAccepted),
        (status = 400, description = "invalid_json, invalid_id, invalid_idempotency_key", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 408, description = "body_timeout", body = ErrorBody),
        (status = 413, description = "body_too_large", body = ErrorBody),
        (status = 422, description = "an update is invalid (`updates[i].field`), none applied; or idempotency_key_reused", body = ErrorBody),
        (status = 429, description = "rate_limited, with `Retry-After`", body = ErrorBody),
        (status = 503, description = "storage_unavailable, with `Retry-After`: nothing was applied", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn publish_batch(
    request: HttpRequest,
    hub: web::Data<Hub>,
    log: web::Data<Log>,
    permit: PublishPermit,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limits = permit.admit()?;
    let body = request_body::read(payload, limits).await?;
    let once = idempotency_key::of(&request, &body)?;
    let now = unix_ms();
    let changes = publish::parse_batch(&body, |id| hub.kind_hints(id), now)?
        .into_iter()
        .map(|(id, publication): (WidgetId, Publication)| publication.into_change(id, now))
        .collect();
    let appended = log
        .append_once(Append::Set(changes), once)
        .await
        .map_err(|e| refused(e, "updates[{item}].", &hub))?;
    let mut response = HttpResponse::Ok().json(BatchAccepted {
        event_ids: appended.ids.iter().map(EventId::to_string).collect(),
    });
    idempotency_key::mark_replayed(&mut response, appended.replayed);
    Ok(response)
}

/// Every widget, in display order.
#[utoipa::path(get, path = "/api/widgets", tag = "widgets",
    responses(
        (status = 200, body = WidgetList),
        (status = 401, description = "unauthorized: viewer tokens are set and this request has no session", body = ErrorBody),
        (status = 429, description = "rate_limited: too many failed token checks from this address, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn list(
    hub: web::Data<Hub>,
    viewers: web::Data<ViewerAccess>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    viewers.check(&req)?;
    let contents = hub.contents();
    Ok(HttpResponse::Ok().json(WidgetList {
        epoch: hub.epoch(),
        last_event_id: contents.last_event_id.map(|id| id.to_string()),
        widgets: contents.widgets,
    }))
}

/// One widget.
#[utoipa::path(get, path = "/api/widgets/{id}", tag = "widgets",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Widget),
        (status = 400, description = "invalid_id", body = ErrorBody),
        (status = 401, description = "unauthorized: viewer tokens are set and this request has no session", body = ErrorBody),
        (status = 429, description = "rate_limited: too many failed token checks from this address, with `Retry-After`", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn get(
    hub: web::Data<Hub>,
    viewers: web::Data<ViewerAccess>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    viewers.check(&req)?;
    let id = parse_id(id.into_inner())?;
    let widget = hub.widget(&id).ok_or_else(|| not_found(&id))?;
    Ok(HttpResponse::Ok().json(widget))
}

/// Delete a widget; viewers get a `remove` event.
#[utoipa::path(delete, path = "/api/widgets/{id}", tag = "widgets",
    params(
        ("id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY),
    ),
    responses(
        (status = 200, description = "removed; or, with `Idempotent-Replayed: true`, a retry answered with the first event id", body = Accepted),
        (status = 400, description = "invalid_id, invalid_idempotency_key", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 422, description = "idempotency_key_reused", body = ErrorBody),
        (status = 429, description = "rate_limited, with `Retry-After`", body = ErrorBody),
        (status = 503, description = "storage_unavailable, with `Retry-After`: nothing was applied", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn delete(
    request: HttpRequest,
    hub: web::Data<Hub>,
    log: web::Data<Log>,
    permit: PublishPermit,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    permit.admit()?;
    let id = parse_id(id.into_inner())?;
    let once = idempotency_key::of(&request, &[])?;
    let appended = log
        .append_once(Append::Remove(id.clone()), once)
        .await
        .map_err(|e| refused(e, "", &hub))?;
    accepted(id, appended)
}

fn parse_id(id: String) -> Result<WidgetId, ApiError> {
    WidgetId::parse(id)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_id", e.to_string()))
}

fn not_found(id: &WidgetId) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("there is no widget `{id}`"),
    )
}

/// Why the log refused a change that parsed. `item_prefix` names a batch
/// item in messages (`{item}` is replaced by its index).
fn refused(error: AppendError, item_prefix: &str, hub: &Hub) -> ApiError {
    if let AppendError::Unavailable(_) = error {
        hub.metrics()
            .requests_refused
            .with_label_values(&["storage_unavailable"])
            .inc();
    }
    match error {
        AppendError::NonFinite(field) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!("`{field}` must be a finite number"),
        ),
        AppendError::Conflict(conflict) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!(
                "`{}{}`: {}",
                item_prefix.replace("{item}", &conflict.item.to_string()),
                conflict.field,
                conflict.problem
            ),
        ),
        AppendError::TooManyWidgets(max) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_widgets",
            format!("this server keeps at most {max} widgets (--max-widgets); delete some first"),
        ),
        AppendError::NotFound(id) => not_found(&id),
        AppendError::KeyReused => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request; use a new key for a new update",
        ),
        AppendError::Unavailable(problem) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            format!("the update could not be stored, so it was not applied ({problem}); try again later"),
        )
        .retry_after(std::time::Duration::from_secs(1)),
        AppendError::Encode(error) => {
            tracing::error!(%error, "could not encode an update");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "could not encode the update",
            )
        }
    }
}

/// A permit to publish, which a request needs before its body is read: its
/// token, checked, then counted against that token's rate.
pub struct PublishPermit {
    token: Result<usize, ApiError>,
    rates: web::Data<RateLimits>,
    limits: BodyLimits,
}

impl PublishPermit {
    /// The body limits if the request's token is valid and within its rate.
    fn admit(self) -> Result<BodyLimits, ApiError> {
        self.rates.publish(self.token?)?;
        Ok(self.limits)
    }
}

impl actix_web::FromRequest for PublishPermit {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<PublishPermit, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let app_data = || -> Option<PublishPermit> {
            Some(PublishPermit {
                token: req.app_data::<web::Data<PublishTokens>>()?.check(req),
                rates: req.app_data::<web::Data<RateLimits>>()?.clone(),
                limits: *req.app_data::<web::Data<BodyLimits>>()?.get_ref(),
            })
        };
        std::future::ready(app_data().ok_or_else(|| {
            actix_web::error::ErrorInternalServerError("publish state is not configured")
        }))
    }
}
