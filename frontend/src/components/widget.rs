use protocol::{Status, StatusLevel, Widget, WidgetValue};
use yew::prelude::*;

use super::{
    gauge::GaugeView, list::ListView, number::NumberView, series::SeriesView, status::StatusView,
    text::TextView, unknown::UnknownView,
};
use crate::format;

#[derive(Properties, PartialEq)]
pub struct WidgetCardProps {
    pub widget: Widget,
    /// "Now" on the server's clock, for the widget's age.
    pub server_now_ms: f64,
}

/// One card of the grid: title, age when it is not fresh, and the body for the
/// widget's kind.
///
/// DOM contract: `data-widget-id`, `data-kind`, and inside, the main value in
/// an element with `data-testid="widget-value"` (rendered by each kind's view).
#[function_component]
pub fn WidgetCard(props: &WidgetCardProps) -> Html {
    let widget = &props.widget;
    let kind = kind_name(&widget.value);
    let title = widget
        .title
        .clone()
        .unwrap_or_else(|| widget.id.to_string());
    let age_s = (props.server_now_ms - widget.updated_at as f64) / 1000.0;
    let age = format::age(age_s);
    let fresh = age_s < 5.0;

    let body = match &widget.value {
        WidgetValue::Number(number) => html! { <NumberView number={number.clone()} /> },
        WidgetValue::Gauge(gauge) => html! { <GaugeView gauge={gauge.clone()} /> },
        WidgetValue::Series(series) => html! { <SeriesView series={series.clone()} /> },
        WidgetValue::List(list) => html! { <ListView list={list.clone()} /> },
        WidgetValue::Status(status) => html! { <StatusView status={status.clone()} /> },
        WidgetValue::Text(text) => html! { <TextView text={text.clone()} /> },
        WidgetValue::Unknown => html! { <UnknownView /> },
    };

    html! {
        <article
            class={classes!(
                "card",
                format!("card--{kind}"),
                is_wide(&widget.value).then_some("card--wide"),
                alert_class(&widget.value),
            )}
            data-widget-id={widget.id.to_string()}
            data-kind={kind}
        >
            <header class="card-head">
                <h2 class="card-title" title={widget.id.to_string()}>{ title }</h2>
                if !fresh {
                    <span class="card-age" title="last update">{ age }</span>
                }
            </header>
            <div class="card-body">{ body }</div>
        </article>
    }
}

/// The kind's wire name, as in the `kind` field (and `data-kind`).
pub fn kind_name(value: &WidgetValue) -> &'static str {
    match value {
        WidgetValue::Number(_) => "number",
        WidgetValue::Gauge(_) => "gauge",
        WidgetValue::Series(_) => "series",
        WidgetValue::List(_) => "list",
        WidgetValue::Status(_) => "status",
        WidgetValue::Text(_) => "text",
        WidgetValue::Unknown => "unknown",
    }
}

/// A failing status outlines its whole card, so it is seen from across the room.
fn alert_class(value: &WidgetValue) -> Option<&'static str> {
    match value {
        WidgetValue::Status(Status {
            level: StatusLevel::Critical,
            ..
        }) => Some("card--alert-critical"),
        WidgetValue::Status(Status {
            level: StatusLevel::Warn,
            ..
        }) => Some("card--alert-warn"),
        _ => None,
    }
}

/// Charts need room: they span two grid columns (one on a phone).
fn is_wide(value: &WidgetValue) -> bool {
    matches!(value, WidgetValue::Series(_))
}

#[cfg(test)]
mod tests {
    use super::kind_name;
    use protocol::WidgetValue;

    #[test]
    fn kind_names_match_the_wire_format() {
        for json in [
            r#"{"kind":"number","value":1}"#,
            r#"{"kind":"gauge","value":1}"#,
            r#"{"kind":"series","lines":[]}"#,
            r#"{"kind":"list","rows":[]}"#,
            r#"{"kind":"status","level":"ok"}"#,
            r#"{"kind":"text","text":"hi"}"#,
            r#"{"kind":"hologram","depth":3}"#,
        ] {
            let value: WidgetValue = serde_json::from_str(json).unwrap();
            let kind: serde_json::Value = serde_json::from_str(json).unwrap();
            let expected = match kind["kind"].as_str().unwrap() {
                "hologram" => "unknown",
                known => known,
            };
            assert_eq!(kind_name(&value), expected, "{json}");
        }
    }
}
