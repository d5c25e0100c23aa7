//! The hub: keeps the committed state and fans events out.
//!
//! The log (`log/`) decides the order of changes and makes them
//! durable; it hands each committed group to [`Hub::apply`], which folds it
//! into the store, records it in the history and broadcasts it. Every event
//! is serialized once, by the log, into an [`Arc<Frame>`]; subscribers
//! receive clones of the `Arc` through one `tokio::sync::broadcast` ring, so a
//! subscriber costs a cursor into the shared ring rather than a queue of its own.
//! The ring is bounded: a subscriber that falls more than its capacity behind
//! loses its place (`RecvError::Lagged`) and is sent a fresh snapshot instead,
//! so it never slows the publisher or other subscribers, and memory stays bounded.
//!
//! Every state change is also kept in a bounded [`History`], so a viewer that
//! reconnects with the id of the last event it saw is sent exactly what it
//! missed. Events are applied, recorded and broadcast under one lock, and a
//! resuming viewer reads the history and joins the broadcast under that same
//! lock: the replay ends exactly where its live events begin.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use protocol::{
    EventId, Heartbeat, Init, Reset, ServerEvent, Shutdown, Update, View, Widget, WidgetId,
    PROTOCOL_VERSION,
};
use tokio::sync::broadcast;

use crate::config::Config;
use crate::dashboards::{Dashboards, Filter};
use crate::frame::Frame;
use crate::history::{History, Unreplayable};
use crate::log_text::Escaped;
use crate::metrics::Metrics;
use crate::publish::KindHints;
use crate::store::Store;

/// How often [`Hub::catch_up`] looks again: a tail reads within a
/// millisecond or so of an append, and this is rare (a resume racing it).
const CATCH_UP_POLL: Duration = Duration::from_millis(5);

/// What a subscriber starts from: the events to send first (an `init` or a
/// `reset` carrying the whole state, or the events it missed), and a receiver
/// positioned exactly after them, so nothing falls between and nothing repeats.
pub struct Subscription {
    pub backlog: std::vec::IntoIter<Arc<Frame>>,
    pub receiver: broadcast::Receiver<Arc<Frame>>,
}

/// Why a subscriber is sent a whole snapshot instead of the events it missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    /// It fell further behind than its buffer.
    Lagged,
    /// It resumed from an event that has left the history.
    Expired,
    /// It resumed with an id of another epoch: another log (a new database,
    /// a memory-only run, or a restart after a machine crash under
    /// `--sync normal`).
    ForeignEpoch,
    /// It resumed with an id that is not one (garbage, or never handed out).
    InvalidId,
    /// It runs another build of the SPA than the one served now (`?build=`):
    /// the `reset` tells it the new build, and it reloads.
    OtherBuild,
    /// The shared log started over (its store lost its data), or this
    /// instance fell too far behind it: every stream is sent the new state.
    NewEpoch,
}

impl ResetReason {
    /// The `reason` label of `pulseboard_resets_sent_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResetReason::Lagged => "lagged",
            ResetReason::Expired => "expired",
            ResetReason::ForeignEpoch => "foreign_epoch",
            ResetReason::InvalidId => "invalid_id",
            ResetReason::OtherBuild => "other_build",
            ResetReason::NewEpoch => "new_epoch",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("could not encode event: {0}")]
    Encode(#[from] serde_json::Error),
}

/// One state change with its place in the order, as the log committed it:
/// what the hub folds into its state and broadcasts.
#[derive(Debug)]
pub struct Committed {
    pub seq: u64,
    /// When it was accepted, in milliseconds since the Unix epoch.
    pub at: i64,
    pub change: Applied,
    pub frame: Arc<Frame>,
}

/// The change itself, completed: every setting stated, ready to fold.
#[derive(Debug, Clone)]
pub enum Applied {
    Set(Update),
    Remove(WidgetId),
}

