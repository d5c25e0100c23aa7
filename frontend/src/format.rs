//! Turning raw figures into the text a viewer reads. Pure functions, so every rule
//! here is unit-tested natively (and property-tested over any finite `f64`).
//!
//! Units the dashboard understands (anything else is printed after the number):
//! - `"B"` and `"B/s"`: binary byte multiples, `"1.5 GiB"`, `"320 KiB/s"`;
//! - `"s"`: a duration, `"3d 4h"`, `"5h 12m"`, `"42s"`, `"350ms"`;
//! - `"%"`: a [`number`] and `" %"`, `"99.95 %"`, `"12.3 %"`.
//!
//! # Numbers you can trust
//!
//! A shown [`number`] never rounds away a difference that matters, and is never
//! cut (the unit is always kept, a big figure switches to a short form):
//! - **Full form** for `1e-4 ≤ |x| < 1e6`: the fewest decimals that bring the
//!   shown text within [`FULL_TOLERANCE`] (relative) of the value, i.e. about
//!   five significant digits: `99.95`, `0.000123`, `1,234.5`, `12,345.7`.
//! - **Whole means exact**: a figure in full form without a decimal point is the
//!   value exactly, give or take float noise ([`WHOLE_NOISE`]). A value that is not a whole number always keeps a decimal,
//!   adding digits as needed (`99.999` stays `99.999`, never `100`), up to six
//!   significant digits (or one decimal, whichever is more); past those the
//!   zeros stay (`99.9999999` → `100.0000`), saying the figure is rounded.
//! - **Grouping**: every integer part from 1,000 up has thousands separators.
//! - **Short form** from 1e6 on: four significant digits and an SI suffix,
//!   `1.235 M`, `123.5 G`, `3.45 T` … `Q` (1e30), then `1.235e33`; below 1e-4,
//!   `1.23e-7`. Trailing zeros are dropped only when the short text is the value
//!   exactly (`1.2 M` is 1,200,000; `1.200 M` is 1,200,003). Within
//!   [`SHORT_TOLERANCE`].
//! - **Never zero**: a non-zero value never shows as `0`, `0 B` or `0s`.
//! - **Bounded**: a figure in full or short form is at most 12 characters
//!   (before a free-form unit), so the card never has to cut it.
//! - **Thresholds**: with warn/critical thresholds, [`value_parts_against`] adds
//!   digits until the figure, read back, has the same level as the value: a value
//!   that has not reached a threshold is never shown equal to (or past) it.
//!   Bytes then follow the number rules in their binary unit (`1,023.97 KiB`),
//!   durations become seconds (`59.7s`); a threshold a hair away gets [`exact`].
//! - **Exact**: [`exact`] is the full-precision value (Rust's shortest
//!   round-trip form, grouped) with its unit, for tooltips and screen readers.
//!
//! Bytes keep their three-digit binary form (below 1 KiB a fraction of a byte
//! follows the number rules: `0.5 B`), durations their two parts; both are
//! approximations by design, and [`exact`] has the precise figure.

use protocol::Thresholds;

/// Shown for values that cannot be printed (NaN, infinities).
pub const NOT_A_NUMBER: &str = "–";

/// The largest relative error of a number shown in full (`|shown − x| ≤ tol·|x|`).
pub const FULL_TOLERANCE: f64 = 5e-5;
/// The largest relative error of a short form (`1.235 M`, `1.23e-7`): four
/// significant digits.
pub const SHORT_TOLERANCE: f64 = 5e-4;
/// From this magnitude on, numbers take the short form.
const FULL_BELOW: f64 = 1e6;
/// Below this magnitude, numbers take the exponent form.
const SMALL_BELOW: f64 = 1e-4;
/// Significant digits a full-form figure may grow to (to avoid looking whole).
const MAX_SIGNIFICANT: i32 = 6;
/// Significant digits of a short form.
const SHORT_SIGNIFICANT: i32 = 4;
/// SI suffixes from 1e6 (index 0) in steps of 1e3.
const SI_SUFFIXES: [&str; 9] = ["M", "G", "T", "P", "E", "Z", "Y", "R", "Q"];
/// A value this close (relative) to a whole number is float noise around it
/// (`0.7 * 100.0` is `70.00000000000001`) and shows as that whole number.
pub const WHOLE_NOISE: f64 = 1e-12;
/// How many digits [`value_parts_against`] may add before giving up and
/// showing the exact value.
const MAX_EXTRA_DIGITS: i32 = 12;

