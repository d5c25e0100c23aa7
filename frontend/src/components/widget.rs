use std::borrow::Cow;

use protocol::{Size, StatusLevel, Widget, WidgetKind, WidgetSpec, WidgetValue};
use yew::prelude::*;

use super::{
    clipped::use_clip, gauge::GaugeView, list::ListView, log::LogView, number::number_view,
    series::SeriesView, status::StatusView, text::TextView, unknown::UnknownView,
};
use crate::freshness::freshness;
use crate::layout::with_defaults;
use crate::level;
use crate::widgets::Shared;

#[derive(Properties)]
pub struct WidgetCardProps {
    /// The value, shared with the stream's state.
    pub widget: Shared<Widget>,
    /// Its declaration, whose defaults fill in what the value lacks.
    #[prop_or_default]
    pub declared: Option<Shared<WidgetSpec>>,
    /// Grid cells it spans.
    pub size: Size,
    /// "Now" on the server's clock, for the widget's age.
    pub server_now_ms: f64,
}

/// Equal, so the card is not rendered again, while it holds the same widget
/// and declaration (compared by pointer: the state copies a widget when it
/// changes it) and the clock has not moved what it shows ("updated 5m ago",
/// stale or not). Every dashboard re-renders once a second for the ages; of
/// its cards only those whose age text changes render again.
impl PartialEq for WidgetCardProps {
    fn eq(&self, other: &Self) -> bool {
        self.widget == other.widget
            && self.declared == other.declared
            && self.size == other.size
            && (self.server_now_ms == other.server_now_ms
                || self.freshness_at(self.server_now_ms) == self.freshness_at(other.server_now_ms))
    }
}

impl WidgetCardProps {
    fn freshness_at(&self, server_now_ms: f64) -> crate::freshness::Freshness {
        let expect_every = self
            .widget
            .expect_every
            .or_else(|| self.declared.as_ref().and_then(|d| d.expect_every));
        freshness(self.widget.updated_at, expect_every, server_now_ms)
    }
}

/// One card of the grid: title, age when it is not fresh, and the body for the
/// widget's kind. Its size is its declared grid span, whatever the content:
/// what does not fit is cut at the bottom of the body (see [`use_clip`]).
///
/// DOM contract (the end-to-end tests rely on it):
/// - `data-widget-id`, `data-kind` (the wire name, or `unknown`);
/// - inside, the main value in an element with `data-testid="widget-value"`
///   (rendered by each kind's view);
/// - `data-stale="true"` once the value is older than its `expect_every`
///   (absent while fresh), with a "Stale" tag (`.card-stale`) and "updated 5m
///   ago" in `data-testid="widget-age"` (which also shows, quietly, the age
///   of a value without `expect_every` once it is a few seconds old);
/// - `data-level` = `ok` | `warn` | `critical` | `unknown` for a status, and
///   for a number or gauge that has thresholds.
#[function_component]
pub fn WidgetCard(props: &WidgetCardProps) -> Html {
    #[cfg(all(test, target_arch = "wasm32"))]
    render_count::record(props.widget.id.as_str());
    // Lists and logs say how many of their rows or lines are cut.
    let clip = use_clip(matches!(
        props.widget.value,
        WidgetValue::List(_) | WidgetValue::Log(_)
    ));
    // Only a card that renders pays for its declared defaults.
    let widget: Cow<Widget> = match &props.declared {
        Some(declared) => Cow::Owned(with_defaults((*props.widget).clone(), declared)),
        None => Cow::Borrowed(&*props.widget),
    };
    let widget = &*widget;
    let kind = kind_name(&widget.value);
    let fresh = freshness(widget.updated_at, widget.expect_every, props.server_now_ms);
    let level = level::of_value(&widget.value);

    let body = match &widget.value {
        WidgetValue::Number(number) => number_view(number),
        WidgetValue::Gauge(gauge) => html! { <GaugeView gauge={gauge.clone()} /> },
        WidgetValue::Series(series) => html! {
            <SeriesView series={series.clone()} server_now_ms={props.server_now_ms} />
        },
        WidgetValue::List(list) => html! { <ListView list={list.clone()} /> },
        WidgetValue::Status(status) => html! { <StatusView status={status.clone()} /> },
        WidgetValue::Text(text) => html! { <TextView text={text.clone()} /> },
        WidgetValue::Log(log) => html! { <LogView log={log.clone()} /> },
        WidgetValue::Unknown => html! { <UnknownView /> },
    };
    // Built again only when one of them changes, not for every new value:
    // `classes!` hashes each name into a set.
    let class = use_memo(
        (
            kind_class(&widget.value),
            props.size,
            alert_class(level),
            fresh.stale,
        ),
        |&(kind, size, alert, stale)| {
            classes!(
                "card",
                kind,
                width_class(size),
                height_class(size),
                alert,
                stale.then_some("card--stale"),
            )
        },
    );
    let title: AttrValue = widget
        .title
        .clone()
        .unwrap_or_else(|| widget.id.to_string())
        .into();

    html! {
        <article
            class={(*class).clone()}
            data-widget-id={widget.id.to_string()}
            data-kind={kind}
            data-stale={fresh.stale.then_some("true")}
            data-level={level.map(level::class)}
        >
            <header class="card-head">
                <h2 class="card-title" title={title.clone()} dir="auto">{ title }</h2>
                // Overdue is said in words and marked, never by fading the
                // value: a dimmed critical gauge would read as calm.
                if fresh.stale {
                    <span class="card-stale">{ "Stale" }</span>
                }
                if let Some(age) = fresh.age {
                    <span class="card-age" data-testid="widget-age" title="last update">{ age }</span>
                }
            </header>
            { clip.render("card-body", body) }
        </article>
    }
}

