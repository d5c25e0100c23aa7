use protocol::{Gauge, Thresholds};
use yew::prelude::*;

use crate::chart::{self, GAUGE_START_DEG, GAUGE_SWEEP_DEG};
use crate::{a11y, format, level};

#[derive(Properties, PartialEq)]
pub struct GaugeProps {
    pub gauge: Gauge,
}

const CX: f64 = 100.0;
const CY: f64 = 100.0;
const R: f64 = 80.0;
/// The threshold zones run just outside the track, like the red sector of a
/// rev counter.
const ZONE_R: f64 = 93.0;

/// A 240° dial: the track with its warn/critical zones, the filled part in the
/// colour of the value's level, the value in the middle and the range under it.
/// The dial sizes itself to the card (width and height). Assistive technology
/// reads it as one image named by its value, unit, range and level (see
/// [`a11y::gauge`]); the drawing alone would say "full" for any value past
/// the top.
#[function_component]
pub fn GaugeView(props: &GaugeProps) -> Html {
    let gauge = &props.gauge;
    let Gauge {
        value, min, max, ..
    } = gauge;
    let unit = gauge.unit.as_deref();
    let (figure, free_unit) =
        format::value_parts_against(*value, unit, Some(&thresholds_of(gauge)));
    let exact = format::exact(*value, unit);
    // Drawn clamped to the dial; the figure says the real value.
    let ratio = chart::ratio(*value, *min, *max);
    let level = level::of_gauge(gauge);
    let track = chart::arc_path(CX, CY, R, GAUGE_START_DEG, GAUGE_SWEEP_DEG);
    let fill = chart::arc_path(CX, CY, R, GAUGE_START_DEG, GAUGE_SWEEP_DEG * ratio);
    let zones = gauge
        .thresholds
        .map(|thresholds| chart::threshold_zones(&thresholds, *min, *max))
        .unwrap_or_default();
    html! {
        <div class={classes!("gauge", level::css_class(level))}
            role="img" aria-label={a11y::gauge(gauge)}>
            <div class="gauge-dial">
                <svg class="gauge-svg" viewBox="0 0 200 150" aria-hidden="true">
                    { for zones.iter().map(|zone| {
                        let start = GAUGE_START_DEG + GAUGE_SWEEP_DEG * zone.from;
                        let sweep = GAUGE_SWEEP_DEG * (zone.to - zone.from);
                        html! {
                            <path
                                class={classes!("gauge-zone", level::css_class(zone.level))}
                                d={chart::arc_path(CX, CY, ZONE_R, start, sweep)}
                            />
                        }
                    }) }
                    <path class="gauge-track" d={track} />
                    if !fill.is_empty() {
                        <path class="gauge-fill" d={fill} />
                    }
                </svg>
                <div class="gauge-center">
                    <div class="gauge-value" data-testid="widget-value" title={exact}>
                        <span class="figure">{ figure }</span>
                        if let Some(unit) = free_unit {
                            { " " }<span class="unit" dir="auto">{ unit }</span>
                        }
                    </div>
                    if let Some(caption) = caption(gauge) {
                        <div class="gauge-caption">{ caption }</div>
                    }
                </div>
            </div>
            <div class="gauge-range">
                <span>{ format::axis(*min, unit) }</span>
                <span>{ format::axis(*max, unit) }</span>
            </div>
        </div>
    }
}

/// Under the figure, how full the gauge is, by the number rules (never "100
/// %" short of full) and not clamped (past the top reads "120 %"): "45 % of
/// 16 GiB" for a range from zero, "70 % of range" for any other (a −50..50 °C
/// gauge at 20 °C is not "70 % of 50 °C"). None for a percentage, whose value
/// says it all, and for an empty range.
pub fn caption(gauge: &Gauge) -> Option<String> {
    let unit = gauge.unit.as_deref();
    let span = gauge.max - gauge.min;
    if unit == Some("%") || !(span > 0.0 && gauge.value.is_finite()) {
        return None;
    }
    let filled = format::value((gauge.value - gauge.min) * 100.0 / span, Some("%"));
    Some(if gauge.min == 0.0 {
        format!("{filled} of {}", format::value(gauge.max, unit))
    } else {
        format!("{filled} of range")
    })
}

/// The thresholds the gauge is coloured by (its own, else the default
/// fractions of its range, as in [`level::of_gauge`]), which the figure must
/// not appear to reach before the value does.
fn thresholds_of(gauge: &Gauge) -> Thresholds {
    gauge.thresholds.unwrap_or_else(|| {
        let span = gauge.max - gauge.min;
        let at = |fraction: f64| (span > 0.0).then_some(gauge.min + span * fraction);
        Thresholds {
            warn: at(level::GAUGE_WARN_AT),
            critical: at(level::GAUGE_CRITICAL_AT),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge(value: f64, min: f64, max: f64, unit: Option<&str>) -> Gauge {
        Gauge {
            value,
            min,
            max,
            unit: unit.map(str::to_owned),
            thresholds: None,
        }
    }

    #[test]
    fn captions_say_how_full_and_of_what() {
        let memory = gauge(
            6.0 * 1024f64.powi(3),
            0.0,
            16.0 * 1024f64.powi(3),
            Some("B"),
        );
        assert_eq!(caption(&memory).as_deref(), Some("37.5 % of 16.0 GiB"));
        assert_eq!(
            caption(&gauge(7.0, 0.0, 10.0, Some("jobs"))).as_deref(),
            Some("70 % of 10 jobs")
        );
        assert_eq!(
            caption(&gauge(20.0, -50.0, 50.0, Some("°C"))).as_deref(),
            Some("70 % of range")
        );
        assert_eq!(
            caption(&gauge(12.0, 0.0, 10.0, None)).as_deref(),
            Some("120 % of 10")
        );
        assert_eq!(caption(&gauge(42.0, 0.0, 100.0, Some("%"))), None);
        assert_eq!(caption(&gauge(f64::NAN, 0.0, 1.0, None)), None);
    }
}
