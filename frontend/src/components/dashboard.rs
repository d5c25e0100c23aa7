use yew::prelude::*;
use yew_router::prelude::*;

use super::clock::use_clock;
use super::not_found::NotFound;
use super::widget::{WaitingCard, WidgetCard};
use crate::layout::{Card, Layout};
use crate::route::Route;
use crate::state::ConnectionState;
use crate::stream::use_dashboard;

/// How often widget ages ("updated 3m ago") and staleness are refreshed.
const CLOCK_TICK_MS: u32 = 1_000;

/// The dashboard on screen: its declared cards in order, then the unsorted
/// ones; a placeholder until the stream's `init`, a hint when there are no
/// widgets, and a "not found" page for an unknown dashboard or address.
///
/// DOM contract: `data-testid` = `dashboard-placeholder` | `dashboard` (the
/// declared cards) | `unsorted` (the section of undeclared widgets) |
/// `dashboard-empty` | `dashboard-not-found`.
#[function_component]
pub fn Dashboard() -> Html {
    let store = use_dashboard();
    let now_ms = use_clock(CLOCK_TICK_MS);
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    let location = use_location();

    if !store.has_snapshot() {
        return placeholder();
    }
    if route == Route::NotFound {
        let path = location.map(|l| l.path().to_owned()).unwrap_or_default();
        return html! { <NotFound heading={format!("Nothing at {path}")} /> };
    }
    let Some(layout) = Layout::of(&store.view) else {
        let heading = format!("No dashboard named {}", route.dashboard_param());
        return html! { <NotFound {heading} /> };
    };
    if layout.is_empty() {
        return empty();
    }

    let server_now_ms = now_ms + store.clock_offset_ms;
    let grid_class = classes!(
        "grid",
        (store.connection == ConnectionState::Reconnecting).then_some("grid--stale")
    );
    let cards = |cards: &[Card]| -> Html {
        cards
            .iter()
            .map(|card| match card {
                Card::Waiting(spec) => html! {
                    <WaitingCard key={spec.id.to_string()} spec={spec.clone()} />
                },
                Card::Shown { widget, size } => html! {
                    <WidgetCard
                        key={widget.id.to_string()}
                        widget={widget.clone()}
                        size={*size}
                        {server_now_ms}
                    />
                },
            })
            .collect()
    };
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