const BYTE_UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// A value with its unit, as the main figure of a widget.
pub fn value(value: f64, unit: Option<&str>) -> String {
    join(value_parts(value, unit))
}

/// [`value`] split for display: the figure, and a free-form unit to be shown
/// smaller after it (`"12,887"`, `Some("orders")`). Units with their own
/// formatting (bytes, durations, percent) stay in the figure.
pub fn value_parts(value: f64, unit: Option<&str>) -> (String, Option<String>) {
    render(value, unit, 0)
}

/// [`value`], with as many more digits as it takes for the figure, read back,
/// to fall at the same level of `thresholds` as the value itself: 89.99996
/// against a warn threshold of 90 shows `89.99996`, not `90.0000`.
pub fn value_against(value: f64, unit: Option<&str>, thresholds: Option<&Thresholds>) -> String {
    join(value_parts_against(value, unit, thresholds))
}

/// [`value_parts`] held to `thresholds` as [`value_against`] is.
pub fn value_parts_against(
    value: f64,
    unit: Option<&str>,
    thresholds: Option<&Thresholds>,
) -> (String, Option<String>) {
    let Some(thresholds) = thresholds else {
        return value_parts(value, unit);
    };
    if !value.is_finite() {
        return value_parts(value, unit);
    }
    let level = thresholds.level(value);
    for extra in 0..=MAX_EXTRA_DIGITS {
        let parts = render(value, unit, extra);
        match parse_figure(&parts.0, unit) {
            Some(shown) if thresholds.level(shown) != level => continue,
            _ => return parts,
        }
    }
    // Digits ran out (a threshold a hair away): the exact value settles it.
    let exact = grouped_exact(value);
    match split_unit(unit) {
        Unit::Free(unit) => (exact, Some(unit.to_owned())),
        Unit::Plain => (exact, None),
        Unit::Percent => (format!("{exact} %"), None),
        Unit::Bytes => (format!("{exact} B"), None),
        Unit::BytesPerSecond => (format!("{exact} B/s"), None),
        Unit::Seconds => (format!("{exact}s"), None),
    }
}

/// The exact value with its unit, for a tooltip and for screen readers: Rust's
/// shortest text that reads back as the same `f64`, with thousands separators
/// (`"99.95 %"`, `"123,456,789,012.345 requests"`, `"1,610,612,736 B"`).
pub fn exact(value: f64, unit: Option<&str>) -> String {
    if !value.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let figure = grouped_exact(value);
    match unit.map(str::trim) {
        None | Some("") => figure,
        Some("s") => format!("{figure} s"),
        Some(unit) => format!("{figure} {unit}"),
    }
}

/// A label on a chart's value axis (the same rules as [`value`]: a round tick
/// reads `"100 %"`).
pub fn axis(value: f64, unit: Option<&str>) -> String {
    self::value(value, unit)
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

    /// The stylesheet's class for the change, `delta--up` … `delta--flat`.
    pub fn css_class(self) -> &'static str {
        match self {
            Trend::Up => "delta--up",
            Trend::Down => "delta--down",
            Trend::Flat => "delta--flat",
        }
    }
}

/// A plain number by the rules in the module doc: `"99.95"`, `"0.000123"`,
/// `"1,234.5"`, `"12,345.7"`, `"123.5 G"`, `"1.23e-7"`.
pub fn number(value: f64) -> String {
    number_with(value, 0)
}

/// Bytes in binary multiples: no decimals from 100 of a unit up, one decimal
/// below, so a figure never has more than three digits and a changing value
/// keeps its width. Below 1 KiB whole bytes, or a [`number`] for a fraction.
pub fn bytes(value: f64) -> String {
    bytes_with(value, 0)
}