/// What the hub starts from: the state the log recovered.
pub struct Start {
    pub epoch: String,
    /// The last event committed (0 if none ever was).
    pub last_seq: u64,
    pub store: Store,
    /// The replayable events (seq, when accepted in ms since the Unix epoch,
    /// frame), oldest first.
    pub history: Vec<(u64, i64, Arc<Frame>)>,
}

/// A cheap-to-clone handle to the hub.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

struct Shared {
    /// The SPA build served (see `protocol::build_id_in_html`), told to every
    /// viewer in `init` and `reset`.
    build: Option<String>,
    heartbeat_interval: Duration,
    history_size: usize,
    history_age: Duration,
    /// Sent in `shutdown`: how long clients wait before reconnecting.
    reconnect_after: Duration,
    /// How far a receiver may fall behind before it lags: the ring's real size
    /// (tokio rounds the capacity up to a power of two).
    ring_size: usize,
    dashboards: Dashboards,
    metrics: Metrics,
    sender: broadcast::Sender<Arc<Frame>>,
    /// A std mutex: it is held for a store update and a non-blocking `send`, never
    /// across an `.await`. Sending while holding it is what keeps a subscriber's
    /// snapshot and its place in the ring consistent.
    state: Mutex<State>,
}

struct State {
    /// Changes only when a shared log starts over ([`Hub::replace`]).
    epoch: String,
    store: Store,
    history: History,
    last_seq: u64,
    /// The `init` and `reset` events for `last_seq`, per filter (see
    /// [`Filter::cache_slot`]), each built once and reused by every viewer that
    /// needs one before the next change (a burst can make thousands lag at the
    /// same moment).
    cached_init: Vec<CachedEvent>,
    cached_reset: Vec<CachedEvent>,
}

/// Everything the store holds, and the id of the last change folded into it.
pub struct Contents {
    /// Grows by one with every change; 0 before the first.
    pub last_seq: u64,
    pub last_event_id: Option<EventId>,
    pub widgets: Vec<Widget>,
}

/// A snapshot event and the sequence number it was built at.
type CachedEvent = Option<(u64, Arc<Frame>)>;

impl Hub {
    /// Uses the heartbeat interval, subscriber buffer and history bounds of
    /// `config`, and starts from the state the log recovered.
    pub fn new(config: &Config, dashboards: Dashboards, metrics: Metrics, start: Start) -> Hub {
        let capacity = config.subscriber_buffer as usize;
        let (sender, _) = broadcast::channel(capacity);
        let cache_slots = dashboards.specs().len() + 1;
        let mut history = History::new(config.history_size, config.history_age);
        push_history(&mut history, start.history, Instant::now(), unix_ms());
        metrics.history_len.set(history.len() as i64);
        Hub {
            shared: Arc::new(Shared {
                build: config.build_id.clone(),
                heartbeat_interval: config.heartbeat_interval,
                history_size: config.history_size,
                history_age: config.history_age,
                reconnect_after: config.reconnect_after,
                ring_size: capacity.next_power_of_two(),
                dashboards,
                metrics,
                sender,
                state: Mutex::new(State {
                    epoch: start.epoch,
                    store: start.store,
                    history,
                    last_seq: start.last_seq,
                    cached_init: vec![None; cache_slots],
                    cached_reset: vec![None; cache_slots],
                }),
            }),
        }
    }

    /// True if `receiver` fell so far behind that it lost its place.
    pub fn has_lagged(&self, receiver: &broadcast::Receiver<Arc<Frame>>) -> bool {
        receiver.len() > self.shared.ring_size
    }

    pub fn epoch(&self) -> String {
        self.lock().epoch.clone()
    }

