//! The one EventSource of the tab, and the store it feeds.
//!
//! [`EventStream`] is a context provider: it owns the dashboard's
//! [`use_reducer`] store and exactly one `gloo_net` EventSource on
//! `/api/events`. Components read the store with [`use_dashboard`] and never open
//! a stream of their own (browsers allow ~6 HTTP/1.1 connections per origin).
//!
//! Reconnecting is always ours. On any `error` (a dropped connection, a refused
//! one, an HTTP error from a proxy), on a silent connection (no event for 2.5
//! heartbeat intervals) and on the server's `shutdown`, the EventSource is
//! closed at once and a new one is opened after a delay from [`Backoff`]
//! (exponential, full jitter). Left alone, the browser would retry a dropped
//! connection at the server's fixed `retry:` interval, forever and in step with
//! every other tab of a restarted server, yet give up for good on an HTTP error.
//! Closing first leaves one path to reason about, and lets the badge tell which
//! attempt this is and when it starts.
//!
//! Resuming: a new EventSource asks for `/api/events?last_event_id=<id>`, with
//! the id of the last event the reducer applied. The server replays what was
//! missed (or sends a `reset` when it cannot), so no update is lost or applied
//! twice. The very first one, with no id yet, gets an `init`.
//!
//! Dashboards: the stream is narrowed to the dashboard on screen
//! (`?dashboard=<name>`, empty for the default one). Moving to another
//! dashboard is another filter, so ids of the old one mean nothing there: the
//! supervisor is replaced, the state cleared, and the new stream starts
//! without an id (with an `init`).
//!
//! Viewer sessions: an EventSource cannot see HTTP status codes, so a stream
//! refused with 401 (the session cookie expired, or its token was revoked)
//! errors like a dropped connection. After each `error`, with the stream
//! closed, the supervisor asks `GET /api/session` before scheduling the next
//! attempt: when the server says a login is needed, it reports that to the
//! session gate ([`crate::session`]), which unmounts this provider (closing
//! for good) and shows the login form; no retry follows. When the question
//! itself fails (the server is down) the usual backoff goes on.
//!
//! Never two at a time: the old EventSource is closed before a new one opens
//! (and, as dropping any clone of a gloo-net EventSource closes it, the only
//! handle lives in [`Supervisor::source`]); a generation counter silences the
//! reader task and pending retry of a replaced one.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use gloo_net::eventsource::futures::{EventSource, EventSourceSubscription};
use gloo_net::eventsource::State;
use gloo_timers::callback::Interval;
use protocol::{EventId, ServerEvent};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::MessageEvent;
use yew::platform::spawn_local;
use yew::platform::time::sleep;
use yew::prelude::*;

use crate::api;
use crate::backoff::{Backoff, Retry};
use crate::session::{after_stream_error, AfterStreamError, Gate, SessionAction, SessionHandle};
use crate::state::{heartbeat_overdue, Action, DashboardState, RetryInfo};

/// Relative, so the SPA works behind any prefix-free proxy and under `trunk serve`.
pub const EVENTS_URL: &str = "/api/events";
/// How often the heartbeat watchdog looks at the clock.
const WATCHDOG_EVERY_MS: u32 = 1_000;
/// How long the session check after a stream error may take before the
/// reconnect goes ahead without its answer.
const SESSION_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What components get from the context: the store's state (deref) and dispatch.
pub type Store = UseReducerHandle<DashboardState>;

/// The dashboard state, from the nearest [`EventStream`].
#[hook]
pub fn use_dashboard() -> Store {
    use_context::<Store>().expect("use_dashboard() needs an <EventStream> ancestor")
}

/// The stream's URL for `dashboard` (empty: the default one): without an id
/// for a first connection (the server starts it with `init`), else resuming
/// after `resume_from`. Event ids are checked to be `<letters and
/// digits>-<digits>` when parsed, so they need no escaping; the dashboard's
/// name comes from the address bar, so it does.
pub fn events_url(dashboard: &str, resume_from: Option<&EventId>) -> String {
    let dashboard = urlencoding::encode(dashboard);
    match resume_from {
        Some(id) => format!("{EVENTS_URL}?dashboard={dashboard}&last_event_id={id}"),
        None => format!("{EVENTS_URL}?dashboard={dashboard}"),
    }
}

