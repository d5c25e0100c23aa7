//! `POST /api/widgets/{id}`: set a widget's value.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use protocol::{Update, WidgetId, WidgetValue};
use serde::Deserialize;

use super::{ApiError, PublishTokens};
use crate::hub::{unix_ms, Hub, HubError};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A widget value as published: the value's own fields, tagged by `kind`, plus
/// an optional title.
#[derive(Deserialize)]
struct PublishBody {
    #[serde(default)]
    title: Option<String>,
    #[serde(flatten)]
    value: WidgetValue,
}

pub async fn publish(
    hub: web::Data<Hub>,
    tokens: web::Data<PublishTokens>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    tokens.check(&req)?;
    let id = WidgetId::parse(id.into_inner())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_id", e.to_string()))?;
    let body = read_body(payload, MAX_BODY_BYTES).await?;
    let PublishBody { title, value } = parse_body(&body)?;
    let update = Update {
        id: id.clone(),
        title,
        value,
        at: unix_ms(),
    };
    let event_id = hub.publish(update).map_err(|error| match error {
        HubError::NonFinite(field) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!("`{field}` must be a finite number"),
        ),
        HubError::Encode(error) => {
            tracing::error!(%error, "could not encode an update");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "could not encode the update",
            )
        }
    })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "widget": id,
        "event_id": event_id.to_string(),
    })))
}

/// Reads at most `limit` bytes, refusing (413) rather than buffering more.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
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

/// Malformed JSON is a 400; well-formed JSON that is not a widget value, a 422.
fn parse_body(body: &[u8]) -> Result<PublishBody, ApiError> {
    let parsed: PublishBody = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_value",
                e.to_string(),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string())
        }
    })?;
    if matches!(parsed.value, WidgetValue::Unknown) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            "`kind` must be one of number, gauge, series, list, status, text",
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_malformed_json_from_a_wrong_value() {
        assert_eq!(parse_body(b"{\"kind\":").err().unwrap().status, 400);
        assert_eq!(parse_body(b"not json").err().unwrap().status, 400);
        let wrong_type = parse_body(br#"{"kind":"number","value":"high"}"#);
        assert_eq!(wrong_type.err().unwrap().status, 422);
        let unknown_kind = parse_body(br#"{"kind":"hologram"}"#);
        assert_eq!(unknown_kind.err().unwrap().status, 422);
        let ok = parse_body(br#"{"kind":"number","value":42,"title":"Answer"}"#).unwrap();
        assert_eq!(ok.title.as_deref(), Some("Answer"));
    }
}
