//! The local log: one thread that orders every change, commits them in
//! groups, and hands them to the hub.
//!
//! Publish handlers send their changes over a channel and wait for the
//! answer. The thread takes whatever has queued up meanwhile as one group,
//! checks and completes each append against its working copy of the state
//! (an append that does not fit is refused alone), writes the group's events
//! in one transaction, and only after the commit returns feeds them to the
//! hub and answers. So concurrent publishes share one fsync (group commit),
//! viewers never see an event that could still be lost, and ids are given
//! out by exactly one thread, in order.
//!
//! If the commit fails (disk full, read-only, I/O error), every append of the
//! group is refused with [`AppendError::Unavailable`] and the working state
//! goes back to the committed one, which the hub holds: nothing was applied,
//! nothing was sent. While the storage fails, the thread probes it every
//! second, so health recovers even when nobody publishes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use protocol::{EventId, Remove, ServerEvent, WidgetId};
use tokio::sync::oneshot;

use super::idempotency::IdempotencyKeys;
use super::{
    AnsweredKey, Append, AppendError, Appended, Applied, Batch, Checkpoint, Committed, EventLog,
    Health, Idempotency, Revocation, SessionRecords, Storage,
};
use crate::frame::Frame;
use crate::hub::{unix_ms, Hub};
use crate::publish::Change;
use crate::store::Store;

/// Most appends folded into one commit: bounds the latency one commit adds
/// to the appends behind it.
const MAX_GROUP: usize = 1024;
/// How often a failing storage is probed, and the longest an idle log waits
/// before checkpointing what changed.
const TICK: Duration = Duration::from_secs(1);
/// A checkpoint (the changed widgets written whole, older events pruned) is
/// taken at most this often, or after this many events, whichever is first:
/// often enough that the events kept beyond the history bounds stay few,
/// rarely enough that a busy widget is not rewritten at every publish.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
const CHECKPOINT_EVENTS: u64 = 10_000;

type Reply = oneshot::Sender<Result<Appended, AppendError>>;
type RevokeReply = oneshot::Sender<Result<(), AppendError>>;

enum Request {
    Append {
        append: Append,
        once: Option<Idempotency>,
        reply: Reply,
    },
    Revoke {
        revocation: Revocation,
        reply: RevokeReply,
    },
}

/// What a group commit answers once it is durable: the appends it took (with
/// their ids) and the revocations.
#[derive(Default)]
struct Answers {
    appends: Vec<(Reply, Appended)>,
    /// Keys first answered in this group: committed with its events, and
    /// forgotten if that fails.
    keys: Vec<AnsweredKey>,
    revocations: Vec<(Revocation, RevokeReply)>,
}

/// The handle the application holds; see the module comment.
pub struct LocalLog {
    /// `None` once closed.
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    health: Arc<SharedHealth>,
    sessions: Arc<SessionRecords>,
}

#[derive(Default)]
struct SharedHealth {
    available: AtomicBool,
    problem: Mutex<String>,
}

impl LocalLog {
    /// Starts the sequencer thread over `storage`, which `hub` and `sessions`
    /// were built from (their state is the committed state); `last_seq` is
    /// the last event id committed before.
    pub fn start(
        storage: impl Storage,
        hub: Hub,
        sessions: Arc<SessionRecords>,
        last_seq: u64,
        max_widgets: usize,
        keys: IdempotencyKeys,
    ) -> std::io::Result<LocalLog> {
        let (sender, receiver) = mpsc::channel();
        let health = Arc::new(SharedHealth {
            available: AtomicBool::new(true),
            problem: Mutex::new(String::new()),
        });
        hub.metrics().storage_available.set(1);
        let sequencer = Sequencer {
            epoch: hub.epoch(),
            working: hub.clone_store(),
            storage,
            hub,
            sessions: sessions.clone(),
            last_seq,
            max_widgets,
            health: health.clone(),
            dirty: HashSet::new(),
            reordered: false,
            uncheckpointed: 0,
            last_checkpoint: Instant::now(),
            keys,
        };
        let thread = std::thread::Builder::new()
            .name("pulseboard-log".into())
            .spawn(move || sequencer.run(receiver))?;
        Ok(LocalLog {
            requests: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            health,
            sessions,
        })
    }
}

