//! Geometry for the SVG widgets (gauge arc, series chart, number sparkline):
//! pure and unit-tested, so the components only place what is computed here.

use std::fmt::Write;

use protocol::{Point, SeriesLine, StatusLevel, Thresholds};

/// Appends a path command and its point, each coordinate with one decimal
/// (`L12.3 -0.5`), what `format!("{cmd}{x:.1} {y:.1}")` wrote. Through
/// integers: a float with a precision goes through Rust's exact formatter
/// (Grisu, then Dragon), and a chart writes two per point: 120 for a
/// sparkline, every time its card renders, which made number formatting the
/// biggest cost of rendering a 200-widget dashboard.
fn push_point(path: &mut String, cmd: char, x: f64, y: f64) {
    path.push(cmd);
    push_tenths(path, x);
    path.push(' ');
    push_tenths(path, y);
}

/// A path command and its point in whole units (`L123 -5`): for a drawing
/// box ten times the size its shape needs, which then has the precision of
/// tenths in fewer characters, for less work (a sparkline is rebuilt on
/// every update of its number).
fn push_whole_point(path: &mut String, cmd: char, x: f64, y: f64) {
    path.push(cmd);
    push_whole(path, x);
    path.push(' ');
    push_whole(path, y);
}

/// `value` rounded to a whole number (`12`, `-5`, `0`).
fn push_whole(out: &mut String, value: f64) {
    let whole = value.round();
    if !whole.is_finite() || whole.abs() >= 1e15 {
        let _ = write!(out, "{value:.0}");
        return;
    }
    out.push_str(itoa::Buffer::new().format(whole as i64));
}

/// `value` rounded to one decimal (`12.3`, `-0.5`, `0.0`).
fn push_tenths(out: &mut String, value: f64) {
    let tenths = (value * 10.0).round();
    // Coordinates are within a few thousand; anything else the slow way.
    if !tenths.is_finite() || tenths.abs() >= 1e15 {
        let _ = write!(out, "{value:.1}");
        return;
    }
    let tenths = tenths as i64;
    if tenths < 0 {
        out.push('-');
    }
    // itoa, not `fmt`: even integer formatting goes through `fmt`'s padding
    // machinery, a visible share of a 200-card render.
    let abs = tenths.unsigned_abs();
    out.push_str(itoa::Buffer::new().format(abs / 10));
    out.push('.');
    out.push(char::from(b'0' + (abs % 10) as u8));
}

/// Where `value` sits between `min` and `max`, clamped to `0..=1` (a gauge
/// past its maximum draws full, not past the end of its dial). A degenerate
/// range (max <= min) or a non-finite input reads as empty.
pub fn ratio(value: f64, min: f64, max: f64) -> f64 {
    let span = max - min;
    if !span.is_finite() || span <= 0.0 || !value.is_finite() {
        return 0.0;
    }
    ((value - min) / span).clamp(0.0, 1.0)
}

/// The gauge dial: a 240° arc open at the bottom, from lower left (150°)
/// clockwise over the top to lower right (30°). Angles are in SVG's frame:
/// 0° points right and angles grow clockwise.
pub const GAUGE_START_DEG: f64 = 150.0;
pub const GAUGE_SWEEP_DEG: f64 = 240.0;

/// An SVG path for the arc of a circle from `start` sweeping `sweep` degrees
/// clockwise. Empty for a sweep of (almost) nothing, so a zero gauge draws no cap.
pub fn arc_path(cx: f64, cy: f64, r: f64, start_deg: f64, sweep_deg: f64) -> String {
    if sweep_deg < 0.05 {
        return String::new();
    }
    // A full circle cannot be one arc command (start == end): stop just short.
    let sweep = sweep_deg.min(359.99);
    let point = |deg: f64| {
        let rad = deg.to_radians();
        (cx + r * rad.cos(), cy + r * rad.sin())
    };
    let (x0, y0) = point(start_deg);
    let (x1, y1) = point(start_deg + sweep);
    let large = u8::from(sweep > 180.0);
    format!("M{x0:.2} {y0:.2}A{r:.2} {r:.2} 0 {large} 1 {x1:.2} {y1:.2}")
}

