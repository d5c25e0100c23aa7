use yew::prelude::*;

use crate::components::badge::ConnectionBadge;
use crate::components::dashboard::Dashboard;
use crate::stream::{use_dashboard, EventStream};

/// The whole page: the event stream (and its store) around a header and the grid.
#[function_component]
pub fn App() -> Html {
    html! {
        <EventStream>
            <Header />
            <main class="main">
                <Dashboard />
            </main>
        </EventStream>
    }
}

#[function_component]
fn Header() -> Html {
    let store = use_dashboard();
    let count = store.snapshot.widgets.len();
    html! {
        <header class="topbar">
            <div class="brand">
                <svg class="brand-mark" viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M2 13h4l3-8 4 14 3-9 2 3h4" />
                </svg>
                <span class="brand-name">{ "Pulseboard" }</span>
            </div>
            <div class="topbar-host" title="dashboard host">{ host() }</div>
            <div class="topbar-meta">
                if store.has_snapshot() {
                    <span class="widget-count">
                        { format!("{count} widget{}", if count == 1 { "" } else { "s" }) }
                    </span>
                }
                <ConnectionBadge />
            </div>
        </header>
    }
}

fn host() -> String {
    web_sys::window()
        .and_then(|w| w.location().host().ok())
        .unwrap_or_default()
}