#[derive(Properties, PartialEq)]
pub struct WaitingCardProps {
    pub spec: Shared<WidgetSpec>,
    /// Grid cells it spans (its declared size, or a kiosk grid's span).
    pub size: Size,
}

/// A declared widget nothing was published to yet: it keeps its place (and
/// size) in the layout, so the dashboard does not reflow when data arrives.
///
/// DOM contract: `data-widget-id`, `data-empty="true"`, and `data-kind` when
/// the declaration names a kind.
#[function_component]
pub fn WaitingCard(props: &WaitingCardProps) -> Html {
    let spec = &props.spec;
    let title = spec.title.clone().unwrap_or_else(|| spec.id.to_string());
    html! {
        <article
            class={classes!("card", "card--waiting", width_class(props.size), height_class(props.size))}
            data-widget-id={spec.id.to_string()}
            data-kind={spec.kind.map(WidgetKind::as_str)}
            data-empty="true"
        >
            <header class="card-head">
                <h2 class="card-title" title={title.clone()} dir="auto">{ title }</h2>
            </header>
            <div class="card-body">
                <p class="waiting">{ "Waiting for data" }</p>
            </div>
        </article>
    }
}

/// The kind's wire name, as in the `kind` field (and `data-kind`).
pub fn kind_name(value: &WidgetValue) -> &'static str {
    value.kind().map_or("unknown", WidgetKind::as_str)
}

/// `card--number` …: the kind's class (static: a card renders it on every
/// update).
fn kind_class(value: &WidgetValue) -> &'static str {
    match value.kind() {
        Some(WidgetKind::Number) => "card--number",
        Some(WidgetKind::Gauge) => "card--gauge",
        Some(WidgetKind::Series) => "card--series",
        Some(WidgetKind::List) => "card--list",
        Some(WidgetKind::Status) => "card--status",
        Some(WidgetKind::Text) => "card--text",
        Some(WidgetKind::Log) => "card--log",
        None => "card--unknown",
    }
}

/// `card--w2` … `card--w12`: the grid columns it spans (1 is the grid's
/// default and needs no class; no stylesheet rule spans more: kiosk.css's go
/// up to 12 columns).
fn width_class(Size(cols, _): Size) -> Option<&'static str> {
    const COLS: [&str; 11] = [
        "card--w2",
        "card--w3",
        "card--w4",
        "card--w5",
        "card--w6",
        "card--w7",
        "card--w8",
        "card--w9",
        "card--w10",
        "card--w11",
        "card--w12",
    ];
    COLS.get(usize::from(cols).checked_sub(2)?).copied()
}

/// `card--h2` … `card--h8`: the grid rows it spans (as [`width_class`]; up to
/// 8 rows).
fn height_class(Size(_, rows): Size) -> Option<&'static str> {
    const ROWS: [&str; 7] = [
        "card--h2", "card--h3", "card--h4", "card--h5", "card--h6", "card--h7", "card--h8",
    ];
    ROWS.get(usize::from(rows).checked_sub(2)?).copied()
}

/// A value in trouble outlines its whole card, so it is seen from across the room.
fn alert_class(level: Option<StatusLevel>) -> Option<&'static str> {
    match level? {
        StatusLevel::Critical => Some("card--alert-critical"),
        StatusLevel::Warn => Some("card--alert-warn"),
        StatusLevel::Ok | StatusLevel::Unknown => None,
    }
}

/// How often each card rendered, for the render-path tests in the browser.
#[cfg(all(test, target_arch = "wasm32"))]
pub mod render_count {
    use std::cell::RefCell;
    use std::collections::HashMap;

    thread_local! {
        static RENDERS: RefCell<HashMap<String, u32>> = RefCell::default();
    }

    pub fn record(id: &str) {
        RENDERS.with(|r| *r.borrow_mut().entry(id.to_owned()).or_default() += 1);
    }

    pub fn of(id: &str) -> u32 {
        RENDERS.with(|r| r.borrow().get(id).copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::kind_name;
    use protocol::WidgetValue;

    #[test]
    fn spans_and_kinds_name_the_stylesheets_classes() {
        use super::{height_class, kind_class, width_class};
        use protocol::Size;
        let classes = |size| (width_class(size), height_class(size));
        assert_eq!(classes(Size(1, 1)), (None, None));
        assert_eq!(classes(Size(2, 1)), (Some("card--w2"), None));
        assert_eq!(classes(Size(12, 8)), (Some("card--w12"), Some("card--h8")));
        assert_eq!(classes(Size(0, 3)), (None, Some("card--h3")));
        assert_eq!(classes(Size(13, 9)), (None, None));
        let number: WidgetValue = serde_json::from_str(r#"{"kind":"number","value":1}"#).unwrap();
        assert_eq!(kind_class(&number), "card--number");
        assert_eq!(kind_class(&WidgetValue::Unknown), "card--unknown");
    }

    #[test]
    fn kind_names_match_the_wire_format() {
        for json in [
            r#"{"kind":"number","value":1}"#,
            r#"{"kind":"gauge","value":1}"#,
            r#"{"kind":"series","lines":[]}"#,
            r#"{"kind":"list","rows":[]}"#,
            r#"{"kind":"status","level":"ok"}"#,
            r#"{"kind":"text","text":"hi"}"#,
            r#"{"kind":"log","lines":[]}"#,
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
