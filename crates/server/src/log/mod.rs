//! The log: the one order of state changes, the history of recent ones, and
//! the state they fold into. It is the seam between publishing and viewing:
//! routes and built-in sources hand it changes ([`Log::append`]); it decides
//! their order and ids, makes them durable, and only then feeds them to the
//! [`Hub`](crate::hub::Hub), which frames and broadcasts them. Neither the
//! routes, the protocol nor the SPA know which implementation runs.
//!
//! The first implementation is local: one sequencer thread
//! ([`sequencer`]) that orders changes and writes them in groups to a
//! [`Storage`]: an SQLite database in the data directory ([`sqlite`]), or
//! nothing at all ([`memory`], for tests and benchmarks).

pub mod idempotency;
pub mod import;
pub mod memory;
pub mod redis;
pub mod sequencer;
pub mod sessions;
pub mod sqlite;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use protocol::{EventId, Widget, WidgetId};

use crate::config::{Config, StorageKind};
use crate::dashboards::Dashboards;
use crate::frame::{EventName, Frame};
pub use crate::hub::{Applied, Committed};
use crate::hub::{Hub, Start};
use crate::metrics::Metrics;
use crate::publish::{Change, Conflict};
use crate::store::Store;
use protocol::ServerEvent;
pub use sessions::{Revocation, SessionRecords};

/// What one publish asks for, applied all or nothing.
#[derive(Debug)]
pub enum Append {
    /// Set widgets, in order (one for a single publish, many for a batch).
    Set(Vec<Change>),
    /// Delete a widget.
    Remove(WidgetId),
}

/// A publisher's `Idempotency-Key`, with a digest of the request it came
/// with: a retry of the same request under the same key, within the history
/// window, is answered with the first one's ids and applied only once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    /// The SHA-256 of the request (method, path, body), in hex.
    pub request: String,
}

/// An `Idempotency-Key` an append was answered under, as committed with the
/// events it produced: a retry after a restart gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnsweredKey {
    pub once: Idempotency,
    /// The append's ids: `count` consecutive sequence numbers of `epoch`
    /// from `first_seq` (an append's events are numbered together).
    pub epoch: String,
    pub first_seq: u64,
    pub count: u64,
    /// When it was accepted, in milliseconds since the Unix epoch: the key
    /// ages across restarts like the events do.
    pub at: i64,
}

impl AnsweredKey {
    pub fn ids(&self) -> Vec<EventId> {
        consecutive_ids(&self.epoch, self.first_seq, self.count)
    }
}

/// The ids of `count` events of `epoch` numbered together from `first`, as
/// one append's are.
fn consecutive_ids(epoch: &str, first: u64, count: u64) -> Vec<EventId> {
    (first..first + count)
        .map(|seq| EventId {
            epoch: epoch.to_owned(),
            seq,
        })
        .collect()
}

/// What an append was answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// One id per event, in order.
    pub ids: Vec<EventId>,
    /// True if these are the ids of an earlier append with the same
    /// [`Idempotency`] key, and nothing was applied this time.
    pub replayed: bool,
}

/// Why an append changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("{0} must be a finite number")]
    NonFinite(&'static str),
    #[error("there are already {0} widgets, the most this server keeps")]
    TooManyWidgets(usize),
    #[error("`{}`: {}", .0.field, .0.problem)]
    Conflict(Conflict),
    #[error("there is no widget `{0}`")]
    NotFound(WidgetId),
    #[error("could not encode event: {0}")]
    Encode(#[from] serde_json::Error),
    /// The `Idempotency-Key` came earlier with another request.
    #[error("this Idempotency-Key was used with a different request")]
    KeyReused,
    /// The storage could not commit it (disk full, read-only, I/O error), or
    /// the log is shutting down. Retrying later may work.
    #[error("{0}")]
    Unavailable(String),
}

/// Whether the log can take appends right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Available,
    /// Why not, for `/readyz` and the log.
    Unavailable(String),
}

/// One implementation of the log. Object-safe, so the application holds
/// whichever one its configuration chose behind [`Log`].
pub trait EventLog: Send + Sync + 'static {
    /// Orders, commits and publishes `append`; resolves once it is durable and
    /// in the hub's state, with one id per event, in order. With `once`, an
    /// append already taken under the same key is not applied again: its ids
    /// are the answer.
    fn append(
        &self,
        append: Append,
        once: Option<Idempotency>,
    ) -> BoxFuture<'static, Result<Appended, AppendError>>;

    /// Ends a viewer session before its expiry, on every instance that
    /// shares this log; resolves once the revocation is durable and in
    /// [`EventLog::sessions`].
    fn revoke(&self, revocation: Revocation) -> BoxFuture<'static, Result<(), AppendError>>;

    /// The session key and the revoked sessions, kept current.
    fn sessions(&self) -> Arc<SessionRecords>;

    fn health(&self) -> Health;

    /// Stops taking appends and waits until everything already taken is
    /// committed and the storage is closed cleanly.
    fn close(&self);
}

