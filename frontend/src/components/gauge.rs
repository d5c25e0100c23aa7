use protocol::{Gauge, Thresholds};
use yew::prelude::*;

use crate::chart::{self, GAUGE_START_DEG, GAUGE_SWEEP_DEG};
use crate::{format, level};

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
/// The dial sizes itself to the card (width and height).
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
    // How full it is, by the same number rules (never "100 %" short of full),
    // and not clamped: past the top of the dial reads "120 %".
    let span = max - min;
    let filled = if span > 0.0 && value.is_finite() {
        format::value((value - min) * 100.0 / span, Some("%"))
    } else {
        format::value(ratio * 100.0, Some("%"))
    };
    // For a percentage the value says it all; otherwise tell how full it is.
    let caption = (unit != Some("%")).then(|| format!("{filled} of {}", format::value(*max, unit)));
    html! {
        <div class={classes!("gauge", format!("level--{}", level::class(level)))}>
            <div class="gauge-dial">
                <svg class="gauge-svg" viewBox="0 0 200 150" role="img"
                    aria-label={format!("{} percent", filled.trim_end_matches(" %"))}>
                    { for zones.iter().map(|zone| {
                        let start = GAUGE_START_DEG + GAUGE_SWEEP_DEG * zone.from;
                        let sweep = GAUGE_SWEEP_DEG * (zone.to - zone.from);
                        html! {
                            <path
                                class={classes!("gauge-zone", format!("level--{}", level::class(zone.level)))}
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
                    // `role="img"`: screen readers take the exact value
                    // (`aria-label`) for the rounded figure.
                    <div class="gauge-value" data-testid="widget-value"
                        role="img" aria-label={exact.clone()} title={exact}>
                        <span class="figure">{ figure }</span>
                        if let Some(unit) = free_unit {
                            { " " }<span class="unit" dir="auto">{ unit }</span>
                        }
                    </div>
                    if let Some(caption) = caption {
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
