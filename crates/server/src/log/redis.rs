//! The shared log: several instances, one order, on Redis (`--redis-url`).
//!
//! Every instance appends through one Lua script that gives the events their
//! sequence numbers and appends them to one Redis stream, atomically
//! (`<seq>-0` is the stream id, so the order is the stream's): no instance
//! assigns ids. Every instance then *tails* the stream (`XREAD BLOCK` on a
//! connection of its own) and folds what it reads into its hub, in stream
//! order, whoever published it. Events carry what changed (a series' new
//! points, a log's new lines), so concurrent appends to one widget through
//! different instances all land; the settings a publish leaves out are
//! filled from the publishing instance's view, which trails the stream by
//! the tail's latency.
//!
//! Keys (under `--redis-prefix`):
//! - `meta`: hash of `epoch` (random, made by whoever finds it missing) and
//!   `seq` (the last event's number);
//! - `events`: the stream. `<seq>-0` entries are events (`n` name, `w`
//!   widget, `d` JSON, `t` when accepted); `<seq>-<k>` entries (k > 0) are
//!   logouts (`r`), which every instance applies as it reads them;
//! - `checkpoint`: the widgets as of some `seq`, written by the instances
//!   every second; the stream is trimmed to the history bound, never past
//!   the checkpoint, so checkpoint + stream is always the whole state;
//! - `session-key`, `revoked` (a sorted set by expiry): viewer sessions;
//! - `idem:<key>`: the answer to an `Idempotency-Key`, for `--history-age`.
//!
//! If Redis loses its data (restarted without persistence), the next script
//! finds `meta` missing and starts a new epoch; each instance notices within
//! a check interval, reloads, and sends its viewers a `reset`. An instance
//! counts as unavailable (`/readyz`, `storage_available`) while it cannot
//! reach Redis, while its tail has not completed a read for a while, or
//! while it stays behind the stream's last event.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use protocol::{EventId, Remove, ServerEvent, Widget, WidgetId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Client, Script};
use tokio::sync::{watch, OnceCell};
use tokio::task::JoinHandle;

use super::idempotency::replay;
use super::{
    consecutive_ids, fold, Append, AppendError, Appended, Applied, Committed, EventLog, Health,
    Idempotency, Recovered, Revocation, SessionRecords, StartError, StoredEvent,
};
use crate::config::Config;
use crate::dashboards::Dashboards;
use crate::frame::{EventName, Frame};
use crate::hub::{new_epoch, unix_ms, Hub};
use crate::metrics::Metrics;
use crate::publish::Change;
use crate::store::Store;

/// Longest a tail read blocks: also how often the tail checks the epoch and
/// proves it is alive.
const BLOCK: Duration = Duration::from_millis(500);
/// Events a tail read takes at most.
const READ_COUNT: usize = 1000;
/// A command slower than this fails (and the publish gets a 503).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// An append Redis runs later than this after it was sent changes nothing:
/// well before the publisher's command times out.
const APPEND_DEADLINE: Duration = Duration::from_secs(2);
/// A tail that has not completed a read for this long, or that stays
/// behind the stream this long, makes the instance unavailable.
const STALE_AFTER: Duration = Duration::from_secs(3);
/// How long a publish waits for its own events to come back through the
/// tail before it is answered anyway (they are stored either way).
const ECHO_WAIT: Duration = Duration::from_secs(2);
/// How long a viewer resuming from an event this instance has not read yet
/// waits for it before it gets a `reset` (see `routes::events`).
pub const CATCH_UP: Duration = Duration::from_secs(2);
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
const RECONNECT_DELAY: Duration = Duration::from_millis(200);
/// Reads of checkpoint and stream before a load gives up (see [`load`]).
const LOAD_ATTEMPTS: usize = 10;

/// Creates the epoch if it is missing (dropping what an old epoch left);
/// returns the epoch.
const ENSURE_EPOCH: &str = r"#!lua
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
return epoch
";

/// KEYS: meta, events, checkpoint, idempotency key. ARGV: a new epoch in
/// case there is none, the epoch the events were completed in, the request
/// digest ('' without a key), the key's lifetime in ms, the deadline (ms on
/// Redis's clock), then four per event: name, widget, data, accepted at.
///
/// Past the deadline the publisher has been told the append failed (its
/// command timed out): a command that reaches a Redis that hung, or sat in
/// a queue, must then change nothing.
const APPEND: &str = r"#!lua
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[5]) then
  return {'late', ''}
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
if epoch ~= ARGV[2] then return {'epoch', epoch} end
if ARGV[3] ~= '' then
  local earlier = redis.call('GET', KEYS[4])
  if earlier then return {'replay', earlier} end
