//! The one EventSource of the tab, and the state it feeds.
//!
//! [`EventStream`] is a context provider around exactly one browser
//! EventSource on `/api/events`, owned by its [`Supervisor`]. Components read
//! what it delivered and whether it is live with [`use_stream`] (or just the
//! view with [`use_view`]), and never open a stream of their own (browsers
//! allow ~6 HTTP/1.1 connections per origin).
//!
//! One owner per concern. The supervisor owns the connection: liveness
//! ([`crate::liveness`]), the heartbeat interval and the clock offset. The
//! reducer ([`crate::state::ViewState`]) owns the view: the supervisor folds
//! each event into the state being built as it arrives (cheap: only the
//! widget it changes is copied, see [`crate::widgets`]) and hands the result
//! to the views at most once per animation frame ([`crate::frame`]), so
//! events that arrive together are rendered once. Liveness is published only
//! when it changes, and the time of the last event and the clock offset,
//! which change with every event or heartbeat, are cells read by the views on
//! their own clock ticks: neither makes anything re-render per event. The
//! three share one context ([`StreamContext`]): a context provider and a
//! state hook each cost the bundle more than the badge costs re-rendering
//! with the frames that bring news.
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
//! twice. The very first one, with no id yet, gets an `init`. Every stream
//! asks for grouped updates (`?grouped`): a batch's updates come as one
//! `updates` event, not one event per widget, each of which the browser
//! would dispatch and the page decode on its own.
//!
//! Dashboards: the stream is narrowed to the dashboard on screen
//! (`?dashboard=<name>`, empty for the default one), or for a wall screen's
//! rotation to all the dashboards it cycles through ([`StreamFilter`]), so
//! rotating needs no new stream and every dashboard's values stay current
//! while it is off screen. Moving to another filter makes ids of the old one
//! meaningless: the supervisor is replaced, the state cleared (but for the
//! menu), and the new stream starts without an id (with an `init`).
//!
//! Builds: every stream says which SPA build the page runs (`?build=`), and
//! `init`/`reset` say which one the server serves; on a mismatch the page
//! reloads itself after the frame in progress ([`crate::reload`]).
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
//! (the only handle lives in [`Supervisor::connection`]); a generation counter
//! silences the listeners and pending retry of a replaced one. The listeners
//! call the supervisor directly, in the event's own task: no channel or
//! wake-up per event.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use gloo_timers::callback::{Interval, Timeout};
use protocol::{EventId, ServerEvent};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{EventSource, MessageEvent};
use yew::platform::spawn_local;
use yew::platform::time::sleep;
use yew::prelude::*;

use crate::api;
use crate::backoff::{Backoff, Retry};
use crate::frame::{next_frame, FRAME_MS};
use crate::liveness::{heartbeat_overdue, Liveness, RetryInfo, Signal};
use crate::reload::{self, Decision};
use crate::session::{after_stream_error, AfterStreamError, Gate, SessionAction, SessionHandle};
use crate::state::ViewState;

/// Relative, so the SPA works behind any prefix-free proxy and under `trunk serve`.
pub const EVENTS_URL: &str = "/api/events";
/// How often the heartbeat watchdog looks at the clock.
const WATCHDOG_EVERY_MS: u32 = 1_000;
/// How long the session check after a stream error may take before the
/// reconnect goes ahead without its answer.
const SESSION_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What components get from the context: the view as of the last rendered
/// frame, the liveness, and the stream's clock. Compared by pointer and
/// value, so the context changes (and its readers re-render) once per frame
/// with news or per change of liveness, never for an equal copy.
#[derive(Clone, Debug, Default)]
pub struct StreamContext {
    pub view: Rc<ViewState>,
    pub liveness: Liveness,
    /// Read, not watched: it changes with every event and heartbeat.
    pub clock: Rc<StreamClock>,
}

impl PartialEq for StreamContext {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.view, &other.view)
            && self.liveness == other.liveness
            && Rc::ptr_eq(&self.clock, &other.clock)
    }
}

/// The stream's times, kept current by the supervisor without re-rendering
/// anyone; the views read them when their own clock ticks.
#[derive(Debug, Default)]
pub struct StreamClock {
    last_event_at: Cell<Option<f64>>,
    offset_ms: Cell<f64>,
}