/// A stretch of a gauge's range, as fractions `from..to` of it, in a level's colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Zone {
    pub from: f64,
    pub to: f64,
    pub level: StatusLevel,
}

/// The warn and critical stretches of a gauge's range, drawn along its dial so
/// a viewer sees how close the needle is to trouble. High values are bad
/// unless `warn` is above `critical` (then the zones sit at the low end).
pub fn threshold_zones(thresholds: &Thresholds, min: f64, max: f64) -> Vec<Zone> {
    let at = |limit: Option<f64>| limit.map(|limit| ratio(limit, min, max));
    let (warn, critical) = (at(thresholds.warn), at(thresholds.critical));
    let zone = |from: f64, to: f64, level| (to > from).then_some(Zone { from, to, level });
    let zones = if thresholds.low_is_bad() {
        let critical = critical.unwrap_or(0.0);
        [
            zone(0.0, critical, StatusLevel::Critical),
            warn.and_then(|warn| zone(critical, warn, StatusLevel::Warn)),
        ]
    } else {
        let critical_from = critical.unwrap_or(1.0);
        [
            warn.and_then(|warn| zone(warn, critical_from, StatusLevel::Warn)),
            critical.and_then(|critical| zone(critical, 1.0, StatusLevel::Critical)),
        ]
    };
    zones.into_iter().flatten().collect()
}

/// A number's recent values as a small line (no axes: only the shape
/// matters), spread over `width` by time and over the full `height` between
/// their lowest and highest, in whole units. `None` for fewer than two
/// points: no shape yet.
pub fn sparkline(points: &[Point], width: f64, height: f64) -> Option<String> {
    let finite: Vec<&Point> = points.iter().filter(|p| p.1.is_finite()).collect();
    if finite.len() < 2 {
        return None;
    }
    let (t0, t1) = (finite[0].0, finite[finite.len() - 1].0);
    let low = finite.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let high = finite.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let last = (finite.len() - 1) as f64;
    let mut path = String::with_capacity(finite.len() * 10);
    for (i, point) in finite.iter().enumerate() {
        // By time, so a gap in the updates shows as a long segment; by index
        // when the times do not advance (several values in one millisecond).
        let x = if t1 > t0 {
            (point.0 - t0) as f64 / (t1 - t0) as f64 * width
        } else {
            i as f64 / last * width
        };
        // A flat run sits in the middle rather than on an edge.
        let y = if high > low {
            height - (point.1 - low) / (high - low) * height
        } else {
            height / 2.0
        };
        push_whole_point(&mut path, if i == 0 { 'M' } else { 'L' }, x, y);
    }
    Some(path)
}

/// The value axis aims for at most this many intervals between labels.
const VALUE_INTERVALS: f64 = 5.0;
/// The time axis aims for at most this many intervals between labels
/// ("-8m" is short: six fit even on a phone).
const TIME_INTERVALS: i64 = 6;

/// A round step for an axis: the smallest of 1, 2, 2.5, 5 (times a power of
/// ten) that is at least `x`.
pub fn nice_step(x: f64) -> f64 {
    if !x.is_finite() || x <= 0.0 {
        return 1.0;
    }
    const STEPS: [f64; 5] = [1.0, 2.0, 2.5, 5.0, 10.0];
    let magnitude = 10f64.powf(x.log10().floor());
    let fraction = x / magnitude;
    let step = STEPS
        .iter()
        .copied()
        .find(|s| *s >= fraction - 1e-9)
        .unwrap_or(10.0);
    step * magnitude
}