end
local n = (#ARGV - 5) / 4
local first = redis.call('HINCRBY', KEYS[1], 'seq', n) - n + 1
for i = 0, n - 1 do
  local a = 6 + i * 4
  redis.call('XADD', KEYS[2], (first + i) .. '-0',
    'n', ARGV[a], 'w', ARGV[a + 1], 'd', ARGV[a + 2], 't', ARGV[a + 3])
end
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[4], ARGV[3] .. ' ' .. epoch .. ' ' .. first .. ' ' .. n, 'PX', ARGV[4])
end
return {'ok', tostring(first)}
";

/// KEYS: meta, events, revoked. ARGV: the revocation, its expiry, now (unix
/// seconds). Kept in the set for instances that start later, and put in the
/// stream after the last event so that every running instance applies it.
const REVOKE: &str = r"#!lua
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[3])
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
redis.call('XADD', KEYS[2], seq .. '-*', 'r', ARGV[1])
return 1
";

/// KEYS: meta, events, checkpoint. ARGV: epoch, seq, widgets (JSON), history
/// size. Keeps the newest checkpoint, then trims the stream to the history,
/// never past the checkpoint.
const CHECKPOINT: &str = r"#!lua
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
local seq = tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[3], 'epoch', 'seq')
if held[1] == ARGV[1] and tonumber(held[2]) >= seq then return 0 end
redis.call('HSET', KEYS[3], 'epoch', ARGV[1], 'seq', ARGV[2], 'widgets', ARGV[3])
local last = tonumber(redis.call('HGET', KEYS[1], 'seq'))
local keep_from = math.min(seq + 1, last - tonumber(ARGV[4]) + 1)
if keep_from > 1 then redis.call('XTRIM', KEYS[2], 'MINID', '~', keep_from) end
return 1
";

/// The names of the keys, under the prefix.
struct Keys {
    meta: String,
    events: String,
    checkpoint: String,
    session_key: String,
    revoked: String,
    idempotency: String,
}

impl Keys {
    fn new(prefix: &str) -> Keys {
        let key = |name: &str| format!("{prefix}:{name}");
        Keys {
            meta: key("meta"),
            events: key("events"),
            checkpoint: key("checkpoint"),
            session_key: key("session-key"),
            revoked: key("revoked"),
            idempotency: key("idem:"),
        }
    }
}

struct Scripts {
    ensure_epoch: Script,
    append: Script,
    revoke: Script,
    checkpoint: Script,
}

/// The handle the application holds; see the module comment.
pub struct RedisLog {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

struct Shared {
    client: Client,
    keys: Keys,
    scripts: Scripts,
    /// For appends and checks; made at first use (building the application
    /// is not async), reconnects by itself.
    commands: OnceCell<ConnectionManager>,
    hub: Hub,
    sessions: Arc<SessionRecords>,
    /// The last event the tail folded into the hub.
    applied: watch::Sender<u64>,
    max_widgets: usize,
    history_size: usize,
    idempotency_ttl: Duration,
    /// Redis's clock minus ours, in ms: append deadlines are on Redis's clock.
    clock_offset_ms: AtomicI64,
    tail: Mutex<TailState>,
    closed: AtomicBool,
}

/// What health is judged from.
struct TailState {
    /// Why Redis cannot be used right now, if it cannot.
    problem: Option<String>,
    /// When the tail last completed a read.
    last_read: Instant,
    /// Since when the tail has not reached the stream's last event as it was
    /// then (the event's seq). Under a steady load the stream is always a
    /// little ahead; only a tail that stops gaining is behind.
    behind: Option<(Instant, u64)>,
}

/// Connects, loads the shared state and starts the tail.
pub fn start(
    config: &Config,
    url: &str,
    dashboards: Dashboards,
    metrics: Metrics,
) -> Result<(Hub, super::Log), StartError> {
    let client = Client::open(url).map_err(|e| redis_error("the Redis URL is not valid", e))?;
    let keys = Keys::new(&config.redis_prefix);
    let scripts = Scripts {
        ensure_epoch: Script::new(ENSURE_EPOCH),
        append: Script::new(APPEND),
        revoke: Script::new(REVOKE),
        checkpoint: Script::new(CHECKPOINT),
    };
    // Building the application is not async: the first load runs on a
    // runtime of its own, on a thread of its own.
    let (session_key, clock_offset_ms, loaded) = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    let mut connection = connect(&client)
                        .await
                        .map_err(|e| redis_error("cannot reach Redis", e))?;
                    let key = session_key(&mut connection, &keys, None).await?;
                    let offset = clock_offset(&mut connection)
                        .await
                        .map_err(|e| redis_error("cannot read Redis's clock", e))?;
                    let loaded =
                        load(&mut connection, &keys, &scripts, config.history_size).await?;
                    Ok::<_, StartError>((key, offset, loaded))
                })
            })
            .join()
            .unwrap_or_else(|_| Err(StartError::Redis("loading from Redis panicked".into())))
    })?;
    let Loaded {
        mut recovered,
        position,
    } = loaded;
    let sessions = Arc::new(SessionRecords::new(
        session_key,
        std::mem::take(&mut recovered.revoked),
    ));
    let start = fold(recovered)?;
    let last_seq = start.last_seq;
    tracing::info!(epoch = %start.epoch, last_seq, widgets = start.store.len(), "loaded the shared log from Redis");
    let hub = Hub::new(config, dashboards, metrics, start);
    hub.metrics().storage_available.set(1);
    let (applied, _) = watch::channel(last_seq);
    let shared = Arc::new(Shared {
        client,
        keys,
        scripts,
        commands: OnceCell::new(),
        hub: hub.clone(),
        sessions,
        applied,
        max_widgets: config.max_widgets,
        history_size: config.history_size,
        idempotency_ttl: config.history_age,
        clock_offset_ms: AtomicI64::new(clock_offset_ms),
        tail: Mutex::new(TailState {
            problem: None,
            last_read: Instant::now(),
            behind: None,
        }),
        closed: AtomicBool::new(false),
    });
    let tasks = vec![
        tokio::spawn(shared.clone().tail(position)),
        tokio::spawn(shared.clone().checkpoints()),
    ];
    let log = RedisLog {
        shared,
        tasks: Mutex::new(tasks),
    };
    Ok((hub, super::Log::new(log)))
}