#[derive(Properties, PartialEq)]
pub struct EventStreamProps {
    /// The dashboard to stream (`?dashboard=`; empty for the default one).
    pub dashboard: AttrValue,
    #[prop_or_default]
    pub children: Html,
}

/// Provides the store and keeps the tab's single EventSource alive while mounted.
#[function_component]
pub fn EventStream(props: &EventStreamProps) -> Html {
    let store = use_reducer(DashboardState::default);
    // The gate to tell when a stream error turns out to be a session that
    // ended; without one (no session context), every error is a reconnect.
    let session = use_context::<SessionHandle>().map(|handle| handle.dispatcher());
    // Where a new stream resumes: the reducer's last applied id, copied here
    // after every change. Dispatching reduces synchronously and the render
    // (with its effects) runs in a microtask, while a new EventSource is only
    // ever opened from a timer, so the supervisor always reads the latest id.
    let resume_from = use_mut_ref(|| None::<EventId>);
    {
        let resume_from = resume_from.clone();
        use_effect_with(store.last_event_id.clone(), move |id| {
            *resume_from.borrow_mut() = id.clone();
        });
    }
    {
        // One supervisor per dashboard: on a switch the old one is stopped
        // (its EventSource closed) before the new one opens its own.
        let dispatcher = store.dispatcher();
        use_effect_with(props.dashboard.clone(), move |dashboard| {
            let supervisor = Supervisor::start(dispatcher, session, resume_from, dashboard.clone());
            move || supervisor.stop()
        });
    }
    html! {
        <ContextProvider<Store> context={store}>
            { props.children.clone() }
        </ContextProvider<Store>>
    }
}

/// Owns the connection: opens, watches and replaces the EventSource.
struct Supervisor {
    dispatch: UseReducerDispatcher<DashboardState>,
    /// The session gate, told what `GET /api/session` says after a stream error.
    session: Option<UseReducerDispatcher<Gate>>,
    /// The last event id the reducer applied (kept current by [`EventStream`]).
    resume_from: Rc<RefCell<Option<EventId>>>,
    /// The `?dashboard=` of every connection this supervisor makes.
    dashboard: AttrValue,
    /// The one EventSource. Dropping (any clone of) it closes it, so it lives here.
    source: RefCell<Option<EventSource>>,
    /// Bumped on every (re)connect, close and stop: a reader task or pending
    /// retry that sees another number belongs to the past and quits quietly.
    generation: Cell<u64>,
    backoff: RefCell<Backoff>,
    watchdog: RefCell<Option<Interval>>,
    /// The window's `online`/`offline` listeners.
    network: RefCell<Vec<WindowListener>>,
    /// Browser time of the last sign of life on the current connection (or of
    /// its opening).
    last_seen_ms: Cell<f64>,
    /// From the last `init`; kept across reconnects that resume without one.
    heartbeat_ms: Cell<Option<u64>>,
}

/// Handle kept by the effect; its cleanup stops everything.
struct SupervisorHandle(Rc<Supervisor>);

