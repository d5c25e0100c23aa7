use yew::prelude::*;

use super::clock::use_clock;
use super::widget::WidgetCard;
use crate::state::ConnectionState;
use crate::stream::use_dashboard;

/// How often widget ages ("updated 3m ago") are refreshed.
const CLOCK_TICK_MS: u32 = 1_000;

/// The grid of widget cards, in snapshot order; a placeholder until the first
/// `init`, and a hint when the dashboard has no widgets yet.
#[function_component]
pub fn Dashboard() -> Html {
    let store = use_dashboard();
    let now_ms = use_clock(CLOCK_TICK_MS);

    if !store.has_snapshot() {
        return html! {
            <section class="grid grid--placeholder" data-testid="dashboard-placeholder" aria-busy="true">
                { for (0..6).map(|i| html! {
                    <div class={classes!("card", "card--skeleton", (i == 4).then_some("card--wide"))}>
                        <div class="skeleton skeleton--title"></div>
                        <div class="skeleton skeleton--value"></div>
                    </div>
                }) }
                <p class="placeholder-note">{ "Waiting for the first update from the server…" }</p>
            </section>
        };
    }

    if store.snapshot.widgets.is_empty() {
        return html! {
            <section class="empty" data-testid="dashboard-empty">
                <h2>{ "No widgets yet" }</h2>
                <p>{ "Anything that can make an HTTP request can create one:" }</p>
                <pre><code>{ format!(
                    "curl -H \"Authorization: Bearer $TOKEN\" \\\n     -d '{{\"value\": 42}}' {}/api/widgets/orders",
                    origin()
                ) }</code></pre>
            </section>
        };
    }

    let server_now_ms = now_ms + store.clock_offset_ms;
    let stale = store.connection == ConnectionState::Reconnecting;
    html! {
        <section class={classes!("grid", stale.then_some("grid--stale"))} data-testid="dashboard">
            { for store.snapshot.widgets.iter().map(|widget| html! {
                <WidgetCard
                    key={widget.id.to_string()}
                    widget={widget.clone()}
                    server_now_ms={server_now_ms}
                />
            }) }
        </section>
    }
}

fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}
