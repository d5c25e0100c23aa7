//! A number: one value, with an optional unit, previous value and thresholds.

use protocol::{Number, WidgetValue};
use serde::Deserialize;
use utoipa::ToSchema;

use super::change::keep;
use super::{check_chars, limits, FieldError, Omitted, ThresholdsBody};

/// `{"value": 42, "unit": "ms", "previous": 40, "thresholds": {...}}`
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberBody {
    value: f64,
    unit: Option<String>,
    /// Defaults to the widget's current value.
    previous: Option<f64>,
    thresholds: Option<ThresholdsBody>,
}

impl NumberBody {
    pub(super) fn into_value(self) -> Result<(WidgetValue, Omitted), FieldError> {
        check_chars("unit", self.unit.as_deref(), limits::UNIT_CHARS)?;
        let omitted = Omitted {
            unit: self.unit.is_none(),
            thresholds: self.thresholds.is_none(),
            ..Omitted::default()
        };
        let value = WidgetValue::Number(Number {
            value: self.value,
            unit: self.unit,
            previous: self.previous,
            thresholds: self.thresholds.map(Into::into),
            recent: Vec::new(),
        });
        Ok((value, omitted))
    }
}

/// The unit and thresholds left out keep the widget's own.
pub(super) fn keep_settings(new: &mut Number, old: &Number, omitted: Omitted) {
    keep(omitted.unit, &mut new.unit, &old.unit);
    keep(omitted.thresholds, &mut new.thresholds, &old.thresholds);
}
