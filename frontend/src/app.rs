use std::time::Duration;

use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api;
use crate::components::badge::{BadgeView, ConnectionBadge};
use crate::components::dashboard::{placeholder, Dashboard};
use crate::components::login::{LoginForm, LogoutButton};
use crate::components::nav::DashboardNav;
use crate::layout::page_title;
use crate::route::Route;
use crate::session::{Gate, SessionAction, SessionHandle};
use crate::stream::{use_dashboard, EventStream, Store};

/// How long the page waits for `GET /api/session` before trying the stream
/// anyway (whose own checks then take over).
const FIRST_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole page: the router, the viewer session, then the event stream (and
/// its store) for the route's dashboard, around a header and the dashboard.
#[function_component]
pub fn App() -> Html {
    html! {
        <BrowserRouter>
            <Page />
        </BrowserRouter>
    }
}

/// The session gate, then what it lets through: the dashboard with its
/// stream, or the login form (see [`crate::session`]).
#[function_component]
fn Page() -> Html {
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    let dashboard = AttrValue::from(route.dashboard_param().to_owned());
    let session = use_reducer(Gate::default);
    {
        // Asked once per page: later changes come from the stream's checks,
        // the form and the "Log out" button.
        let session = session.dispatcher();
        use_effect_with((), move |_| {
            spawn_local(async move {
                let status = api::session_status(FIRST_CHECK_TIMEOUT).await.ok();
                session.dispatch(SessionAction::Checked(status));
            });
        });
    }
    let content = match *session {
        Gate::Checking => html! {
            <>
                <Header />
                <main class="main">{ placeholder() }</main>
            </>
        },
        Gate::Login { notice } => html! {
            <>
                <Header />
                <main class="main"><LoginForm {notice} /></main>
            </>
        },
        Gate::Open { .. } => html! {
            <EventStream {dashboard}>
                <DocumentTitle />
                <Header />
                <main class="main">
                    <Dashboard />
                </main>
            </EventStream>
        },
    };
    html! {
        <ContextProvider<SessionHandle> context={session}>
            { content }
        </ContextProvider<SessionHandle>>
    }
}

/// Keeps the browser tab's title on the dashboard shown, with a warning while
/// the connection is down (renders nothing).
#[function_component]
fn DocumentTitle() -> Html {
    let store = use_dashboard();
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    let trouble = BadgeView::of(&store, js_sys::Date::now()).trouble();
    let title = page_title(&store.view, store.has_snapshot(), &route, trouble);
    use_effect_with(title, |title| {
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(title);
        }
    });
    Html::default()
}

/// The top bar. Outside the stream (the session check, the login form) it
/// has only the brand and the host; the menu, counts and badge need the store.
/// The brand is the page's one `h1` (the login form's title, the cards'
/// titles and the not-found message are `h2` under it).
#[function_component]
fn Header() -> Html {
    let store = use_context::<Store>();
    let can_log_out = use_context::<SessionHandle>().is_some_and(|session| session.can_log_out());
    html! {
        <header class="topbar">
            <h1 class="brand">
                <svg class="brand-mark" viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M2 13h4l3-8 4 14 3-9 2 3h4" />
                </svg>
                <span class="brand-name">{ "Pulseboard" }</span>
            </h1>
            if store.is_some() {
                <DashboardNav />
            }
            <div class="topbar-host" title="dashboard host">{ host() }</div>
            <div class="topbar-meta">
                if let Some(store) = store {
                    if store.has_snapshot() {
                        <span class="widget-count">
                            { widget_count(store.view.snapshot.widgets.len()) }
                        </span>
                    }
                    <ConnectionBadge />
                }
                if can_log_out {
                    <LogoutButton />
                }
            </div>
        </header>
    }
}

fn widget_count(count: usize) -> String {
    format!("{count} widget{}", if count == 1 { "" } else { "s" })
}

fn host() -> String {
    web_sys::window()
        .and_then(|w| w.location().host().ok())
        .unwrap_or_default()
}