impl Supervisor {
    fn start(
        dispatch: UseReducerDispatcher<DashboardState>,
        session: Option<UseReducerDispatcher<Gate>>,
        resume_from: Rc<RefCell<Option<EventId>>>,
        dashboard: AttrValue,
    ) -> SupervisorHandle {
        // A new dashboard starts from scratch: the ids applied so far belong
        // to another filter. Cleared here, not by the effect that copies the
        // store's id, which only runs after the next render.
        *resume_from.borrow_mut() = None;
        dispatch.dispatch(Action::Switched);
        let supervisor = Rc::new(Supervisor {
            dispatch,
            session,
            resume_from,
            dashboard,
            source: RefCell::new(None),
            generation: Cell::new(0),
            backoff: RefCell::new(Backoff::default()),
            watchdog: RefCell::new(None),
            network: RefCell::new(Vec::new()),
            last_seen_ms: Cell::new(now_ms()),
            heartbeat_ms: Cell::new(None),
        });

        let weak = Rc::downgrade(&supervisor);
        *supervisor.watchdog.borrow_mut() = Some(Interval::new(WATCHDOG_EVERY_MS, move || {
            if let Some(supervisor) = weak.upgrade() {
                supervisor.check_heartbeat();
            }
        }));

        let listeners = [("online", true), ("offline", false)]
            .into_iter()
            .filter_map(|(name, online)| {
                let weak = Rc::downgrade(&supervisor);
                WindowListener::new(name, move || {
                    if let Some(supervisor) = weak.upgrade() {
                        supervisor.on_network(online);
                    }
                })
            })
            .collect();
        *supervisor.network.borrow_mut() = listeners;
        supervisor.dispatch.dispatch(Action::Network {
            online: browser_online(),
        });

        supervisor.connect();
        SupervisorHandle(supervisor)
    }

    /// Closes the current EventSource (if any) and opens a fresh one that
    /// resumes after the last applied event.
    fn connect(self: &Rc<Self>) {
        self.close_current();
        let generation = self.generation.get();
        self.last_seen_ms.set(now_ms());

        let url = events_url(&self.dashboard, self.resume_from.borrow().as_ref());
        let mut source = match EventSource::new(&url) {
            Ok(source) => source,
            Err(err) => {
                self.reconnect_later(&format!("cannot open {url}: {err}"));
                return;
            }
        };
        let subscriptions = match subscribe_all(&mut source) {
            Ok(subscriptions) => subscriptions,
            Err(err) => {
                source.close();
                self.reconnect_later(&format!("cannot listen on {url}: {err}"));
                return;
            }
        };
        *self.source.borrow_mut() = Some(source);
        spawn_local(read(
            Rc::downgrade(self),
            generation,
            stream::select_all(subscriptions),
        ));
    }

    /// Closes the current EventSource and moves to a new generation.
    fn close_current(&self) {
        // Bump first: closing fires a synthetic `error` to the old
        // subscriptions, whose task must find the generation already moved on.
        let old = self.source.borrow_mut().take();
        self.generation.set(self.generation.get() + 1);
        if let Some(old) = old {
            old.close();
        }
    }

    fn is_current(&self, generation: u64) -> bool {
        self.generation.get() == generation
    }

    /// The connection failed or went silent: close it now (so the browser does
    /// not retry behind our back) and open the next one after the backoff.
    fn reconnect_later(self: &Rc<Self>, why: &str) {
        self.close_current();
        let retry = self
            .backoff
            .borrow_mut()
            .after_failure(now_ms(), js_sys::Math::random());
        warn(&format!(
            "{why}; reconnecting in {:.1} s (attempt {})",
            retry.delay_ms as f64 / 1000.0,
            retry.attempt
        ));
        self.schedule(retry);
    }

    /// The server is going away and said when to come back. Close before it
    /// ends the stream, or the browser's own reconnect would race ours.
    fn reconnect_after_shutdown(self: &Rc<Self>, hint_ms: u64) {
        self.close_current();
        let retry =
            self.backoff
                .borrow_mut()
                .after_shutdown(now_ms(), hint_ms, js_sys::Math::random());
        self.schedule(retry);
    }