/// A duration in seconds, with its two most significant parts: `"3d 4h"`,
/// `"5h 12m"`, `"4m 2s"`, `"42s"`; below one second in milliseconds, below
/// one millisecond as a [`number`] of them (`"0.4ms"`, never `"0s"`).
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let sign = if seconds < 0.0 { "-" } else { "" };
    let abs = seconds.abs();
    if abs == 0.0 {
        return "0s".to_owned();
    }
    if abs < 1.0 {
        let ms = abs * 1000.0;
        return if ms < 0.5 || ms.round() >= 1000.0 {
            format!("{sign}{}ms", number(ms))
        } else {
            format!("{sign}{}ms", ms.round())
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

enum Unit<'a> {
    Plain,
    Bytes,
    BytesPerSecond,
    Seconds,
    Percent,
    Free(&'a str),
}

fn split_unit(unit: Option<&str>) -> Unit<'_> {
    match unit.map(str::trim) {
        None | Some("") => Unit::Plain,
        Some("B") => Unit::Bytes,
        Some("B/s") => Unit::BytesPerSecond,
        Some("s") => Unit::Seconds,
        Some("%") => Unit::Percent,
        Some(other) => Unit::Free(other),
    }
}

/// The figure and free-form unit of `value`, with `extra` more digits than
/// the default precision.
fn render(value: f64, unit: Option<&str>, extra: i32) -> (String, Option<String>) {
    if !value.is_finite() {
        return (NOT_A_NUMBER.to_owned(), None);
    }
    match split_unit(unit) {
        Unit::Plain => (number_with(value, extra), None),
        Unit::Free(unit) => (number_with(value, extra), Some(unit.to_owned())),
        Unit::Percent => (format!("{} %", number_with(value, extra)), None),
        Unit::Bytes => (bytes_with(value, extra), None),
        Unit::BytesPerSecond => (format!("{}/s", bytes_with(value, extra)), None),
        // Two parts of a duration cannot take more digits: past the default,
        // seconds as a number.
        Unit::Seconds if extra == 0 => (duration(value), None),
        Unit::Seconds => {
            let seconds = number_with(value, extra);
            let gap = if seconds.contains(' ') { " " } else { "" };
            (format!("{seconds}{gap}s"), None)
        }
    }
}

fn join((figure, unit): (String, Option<String>)) -> String {
    match unit {
        Some(unit) => format!("{figure} {unit}"),
        None => figure,
    }
}

/// What a figure made by [`value_parts`] stands for, read back (for thresholds,
/// and tests). `None` for text it cannot read.
pub fn parse_figure(figure: &str, unit: Option<&str>) -> Option<f64> {
    let figure = figure.trim();
    match split_unit(unit) {
        Unit::Plain | Unit::Free(_) => parse_number(figure),
        Unit::Percent => parse_number(figure.strip_suffix('%')?.trim_end()),
        Unit::Bytes => parse_bytes(figure),
        Unit::BytesPerSecond => parse_bytes(figure.strip_suffix("/s")?),
        Unit::Seconds => parse_duration(figure),
    }
}

/// A decimal number (`-12.5`, `1.2e-7`), read by serde_json's parser rather
/// than `str::parse`: the bundle already holds serde_json's (correctly
/// rounded, `float_roundtrip`) one for the stream, and `str::parse` would add
/// core's own with its 10 KB table of powers of five. A leading `+` or `.`
/// and a trailing `.`, which JSON does not allow, are read too.
pub fn parse_f64(text: &str) -> Option<f64> {
    let text = text.trim();
    let text = text.strip_prefix('+').unwrap_or(text);
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let digits = digits.strip_suffix('.').unwrap_or(digits);
    let json = if digits.starts_with('.') {
        format!("{sign}0{digits}")
    } else {
        format!("{sign}{digits}")
    };
    serde_json::from_str(&json).ok()
}

/// Reads back a [`number`]: separators, an SI suffix, an exponent.
fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let (mantissa, scale) = match text.rsplit_once(' ') {
        Some((mantissa, suffix)) => {
            let index = SI_SUFFIXES.iter().position(|s| *s == suffix)?;
            (mantissa, format!("e{}", 6 + 3 * index))
        }
        None => (text, String::new()),
    };
    let digits: String = mantissa.chars().filter(|c| *c != ',').collect();
    parse_f64(&format!("{digits}{scale}"))
}

fn parse_bytes(text: &str) -> Option<f64> {
    let (figure, unit) = text.trim().rsplit_once(' ')?;
    let power = BYTE_UNITS.iter().position(|u| *u == unit)?;
    Some(parse_number(figure)? * 1024f64.powi(power as i32))
}

