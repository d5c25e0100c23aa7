//! The one EventSource of the tab, and the store it feeds.
//!
//! [`EventStream`] is a context provider: it owns the dashboard's
//! [`use_reducer`] store and exactly one `gloo_net` EventSource on
//! `/api/events`. Components read the store with [`use_dashboard`] and never open
//! a stream of their own (browsers allow ~6 HTTP/1.1 connections per origin).
//!
//! Who reconnects:
//! - a dropped connection: the browser, by itself, sending `Last-Event-ID`
//!   (we only see `error` events meanwhile and show "Reconnecting");
//! - a fatal close (readyState CLOSED, e.g. an HTTP error from a proxy): the
//!   browser gives up, so we open a new EventSource after [`RETRY_AFTER_FATAL_MS`];
//! - a silent dead connection (no heartbeat for 2.5 intervals): we close it and
//!   open a new one at once.
//!
//! Never two at a time: the old EventSource is closed before a new one opens.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use gloo_net::eventsource::futures::{EventSource, EventSourceSubscription};
use gloo_net::eventsource::State;
use gloo_timers::callback::Interval;
use protocol::{EventId, ServerEvent};
use wasm_bindgen::JsValue;
use web_sys::MessageEvent;
use yew::platform::spawn_local;
use yew::platform::time::sleep;
use yew::prelude::*;

use crate::state::{heartbeat_overdue, Action, DashboardState};

/// Relative, so the SPA works behind any prefix-free proxy and under `trunk serve`.
pub const EVENTS_URL: &str = "/api/events";
/// Delay before replacing an EventSource the browser closed for good.
pub const RETRY_AFTER_FATAL_MS: u64 = 2_000;
/// How often the heartbeat watchdog looks at the clock.
const WATCHDOG_EVERY_MS: u32 = 1_000;

/// What components get from the context: the store's state (deref) and dispatch.
pub type Store = UseReducerHandle<DashboardState>;

/// The dashboard state, from the nearest [`EventStream`].
#[hook]
pub fn use_dashboard() -> Store {
    use_context::<Store>().expect("use_dashboard() needs an <EventStream> ancestor")
}

#[derive(Properties, PartialEq)]
pub struct EventStreamProps {
    #[prop_or_default]
    pub children: Html,
}

/// Provides the store and keeps the tab's single EventSource alive while mounted.
#[function_component]
pub fn EventStream(props: &EventStreamProps) -> Html {
    let store = use_reducer(DashboardState::default);
    {
        let dispatcher = store.dispatcher();
        use_effect_with((), move |_| {
            let supervisor = Supervisor::start(dispatcher);
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
    /// The one EventSource. Dropping (any clone of) it closes it, so it lives here.
    source: RefCell<Option<EventSource>>,
    /// Bumped on every (re)connect and on stop: a reader task that sees another
    /// number belongs to a replaced EventSource and quits without a word.
    generation: Cell<u64>,
    watchdog: RefCell<Option<Interval>>,
    /// Browser time of the last event on the current connection.
    last_seen_ms: Cell<f64>,
    heartbeat_ms: Cell<Option<u64>>,
}

/// Handle kept by the effect; its cleanup stops everything.
struct SupervisorHandle(Rc<Supervisor>);

impl Supervisor {
    fn start(dispatch: UseReducerDispatcher<DashboardState>) -> SupervisorHandle {
        let supervisor = Rc::new(Supervisor {
            dispatch,
            source: RefCell::new(None),
            generation: Cell::new(0),
            watchdog: RefCell::new(None),
            last_seen_ms: Cell::new(now_ms()),
            heartbeat_ms: Cell::new(None),
        });
        let weak = Rc::downgrade(&supervisor);
        *supervisor.watchdog.borrow_mut() = Some(Interval::new(WATCHDOG_EVERY_MS, move || {
            if let Some(supervisor) = weak.upgrade() {
                supervisor.check_heartbeat();
            }
        }));
        supervisor.connect();
        SupervisorHandle(supervisor)
    }

    /// Closes the current EventSource (if any) and opens a fresh one.
    fn connect(self: &Rc<Self>) {
        self.close_current();
        let generation = self.generation.get();
        self.last_seen_ms.set(now_ms());

        let mut source = match EventSource::new(EVENTS_URL) {
            Ok(source) => source,
            Err(err) => {
                warn(&format!("cannot open {EVENTS_URL}: {err}"));
                self.retry_later();
                return;
            }
        };
        let subscriptions = match subscribe_all(&mut source) {
            Ok(subscriptions) => subscriptions,
            Err(err) => {
                warn(&format!("cannot listen on {EVENTS_URL}: {err}"));
                source.close();
                self.retry_later();
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

    /// Connects again after a pause, unless something else (a stop, another
    /// connect) moved on to a new generation meanwhile.
    fn retry_later(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let generation = self.generation.get();
        spawn_local(async move {
            sleep(Duration::from_millis(RETRY_AFTER_FATAL_MS)).await;
            if let Some(supervisor) = weak.upgrade() {
                if supervisor.is_current(generation) {
                    supervisor.connect();
                }
            }
        });
    }

    fn is_current(&self, generation: u64) -> bool {
        self.generation.get() == generation
    }

    fn on_message(&self, name: &str, message: &MessageEvent) {
        let at_ms = now_ms();
        self.last_seen_ms.set(at_ms);
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
        if let ServerEvent::Init(init) = &event {
            self.heartbeat_ms.set(Some(init.heartbeat_ms));
        }
        // The browser keeps the last `id:` it saw; only state-changing events
        // carry one, and only those use it.
        let id = message.last_event_id().parse::<EventId>().ok();
        self.dispatch
            .dispatch(Action::Received { event, id, at_ms });
    }

    /// An `error` event: the browser is reconnecting (or gave up; then the
    /// subscription stream reports it separately, see [`read`]).
    fn on_error(&self) {
        self.dispatch.dispatch(Action::ConnectionLost);
    }

    fn on_fatal(self: &Rc<Self>) {
        warn(&format!(
            "event stream closed; reconnecting in {} s",
            RETRY_AFTER_FATAL_MS / 1000
        ));
        self.dispatch.dispatch(Action::ConnectionLost);
        self.close_current();
        self.retry_later();
    }

    fn check_heartbeat(self: &Rc<Self>) {
        let open = matches!(
            self.source.borrow().as_ref().map(EventSource::state),
            Some(State::Open)
        );
        if open && heartbeat_overdue(self.last_seen_ms.get(), self.heartbeat_ms.get(), now_ms()) {
            warn("no heartbeat for 2.5 intervals; reconnecting");
            self.dispatch.dispatch(Action::ConnectionLost);
            self.connect();
        }
    }
}

impl SupervisorHandle {
    fn stop(self) {
        let supervisor = self.0;
        supervisor.watchdog.borrow_mut().take();
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
                // Connected (again): the watchdog's clock restarts; the badge
                // turns live with the first event (`init` comes at once).
                "open" => supervisor.last_seen_ms.set(now_ms()),
                "error" => supervisor.on_error(),
                _ => supervisor.on_message(&name, &message),
            },
            // gloo-net reports an `error` as a stream error only when the
            // EventSource is CLOSED: the browser will not retry.
            Err(_) => {
                supervisor.on_fatal();
                return;
            }
        }
    }
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&format!("pulseboard: {message}")));
}
