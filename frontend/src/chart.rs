//! Geometry for the SVG widgets (gauge arc, series lines): pure and unit-tested,
//! so the components only place what is computed here.

use protocol::SeriesLine;

/// How full a gauge is, for its colour: the thresholds are fractions of the
/// gauge's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Critical,
}

impl Level {
    pub const WARN_AT: f64 = 0.75;
    pub const CRITICAL_AT: f64 = 0.9;

    pub fn of(ratio: f64) -> Level {
        if ratio >= Self::CRITICAL_AT {
            Level::Critical
        } else if ratio >= Self::WARN_AT {
            Level::Warn
        } else {
            Level::Ok
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Critical => "critical",
        }
    }
}

/// Where `value` sits between `min` and `max`, clamped to `0..=1`. A degenerate
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

/// A round upper bound for an axis: the smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4,
/// 5, 6, 8 (times a power of ten) that is at least `x`.
pub fn nice_ceiling(x: f64) -> f64 {
    if !x.is_finite() || x <= 0.0 {
        return 0.0;
    }
    const STEPS: [f64; 11] = [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0];
    let magnitude = 10f64.powf(x.log10().floor());
    let fraction = x / magnitude;
    let step = STEPS
        .iter()
        .copied()
        .find(|s| *s >= fraction - 1e-9)
        .unwrap_or(10.0);
    step * magnitude
}