    /// Tells the badge, then connects after the delay unless something else (a
    /// stop, the network coming back) moved on to a new generation meanwhile.
    fn schedule(self: &Rc<Self>, retry: Retry) {
        let generation = self.generation.get();
        self.dispatch.dispatch(Action::RetryScheduled(RetryInfo {
            attempt: retry.attempt,
            at_ms: now_ms() + retry.delay_ms as f64,
        }));
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            sleep(Duration::from_millis(retry.delay_ms)).await;
            if let Some(supervisor) = weak.upgrade() {
                if supervisor.is_current(generation) {
                    supervisor.connect();
                }
            }
        });
    }

    /// Any sign of life restarts the watchdog's clock and the backoff's health clock.
    fn alive(&self) -> f64 {
        let at_ms = now_ms();
        self.last_seen_ms.set(at_ms);
        self.backoff.borrow_mut().live(at_ms);
        at_ms
    }

    fn on_open(&self) {
        self.alive();
        self.dispatch.dispatch(Action::Opened);
    }

    fn on_message(self: &Rc<Self>, name: &str, message: &MessageEvent) {
        let at_ms = self.alive();
        let Some(data) = message.data().as_string() else {
            warn(&format!("skipped `{name}` event without text data"));
            return;
        };
        let event = match ServerEvent::decode(name, &data) {
            Ok(event) => event,
            Err(err) => {
                warn(&format!("skipped malformed `{name}` event: {err}"));
                return;
            }
        };
        let shutdown_hint = match &event {
            ServerEvent::Init(init) => {
                self.heartbeat_ms.set(Some(init.heartbeat_ms));
                None
            }
            ServerEvent::Shutdown(shutdown) => Some(shutdown.reconnect_after_ms),
            _ => None,
        };
        // The browser keeps the last `id:` it saw; only state-changing events
        // carry one, and only those use it.
        let id = message.last_event_id().parse::<EventId>().ok();
        self.dispatch
            .dispatch(Action::Received { event, id, at_ms });
        if let Some(hint_ms) = shutdown_hint {
            self.reconnect_after_shutdown(hint_ms);
        }
    }

    /// An `error` event, whether the browser meant to retry (readyState
    /// CONNECTING) or gave up (CLOSED): either way the reconnect is ours,
    /// once the server said the session still holds (see the module docs).
    fn on_error(self: &Rc<Self>) {
        let state = self.source.borrow().as_ref().map(EventSource::state);
        let why = match state {
            Some(State::Closed) => "event stream closed by the browser",
            _ => "event stream dropped",
        };
        let Some(session) = self.session.clone() else {
            self.reconnect_later(why);
            return;
        };
        // Closed now, so the browser does not retry behind our back while
        // the server is asked; a new generation, so anything that moves on
        // meanwhile (a stop, the network coming back) voids the answer.
        self.close_current();
        self.dispatch.dispatch(Action::Dropped);
        let generation = self.generation.get();
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            let status = api::session_status(SESSION_CHECK_TIMEOUT).await.ok();
            let Some(supervisor) = weak.upgrade() else {
                return;
            };
            if !supervisor.is_current(generation) {
                return;
            }
            if let Some(status) = status {
                // A session that ended makes the gate show the form, which
                // unmounts this provider: its cleanup stops the supervisor.
                session.dispatch(SessionAction::Seen(status));
            }
            match after_stream_error(status) {
                AfterStreamError::LogIn => {
                    warn("the session ended: no reconnect until a new login");
                }
                AfterStreamError::Reconnect => supervisor.reconnect_later(why),
            }
        });
    }

    fn check_heartbeat(self: &Rc<Self>) {
        // Also judges a connection stuck opening (say, a proxy that never
        // answers): its clock started when it was opened.
        let connected = self.source.borrow().is_some();
        if connected
            && heartbeat_overdue(self.last_seen_ms.get(), self.heartbeat_ms.get(), now_ms())
        {
            self.reconnect_later("no heartbeat for 2.5 intervals");
        }
    }

    /// The browser's `online`/`offline` events.
    ///
    /// Offline: the stream is presumably dead (a TCP connection can take
    /// minutes to notice), so it is replaced through the backoff now. The
    /// retries go on while offline: `navigator.onLine` only knows about
    /// network interfaces, and a server on localhost may well still answer;
    /// then the badge simply turns live again.
    ///
    /// Online: a connection that is not open is replaced at once instead of
    /// waiting out a backoff that grew while there was no network.
    fn on_network(self: &Rc<Self>, online: bool) {
        self.dispatch.dispatch(Action::Network { online });
        if !online {
            if self.source.borrow().is_some() {
                self.reconnect_later("the browser went offline");
            }
            return;
        }
        let open = matches!(
            self.source.borrow().as_ref().map(EventSource::state),
            Some(State::Open)
        );
        if !open {
            self.close_current();
            let retry = self.backoff.borrow_mut().restart_now();
            self.schedule(retry);
        }
    }
}

