//! A list: rows of a label and a value, replaced whole by each body.

use protocol::{List, ListRow, WidgetValue};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{check_chars, check_len, limits, FieldError};

/// `{"rows": [{"label": "/home", "value": "1,204"}, ...]}`; a numeric value is
/// shown in its shortest form (`1.50` as `1.5`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBody {
    rows: Vec<RowBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowBody {
    label: String,
    /// A string, or a number (shown in its shortest form).
    #[schema(value_type = String)]
    value: StringOrNumber,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum StringOrNumber {
    String(String),
    Number(serde_json::Number),
}

impl ListBody {
    pub(super) fn into_value(self) -> Result<WidgetValue, FieldError> {
        check_len("rows", &self.rows, 0, limits::LIST_ROWS)?;
        let rows = self
            .rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let value = match row.value {
                    StringOrNumber::String(s) => s,
                    StringOrNumber::Number(n) => n.to_string(),
                };
                check_chars(
                    &format!("rows[{i}].label"),
                    Some(&row.label),
                    limits::LABEL_CHARS,
                )?;
                check_chars(
                    &format!("rows[{i}].value"),
                    Some(&value),
                    limits::LABEL_CHARS,
                )?;
                Ok(ListRow {
                    label: row.label,
                    value,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(WidgetValue::List(List { rows }))
    }
}