impl StreamClock {
    /// When the last event of any kind arrived, in ms of the browser's clock.
    pub fn last_event_at(&self) -> Option<f64> {
        self.last_event_at.get()
    }

    /// Server clock minus browser clock, from the last heartbeat, so widget
    /// ages ("updated 3m ago") are not skewed by a wrong client clock.
    pub fn offset_ms(&self) -> f64 {
        self.offset_ms.get()
    }
}

/// The view, from the nearest [`EventStream`].
#[hook]
pub fn use_view() -> Rc<ViewState> {
    use_stream().view
}

/// The view, the liveness and the clock, from the nearest [`EventStream`].
#[hook]
pub fn use_stream() -> StreamContext {
    use_context::<StreamContext>().expect("use_stream() needs an <EventStream> ancestor")
}

/// What a stream carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamFilter {
    /// One dashboard (`?dashboard=`; empty for the default one).
    Dashboard(String),
    /// Several, for a rotation (`?dashboards=a,b`).
    Dashboards(Vec<String>),
    /// A declared playlist's dashboards (`?playlist=`).
    Playlist(String),
    /// Every widget: a rotation through all dashboards.
    All,
}

/// The stream's URL for `filter`: without an id for a first connection (the
/// server starts it with `init`), else resuming after `resume_from`; with the
/// page's `build`, so a server serving another one answers a resume with a
/// `reset` that says so. Event ids are checked to be `<letters and
/// digits>-<digits>` when parsed, and build ids are hex, so they need no
/// escaping; dashboard names come from the address bar, so they do.
pub fn events_url(
    filter: &StreamFilter,
    resume_from: Option<&EventId>,
    build: Option<&str>,
) -> String {
    let mut params = match filter {
        StreamFilter::Dashboard(name) => vec![format!("dashboard={}", urlencoding::encode(name))],
        // Commas too are escaped; the server reads the list after decoding.
        StreamFilter::Dashboards(names) => {
            vec![format!(
                "dashboards={}",
                urlencoding::encode(&names.join(","))
            )]
        }
        StreamFilter::Playlist(name) => vec![format!("playlist={}", urlencoding::encode(name))],
        StreamFilter::All => Vec::new(),
    };
    if let Some(id) = resume_from {
        params.push(format!("last_event_id={id}"));
    }
    if let Some(build) = build {
        params.push(format!("build={}", urlencoding::encode(build)));
    }
    // The updates of one publish in one event, not one per widget: each
    // event costs the browser a dispatch and the page a decode.
    params.push("grouped".to_owned());
    format!("{EVENTS_URL}?{}", params.join("&"))
}

#[derive(Properties, PartialEq)]
pub struct EventStreamProps {
    /// What the stream carries.
    pub filter: StreamFilter,
    #[prop_or_default]
    pub children: Html,
}

/// Provides the view and the stream's status, and keeps the tab's single
/// EventSource alive while mounted.
#[function_component]
pub fn EventStream(props: &EventStreamProps) -> Html {
    // One state for all three (a hook and a context provider less in the
    // bundle than one each); the supervisor keeps the parts apart.
    let context = use_state(StreamContext::default);
    // The gate to tell when a stream error turns out to be a session that
    // ended; without one (no session context), every error is a reconnect.
    let session = use_context::<SessionHandle>().map(|handle| handle.dispatcher());
    {
        // One supervisor per filter: on a switch the old one is stopped (its
        // EventSource closed) before the new one opens its own.
        let publish = context.setter();
        let seed = (*context).clone();
        use_effect_with(props.filter.clone(), move |filter| {
            let supervisor = Supervisor::start(publish, seed, session, filter.clone());
            move || supervisor.stop()
        });
    }
    html! {
        <ContextProvider<StreamContext> context={(*context).clone()}>
            { props.children.clone() }
        </ContextProvider<StreamContext>>
    }
}

