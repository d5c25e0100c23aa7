//! What the widgets tell assistive technology where their look says more than
//! their text: a figure's level is a colour, a change's direction an arrow, a
//! gauge's position a drawn arc. Each name here is what a screen reader reads
//! for that element (`role="img"` with `aria-label`). Pure, so tested natively.

use protocol::{Gauge, Number, StatusLevel};

use crate::format::{self, Trend};
use crate::level;

/// A number's figure: its exact value and unit, then its level when its
/// thresholds make it a warning or critical: `"95 ms, critical"`. `None`
/// when that is just `exact`, the figure's tooltip, which the view then
/// shares rather than builds again (a figure renders on every update).
pub fn number(number: &Number, exact: &str) -> Option<String> {
    level_said(level::of_number(number)).map(|level| format!("{exact}, {level}"))
}

/// A change since the previous value: its direction in words and its size,
/// then, for a number with thresholds, whether it is bad news:
/// `"up 53 ms, worse"`, `"down 1.5 KiB/s"`, `"no change"`.
pub fn change(trend: Trend, amount: &str, worse: Option<bool>) -> String {
    let said = match trend {
        Trend::Up => format!("up {amount}"),
        Trend::Down => format!("down {amount}"),
        Trend::Flat => return "no change".to_owned(),
    };
    match worse {
        Some(true) => format!("{said}, worse"),
        Some(false) => format!("{said}, better"),
        None => said,
    }
}

/// A gauge, read as one image: its exact value and unit (not how full the
/// dial is drawn: a dial stops at its ends, the value does not), where that
/// sits against the range, and its level: `"72 %, range 0 % to 100 %"`,
/// `"-20 %, below the range 0 % to 100 %"`, `"150 %, above the range 0 % to
/// 100 %, critical"`.
pub fn gauge(gauge: &Gauge) -> String {
    let unit = gauge.unit.as_deref();
    let (value, min, max) = (gauge.value, gauge.min, gauge.max);
    let range = format!(
        "{} to {}",
        format::exact(min, unit),
        format::exact(max, unit)
    );
    let place = if value < min {
        format!("below the range {range}")
    } else if value > max {
        format!("above the range {range}")
    } else {
        format!("range {range}")
    };
    let said = format!("{}, {place}", format::exact(value, unit));
    with_level(said, Some(level::of_gauge(gauge)))
}

/// `said`, then the level when it is one to worry about (ok needs no word;
/// unknown has none to give).
fn with_level(said: String, level: Option<StatusLevel>) -> String {
    match level_said(level) {
        Some(level) => format!("{said}, {level}"),
        None => said,
    }
}

fn level_said(level: Option<StatusLevel>) -> Option<&'static str> {
    match level? {
        StatusLevel::Warn => Some("warning"),
        StatusLevel::Critical => Some("critical"),
        StatusLevel::Ok | StatusLevel::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Thresholds;

    fn gauge_of(value: f64, min: f64, max: f64, unit: &str) -> Gauge {
        Gauge {
            value,
            min,
            max,
            unit: Some(unit.to_owned()),
            thresholds: None,
        }
    }

    #[test]
    fn a_gauge_is_read_with_its_value_and_unit() {
        assert_eq!(
            gauge(&gauge_of(42.5, 0.0, 100.0, "%")),
            "42.5 %, range 0 % to 100 %"
        );
        // Past its ends: the value, and which end it is past (the dial is
        // drawn empty or full).
        assert_eq!(
            gauge(&gauge_of(-20.0, 0.0, 100.0, "%")),
            "-20 %, below the range 0 % to 100 %"
        );
        assert_eq!(
            gauge(&gauge_of(150.0, 0.0, 100.0, "%")),
            "150 %, above the range 0 % to 100 %, critical"
        );
        assert_eq!(
            gauge(&gauge_of(20.0, -50.0, 50.0, "°C")),
            "20 °C, range -50 °C to 50 °C"
        );
        // Bytes: exact, not the rounded figure on the dial.
        let memory = gauge_of(1_610_612_736.0, 0.0, 2_147_483_648.0, "B");
        assert_eq!(
            gauge(&memory),
            "1,610,612,736 B, range 0 B to 2,147,483,648 B, warning"
        );
    }

    #[test]
    fn a_gauge_says_its_own_thresholds() {
        let mut free = gauge_of(8.0, 0.0, 100.0, "GiB");
        free.thresholds = Some(Thresholds {
            warn: Some(20.0),
            critical: Some(5.0),
        });
        assert_eq!(gauge(&free), "8 GiB, range 0 GiB to 100 GiB, warning");
    }

    #[test]
    fn a_number_says_its_level_only_with_thresholds() {
        // What the figure is named: the name, else its tooltip (the exact value).
        let number = |number: &Number| {
            let exact = format::exact(number.value, number.unit.as_deref());
            super::number(number, &exact).unwrap_or(exact)
        };
        let mut latency = Number {
            value: 95.0,
            unit: Some("ms".to_owned()),
            ..Number::default()
        };
        assert_eq!(number(&latency), "95 ms");
        latency.thresholds = Some(Thresholds {
            warn: Some(70.0),
            critical: Some(90.0),
        });
        assert_eq!(number(&latency), "95 ms, critical");
        latency.value = 12.25;
        assert_eq!(number(&latency), "12.25 ms");
        latency.value = f64::NAN;
        assert_eq!(number(&latency), format::NOT_A_NUMBER);
    }

    #[test]
    fn a_change_says_up_or_down() {
        assert_eq!(change(Trend::Up, "53 ms", None), "up 53 ms");
        assert_eq!(change(Trend::Down, "1.5 KiB/s", None), "down 1.5 KiB/s");
        assert_eq!(change(Trend::Up, "53 ms", Some(true)), "up 53 ms, worse");
        assert_eq!(change(Trend::Down, "3", Some(false)), "down 3, better");
        assert_eq!(change(Trend::Flat, "0 ms", None), "no change");
    }
}