/// [`nice_ceiling`] in the unit's own steps: byte figures are shown in binary
/// multiples, so their axis ends on a round number of KiB/MiB/GiB.
pub fn nice_ceiling_in(x: f64, unit: Option<&str>) -> f64 {
    if matches!(unit, Some("B" | "B/s")) && x >= 1024.0 {
        let scale = 1024f64.powi((x.log2() / 10.0).floor() as i32);
        return nice_ceiling(x / scale) * scale;
    }
    nice_ceiling(x)
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
    /// The time range of the x axis, in ms since the Unix epoch.
    pub t_min: i64,
    pub t_max: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlottedLine {
    pub stroke: String,
    pub area: String,
}

/// Lays out every line of a series on shared axes. The y axis starts at zero
/// for non-negative data (so magnitudes compare honestly) and ends on a round
/// number; a percentage never goes past 100 unless the data does. `None` when
/// no line has a point.
pub fn plot(lines: &[SeriesLine], unit: Option<&str>, width: f64, height: f64) -> Option<Plot> {
    let points = || lines.iter().flat_map(|l| l.points.iter());
    let finite = || points().filter(|p| p.1.is_finite());
    let t_min = finite().map(|p| p.0).min()?;
    let t_max = finite().map(|p| p.0).max()?;
    let v_min = finite().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let v_max = finite().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);

    let y_min = if v_min >= 0.0 {
        0.0
    } else {
        -nice_ceiling_in(-v_min, unit)
    };
    let mut y_max = if v_max > 0.0 {
        nice_ceiling_in(v_max, unit)
    } else {
        0.0
    };
    if unit == Some("%") && v_max <= 100.0 {
        y_max = y_max.min(100.0);
    }
    if y_max <= y_min {
        y_max = y_min + 1.0;
    }

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
            let coords: Vec<(f64, f64)> = line
                .points
                .iter()
                .filter(|p| p.1.is_finite())
                .map(|p| (x_of(p.0), y_of(p.1)))
                .collect();
            let (Some(first), Some(last)) = (coords.first(), coords.last()) else {
                return PlottedLine::default();
            };
            let mut stroke = String::with_capacity(coords.len() * 14);
            for (i, (x, y)) in coords.iter().enumerate() {
                let cmd = if i == 0 { 'M' } else { 'L' };
                stroke.push_str(&format!("{cmd}{x:.1} {y:.1}"));
            }
            if coords.len() == 1 {
                // A single point still deserves a visible mark: a short flat stub.
                stroke.push_str(&format!("L{:.1} {:.1}", (first.0 - 4.0).max(0.0), first.1));
            }
            let area = format!(
                "{stroke}L{:.1} {height:.1}L{:.1} {height:.1}Z",
                last.0, first.0
            );
            PlottedLine { stroke, area }
        })
        .collect();

    Some(Plot {
        lines,
        y_min,
        y_max,
        t_min,
        t_max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Point;

    fn line(name: &str, points: &[(i64, f64)]) -> SeriesLine {
        SeriesLine {
            name: name.to_owned(),
            points: points.iter().map(|&(t, v)| Point(t, v)).collect(),
        }
    }

    #[test]
    fn levels_follow_the_thresholds() {
        assert_eq!(Level::of(0.0), Level::Ok);
        assert_eq!(Level::of(0.749), Level::Ok);
        assert_eq!(Level::of(0.75), Level::Warn);
        assert_eq!(Level::of(0.899), Level::Warn);
        assert_eq!(Level::of(0.9), Level::Critical);
        assert_eq!(Level::of(1.0), Level::Critical);
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
    fn nice_ceilings_are_round_and_not_below() {
        assert_eq!(nice_ceiling(3.0), 3.0);
        assert_eq!(nice_ceiling(3.2), 4.0);
        assert_eq!(nice_ceiling(63.0), 80.0);
        assert_eq!(nice_ceiling(100.0), 100.0);
        assert_eq!(nice_ceiling(101.0), 120.0);
        assert!((nice_ceiling(0.013) - 0.015).abs() < 1e-12);
        assert_eq!(nice_ceiling(0.0), 0.0);
    }

    #[test]
    fn byte_axes_end_on_round_binary_figures() {
        let mib = 1024.0 * 1024.0;
        assert_eq!(nice_ceiling_in(7.3 * mib, Some("B/s")), 8.0 * mib);
        assert_eq!(nice_ceiling_in(1100.0, Some("B")), 1.2 * 1024.0);
        assert_eq!(nice_ceiling_in(900.0, Some("B")), 1000.0);
        assert_eq!(nice_ceiling_in(7.3e6, None), 8e6);
    }

    #[test]
    fn plot_shares_axes_between_lines() {
        let lines = [
            line("rx", &[(1_000, 10.0), (2_000, 30.0), (3_000, 20.0)]),
            line("tx", &[(2_000, 5.0), (3_000, 45.0)]),
        ];
        let plot = plot(&lines, Some("B/s"), 100.0, 50.0).unwrap();
        assert_eq!((plot.y_min, plot.y_max), (0.0, 50.0));
        assert_eq!((plot.t_min, plot.t_max), (1_000, 3_000));
        assert_eq!(plot.lines[0].stroke, "M0.0 40.0L50.0 20.0L100.0 30.0");
        assert_eq!(plot.lines[1].stroke, "M50.0 45.0L100.0 5.0");
        assert_eq!(
            plot.lines[1].area,
            "M50.0 45.0L100.0 5.0L100.0 50.0L50.0 50.0Z"
        );
    }

    #[test]
    fn percentages_stop_at_one_hundred() {
        let lines = [line("cpu", &[(0, 20.0), (1, 97.0)])];
        assert_eq!(plot(&lines, Some("%"), 10.0, 10.0).unwrap().y_max, 100.0);
        let idle = [line("cpu", &[(0, 2.0), (1, 3.2)])];
        assert_eq!(plot(&idle, Some("%"), 10.0, 10.0).unwrap().y_max, 4.0);
    }

    #[test]
    fn negative_and_flat_data_get_a_usable_range() {
        let lines = [line("t", &[(0, -3.0), (1, 7.0)])];
        let p = plot(&lines, None, 10.0, 10.0).unwrap();
        assert_eq!((p.y_min, p.y_max), (-3.0, 8.0));
        let zeros = [line("z", &[(0, 0.0), (1, 0.0)])];
        let p = plot(&zeros, None, 10.0, 10.0).unwrap();
        assert_eq!((p.y_min, p.y_max), (0.0, 1.0));
        assert_eq!(p.lines[0].stroke, "M0.0 10.0L10.0 10.0");
    }

    #[test]
    fn empty_series_and_empty_lines() {
        assert_eq!(plot(&[], None, 10.0, 10.0), None);
        assert_eq!(plot(&[line("a", &[])], None, 10.0, 10.0), None);
        let p = plot(&[line("a", &[]), line("b", &[(5, 1.0)])], None, 10.0, 10.0).unwrap();
        assert_eq!(p.lines[0], PlottedLine::default());
        assert_eq!(p.lines[1].stroke, "M10.0 0.0L6.0 0.0");
    }
}
