//! Turning raw figures into the text a viewer reads. Pure functions, so every rule
//! here is unit-tested natively.
//!
//! Units the dashboard understands (anything else is printed after the number):
//! - `"B"` and `"B/s"`: binary byte multiples, `"1.5 GiB"`, `"320 KiB/s"`;
//! - `"s"`: a duration, `"3d 4h"`, `"5h 12m"`, `"42s"`;
//! - `"%"`: one decimal, `"12.3 %"`.

/// Shown for values that cannot be printed (NaN, infinities).
pub const NOT_A_NUMBER: &str = "–";

const BYTE_UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// A value with its unit, as the main figure of a widget.
pub fn value(value: f64, unit: Option<&str>) -> String {
    if !value.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    match unit.map(str::trim) {
        None | Some("") => number(value),
        Some("B") => bytes(value),
        Some("B/s") => format!("{}/s", bytes(value)),
        Some("s") => duration(value),
        Some("%") => format!("{} %", fixed(value, 1)),
        Some(other) => format!("{} {other}", number(value)),
    }
}

/// [`value`] split for display: the figure, and a free-form unit to be shown
/// smaller after it (`"12,887"`, `Some("orders")`). Units with their own
/// formatting (bytes, durations, percent) stay in the figure.
pub fn value_parts(value: f64, unit: Option<&str>) -> (String, Option<String>) {
    match unit.map(str::trim) {
        Some(u) if value.is_finite() && !u.is_empty() && !matches!(u, "B" | "B/s" | "s" | "%") => {
            (number(value), Some(u.to_owned()))
        }
        _ => (self::value(value, unit), None),
    }
}

/// A label on a chart's value axis. Axis bounds are round numbers, so a
/// percentage drops the decimal the main figure keeps: `"100 %"`, not `"100.0 %"`.
pub fn axis(value: f64, unit: Option<&str>) -> String {
    match unit.map(str::trim) {
        Some("%") if value.is_finite() && value == value.trunc() => {
            format!("{} %", fixed(value, 0))
        }
        _ => self::value(value, unit),
    }
}

/// A change between two values: an arrow and the absolute difference in the
/// same unit, e.g. `"▲ 1.2 KiB/s"`. `None` when there is nothing to show.
pub fn delta(current: f64, previous: f64, unit: Option<&str>) -> Option<(Trend, String)> {
    let diff = current - previous;
    if !diff.is_finite() {
        return None;
    }
    let trend = if diff > 0.0 {
        Trend::Up
    } else if diff < 0.0 {
        Trend::Down
    } else {
        Trend::Flat
    };
    Some((trend, value(diff.abs(), unit)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Up,
    Down,
    Flat,
}

impl Trend {
    pub fn arrow(self) -> &'static str {
        match self {
            Trend::Up => "▲",
            Trend::Down => "▼",
            Trend::Flat => "■",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Trend::Up => "up",
            Trend::Down => "down",
            Trend::Flat => "flat",
        }
    }
}

/// A plain number: thousands separators for big ones, at most three significant
/// decimals for small ones, no trailing zeros.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let abs = value.abs();
    let decimals = if abs >= 100.0 || abs == abs.trunc() {
        0
    } else if abs >= 10.0 {
        1
    } else if abs >= 1.0 {
        2
    } else {
        3
    };
    let text = fixed(value, decimals);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    let text = group_thousands(&text);
    if text == "-0" {
        "0".to_owned()
    } else {
        text
    }
}

/// Bytes in binary multiples: no decimals below 1 KiB and from 100 up, one
/// decimal in between, so a figure never has more than three digits and a
/// changing value keeps its width.
pub fn bytes(value: f64) -> String {
    if !value.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let mut scaled = value.abs();
    let mut unit = 0;
    // 1023.96 KiB would print as "1024.0 KiB": move up while the rounded figure
    // would reach 1024.
    while scaled >= 1023.95 && unit < BYTE_UNITS.len() - 1 {
        scaled /= 1024.0;
        unit += 1;
    }
    let figure = if unit == 0 || scaled >= 99.95 {
        fixed(scaled, 0)
    } else {
        fixed(scaled, 1)
    };
    format!("{sign}{figure} {}", BYTE_UNITS[unit])
}