fn parse_duration(text: &str) -> Option<f64> {
    let (sign, text) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, text),
    };
    // Seconds as a number ("59.7s", "1.004 M s"), held to a threshold.
    if let Some(seconds) = text.strip_suffix('s').and_then(parse_number) {
        return Some(sign * seconds);
    }
    let mut total = 0.0;
    for part in text.split_whitespace() {
        let (figure, scale) = if let Some(ms) = part.strip_suffix("ms") {
            (ms, 0.001)
        } else if let Some(s) = part.strip_suffix('s') {
            (s, 1.0)
        } else if let Some(m) = part.strip_suffix('m') {
            (m, 60.0)
        } else if let Some(h) = part.strip_suffix('h') {
            (h, 3_600.0)
        } else {
            (part.strip_suffix('d')?, 86_400.0)
        };
        total += parse_number(figure)? * scale;
    }
    Some(sign * total)
}

/// [`number`] with `extra` more digits (a tolerance `10^extra` times finer).
fn number_with(value: f64, extra: i32) -> String {
    if !value.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let abs = value.abs();
    if abs < SMALL_BELOW {
        return exponent_form(value, SHORT_SIGNIFICANT + extra);
    }
    if abs < FULL_BELOW {
        if let Some(text) = full_form(value, extra) {
            return text;
        }
    }
    short_form(value, SHORT_SIGNIFICANT + extra)
}

/// `value` in full, or `None` when its rounding reaches the short form.
fn full_form(value: f64, extra: i32) -> Option<String> {
    let abs = value.abs();
    // Float noise is no difference that matters: 0.7 × 100 is 70.
    let whole = value.round();
    if (value - whole).abs() <= WHOLE_NOISE / 10f64.powi(extra) * abs {
        return Some(group_thousands(&fixed(whole, 0)));
    }
    let tolerance = FULL_TOLERANCE / 10f64.powi(extra);
    let max_decimals = (MAX_SIGNIFICANT + extra - 1 - decimal_exponent(abs)).max(1) as usize;
    for decimals in 1..=max_decimals {
        let text = fixed(value, decimals);
        let trimmed = text.trim_end_matches('0');
        // Whole means exact: a non-integer keeps a decimal.
        if trimmed.ends_with('.') {
            continue;
        }
        let shown = parse_f64(trimmed)?;
        if (shown - value).abs() <= tolerance * abs {
            return Some(group_thousands(trimmed));
        }
    }
    // Still looks whole at the most digits allowed: keep the zeros.
    let text = fixed(value, max_decimals);
    let shown = parse_f64(&text)?;
    (shown.abs() < FULL_BELOW).then(|| group_thousands(&text))
}

/// `1.235 M`: `significant` digits and an SI suffix.
fn short_form(value: f64, significant: i32) -> String {
    let abs = value.abs();
    let mut group = (decimal_exponent(abs) / 3).max(2);
    loop {
        let index = (group - 2) as usize;
        if index >= SI_SUFFIXES.len() {
            return exponent_form(value, significant);
        }
        let mantissa = value / 10f64.powi(3 * group);
        let digits = (decimal_exponent(mantissa.abs()) + 1).clamp(1, 3);
        let decimals = (significant - digits).max(0) as usize;
        let text = fixed(mantissa, decimals);
        let shown = parse_f64(&text).unwrap_or(mantissa);
        if shown.abs() >= 1000.0 {
            group += 1;
            continue;
        }
        let figure = exact_or_kept(&text, &format!("e{}", 3 * group), value);
        return format!("{figure} {}", SI_SUFFIXES[index]);
    }
}

/// `1.23e-7`: `significant` digits and a decimal exponent.
fn exponent_form(value: f64, significant: i32) -> String {
    let decimals = (significant - 1).max(0) as usize;
    let text = format!("{value:.decimals$e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mantissa = exact_or_kept(mantissa, &format!("e{exponent}"), value);
    format!("{mantissa}e{exponent}")
}

/// A rounded mantissa loses its trailing zeros only when it then reads as
/// exactly `value`: `1.2 M` is 1,200,000, `1.200 M` something near it.
fn exact_or_kept(mantissa: &str, scale: &str, value: f64) -> String {
    if !mantissa.contains('.') {
        return mantissa.to_owned();
    }
    let trimmed = mantissa.trim_end_matches('0').trim_end_matches('.');
    if parse_f64(&format!("{trimmed}{scale}")) == Some(value) {
        trimmed.to_owned()
    } else {
        mantissa.to_owned()
    }
}

/// `floor(log10(abs))` for a finite `abs > 0`, exact at powers of ten.
fn decimal_exponent(abs: f64) -> i32 {
    if abs <= 0.0 || !abs.is_finite() {
        return 0;
    }
    // The exponent of the `e` form is exact, unlike `log10` near powers of ten.
    let text = format!("{abs:e}");
    text.split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0)
}

