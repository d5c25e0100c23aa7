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
    // Keyed by the line's time and its place among the newer lines of the
    // same time, which a new line does not change: a new line inserts one
    // element and the oldest removes one, rather than every line's text
    // moving down an element (200 text and title changes per update, and a
    // layout of every line, on a log-heavy wall screen).
    let mut newer_same_time = 0;
    let mut previous_at = None;
    html! {
        <ol class="log" data-testid="widget-value">
            { for lines.iter().rev().map(|line| {
                newer_same_time = if previous_at == Some(line.at) { newer_same_time + 1 } else { 0 };
                previous_at = Some(line.at);
                html! {
                    <LogLineView key={format!("{}-{newer_same_time}", line.at)}
                        at={line.at} text={AttrValue::from(line.text.clone())} />
                }
            }) }
        </ol>
    }
}

#[derive(Properties, PartialEq)]
struct LogLineProps {
    at: i64,
    text: AttrValue,
}

/// One line; it renders again only when its time or text changes.
#[function_component]
fn LogLineView(props: &LogLineProps) -> Html {
    html! {
        <li class="log-line">
            <time class="log-time">{ format::time_of_day(props.at, local_offset_ms(props.at)) }</time>
            <span class="log-text" title={props.text.clone()} dir="auto">{ props.text.clone() }</span>
        </li>
    }
}

/// How far the browser's time zone is ahead of UTC at `at_ms` (per line, as
/// a log may span a daylight-saving change).
fn local_offset_ms(at_ms: i64) -> i64 {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
    // getTimezoneOffset() is minutes *behind* UTC.
    -(date.get_timezone_offset() as i64) * 60_000
}