    /// The SPA build viewers are told about.
    pub fn build(&self) -> Option<&str> {
        self.shared.build.as_deref()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    pub fn dashboards(&self) -> &Dashboards {
        &self.shared.dashboards
    }

    /// What is known of `id`'s kind before a publish body is parsed.
    pub fn kind_hints(&self, id: &WidgetId) -> KindHints {
        KindHints {
            declared: self.shared.dashboards.declared_kind(id),
            current: self
                .lock()
                .store
                .get(id)
                .and_then(|widget| widget.value.kind()),
        }
    }

    /// Folds committed events into the store, records them in the history and
    /// broadcasts them, in order. `answer` (the log answering the publishers)
    /// runs under the same lock once the state holds the events, so a read
    /// after the answer sees them, and before the broadcast, so the
    /// publishers' tasks are woken before thousands of viewers' streams and
    /// their answers do not wait behind every delivery.
    pub fn apply(&self, events: Vec<Committed>, answer: impl FnOnce()) {
        let mut state = self.lock();
        let now = Instant::now();
        let mut frames = Vec::with_capacity(events.len());
        for event in events {
            match event.change {
                Applied::Set(update) => state.store.commit(update),
                Applied::Remove(id) => {
                    state.store.remove(&id);
                }
            }
            debug_assert_eq!(event.seq, state.last_seq + 1);
            state.last_seq = event.seq;
            state.history.push(event.seq, event.frame.clone(), now);
            frames.push(event.frame);
        }
        answer();
        for frame in frames {
            // An error only means nobody is subscribed right now.
            let _ = self.shared.sender.send(frame);
            self.shared.metrics.events_published.inc();
        }
        self.record_history_len(&state);
    }

    /// Starts over from `start`, a log that began a new epoch (a shared log
    /// whose store lost its data) or that this instance fell too far behind
    /// to follow: every open stream is sent a `reset` of the new state.
    pub fn replace(&self, start: Start) {
        let mut state = self.lock();
        let (now, now_ms) = (Instant::now(), unix_ms());
        let mut history = History::new(self.shared.history_size, self.shared.history_age);
        push_history(&mut history, start.history, now, now_ms);
        state.epoch = start.epoch;
        state.store = start.store;
        state.history = history;
        state.last_seq = start.last_seq;
        state.cached_init.iter_mut().for_each(|slot| *slot = None);
        state.cached_reset.iter_mut().for_each(|slot| *slot = None);
        self.record_history_len(&state);
        // Each stream answers it with a `reset` for its own filter.
        let _ = self.shared.sender.send(Arc::new(Frame::new_epoch()));
    }

    /// Runs `read` on the committed state, under the lock: for a log that
    /// completes changes against it without copying it.
    pub fn read_store<R>(&self, read: impl FnOnce(&Store) -> R) -> R {
        read(&self.lock().store)
    }

    /// The last event folded into the state, and its epoch.
    pub fn position(&self) -> (String, u64) {
        let state = self.lock();
        (state.epoch.clone(), state.last_seq)
    }

    /// A copy of the committed state, for the log's working copy.
    pub fn clone_store(&self) -> Store {
        self.lock().store.clone()
    }

    /// A copy of every widget, for reads.
    pub fn contents(&self) -> Contents {
        let state = self.lock();
        Contents {
            last_seq: state.last_seq,
            last_event_id: event_id(&state, state.last_seq),
            widgets: state.store.widgets().cloned().collect(),
        }
    }

    pub fn widget(&self, id: &WidgetId) -> Option<Widget> {
        self.lock().store.get(id).cloned()
    }

    /// True if `frame` is for a stream with `filter`.
    pub fn admits(&self, filter: &Filter, frame: &Frame) -> bool {
        frame
            .widget
            .as_ref()
            .is_none_or(|id| self.shared.dashboards.admits(filter, id))
    }

    /// Sends a `heartbeat` to every stream. One shared event per interval rather
    /// than a timer per stream: a failed write on it is also how dead clients are
    /// found.
    pub fn heartbeat(&self) {
        let event = ServerEvent::Heartbeat(Heartbeat {
            server_time: unix_ms(),
        });
        if self.broadcast_stateless(event).is_ok() {
            self.shared.metrics.heartbeats_sent.inc();
        }
        // Age out history even when nothing is published.
        let mut state = self.lock();
        state.history.prune(Instant::now());
        self.record_history_len(&state);
    }

    /// Tells every stream to reconnect elsewhere; streams end after sending it.
    pub fn shutdown(&self) {
        let event = ServerEvent::Shutdown(Shutdown {
            reconnect_after_ms: self.shared.reconnect_after.as_millis() as u64,
        });
        if let Err(error) = self.broadcast_stateless(event) {
            tracing::error!(%error, "could not send shutdown event");
        }
    }

    /// A new subscriber. Without a position it starts with an `init` (the
    /// whole state). With `resume_after`, the id of the last event it saw, it
    /// starts with the events after that one, or with a `reset` if they cannot
    /// be replayed. Either way live events follow without a gap.
    ///
    /// `filter` narrows the snapshot; the caller skips the events it does not
    /// admit (see [`Hub::admits`]). A viewer that says it runs another SPA
    /// build than the one served (`client_build`) resumes with a `reset`,
    /// which tells it the build, rather than a replay, which would not.
    pub fn subscribe(
        &self,
        resume_after: Option<&str>,
        client_build: Option<&str>,
        filter: &Filter,
    ) -> Result<Subscription, HubError> {
        let other_build = matches!((client_build, self.build()), (Some(client), Some(served)) if client != served);
        if resume_after.is_some() && other_build {
            return self.resync(ResetReason::OtherBuild, filter);
        }
        let mut state = self.lock();
        let replay = resume_after.map(|raw| self.replay_after(&state, raw));
        let backlog = match replay {
            None => vec![self.init_event(&mut state, filter)?],
            Some(Ok(events)) => events,
            Some(Err(reason)) => {
                drop(state);
                return self.resync(reason, filter);
            }
        };
        let receiver = self.shared.sender.subscribe();
        drop(state);
        if resume_after.is_some() {
            self.shared
                .metrics
                .events_replayed
                .inc_by(backlog.len() as u64);
        }
        Ok(Subscription {
            backlog: backlog.into_iter(),
            receiver,
        })
    }

    /// Waits, up to `within`, until the state holds the event `raw` names if
    /// it is of this epoch and ahead of it: with a shared log a viewer can
    /// resume here from an event another instance sent it before this one
    /// has read it.
    pub async fn catch_up(&self, raw: &str, within: Duration) {
        let Ok(id) = raw.parse::<EventId>() else {
            return;
        };
        let deadline = Instant::now() + within;
        loop {
            let (epoch, last_seq) = self.position();
            if epoch != id.epoch || last_seq >= id.seq || Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(CATCH_UP_POLL).await;
        }
    }

    /// For a subscriber that cannot continue from where it was: a `reset` with
    /// the current snapshot and a fresh receiver positioned right after it.
    pub fn resync(&self, reason: ResetReason, filter: &Filter) -> Result<Subscription, HubError> {
        let mut state = self.lock();
        let reset = self.cached(
            &mut state,
            filter,
            |s| &mut s.cached_reset,
            |hub, state, seq| {
                ServerEvent::Reset(Reset {
                    epoch: state.epoch.clone(),
                    last_event_id: event_id(state, seq),
                    build: hub.shared.build.clone(),
                    view: hub.view(state, filter),
                })
            },
        )?;
        let receiver = self.shared.sender.subscribe();
        drop(state);
        self.shared
            .metrics
            .resets_sent
            .with_label_values(&[reason.as_str()])
            .inc();
        Ok(Subscription {
            backlog: vec![reset].into_iter(),
            receiver,
        })
    }

    fn init_event(&self, state: &mut State, filter: &Filter) -> Result<Arc<Frame>, HubError> {
        self.cached(
            state,
            filter,
            |s| &mut s.cached_init,
            |hub, state, seq| {
                ServerEvent::Init(Init {
                    protocol_version: PROTOCOL_VERSION,
                    epoch: state.epoch.clone(),
                    last_event_id: event_id(state, seq),
                    heartbeat_ms: hub.shared.heartbeat_interval.as_millis() as u64,
                    build: hub.shared.build.clone(),
                    view: hub.view(state, filter),
                })
            },
        )
    }

    /// What a stream with `filter` starts from.
    fn view(&self, state: &State, filter: &Filter) -> View {
        let dashboards = &self.shared.dashboards;
        View {
            dashboards: dashboards.specs().to_vec(),
            dashboard: dashboards.name_of(filter),
            playlists: dashboards.playlists().to_vec(),
            snapshot: state.store.snapshot(|id| dashboards.admits(filter, id)),
        }
    }

    /// The events after the raw id a client sent, or why they cannot be had.
    fn replay_after(&self, state: &State, raw: &str) -> Result<Vec<Arc<Frame>>, ResetReason> {
        let outcome = match raw.parse::<EventId>() {
            Err(_) => Err(ResetReason::InvalidId),
            Ok(id) if id.epoch != state.epoch => Err(ResetReason::ForeignEpoch),
            Ok(id) => state
                .history
                .after(id.seq, state.last_seq)
                .map_err(|unreplayable| match unreplayable {
                    Unreplayable::Expired => ResetReason::Expired,
                    Unreplayable::InTheFuture => ResetReason::InvalidId,
                }),
        };
        if let Err(reason) = outcome {
            // Every browser that outlived a new epoch sends one of these: not a
            // client error worth more than a debug line.
            tracing::debug!(reason = reason.as_str(), last_event_id = %Escaped(raw), "cannot resume; sending a reset");
        }
        outcome
    }

    /// The snapshot event cached for `filter` if it is for the current sequence
    /// number, else a freshly built and encoded one, cached for the next caller.
    fn cached(
        &self,
        state: &mut State,
        filter: &Filter,
        slots: fn(&mut State) -> &mut Vec<CachedEvent>,
        build: impl FnOnce(&Hub, &State, u64) -> ServerEvent,
    ) -> Result<Arc<Frame>, HubError> {
        let seq = state.last_seq;
        let slot = filter.cache_slot();
        if let Some(Some((cached_seq, event))) = slot.map(|i| &slots(state)[i]) {
            if *cached_seq == seq {
                return Ok(event.clone());
            }
        }
        let event = Frame::encode(
            &build(self, state, seq),
            event_id(state, seq).as_ref(),
            None,
        )?;
        if let Some(i) = slot {
            slots(state)[i] = Some((seq, event.clone()));
        }
        Ok(event)
    }

    fn record_history_len(&self, state: &State) {
        let len = state.history.len() as i64;
        self.shared.metrics.history_len.set(len);
    }

    fn broadcast_stateless(&self, event: ServerEvent) -> Result<(), HubError> {
        let frame = Frame::encode(&event, None, None)?;
        // Under the lock like every send, so it cannot overtake a change.
        let _state = self.lock();
        let _ = self.shared.sender.send(frame);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock cannot leave the store half
        // written (every mutation is a single call), so keep serving.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Puts recovered events into `history`, aged from when each was accepted
/// (across restarts, and across instances of a shared log).
fn push_history(
    history: &mut History,
    events: Vec<(u64, i64, Arc<Frame>)>,
    now: Instant,
    now_ms: i64,
) {
    for (seq, at, frame) in events {
        history.push(seq, frame, accepted_at(at, now, now_ms));
    }
}

/// The `Instant` of something accepted at `at_ms` (Unix ms, as stored), given
/// the same moment `now` on both clocks: what was kept ages from when it was
/// accepted, across restarts and instances.
pub fn accepted_at(at_ms: i64, now: Instant, now_ms: i64) -> Instant {
    let age = Duration::from_millis(now_ms.saturating_sub(at_ms).max(0) as u64);
    now.checked_sub(age).unwrap_or(now)
}

/// The id of event `seq` in `state`'s epoch, or `None` before the first event.
fn event_id(state: &State, seq: u64) -> Option<EventId> {
    (seq > 0).then(|| EventId {
        epoch: state.epoch.clone(),
        seq,
    })
}

/// Milliseconds since the Unix epoch, by the wall clock.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A fresh, unpredictable epoch: for a new log, so ids of another log are
/// never mistaken for this one's. std's `RandomState` is seeded from the OS's
/// random source; mixing in the start time guards against a reused seed.
pub fn new_epoch() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", hasher.finish())
}