impl LocalLog {
    /// Queues a request for the thread and waits for its answer.
    fn request<T: Send + 'static>(
        &self,
        request: Request,
        answer: oneshot::Receiver<Result<T, AppendError>>,
    ) -> BoxFuture<'static, Result<T, AppendError>> {
        let sent = lock(&self.requests)
            .as_ref()
            .map(|requests| requests.send(request).is_ok());
        async move {
            if sent != Some(true) {
                return Err(shutting_down());
            }
            // A dropped reply means the thread is gone: the request may not
            // have been committed, so it is not acknowledged.
            answer.await.unwrap_or_else(|_| Err(shutting_down()))
        }
        .boxed()
    }
}

impl EventLog for LocalLog {
    fn append(
        &self,
        append: Append,
        once: Option<Idempotency>,
    ) -> BoxFuture<'static, Result<Appended, AppendError>> {
        let (reply, answer) = oneshot::channel();
        self.request(
            Request::Append {
                append,
                once,
                reply,
            },
            answer,
        )
    }

    fn revoke(&self, revocation: Revocation) -> BoxFuture<'static, Result<(), AppendError>> {
        let (reply, answer) = oneshot::channel();
        self.request(Request::Revoke { revocation, reply }, answer)
    }

    fn sessions(&self) -> Arc<SessionRecords> {
        self.sessions.clone()
    }

    fn health(&self) -> Health {
        let thread_ended = lock(&self.thread)
            .as_ref()
            .is_some_and(|thread| thread.is_finished());
        if thread_ended {
            // Only a bug ends it before close(); publishes cannot be taken.
            return Health::Unavailable("the log thread stopped; restart the server".into());
        }
        if self.health.available.load(Ordering::Relaxed) {
            Health::Available
        } else {
            Health::Unavailable(lock(&self.health.problem).clone())
        }
    }

    fn close(&self) {
        // Dropping the sender ends the thread once it has drained the channel.
        lock(&self.requests).take();
        if let Some(thread) = lock(&self.thread).take() {
            if thread.join().is_err() {
                tracing::error!("the log thread panicked");
            }
        }
    }
}

/// Should the thread die of a bug, health and metrics say so at once
/// (publishes already get 503: nobody answers their requests any more).
struct PanicGuard {
    health: Arc<SharedHealth>,
    hub: Hub,
}

impl Drop for PanicGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.health.available.store(false, Ordering::Relaxed);
            *lock(&self.health.problem) = "the log thread stopped; restart the server".into();
            self.hub.metrics().storage_available.set(0);
        }
    }
}

