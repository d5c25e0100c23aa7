//! A status: a level and an optional message, replaced whole by each body.

use protocol::{Status, StatusLevel, WidgetValue};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{check_chars, limits, FieldError};

/// `{"level": "ok" | "warn" | "critical" | "unknown", "message": "..."}`
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    level: StatusLevel,
    message: Option<String>,
}

impl StatusBody {
    pub(super) fn into_value(self) -> Result<WidgetValue, FieldError> {
        check_chars("message", self.message.as_deref(), limits::MESSAGE_CHARS)?;
        Ok(WidgetValue::Status(Status {
            level: self.level,
            message: self.message,
        }))
    }
}
