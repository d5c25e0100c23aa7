use protocol::Number;
use yew::prelude::*;

use crate::{a11y, chart, format, level};

/// The sparkline's drawing box; the SVG stretches to the card's width. Ten
/// times the 200 x 40 its shape needs: drawn in whole units (see
/// [`chart::sparkline`]), it keeps tenths' precision.
const SPARK_WIDTH: f64 = 2000.0;
const SPARK_HEIGHT: f64 = 400.0;
/// Its `viewBox`, "0 0 SPARK_WIDTH SPARK_HEIGHT" (a test keeps them equal).
const SPARK_VIEW_BOX: &str = "0 0 2000 400";

/// A big figure (coloured by its thresholds, if it has any), an arrow and the
/// change since the previous value (red when it heads towards `critical`,
/// green when away), and a sparkline of the recent values.
///
/// The figure never reads as a threshold the value has not reached (it takes
/// more digits instead) and is never cut: a long unit goes to the next line,
/// and only the unit ends in "…" if even that is too narrow. Its tooltip is
/// the exact value; its accessible name the exact value and level, and the
/// change's says up or down (see [`a11y`]).
///
/// DOM contract: `data-testid="widget-value"` (the figure in `.figure`, the
/// unit; `data-chars`, the figure's length, by which a dense kiosk wall
/// sizes it), `number-delta` (arrow and change, once there is a previous value),
/// `sparkline` (the SVG, from two recent values on).
///
/// A function, not a component: it has no state, and its card renders only
/// when its value changed (a component would add its own render to each).
pub fn number_view(number: &Number) -> Html {
    let unit = number.unit.as_deref();
    let (figure, free_unit) =
        format::value_parts_against(number.value, unit, number.thresholds.as_ref());
    let exact = format::exact(number.value, unit);
    // Without a level to add, the figure is named by its tooltip (`title`
    // names an element that has no `aria-label`): one attribute for the
    // browser to change on every update, not two equal ones.
    let name = a11y::number(number, &exact);
    let delta = number
        .previous
        .and_then(|previous| format::delta(number.value, previous, unit));
    let level = level::of_number(number);
    // With thresholds, the arrow says whether the change is good news.
    let worse = number
        .previous
        .and_then(|previous| level::change_is_worse(number, previous));
    let judged = worse.map(|worse| {
        if worse {
            "delta--worse"
        } else {
            "delta--better"
        }
    });
    let spark = chart::sparkline(&number.recent, SPARK_WIDTH, SPARK_HEIGHT);
    html! {
        <div class="number">
            // `role="img"` so that screen readers take the exact value (and
            // level) for the rounded figure.
            <div class={classes!("big-value", level.map(level::css_class))}
                data-testid="widget-value" data-chars={figure_length(&figure)}
                role="img" aria-label={name} title={exact}>
                <span class="figure">{ figure }</span>
                if let Some(unit) = free_unit {
                    { " " }<span class="unit" dir="auto">{ unit }</span>
                }
            </div>
            if let Some((trend, change)) = delta {
                <div class={classes!("delta", trend.css_class(), judged)}
                    data-testid="number-delta"
                    role="img" aria-label={a11y::change(trend, &change, worse)}>
                    <span class="delta-arrow">{ trend.arrow() }</span>
                    { change }
                </div>
            }
            if let Some(path) = spark {
                <svg class="sparkline" viewBox={SPARK_VIEW_BOX}
                    preserveAspectRatio="none" aria-hidden="true" data-testid="sparkline">
                    <path d={path} />
                </svg>
            }
        </div>
    }
}

/// The figure's length in characters, 1 to 12 (the formatter's longest), as
/// `data-chars`: a dense kiosk wall (kiosk.css) sizes a short figure larger
/// than a long one, each as large as its card's width allows.
fn figure_length(figure: &str) -> &'static str {
    const LENGTHS: [&str; 12] = [
        "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
    ];
    LENGTHS[figure.chars().count().clamp(1, 12) - 1]
}

#[cfg(test)]
mod tests {
    use super::figure_length;

    #[test]
    fn the_sparklines_view_box_is_its_drawing_box() {
        assert_eq!(
            super::SPARK_VIEW_BOX,
            format!("0 0 {} {}", super::SPARK_WIDTH, super::SPARK_HEIGHT)
        );
    }

    #[test]
    fn figure_lengths_are_counted_in_characters_within_the_formatters_bounds() {
        assert_eq!(figure_length("7"), "1");
        assert_eq!(figure_length("123,456"), "7");
        assert_eq!(figure_length("−1.5k"), "5");
        assert_eq!(figure_length(""), "1");
        assert_eq!(figure_length("1234567890123456"), "12");
    }
}
