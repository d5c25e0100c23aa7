use protocol::Gauge;
use yew::prelude::*;

use crate::chart::{self, Level, GAUGE_START_DEG, GAUGE_SWEEP_DEG};
use crate::format;

#[derive(Properties, PartialEq)]
pub struct GaugeProps {
    pub gauge: Gauge,
}

const CX: f64 = 100.0;
const CY: f64 = 100.0;
const R: f64 = 80.0;

/// A 240° dial: the track, the filled part coloured by how full it is, the value
/// in the middle and the range under it.
#[function_component]
pub fn GaugeView(props: &GaugeProps) -> Html {
    let Gauge {
        value,
        min,
        max,
        unit,
    } = &props.gauge;
    let unit = unit.as_deref();
    let (figure, free_unit) = format::value_parts(*value, unit);
    let ratio = chart::ratio(*value, *min, *max);
    let level = Level::of(ratio);
    let track = chart::arc_path(CX, CY, R, GAUGE_START_DEG, GAUGE_SWEEP_DEG);
    let fill = chart::arc_path(CX, CY, R, GAUGE_START_DEG, GAUGE_SWEEP_DEG * ratio);
    // For a percentage the value says it all; otherwise tell how full it is.
    let caption = (unit != Some("%"))
        .then(|| format!("{:.0} % of {}", ratio * 100.0, format::value(*max, unit)));
    html! {
        <div class={classes!("gauge", format!("gauge--{}", level.class()))}>
            <div class="gauge-dial">
                <svg class="gauge-svg" viewBox="0 0 200 150" role="img"
                    aria-label={format!("{:.0} percent", ratio * 100.0)}>
                    <path class="gauge-track" d={track} />
                    if !fill.is_empty() {
                        <path class="gauge-fill" d={fill} />
                    }
                </svg>
                <div class="gauge-center">
                    <div class="gauge-value" data-testid="widget-value">
                        { figure }
                        if let Some(unit) = free_unit {
                            <span class="unit">{ " " }{ unit }</span>
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
