//! Many SSE subscribers, spread over a few OS threads, each running a
//! current-thread tokio runtime with its own stats (merged on request), so the
//! hot path takes no lock and shares no cache line between threads.
//!
//! A subscriber is a raw TCP connection bound to a loopback source address
//! (127.0.0.2–127.0.0.250, [`PER_SOURCE_ADDR`] each, so the count is not limited
//! by one address's ephemeral ports), which sends `GET /api/events`, decodes
//! the chunked body and the event stream, and checks every update's sequence
//! number and latency. All subscribers of a thread read into one shared buffer
//! (`readable()` + `try_read`), so an idle stream costs the load generator only
//! its socket and a small task.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::io::Read;
use std::os::fd::AsRawFd;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpSocket;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::sse::{head_end, parse_event_id, parse_head, ChunkDecoder, Event, EventParser};
use crate::stats::{SeqTracker, Stats};

/// Subscribers bound to one source address.
pub const PER_SOURCE_ADDR: usize = 1000;
/// Source addresses 127.0.0.2 ..= 127.0.0.250.
const FIRST_SOURCE: u8 = 2;
const SOURCE_ADDRS: usize = 249;
/// The widget the publisher writes and the subscribers time.
pub const BENCH_WIDGET: &str = "bench.latency";

/// What a pool of subscribers is told to connect to.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Where the subscribers connect: subscriber `i` (counted over the whole
    /// pool) to `servers[i % servers.len()]`, so a pool splits evenly over
    /// several instances. Never empty.
    pub servers: Arc<[SocketAddr]>,
    /// The request target of every stream, e.g. `/api/events?dashboard=`.
    pub stream_path: Arc<str>,
    pub count: usize,
    pub threads: usize,
    /// Connections being opened at once (all threads together).
    pub connect_concurrency: usize,
    /// The first source address used is 127.0.0.(2 + offset % 249), so that
    /// successive pools do not reuse ports still in TIME_WAIT.
    pub source_offset: usize,
    /// Whether (and how) a subscriber whose stream ends reconnects, resuming
    /// with `Last-Event-ID`; `None`: it stays disconnected (counted as ended).
    pub reconnect: Option<Reconnect>,
}

/// How subscribers come back after their stream ended, as a browser's
/// `EventSource` does: a new `GET` with `Last-Event-ID: <last id seen>`.
#[derive(Debug, Clone, Copy)]
pub struct Reconnect {
    /// A random delay in `[0, jitter)` is added to every wait below.
    pub jitter: Duration,
    /// Wait after a refused or failed attempt (the server is not back yet)
    /// and after a stream that ended without a `shutdown` event.
    pub retry: Duration,
    /// A subscriber that found no server for this long gives up (fails).
    pub give_up: Duration,
}

/// How subscribers hang up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CloseMode {
    /// `shutdown(SHUT_WR)` then close: a FIN, as a browser closing a tab.
    Graceful,
    /// `SO_LINGER` 0 then close: an RST, as a crashed client or a dropped NAT.
    Abrupt,
    /// Even-numbered subscribers gracefully, odd ones abruptly.
    Mixed,
}

/// Counters every thread updates, read by the controller while it waits.
#[derive(Default)]
struct Progress {
    /// Subscribers that received their `init`.
    ready: AtomicUsize,
    /// Subscribers that could not connect or whose stream failed before `init`.
    failed: AtomicUsize,
    first_error: Mutex<Option<String>>,
}

impl Progress {
    fn fail(&self, error: anyhow::Error) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert_with(|| format!("{error:#}"));
    }
}

enum Command {
    /// How many connected subscribers have seen every update up to this
    /// sequence number, and how many are connected.
    CaughtUp(u64, oneshot::Sender<(usize, usize)>),
    /// The stats since the last take (tail losses up to this sequence number
    /// included), reset to zero.
    TakeStats(u64, oneshot::Sender<Stats>),
    Close(CloseMode, oneshot::Sender<()>),
    /// Start recording what happens to each subscriber from now on (see
    /// [`SlotRestart`]); the previous record is cleared.
    Mark(oneshot::Sender<()>),
    /// What the subscribers recorded since the mark, with `first_seq` the
    /// first event that counts as "after the restart".
    Restart(u64, oneshot::Sender<RestartView>),
}

/// What happened to one subscriber since the controller's mark.
#[derive(Debug, Default, Clone)]
struct SlotRestart {
    /// When a stream opened after the mark answered 200.
    reconnected: Option<Instant>,
    /// Updates received on streams opened after the mark, with their receive
    /// time (the first [`MAX_RECORDED`]).
    updates: Vec<(u64, Instant)>,
    /// Connection attempts after the mark that got no stream (refused, reset,
    /// or an error status).
    failed_attempts: u32,
    /// Connection attempts after the mark (successful or not).
    attempts: u32,
    resets: u32,
    inits: u32,
    /// A `shutdown` event arrived after the mark.
    shutdown: bool,
}

const MAX_RECORDED: usize = 256;

/// What the subscribers of a pool recorded since [`Pool::mark`].
#[derive(Debug, Default)]
pub struct RestartView {
    pub subscribers: usize,
    /// When each subscriber that did reconnect got its first stream back.
    pub reconnected_at: Vec<Instant>,
    /// When each subscriber that is live again received its first event at
    /// or after the `first_seq` asked for, on a stream opened after the mark.
    pub live_at: Vec<Instant>,
    pub failed_attempts: u64,
    pub attempts: u64,
    pub resets: u64,
    /// Subscribers that got at least one `reset`.
    pub reset_subscribers: usize,
    pub inits: u64,
    pub shutdown_seen: usize,
}

