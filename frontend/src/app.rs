use std::rc::Rc;
use std::time::Duration;

use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api;
use crate::components::badge::{BadgeView, ConnectionBadge};
use crate::components::dashboard::placeholder;
use crate::components::login::{LoginForm, LogoutButton};
use crate::components::nav::DashboardNav;
use crate::components::wall::WallScreen;
use crate::layout::{current_name, page_title};
use crate::route::Route;
use crate::session::{Gate, SessionAction, SessionHandle};
use crate::state::ViewState;
use crate::stream::{use_stream, EventStream, StreamContext};
use crate::wall::{OnScreen, WallMode};
use crate::widgets::Shared;

/// How long the page waits for `GET /api/session` before trying the stream
/// anyway (whose own checks then take over).
const FIRST_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole page: the router, the viewer session, then the event stream for
/// the route's dashboard (or a wall screen's rotation), around a header and
/// the dashboard.
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
    // Read from the address, so following a menu link (which drops the
    // query) leaves kiosk mode or a rotation.
    let query = use_location()
        .map(|l| l.query_str().to_owned())
        .unwrap_or_default();
    let wall = use_memo(query, |query| WallMode::parse(query));
    let filter = wall.stream_filter(route.dashboard_param());
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
            <EventStream {filter}>
                <WallScreen wall={Rc::clone(&wall)} />
            </EventStream>
        },
    };
    html! {
        <ContextProvider<SessionHandle> context={session}>
            { content }
        </ContextProvider<SessionHandle>>
    }
}

/// What is on screen, for the views around a dashboard.
#[derive(Properties, PartialEq, Default)]
pub(crate) struct ScreenProps {
    #[prop_or_default]
    pub screen: OnScreen,
}

/// Keeps the browser tab's title on the dashboard shown, with a warning while
/// the connection is down (renders nothing).
#[function_component]
pub(crate) fn DocumentTitle(props: &ScreenProps) -> Html {
    let stream = use_stream();
    let screen = &props.screen;
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    let trouble = BadgeView::of(
        &stream.liveness,
        stream.clock.last_event_at(),
        js_sys::Date::now(),
    )
    .trouble();
    let title = page_title(&stream.view, screen.dashboard.as_deref(), &route, trouble);
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
pub(crate) fn Header(props: &ScreenProps) -> Html {
    let view = use_context::<StreamContext>().map(|stream| stream.view);
    let screen = &props.screen;
    let route = use_route::<Route>().unwrap_or(Route::NotFound);
    let can_log_out = use_context::<SessionHandle>().is_some_and(|session| session.can_log_out());
    html! {
        <header class="topbar">
            <h1 class="brand">
                <svg class="brand-mark" viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M2 13h4l3-8 4 14 3-9 2 3h4" />
                </svg>
                <span class="brand-name">{ "Pulseboard" }</span>
            </h1>
            if let Some(view) = &view {
                <DashboardNav
                    menu={Shared(view.menu.clone())}
                    current={nav_current(view, screen, &route)}
                />
            }
            <div class="topbar-host" title="dashboard host">{ host() }</div>
            <div class="topbar-meta">
                if let Some(view) = &view {
                    if view.has_snapshot() {
                        <span class="widget-count">
                            { widget_count(view.widgets.len()) }
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

/// The menu entry to mark: the rotation's dashboard, else the stream's.
fn nav_current(view: &ViewState, screen: &OnScreen, route: &Route) -> Option<AttrValue> {
    if let Some(on_screen) = &screen.dashboard {
        return Some(on_screen.clone());
    }
    if *route == Route::NotFound {
        return None;
    }
    current_name(view, route.dashboard_param()).map(|name| AttrValue::from(name.to_owned()))
}

fn widget_count(count: usize) -> String {
    format!("{count} widget{}", if count == 1 { "" } else { "s" })
}

fn host() -> String {
    web_sys::window()
        .and_then(|w| w.location().host().ok())
        .unwrap_or_default()
}