impl EventLog for RedisLog {
    fn append(
        &self,
        append: Append,
        once: Option<Idempotency>,
    ) -> BoxFuture<'static, Result<Appended, AppendError>> {
        let shared = self.shared.clone();
        async move { shared.append(append, once).await }.boxed()
    }

    fn revoke(&self, revocation: Revocation) -> BoxFuture<'static, Result<(), AppendError>> {
        let shared = self.shared.clone();
        async move { shared.revoke(revocation).await }.boxed()
    }

    fn sessions(&self) -> Arc<SessionRecords> {
        self.shared.sessions.clone()
    }

    fn health(&self) -> Health {
        let tail_ended = lock(&self.tasks).iter().any(JoinHandle::is_finished);
        if tail_ended && !self.shared.closed.load(Ordering::Relaxed) {
            return Health::Unavailable("the shared log's tail stopped; restart the server".into());
        }
        match self.shared.problem() {
            None => Health::Available,
            Some(problem) => Health::Unavailable(problem),
        }
    }

    fn close(&self) {
        // Appends are answered only once Redis has them: nothing to flush.
        self.shared.closed.store(true, Ordering::Relaxed);
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// One event as the append script takes it.
struct Entry {
    name: &'static str,
    widget: String,
    data: String,
    at: i64,
}

impl Shared {
    async fn append(
        &self,
        append: Append,
        once: Option<Idempotency>,
    ) -> Result<Appended, AppendError> {
        let epoch = self.hub.epoch();
        let entries = match self
            .hub
            .read_store(|store| entries_of(store, append, self.max_widgets))
        {
            Ok(entries) => entries,
            // A retry the state now refuses (a delete of the widget it
            // deleted) still gets the first answer.
            Err(refused) => return self.earlier_or(refused, once.as_ref()).await,
        };
        let mut commands = self.commands().await?;
        let idempotency_key = once
            .as_ref()
            .map(|once| format!("{}{}", self.keys.idempotency, once.key));
        let mut invocation = self.scripts.append.prepare_invoke();
        invocation
            .key(&self.keys.meta)
            .key(&self.keys.events)
            .key(&self.keys.checkpoint)
            .key(idempotency_key.as_deref().unwrap_or(&self.keys.idempotency))
            .arg(new_epoch())
            .arg(&epoch)
            .arg(once.as_ref().map_or("", |once| once.request.as_str()))
            .arg(self.idempotency_ttl.as_millis() as u64)
            .arg(self.deadline());
        for entry in &entries {
            invocation
                .arg(entry.name)
                .arg(&entry.widget)
                .arg(&entry.data)
                .arg(entry.at);
        }
        let reply: Vec<String> = invocation
            .invoke_async(&mut commands)
            .await
            .map_err(|e| self.unreachable(e))?;
        match reply.as_slice() {
            [status, first] if status == "ok" => {
                let first: u64 = first.parse().map_err(|_| bad_reply(&reply))?;
                let last = first + entries.len() as u64 - 1;
                self.wait_until_applied(last).await;
                let ids = consecutive_ids(&epoch, first, entries.len() as u64);
                Ok(Appended {
                    ids,
                    replayed: false,
                })
            }
            [status, earlier] if status == "replay" => {
                let once = once.ok_or_else(|| bad_reply(&reply))?;
                earlier_answer(earlier, &once).ok_or_else(|| bad_reply(&reply))?
            }
            [status, _] if status == "late" => Err(AppendError::Unavailable(
                "Redis took too long to run the append, which was not applied".into(),
            )),
            [status, _] if status == "epoch" => Err(AppendError::Unavailable(
                "the shared log in Redis started over (it lost its data); try again".into(),
            )),
            _ => Err(bad_reply(&reply)),
        }
    }

    /// The first answer to `once`'s key if it was answered before, else
    /// `refused`.
    async fn earlier_or(
        &self,
        refused: AppendError,
        once: Option<&Idempotency>,
    ) -> Result<Appended, AppendError> {
        let Some(once) = once else {
            return Err(refused);
        };
        let Ok(mut commands) = self.commands().await else {
            return Err(refused);
        };
        let stored: redis::RedisResult<Option<String>> = redis::cmd("GET")
            .arg(format!("{}{}", self.keys.idempotency, once.key))
            .query_async(&mut commands)
            .await;
        stored
            .ok()
            .flatten()
            .and_then(|stored| earlier_answer(&stored, once))
            .unwrap_or(Err(refused))
    }

    /// The latest time, on Redis's clock, an append sent now may run.
    fn deadline(&self) -> i64 {
        let offset = self.clock_offset_ms.load(Ordering::Relaxed);
        unix_ms() + offset + APPEND_DEADLINE.as_millis() as i64
    }

    /// Answers a publish once this instance shows it, so a read right after
    /// sees it, as with the local log.
    async fn wait_until_applied(&self, seq: u64) {
        let mut applied = self.applied.subscribe();
        let caught_up = applied.wait_for(|applied| *applied >= seq);
        if tokio::time::timeout(ECHO_WAIT, caught_up).await.is_err() {
            tracing::warn!(
                seq,
                "a stored event did not come back through the tail in time"
            );
        }
    }

    async fn revoke(&self, revocation: Revocation) -> Result<(), AppendError> {
        let mut commands = self.commands().await?;
        let now = unix_ms().max(0) as u64 / 1000;
        let _: i64 = self
            .scripts
            .revoke
            .key(&self.keys.meta)
            .key(&self.keys.events)
            .key(&self.keys.revoked)
            .arg(encode_revocation(&revocation))
            .arg(revocation.expires)
            .arg(now)
            .invoke_async(&mut commands)
            .await
            .map_err(|e| self.unreachable(e))?;
        // At once here; the other instances when their tails read it.
        self.sessions.revoke(revocation, now);
        self.hub.heartbeat();
        Ok(())
    }

    async fn commands(&self) -> Result<ConnectionManager, AppendError> {
        let connect = || async {
            let config = ConnectionManagerConfig::new()
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_connection_timeout(Some(RESPONSE_TIMEOUT))
                .set_number_of_retries(1)
                .set_max_delay(RECONNECT_DELAY);
            ConnectionManager::new_with_config(self.client.clone(), config).await
        };
        match self.commands.get_or_try_init(connect).await {
            Ok(manager) => Ok(manager.clone()),
            Err(error) => Err(self.unreachable(error)),
        }
    }

    /// Notes a failed command for health, and says why as a refusal.
    fn unreachable(&self, error: redis::RedisError) -> AppendError {
        let problem = format!("Redis: {error}");
        self.set_problem(Some(problem.clone()));
        AppendError::Unavailable(problem)
    }

    fn set_problem(&self, problem: Option<String>) {
        let mut tail = lock(&self.tail);
        match (&tail.problem, &problem) {
            (None, Some(problem)) => {
                tracing::error!(%problem, "the shared log is unavailable; refusing publishes");
                self.hub.metrics().storage_available.set(0);
            }
            (Some(_), None) => {
                tracing::info!("the shared log works again; publishes are accepted");
                self.hub.metrics().storage_available.set(1);
            }
            _ => {}
        }
        tail.problem = problem;
    }

    /// Why this instance cannot serve as part of the shared log, if so.
    fn problem(&self) -> Option<String> {
        let tail = lock(&self.tail);
        if let Some(problem) = &tail.problem {
            return Some(problem.clone());
        }
        let silent = tail.last_read.elapsed();
        if silent > STALE_AFTER {
            return Some(format!(
                "the shared log's tail has not read for {}s",
                silent.as_secs()
            ));
        }
        match tail.behind {
            Some((since, _)) if since.elapsed() > STALE_AFTER => Some(format!(
                "this instance has stayed behind the shared log for {}s",
                since.elapsed().as_secs()
            )),
            _ => None,
        }
    }

    /// Reads the stream from `position` for as long as the log runs, folding
    /// what it reads into the hub; reconnects when Redis goes away.
    async fn tail(self: Arc<Self>, mut position: String) {
        let mut connection: Option<MultiplexedConnection> = None;
        let mut last_check = Instant::now();
        while !self.closed.load(Ordering::Relaxed) {
            let mut conn = match connection.take() {
                Some(conn) => conn,
                None => match connect(&self.client).await {
                    Ok(conn) => {
                        // A new connection may mean a new Redis (restarted,
                        // failed over): check its epoch before reading, or
                        // a new stream that has outgrown the old position
                        // would be read as the old one's continuation.
                        last_check = Instant::now().checked_sub(BLOCK).unwrap_or(last_check);
                        conn
                    }
                    Err(error) => {
                        self.tail_failed(&error).await;
                        continue;
                    }
                },
            };
            match self
                .tail_once(&mut conn, &mut position, &mut last_check)
                .await
            {
                Ok(()) => {
                    lock(&self.tail).last_read = Instant::now();
                    if lock(&self.tail).problem.is_some() {
                        self.set_problem(None);
                    }
                    connection = Some(conn);
                }
                // The connection is dropped: the next round makes a new one.
                Err(error) => self.tail_failed(&error).await,
            }
        }
    }

    /// Now and then an epoch check, then one read of the stream, folded in;
    /// and a reload if either finds one is needed.
    async fn tail_once(
        &self,
        conn: &mut MultiplexedConnection,
        position: &mut String,
        last_check: &mut Instant,
    ) -> Result<(), String> {
        if last_check.elapsed() >= BLOCK {
            *last_check = Instant::now();
            if self.check(conn).await.map_err(|e| e.to_string())? == Outcome::Reload {
                *position = self.reload(conn).await.map_err(|e| e.to_string())?;
            }
        }
        let read: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.keys.events)
            .arg(&*position)
            .query_async(conn)
            .await
            .map_err(|e| e.to_string())?;
        let entries = read
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .collect();
        if self.fold_entries(entries, position) == Outcome::Reload {
            *position = self.reload(conn).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn tail_failed(&self, error: &(dyn std::fmt::Display + Sync)) {
        self.set_problem(Some(format!("Redis: {error}")));
        tokio::time::sleep(RECONNECT_DELAY).await;
    }

    /// Folds stream entries into the hub and sessions, in order.
    fn fold_entries(&self, entries: Vec<StreamId>, position: &mut String) -> Outcome {
        if entries.is_empty() {
            return Outcome::Continued;
        }
        let (epoch, mut last_seq) = self.hub.position();
        let mut events = Vec::with_capacity(entries.len());
        let mut revoked = false;
        let now = unix_ms().max(0) as u64 / 1000;
        let mut outcome = Outcome::Continued;
        for entry in &entries {
            match parse_entry(entry) {
                Some(Parsed::Event(stored)) if stored.seq <= last_seq => {}
                Some(Parsed::Event(stored)) if stored.seq == last_seq + 1 => {
                    match committed(&epoch, stored) {
                        Ok(event) => {
                            last_seq = event.seq;
                            events.push(event);
                        }
                        Err(error) => {
                            tracing::error!(%error, id = %entry.id, "an event in the shared log cannot be read; reloading");
                            outcome = Outcome::Reload;
                            break;
                        }
                    }
                }
                Some(Parsed::Event(stored)) => {
                    // Trimmed away before this instance read it.
                    tracing::warn!(
                        expected = last_seq + 1,
                        found = stored.seq,
                        "missed events of the shared log; reloading"
                    );
                    outcome = Outcome::Reload;
                    break;
                }
                Some(Parsed::Revocation(revocation)) => {
                    self.sessions.revoke(revocation, now);
                    revoked = true;
                }
                None => {
                    tracing::warn!(id = %entry.id, "skipping an entry of the shared log that is not one of ours")
                }
            }
            position.clone_from(&entry.id);
        }
        if !events.is_empty() {
            self.hub.apply(events, || {});
            self.applied.send_replace(last_seq);
        }
        if revoked {
            // Ends the streams of the revoked sessions now.
            self.hub.heartbeat();
        }
        outcome
    }

    /// Whether the epoch is still this instance's, and whether the tail
    /// keeps up with the stream.
    async fn check(&self, conn: &mut MultiplexedConnection) -> redis::RedisResult<Outcome> {
        let (epoch, seq): (Option<String>, Option<u64>) = redis::cmd("HMGET")
            .arg(&self.keys.meta)
            .arg("epoch")
            .arg("seq")
            .query_async(conn)
            .await?;
        let (ours, applied) = self.hub.position();
        if epoch.as_deref() != Some(ours.as_str()) {
            tracing::warn!(ours = %ours, theirs = ?epoch, "the shared log started a new epoch; reloading");
            return Ok(Outcome::Reload);
        }
        let last = seq.unwrap_or(0);
        let mut tail = lock(&self.tail);
        tail.behind = match tail.behind {
            _ if last <= applied => None,
            // Still short of where the stream was when it fell behind.
            Some((since, target)) if applied < target => Some((since, target)),
            _ => Some((Instant::now(), last)),
        };
        Ok(Outcome::Continued)
    }

    /// Starts over from what Redis holds now (a new epoch, or a gap): every
    /// viewer gets a `reset`. Returns the tail's new position.
    async fn reload(&self, conn: &mut MultiplexedConnection) -> Result<String, StartError> {
        // Put back the key everyone shares if Redis lost it, so sessions hold.
        session_key(conn, &self.keys, Some(self.sessions.key())).await?;
        let Loaded {
            mut recovered,
            position,
        } = load(conn, &self.keys, &self.scripts, self.history_size).await?;
        let now = unix_ms().max(0) as u64 / 1000;
        for revocation in std::mem::take(&mut recovered.revoked) {
            self.sessions.revoke(revocation, now);
        }
        let start = fold(recovered)?;
        let last_seq = start.last_seq;
        tracing::info!(epoch = %start.epoch, last_seq, "reloaded the shared log from Redis");
        self.hub.replace(start);
        self.applied.send_replace(last_seq);
        lock(&self.tail).behind = None;
        Ok(position)
    }

    /// Every second: `storage_available` brought up to date (a tail can go
    /// stale without any command failing), and the widgets as this instance
    /// holds them written as the checkpoint if newer than the one in Redis,
    /// so the stream can be trimmed and a new instance loads the state
    /// without reading all history.
    async fn checkpoints(self: Arc<Self>) {
        let mut written = 0;
        let mut ticker = tokio::time::interval(CHECKPOINT_INTERVAL);
        loop {
            ticker.tick().await;
            let available = self.problem().is_none();
            self.hub
                .metrics()
                .storage_available
                .set(i64::from(available));
            let Ok(mut commands) = self.commands().await else {
                continue;
            };
            match clock_offset(&mut commands).await {
                Ok(offset) => self.clock_offset_ms.store(offset, Ordering::Relaxed),
                Err(error) => tracing::debug!(%error, "could not read Redis's clock"),
            }
            let (epoch, seq) = self.hub.position();
            if seq == written {
                continue;
            }
            let contents = self.hub.contents();
            let widgets = match serde_json::to_string(&contents.widgets) {
                Ok(widgets) => widgets,
                Err(error) => {
                    tracing::error!(%error, "could not encode a checkpoint");
                    continue;
                }
            };
            let result: redis::RedisResult<i64> = self
                .scripts
                .checkpoint
                .key(&self.keys.meta)
                .key(&self.keys.events)
                .key(&self.keys.checkpoint)
                .arg(&epoch)
                .arg(contents.last_seq)
                .arg(widgets)
                .arg(self.history_size)
                .invoke_async(&mut commands)
                .await;
            match result {
                Ok(_) => written = seq,
                Err(error) => tracing::debug!(%error, "could not write a checkpoint"),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Continued,
    Reload,
}

/// The events `append` makes, completed against `store`; all or nothing.
fn entries_of(
    store: &Store,
    append: Append,
    max_widgets: usize,
) -> Result<Vec<Entry>, AppendError> {
    match append {
        Append::Set(mut changes) => {
            super::complete_set(store, &mut changes, max_widgets)?;
            changes
                .into_iter()
                .map(|Change { update, .. }| {
                    let widget = update.id.to_string();
                    let at = update.at;
                    entry(&ServerEvent::Update(update), widget, at)
                })
                .collect()
        }
        Append::Remove(id) => {
            if !store.contains(&id) {
                return Err(AppendError::NotFound(id));
            }
            let widget = id.to_string();
            Ok(vec![entry(
                &ServerEvent::Remove(Remove { id }),
                widget,
                unix_ms(),
            )?])
        }
    }
}

fn entry(event: &ServerEvent, widget: String, at: i64) -> Result<Entry, AppendError> {
    let encoded = event.encode()?;
    Ok(Entry {
        name: encoded.name,
        widget,
        data: encoded.data,
        at,
    })
}

/// The ids an earlier append under `once`'s key got, from what the script
/// stored: `<request digest> <epoch> <first seq> <count>`.
fn earlier_answer(stored: &str, once: &Idempotency) -> Option<Result<Appended, AppendError>> {
    let mut parts = stored.split(' ');
    let (request, epoch) = (parts.next()?, parts.next()?);
    let first: u64 = parts.next()?.parse().ok()?;
    let count: u64 = parts.next()?.parse().ok()?;
    Some(replay(request, once, || {
        consecutive_ids(epoch, first, count)
    }))
}

fn bad_reply(reply: &[String]) -> AppendError {
    AppendError::Unavailable(format!("Redis answered the append with {reply:?}"))
}

/// A revocation as the stream and the set hold it: `<id> <expires>`.
fn encode_revocation(revocation: &Revocation) -> String {
    format!("{} {}", revocation.id, revocation.expires)
}

fn decode_revocation(text: &str) -> Option<Revocation> {
    let (id, expires) = text.split_once(' ')?;
    Some(Revocation {
        id: id.to_owned(),
        expires: expires.parse().ok()?,
    })
}

enum Parsed {
    Event(StoredEvent),
    Revocation(Revocation),
}

fn parse_entry(entry: &StreamId) -> Option<Parsed> {
    let (seq, sub) = entry.id.split_once('-')?;
    let seq: u64 = seq.parse().ok()?;
    if sub != "0" {
        return decode_revocation(&entry.get::<String>("r")?).map(Parsed::Revocation);
    }
    let name = EventName::parse_change(&entry.get::<String>("n")?)?;
    let widget = entry
        .get::<String>("w")
        .filter(|w| !w.is_empty())
        .and_then(|w| WidgetId::parse(w).ok());
    Some(Parsed::Event(StoredEvent {
        seq,
        at: entry.get("t")?,
        name,
        widget,
        data: entry.get("d")?,
    }))
}

/// A stored event as the hub folds it.
fn committed(epoch: &str, stored: StoredEvent) -> Result<Committed, String> {
    let change = match ServerEvent::decode(stored.name.as_str(), &stored.data) {
        Ok(ServerEvent::Update(update)) => Applied::Set(update),
        Ok(ServerEvent::Remove(remove)) => Applied::Remove(remove.id),
        Ok(_) => return Err("not a state change".into()),
        Err(error) => return Err(error.to_string()),
    };
    let id = EventId {
        epoch: epoch.to_owned(),
        seq: stored.seq,
    };
    let frame = Frame::stored(&id, stored.name, stored.widget, stored.data);
    Ok(Committed {
        seq: stored.seq,
        at: stored.at,
        change,
        frame: Arc::new(frame),
    })
}

/// Redis's clock minus ours, in ms, taking the round trip's midpoint.
async fn clock_offset(conn: &mut impl redis::aio::ConnectionLike) -> redis::RedisResult<i64> {
    let before = unix_ms();
    let (seconds, micros): (i64, i64) = redis::cmd("TIME").query_async(conn).await?;
    let after = unix_ms();
    Ok(seconds * 1000 + micros / 1000 - (before + after) / 2)
}

/// A connection of its own: the tail's reads block.
async fn connect(client: &Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(RESPONSE_TIMEOUT))
        .set_response_timeout(Some(BLOCK + RESPONSE_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// The key that signs session cookies, shared by every instance: made by the
/// first one (or put back as `ours` if Redis lost it).
async fn session_key(
    conn: &mut MultiplexedConnection,
    keys: &Keys,
    ours: Option<&[u8; 32]>,
) -> Result<[u8; 32], StartError> {
    let candidate = ours.copied().unwrap_or_else(rand::random);
    let hex: String = candidate.iter().map(|b| format!("{b:02x}")).collect();
    let _: Option<String> = redis::cmd("SET")
        .arg(&keys.session_key)
        .arg(&hex)
        .arg("NX")
        .query_async(conn)
        .await
        .map_err(|e| redis_error("cannot store the session key", e))?;
    let stored: String = redis::cmd("GET")
        .arg(&keys.session_key)
        .query_async(conn)
        .await
        .map_err(|e| redis_error("cannot read the session key", e))?;
    SessionRecords::key_from_hex(&stored)
        .ok_or_else(|| StartError::Redis(format!("{} in Redis is not a key", keys.session_key)))
}

struct Loaded {
    recovered: Recovered,
    /// The id of the last stream entry read: where the tail goes on.
    position: String,
}

/// The state Redis holds: the checkpoint, and the stream after it (and as
/// far back as the history goes).
async fn load(
    conn: &mut MultiplexedConnection,
    keys: &Keys,
    scripts: &Scripts,
    history_size: usize,
) -> Result<Loaded, StartError> {
    let failed = |e| redis_error("cannot load the shared log", e);
    // Another instance may checkpoint and trim between the two reads; it
    // does so once a second, so a few tries always find a quiet moment.
    for _ in 0..LOAD_ATTEMPTS {
        let epoch: String = scripts
            .ensure_epoch
            .key(&keys.meta)
            .key(&keys.events)
            .key(&keys.checkpoint)
            .arg(new_epoch())
            .invoke_async(conn)
            .await
            .map_err(failed)?;
        let (held_epoch, held_seq, widgets): (Option<String>, Option<u64>, Option<String>) =
            redis::cmd("HMGET")
                .arg(&keys.checkpoint)
                .arg("epoch")
                .arg("seq")
                .arg("widgets")
                .query_async(conn)
                .await
                .map_err(failed)?;
        let (checkpoint_seq, widgets) = match (held_epoch, held_seq, widgets) {
            (Some(held), Some(seq), Some(widgets)) if held == epoch => {
                let widgets: Vec<Widget> = serde_json::from_str(&widgets).map_err(|e| {
                    StartError::Redis(format!("the checkpoint in Redis cannot be read: {e}"))
                })?;
                (seq, widgets)
            }
            _ => (0, Vec::new()),
        };
        let (events, revoked, position) = read_stream(conn, keys).await?;
        // A checkpoint written, and the stream trimmed, between the two
        // reads: what the stream starts with is past the checkpoint read.
        let first = events.first().map(|event| event.seq);
        if first.is_some_and(|first| first > checkpoint_seq + 1) {
            tracing::warn!(
                checkpoint_seq,
                first,
                "the shared log was trimmed past the checkpoint while loading; loading again"
            );
            continue;
        }
        let last_seq = events.last().map_or(checkpoint_seq, |e| e.seq);
        let mut history_from = last_seq.saturating_sub(history_size as u64);
        history_from = history_from.min(checkpoint_seq);
        let events = events
            .into_iter()
            .filter(|event| event.seq > history_from)
            .collect();
        let now = unix_ms().max(0) as u64 / 1000;
        let held: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(&keys.revoked)
            .arg(now)
            .arg("+inf")
            .query_async(conn)
            .await
            .map_err(failed)?;
        let revoked = held
            .iter()
            .filter_map(|text| decode_revocation(text))
            .chain(revoked)
            .collect();
        return Ok(Loaded {
            recovered: Recovered {
                epoch,
                widgets,
                checkpoint_seq,
                events,
                revoked,
            },
            position: position.unwrap_or_else(|| format!("{last_seq}-0")),
        });
    }
    Err(StartError::Redis(format!(
        "the stream in Redis starts after its checkpoint in {LOAD_ATTEMPTS} reads in a row: \
         was {} deleted by hand?",
        keys.checkpoint
    )))
}

/// Every entry of the stream, in pages.
async fn read_stream(
    conn: &mut MultiplexedConnection,
    keys: &Keys,
) -> Result<(Vec<StoredEvent>, Vec<Revocation>, Option<String>), StartError> {
    let mut events = Vec::new();
    let mut revoked = Vec::new();
    let mut from = "-".to_owned();
    let mut last = None;
    loop {
        let page: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&keys.events)
            .arg(&from)
            .arg("+")
            .arg("COUNT")
            .arg(READ_COUNT * 10)
            .query_async(conn)
            .await
            .map_err(|e| redis_error("cannot read the shared log", e))?;
        let Some(end) = page.ids.last().map(|entry| entry.id.clone()) else {
            break;
        };
        for entry in &page.ids {
            match parse_entry(entry) {
                Some(Parsed::Event(event)) => events.push(event),
                Some(Parsed::Revocation(revocation)) => revoked.push(revocation),
                None => {
                    tracing::warn!(id = %entry.id, "skipping an entry of the shared log that is not one of ours")
                }
            }
        }
        from = format!("({end}");
        last = Some(end);
    }
    Ok((events, revoked, last))
}

fn redis_error(what: &str, error: redis::RedisError) -> StartError {
    StartError::Redis(format!("{what}: {error}"))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_answer_gives_the_first_ids_or_refuses_another_request() {
        let once = Idempotency {
            key: "k".into(),
            request: "abc".into(),
        };
        let answer = earlier_answer("abc e1 7 2", &once).unwrap().unwrap();
        let seqs: Vec<u64> = answer.ids.iter().map(|id| id.seq).collect();
        assert_eq!(seqs, [7, 8]);
        assert!(answer.ids.iter().all(|id| id.epoch == "e1"));
        assert!(answer.replayed);
        let other = Idempotency {
            request: "xyz".into(),
            ..once
        };
        assert!(matches!(
            earlier_answer("abc e1 7 2", &other),
            Some(Err(AppendError::KeyReused))
        ));
        assert!(earlier_answer("garbage", &other).is_none());
    }

    #[test]
    fn revocations_round_trip() {
        let revocation = Revocation {
            id: "0a1b".into(),
            expires: 1_700_000_000,
        };
        assert_eq!(
            decode_revocation(&encode_revocation(&revocation)),
            Some(revocation)
        );
        assert_eq!(decode_revocation("no-expiry"), None);
    }
}
