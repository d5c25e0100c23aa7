use protocol::Series;
use yew::prelude::*;

use super::placed::Placed;
use crate::chart;
use crate::format;

#[derive(Properties, PartialEq)]
pub struct SeriesProps {
    pub series: Series,
}

/// The chart's drawing box. The SVG stretches to the card (the strokes keep
/// their width with `vector-effect`), labels are HTML around it, placed by
/// percentage so they stay crisp whatever the card's shape.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 180.0;
/// Distinct line colours (CSS classes `series-0` … `series-5`), reused in turn.
const PALETTE: usize = 6;

/// A line chart: the latest value of the first line in big, every line on
/// shared axes with value and time ticks, and a legend with each line's latest value.
#[function_component]
pub fn SeriesView(props: &SeriesProps) -> Html {
    let series = &props.series;
    let unit = series.unit.as_deref();
    // A line's latest value: the figure, and the exact value for its
    // tooltip and accessible name.
    let latest = |i: usize| {
        series
            .lines
            .get(i)
            .and_then(|line| line.points.last())
            .map(|point| (format::value(point.1, unit), format::exact(point.1, unit)))
            .unwrap_or_else(|| {
                (
                    format::NOT_A_NUMBER.to_owned(),
                    format::NOT_A_NUMBER.to_owned(),
                )
            })
    };
    let (headline, headline_exact) = latest(0);
    let first_name = series.lines.first().map(|line| line.name.clone());

    let Some(plot) = chart::plot(&series.lines, unit, WIDTH, HEIGHT) else {
        return html! {
            <div class="series">
                <div class="big-value" data-testid="widget-value"
                    role="img" aria-label={headline_exact.clone()} title={headline_exact}>{ headline }</div>
                <div class="series-empty">{ "No data yet" }</div>
            </div>
        };
    };
    let single = plot.lines.len() == 1;
    let view_box = format!("0 0 {WIDTH} {HEIGHT}");
    let gridlines = plot
        .y_ticks
        .iter()
        .map(|tick| format!("M0 {y:.1}H{WIDTH}", y = HEIGHT * tick.at))
        .chain(
            plot.t_ticks
                .iter()
                .map(|tick| format!("M{x:.1} 0V{HEIGHT}", x = WIDTH * tick.at)),
        );

    html! {
        <div class="series">
            <div class="series-head">
                // `role="img"`: screen readers take the exact value for the figure.
                <div class="big-value" data-testid="widget-value"
                    role="img" aria-label={headline_exact.clone()} title={headline_exact}>{ headline }</div>
                if series.lines.len() > 1 {
                    if let Some(name) = first_name {
                        <span class="series-head-name">{ name }</span>
                    }
                }
            </div>
            <div class="series-chart">
                <svg class="series-svg" viewBox={view_box} preserveAspectRatio="none" aria-hidden="true">
                    { for gridlines.map(|d| html! { <path class="series-grid" d={d} /> }) }
                    { for plot.lines.iter().enumerate().map(|(i, line)| {
                        let colour = format!("series-{}", i % PALETTE);
                        html! {
                            <g class={colour}>
                                // Overlapping fills turn muddy: only a lone line gets one.
                                if single {
                                    <path class="series-area" d={line.area.clone()} />
                                }
                                <path class="series-line" d={line.stroke.clone()} />
                            </g>
                        }
                    }) }
                </svg>
                { for plot.y_ticks.iter().map(|tick| html! {
                    <Placed class="series-y" property="top" value={percent(tick.at)}>
                        { format::axis(tick.value, unit) }
                    </Placed>
                }) }
            </div>
            <div class="series-time">
                { for plot.t_ticks.iter().map(|tick| html! {
                    <Placed property="left" value={percent(tick.at)}>
                        { format::time_offset(tick.value) }
                    </Placed>
                }) }
            </div>
            <ul class="legend">
                { for series.lines.iter().enumerate().map(|(i, line)| {
                    let (value, exact) = latest(i);
                    html! {
                        <li class={format!("series-{}", i % PALETTE)}>
                            <span class="legend-swatch" aria-hidden="true"></span>
                            <span class="legend-name">{ &line.name }</span>
                            <span class="legend-value" role="img" aria-label={exact.clone()} title={exact}>
                                { value }
                            </span>
                        </li>
                    }
                }) }
            </ul>
        </div>
    }
}

/// A tick's place along an axis (`at` in `0..=1`), as a CSS percentage.
fn percent(at: f64) -> AttrValue {
    AttrValue::from(format!("{:.2}%", at * 100.0))
}