fn bytes_with(value: f64, extra: i32) -> String {
    if !value.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let mut scaled = value.abs();
    if scaled < 1023.95 && (scaled != scaled.trunc() || extra > 0) {
        // A fraction of a byte (a rate): never "0 B".
        return format!("{} B", number_with(value, extra));
    }
    let mut unit = 0;
    // 1023.96 KiB would print as "1024.0 KiB": move up while the rounded figure
    // would reach 1024.
    // (Held to a threshold, the figure has the digits to show 1023.97 itself.)
    let next_at = if extra > 0 { 1024.0 } else { 1023.95 };
    while scaled >= next_at && unit < BYTE_UNITS.len() - 1 {
        scaled /= 1024.0;
        unit += 1;
    }
    let figure = if extra > 0 {
        // Held to a threshold: the number rules, with the extra digits.
        return format!("{sign}{} {}", number_with(scaled, extra), BYTE_UNITS[unit]);
    } else if unit == 0 || scaled >= 99.95 {
        fixed(scaled, 0)
    } else {
        fixed(scaled, 1)
    };
    format!("{sign}{figure} {}", BYTE_UNITS[unit])
}

/// `{}` of an `f64` (the shortest text that reads back the same), grouped.
/// Very big and very small values in the exponent form, which is as exact
/// (`1.5e300`, not 301 digits).
fn grouped_exact(value: f64) -> String {
    if let Some(whole) = small_whole(value) {
        return group_thousands(&whole);
    }
    let abs = value.abs();
    if abs != 0.0 && !(1e-7..1e21).contains(&abs) {
        return format!("{value:e}");
    }
    let text = format!("{value}");
    group_thousands(if text == "-0" { "0" } else { &text })
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
    if let Some(whole) = small_whole(value) {
        return match decimals {
            0 => whole,
            _ => format!("{whole}.{:0<decimals$}", ""),
        };
    }
    let text = format!("{value:.decimals$}");
    // "-0.0" reads as a glitch on a dashboard.
    if text.starts_with('-') && text[1..].bytes().all(|b| b == b'0' || b == b'.') {
        text[1..].to_owned()
    } else {
        text
    }
}

/// A whole `value` below 2^53 (every such integer is exact) as integer text,
/// which is what `{}` and `{:.0}` write for it, without their float
/// formatting: counts are most of what dashboards show, and float formatting
/// is the slowest thing a card's render does in wasm. `-0` is `0`.
fn small_whole(value: f64) -> Option<String> {
    const EXACT_BELOW: f64 = 9_007_199_254_740_992.0;
    (value.fract() == 0.0 && value.abs() < EXACT_BELOW).then(|| (value as i64).to_string())
}