/// The step between value ticks for an axis spanning `range`, at most
/// [`VALUE_INTERVALS`] of them. Byte figures are shown in binary multiples
/// (the unit is chosen by the range, as the labels' is by their size), so
/// their ticks fall on round numbers of KiB/MiB/GiB, never "2.9 KiB".
pub fn axis_step(range: f64, unit: Option<&str>) -> f64 {
    if matches!(unit, Some("B" | "B/s")) && range >= 1024.0 {
        let scale = 1024f64.powi((range.log2() / 10.0).floor() as i32);
        return nice_step(range / scale / VALUE_INTERVALS) * scale;
    }
    nice_step(range / VALUE_INTERVALS)
}

/// Round steps for a time axis, in ms.
const TIME_STEPS_MS: [i64; 20] = [
    1_000,
    2_000,
    5_000,
    10_000,
    15_000,
    30_000, // seconds
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000, // minutes
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000, // hours
    86_400_000,
    172_800_000,
    604_800_000, // days
];

/// A label on an axis: `at` is its place along the axis as a fraction (from
/// the top for values, from the left for times).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick<T> {
    pub at: f64,
    pub value: T,
}

/// A series laid out in a `width` × `height` box (y grows downwards).
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// One entry per line, in the series' order: the stroke and the filled area
    /// under it (both empty for a line without points).
    pub lines: Vec<PlottedLine>,
    /// The value range of the y axis (bottom, top).
    pub y_min: f64,
    pub y_max: f64,
    /// Value labels, bottom to top, at round steps from `y_min` to `y_max`.
    pub y_ticks: Vec<Tick<f64>>,
    /// The time range of the x axis, in ms since the Unix epoch: from the
    /// oldest point to now (or to the newest point, if a publisher's clock
    /// runs ahead).
    pub t_min: i64,
    pub t_max: i64,
    /// Time labels as how far back from the end of the axis (ms), newest
    /// first: round steps, so they read "-10m, -5m, now" rather than "-9m 47s".
    pub t_ticks: Vec<Tick<i64>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlottedLine {
    /// One piece (`M…L…`) per run of the line between gaps.
    pub stroke: String,
    pub area: String,
}

/// A line breaks where two consecutive points are more than this many times
/// its usual interval apart: nothing was published in between, and a
/// straight segment across would look like a steady value. (Data published
/// at random moments rarely has an interval five times its median: a few
/// in a hundred for events at random, as a Poisson process has.)
const GAP_FACTOR: i64 = 5;

/// Lays out every line of a series on shared axes. The time axis ends at
/// `now_ms` (the server's clock): a series whose newest point is minutes old
/// ends minutes short of the right edge. The y axis includes zero (so
/// magnitudes compare honestly) and ends on a round step, which keeps a
/// percentage at or under 100 unless the data goes past it. A line breaks at
/// its gaps (see [`GAP_FACTOR`]) and at values that are not numbers. `None`
/// when no line has a point.
pub fn plot(
    lines: &[SeriesLine],
    unit: Option<&str>,
    width: f64,
    height: f64,
    now_ms: i64,
) -> Option<Plot> {
    let points = || lines.iter().flat_map(|l| l.points.iter());
    let finite = || points().filter(|p| p.1.is_finite());
    let t_min = finite().map(|p| p.0).min()?;
    let t_max = finite().map(|p| p.0).max()?.max(now_ms);
    let v_min = finite().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let v_max = finite().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (y_min, y_max, y_step) = value_axis(v_min, v_max, unit);

    let x_of = |t: i64| {
        if t_max == t_min {
            width
        } else {
            (t - t_min) as f64 / (t_max - t_min) as f64 * width
        }
    };
    let y_of = |v: f64| height - (v - y_min) / (y_max - y_min) * height;

    let lines = lines
        .iter()
        .map(|line| {
            let mut plotted = PlottedLine::default();
            for run in runs(&line.points) {
                let coords: Vec<(f64, f64)> = run.iter().map(|p| (x_of(p.0), y_of(p.1))).collect();
                let mut stroke = String::with_capacity(coords.len() * 14);
                for (i, (x, y)) in coords.iter().enumerate() {
                    push_point(&mut stroke, if i == 0 { 'M' } else { 'L' }, *x, *y);
                }
                let (first, last) = (coords[0], coords[coords.len() - 1]);
                if coords.len() == 1 {
                    // A lone point still deserves a visible mark: a short flat stub.
                    let stub = if first.0 >= 4.0 {
                        first.0 - 4.0
                    } else {
                        first.0 + 4.0
                    };
                    push_point(&mut stroke, 'L', stub, first.1);
                }
                plotted.area.push_str(&stroke);
                push_point(&mut plotted.area, 'L', last.0, height);
                push_point(&mut plotted.area, 'L', first.0, height);
                plotted.area.push('Z');
                plotted.stroke.push_str(&stroke);
            }
            plotted
        })
        .collect();

    let steps = ((y_max - y_min) / y_step).round() as usize;
    let y_ticks = (0..=steps)
        .map(|i| {
            let value = y_min + i as f64 * y_step;
            Tick {
                at: 1.0 - (value - y_min) / (y_max - y_min),
                value,
            }
        })
        .collect();

    Some(Plot {
        lines,
        y_min,
        y_max,
        y_ticks,
        t_min,
        t_max,
        t_ticks: time_ticks(t_max - t_min),
    })
}