impl RestartView {
    fn merge(&mut self, other: RestartView) {
        self.subscribers += other.subscribers;
        self.reconnected_at.extend(other.reconnected_at);
        self.live_at.extend(other.live_at);
        self.failed_attempts += other.failed_attempts;
        self.attempts += other.attempts;
        self.resets += other.resets;
        self.reset_subscribers += other.reset_subscribers;
        self.inits += other.inits;
        self.shutdown_seen += other.shutdown_seen;
    }
}

/// A set of subscribers running on their own threads.
pub struct Pool {
    progress: Arc<Progress>,
    workers: Vec<(mpsc::UnboundedSender<Command>, JoinHandle<()>)>,
    count: usize,
}

impl Pool {
    /// Starts the threads; the subscribers connect in the background.
    pub fn open(config: &PoolConfig) -> Result<Pool> {
        let progress = Arc::new(Progress::default());
        let threads = config.threads.clamp(1, config.count.max(1));
        let mut workers = Vec::with_capacity(threads);
        for thread in 0..threads {
            let (commands, receiver) = mpsc::unbounded_channel();
            let progress = progress.clone();
            let config = config.clone();
            let handle = std::thread::Builder::new()
                .name(format!("subscribers-{thread}"))
                .spawn(move || worker(thread, threads, config, progress, receiver))
                .context("spawning a subscriber thread")?;
            workers.push((commands, handle));
        }
        Ok(Pool {
            progress,
            workers,
            count: config.count,
        })
    }

