//! Which colour a value gets: the level (ok / warn / critical) of a status, or
//! of a number or gauge against its thresholds. Pure, so tested natively.

use protocol::{Gauge, Number, StatusLevel, Thresholds, WidgetValue};

/// Without thresholds of its own a gauge still warns when nearly full: from
/// these fractions of its range (the host's memory and disk gauges rely on it).
pub const GAUGE_WARN_AT: f64 = 0.75;
pub const GAUGE_CRITICAL_AT: f64 = 0.9;

/// The CSS modifier (and `data-level` value) of a level.
pub fn class(level: StatusLevel) -> &'static str {
    match level {
        StatusLevel::Ok => "ok",
        StatusLevel::Warn => "warn",
        StatusLevel::Critical => "critical",
        StatusLevel::Unknown => "unknown",
    }
}

/// The stylesheet's class for a level, `level--ok` … `level--unknown`
/// (static: a card renders it on every update).
pub fn css_class(level: StatusLevel) -> &'static str {
    match level {
        StatusLevel::Ok => "level--ok",
        StatusLevel::Warn => "level--warn",
        StatusLevel::Critical => "level--critical",
        StatusLevel::Unknown => "level--unknown",
    }
}

/// A number is coloured only when it has thresholds: a plain figure has no
/// "good" or "bad". A value that cannot be compared (NaN) is unknown.
pub fn of_number(number: &Number) -> Option<StatusLevel> {
    let thresholds = number.thresholds?;
    Some(against(&thresholds, number.value))
}

/// Whether a change of a number with thresholds is for the better or the
/// worse: towards `critical` is worse (downwards when low values are the bad
/// ones). `None` without thresholds, or for no change.
pub fn change_is_worse(number: &Number, previous: f64) -> Option<bool> {
    let low_is_bad = number.thresholds?.low_is_bad();
    let rose = number.value > previous;
    (number.value != previous).then_some(rose != low_is_bad)
}

/// A gauge's own thresholds, else the default fractions of its range (none
/// for a range that is empty or upside down: it has no "nearly full").
pub fn of_gauge(gauge: &Gauge) -> StatusLevel {
    let thresholds = gauge.thresholds.unwrap_or_else(|| {
        let span = gauge.max - gauge.min;
        let at = |fraction: f64| (span > 0.0).then_some(gauge.min + span * fraction);
        Thresholds {
            warn: at(GAUGE_WARN_AT),
            critical: at(GAUGE_CRITICAL_AT),
        }
    });
    against(&thresholds, gauge.value)
}

/// The level a card announces (outline, `data-level`): a status always, a
/// number or gauge only when it was given thresholds, so a host gauge that is
/// merely full-ish does not outline its card like a declared alarm.
pub fn of_value(value: &WidgetValue) -> Option<StatusLevel> {
    match value {
        WidgetValue::Status(status) => Some(status.level),
        WidgetValue::Number(number) => of_number(number),
        WidgetValue::Gauge(gauge) if gauge.thresholds.is_some() => Some(of_gauge(gauge)),
        _ => None,
    }
}

fn against(thresholds: &Thresholds, value: f64) -> StatusLevel {
    if value.is_finite() {
        thresholds.level(value)
    } else {
        StatusLevel::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Status;

    fn thresholds(warn: f64, critical: f64) -> Option<Thresholds> {
        Some(Thresholds {
            warn: Some(warn),
            critical: Some(critical),
        })
    }

    fn number(value: f64, thresholds: Option<Thresholds>) -> Number {
        Number {
            value,
            thresholds,
            ..Number::default()
        }
    }

    #[test]
    fn a_change_towards_critical_is_worse() {
        let latency = number(120.0, thresholds(100.0, 250.0));
        assert_eq!(change_is_worse(&latency, 90.0), Some(true));
        assert_eq!(change_is_worse(&latency, 150.0), Some(false));
        assert_eq!(change_is_worse(&latency, 120.0), None);
        let free_disk = number(15.0, thresholds(20.0, 5.0));
        assert_eq!(change_is_worse(&free_disk, 30.0), Some(true));
        assert_eq!(change_is_worse(&free_disk, 10.0), Some(false));
        assert_eq!(change_is_worse(&number(3.0, None), 1.0), None);
    }

    fn gauge(value: f64, thresholds: Option<Thresholds>) -> Gauge {
        Gauge {
            value,
            min: 0.0,
            max: 200.0,
            unit: None,
            thresholds,
        }
    }

    #[test]
    fn numbers_are_coloured_only_with_thresholds() {
        assert_eq!(of_number(&number(95.0, None)), None);
        let t = thresholds(70.0, 90.0);
        assert_eq!(of_number(&number(69.9, t)), Some(StatusLevel::Ok));
        assert_eq!(of_number(&number(70.0, t)), Some(StatusLevel::Warn));
        assert_eq!(of_number(&number(90.0, t)), Some(StatusLevel::Critical));
        assert_eq!(of_number(&number(f64::NAN, t)), Some(StatusLevel::Unknown));
    }

    #[test]
    fn low_is_bad_when_warn_is_above_critical() {
        let free_disk = thresholds(20.0, 5.0);
        assert_eq!(of_number(&number(50.0, free_disk)), Some(StatusLevel::Ok));
        assert_eq!(of_number(&number(20.0, free_disk)), Some(StatusLevel::Warn));
        assert_eq!(
            of_number(&number(4.0, free_disk)),
            Some(StatusLevel::Critical)
        );
    }

    #[test]
    fn gauges_default_to_fractions_of_their_range() {
        // 0..200: warn from 150, critical from 180.
        assert_eq!(of_gauge(&gauge(149.0, None)), StatusLevel::Ok);
        assert_eq!(of_gauge(&gauge(150.0, None)), StatusLevel::Warn);
        assert_eq!(of_gauge(&gauge(180.0, None)), StatusLevel::Critical);
        assert_eq!(of_gauge(&gauge(500.0, None)), StatusLevel::Critical);
        let empty_range = Gauge {
            max: 0.0,
            ..gauge(5.0, None)
        };
        assert_eq!(of_gauge(&empty_range), StatusLevel::Ok);
        // Their own thresholds win.
        assert_eq!(
            of_gauge(&gauge(150.0, thresholds(160.0, 190.0))),
            StatusLevel::Ok
        );
        assert_eq!(
            of_gauge(&gauge(10.0, thresholds(20.0, 5.0))),
            StatusLevel::Warn
        );
    }

    #[test]
    fn cards_announce_statuses_and_declared_alarms_only() {
        let status = WidgetValue::Status(Status {
            level: StatusLevel::Warn,
            message: None,
        });
        assert_eq!(of_value(&status), Some(StatusLevel::Warn));
        assert_eq!(of_value(&WidgetValue::Gauge(gauge(190.0, None))), None);
        assert_eq!(
            of_value(&WidgetValue::Gauge(gauge(190.0, thresholds(100.0, 150.0)))),
            Some(StatusLevel::Critical)
        );
        assert_eq!(
            of_value(&WidgetValue::Number(number(1.0, thresholds(2.0, 3.0)))),
            Some(StatusLevel::Ok)
        );
        assert_eq!(of_value(&WidgetValue::Unknown), None);
    }
}