/// A duration in seconds, with its two most significant parts: `"3d 4h"`,
/// `"5h 12m"`, `"4m 2s"`, `"42s"`; below one second in milliseconds.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let sign = if seconds < 0.0 { "-" } else { "" };
    let abs = seconds.abs();
    if abs < 1.0 {
        let ms = (abs * 1000.0).round();
        return if ms == 0.0 {
            "0s".to_owned()
        } else {
            format!("{sign}{ms}ms")
        };
    }
    let total = abs.round() as u64;
    let (days, hours, minutes, secs) = (
        total / 86_400,
        total % 86_400 / 3_600,
        total % 3_600 / 60,
        total % 60,
    );
    let text = if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m {secs}s")
    } else {
        format!("{secs}s")
    };
    format!("{sign}{text}")
}

/// How long ago something happened, for "updated … ago" captions.
pub fn age(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 5.0 {
        return "just now".to_owned();
    }
    ago(seconds)
}

/// "12s ago", "5m ago": like [`age`] but to the second from zero, for a
/// counter that visibly ticks (the badge's "last event …"). A negative or
/// non-finite age (a clock step) reads as "0s ago".
pub fn ago(seconds: f64) -> String {
    let total = if seconds.is_finite() && seconds > 0.0 {
        seconds as u64
    } else {
        0
    };
    let text = if total < 60 {
        format!("{total}s")
    } else if total < 3_600 {
        format!("{}m", total / 60)
    } else if total < 86_400 {
        format!("{}h", total / 3_600)
    } else {
        format!("{}d", total / 86_400)
    };
    format!("{text} ago")
}

/// The time of day of `at_ms` (ms since the Unix epoch), "14:03:07", in a time
/// zone `utc_offset_ms` ahead of UTC (the browser's, passed in to keep this pure).
pub fn time_of_day(at_ms: i64, utc_offset_ms: i64) -> String {
    let seconds = at_ms.saturating_add(utc_offset_ms).rem_euclid(86_400_000) / 1000;
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// A label on a chart's time axis: how far back from the newest point.
pub fn time_offset(ms: i64) -> String {
    if ms <= 0 {
        return "now".to_owned();
    }
    let total = (ms as f64 / 1000.0).round() as u64;
    let text = if total < 60 {
        format!("{total}s")
    } else if total < 3_600 {
        let (m, s) = (total / 60, total % 60);
        if s == 0 {
            format!("{m}m")
        } else {
            format!("{m}m {s}s")
        }
    } else {
        let (h, m) = (total / 3_600, total % 3_600 / 60);
        if m == 0 {
            format!("{h}h")
        } else {
            format!("{h}h {m}m")
        }
    };
    format!("-{text}")
}

fn fixed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    // "-0.0" reads as a glitch on a dashboard.
    if text.starts_with('-') && text[1..].bytes().all(|b| b == b'0' || b == b'.') {
        text[1..].to_owned()
    } else {
        text
    }
}