/// A line's points in the runs it is drawn as: split at its gaps and at
/// values that are not numbers (which are left out).
fn runs(points: &[Point]) -> Vec<Vec<Point>> {
    let usual = usual_interval(points);
    let mut runs = Vec::new();
    let mut run: Vec<Point> = Vec::new();
    for point in points {
        let gap = run
            .last()
            .zip(usual)
            .is_some_and(|(last, usual)| point.0 - last.0 > usual * GAP_FACTOR);
        if (gap || !point.1.is_finite()) && !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
        if point.1.is_finite() {
            run.push(*point);
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// The usual time between a line's points: the median of the intervals
/// between consecutive points that are not simultaneous (several points
/// stamped in one millisecond say nothing of the pace). `None` without one.
fn usual_interval(points: &[Point]) -> Option<i64> {
    let mut intervals: Vec<i64> = points
        .windows(2)
        .map(|pair| pair[1].0 - pair[0].0)
        .filter(|interval| *interval > 0)
        .collect();
    intervals.sort_unstable();
    intervals.get(intervals.len().checked_sub(1)? / 2).copied()
}

/// The y axis for data from `v_min` to `v_max`: `(bottom, top, step)`, both
/// ends on multiples of a round step and zero included.
fn value_axis(v_min: f64, v_max: f64, unit: Option<&str>) -> (f64, f64, f64) {
    let low = v_min.min(0.0);
    let high = v_max.max(0.0);
    // All zeros: any scale will do, 0..1 reads naturally.
    let range = if high > low { high - low } else { 1.0 };
    let step = axis_step(range, unit);
    // The epsilon keeps 0.3 / 0.1 = 2.9999999999999996 from counting as 3 steps and a bit.
    let bottom = (low / step + 1e-9).floor() * step;
    let mut top = (high / step - 1e-9).ceil() * step;
    if top <= bottom {
        top = bottom + step * VALUE_INTERVALS;
    }
    (bottom, top, step)
}

/// Ticks back from the end of the axis over `span_ms`: "now", then every
/// round step that fits. A span of zero (one timestamp, now) gets "now" alone.
fn time_ticks(span_ms: i64) -> Vec<Tick<i64>> {
    let step = TIME_STEPS_MS
        .iter()
        .copied()
        .find(|step| step * TIME_INTERVALS >= span_ms)
        .unwrap_or(TIME_STEPS_MS[TIME_STEPS_MS.len() - 1]);
    (0..)
        .map(|i| i * step)
        .take_while(|offset| *offset <= span_ms)
        .map(|offset| Tick {
            at: if span_ms == 0 {
                1.0
            } else {
                1.0 - offset as f64 / span_ms as f64
            },
            value: offset,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, points: &[(i64, f64)]) -> SeriesLine {
        SeriesLine {
            name: name.to_owned(),
            points: points.iter().map(|&(t, v)| Point(t, v)).collect(),
        }
    }

    fn tick_values<T: Copy>(ticks: &[Tick<T>]) -> Vec<T> {
        ticks.iter().map(|t| t.value).collect()
    }

    #[test]
    fn ratio_is_clamped_and_survives_bad_ranges() {
        assert_eq!(ratio(50.0, 0.0, 100.0), 0.5);
        assert_eq!(ratio(15.0, 10.0, 20.0), 0.5);
        assert_eq!(ratio(150.0, 0.0, 100.0), 1.0);
        assert_eq!(ratio(-5.0, 0.0, 100.0), 0.0);
        assert_eq!(ratio(5.0, 10.0, 10.0), 0.0);
        assert_eq!(ratio(5.0, 10.0, 0.0), 0.0);
        assert_eq!(ratio(f64::NAN, 0.0, 1.0), 0.0);
    }

    #[test]
    fn arcs_start_and_end_where_asked() {
        // A quarter circle from the right (0°) clockwise to the bottom (90°).
        assert_eq!(
            arc_path(50.0, 50.0, 10.0, 0.0, 90.0),
            "M60.00 50.00A10.00 10.00 0 0 1 50.00 60.00"
        );
        // More than half a turn needs the large-arc flag.
        assert!(arc_path(50.0, 50.0, 10.0, GAUGE_START_DEG, GAUGE_SWEEP_DEG).contains(" 0 1 1 "));
        assert_eq!(arc_path(50.0, 50.0, 10.0, 0.0, 0.0), "");
    }

    #[test]
    fn zones_mark_where_trouble_starts() {
        let t = |warn, critical| Thresholds { warn, critical };
        let zone = |from, to, level| Zone { from, to, level };
        // 0..200, warn from 140, critical from 180.
        assert_eq!(
            threshold_zones(&t(Some(140.0), Some(180.0)), 0.0, 200.0),
            [
                zone(0.7, 0.9, StatusLevel::Warn),
                zone(0.9, 1.0, StatusLevel::Critical)
            ]
        );
        // Low is bad: critical below 10, warn below 50.
        assert_eq!(
            threshold_zones(&t(Some(50.0), Some(10.0)), 0.0, 100.0),
            [
                zone(0.0, 0.1, StatusLevel::Critical),
                zone(0.1, 0.5, StatusLevel::Warn)
            ]
        );
        // Only a warn level: warn up to the end.
        assert_eq!(
            threshold_zones(&t(Some(75.0), None), 0.0, 100.0),
            [zone(0.75, 1.0, StatusLevel::Warn)]
        );
        // Limits outside the range are clamped; empty zones are dropped.
        assert_eq!(
            threshold_zones(&t(Some(500.0), Some(900.0)), 0.0, 100.0),
            []
        );
        assert_eq!(threshold_zones(&t(None, None), 0.0, 100.0), []);
    }

    #[test]
    fn points_are_written_as_with_one_decimal() {
        for (x, y) in [
            (0.0, 20.0),
            (12.34, -0.5),
            (-0.04, 99.96),
            (1234.56, -7.75),
            (0.05, 3.0),
        ] {
            let mut path = String::new();
            push_point(&mut path, 'L', x, y);
            let (wx, wy) = (format!("{x:.1}"), format!("{y:.1}"));
            // `{:.1}` rounds ties to even on the exact binary value; a tie
            // may come out a tenth apart, nothing a chart can show.
            let read = |s: &str| s.parse::<f64>().unwrap();
            let (px, py) = path[1..].split_once(' ').unwrap();
            assert!((read(px) - read(&wx)).abs() <= 0.1 + 1e-9, "{path} vs {wx}");
            assert!((read(py) - read(&wy)).abs() <= 0.1 + 1e-9, "{path} vs {wy}");
            assert!(!px.starts_with("-0.0") && px.contains('.'), "{path}");
        }
        let mut path = String::new();
        push_point(&mut path, 'M', 12.34, -0.5);
        assert_eq!(path, "M12.3 -0.5");
        let mut path = String::new();
        push_tenths(&mut path, f64::INFINITY);
        assert_eq!(path, "inf");
        let mut path = String::new();
        push_whole_point(&mut path, 'L', 12.5, -4.6);
        assert_eq!(path, "L13 -5");
    }

    #[test]
    fn sparklines_fill_their_box() {
        let points = [Point(0, 10.0), Point(500, 30.0), Point(1_000, 20.0)];
        assert_eq!(
            sparkline(&points, 100.0, 20.0).as_deref(),
            Some("M0 20L50 0L100 10")
        );
        // Flat data sits in the middle; equal times spread by index.
        let flat = [Point(7, 5.0), Point(7, 5.0), Point(7, 5.0)];
        assert_eq!(
            sparkline(&flat, 100.0, 20.0).as_deref(),
            Some("M0 10L50 10L100 10")
        );
        assert_eq!(sparkline(&[Point(0, 1.0)], 100.0, 20.0), None);
        assert_eq!(
            sparkline(&[Point(0, 1.0), Point(1, f64::NAN)], 100.0, 20.0),
            None
        );
    }

    #[test]
    fn nice_steps_are_round_and_not_below() {
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(1.2), 2.0);
        assert_eq!(nice_step(2.2), 2.5);
        assert_eq!(nice_step(9.0), 10.0);
        assert_eq!(nice_step(19.4), 20.0);
        assert!((nice_step(0.013) - 0.02).abs() < 1e-12);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn byte_steps_are_round_binary_figures() {
        let (kib, mib) = (1024.0, 1024.0 * 1024.0);
        assert_eq!(axis_step(7.3 * mib, Some("B/s")), 2.0 * mib);
        // 3,000 B: whole KiB, not 1000 B steps printed as "2.9 KiB".
        assert_eq!(axis_step(3_000.0, Some("B/s")), kib);
        assert_eq!(axis_step(2_000.0, Some("B")), 0.5 * kib);
        // Below a KiB, bytes are plain numbers.
        assert_eq!(axis_step(900.0, Some("B")), 200.0);
        assert_eq!(axis_step(7.3e6, None), 2e6);
    }

    #[test]
    fn plot_shares_axes_between_lines() {
        let lines = [
            line("rx", &[(1_000, 10.0), (2_000, 30.0), (3_000, 20.0)]),
            line("tx", &[(2_000, 5.0), (3_000, 45.0)]),
        ];
        let plot = plot(&lines, None, 100.0, 50.0, 0).unwrap();
        assert_eq!((plot.y_min, plot.y_max), (0.0, 50.0));
        assert_eq!(
            tick_values(&plot.y_ticks),
            [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
        );
        assert_eq!((plot.y_ticks[0].at, plot.y_ticks[5].at), (1.0, 0.0));
        assert_eq!((plot.t_min, plot.t_max), (1_000, 3_000));
        assert_eq!(plot.lines[0].stroke, "M0.0 40.0L50.0 20.0L100.0 30.0");
        assert_eq!(plot.lines[1].stroke, "M50.0 45.0L100.0 5.0");
        assert_eq!(
            plot.lines[1].area,
            "M50.0 45.0L100.0 5.0L100.0 50.0L50.0 50.0Z"
        );
    }

    #[test]
    fn byte_axes_tick_in_binary_multiples() {
        let mib = 1024.0 * 1024.0;
        let lines = [line("rx", &[(0, 1.0 * mib), (1, 7.3 * mib)])];
        let plot = plot(&lines, Some("B/s"), 10.0, 10.0, 0).unwrap();
        assert_eq!(plot.y_max, 8.0 * mib);
        assert_eq!(
            tick_values(&plot.y_ticks),
            [0.0, 2.0 * mib, 4.0 * mib, 6.0 * mib, 8.0 * mib]
        );
        let quiet = [line("rx", &[(0, 0.0), (1, 2_950.0)])];
        let quiet = super::plot(&quiet, Some("B/s"), 10.0, 10.0, 0).unwrap();
        assert_eq!(tick_values(&quiet.y_ticks), [0.0, 1024.0, 2048.0, 3072.0]);
    }

    #[test]
    fn percentages_stop_at_one_hundred() {
        for top in [51.0, 81.0, 97.0, 100.0] {
            let lines = [line("cpu", &[(0, 20.0), (1, top)])];
            let y_max = plot(&lines, Some("%"), 10.0, 10.0, 0).unwrap().y_max;
            assert!(y_max >= top && y_max <= 100.0, "{top}: {y_max}");
        }
        let idle = [line("cpu", &[(0, 2.0), (1, 3.2)])];
        assert_eq!(plot(&idle, Some("%"), 10.0, 10.0, 0).unwrap().y_max, 4.0);
    }

    #[test]
    fn negative_and_flat_data_get_a_usable_range() {
        let lines = [line("t", &[(0, -3.0), (1, 7.0)])];
        let p = plot(&lines, None, 10.0, 10.0, 0).unwrap();
        assert_eq!((p.y_min, p.y_max), (-4.0, 8.0));
        assert_eq!(
            tick_values(&p.y_ticks),
            [-4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0]
        );
        let zeros = [line("z", &[(0, 0.0), (1, 0.0)])];
        let p = plot(&zeros, None, 10.0, 10.0, 0).unwrap();
        assert_eq!((p.y_min, p.y_max), (0.0, 1.0));
        assert_eq!(p.lines[0].stroke, "M0.0 10.0L10.0 10.0");
        // Floating-point steps do not add a needless extra tick.
        let small = [line("s", &[(0, 0.1), (1, 0.3)])];
        let p = plot(&small, None, 10.0, 10.0, 0).unwrap();
        assert!((p.y_max - 0.3).abs() < 1e-9, "{}", p.y_max);
        assert_eq!(p.y_ticks.len(), 4);
    }

    #[test]
    fn time_ticks_count_back_from_the_newest_point_in_round_steps() {
        // Half an hour of data: every 5 minutes (30 / 6 = 5).
        let lines = [line("a", &[(0, 1.0), (1_800_000, 2.0)])];
        let p = plot(&lines, None, 10.0, 10.0, 0).unwrap();
        let minutes: Vec<i64> = p.t_ticks.iter().map(|t| t.value / 60_000).collect();
        assert_eq!(minutes, [0, 5, 10, 15, 20, 25, 30]);
        assert_eq!((p.t_ticks[0].at, p.t_ticks[6].at), (1.0, 0.0));
        assert!((p.t_ticks[3].at - 0.5).abs() < 1e-12);
        // 100 s: every 30 s (100 / 6 = 16.7 rounds up to 30), the oldest
        // label inside the span.
        let lines = [line("a", &[(0, 1.0), (100_000, 2.0)])];
        let p = plot(&lines, None, 10.0, 10.0, 0).unwrap();
        assert_eq!(tick_values(&p.t_ticks), [0, 30_000, 60_000, 90_000]);
        // One timestamp: "now" at the right edge.
        let lines = [line("a", &[(5, 1.0)])];
        let p = plot(&lines, None, 10.0, 10.0, 0).unwrap();
        assert_eq!(p.t_ticks, [Tick { at: 1.0, value: 0 }]);
    }

    #[test]
    fn empty_series_and_empty_lines() {
        assert_eq!(plot(&[], None, 10.0, 10.0, 0), None);
        assert_eq!(plot(&[line("a", &[])], None, 10.0, 10.0, 0), None);
        let p = plot(
            &[line("a", &[]), line("b", &[(5, 1.0)])],
            None,
            10.0,
            10.0,
            0,
        )
        .unwrap();
        assert_eq!(p.lines[0], PlottedLine::default());
        assert_eq!(p.lines[1].stroke, "M10.0 0.0L6.0 0.0");
    }

    #[test]
    fn the_time_axis_ends_now() {
        // Points from 10 to 4 minutes ago: the axis runs to now, so the line
        // stops 40 % short of the right edge, and "now" is the last label.
        let now = 600_000;
        let lines = [line("a", &[(0, 1.0), (180_000, 2.0), (360_000, 3.0)])];
        let p = plot(&lines, None, 100.0, 10.0, now).unwrap();
        assert_eq!((p.t_min, p.t_max), (0, now));
        assert_eq!(p.lines[0].stroke, "M0.0 6.7L30.0 3.3L60.0 0.0");
        assert_eq!(p.t_ticks[0], Tick { at: 1.0, value: 0 });
        // A publisher's clock ahead of the server's: the axis reaches its point.
        let ahead = [line("a", &[(0, 1.0), (700_000, 2.0)])];
        assert_eq!(plot(&ahead, None, 100.0, 10.0, now).unwrap().t_max, 700_000);
    }

    #[test]
    fn lines_break_where_there_is_no_data() {
        // Every 10 s, then nothing for 2 minutes, then every 10 s again.
        let lines = [line(
            "a",
            &[
                (0, 1.0),
                (10_000, 1.0),
                (20_000, 1.0),
                (140_000, 1.0),
                (150_000, 1.0),
            ],
        )];
        let p = plot(&lines, None, 150.0, 10.0, 0).unwrap();
        assert_eq!(
            p.lines[0].stroke,
            "M0.0 0.0L10.0 0.0L20.0 0.0M140.0 0.0L150.0 0.0"
        );
        assert_eq!(
            p.lines[0].area,
            "M0.0 0.0L10.0 0.0L20.0 0.0L20.0 10.0L0.0 10.0Z\
             M140.0 0.0L150.0 0.0L150.0 10.0L140.0 10.0Z"
        );
        // Up to five usual intervals is no gap (a late sample, a slow cron).
        let late = [line(
            "a",
            &[(0, 1.0), (10_000, 1.0), (20_000, 1.0), (70_000, 1.0)],
        )];
        assert_eq!(
            plot(&late, None, 70.0, 10.0, 0).unwrap().lines[0]
                .stroke
                .matches('M')
                .count(),
            1
        );
        // A value that is not a number breaks the line too; a lone point gets a stub.
        let holed = [line(
            "a",
            &[(0, 1.0), (10_000, 1.0), (20_000, f64::NAN), (30_000, 1.0)],
        )];
        assert_eq!(
            plot(&holed, None, 30.0, 10.0, 0).unwrap().lines[0].stroke,
            "M0.0 0.0L10.0 0.0M30.0 0.0L26.0 0.0"
        );
        // Points stamped in the same millisecond (one publish of bare values)
        // say nothing of the pace: no gap between them and the next publish.
        let batch = [line(
            "a",
            &[(0, 1.0), (0, 2.0), (0, 3.0), (60_000, 4.0), (60_000, 5.0)],
        )];
        let p = plot(&batch, None, 60.0, 10.0, 0).unwrap();
        assert_eq!(p.lines[0].stroke.matches('M').count(), 1);
    }

    #[test]
    fn usual_intervals_are_medians() {
        let points = |times: &[i64]| times.iter().map(|&t| Point(t, 1.0)).collect::<Vec<_>>();
        assert_eq!(
            usual_interval(&points(&[0, 10, 20, 1_000, 1_010])),
            Some(10)
        );
        assert_eq!(usual_interval(&points(&[0, 100, 1_000, 1_100])), Some(100));
        assert_eq!(usual_interval(&points(&[5, 5])), None);
        assert_eq!(usual_interval(&points(&[5])), None);
    }
}
