//! A log: lines of text stamped with the server's time, of which the widget
//! keeps the last `max_lines`. A body appends lines; the hub trims to the bound.

use protocol::{Log, LogLine, WidgetValue, DEFAULT_LOG_LINES};
use serde::Deserialize;
use utoipa::ToSchema;

use super::change::keep;
use super::{check_chars, check_len, limits, FieldError, Omitted};

/// Lines to append: `{"line": "..."}` or `{"lines": ["...", ...]}`, and how
/// many the widget keeps (`max_lines`, default 200).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogBody {
    line: Option<String>,
    lines: Option<Vec<String>>,
    max_lines: Option<usize>,
}

impl LogBody {
    pub(super) fn into_value(self, now: i64) -> Result<(WidgetValue, Omitted), FieldError> {
        let omitted = Omitted {
            max_lines: self.max_lines.is_none(),
            ..Omitted::default()
        };
        let max_lines = self.max_lines.unwrap_or(DEFAULT_LOG_LINES);
        if !(1..=limits::LOG_LINES).contains(&max_lines) {
            return Err(FieldError::new(
                "max_lines",
                format!("must be 1 to {}", limits::LOG_LINES),
            ));
        }
        let (field, texts) = match (self.line, self.lines) {
            (Some(line), None) => ("line", vec![line]),
            (None, Some(lines)) => ("lines", lines),
            _ => {
                return Err(FieldError::new(
                    "lines",
                    "give exactly one of `line` or `lines`",
                ))
            }
        };
        // Without `max_lines`, the widget's own applies; the hub trims to it.
        let most = if omitted.max_lines {
            limits::LOG_LINES
        } else {
            max_lines
        };
        check_len(field, &texts, 1, most)?;
        let lines = texts
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                let name = match field {
                    "line" => field.to_owned(),
                    _ => format!("{field}[{i}]"),
                };
                check_chars(&name, Some(&text), limits::LOG_LINE_CHARS)?;
                Ok(LogLine { at: now, text })
            })
            .collect::<Result<_, _>>()?;
        Ok((WidgetValue::Log(Log { lines, max_lines }), omitted))
    }
}

/// `max_lines` left out keeps the widget's own.
pub(super) fn keep_settings(new: &mut Log, old: &Log, omitted: Omitted) {
    keep(omitted.max_lines, &mut new.max_lines, &old.max_lines);
}
