use protocol::Series;
use yew::prelude::*;

use crate::chart;
use crate::format;

#[derive(Properties, PartialEq)]
pub struct SeriesProps {
    pub series: Series,
}

/// The chart's drawing box. The SVG stretches to the card (the strokes keep
/// their width with `vector-effect`), labels are HTML around it.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 180.0;
/// Distinct line colours (CSS classes `series-0` … `series-5`), reused in turn.
const PALETTE: usize = 6;

/// A line chart: the latest value of the first line in big, every line on
/// shared axes, the y range, a time axis and a legend with each line's latest value.
#[function_component]
pub fn SeriesView(props: &SeriesProps) -> Html {
    let series = &props.series;
    let unit = series.unit.as_deref();
    let latest = |i: usize| {
        series
            .lines
            .get(i)
            .and_then(|line| line.points.last())
            .map(|point| format::value(point.1, unit))
    };
    let headline = latest(0).unwrap_or_else(|| format::NOT_A_NUMBER.to_owned());
    let first_name = series.lines.first().map(|line| line.name.clone());

    let Some(plot) = chart::plot(&series.lines, unit, WIDTH, HEIGHT) else {
        return html! {
            <div class="series">
                <div class="big-value" data-testid="widget-value">{ headline }</div>
                <div class="series-empty">{ "No data yet" }</div>
            </div>
        };
    };
    let span = plot.t_max - plot.t_min;
    let single = plot.lines.len() == 1;
    let view_box = format!("0 0 {WIDTH} {HEIGHT}");
    let gridlines = [0.0, 0.5, 1.0].map(|f| format!("M0 {y:.1}H{WIDTH}", y = HEIGHT * f));

    html! {
        <div class="series">
            <div class="series-head">
                <div class="big-value" data-testid="widget-value">{ headline }</div>
                if series.lines.len() > 1 {
                    if let Some(name) = first_name {
                        <span class="series-head-name">{ name }</span>
                    }
                }
            </div>
            <div class="series-chart">
                <svg class="series-svg" viewBox={view_box} preserveAspectRatio="none" aria-hidden="true">
                    { for gridlines.into_iter().map(|d| html! { <path class="series-grid" d={d} /> }) }
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
                <span class="series-y series-y--max">{ format::axis(plot.y_max, unit) }</span>
                <span class="series-y series-y--min">{ format::axis(plot.y_min, unit) }</span>
            </div>
            <div class="series-time">
                <span>{ format::time_offset(span) }</span>
                <span>{ format::time_offset(span / 2) }</span>
                <span>{ format::time_offset(0) }</span>
            </div>
            <ul class="legend">
                { for series.lines.iter().enumerate().map(|(i, line)| html! {
                    <li class={format!("series-{}", i % PALETTE)}>
                        <span class="legend-swatch" aria-hidden="true"></span>
                        <span class="legend-name">{ &line.name }</span>
                        <span class="legend-value">
                            { latest(i).unwrap_or_else(|| format::NOT_A_NUMBER.to_owned()) }
                        </span>
                    </li>
                }) }
            </ul>
        </div>
    }
}
