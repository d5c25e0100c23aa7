use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::badge::ConnectionBadge;
use crate::components::dashboard::Dashboard;
use crate::components::nav::DashboardNav;
use crate::layout::page_title;
use crate::route::Route;
use crate::stream::{use_dashboard, EventStream};

/// The whole page: the router, then the event stream (and its store) for the
/// route's dashboard, around a header and the dashboard.
#[function_component]
pub fn App() -> Html {
    html! {
        <BrowserRouter>
            <Page />
        </BrowserRouter>
    }
}

#[function_component]
fn Page() -> Html {
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    let dashboard = AttrValue::from(route.dashboard_param().to_owned());
    html! {
        <EventStream {dashboard}>
            <DocumentTitle />
            <Header />
            <main class="main">
                <Dashboard />
            </main>
        </EventStream>
    }
}

/// Keeps the browser tab's title on the dashboard shown (renders nothing).
#[function_component]
fn DocumentTitle() -> Html {
    let store = use_dashboard();
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    let title = page_title(&store.view, store.has_snapshot(), &route);
    use_effect_with(title, |title| {
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(title);
        }
    });
    Html::default()
}

#[function_component]
fn Header() -> Html {
    let store = use_dashboard();
    let count = store.view.snapshot.widgets.len();
    html! {
        <header class="topbar">
            <div class="brand">
                <svg class="brand-mark" viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M2 13h4l3-8 4 14 3-9 2 3h4" />
                </svg>
                <span class="brand-name">{ "Pulseboard" }</span>
            </div>
            <DashboardNav />
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
