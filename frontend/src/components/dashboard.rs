use protocol::Size;
use yew::prelude::*;
use yew_router::prelude::*;

use super::clock::use_clock;
use super::not_found::NotFound;
use super::viewport::inner_size;
use super::widget::{WaitingCard, WidgetCard};
use crate::fit::{fit, Fit};
use crate::layout::{Card, Layout};
use crate::liveness::ConnectionState;
use crate::route::Route;
use crate::stream::use_stream;
use crate::wall::OnScreen;
use crate::widgets::Shared;

/// How often widget ages ("updated 3m ago") and staleness are refreshed.
const CLOCK_TICK_MS: u32 = 1_000;

/// The dashboard on screen: its declared cards in order, then the unsorted
/// ones; a placeholder until the stream's `init`, a hint when there are no
/// widgets, and a "not found" page for an unknown dashboard or address. In
/// kiosk mode, every card in one grid fitted to the screen ([`crate::fit`]).
///
/// It renders once per frame with news and once a second for the ages, but
/// its cards only when their own widget changed or their age text moved
/// (see [`super::widget::WidgetCardProps`]): a render costs a pointer
/// comparison per unchanged card.
///
/// DOM contract: `data-testid` = `dashboard-placeholder` | `dashboard` (the
/// declared cards; in kiosk mode, all of them) | `unsorted` (the section of
/// undeclared widgets) | `dashboard-empty` | `dashboard-not-found`.
#[derive(Properties, PartialEq)]
pub struct DashboardProps {
    /// What a wall screen shows: the rotation's dashboard, kiosk mode.
    #[prop_or_default]
    pub screen: OnScreen,
}

#[function_component]
pub fn Dashboard(props: &DashboardProps) -> Html {
    let status = use_stream();
    let view = status.view.clone();
    let screen = &props.screen;
    let now_ms = use_clock(CLOCK_TICK_MS);
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    let location = use_location();

    let layout = view
        .has_snapshot()
        .then(|| Layout::of(&view, screen.dashboard.as_deref()))
        .flatten();
    let kiosk_fit = match &layout {
        Some(layout) if screen.kiosk && !layout.is_empty() => {
            let sizes: Vec<_> = layout
                .cards
                .iter()
                .chain(&layout.unsorted)
                .map(Card::size)
                .collect();
            // Read at every render, and the dashboard renders at least once a
            // second (its clock): a resized window or a turned screen is
            // fitted again within a second, with no listener to keep.
            let (width, height) = inner_size();
            Some(fit(&sizes, width, height))
        }
        _ => None,
    };
    use_effect_with(kiosk_fit.clone(), |fit| apply_fit(fit.as_ref()));

    if !view.has_snapshot() {
        return placeholder();
    }
    if route == Route::NotFound && screen.dashboard.is_none() {
        let path = location.map(|l| l.path().to_owned()).unwrap_or_default();
        return html! { <NotFound heading={format!("Nothing at {path}")} /> };
    }
    let Some(layout) = layout else {
        let heading = screen
            .missing
            .clone()
            .unwrap_or_else(|| format!("No dashboard named {}", route.dashboard_param()).into());
        return html! { <NotFound {heading} /> };
    };
    if layout.is_empty() {
        return empty();
    }

    let server_now_ms = now_ms + status.clock.offset_ms();
    let grid_class = classes!(
        "grid",
        (status.liveness.connection == ConnectionState::Reconnecting).then_some("grid--stale")
    );
    let cards = |cards: &[Card]| -> Html {
        cards
            .iter()
            .map(|card| card_html(card, None, server_now_ms))
            .collect()
    };
    if let Some(fit) = kiosk_fit {
        // Every card, at its span on the fitted grid.
        let all: Html = layout
            .cards
            .iter()
            .chain(&layout.unsorted)
            .zip(&fit.spans)
            .map(|(card, span)| card_html(card, Some(*span), server_now_ms))
            .collect();
        return html! {
            <section class={classes!(grid_class, "grid--kiosk")} data-testid="dashboard">
                { all }
            </section>
        };
    }
    html! {
        <>
            if !layout.cards.is_empty() {
                <section class={grid_class.clone()} data-testid="dashboard">
                    { cards(&layout.cards) }
                </section>
            }
            if !layout.unsorted.is_empty() {
                <section class="unsorted" data-testid="unsorted" aria-label="Unsorted">
                    // A dashboard that declares nothing (the server's implicit
                    // one) is all "unsorted": a heading would only be noise.
                    if !layout.cards.is_empty() {
                        <h2 class="section-title">{ "Unsorted" }</h2>
                    }
                    <div class={grid_class}>{ cards(&layout.unsorted) }</div>
                </section>
            }
        </>
    }
}

/// A card, at `span` when given (kiosk mode), else at its own size.
fn card_html(card: &Card, span: Option<Size>, server_now_ms: f64) -> Html {
    let size = span.unwrap_or_else(|| card.size());
    match card {
        Card::Waiting(spec) => html! {
            <WaitingCard key={spec.id.as_str()} spec={Shared(spec.clone())} {size} />
        },
        Card::Shown { widget, spec, .. } => html! {
            <WidgetCard
                key={widget.id.as_str()}
                widget={Shared(widget.clone())}
                declared={spec.clone().map(Shared)}
                {size}
                {server_now_ms}
            />
        },
    }
}

/// The kiosk grid's columns, rows and text size, as custom properties of the
/// root element (kiosk.css reads them, under `data-kiosk` only: outside kiosk
/// mode they may stay). Through the CSSOM, which the server's
/// Content-Security-Policy allows, unlike `style` attributes.
fn apply_fit(fit: Option<&Fit>) {
    let Some(fit) = fit else {
        return;
    };
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
    else {
        return;
    };
    let style = root.style();
    let _ = style.set_property("--kiosk-cols", &fit.cols.to_string());
    let _ = style.set_property("--kiosk-rows", &fit.rows.to_string());
    let _ = style.set_property("--kiosk-font", &format!("{}px", fit.font_px));
}

/// Skeleton cards, until the first snapshot (and while the session is checked).
pub fn placeholder() -> Html {
    html! {
        <section class="grid grid--placeholder" data-testid="dashboard-placeholder" aria-busy="true">
            { for (0..6).map(|i| html! {
                <div class={classes!("card", "card--skeleton", (i == 4).then_some("card--w2"))}>
                    <div class="skeleton skeleton--title"></div>
                    <div class="skeleton skeleton--value"></div>
                </div>
            }) }
            <p class="placeholder-note">{ "Waiting for the first update from the server…" }</p>
        </section>
    }
}

fn empty() -> Html {
    html! {
        <section class="empty" data-testid="dashboard-empty">
            <h2>{ "No widgets yet" }</h2>
            <p>{ "Anything that can make an HTTP request can create one:" }</p>
            <pre><code>{ format!(
                "curl -H \"Authorization: Bearer $TOKEN\" \\\n     -d '{{\"value\": 42}}' {}/api/widgets/orders",
                origin()
            ) }</code></pre>
        </section>
    }
}

fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}
