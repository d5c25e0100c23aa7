//! Publish bodies over HTTP. The rules (kinds, inference, limits) are
//! [`crate::publish`], which knows no HTTP; this maps its errors to the API's
//! statuses and names the bodies for the OpenAPI document.

use actix_web::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::publish::{
    GaugeBody, ListBody, LogBody, NumberBody, Problem, PublishError, SeriesBody, StatusBody,
    TextBody,
};

/// A body that cannot be read is a 400; one that breaks a rule, a 422. The
/// code and message are the publish rules' own.
impl From<PublishError> for ApiError {
    fn from(error: PublishError) -> ApiError {
        let status = match error.problem {
            Problem::Syntax => StatusCode::BAD_REQUEST,
            Problem::Semantic => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, error.code, error.message)
    }
}

// The doc comments of these types are their descriptions in the OpenAPI
// document; `parse_publication` is `crate::publish::parse_publication`.

/// The publish body of each kind, for the OpenAPI document. Parsing does not
/// go through this type (see [`parse_publication`]): it names the bodies the
/// parser uses, so the document cannot drift from them.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum PublishBody {
    Number(NumberBody),
    Gauge(GaugeBody),
    Series(SeriesBody),
    List(ListBody),
    Status(StatusBody),
    Text(TextBody),
    Log(LogBody),
}

/// `POST /api/batch`: each update is a publish body plus the widget's `id`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BatchBody {
    #[schema(value_type = Vec<Object>)]
    updates: Vec<()>,
}

#[cfg(test)]
mod tests {
    use crate::publish::{parse_batch, parse_publication, KindHints};

    use super::*;

    fn status_of(error: PublishError) -> (u16, &'static str) {
        let error = ApiError::from(error);
        (error.status.as_u16(), error.code)
    }

    #[test]
    fn unreadable_bodies_are_400_and_invalid_ones_422() {
        let parse = |body: &[u8]| parse_publication(body, KindHints::default(), 7).unwrap_err();
        assert_eq!(status_of(parse(b"{")), (400, "invalid_json"));
        assert_eq!(status_of(parse(b"[1]")), (422, "invalid_value"));
        assert_eq!(
            status_of(parse(br#"{"kind": "hologram"}"#)),
            (422, "unknown_kind")
        );
        let bad_id = parse_batch(
            br#"{"updates": [{"id": "A", "value": 1}]}"#,
            |_| KindHints::default(),
            7,
        )
        .unwrap_err();
        assert_eq!(status_of(bad_id), (400, "invalid_id"));
    }

    #[test]
    fn the_message_is_the_rules_own() {
        let error = parse_publication(br#"{"value": "x"}"#, KindHints::default(), 7).unwrap_err();
        let message = error.message.clone();
        assert_eq!(ApiError::from(error).message, message);
    }
}