    pub fn ready(&self) -> usize {
        self.progress.ready.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> usize {
        self.progress.failed.load(Ordering::Relaxed)
    }

    pub fn first_error(&self) -> Option<String> {
        self.progress
            .first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until every subscriber got its `init` (or failed). Fails if none
    /// could connect, or if it takes longer than `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Duration> {
        let started = Instant::now();
        loop {
            let (ready, failed) = (self.ready(), self.failed());
            if ready + failed >= self.count {
                if ready == 0 && self.count > 0 {
                    bail!(
                        "no subscriber connected: {}",
                        self.first_error().unwrap_or_default()
                    );
                }
                return Ok(started.elapsed());
            }
            if started.elapsed() > timeout {
                bail!(
                    "only {ready} of {} subscribers got init after {timeout:?} ({failed} failed{})",
                    self.count,
                    self.first_error()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many connected subscribers have seen everything up to
    /// `final_seq`, and how many are connected.
    async fn caught_up(&self, final_seq: u64) -> (usize, usize) {
        let (mut caught_up, mut live) = (0, 0);
        for (commands, _) in &self.workers {
            let (reply, answer) = oneshot::channel();
            if commands.send(Command::CaughtUp(final_seq, reply)).is_ok() {
                let (thread_caught_up, thread_live) = answer.await.unwrap_or((0, 0));
                caught_up += thread_caught_up;
                live += thread_live;
            }
        }
        (caught_up, live)
    }

    /// Waits (up to `timeout`) until every connected subscriber saw `final_seq`.
    pub async fn drain(&self, final_seq: u64, timeout: Duration) -> bool {
        let started = Instant::now();
        loop {
            let (caught_up, live) = self.caught_up(final_seq).await;
            if caught_up >= live {
                return true;
            }
            if started.elapsed() > timeout {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The stats of all threads since the last call, merged; a subscriber that
    /// has not seen up to `final_seq` counts what it misses as lost.
    pub async fn take_stats(&self, final_seq: u64) -> Stats {
        let mut merged = Stats::default();
        for (commands, _) in &self.workers {
            let (reply, answer) = oneshot::channel();
            if commands.send(Command::TakeStats(final_seq, reply)).is_ok() {
                if let Ok(stats) = answer.await {
                    merged.merge(&stats);
                }
            }
        }
        merged
    }

    /// From now on, records per subscriber its reconnection, the updates of
    /// its new streams and any `reset` (see [`Pool::restart_view`]).
    pub async fn mark(&self) {
        for (commands, _) in &self.workers {
            let (reply, answer) = oneshot::channel();
            if commands.send(Command::Mark(reply)).is_ok() {
                let _ = answer.await;
            }
        }
    }

    /// What the subscribers recorded since [`Pool::mark`]; a subscriber is
    /// live again once a stream opened after the mark brought it an event
    /// with a sequence number of at least `first_seq`.
    pub async fn restart_view(&self, first_seq: u64) -> RestartView {
        let mut merged = RestartView::default();
        for (commands, _) in &self.workers {
            let (reply, answer) = oneshot::channel();
            if commands.send(Command::Restart(first_seq, reply)).is_ok() {
                if let Ok(view) = answer.await {
                    merged.merge(view);
                }
            }
        }
        merged
    }

    /// Hangs up every subscriber and waits until all sockets are closed.
    pub async fn close(self, mode: CloseMode) {
        for (commands, handle) in self.workers {
            let (reply, answer) = oneshot::channel();
            if commands.send(Command::Close(mode, reply)).is_ok() {
                let _ = answer.await;
            }
            let _ = handle.join();
        }
    }
}

/// What one thread shares between its subscriber tasks (single-threaded).
struct Local {
    stats: RefCell<Stats>,
    /// Each subscriber's sequence position, by slot.
    trackers: RefCell<Vec<SeqTracker>>,
    /// Whether the subscriber in a slot is still connected (for tail losses).
    live: RefCell<Vec<bool>>,
    /// The read buffer all sockets of this thread share.
    scratch: RefCell<Vec<u8>>,
    /// How subscribers hang up when told to stop.
    close_mode: Cell<CloseMode>,
    progress: Arc<Progress>,
    reconnect: Option<Reconnect>,
    /// Since when [`SlotRestart`] records are kept.
    mark: Cell<Option<Instant>>,
    restart: RefCell<Vec<SlotRestart>>,
}

fn worker(
    thread: usize,
    threads: usize,
    config: PoolConfig,
    progress: Arc<Progress>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            for _ in (thread..config.count).step_by(threads) {
                progress.fail(anyhow::anyhow!("building a runtime: {error}"));
            }
            return;
        }
    };
    let indices: Vec<usize> = (thread..config.count).step_by(threads).collect();
    let local = Rc::new(Local {
        stats: RefCell::new(Stats::default()),
        trackers: RefCell::new(vec![SeqTracker::default(); indices.len()]),
        live: RefCell::new(vec![false; indices.len()]),
        scratch: RefCell::new(vec![0; 256 * 1024]),
        close_mode: Cell::new(CloseMode::Graceful),
        progress,
        reconnect: config.reconnect,
        mark: Cell::new(None),
        restart: RefCell::new(vec![SlotRestart::default(); indices.len()]),
    });
    let tasks = tokio::task::LocalSet::new();
    tasks.block_on(&runtime, async move {
        let (stop, stopped) = watch::channel(());
        let permits = Rc::new(Semaphore::new(
            (config.connect_concurrency / threads).max(1),
        ));
        let mut handles = Vec::with_capacity(indices.len());
        for (slot, &index) in indices.iter().enumerate() {
            let source = source_addr(index, config.source_offset);
            let subscriber = Subscriber {
                slot,
                index,
                local: local.clone(),
            };
            let server = config.servers[index % config.servers.len()];
            handles.push(tokio::task::spawn_local(subscriber.run(
                server,
                config.stream_path.clone(),
                source,
                permits.clone(),
                stopped.clone(),
            )));
        }
        drop(stopped);
        while let Some(command) = commands.recv().await {
            match command {
                Command::CaughtUp(final_seq, reply) => {
                    let trackers = local.trackers.borrow();
                    let live = local.live.borrow();
                    let connected = trackers.iter().zip(live.iter()).filter(|(_, &l)| l);
                    let (mut caught_up, mut total) = (0, 0);
                    for (tracker, _) in connected {
                        total += 1;
                        caught_up += usize::from(tracker.behind(final_seq) == 0);
                    }
                    let _ = reply.send((caught_up, total));
                }
                Command::TakeStats(final_seq, reply) => {
                    let mut stats = local.stats.take();
                    let trackers = local.trackers.borrow();
                    let live = local.live.borrow();
                    for (tracker, _) in trackers.iter().zip(live.iter()).filter(|(_, &l)| l) {
                        stats.lost += tracker.behind(final_seq);
                    }
                    let _ = reply.send(stats);
                }
                Command::Mark(reply) => {
                    local.mark.set(Some(Instant::now()));
                    for slot in local.restart.borrow_mut().iter_mut() {
                        *slot = SlotRestart::default();
                    }
                    let _ = reply.send(());
                }
                Command::Restart(first_seq, reply) => {
                    let slots = local.restart.borrow();
                    let mut view = RestartView {
                        subscribers: slots.len(),
                        ..RestartView::default()
                    };
                    for slot in slots.iter() {
                        view.reconnected_at.extend(slot.reconnected);
                        view.live_at.extend(
                            slot.updates
                                .iter()
                                .find(|(seq, _)| *seq >= first_seq)
                                .map(|&(_, at)| at),
                        );
                        view.failed_attempts += u64::from(slot.failed_attempts);
                        view.attempts += u64::from(slot.attempts);
                        view.resets += u64::from(slot.resets);
                        view.reset_subscribers += usize::from(slot.resets > 0);
                        view.inits += u64::from(slot.inits);
                        view.shutdown_seen += usize::from(slot.shutdown);
                    }
                    let _ = reply.send(view);
                }
                Command::Close(mode, reply) => {
                    local.close_mode.set(mode);
                    let _ = stop.send(());
                    for handle in handles.drain(..) {
                        let _ = handle.await;
                    }
                    let _ = reply.send(());
                    break;
                }
            }
        }
    });
}

fn source_addr(index: usize, offset: usize) -> Ipv4Addr {
    let addr = (index / PER_SOURCE_ADDR + offset) % SOURCE_ADDRS;
    Ipv4Addr::new(127, 0, 0, FIRST_SOURCE + addr as u8)
}

struct Subscriber {
    slot: usize,
    /// Position in the whole pool: decides the source address and close mode.
    index: usize,
    local: Rc<Local>,
}

/// What the stop signal's future resolves to.
type StopSignal = Result<(), watch::error::RecvError>;

/// What a reconnecting subscriber carries from one stream to the next.
#[derive(Default)]
struct Session {
    epoch: Option<Vec<u8>>,
    initialised: bool,
    /// The id of the last event seen, sent as `Last-Event-ID`.
    last_id: Option<Vec<u8>>,
}

/// xorshift64*, enough to spread reconnect delays (no crate needed).
struct Random(u64);

impl Random {
    fn new(index: usize) -> Random {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos() as u64);
        Random((index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos | 1)
    }

    /// Uniform in `[0, ceiling)`.
    fn below(&mut self, ceiling: Duration) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let unit = (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        ceiling.mul_f64(unit)
    }
}

/// The data of a `shutdown` event.
#[derive(Deserialize)]
struct ShutdownData {
    reconnect_after_ms: u64,
}

/// The data of an `update` event, as far as the latency needs it.
#[derive(Deserialize)]
struct UpdateData<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    value: NumberValue,
}

/// `value.value` of a `number` (or `gauge`) widget; other kinds have none.
#[derive(Deserialize)]
struct NumberValue {
    #[serde(default)]
    value: Option<f64>,
}

impl Subscriber {
    async fn run(
        self,
        server: SocketAddr,
        path: Arc<str>,
        source: Ipv4Addr,
        permits: Rc<Semaphore>,
        mut stop: watch::Receiver<()>,
    ) {
        // Registered once, not per read: the stop signal (a version check, so
        // a task first polled after the signal still sees it).
        let stopped = stop.changed();
        tokio::pin!(stopped);
        let mut permit = tokio::select! {
            biased;
            _ = &mut stopped => return,
            permit = permits.acquire() => permit.ok(),
        };
        // What outlives one connection when the subscriber reconnects.
        let mut session = Session::default();
        let mut random = Random::new(self.index);
        // Since when no stream has worked (for `Reconnect::give_up`).
        let mut down_since: Option<Instant> = None;
        loop {
            let attempt = connect(server, &path, source, session.last_id.as_deref()).await;
            let recording = self.local.mark.get().is_some();
            if recording {
                self.record().attempts += 1;
            }
            let mut connection = Connection {
                opened: Some(Instant::now()),
                epoch: session.epoch.take(),
                initialised: session.initialised,
                last_id: std::mem::take(&mut session.last_id),
                ..Connection::default()
            };
            let (hang_up, socket, error) = match attempt {
                Ok(socket) => {
                    let (hang_up, error) = self
                        .read_stream(&socket, &mut connection, &mut stopped, &mut permit)
                        .await;
                    (hang_up, Some(socket), error)
                }
                Err(error) => (false, None, Some(error)),
            };
            self.local.live.borrow_mut()[self.slot] = false;
            session = Session {
                epoch: connection.epoch.take(),
                initialised: connection.initialised,
                last_id: std::mem::take(&mut connection.last_id),
            };
            if hang_up {
                drop(permit);
                if let Some(socket) = socket {
                    self.hang_up(socket.into_inner());
                }
                return;
            }
            drop(socket);
            let error = error.unwrap_or_else(|| anyhow::anyhow!("server closed the stream"));
            let policy = match self.local.reconnect {
                Some(policy) if session.initialised => policy,
                _ => {
                    // Without reconnecting, or before the first `init`: as before.
                    self.ended(&connection, error);
                    return;
                }
            };
            // A stream that had been up is counted as ended by the server.
            let delay = if connection.connected {
                self.local.stats.borrow_mut().ended_by_server += 1;
                down_since = None;
                connection.shutdown_hint.unwrap_or(Duration::ZERO)
            } else {
                if self.local.mark.get().is_some() {
                    self.record().failed_attempts += 1;
                }
                let since = *down_since.get_or_insert_with(Instant::now);
                if since.elapsed() > policy.give_up {
                    self.local.progress.fail(error.context(format!(
                        "no stream for {:?} while reconnecting",
                        policy.give_up
                    )));
                    return;
                }
                policy.retry
            };
            let delay = delay + random.below(policy.jitter);
            tokio::select! {
                biased;
                _ = &mut stopped => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Reads a stream until it ends (`false`, with the error if any) or the
    /// subscriber is told to stop (`true`).
    async fn read_stream(
        &self,
        socket: &AsyncFd<std::net::TcpStream>,
        connection: &mut Connection,
        stopped: &mut std::pin::Pin<&mut impl std::future::Future<Output = StopSignal>>,
        permit: &mut Option<tokio::sync::SemaphorePermit<'_>>,
    ) -> (bool, Option<anyhow::Error>) {
        loop {
            let outcome = tokio::select! {
                biased;
                _ = stopped.as_mut() => return (true, None),
                guard = socket.readable() => match guard {
                    Ok(mut guard) => {
                        let outcome = self.read(guard.get_inner(), connection);
                        // A short read emptied the socket: wait for the next
                        // edge instead of a read that would say WouldBlock.
                        // (tokio keeps readiness that arrived meanwhile.)
                        if matches!(outcome, Ok(Some(true))) {
                            guard.clear_ready();
                        }
                        outcome
                    }
                    Err(error) => Err(error.into()),
                },
            };
            match outcome {
                Ok(Some(_)) => {}
                Ok(None) => return (false, None),
                Err(error) => return (false, Some(error)),
            }
            if connection.initialised {
                // Connected: let the next one start its handshake.
                permit.take();
            }
        }
    }

    /// This subscriber's record since the mark.
    fn record(&self) -> std::cell::RefMut<'_, SlotRestart> {
        std::cell::RefMut::map(self.local.restart.borrow_mut(), |slots| {
            &mut slots[self.slot]
        })
    }

    fn hang_up(&self, stream: std::net::TcpStream) {
        let abrupt = match self.local.close_mode.get() {
            CloseMode::Graceful => false,
            CloseMode::Abrupt => true,
            CloseMode::Mixed => self.index % 2 == 1,
        };
        if abrupt {
            // close() with SO_LINGER 0 sends an RST at once (no FIN, no TIME_WAIT).
            let _ = set_zero_linger(&stream);
        } else {
            // A FIN, as a browser closing a tab.
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
        drop(stream);
    }

    fn ended(&self, connection: &Connection, error: anyhow::Error) {
        if connection.initialised {
            self.local.stats.borrow_mut().ended_by_server += 1;
        } else {
            self.local.progress.fail(error);
        }
    }

    /// Reads once: `Some(drained)` while the stream is open (`drained`: the
    /// socket had less than the buffer, so it is empty now), `None` at its end.
    fn read(
        &self,
        stream: &std::net::TcpStream,
        connection: &mut Connection,
    ) -> Result<Option<bool>> {
        let mut scratch = self.local.scratch.borrow_mut();
        let n = match (&*stream).read(&mut scratch) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Ok(Some(true)),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {
                return Ok(Some(false))
            }
            Err(error) => return Err(error.into()),
        };
        // One receive time for everything this read returned.
        let open = self.process(&scratch[..n], unix_micros(), connection)?;
        Ok(open.then_some(n < scratch.len()))
    }

    /// Handles bytes from the socket; `Ok(false)` when the body ended.
    fn process(&self, input: &[u8], now_us: f64, connection: &mut Connection) -> Result<bool> {
        let was_connected = connection.connected;
        let body_ended = connection.feed(input)?;
        // Since the controller's mark, and on a stream opened after it.
        let mark = self.local.mark.get();
        let recording = mark.is_some_and(|mark| connection.opened.is_some_and(|at| at >= mark));
        let now = recording.then(Instant::now);
        if connection.connected && !was_connected {
            if connection.initialised {
                // A stream resumed after a reconnect: no `init` comes.
                self.local.live.borrow_mut()[self.slot] = true;
            }
            if let Some(now) = now {
                self.record().reconnected.get_or_insert(now);
            }
        }
        let reconnects = self.local.reconnect.is_some();
        let mut record = mark.is_some().then(|| self.record());
        let mut stats = self.local.stats.borrow_mut();
        let mut trackers = self.local.trackers.borrow_mut();
        let tracker = &mut trackers[self.slot];
        let mut became_ready = false;
        let mut updates = 0;
        let epoch = &mut connection.epoch;
        let last_id = &mut connection.last_id;
        let shutdown_hint = &mut connection.shutdown_hint;
        connection.events.drain(|event| {
            if let (true, Some(id)) = (reconnects, event.id) {
                let last = last_id.get_or_insert_with(Vec::new);
                last.clear();
                last.extend_from_slice(id);
            }
            match event.name {
                b"update" | b"remove" => {
                    updates += u64::from(event.name == b"update");
                    let seq = on_update(&event, epoch, tracker, &mut stats, now_us);
                    if let (Some(now), Some(seq), Some(record)) = (now, seq, record.as_mut()) {
                        if record.updates.len() < MAX_RECORDED {
                            record.updates.push((seq, now));
                        }
                    }
                }
                b"init" => {
                    if epoch.is_none() {
                        became_ready = true;
                    }
                    if let (true, Some(record)) = (recording, record.as_mut()) {
                        record.inits += 1;
                    }
                    match event.id.map(parse_event_id) {
                        Some(Some((id_epoch, seq))) => {
                            *epoch = Some(id_epoch.to_vec());
                            tracker.start(seq);
                        }
                        Some(None) => stats.malformed += 1,
                        None => {
                            *epoch = Some(Vec::new());
                            tracker.start(0);
                        }
                    }
                }
                b"reset" => {
                    stats.resets += 1;
                    if let (true, Some(record)) = (recording, record.as_mut()) {
                        record.resets += 1;
                    }
                    match event.id.and_then(parse_event_id) {
                        Some((id_epoch, seq)) => {
                            *epoch = Some(id_epoch.to_vec());
                            stats.resynced_over += tracker.on_reset(seq);
                        }
                        None => stats.malformed += 1,
                    }
                }
                b"heartbeat" => stats.heartbeats += 1,
                b"shutdown" => {
                    if let Ok(data) = serde_json::from_slice::<ShutdownData>(&event.data) {
                        *shutdown_hint = Some(Duration::from_millis(data.reconnect_after_ms));
                    }
                    if let Some(record) = record.as_mut() {
                        record.shutdown = true;
                    }
                }
                _ => {}
            }
        });
        drop(record);
        stats.deliveries += updates;
        if became_ready {
            connection.initialised = true;
            self.local.live.borrow_mut()[self.slot] = true;
            self.local.progress.ready.fetch_add(1, Ordering::Relaxed);
        }
        Ok(!body_ended)
    }
}

/// Checks one `update` or `remove`; returns its sequence number if it is of
/// the stream's epoch.
fn on_update(
    event: &Event<'_>,
    epoch: &Option<Vec<u8>>,
    tracker: &mut SeqTracker,
    stats: &mut Stats,
    now_us: f64,
) -> Option<u64> {
    let Some((id_epoch, seq)) = event.id.and_then(parse_event_id) else {
        stats.malformed += 1;
        return None;
    };
    match epoch {
        // An `init` without an id (nothing published yet) names no epoch.
        Some(epoch) if !epoch.is_empty() && epoch.as_slice() != id_epoch => {
            stats.foreign_epoch += 1;
            return None;
        }
        _ => {}
    }
    stats.count(tracker.on_update(seq));
    if event.name != b"update" {
        return Some(seq);
    }
    match serde_json::from_slice::<UpdateData<'_>>(&event.data) {
        Ok(UpdateData {
            id,
            value: NumberValue { value: Some(sent) },
        }) if id == BENCH_WIDGET => stats.record_latency_us(now_us - sent),
        Ok(_) => {}
        Err(_) => stats.malformed += 1,
    }
    Some(seq)
}

/// The HTTP state of one subscriber's response.
#[derive(Default)]
struct Connection {
    /// The response head while it is incomplete.
    head: Vec<u8>,
    /// `None` until the head was parsed; then chunked or not.
    body: Option<Body>,
    events: EventParser,
    /// The epoch of the stream's `init` (empty: `init` had no id); `None`
    /// before `init`.
    epoch: Option<Vec<u8>>,
    initialised: bool,
    /// When the connection was opened.
    opened: Option<Instant>,
    /// The server answered 200 with an event stream.
    connected: bool,
    /// The id of the last event seen (kept only by reconnecting subscribers).
    last_id: Option<Vec<u8>>,
    /// The `reconnect_after_ms` of a `shutdown` event.
    shutdown_hint: Option<Duration>,
}

enum Body {
    Chunked(ChunkDecoder),
    Identity,
}

impl Connection {
    /// Feeds bytes from the socket; returns whether the body ended.
    fn feed(&mut self, input: &[u8]) -> Result<bool> {
        if self.body.is_none() {
            self.head.extend_from_slice(input);
            let Some(end) = head_end(&self.head) else {
                if self.head.len() > 64 * 1024 {
                    bail!("response head larger than 64 KiB");
                }
                return Ok(false);
            };
            let head = parse_head(&self.head[..end])?;
            if head.status != 200 {
                bail!(
                    "GET /api/events: HTTP {}: {}",
                    head.status,
                    String::from_utf8_lossy(&self.head[end..]).trim()
                );
            }
            if !head
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("text/event-stream"))
            {
                bail!("GET /api/events: content type {:?}", head.content_type);
            }
            self.connected = true;
            self.body = Some(if head.chunked {
                Body::Chunked(ChunkDecoder::default())
            } else {
                Body::Identity
            });
            let rest = self.head.split_off(end);
            self.head = Vec::new();
            return self.feed_body(&rest);
        }
        self.feed_body(input)
    }

    fn feed_body(&mut self, input: &[u8]) -> Result<bool> {
        match self.body.as_mut() {
            Some(Body::Chunked(decoder)) => {
                decoder.decode(input, self.events.buffer_mut())?;
                Ok(decoder.is_done())
            }
            Some(Body::Identity) => {
                self.events.buffer_mut().extend_from_slice(input);
                Ok(false)
            }
            None => Ok(false),
        }
    }
}

/// Connects from `source`, sends the request, and hands the socket over to a
/// read-only registration (no write interest: the request is the only write).
async fn connect(
    server: SocketAddr,
    path: &str,
    source: Ipv4Addr,
    last_id: Option<&[u8]>,
) -> Result<AsyncFd<std::net::TcpStream>> {
    let socket = TcpSocket::new_v4().context("socket()")?;
    socket
        .bind(SocketAddr::V4(SocketAddrV4::new(source, 0)))
        .with_context(|| format!("binding to {source}"))?;
    let mut stream = socket
        .connect(server)
        .await
        .with_context(|| format!("connecting from {source} to {server}"))?;
    stream.set_nodelay(true)?;
    let resume = last_id.map_or_else(String::new, |id| {
        format!("Last-Event-ID: {}\r\n", String::from_utf8_lossy(id))
    });
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {server}\r\nAccept: text/event-stream\r\n\
         Cache-Control: no-cache\r\n{resume}\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .context("sending GET /api/events")?;
    // Still non-blocking after into_std.
    let stream = stream.into_std().context("deregistering the socket")?;
    // SAFETY: the AsyncFd owns the stream, which owns the fd: it stays open
    // and the same file until the AsyncFd is dropped or gives the stream back.
    unsafe { AsyncFd::register_with_interest(stream, Interest::READABLE) }
        .map_err(std::io::Error::from)
        .context("registering the socket")
}

fn set_socket_option<T>(
    stream: &std::net::TcpStream,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> std::io::Result<()> {
    // SAFETY: `value` is a live, properly sized option value for this call.
    let result = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            level,
            name,
            (&value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn set_zero_linger(stream: &std::net::TcpStream) -> std::io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    set_socket_option(stream, libc::SOL_SOCKET, libc::SO_LINGER, linger)
}

/// Microseconds since the Unix epoch, as the publisher stamps them.
pub fn unix_micros() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_micros() as f64)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_addresses_rotate_within_loopback() {
        assert_eq!(source_addr(0, 0), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(source_addr(999, 0), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(source_addr(1000, 0), Ipv4Addr::new(127, 0, 0, 3));
        assert_eq!(source_addr(0, 248), Ipv4Addr::new(127, 0, 0, 250));
        assert_eq!(source_addr(1000, 248), Ipv4Addr::new(127, 0, 0, 2));
    }

    fn local(slots: usize) -> Rc<Local> {
        Rc::new(Local {
            stats: RefCell::new(Stats::default()),
            trackers: RefCell::new(vec![SeqTracker::default(); slots]),
            live: RefCell::new(vec![false; slots]),
            scratch: RefCell::new(Vec::new()),
            close_mode: Cell::new(CloseMode::Graceful),
            progress: Arc::new(Progress::default()),
            reconnect: None,
            mark: Cell::new(None),
            restart: RefCell::new(vec![SlotRestart::default(); slots]),
        })
    }

    fn response(body: &str, piece: usize) -> String {
        let mut response = String::from(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
             transfer-encoding: chunked\r\nx-accel-buffering: no\r\n\r\n",
        );
        for part in body.as_bytes().chunks(piece) {
            response.push_str(&format!("{:x}\r\n", part.len()));
            response.push_str(std::str::from_utf8(part).unwrap());
            response.push_str("\r\n");
        }
        response
    }

    #[test]
    fn a_stream_is_checked_event_by_event() {
        let body = "retry: 2000\n\n\
            id: ep-5\nevent: init\ndata: {}\n\n\
            id: ep-6\nevent: update\ndata: {\"id\":\"bench.latency\",\"value\":{\"kind\":\"number\",\"value\":1000.0,\"previous\":1.0},\"at\":1}\n\n\
            id: ep-8\nevent: update\ndata: {\"id\":\"other\",\"value\":{\"kind\":\"number\",\"value\":1.0}}\n\n\
            event: heartbeat\ndata: {\"server_time\":1}\n\n\
            id: ep-7\nevent: update\ndata: {\"id\":\"other\",\"value\":{\"kind\":\"number\",\"value\":1.0}}\n\n\
            id: ep-20\nevent: reset\ndata: {}\n\n\
            id: ep-21\nevent: update\ndata: {\"id\":\"x\",\"value\":{\"kind\":\"text\",\"text\":\"hi\"}}\n\n\
            id: other-22\nevent: update\ndata: {}\n\n";
        for (piece, read) in [(50, 23), (7, 1), (4096, 4096)] {
            let local = local(1);
            let subscriber = Subscriber {
                slot: 0,
                index: 0,
                local: local.clone(),
            };
            let mut connection = Connection::default();
            let raw = response(body, piece) + "0\r\n\r\n";
            let mut open = true;
            for part in raw.as_bytes().chunks(read) {
                assert!(open, "bytes after the end of the body");
                open = subscriber.process(part, 3000.0, &mut connection).unwrap();
            }
            assert!(!open, "the last chunk ends the body");
            let stats = local.stats.borrow();
            assert_eq!(local.progress.ready.load(Ordering::Relaxed), 1);
            assert!(local.live.borrow()[0]);
            // 6, then 8 (7 missing), 7 late, a reset to 20 (12 skipped), 21, foreign.
            assert_eq!(stats.deliveries, 5);
            assert_eq!(
                (stats.lost, stats.out_of_order, stats.duplicated),
                (0, 1, 0)
            );
            assert_eq!((stats.resets, stats.resynced_over), (1, 12));
            assert_eq!(
                (stats.foreign_epoch, stats.heartbeats, stats.malformed),
                (1, 1, 0)
            );
            // Only the bench widget's update is timed: 3000 - 1000 µs.
            assert_eq!(stats.latency.len(), 1);
            assert_eq!(stats.latency.max(), 2000);
            assert_eq!(local.trackers.borrow()[0].last(), Some(21));
        }
    }

    /// A stream that ends after `shutdown` is reopened with `Last-Event-ID`,
    /// and the new stream's events count as live again after the mark.
    #[tokio::test]
    async fn a_subscriber_reconnects_with_the_last_event_id() {
        use tokio::io::AsyncReadExt;
        use tokio::net::TcpListener;

        async fn read_head(socket: &mut tokio::net::TcpStream) -> String {
            let mut head = Vec::new();
            while head_end(&head).is_none() {
                let mut buf = [0u8; 1024];
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed before the request head");
                head.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&head).to_lowercase()
        }
        fn chunk(payload: &str) -> String {
            format!("{:x}\r\n{payload}\r\n", payload.len())
        }
        const HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
            transfer-encoding: chunked\r\n\r\n";
        let update = |seq: u64| {
            chunk(&format!(
                "id: ep-{seq}\nevent: update\ndata: {{\"id\":\"x\",\"value\":{{\"kind\":\"number\",\"value\":1.0}}}}\n\n"
            ))
        };

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = listener.local_addr().unwrap();
        let (restart, restarted) = oneshot::channel::<()>();
        let (second_head, resumed_with) = oneshot::channel::<String>();
        let fake = tokio::spawn(async move {
            let (mut first, _) = listener.accept().await.unwrap();
            read_head(&mut first).await;
            let init = chunk("id: ep-5\nevent: init\ndata: {}\n\n");
            first
                .write_all(format!("{HEAD}{init}").as_bytes())
                .await
                .unwrap();
            restarted.await.unwrap();
            let shutdown = chunk("event: shutdown\ndata: {\"reconnect_after_ms\":20}\n\n");
            let ending = format!("{}{shutdown}0\r\n\r\n", update(6));
            first.write_all(ending.as_bytes()).await.unwrap();
            drop(first);
            let (mut second, _) = listener.accept().await.unwrap();
            second_head.send(read_head(&mut second).await).unwrap();
            second
                .write_all(format!("{HEAD}{}", update(7)).as_bytes())
                .await
                .unwrap();
            // Open until the subscriber hangs up.
            let _ = second.read(&mut [0u8; 64]).await;
        });

        let pool = Pool::open(&PoolConfig {
            servers: [server].into(),
            stream_path: "/api/events".into(),
            count: 1,
            threads: 1,
            connect_concurrency: 1,
            source_offset: 0,
            reconnect: Some(Reconnect {
                jitter: Duration::from_millis(10),
                retry: Duration::from_millis(10),
                give_up: Duration::from_secs(5),
            }),
        })
        .unwrap();
        pool.wait_ready(Duration::from_secs(5)).await.unwrap();
        pool.mark().await;
        restart.send(()).unwrap();
        let started = Instant::now();
        let view = loop {
            let view = pool.restart_view(7).await;
            if view.live_at.len() == 1 || started.elapsed() > Duration::from_secs(5) {
                break view;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(view.live_at.len(), 1, "{view:?}");
        assert_eq!(view.reconnected_at.len(), 1);
        assert_eq!((view.shutdown_seen, view.resets, view.inits), (1, 0, 0));
        assert_eq!((view.attempts, view.failed_attempts), (1, 0));
        assert!(resumed_with
            .await
            .unwrap()
            .contains("last-event-id: ep-6\r\n"));
        let stats = pool.take_stats(7).await;
        assert_eq!((stats.lost, stats.duplicated, stats.deliveries), (0, 0, 2));
        assert_eq!(stats.ended_by_server, 1);
        pool.close(CloseMode::Graceful).await;
        fake.await.unwrap();
    }

    /// A pool over two addresses opens every other stream on each.
    #[tokio::test]
    async fn a_pool_splits_over_several_servers() {
        use tokio::io::AsyncReadExt;
        use tokio::net::TcpListener;

        async fn fake() -> (SocketAddr, Arc<AtomicUsize>) {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accepted = Arc::new(AtomicUsize::new(0));
            let count = accepted.clone();
            tokio::spawn(async move {
                loop {
                    let (mut socket, _) = listener.accept().await.unwrap();
                    count.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        let mut head = Vec::new();
                        while head_end(&head).is_none() {
                            let mut buf = [0u8; 1024];
                            match socket.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        let init = "id: ep-0\nevent: init\ndata: {}\n\n";
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                             transfer-encoding: chunked\r\n\r\n{:x}\r\n{init}\r\n",
                            init.len()
                        );
                        socket.write_all(response.as_bytes()).await.unwrap();
                        // Open until the subscriber hangs up.
                        let _ = socket.read(&mut [0u8; 64]).await;
                    });
                }
            });
            (addr, accepted)
        }

        let (first, first_count) = fake().await;
        let (second, second_count) = fake().await;
        let pool = Pool::open(&PoolConfig {
            servers: [first, second].into(),
            stream_path: "/api/events".into(),
            count: 6,
            threads: 2,
            connect_concurrency: 6,
            source_offset: 0,
            reconnect: None,
        })
        .unwrap();
        pool.wait_ready(Duration::from_secs(5)).await.unwrap();
        assert_eq!(pool.ready(), 6);
        assert_eq!(first_count.load(Ordering::SeqCst), 3);
        assert_eq!(second_count.load(Ordering::SeqCst), 3);
        pool.close(CloseMode::Graceful).await;
    }

    #[test]
    fn an_error_status_fails_the_subscriber() {
        let local = local(1);
        let subscriber = Subscriber {
            slot: 0,
            index: 0,
            local,
        };
        let mut connection = Connection::default();
        let error = subscriber
            .process(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy",
                0.0,
                &mut connection,
            )
            .unwrap_err();
        assert!(format!("{error:#}").contains("503"), "{error:#}");
    }

    #[test]
    fn an_init_without_id_starts_at_zero() {
        let local = local(1);
        let subscriber = Subscriber {
            slot: 0,
            index: 0,
            local: local.clone(),
        };
        let mut connection = Connection::default();
        let raw = response(
            "event: init\ndata: {}\n\nid: e-1\nevent: update\ndata: {\"id\":\"a\",\"value\":{}}\n\n\
             id: e-3\nevent: update\ndata: {\"id\":\"a\",\"value\":{}}\n\n",
            1000,
        );
        assert!(subscriber
            .process(raw.as_bytes(), 0.0, &mut connection)
            .unwrap());
        let stats = local.stats.borrow();
        assert_eq!(
            (stats.deliveries, stats.lost, stats.foreign_epoch),
            (2, 1, 0)
        );
        assert_eq!(local.trackers.borrow()[0].behind(5), 2);
    }
}
