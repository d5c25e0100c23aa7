use protocol::Series;
use yew::prelude::*;

use super::placed::Placed;
use crate::chart;
use crate::format;

#[derive(Properties, PartialEq)]
pub struct SeriesProps {
    pub series: Series,
    /// "Now" on the server's clock: where the time axis ends.
    pub server_now_ms: f64,
}

/// The chart's drawing box. The SVG stretches to the card (the strokes keep
/// their width with `vector-effect`), labels are HTML around it, placed by
/// percentage so they stay crisp whatever the card's shape.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 180.0;
/// Distinct line colours (CSS classes `series-0` … `series-5`); past them,
/// lines take the colours again, dashed (`series-dash-1`), then dotted
/// (`series-dash-2`), so up to 18 lines each look different.
const PALETTE: usize = 6;

/// A line chart: every line on shared axes with value and time labels, the
/// time axis ending now. One line: its latest value in big above the chart.
/// Several: a legend with each line's latest value (the first line's alone
/// in big would say little of the others, and take room the chart needs in a
/// card of fixed size), beside the chart in a wide card, above it otherwise.
///
/// DOM contract: `data-testid="widget-value"` is the big value or the legend;
/// `.series-line` each line's path (one `M` per piece between gaps);
/// `.series-y`, `.series-time span` the labels.
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
    let several = series.lines.len() > 1;
    let class = classes!("series", several.then_some("series--legend"));
    let head = if !several {
        let (headline, exact) = latest(0);
        // `role="img"`: screen readers take the exact value for the figure.
        html! {
            <div class="big-value" data-testid="widget-value"
                role="img" aria-label={exact.clone()} title={exact}>{ headline }</div>
        }
    } else {
        html! {
            <ul class="legend" data-testid="widget-value">
                { for series.lines.iter().enumerate().map(|(i, line)| {
                    let (value, exact) = latest(i);
                    html! {
                        <li class={look(i)}>
                            <span class="legend-swatch" aria-hidden="true"></span>
                            <span class="legend-name" dir="auto">{ &line.name }</span>
                            <span class="legend-value" role="img" aria-label={exact.clone()} title={exact}>
                                { value }
                            </span>
                        </li>
                    }
                }) }
            </ul>
        }
    };

    let Some(plot) = chart::plot(
        &series.lines,
        unit,
        WIDTH,
        HEIGHT,
        props.server_now_ms as i64,
    ) else {
        return html! {
            <div {class}>
                { head }
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
    // Every other label is "minor": the stylesheet hides those when the chart
    // is too short (or narrow) for all of them to stand apart.
    let minor = |i: usize| (i % 2 == 1).then_some("minor");

    html! {
        <div {class}>
            { head }
            <div class="series-chart">
                <svg class="series-svg" viewBox={view_box} preserveAspectRatio="none" aria-hidden="true">
                    { for gridlines.map(|d| html! { <path class="series-grid" d={d} /> }) }
                    { for plot.lines.iter().enumerate().map(|(i, line)| html! {
                        <g class={look(i)}>
                            // Overlapping fills turn muddy: only a lone line gets one.
                            if single {
                                <path class="series-area" d={line.area.clone()} />
                            }
                            <path class="series-line" d={line.stroke.clone()} />
                        </g>
                    }) }
                </svg>
                { for plot.y_ticks.iter().enumerate().map(|(i, tick)| html! {
                    <Placed class={classes!("series-y", minor(i))} property="top" value={percent(tick.at)}>
                        { format::axis(tick.value, unit) }
                    </Placed>
                }) }
            </div>
            <div class="series-time">
                { for plot.t_ticks.iter().enumerate().map(|(i, tick)| html! {
                    <Placed class={classes!(minor(i))} property="left" value={percent(tick.at)}>
                        { format::time_offset(tick.value) }
                    </Placed>
                }) }
            </div>
        </div>
    }
}

/// The colour and dash of the `i`-th line (see [`PALETTE`]).
fn look(i: usize) -> Classes {
    let dash = (i / PALETTE) % 3;
    classes!(
        format!("series-{}", i % PALETTE),
        (dash > 0).then(|| format!("series-dash-{dash}")),
    )
}

/// A tick's place along an axis (`at` in `0..=1`), as a CSS percentage.
fn percent(at: f64) -> AttrValue {
    AttrValue::from(format!("{:.2}%", at * 100.0))
}