fn shutting_down() -> AppendError {
    AppendError::Unavailable("the server is shutting down".into())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Sequencer<S> {
    /// A local log never starts a new epoch while it runs.
    epoch: String,
    storage: S,
    hub: Hub,
    sessions: Arc<SessionRecords>,
    /// The committed state plus the appends of the group being built. Reset
    /// from the hub's (committed) state when a commit fails.
    working: Store,
    /// The last event committed.
    last_seq: u64,
    max_widgets: usize,
    health: Arc<SharedHealth>,
    /// Widgets changed or removed since the last checkpoint.
    dirty: HashSet<WidgetId>,
    /// Whether widgets were added or removed since the last checkpoint.
    reordered: bool,
    uncheckpointed: u64,
    last_checkpoint: Instant,
    /// The `Idempotency-Key`s answered within the history window.
    keys: IdempotencyKeys,
}

impl<S: Storage> Sequencer<S> {
    fn run(mut self, requests: mpsc::Receiver<Request>) {
        let _panic_guard = PanicGuard {
            health: self.health.clone(),
            hub: self.hub.clone(),
        };
        loop {
            let first = match requests.recv_timeout(TICK) {
                Ok(request) => request,
                Err(RecvTimeoutError::Timeout) => {
                    self.idle();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match requests.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            self.commit_group(group);
        }
        self.idle();
        match self.storage.close() {
            Ok(()) => tracing::info!("log closed"),
            Err(error) => tracing::error!(%error, "could not close the log cleanly"),
        }
    }

    /// With nothing to do: probe a failing storage, or checkpoint what is due.
    fn idle(&mut self) {
        if !self.health.available.load(Ordering::Relaxed) {
            match self.storage.probe() {
                Ok(()) => self.set_available(),
                Err(error) => tracing::debug!(%error, "storage still failing"),
            }
        }
        if !self.dirty.is_empty() && self.health.available.load(Ordering::Relaxed) {
            // A failure is logged and counted inside; the next tick tries again.
            self.commit_events(Vec::new(), true, Answers::default());
        }
    }

    fn commit_group(&mut self, group: Vec<Request>) {
        // Keys past the age bound go even if nothing was committed since.
        self.keys.prune(self.last_seq, Instant::now());
        let mut events = Vec::new();
        let mut answers = Answers::default();
        for request in group {
            match request {
                Request::Append {
                    append,
                    once,
                    reply,
                } => {
                    // A retry is answered after the commit, like the append
                    // it repeats, which may be in this same group.
                    match once.as_ref().and_then(|once| self.keys.earlier(once)) {
                        Some(Ok(earlier)) => answers.appends.push((reply, earlier)),
                        Some(Err(refused)) => {
                            let _ = reply.send(Err(refused));
                        }
                        None => match self.prepare(append, &mut events) {
                            Ok(ids) => {
                                if let Some(once) = once {
                                    self.keys
                                        .remember(once.clone(), ids.clone(), Instant::now());
                                    answers.keys.push(AnsweredKey {
                                        once,
                                        epoch: self.epoch.clone(),
                                        first_seq: ids.first().map_or(0, |id| id.seq),
                                        count: ids.len() as u64,
                                        at: unix_ms(),
                                    });
                                }
                                let appended = Appended {
                                    ids,
                                    replayed: false,
                                };
                                answers.appends.push((reply, appended));
                            }
                            Err(refused) => {
                                let _ = reply.send(Err(refused));
                            }
                        },
                    }
                }
                Request::Revoke { revocation, reply } => {
                    answers.revocations.push((revocation, reply));
                }
            }
        }
        if events.is_empty() && answers.revocations.is_empty() {
            // Only retries of appends already committed (or nothing).
            for (reply, appended) in answers.appends {
                let _ = reply.send(Ok(appended));
            }
            return;
        }
        let checkpoint_due = self.last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL
            || self.uncheckpointed + events.len() as u64 >= CHECKPOINT_EVENTS;
        self.commit_events(events, checkpoint_due, answers);
    }

    /// Commits `events` with the keys and revocations of `answers` (and a
    /// checkpoint if asked), then hands the events to the hub, which answers
    /// the appends once its state holds them and before it broadcasts them;
    /// or, if the storage fails, undoes them in the working state and answers
    /// everything with the failure.
    fn commit_events(&mut self, events: Vec<Committed>, checkpoint: bool, answers: Answers) {
        let revocations: Vec<Revocation> = answers
            .revocations
            .iter()
            .map(|(revocation, _)| revocation.clone())
            .collect();
        let started = Instant::now();
        let last_seq = events.last().map_or(self.last_seq, |event| event.seq);
        let result = {
            let checkpoint = checkpoint
                .then(|| checkpoint_of(&self.working, &self.dirty, self.reordered, last_seq));
            let batch = Batch {
                epoch: &self.epoch,
                events: &events,
                keys: &answers.keys,
                revocations: &revocations,
                checkpoint,
            };
            self.storage.commit(&batch)
        };
        let metrics = self.hub.metrics();
        match result {
            Ok(()) => {
                metrics
                    .storage_commit_seconds
                    .observe(started.elapsed().as_secs_f64());
                if checkpoint {
                    self.dirty.clear();
                    self.reordered = false;
                    self.uncheckpointed = 0;
                    self.last_checkpoint = Instant::now();
                } else {
                    self.uncheckpointed += events.len() as u64;
                }
                self.last_seq = last_seq;
                self.keys.prune(last_seq, Instant::now());
                if !self.health.available.load(Ordering::Relaxed) {
                    self.set_available();
                }
                if !answers.revocations.is_empty() {
                    let now = unix_ms().max(0) as u64 / 1000;
                    for (revocation, reply) in answers.revocations {
                        self.sessions.revoke(revocation, now);
                        let _ = reply.send(Ok(()));
                    }
                    // Wakes every open stream, so those of the revoked
                    // sessions end now rather than at the next heartbeat.
                    self.hub.heartbeat();
                }
                if !events.is_empty() {
                    let appends = answers.appends;
                    self.hub.apply(events, || {
                        for (reply, appended) in appends {
                            // The publisher may have gone; the change stands anyway.
                            let _ = reply.send(Ok(appended));
                        }
                    });
                }
            }
            Err(error) => {
                metrics.storage_errors.inc();
                let problem = format!("storage unavailable: {error}");
                if self.health.available.swap(false, Ordering::Relaxed) {
                    // Logged when it starts failing, not for every refused publish.
                    tracing::error!(%error, "storage failed; refusing publishes until it works again");
                }
                metrics.storage_available.set(0);
                *lock(&self.health.problem) = problem.clone();
                if !events.is_empty() {
                    self.working = self.hub.clone_store();
                }
                for key in &answers.keys {
                    self.keys.forget(&key.once.key);
                }
                for (reply, _) in answers.appends {
                    let _ = reply.send(Err(AppendError::Unavailable(problem.clone())));
                }
                for (_, reply) in answers.revocations {
                    let _ = reply.send(Err(AppendError::Unavailable(problem.clone())));
                }
            }
        }
    }

    fn set_available(&mut self) {
        self.health.available.store(true, Ordering::Relaxed);
        self.hub.metrics().storage_available.set(1);
        tracing::info!("storage works again; publishes are accepted");
    }

    /// Checks and completes one append against the working state, gives its
    /// events the next ids and applies them to the working state; all or
    /// nothing. Returns the ids.
    fn prepare(
        &mut self,
        append: Append,
        events: &mut Vec<Committed>,
    ) -> Result<Vec<EventId>, AppendError> {
        let next_seq = events.last().map_or(self.last_seq, |e| e.seq) + 1;
        let prepared = match append {
            Append::Set(changes) => self.prepare_set(changes, next_seq)?,
            Append::Remove(id) => self.prepare_remove(id, next_seq)?,
        };
        let mut ids = Vec::with_capacity(prepared.len());
        for event in prepared {
            match &event.change {
                Applied::Set(update) => {
                    if !self.working.contains(&update.id) {
                        self.reordered = true;
                    }
                    self.dirty.insert(update.id.clone());
                    self.working.commit(update.clone());
                }
                Applied::Remove(id) => {
                    self.reordered = true;
                    self.dirty.insert(id.clone());
                    self.working.remove(id);
                }
            }
            ids.push(self.event_id(event.seq));
            events.push(event);
        }
        Ok(ids)
    }

    fn prepare_set(
        &self,
        mut changes: Vec<Change>,
        first_seq: u64,
    ) -> Result<Vec<Committed>, AppendError> {
        super::complete_set(&self.working, &mut changes, self.max_widgets)?;
        // Encoded before anything is applied, so a failure changes nothing.
        changes
            .into_iter()
            .zip(first_seq..)
            .map(|(change, seq)| {
                let update = change.update;
                let frame = Frame::encode(
                    &ServerEvent::Update(update.clone()),
                    Some(&self.event_id(seq)),
                    Some(update.id.clone()),
                )?;
                Ok(Committed {
                    seq,
                    at: update.at,
                    change: Applied::Set(update),
                    frame,
                })
            })
            .collect()
    }

    fn prepare_remove(&self, id: WidgetId, seq: u64) -> Result<Vec<Committed>, AppendError> {
        if !self.working.contains(&id) {
            return Err(AppendError::NotFound(id));
        }
        let frame = Frame::encode(
            &ServerEvent::Remove(Remove { id: id.clone() }),
            Some(&self.event_id(seq)),
            Some(id.clone()),
        )?;
        Ok(vec![Committed {
            seq,
            at: unix_ms(),
            change: Applied::Remove(id),
            frame,
        }])
    }

    fn event_id(&self, seq: u64) -> EventId {
        EventId {
            epoch: self.epoch.clone(),
            seq,
        }
    }
}

/// The widgets changed since the last checkpoint (`dirty`), as `working`
/// holds them after event `seq`.
fn checkpoint_of<'a>(
    working: &'a Store,
    dirty: &'a HashSet<WidgetId>,
    reordered: bool,
    seq: u64,
) -> Checkpoint<'a> {
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    for id in dirty {
        match working.get(id) {
            Some(widget) => changed.push(widget),
            None => removed.push(id),
        }
    }
    Checkpoint {
        seq,
        changed,
        removed,
        order: reordered.then(|| working.widgets().map(|w| &w.id).collect()),
    }
}