fn group_thousands(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (rest, None),
    };
    if int.len() <= 4 {
        return text.to_owned();
    }
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match frac {
        Some(frac) => format!("{sign}{grouped}.{frac}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_binary_multiples() {
        assert_eq!(bytes(0.0), "0 B");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1023.0), "1023 B");
        assert_eq!(bytes(1024.0), "1.0 KiB");
        assert_eq!(bytes(320.0 * 1024.0), "320 KiB");
        assert_eq!(bytes(1.5 * 1024.0 * 1024.0 * 1024.0), "1.5 GiB");
        assert_eq!(bytes(12.34 * 1024.0 * 1024.0), "12.3 MiB");
        assert_eq!(bytes(3.0 * 1024f64.powi(4)), "3.0 TiB");
    }

    #[test]
    fn bytes_never_print_1024_of_a_unit() {
        assert_eq!(bytes(1023.97 * 1024.0), "1.0 MiB");
        assert_eq!(bytes(99.97 * 1024.0), "100 KiB");
    }

    #[test]
    fn bytes_keep_the_sign() {
        assert_eq!(bytes(-2048.0), "-2.0 KiB");
    }

    #[test]
    fn value_dispatches_on_unit() {
        assert_eq!(value(1.5 * 1024.0 * 1024.0 * 1024.0, Some("B")), "1.5 GiB");
        assert_eq!(value(320.0 * 1024.0, Some("B/s")), "320 KiB/s");
        assert_eq!(value(42.0, Some("s")), "42s");
        assert_eq!(value(12.345, Some("%")), "12.3 %");
        assert_eq!(value(100.0, Some("%")), "100.0 %");
        assert_eq!(value(12_345.0, Some("orders")), "12,345 orders");
        assert_eq!(value(3.5, Some(" ms ")), "3.5 ms");
        assert_eq!(value(7.0, None), "7");
        assert_eq!(value(7.0, Some("")), "7");
        assert_eq!(value(f64::NAN, Some("%")), NOT_A_NUMBER);
    }

    #[test]
    fn free_form_units_are_split_off() {
        assert_eq!(
            value_parts(12_345.0, Some("orders")),
            ("12,345".to_owned(), Some("orders".to_owned()))
        );
        assert_eq!(value_parts(2048.0, Some("B")), ("2.0 KiB".to_owned(), None));
        assert_eq!(value_parts(5.0, Some("%")), ("5.0 %".to_owned(), None));
        assert_eq!(value_parts(5.0, None), ("5".to_owned(), None));
        assert_eq!(
            value_parts(f64::NAN, Some("x")),
            (NOT_A_NUMBER.to_owned(), None)
        );
    }

    #[test]
    fn axis_labels_drop_needless_decimals() {
        assert_eq!(axis(100.0, Some("%")), "100 %");
        assert_eq!(axis(0.0, Some("%")), "0 %");
        assert_eq!(axis(1.5, Some("%")), "1.5 %");
        assert_eq!(axis(2048.0, Some("B/s")), "2.0 KiB/s");
    }

    #[test]
    fn durations_show_two_parts() {
        assert_eq!(duration(42.0), "42s");
        assert_eq!(duration(4.0 * 60.0 + 2.0), "4m 2s");
        assert_eq!(duration(5.0 * 3600.0 + 12.0 * 60.0 + 59.0), "5h 12m");
        assert_eq!(duration(3.0 * 86_400.0 + 4.0 * 3600.0 + 1.0), "3d 4h");
        assert_eq!(duration(0.35), "350ms");
        assert_eq!(duration(0.0), "0s");
        assert_eq!(duration(-90.0), "-1m 30s");
    }

    #[test]
    fn numbers_have_sensible_precision() {
        assert_eq!(number(42.0), "42");
        assert_eq!(number(4.56789), "4.57");
        assert_eq!(number(0.12345), "0.123");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(123.456), "123");
        assert_eq!(number(1234.0), "1234");
        assert_eq!(number(1_234_567.0), "1,234,567");
        assert_eq!(number(-98_765.4), "-98,765");
        assert_eq!(number(-0.0001), "0");
    }

    #[test]
    fn deltas_have_a_direction() {
        assert_eq!(delta(10.0, 4.0, None), Some((Trend::Up, "6".to_owned())));
        assert_eq!(
            delta(1024.0, 3072.0, Some("B/s")),
            Some((Trend::Down, "2.0 KiB/s".to_owned()))
        );
        assert_eq!(delta(5.0, 5.0, Some("%")).unwrap().0, Trend::Flat);
        assert_eq!(delta(f64::INFINITY, 1.0, None), None);
    }

    #[test]
    fn ages_are_coarse() {
        assert_eq!(age(0.4), "just now");
        assert_eq!(age(12.0), "12s ago");
        assert_eq!(age(300.0), "5m ago");
        assert_eq!(age(7_200.0), "2h ago");
        assert_eq!(age(200_000.0), "2d ago");
    }

    #[test]
    fn ago_counts_seconds_from_zero() {
        assert_eq!(ago(0.4), "0s ago");
        assert_eq!(ago(3.9), "3s ago");
        assert_eq!(ago(59.9), "59s ago");
        assert_eq!(ago(61.0), "1m ago");
        assert_eq!(ago(-2.0), "0s ago");
        assert_eq!(ago(f64::NAN), "0s ago");
    }

    #[test]
    fn times_of_day_in_the_browsers_zone() {
        // 2026-11-27 13:45:07.900 UTC.
        let at = 1_795_787_107_900;
        assert_eq!(time_of_day(at, 0), "13:45:07");
        assert_eq!(time_of_day(at, 3_600_000), "14:45:07");
        // West of UTC, across midnight backwards.
        assert_eq!(time_of_day(at, -14 * 3_600_000), "23:45:07");
        assert_eq!(time_of_day(0, 0), "00:00:00");
    }

    #[test]
    fn time_axis_labels_count_back_from_now() {
        assert_eq!(time_offset(0), "now");
        assert_eq!(time_offset(30_000), "-30s");
        assert_eq!(time_offset(150_000), "-2m 30s");
        assert_eq!(time_offset(300_000), "-5m");
        assert_eq!(time_offset(5_400_000), "-1h 30m");
    }
}