/// A cheap-to-clone handle to the running log.
#[derive(Clone)]
pub struct Log(Arc<dyn EventLog>);

impl Log {
    pub fn new(log: impl EventLog) -> Log {
        Log(Arc::new(log))
    }

    pub async fn append(&self, append: Append) -> Result<Vec<EventId>, AppendError> {
        Ok(self.0.append(append, None).await?.ids)
    }

    /// [`Log::append`], applied at most once per [`Idempotency`] key.
    pub async fn append_once(
        &self,
        append: Append,
        once: Option<Idempotency>,
    ) -> Result<Appended, AppendError> {
        self.0.append(append, once).await
    }

    /// Sets one widget.
    pub async fn publish(&self, change: impl Into<Change>) -> Result<EventId, AppendError> {
        only_id(self.append(Append::Set(vec![change.into()])).await?)
    }

    /// Sets several widgets, all or none.
    pub async fn publish_all(&self, changes: Vec<Change>) -> Result<Vec<EventId>, AppendError> {
        self.append(Append::Set(changes)).await
    }

    /// Deletes a widget.
    pub async fn remove(&self, id: WidgetId) -> Result<EventId, AppendError> {
        only_id(self.append(Append::Remove(id)).await?)
    }

    /// Ends a viewer session (logout).
    pub async fn revoke(&self, revocation: Revocation) -> Result<(), AppendError> {
        self.0.revoke(revocation).await
    }

    pub fn sessions(&self) -> Arc<SessionRecords> {
        self.0.sessions()
    }

    pub fn health(&self) -> Health {
        self.0.health()
    }

    pub fn close(&self) {
        self.0.close()
    }
}

/// The id of an append of one change.
fn only_id(ids: Vec<EventId>) -> Result<EventId, AppendError> {
    ids.into_iter()
        .next()
        .ok_or_else(|| AppendError::Unavailable("the log returned no id".into()))
}

/// A durable home for the log's events and state, written by one thread.
pub trait Storage: Send + 'static {
    /// What earlier runs committed (an empty, new epoch the first time).
    fn recover(&mut self) -> Result<Recovered, StorageError>;

    /// The `Idempotency-Key`s earlier runs committed, oldest first; some may
    /// be beyond the history bounds already (the log forgets those at start).
    fn recover_keys(&mut self) -> Result<Vec<AnsweredKey>, StorageError>;

    /// Makes `batch` durable, all or nothing, before returning.
    fn commit(&mut self, batch: &Batch<'_>) -> Result<(), StorageError>;

    /// A small write, to find out whether a failing medium works again.
    fn probe(&mut self) -> Result<(), StorageError>;

    /// Marks a clean shutdown; called last.
    fn close(&mut self) -> Result<(), StorageError>;
}

/// What a storage holds at start.
pub struct Recovered {
    pub epoch: String,
    /// The widgets as of `checkpoint_seq`, in display order.
    pub widgets: Vec<Widget>,
    pub checkpoint_seq: u64,
    /// Every stored event, oldest first: those after `checkpoint_seq` are
    /// folded into the widgets; those within the history bounds are replayable.
    pub events: Vec<StoredEvent>,
    /// Sessions revoked before their expiry (those since expired may be left out).
    pub revoked: Vec<Revocation>,
}

/// An event as it was committed.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: u64,
    pub at: i64,
    pub name: EventName,
    pub widget: Option<WidgetId>,
    pub data: String,
}

/// One group commit: the events of every append it holds (with the
/// `Idempotency-Key`s first answered by them), the sessions revoked
/// meanwhile, and from time to time the state they fold into (a checkpoint),
/// after which older events and keys beyond the history bounds, and
/// revocations of sessions that have expired, may go.
pub struct Batch<'a> {
    pub epoch: &'a str,
    pub events: &'a [Committed],
    /// In the same transaction as `events`: a key is durable exactly when
    /// the append it answered is.
    pub keys: &'a [AnsweredKey],
    pub revocations: &'a [Revocation],
    pub checkpoint: Option<Checkpoint<'a>>,
}

/// The widgets that changed since the last checkpoint, as they are after
/// event `seq`.
pub struct Checkpoint<'a> {
    pub seq: u64,
    /// Widgets to store (new or changed).
    pub changed: Vec<&'a Widget>,
    /// Widgets that no longer exist.
    pub removed: Vec<&'a WidgetId>,
    /// Every widget id in display order, when widgets were added or removed.
    pub order: Option<Vec<&'a WidgetId>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> StorageError {
        StorageError(error.to_string())
    }
}