impl SupervisorHandle {
    fn stop(self) {
        let supervisor = self.0;
        supervisor.watchdog.borrow_mut().take();
        supervisor.network.borrow_mut().clear();
        // Also voids a pending retry: it belongs to an older generation.
        supervisor.close_current();
    }
}

/// Subscribes to every protocol event, plus the EventSource's own `open` and
/// `error` events (gloo-net delivers any event name; only `data` is never read
/// from those two).
fn subscribe_all(source: &mut EventSource) -> Result<Vec<EventSourceSubscription>, String> {
    ServerEvent::NAMES
        .iter()
        .chain(&["open", "error"])
        .map(|name| source.subscribe(*name).map_err(|e| e.to_string()))
        .collect()
}

/// Pumps one EventSource's events into the supervisor until it is closed or
/// replaced.
async fn read(
    supervisor: Weak<Supervisor>,
    generation: u64,
    mut events: stream::SelectAll<EventSourceSubscription>,
) {
    while let Some(item) = events.next().await {
        let Some(supervisor) = supervisor.upgrade() else {
            return;
        };
        if !supervisor.is_current(generation) {
            return;
        }
        match item {
            Ok((name, message)) => match name.as_str() {
                "open" => supervisor.on_open(),
                "error" => {
                    supervisor.on_error();
                    return;
                }
                _ => supervisor.on_message(&name, &message),
            },
            // gloo-net reports an `error` as a stream error too when the
            // EventSource is CLOSED; the `error` subscription usually comes
            // first, and either way the first one replaces this EventSource.
            Err(_) => {
                supervisor.on_error();
                return;
            }
        }
    }
}

/// A listener on `window`, removed when dropped.
struct WindowListener {
    name: &'static str,
    callback: Closure<dyn FnMut()>,
}

impl WindowListener {
    /// `None` where there is no window or it refuses the listener: the app
    /// still works, it only cannot show "offline".
    fn new(name: &'static str, on_event: impl FnMut() + 'static) -> Option<WindowListener> {
        let window = web_sys::window()?;
        let callback = Closure::<dyn FnMut()>::new(on_event);
        window
            .add_event_listener_with_callback(name, callback.as_ref().unchecked_ref())
            .ok()?;
        Some(WindowListener { name, callback })
    }
}

impl Drop for WindowListener {
    fn drop(&mut self) {
        if let Some(window) = web_sys::window() {
            let _ = window.remove_event_listener_with_callback(
                self.name,
                self.callback.as_ref().unchecked_ref(),
            );
        }
    }
}

/// `navigator.onLine`, read through `Reflect` because web-sys's `Navigator`
/// binding is not among the enabled features. Unknown counts as online.
fn browser_online() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("navigator"))
        .and_then(|navigator| js_sys::Reflect::get(&navigator, &JsValue::from_str("onLine")))
        .ok()
        .and_then(|online| online.as_bool())
        .unwrap_or(true)
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&format!("pulseboard: {message}")));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_stream_asks_for_init_later_ones_resume() {
        assert_eq!(events_url("", None), "/api/events?dashboard=");
        let id: EventId = "73d2734ac365ce15-31".parse().unwrap();
        assert_eq!(
            events_url("ops", Some(&id)),
            "/api/events?dashboard=ops&last_event_id=73d2734ac365ce15-31"
        );
    }

    #[test]
    fn dashboard_names_from_the_address_bar_are_escaped() {
        assert_eq!(
            events_url("a b&c=d", None),
            "/api/events?dashboard=a%20b%26c%3Dd"
        );
        assert_eq!(
            events_url("host.cpu-1_x", None),
            "/api/events?dashboard=host.cpu-1_x"
        );
    }
}
