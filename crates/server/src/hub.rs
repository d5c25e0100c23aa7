//! The hub: assigns event ids, keeps the store, and fans events out.
//!
//! Every event is serialized once, here, into an [`Arc<Frame>`]; subscribers
//! receive clones of the `Arc` through one `tokio::sync::broadcast` ring, so a
//! subscriber costs a cursor into the shared ring rather than a queue of its own.
//! The ring is bounded: a subscriber that falls more than its capacity behind
//! loses its place (`RecvError::Lagged`) and is sent a fresh snapshot instead,
//! so it never slows the publisher or other subscribers, and memory stays bounded.
//!
//! Every state change is also kept in a bounded [`History`], so a viewer that
//! reconnects with the id of the last event it saw is sent exactly what it
//! missed. Ids are assigned, recorded and broadcast under one lock, and a
//! resuming viewer reads the history and joins the broadcast under that same
//! lock: the replay ends exactly where its live events begin.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytestring::ByteString;
use protocol::{
    EventId, Heartbeat, Init, Remove, Reset, ServerEvent, Shutdown, View, Widget, WidgetId,
    PROTOCOL_VERSION,
};
use tokio::sync::broadcast;

use crate::config::Config;
use crate::dashboards::{Dashboards, Filter};
use crate::history::{History, Unreplayable};
use crate::metrics::Metrics;
use crate::publish::{Change, Conflict, KindHints};
use crate::store::Store;

/// One event as an SSE frame (name, data, id): encoded once and shared by
/// every subscriber.
#[derive(Debug)]
pub struct Frame {
    /// The SSE `id:`; `None` for events that change no state (heartbeat, shutdown).
    pub id: Option<ByteString>,
    /// The widget an `update` or `remove` is about, for streams narrowed to
    /// some widgets.
    pub widget: Option<WidgetId>,
    pub name: &'static str,
    pub data: ByteString,
}

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
    /// It resumed with an id from another server run (a restart).
    ForeignEpoch,
    /// It resumed with an id that is not one (garbage, or never handed out).
    InvalidId,
}

