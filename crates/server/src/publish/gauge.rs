//! A gauge: a value within a range, with an optional unit and thresholds.

use protocol::{Gauge, WidgetValue};
use serde::Deserialize;
use utoipa::ToSchema;

use super::change::{keep, Conflict};
use super::{check_chars, limits, FieldError, Omitted, ThresholdsBody};

/// `{"value": 7, "min": 0, "max": 10, "unit": "jobs", "thresholds": {...}}`
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GaugeBody {
    value: f64,
    min: Option<f64>,
    max: Option<f64>,
    unit: Option<String>,
    thresholds: Option<ThresholdsBody>,
}

impl GaugeBody {
    /// The range defaults to 0–100 for a new gauge; the hub checks it once the
    /// widget's own range has filled what was left out.
    pub(super) fn into_value(self) -> Result<(WidgetValue, Omitted), FieldError> {
        check_chars("unit", self.unit.as_deref(), limits::UNIT_CHARS)?;
        if let (Some(min), Some(max)) = (self.min, self.max) {
            if max <= min {
                return Err(FieldError::new(
                    "max",
                    format!("must be greater than `min` ({min})"),
                ));
            }
        }
        let omitted = Omitted {
            unit: self.unit.is_none(),
            thresholds: self.thresholds.is_none(),
            min: self.min.is_none(),
            max: self.max.is_none(),
            ..Omitted::default()
        };
        let value = WidgetValue::Gauge(Gauge {
            value: self.value,
            min: self.min.unwrap_or(0.0),
            max: self.max.unwrap_or(100.0),
            unit: self.unit,
            thresholds: self.thresholds.map(Into::into),
        });
        Ok((value, omitted))
    }
}

/// The unit, thresholds and either end of the range left out keep the
/// widget's own.
pub(super) fn keep_settings(new: &mut Gauge, old: &Gauge, omitted: Omitted) {
    keep(omitted.unit, &mut new.unit, &old.unit);
    keep(omitted.thresholds, &mut new.thresholds, &old.thresholds);
    keep(omitted.min, &mut new.min, &old.min);
    keep(omitted.max, &mut new.max, &old.max);
}

/// The range, once complete, must not be empty: one end given and the other
/// kept from the widget may cross.
pub(super) fn check_range(gauge: &Gauge) -> Result<(), Conflict> {
    if gauge.max <= gauge.min {
        return Err(Conflict {
            item: 0,
            field: "max",
            problem: format!(
                "must be greater than `min` ({}; the widget's, if not given)",
                gauge.min
            ),
        });
    }
    Ok(())
}
