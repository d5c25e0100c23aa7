//! A text: one block of text, replaced whole by each body.

use protocol::{Text, WidgetValue};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{check_chars, limits, FieldError};

/// `{"text": "..."}`
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    text: String,
}

impl TextBody {
    pub(super) fn into_value(self) -> Result<WidgetValue, FieldError> {
        check_chars("text", Some(&self.text), limits::TEXT_CHARS)?;
        Ok(WidgetValue::Text(Text { text: self.text }))
    }
}
