//! Viewers through server restarts: how long from the signal until every
//! viewer is live again, and whether any of them had to be sent a `reset`.
//!
//! The viewers reconnect as a browser's `EventSource` does (see
//! [`Reconnect`]): after the stream ends they wait the `shutdown` event's
//! `reconnect_after_ms` (if one came) plus a little jitter, then send a new
//! `GET` with `Last-Event-ID`, retrying refused connections until the server is
//! back. A publisher keeps publishing a few events per second throughout,
//! retrying failed publishes every 25 ms. A viewer is *live again* once a
//! stream it opened after the signal brought it the first event committed by
//! the restarted server.
//!
//! The first server is the one `--pid` names (started by the caller); this
//! signals it, waits until it has exited, and starts the next one itself with
//! the command given after `--` (same address, same data directory). Each
//! signal of `--signals` restarts the server once more; the last server is
//! stopped with SIGTERM at the end.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::http;
use crate::publisher::SinglePublisher;
use crate::scenarios::{ms, progress, row, secs, Ctx};
use crate::subscriber::{CloseMode, Reconnect};

/// How the server is stopped before it is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RestartSignal {
    /// Graceful: streams get a `shutdown` event, then end.
    Term,
    /// A crash: the connections just close.
    Kill,
}

impl RestartSignal {
    fn number(self) -> libc::c_int {
        match self {
            RestartSignal::Term => libc::SIGTERM,
            RestartSignal::Kill => libc::SIGKILL,
        }
    }

    fn name(self) -> &'static str {
        match self {
            RestartSignal::Term => "SIGTERM",
            RestartSignal::Kill => "SIGKILL",
        }
    }
}

pub struct Options {
    pub viewers: usize,
    /// Events per second published throughout.
    pub rate: f64,
    pub signals: Vec<RestartSignal>,
    pub reconnect: Reconnect,
    /// How long after the signal every viewer must be live again.
    pub timeout: Duration,
    /// Publishing before each signal.
    pub settle: Duration,
    /// Starts the server again: program and arguments.
    pub command: Vec<String>,
    /// Where the restarted servers' output goes (appended).
    pub server_log: Option<PathBuf>,
}

/// A server process: the caller's, or one this started.
enum Server {
    External(u32),
    Child(Child),
}

impl Server {
    fn pid(&self) -> u32 {
        match self {
            Server::External(pid) => *pid,
            Server::Child(child) => child.id(),
        }
    }