impl ResetReason {
    /// The `reason` label of `pulseboard_resets_sent_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResetReason::Lagged => "lagged",
            ResetReason::Expired => "expired",
            ResetReason::ForeignEpoch => "foreign_epoch",
            ResetReason::InvalidId => "invalid_id",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("could not encode event: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("{0} must be a finite number")]
    NonFinite(&'static str),
    #[error("there are already {0} widgets, the most this server keeps")]
    TooManyWidgets(usize),
    #[error("`{}`: {}", .0.field, .0.problem)]
    Conflict(Conflict),
}

/// A cheap-to-clone handle to the hub.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

struct Shared {
    epoch: String,
    heartbeat_interval: Duration,
    /// How far a receiver may fall behind before it lags: the ring's real size
    /// (tokio rounds the capacity up to a power of two).
    ring_size: usize,
    /// Most widgets the store holds: publishes that would add more are refused,
    /// so a script inventing ids cannot grow every viewer's snapshot forever.
    max_widgets: usize,
    dashboards: Dashboards,
    metrics: Metrics,
    sender: broadcast::Sender<Arc<Frame>>,
    /// A std mutex: it is held for a store update and a non-blocking `send`, never
    /// across an `.await`. Sending while holding it is what keeps every
    /// subscriber's view in id order when publishes race on several workers.
    state: Mutex<State>,
}

struct State {
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
    /// Uses the heartbeat interval, subscriber buffer, widget limit and history
    /// bounds of `config`.
    pub fn new(config: &Config, dashboards: Dashboards, metrics: Metrics) -> Hub {
        let capacity = config.subscriber_buffer as usize;
        let (sender, _) = broadcast::channel(capacity);
        let cache_slots = dashboards.specs().len() + 1;
        Hub {
            shared: Arc::new(Shared {
                epoch: new_epoch(),
                heartbeat_interval: config.heartbeat_interval,
                ring_size: capacity.next_power_of_two(),
                max_widgets: config.max_widgets,
                dashboards,
                metrics,
                sender,
                state: Mutex::new(State {
                    store: Store::default(),
                    history: History::new(config.history_size, config.history_age),
                    last_seq: 0,
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

    pub fn epoch(&self) -> &str {
        &self.shared.epoch
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

    /// Applies an update to the store and broadcasts it with the next id. On
    /// error nothing changed and nothing was sent.
    pub fn publish(&self, change: impl Into<Change>) -> Result<EventId, HubError> {
        let mut ids = self.publish_all(vec![change.into()])?;
        Ok(ids.remove(0))
    }

    /// Applies changes in order, all or none, each with its own id; they reach
    /// every viewer back to back. On error nothing changed and nothing was sent.
    pub fn publish_all(&self, mut changes: Vec<Change>) -> Result<Vec<EventId>, HubError> {
        for change in &changes {
            if let Some(field) = change.update.value.non_finite_field() {
                return Err(HubError::NonFinite(field));
            }
        }
        let mut state = self.lock();
        if state.store.len() + state.store.count_new(&changes) > self.shared.max_widgets {
            return Err(HubError::TooManyWidgets(self.shared.max_widgets));
        }
        state
            .store
            .complete_all(&mut changes)
            .map_err(HubError::Conflict)?;
        // Encoded before anything is committed, so a failure changes nothing.
        let frames = changes
            .iter()
            .zip(state.last_seq + 1..)
            .map(|(change, seq)| {
                self.encode(
                    &ServerEvent::Update(change.update.clone()),
                    self.event_id(seq),
                    Some(change.update.id.clone()),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ids = changes
            .into_iter()
            .zip(frames)
            .map(|(change, frame)| {
                state.store.commit(change.update);
                self.send_change(&mut state, frame)
            })
            .collect();
        Ok(ids)
    }

    /// Grows by one with every change: whether anything changed since.
    pub fn last_seq(&self) -> u64 {
        self.lock().last_seq
    }

    /// A copy of every widget, for reads and for saving.
    pub fn contents(&self) -> Contents {
        let state = self.lock();
        Contents {
            last_seq: state.last_seq,
            last_event_id: self.event_id(state.last_seq),
            widgets: state.store.widgets().cloned().collect(),
        }
    }

    pub fn widget(&self, id: &WidgetId) -> Option<Widget> {
        self.lock().store.get(id).cloned()
    }

    /// Fills the store with saved widgets, before anyone is subscribed; sends
    /// nothing, since no viewer can have seen an older state of this run.
    pub fn restore(&self, widgets: Vec<Widget>) {
        let mut state = self.lock();
        for widget in widgets {
            state.store.insert(widget);
        }
    }

    /// True if `frame` is for a stream with `filter`.
    pub fn admits(&self, filter: &Filter, frame: &Frame) -> bool {
        frame
            .widget
            .as_ref()
            .is_none_or(|id| self.shared.dashboards.admits(filter, id))
    }

    /// Deletes a widget and broadcasts `remove`; `None` if it did not exist.
    pub fn remove(&self, id: &WidgetId) -> Result<Option<EventId>, HubError> {
        let mut state = self.lock();
        if !state.store.contains(id) {
            return Ok(None);
        }
        let seq = state.last_seq + 1;
        let event = ServerEvent::Remove(Remove { id: id.clone() });
        let frame = self.encode(&event, self.event_id(seq), Some(id.clone()))?;
        state.store.remove(id);
        Ok(Some(self.send_change(&mut state, frame)))
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
            reconnect_after_ms: 250,
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
    /// admit (see [`Hub::admits`]).
    pub fn subscribe(
        &self,
        resume_after: Option<&str>,
        filter: &Filter,
    ) -> Result<Subscription, HubError> {
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
                    epoch: hub.shared.epoch.clone(),
                    last_event_id: hub.event_id(seq),
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
                    epoch: hub.shared.epoch.clone(),
                    last_event_id: hub.event_id(seq),
                    heartbeat_ms: hub.shared.heartbeat_interval.as_millis() as u64,
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
            snapshot: state.store.snapshot(|id| dashboards.admits(filter, id)),
        }
    }

    /// The events after the raw id a client sent, or why they cannot be had.
    fn replay_after(&self, state: &State, raw: &str) -> Result<Vec<Arc<Frame>>, ResetReason> {
        let outcome = match raw.parse::<EventId>() {
            Err(_) => Err(ResetReason::InvalidId),
            Ok(id) if id.epoch != self.shared.epoch => Err(ResetReason::ForeignEpoch),
            Ok(id) => state
                .history
                .after(id.seq, state.last_seq)
                .map_err(|unreplayable| match unreplayable {
                    Unreplayable::Expired => ResetReason::Expired,
                    Unreplayable::InTheFuture => ResetReason::InvalidId,
                }),
        };
        if let Err(reason) = outcome {
            // Every browser that outlived a restart sends one of these: not a
            // client error worth more than a debug line.
            let shown: String = raw.chars().take(80).collect();
            tracing::debug!(last_event_id = %shown, reason = reason.as_str(), "cannot resume; sending a reset");
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
        let event = self.encode(&build(self, state, seq), self.event_id(seq), None)?;
        if let Some(i) = slot {
            slots(state)[i] = Some((seq, event.clone()));
        }
        Ok(event)
    }

    /// Sends the next state change, under the lock that assigned its id.
    fn send_change(&self, state: &mut MutexGuard<'_, State>, frame: Arc<Frame>) -> EventId {
        state.last_seq += 1;
        let seq = state.last_seq;
        state.history.push(seq, frame.clone(), Instant::now());
        // An error only means nobody is subscribed right now.
        let _ = self.shared.sender.send(frame);
        self.shared.metrics.events_published.inc();
        self.record_history_len(state);
        EventId {
            epoch: self.shared.epoch.clone(),
            seq: state.last_seq,
        }
    }

    fn record_history_len(&self, state: &State) {
        let len = state.history.len() as i64;
        self.shared.metrics.history_len.set(len);
    }

    fn broadcast_stateless(&self, event: ServerEvent) -> Result<(), HubError> {
        let frame = self.encode(&event, None, None)?;
        // Under the lock like every send, so it cannot overtake a change.
        let _state = self.lock();
        let _ = self.shared.sender.send(frame);
        Ok(())
    }

    fn encode(
        &self,
        event: &ServerEvent,
        id: Option<EventId>,
        widget: Option<WidgetId>,
    ) -> Result<Arc<Frame>, HubError> {
        let encoded = event.encode()?;
        Ok(Arc::new(Frame {
            id: id.map(|id| id.to_string().into()),
            widget,
            name: encoded.name,
            data: encoded.data.into(),
        }))
    }

    /// The id of event `seq`, or `None` before the first event.
    fn event_id(&self, seq: u64) -> Option<EventId> {
        (seq > 0).then(|| EventId {
            epoch: self.shared.epoch.clone(),
            seq,
        })
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

/// Milliseconds since the Unix epoch, by the wall clock.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A fresh, unpredictable epoch per process start, so ids of a previous run are
/// never mistaken for this one's. std's `RandomState` is seeded from the OS's
/// random source; mixing in the start time guards against a reused seed.
fn new_epoch() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", hasher.finish())
}