/// Why the server cannot start with its storage.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(#[from] sqlite::OpenError),
    #[error("{0}")]
    Recover(#[from] StorageError),
    #[error("cannot start the log thread: {0}")]
    Thread(#[from] std::io::Error),
    #[error(transparent)]
    SessionKey(#[from] crate::secret_file::SecretError),
    /// Redis (`--redis-url`) cannot be reached or holds something unreadable.
    #[error("{0}")]
    Redis(String),
}

/// Checks a set of changes against the state they apply to and completes
/// each (the settings it left out, a number's previous value); changes
/// nothing if any is refused.
fn complete_set(
    store: &Store,
    changes: &mut [Change],
    max_widgets: usize,
) -> Result<(), AppendError> {
    for change in changes.iter() {
        if let Some(field) = change.update.value.non_finite_field() {
            return Err(AppendError::NonFinite(field));
        }
    }
    if store.len() + store.count_new(changes) > max_widgets {
        return Err(AppendError::TooManyWidgets(max_widgets));
    }
    store.complete_all(changes).map_err(AppendError::Conflict)
}

/// The file in the data directory that holds the session key.
pub const SESSION_KEY_FILE: &str = "session-key";

/// Opens the configured storage, recovers what it holds, and starts the log
/// and the hub from it.
pub fn start(
    config: &Config,
    dashboards: Dashboards,
    metrics: Metrics,
) -> Result<(Hub, Log), StartError> {
    if let Some(url) = &config.redis_url {
        return redis::start(config, url, dashboards, metrics);
    }
    match config.storage {
        // Nothing is kept: sessions last as long as this process.
        StorageKind::Memory => {
            let key = rand::random();
            start_with(memory::MemoryStorage, key, config, dashboards, metrics)
        }
        StorageKind::Sqlite => {
            let dir = config.data_dir();
            let bounds = sqlite::HistoryBounds {
                size: config.history_size,
                age: config.history_age,
            };
            let mut storage = sqlite::SqliteStorage::open(&dir, config.sync, bounds)?;
            import::import_state_file(&mut storage, &config.state_file())?;
            tracing::info!(path = %storage.path().display(), sync = ?config.sync, "database opened");
            let key = session_key(&dir)?;
            start_with(storage, key, config, dashboards, metrics)
        }
    }
}

/// The key that signs session cookies, made at the first start. Deleting the
/// file (with the server stopped) makes a new one: every session ends.
fn session_key(dir: &std::path::Path) -> Result<[u8; 32], StartError> {
    let path = dir.join(SESSION_KEY_FILE);
    let secret =
        crate::secret_file::load_or_create(&path, "every viewer will have to log in again")?;
    if secret.created {
        tracing::info!(file = %path.display(), "made a new session key");
    }
    SessionRecords::key_from_hex(&secret.value)
        .ok_or_else(|| StorageError(format!("{} is not a key", path.display())).into())
}

fn start_with(
    mut storage: impl Storage,
    session_key: [u8; 32],
    config: &Config,
    dashboards: Dashboards,
    metrics: Metrics,
) -> Result<(Hub, Log), StartError> {
    let mut recovered = storage.recover()?;
    let sessions = SessionRecords::new(session_key, std::mem::take(&mut recovered.revoked));
    let mut keys = idempotency::IdempotencyKeys::new(config.history_size, config.history_age);
    let start = fold(recovered)?;
    let last_seq = start.last_seq;
    keys.restore(storage.recover_keys()?, last_seq);
    let hub = Hub::new(config, dashboards, metrics, start);
    let log = sequencer::LocalLog::start(
        storage,
        hub.clone(),
        Arc::new(sessions),
        last_seq,
        config.max_widgets,
        keys,
    )?;
    Ok((hub, Log::new(log)))
}

/// The state `recovered` describes: the checkpoint with the events after it
/// folded in, in order, and every stored event as replayable history.
fn fold(recovered: Recovered) -> Result<Start, StorageError> {
    let Recovered {
        epoch,
        widgets,
        checkpoint_seq,
        events,
        revoked: _,
    } = recovered;
    let mut store = Store::default();
    for widget in widgets {
        store.insert(widget);
    }
    let mut last_seq = checkpoint_seq;
    let mut history = Vec::with_capacity(events.len());
    for event in events {
        if event.seq > checkpoint_seq {
            match ServerEvent::decode(event.name.as_str(), &event.data) {
                Ok(ServerEvent::Update(update)) => store.commit(update),
                Ok(ServerEvent::Remove(remove)) => {
                    store.remove(&remove.id);
                }
                Ok(_) => {}
                Err(error) => {
                    return Err(StorageError(format!(
                        "stored event {} cannot be read: {error}",
                        event.seq
                    )))
                }
            }
        }
        last_seq = last_seq.max(event.seq);
        let id = EventId {
            epoch: epoch.clone(),
            seq: event.seq,
        };
        let frame = Frame::stored(&id, event.name, event.widget, event.data);
        history.push((event.seq, event.at, Arc::new(frame)));
    }
    Ok(Start {
        epoch,
        last_seq,
        store,
        history,
    })
}