/// Owns the connection: opens, watches and replaces the EventSource.
struct Supervisor {
    /// Where the views read what the supervisor publishes.
    publish: UseStateSetter<StreamContext>,
    /// The stream's clock, shared with the views.
    clock: Rc<StreamClock>,
    /// The session gate, told what `GET /api/session` says after a stream error.
    session: Option<UseReducerDispatcher<Gate>>,
    /// What every connection this supervisor makes carries.
    filter: StreamFilter,
    /// The view as last handed to the views (shared with them).
    published: RefCell<Rc<ViewState>>,
    /// The view with the events of the frame in progress folded in; `None`
    /// when nothing arrived since the last render.
    pending: RefCell<Option<ViewState>>,
    /// A render is asked for.
    frame_requested: Cell<bool>,
    /// When the last render was handed over (browser clock, ms).
    rendered_at_ms: Cell<f64>,
    /// The liveness as last published.
    liveness: Cell<Liveness>,
    /// The SPA build this page runs.
    own_build: Option<String>,
    /// The server serves another build: reload once the frame is rendered.
    reload_due: Cell<bool>,
    /// A reload put off ([`Decision::Later`]).
    reload_timer: RefCell<Option<Timeout>>,
    /// Stopped: an animation frame or timer still due does nothing.
    stopped: Cell<bool>,
    /// The one EventSource, with its listeners.
    connection: RefCell<Option<Connection>>,
    /// The connection closed last: its listeners live until the next one is
    /// closed, as the one running may be what closed it.
    retired: RefCell<Option<Connection>>,
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
        publish: UseStateSetter<StreamContext>,
        seed: StreamContext,
        session: Option<UseReducerDispatcher<Gate>>,
        filter: StreamFilter,
    ) -> SupervisorHandle {
        // Another filter starts from scratch: the ids applied so far belong
        // to another stream; only the menu stays.
        let StreamContext {
            view,
            liveness,
            clock,
        } = seed;
        let cleared = Rc::new(view.switched());
        // The tab's first stream has nothing to clear.
        if view.has_snapshot() || !view.widgets.is_empty() {
            publish.set(StreamContext {
                view: cleared.clone(),
                liveness,
                clock: clock.clone(),
            });
        }
        let supervisor = Rc::new(Supervisor {
            publish,
            clock,
            session,
            filter,
            published: RefCell::new(cleared),
            pending: RefCell::new(None),
            frame_requested: Cell::new(false),
            rendered_at_ms: Cell::new(0.0),
            liveness: Cell::new(liveness),
            own_build: reload::own_build(),
            reload_due: Cell::new(false),
            reload_timer: RefCell::new(None),
            stopped: Cell::new(false),
            connection: RefCell::new(None),
            retired: RefCell::new(None),
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
        supervisor.signal(Signal::Switched);
        supervisor.signal(Signal::Network {
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

        let url = events_url(
            &self.filter,
            self.last_event_id().as_ref(),
            self.own_build.as_deref(),
        );
        match Connection::open(&url, Rc::downgrade(self), generation) {
            Ok(connection) => *self.connection.borrow_mut() = Some(connection),
            Err(err) => self.reconnect_later(&format!("cannot open {url}: {err:?}")),
        }
    }

    /// Closes the current EventSource and moves to a new generation.
    fn close_current(&self) {
        // Bump first: a listener of the old one that still runs must find
        // the generation already moved on.
        let old = self.connection.borrow_mut().take();
        self.generation.set(self.generation.get() + 1);
        if let Some(old) = old {
            old.source.close();
            // Drops the one retired before, whose listeners cannot be running.
            *self.retired.borrow_mut() = Some(old);
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
        self.signal(Signal::RetryScheduled(RetryInfo {
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
        self.signal(Signal::Opened {
            has_snapshot: self.has_snapshot(),
        });
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
        self.clock.last_event_at.set(Some(at_ms));
        match &event {
            ServerEvent::Init(init) => self.heartbeat_ms.set(Some(init.heartbeat_ms)),
            ServerEvent::Heartbeat(heartbeat) => {
                let offset = heartbeat.server_time as f64 - at_ms;
                self.clock.offset_ms.set(offset);
            }
            ServerEvent::Shutdown(shutdown) => {
                self.signal(Signal::ShuttingDown);
                self.reconnect_after_shutdown(shutdown.reconnect_after_ms);
                return;
            }
            _ => {}
        }
        let snapshot = matches!(event, ServerEvent::Init(_) | ServerEvent::Reset(_));
        // The browser keeps the last `id:` it saw; only state-changing events
        // carry one, and only those use it.
        let id = message.last_event_id().parse::<EventId>().ok();
        if self.fold(|view| view.apply(event, id)) {
            self.request_frame();
        }
        if snapshot {
            self.check_build();
        }
        self.signal(Signal::Delivered {
            has_snapshot: self.has_snapshot(),
        });
    }

    /// Folds a change into the view of the frame in progress (a copy of the
    /// rendered one, made by the frame's first event: it shares every widget).
    fn fold(&self, change: impl FnOnce(&mut ViewState) -> bool) -> bool {
        let mut pending = self.pending.borrow_mut();
        let view = pending.get_or_insert_with(|| (**self.published.borrow()).clone());
        change(view)
    }

    fn request_frame(self: &Rc<Self>) {
        if self.frame_requested.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        let idle = now_ms() - self.rendered_at_ms.get() >= FRAME_MS;
        next_frame(
            Rc::new(move || {
                if let Some(supervisor) = weak.upgrade() {
                    supervisor.render();
                }
            }),
            idle,
        );
    }

    /// Hands the frame's view to the views: one render for every event since
    /// the last frame. Then, if the server serves another build, the reload:
    /// at a frame's end, every event received is folded in and none is
    /// half-applied.
    fn render(self: &Rc<Self>) {
        self.frame_requested.set(false);
        if self.stopped.get() {
            return;
        }
        let Some(next) = self.pending.borrow_mut().take() else {
            return;
        };
        self.rendered_at_ms.set(now_ms());
        *self.published.borrow_mut() = Rc::new(next);
        self.publish_context();
        if self.reload_due.replace(false) {
            self.reload_if_stale();
        }
    }

    /// After an `init` or `reset`: does the server serve another build?
    fn check_build(&self) {
        let served = self.current(|view| view.build.clone());
        if served.is_some() && served != self.own_build {
            self.reload_due.set(true);
        }
    }

    fn reload_if_stale(self: &Rc<Self>) {
        if self.stopped.get() {
            return;
        }
        let served = self.current(|view| view.build.clone());
        if let Decision::Later { at_ms } =
            reload::reload_if_stale(self.own_build.as_deref(), served.as_deref())
        {
            let weak = Rc::downgrade(self);
            let wait_ms = (at_ms - now_ms()).clamp(0.0, f64::from(u32::MAX)) as u32;
            let timer = Timeout::new(wait_ms, move || {
                if let Some(supervisor) = weak.upgrade() {
                    supervisor.reload_if_stale();
                }
            });
            *self.reload_timer.borrow_mut() = Some(timer);
        }
    }

    /// Reads the newest view: the frame in progress, else the rendered one.
    fn current<T>(&self, read: impl FnOnce(&ViewState) -> T) -> T {
        match &*self.pending.borrow() {
            Some(view) => read(view),
            None => read(&self.published.borrow()),
        }
    }

    fn has_snapshot(&self) -> bool {
        self.current(ViewState::has_snapshot)
    }

    /// Where a new stream resumes: the last event folded in, rendered or not.
    fn last_event_id(&self) -> Option<EventId> {
        self.current(|view| view.last_event_id.clone())
    }

    /// Updates the liveness, publishing it only when it changed.
    fn signal(&self, signal: Signal) {
        let mut liveness = self.liveness.get();
        if liveness.apply(signal) {
            self.liveness.set(liveness);
            self.publish_context();
        }
    }

    /// Hands the rendered view and the liveness to the views.
    fn publish_context(&self) {
        self.publish.set(StreamContext {
            view: self.published.borrow().clone(),
            liveness: self.liveness.get(),
            clock: self.clock.clone(),
        });
    }

    /// An `error` event, whether the browser meant to retry (readyState
    /// CONNECTING) or gave up (CLOSED): either way the reconnect is ours,
    /// once the server said the session still holds (see the module docs).
    fn on_error(self: &Rc<Self>) {
        let state = self.connection.borrow().as_ref().map(Connection::state);
        let why = match state {
            Some(EventSource::CLOSED) => "event stream closed by the browser",
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
        self.signal(Signal::Dropped);
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
        let connected = self.connection.borrow().is_some();
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
        self.signal(Signal::Network { online });
        if !online {
            if self.connection.borrow().is_some() {
                self.reconnect_later("the browser went offline");
            }
            return;
        }
        let open =
            self.connection.borrow().as_ref().map(Connection::state) == Some(EventSource::OPEN);
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
        supervisor.stopped.set(true);
        supervisor.watchdog.borrow_mut().take();
        supervisor.network.borrow_mut().clear();
        supervisor.reload_timer.borrow_mut().take();
        // Also voids a pending retry: it belongs to an older generation.
        supervisor.close_current();
    }
}

/// One EventSource and its listeners: every protocol event, plus the
/// EventSource's own `open` and `error`, each calling the supervisor.
struct Connection {
    source: EventSource,
    listeners: Vec<(&'static str, Listener)>,
}

type Listener = Closure<dyn FnMut(web_sys::Event)>;

impl Connection {
    fn open(
        url: &str,
        supervisor: Weak<Supervisor>,
        generation: u64,
    ) -> Result<Connection, JsValue> {
        let source = EventSource::new(url)?;
        let mut connection = Connection {
            source,
            listeners: Vec::new(),
        };
        for name in ServerEvent::NAMES.into_iter().chain(["open", "error"]) {
            let supervisor = supervisor.clone();
            let listener = Listener::new(move |event: web_sys::Event| {
                let Some(supervisor) = supervisor.upgrade() else {
                    return;
                };
                if !supervisor.is_current(generation) {
                    return;
                }
                match name {
                    "open" => supervisor.on_open(),
                    "error" => supervisor.on_error(),
                    _ => {
                        if let Some(message) = event.dyn_ref::<MessageEvent>() {
                            supervisor.on_message(name, message);
                        }
                    }
                }
            });
            // On failure the connection is dropped, which closes the source.
            connection
                .source
                .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())?;
            connection.listeners.push((name, listener));
        }
        Ok(connection)
    }

    /// `readyState`: `EventSource::CONNECTING`, `OPEN` or `CLOSED`.
    fn state(&self) -> u16 {
        self.source.ready_state()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.source.close();
        for (name, listener) in &self.listeners {
            let _ = self
                .source
                .remove_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
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

    fn dashboard(name: &str) -> StreamFilter {
        StreamFilter::Dashboard(name.to_owned())
    }

    #[test]
    fn first_stream_asks_for_init_later_ones_resume() {
        assert_eq!(
            events_url(&dashboard(""), None, None),
            "/api/events?dashboard=&grouped"
        );
        let id: EventId = "73d2734ac365ce15-31".parse().unwrap();
        assert_eq!(
            events_url(&dashboard("ops"), Some(&id), Some("d08d6976370bd525")),
            "/api/events?dashboard=ops&last_event_id=73d2734ac365ce15-31&build=d08d6976370bd525&grouped"
        );
    }

    #[test]
    fn dashboard_names_from_the_address_bar_are_escaped() {
        assert_eq!(
            events_url(&dashboard("a b&c=d"), None, None),
            "/api/events?dashboard=a%20b%26c%3Dd&grouped"
        );
        assert_eq!(
            events_url(&dashboard("host.cpu-1_x"), None, None),
            "/api/events?dashboard=host.cpu-1_x&grouped"
        );
    }

    #[test]
    fn rotations_stream_all_their_dashboards_at_once() {
        let list = StreamFilter::Dashboards(vec!["ops".into(), "a,b".into()]);
        assert_eq!(
            events_url(&list, None, None),
            "/api/events?dashboards=ops%2Ca%2Cb&grouped"
        );
        assert_eq!(
            events_url(&StreamFilter::Playlist("lobby".into()), None, Some("ab12")),
            "/api/events?playlist=lobby&build=ab12&grouped"
        );
        assert_eq!(
            events_url(&StreamFilter::All, None, None),
            "/api/events?grouped"
        );
    }
}