    fn signal(&self, signal: RestartSignal) -> Result<()> {
        let pid = self.pid();
        // SAFETY: kill() has no memory-safety preconditions.
        if unsafe { libc::kill(pid as libc::pid_t, signal.number()) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("sending {} to {pid}", signal.name()));
        }
        Ok(())
    }

    /// Whether the process has exited. A zombie (exited, not yet reaped by
    /// its parent) counts: its sockets and file locks are gone.
    fn exited(&mut self) -> Result<bool> {
        match self {
            Server::Child(child) => Ok(child.try_wait()?.is_some()),
            Server::External(pid) => {
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    return Ok(true);
                };
                let state = stat
                    .rfind(')')
                    .and_then(|end| stat[end + 1..].split_whitespace().next());
                Ok(matches!(state, None | Some("Z" | "X")))
            }
        }
    }

    /// Polls every 2 ms; `false` if still running after `timeout`.
    async fn wait_exit(&mut self, timeout: Duration) -> Result<bool> {
        let started = Instant::now();
        while !self.exited()? {
            if started.elapsed() > timeout {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(true)
    }

    /// SIGTERM, then SIGKILL if it is still running 15 s later.
    async fn stop(mut self) -> Result<()> {
        if self.exited()? {
            return Ok(());
        }
        self.signal(RestartSignal::Term)?;
        if !self.wait_exit(Duration::from_secs(15)).await? {
            progress(format_args!(
                "warning: the server did not exit 15 s after SIGTERM; killing it"
            ));
            self.signal(RestartSignal::Kill)?;
            self.wait_exit(Duration::from_secs(5)).await?;
        }
        Ok(())
    }
}

fn spawn_server(command: &[String], log: Option<&Path>) -> Result<Server> {
    let Some((program, args)) = command.split_first() else {
        bail!("no command to start the server again (give it after `--`)");
    };
    let (stdout, stderr) = match log {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            (Stdio::from(file.try_clone()?), Stdio::from(file))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    Ok(Server::Child(child))
}

/// One publish attempt of the background publisher.
struct Attempt {
    answered: Instant,
    /// The event's sequence number; `None` if the publish failed.
    seq: Option<u64>,
}

/// Publishes `rate` events per second in the background; a failed publish
/// is retried after 25 ms (the server is restarting), as a publisher with
/// retries would.
struct BackgroundPublisher {
    attempts: Arc<Mutex<Vec<Attempt>>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl BackgroundPublisher {
    fn start(mut publisher: SinglePublisher, rate: f64) -> BackgroundPublisher {
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = watch::channel(false);
        let period = Duration::from_secs_f64(1.0 / rate);
        let record = attempts.clone();
        let task = tokio::spawn(async move {
            let mut next = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    biased;
                    _ = stopped.changed() => return,
                    _ = tokio::time::sleep_until(next) => {}
                }
                let seq = publisher.publish(Duration::from_secs(2)).await.ok();
                let answered = Instant::now();
                record
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Attempt { answered, seq });
                let now = tokio::time::Instant::now();
                next = if seq.is_some() {
                    (next + period).max(now)
                } else {
                    now + Duration::from_millis(25)
                };
            }
        });
        BackgroundPublisher {
            attempts,
            stop,
            task,
        }
    }

    fn with<T>(&self, read: impl FnOnce(&[Attempt]) -> T) -> T {
        read(&self.attempts.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The highest sequence number published so far.
    fn last_seq(&self) -> u64 {
        self.with(|attempts| attempts.iter().filter_map(|a| a.seq).max().unwrap_or(0))
    }

    /// The first event committed after `since` (by a server started after it),
    /// with when its publish was answered; and the publishes that failed.
    fn first_after(&self, since: Instant) -> (Option<(u64, Instant)>, usize) {
        self.with(|attempts| {
            let after = attempts.iter().filter(|a| a.answered >= since);
            let failed = after.clone().filter(|a| a.seq.is_none()).count();
            let first = after
                .filter_map(|a| a.seq.map(|seq| (seq, a.answered)))
                .min_by_key(|&(seq, _)| seq);
            (first, failed)
        })
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Times from the signal, in the order they happen.
struct Round {
    signal: RestartSignal,
    viewers: usize,
    live: usize,
    exited: Duration,
    ready: Option<Duration>,
    first_event: Option<Duration>,
    failed_publishes: usize,
    all_reconnected: Option<Duration>,
    all_live: Option<Duration>,
    live_p50: Option<Duration>,
    live_p99: Option<Duration>,
    reset_viewers: usize,
    server_resets: Option<u64>,
    server_replayed: Option<u64>,
    shutdown_seen: usize,
    failed_attempts: u64,
    lost: u64,
    duplicated: u64,
    out_of_order: u64,
}

const COLUMNS: [&str; 14] = [
    "signal",
    "viewers live again",
    "old server gone",
    "new server ready",
    "first event after restart",
    "all reconnected",
    "all live",
    "live p50 / p99",
    "viewers reset (client / server)",
    "events replayed (server)",
    "lost / dup / reordered",
    "shutdown events seen",
    "failed connects",
    "failed publishes",
];

impl Round {
    fn cells(&self) -> Vec<String> {
        let time = |value: Option<Duration>| value.map_or_else(|| "—".to_owned(), secs);
        let count = |value: Option<u64>| value.map_or_else(|| "?".to_owned(), |v| v.to_string());
        vec![
            self.signal.name().to_owned(),
            format!("{} of {}", self.live, self.viewers),
            secs(self.exited),
            time(self.ready),
            time(self.first_event),
            time(self.all_reconnected),
            time(self.all_live),
            format!("{} / {}", time(self.live_p50), time(self.live_p99)),
            format!("{} / {}", self.reset_viewers, count(self.server_resets)),
            count(self.server_replayed),
            format!(
                "{} / {} / {}",
                self.lost, self.duplicated, self.out_of_order
            ),
            self.shutdown_seen.to_string(),
            self.failed_attempts.to_string(),
            self.failed_publishes.to_string(),
        ]
    }
}

fn quantile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[index])
}

pub async fn restart(ctx: &Ctx, options: Options) -> Result<()> {
    if options.command.is_empty() {
        bail!("give the command that starts the server again after `--`");
    }
    if !(options.rate > 0.0 && options.rate.is_finite()) {
        bail!("--rate must be positive");
    }
    let token = ctx
        .token
        .as_deref()
        .context("this scenario publishes: pass --token (the server's --publish-token)")?;
    // Fails early, with the server's answer, if publishing does not work.
    SinglePublisher::new(ctx.server, token)
        .publish(Duration::from_secs(5))
        .await
        .context("publishing before the first restart")?;
    progress(format_args!(
        "restart: opening {} viewers that reconnect",
        options.viewers
    ));
    let (pool, took) = ctx
        .open_pool_with(options.viewers, Some(options.reconnect))
        .await?;
    let viewers = pool.ready();
    progress(format_args!("{viewers} viewers ready in {}", secs(took)));
    let publisher =
        BackgroundPublisher::start(SinglePublisher::new(ctx.server, token), options.rate);
    ctx.table(
        &format!(
            "Restart: {viewers} viewers, {} events/s, times from the signal",
            options.rate
        ),
        &COLUMNS,
    );
    let mut server = Server::External(ctx.pid);
    let mut outcome = Ok(());
    for &signal in &options.signals {
        match round(
            ctx,
            &options,
            &pool,
            &publisher,
            &mut server,
            signal,
            viewers,
        )
        .await
        {
            Ok(round) => row(&round.cells()),
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    publisher.stop().await;
    pool.close(CloseMode::Graceful).await;
    // The caller stops the server it started; this stops the ones it started.
    if matches!(server, Server::Child(_)) {
        server.stop().await?;
    }
    outcome
}

/// One restart: signal, wait for the exit, start again, wait for every viewer.
#[allow(clippy::too_many_arguments)]
async fn round(
    ctx: &Ctx,
    options: &Options,
    pool: &crate::subscriber::Pool,
    publisher: &BackgroundPublisher,
    server: &mut Server,
    signal: RestartSignal,
    viewers: usize,
) -> Result<Round> {
    tokio::time::sleep(options.settle).await;
    let before = publisher.last_seq();
    if !pool.drain(before, Duration::from_secs(10)).await {
        progress(format_args!(
            "note: not every viewer had event {before} before the signal"
        ));
    }
    pool.take_stats(before).await;
    pool.mark().await;
    progress(format_args!(
        "restart: {} to the server (pid {})",
        signal.name(),
        server.pid()
    ));
    let signalled = Instant::now();
    server.signal(signal)?;
    if !server.wait_exit(Duration::from_secs(30)).await? {
        bail!("the server was still running 30 s after {}", signal.name());
    }
    let exited = signalled.elapsed();
    let gone = Instant::now();
    *server = spawn_server(&options.command, options.server_log.as_deref())?;
    let deadline = signalled + options.timeout;
    let mut ready = None;
    let mut first = None;
    let mut view = None;
    loop {
        if server.exited()? {
            bail!(
                "the restarted server exited (see {})",
                options
                    .server_log
                    .as_deref()
                    .map_or_else(|| "its output".into(), |p| p.display().to_string())
            );
        }
        if ready.is_none() {
            if let Ok(response) = http::get_once(ctx.server, "/readyz").await {
                if response.status == 200 {
                    ready = Some(signalled.elapsed());
                }
            }
        }
        if first.is_none() {
            first = publisher.first_after(gone).0;
        }
        if let Some((seq, _)) = first {
            let current = pool.restart_view(seq).await;
            let done = current.live_at.len() >= viewers;
            view = Some(current);
            if done {
                break;
            }
        }
        if Instant::now() > deadline {
            progress(format_args!(
                "warning: not every viewer was live again {} after the signal",
                secs(options.timeout)
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let view = match view {
        Some(view) => view,
        None => pool.restart_view(u64::MAX).await,
    };
    let (_, failed_publishes) = publisher.first_after(gone);
    // Everything published so far reached every viewer (or is counted lost).
    let last = publisher.last_seq();
    pool.drain(last, Duration::from_secs(10)).await;
    let stats = pool.take_stats(last).await;
    let metrics = http::metrics(ctx.server).await.ok();
    let metric = |name| {
        metrics
            .as_deref()
            .and_then(|text| http::metric_value(text, name))
            .map(|value| value as u64)
    };
    let since = |at: &Instant| at.saturating_duration_since(signalled);
    let mut live: Vec<Duration> = view.live_at.iter().map(since).collect();
    live.sort_unstable();
    let reconnected = view.reconnected_at.iter().map(since).max();
    let round = Round {
        signal,
        viewers,
        live: live.len(),
        exited,
        ready,
        first_event: first.map(|(_, at)| since(&at)),
        failed_publishes,
        all_reconnected: reconnected.filter(|_| view.reconnected_at.len() >= viewers),
        all_live: live.last().copied().filter(|_| live.len() >= viewers),
        live_p50: quantile(&live, 0.5),
        live_p99: quantile(&live, 0.99),
        reset_viewers: view.reset_subscribers,
        server_resets: metric("pulseboard_resets_sent_total"),
        server_replayed: metric("pulseboard_events_replayed_total"),
        shutdown_seen: view.shutdown_seen,
        failed_attempts: view.failed_attempts,
        lost: stats.lost,
        duplicated: stats.duplicated,
        out_of_order: stats.out_of_order,
    };
    progress(format_args!(
        "restart: {} connection attempts ({} failed), {} inits, {} resets; live p50 {}",
        view.attempts,
        view.failed_attempts,
        view.inits,
        view.resets,
        round
            .live_p50
            .map_or_else(|| "—".to_owned(), |d| ms(d.as_secs_f64() * 1000.0)),
    ));
    Ok(round)
}