/// Thousands separators on the integer part, from 1,000 up.
fn group_thousands(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (rest, None),
    };
    if int.len() <= 3 {
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
        // Percent follows the number rules (was one fixed decimal, which showed
        // 99.95 as "100.0 %").
        assert_eq!(value(12.345, Some("%")), "12.345 %");
        assert_eq!(value(12.3, Some("%")), "12.3 %");
        assert_eq!(value(100.0, Some("%")), "100 %");
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
        assert_eq!(value_parts(5.0, Some("%")), ("5 %".to_owned(), None));
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
        assert_eq!(duration(0.0004), "0.4ms");
        assert_eq!(duration(0.9996), "999.6ms");
        assert_eq!(duration(-90.0), "-1m 30s");
    }

    #[test]
    fn numbers_have_sensible_precision() {
        assert_eq!(number(42.0), "42");
        // About five significant digits (within FULL_TOLERANCE), was two or three.
        assert_eq!(number(4.56789), "4.568");
        assert_eq!(number(0.12345), "0.12345");
        assert_eq!(number(12.34), "12.34");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(123.456), "123.46");
        // Grouped from 1,000 (was from 10,000).
        assert_eq!(number(1234.0), "1,234");
        assert_eq!(number(999.0), "999");
        // Short form from a million (was "1,234,567").
        assert_eq!(number(1_234_567.0), "1.235 M");
        assert_eq!(number(1_200_000.0), "1.2 M");
        assert_eq!(number(1_200_003.0), "1.200 M");
        // Whole means exact (was "-98,765").
        assert_eq!(number(-98_765.4), "-98,765.4");
        // Never zero (was "0").
        assert_eq!(number(-0.0001), "-0.0001");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(0.1 + 0.2), "0.3");
        // Float noise around a whole number is not a difference.
        assert_eq!(number(0.7 * 100.0), "70");
        assert_eq!(number(2.9999999999999996), "3");
        // Not noise: rounded at six digits, and the zeros say so.
        assert_eq!(number(2.9999999), "3.00000");
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

    const LONG_UNIT: &str = "requests per second (p99, all regions)";

    fn thresholds(warn: f64, critical: f64) -> Thresholds {
        Thresholds {
            warn: Some(warn),
            critical: Some(critical),
        }
    }

    // The examples of issue 15, item 1.
    #[test]
    fn uptime_is_not_rounded_up() {
        assert_eq!(number(99.95), "99.95");
        assert_eq!(value(99.95, Some("%")), "99.95 %");
        assert_eq!(number(99.999), "99.999");
        assert_eq!(value(99.9999, Some("%")), "99.9999 %");
        // Past six digits the zeros stay: rounded, and says so.
        assert_eq!(number(99.9999999), "100.0000");
        assert_eq!(number(0.99999999), "1.000000");
    }

    #[test]
    fn small_values_are_not_zero() {
        assert_eq!(number(0.000123), "0.000123");
        assert_eq!(number(0.0000123), "1.23e-5");
        assert_eq!(number(1.5e-300), "1.5e-300");
        assert_eq!(number(-2.0e-9), "-2e-9");
        assert_eq!(number(1.23456e-7), "1.235e-7");
    }

    #[test]
    fn grouping_is_consistent() {
        assert_eq!(number(1234.5), "1,234.5");
        assert_eq!(number(12_345.67), "12,345.7");
        assert_eq!(number(999_999.0), "999,999");
        assert_eq!(number(-4242.0), "-4,242");
    }

    #[test]
    fn big_values_take_a_short_form_and_keep_their_unit() {
        let (figure, unit) = value_parts(123_456_789_012.345, Some(LONG_UNIT));
        assert_eq!(figure, "123.5 G");
        assert_eq!(unit.as_deref(), Some(LONG_UNIT));
        assert_eq!(
            value(123_456_789_012.345, Some(LONG_UNIT)),
            format!("123.5 G {LONG_UNIT}")
        );
        assert_eq!(number(3.45e12), "3.45 T");
        assert_eq!(number(999_999_999.9), "1.000 G");
        assert_eq!(number(999_999.96), "1.000 M");
        assert_eq!(number(-2.5e30), "-2.5 Q");
        assert_eq!(number(1.23456e40), "1.235e40");
        assert_eq!(number(f64::MAX), "1.798e308");
    }

    #[test]
    fn thresholds_are_not_reached_by_rounding() {
        let slo = thresholds(99.9, 99.5); // low is bad
        assert_eq!(value(99.900_000_1, Some("%")), "99.9 %");
        assert_eq!(
            value_against(99.900_000_1, Some("%"), Some(&slo)),
            "99.9000001 %"
        );
        // 99.899999 has reached warn (low is bad): "99.9" says so rightly.
        assert_eq!(value_against(99.899_999, Some("%"), Some(&slo)), "99.9 %");
        assert_eq!(value_against(99.95, Some("%"), Some(&slo)), "99.95 %");
        let load = thresholds(90.0, 95.0);
        assert_eq!(number(89.99996), "90.0000");
        assert_eq!(value_against(89.99996, None, Some(&load)), "89.99996");
        assert_eq!(value_against(90.0, None, Some(&load)), "90");
        assert_eq!(value_against(89.99996, None, None), "90.0000");
        // A hair away: the exact value.
        let hair = thresholds(1.0, 2.0);
        let below = 1.0 - f64::EPSILON;
        assert_eq!(
            value_against(below, Some("orders"), Some(&hair)),
            format!("{below} orders")
        );
        // Short forms and bytes take digits too.
        let big = thresholds(2e9, 3e9);
        assert_eq!(number(1_999_999_999.0), "2.000 G");
        assert_eq!(
            value_against(1_999_999_999.0, None, Some(&big)),
            "1.999999999 G"
        );
        let disk = thresholds(1024.0 * 1024.0, 2048.0 * 1024.0);
        let almost = 1023.97 * 1024.0;
        assert_eq!(bytes(almost), "1.0 MiB");
        assert_eq!(
            value_against(almost, Some("B"), Some(&disk)),
            "1,023.97 KiB"
        );
        // Durations fall back to seconds.
        let slow = thresholds(60.0, 120.0);
        assert_eq!(value_against(59.7, Some("s"), Some(&slow)), "59.7s");
        assert_eq!(value_against(30.0, Some("s"), Some(&slow)), "30s");
    }

    #[test]
    fn exact_values_for_tooltips_and_screen_readers() {
        assert_eq!(exact(99.95, Some("%")), "99.95 %");
        assert_eq!(
            exact(123_456_789_012.345, Some("orders")),
            "123,456,789,012.345 orders"
        );
        assert_eq!(
            exact(1.5 * 1024.0 * 1024.0 * 1024.0, Some("B")),
            "1,610,612,736 B"
        );
        assert_eq!(exact(42.5, Some("s")), "42.5 s");
        assert_eq!(exact(0.000123, None), "0.000123");
        assert_eq!(exact(1.5e300, None), "1.5e300");
        assert_eq!(exact(-0.0, None), "0");
        assert_eq!(exact(f64::NAN, None), NOT_A_NUMBER);
    }

    #[test]
    fn fractions_of_a_byte_are_not_zero() {
        assert_eq!(bytes(0.3), "0.3 B");
        assert_eq!(value(0.25, Some("B/s")), "0.25 B/s");
        assert_eq!(bytes(512.0), "512 B");
    }

    #[test]
    fn figures_read_back() {
        assert_eq!(parse_figure("1.235 M", None), Some(1.235e6));
        assert_eq!(parse_figure("12,345.7", Some("x")), Some(12_345.7));
        assert_eq!(
            parse_figure("1.5 GiB", Some("B")),
            Some(1.5 * 1024f64.powi(3))
        );
        assert_eq!(parse_figure("320 KiB/s", Some("B/s")), Some(320.0 * 1024.0));
        assert_eq!(parse_figure("99.95 %", Some("%")), Some(99.95));
        assert_eq!(parse_figure("-1m 30s", Some("s")), Some(-90.0));
        assert_eq!(parse_figure("500ms", Some("s")), Some(0.5));
        assert_eq!(parse_figure("1.004 M s", Some("s")), Some(1.004e6));
        assert_eq!(parse_figure("1.23e-5", None), Some(1.23e-5));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::super::*;
        use super::LONG_UNIT;
        use proptest::prelude::*;

        fn finite() -> impl Strategy<Value = f64> {
            prop_oneof![
                proptest::num::f64::NORMAL
                    | proptest::num::f64::SUBNORMAL
                    | proptest::num::f64::ZERO,
                -2e6..2e6f64,
                -1.0..1.0f64,
                (-1_000_000i64..1_000_000).prop_map(|n| n as f64),
                (0u32..7, 0i64..100_000).prop_map(|(d, n)| n as f64 / 10f64.powi(d as i32)),
            ]
        }

        fn units() -> impl Strategy<Value = Option<&'static str>> {
            prop::sample::select(vec![
                None,
                Some(""),
                Some("B"),
                Some("B/s"),
                Some("s"),
                Some("%"),
                Some("orders"),
                Some(LONG_UNIT),
            ])
        }

        /// The number part of a figure for units that follow the number rules.
        fn number_part(figure: &str, unit: Option<&str>) -> String {
            match unit {
                Some("%") => figure
                    .strip_suffix(" %")
                    .expect("percent keeps %")
                    .to_owned(),
                _ => figure.to_owned(),
            }
        }

        fn is_short(text: &str) -> bool {
            text.contains(' ') || text.contains('e')
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4096))]

            #[test]
            fn whole_numbers_are_written_as_float_formatting_would(
                n in -9_007_199_254_740_991i64..9_007_199_254_740_992,
                decimals in 0usize..4,
            ) {
                let x = n as f64;
                let slow = format!("{x:.decimals$}");
                let slow = if slow.starts_with("-0") && slow[1..].bytes().all(|b| b == b'0' || b == b'.') {
                    slow[1..].to_owned()
                } else {
                    slow
                };
                prop_assert_eq!(fixed(x, decimals), slow);
                prop_assert_eq!(grouped_exact(x), group_thousands(&format!("{x}")));
            }

            #[test]
            fn never_empty_never_cut_never_zero(x in finite(), unit in units()) {
                let (figure, free) = value_parts(x, unit);
                let text = value(x, unit);
                prop_assert!(!figure.is_empty());
                match unit.map(str::trim) {
                    None | Some("") => prop_assert!(free.is_none()),
                    Some("B") => prop_assert!(figure.ends_with('B'), "{}", figure),
                    Some("B/s") => prop_assert!(figure.ends_with("B/s"), "{}", figure),
                    Some("s") => prop_assert!(figure.ends_with(['s', 'm', 'h']), "{}", figure),
                    Some("%") => prop_assert!(figure.ends_with(" %"), "{}", figure),
                    Some(u) => {
                        prop_assert_eq!(free.as_deref(), Some(u));
                        prop_assert!(text.ends_with(&format!(" {u}")), "{}", text);
                    }
                }
                if x != 0.0 {
                    let shown = parse_figure(&figure, unit);
                    prop_assert!(shown.is_some(), "cannot read back {:?}", figure);
                    prop_assert!(shown != Some(0.0), "{} shown as {:?}", x, figure);
                }
                prop_assert!(!exact(x, unit).is_empty());
            }

            #[test]
            fn numbers_read_back_within_tolerance(
                x in finite(),
                unit in prop::sample::select(vec![None, Some(""), Some("%"), Some("orders"), Some(LONG_UNIT)]),
            ) {
                let (figure, _) = value_parts(x, unit);
                let text = number_part(&figure, unit);
                let shown = parse_number(&text).expect("reads back");
                let tolerance = if is_short(&text) { SHORT_TOLERANCE } else { FULL_TOLERANCE };
                // A hair over for the f64 arithmetic of the check itself.
                prop_assert!(
                    (shown - x).abs() <= tolerance * x.abs() * (1.0 + 1e-9),
                    "{} shown as {:?}", x, text
                );
                // Bounded, so a card never has to cut it.
                prop_assert!(text.chars().count() <= 12, "{:?} is too long", text);
            }

            #[test]
            fn whole_means_exact(x in finite()) {
                let text = number(x);
                if !is_short(&text) && !text.contains('.') {
                    let shown = parse_number(&text).expect("reads back");
                    prop_assert!((shown - x).abs() <= WHOLE_NOISE * x.abs(), "{:?} looks whole for {}", text, x);
                }
            }

            #[test]
            fn grouping_is_consistent(x in finite()) {
                let text = number(x);
                let int = text.trim_start_matches('-').split(['.', ' ', 'e']).next().unwrap_or("");
                let groups: Vec<&str> = int.split(',').collect();
                prop_assert!(!groups[0].is_empty() && groups[0].len() <= 3, "{:?}", text);
                for group in &groups[1..] {
                    prop_assert_eq!(group.len(), 3, "{:?}", text);
                }
                prop_assert!(int.chars().all(|c| c.is_ascii_digit() || c == ','), "{:?}", text);
            }

            #[test]
            fn thresholds_are_never_reached_by_rounding(
                x in finite(),
                nudge in prop::sample::select(vec![-1e-3, -1e-6, -1e-9, -1e-13, 0.0, 1e-13, 1e-9, 1e-6, 1e-3]),
                low_is_bad in any::<bool>(),
                unit in units(),
            ) {
                let limit = if x == 0.0 { nudge } else { x * (1.0 + nudge) };
                prop_assume!(limit.is_finite());
                let thresholds = if low_is_bad {
                    Thresholds { warn: Some(limit), critical: Some(limit - limit.abs() - 1.0) }
                } else {
                    Thresholds { warn: Some(limit), critical: Some(limit + limit.abs() + 1.0) }
                };
                let (figure, _) = value_parts_against(x, unit, Some(&thresholds));
                let shown = parse_figure(&figure, unit).expect("reads back");
                prop_assert_eq!(
                    thresholds.level(shown), thresholds.level(x),
                    "{} shown as {:?} against {}", x, figure, limit
                );
            }
        }
    }
}
