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
    pub server: SocketAddr,
    /// The request target of every stream, e.g. `/api/events?dashboard=`.
    pub stream_path: Arc<str>,
    pub count: usize,
    pub threads: usize,
    /// Connections being opened at once (all threads together).
    pub connect_concurrency: usize,
    /// The first source address used is 127.0.0.(2 + offset % 249), so that
    /// successive pools do not reuse ports still in TIME_WAIT.
    pub source_offset: usize,
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
            handles.push(tokio::task::spawn_local(subscriber.run(
                config.server,
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
        let permit = tokio::select! {
            biased;
            _ = &mut stopped => return,
            permit = permits.acquire() => permit.ok(),
        };
        let socket = match connect(server, &path, source).await {
            Ok(socket) => socket,
            Err(error) => {
                self.local.progress.fail(error);
                return;
            }
        };
        let mut connection = Connection::default();
        let mut permit = permit;
        let hang_up = loop {
            let outcome = tokio::select! {
                biased;
                _ = &mut stopped => break true,
                guard = socket.readable() => match guard {
                    Ok(mut guard) => {
                        let outcome = self.read(guard.get_inner(), &mut connection);
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
                Ok(None) => {
                    self.ended(&connection, anyhow::anyhow!("server closed the stream"));
                    break false;
                }
                Err(error) => {
                    self.ended(&connection, error);
                    break false;
                }
            }
            if connection.initialised {
                // Connected: let the next one start its handshake.
                permit.take();
            }
        };
        self.local.live.borrow_mut()[self.slot] = false;
        drop(permit);
        if hang_up {
            self.hang_up(socket.into_inner());
        }
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
        let body_ended = connection.feed(input)?;
        let mut stats = self.local.stats.borrow_mut();
        let mut trackers = self.local.trackers.borrow_mut();
        let tracker = &mut trackers[self.slot];
        let mut became_ready = false;
        let mut updates = 0;
        let epoch = &mut connection.epoch;
        connection.events.drain(|event| match event.name {
            b"update" | b"remove" => {
                updates += u64::from(event.name == b"update");
                on_update(&event, epoch, tracker, &mut stats, now_us);
            }
            b"init" => {
                if epoch.is_none() {
                    became_ready = true;
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
                match event.id.and_then(parse_event_id) {
                    Some((id_epoch, seq)) => {
                        *epoch = Some(id_epoch.to_vec());
                        stats.resynced_over += tracker.on_reset(seq);
                    }
                    None => stats.malformed += 1,
                }
            }
            b"heartbeat" => stats.heartbeats += 1,
            _ => {}
        });
        stats.deliveries += updates;
        if became_ready {
            connection.initialised = true;
            self.local.live.borrow_mut()[self.slot] = true;
            self.local.progress.ready.fetch_add(1, Ordering::Relaxed);
        }
        Ok(!body_ended)
    }
}

fn on_update(
    event: &Event<'_>,
    epoch: &Option<Vec<u8>>,
    tracker: &mut SeqTracker,
    stats: &mut Stats,
    now_us: f64,
) {
    let Some((id_epoch, seq)) = event.id.and_then(parse_event_id) else {
        stats.malformed += 1;
        return;
    };
    match epoch {
        // An `init` without an id (nothing published yet) names no epoch.
        Some(epoch) if !epoch.is_empty() && epoch.as_slice() != id_epoch => {
            stats.foreign_epoch += 1;
            return;
        }
        _ => {}
    }
    stats.count(tracker.on_update(seq));
    if event.name != b"update" {
        return;
    }
    match serde_json::from_slice::<UpdateData<'_>>(&event.data) {
        Ok(UpdateData {
            id,
            value: NumberValue { value: Some(sent) },
        }) if id == BENCH_WIDGET => stats.record_latency_us(now_us - sent),
        Ok(_) => {}
        Err(_) => stats.malformed += 1,
    }
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
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {server}\r\nAccept: text/event-stream\r\n\
         Cache-Control: no-cache\r\n\r\n"
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
