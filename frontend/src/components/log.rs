use protocol::Log;
use yew::prelude::*;

use crate::format;

#[derive(Properties, PartialEq)]
pub struct LogProps {
    pub log: Log,
}

/// Recent lines, newest first (what just happened is what a viewer looks
/// for), each with its time of day, from the top of the card to its bottom.
/// A line takes at most two lines of text, ending in "…" (the stylesheet
/// clamps it; the whole line is its tooltip); the lines that do not fit the
/// card are counted under it ("+N more").
#[function_component]
pub fn LogView(props: &LogProps) -> Html {
    let lines = &props.log.lines;
    if lines.is_empty() {
        return html! { <p class="log-empty" data-testid="widget-value">{ "No lines yet" }</p> };
    }
    html! {
        <ol class="log" data-testid="widget-value">
            { for lines.iter().rev().map(|line| html! {
                <li class="log-line">
                    <time class="log-time">{ format::time_of_day(line.at, local_offset_ms(line.at)) }</time>
                    <span class="log-text" title={line.text.clone()} dir="auto">{ &line.text }</span>
                </li>
            }) }
        </ol>
    }
}

/// How far the browser's time zone is ahead of UTC at `at_ms` (per line, as
/// a log may span a daylight-saving change).
fn local_offset_ms(at_ms: i64) -> i64 {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
    // getTimezoneOffset() is minutes *behind* UTC.
    -(date.get_timezone_offset() as i64) * 60_000
}
