//! A change to one widget as a publisher asked for it.
//!
//! A publisher may send a setting once (a gauge's range, a series' window, a
//! unit) and then only values. The settings it leaves out keep the widget's
//! current ones, if the widget already has this kind; the hub fills them in
//! under its lock, so the update that goes out says everything and viewers
//! simply replace the value.
//!
//! What a kind keeps, and what it must still hold once filled in, is that
//! kind's own rule: each kind's module has its part, and [`Change::fill_from`]
//! only picks the kind.

use protocol::{Update, WidgetValue};

use super::{gauge, log, number, series};

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub update: Update,
    pub omitted: Omitted,
}

impl From<Update> for Change {
    /// An update that states every setting it means (a built-in source's).
    fn from(update: Update) -> Change {
        Change {
            update,
            omitted: Omitted::default(),
        }
    }
}

/// The settings a publish left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Omitted {
    pub unit: bool,
    pub thresholds: bool,
    pub min: bool,
    pub max: bool,
    pub window: bool,
    pub max_lines: bool,
}

/// A change that parsed but cannot apply to the widget as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Which of the changes published together (0 for a single publish).
    pub item: usize,
    pub field: &'static str,
    pub problem: String,
}

impl Change {
    /// Takes the settings the publisher left out from `current`, the value the
    /// widget has before this change, and checks the result still holds. The
    /// points or lines of the update are trimmed to the bound that applies, so
    /// the update viewers get says exactly what the widget keeps.
    pub fn fill_from(&mut self, current: Option<&WidgetValue>) -> Result<(), Conflict> {
        let o = self.omitted;
        // The settings left out, from the widget's value if it has this kind.
        match (&mut self.update.value, current) {
            (WidgetValue::Number(new), Some(WidgetValue::Number(old))) => {
                number::keep_settings(new, old, o)
            }
            (WidgetValue::Gauge(new), Some(WidgetValue::Gauge(old))) => {
                gauge::keep_settings(new, old, o)
            }
            (WidgetValue::Series(new), Some(WidgetValue::Series(old))) => {
                series::keep_settings(new, old, o)?
            }
            (WidgetValue::Log(new), Some(WidgetValue::Log(old))) => log::keep_settings(new, old, o),
            _ => {}
        }
        // Then the bounds of the value as it now stands.
        match &mut self.update.value {
            WidgetValue::Series(new) => new.trim(),
            WidgetValue::Log(new) => new.trim(),
            WidgetValue::Gauge(new) => gauge::check_range(new)?,
            _ => {}
        }
        Ok(())
    }
}

/// Sets `new` to `old` if the publisher left the setting out.
pub(super) fn keep<T: Clone>(omitted: bool, new: &mut T, old: &T) {
    if omitted {
        new.clone_from(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::limits;
    use protocol::{Gauge, Log, LogLine, Point, Series, SeriesLine, WidgetId};

    fn change(value: WidgetValue, omitted: Omitted) -> Change {
        Change {
            update: Update {
                id: WidgetId::parse("w").unwrap(),
                title: None,
                value,
                at: 1,
                expect_every: None,
            },
            omitted,
        }
    }

    fn gauge(min: f64, max: f64, unit: Option<&str>) -> WidgetValue {
        WidgetValue::Gauge(Gauge {
            value: 5.0,
            min,
            max,
            unit: unit.map(Into::into),
            thresholds: None,
        })
    }

    #[test]
    fn left_out_settings_keep_the_widgets_own() {
        let all = Omitted {
            unit: true,
            thresholds: true,
            min: true,
            max: true,
            window: true,
            max_lines: true,
        };
        let mut values_only = change(gauge(0.0, 100.0, None), all);
        values_only
            .fill_from(Some(&gauge(10.0, 1000.0, Some("jobs"))))
            .unwrap();
        assert_eq!(values_only.update.value, gauge(10.0, 1000.0, Some("jobs")));

        let mut explicit = change(gauge(0.0, 50.0, Some("%")), Omitted::default());
        explicit
            .fill_from(Some(&gauge(10.0, 1000.0, Some("jobs"))))
            .unwrap();
        assert_eq!(explicit.update.value, gauge(0.0, 50.0, Some("%")));

        let log = |max_lines| {
            WidgetValue::Log(Log {
                lines: vec![LogLine {
                    at: 1,
                    text: "x".into(),
                }],
                max_lines,
            })
        };
        let mut tail = change(log(200), all);
        tail.fill_from(Some(&log(20))).unwrap();
        assert_eq!(tail.update.value, log(20));
    }

    #[test]
    fn a_gauge_range_that_ends_up_empty_is_refused() {
        let omitted_max = Omitted {
            max: true,
            ..Omitted::default()
        };
        let mut min_above_kept_max = change(gauge(50.0, 100.0, None), omitted_max);
        let conflict = min_above_kept_max
            .fill_from(Some(&gauge(0.0, 20.0, None)))
            .unwrap_err();
        assert_eq!(conflict.field, "max");
    }

    #[test]
    fn a_series_cannot_grow_past_its_line_limit() {
        let series = |names: std::ops::Range<usize>| {
            WidgetValue::Series(Series {
                lines: names
                    .map(|i| SeriesLine {
                        name: format!("l{i}"),
                        points: vec![Point(1, 1.0)],
                    })
                    .collect(),
                window: 10,
                unit: None,
            })
        };
        let full = series(0..limits::SERIES_LINES);
        let mut same_lines = change(series(0..3), Omitted::default());
        assert!(same_lines.fill_from(Some(&full)).is_ok());
        let mut one_more = change(series(3..limits::SERIES_LINES + 1), Omitted::default());
        assert_eq!(one_more.fill_from(Some(&full)).unwrap_err().field, "lines");
    }
}
