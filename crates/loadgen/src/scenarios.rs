//! The four measurements. Each prints a markdown table to stdout, row by row as
//! they complete; progress goes to stderr.

use std::cell::Cell;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::http;
use crate::procfs::{self, CpuMeter};
use crate::publisher::{PublishRun, Publisher};
use crate::stats::Stats;
use crate::subscriber::{CloseMode, Pool, PoolConfig, Reconnect, PER_SOURCE_ADDR};

/// What every scenario needs: where the server is and how to load it.
pub struct Ctx {
    pub server: SocketAddr,
    /// Where subscribers connect, in turn (`--subscribe-addr`; `server`
    /// unless given): several instances sharing one log.
    subscribe_addrs: std::sync::Arc<[SocketAddr]>,
    /// Where publishes go, in turn (`--publish-addr`; `server` unless given).
    publish_addrs: Vec<SocketAddr>,
    /// Processes whose CPU the `server CPU` column shows instead of `pid`'s,
    /// by name (`--cpu-pid`): the instances and Redis.
    cpu_pids: Vec<(String, u32)>,
    /// The request target of every subscriber's stream.
    pub stream_path: std::sync::Arc<str>,
    pub pid: u32,
    pub token: Option<String>,
    pub threads: usize,
    pub connect_concurrency: usize,
    /// Keep-alive connections the publisher may have requests in flight on.
    pub publish_connections: usize,
    /// Print each table's header (off when appending rows to an earlier table).
    pub header: bool,
    /// Rotates source addresses between pools (ports in TIME_WAIT).
    source_offset: Cell<usize>,
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        server: SocketAddr,
        stream_path: &str,
        pid: u32,
        token: Option<String>,
        threads: usize,
        connect_concurrency: usize,
        publish_connections: usize,
        header: bool,
    ) -> Ctx {
        Ctx {
            server,
            subscribe_addrs: [server].into(),
            publish_addrs: vec![server],
            cpu_pids: Vec::new(),
            stream_path: stream_path.into(),
            pid,
            token,
            threads,
            connect_concurrency,
            publish_connections,
            header,
            source_offset: Cell::new(0),
        }
    }

    /// Spreads subscribers and publishes over several addresses (empty: the
    /// server only), and shows the CPU of the named processes.
    pub fn spread(
        mut self,
        subscribe: Vec<SocketAddr>,
        publish: Vec<SocketAddr>,
        cpu_pids: Vec<(String, u32)>,
    ) -> Ctx {
        if !subscribe.is_empty() {
            self.subscribe_addrs = subscribe.into();
        }
        if !publish.is_empty() {
            self.publish_addrs = publish;
        }
        self.cpu_pids = cpu_pids;
        self
    }

    /// The servers subscribers connect to, each once.
    fn stream_servers(&self) -> Vec<SocketAddr> {
        let mut servers = self.subscribe_addrs.to_vec();
        servers.sort_unstable();
        servers.dedup();
        servers
    }

    /// `pulseboard_open_streams` summed over the servers subscribers use.
    async fn open_streams(&self) -> Result<u64> {
        let mut total = 0;
        for server in self.stream_servers() {
            total += http::open_streams(server).await?;
        }
        Ok(total)
    }

    async fn open_pool(&self, count: usize) -> Result<(Pool, Duration)> {
        self.open_pool_with(count, None).await
    }

    /// A pool whose subscribers reconnect (with `Last-Event-ID`) if asked to.
    pub async fn open_pool_with(
        &self,
        count: usize,
        reconnect: Option<Reconnect>,
    ) -> Result<(Pool, Duration)> {
        let offset = self.source_offset.get();
        self.source_offset
            .set(offset + count.div_ceil(PER_SOURCE_ADDR).max(1));
        let pool = Pool::open(&PoolConfig {
            servers: self.subscribe_addrs.clone(),
            stream_path: self.stream_path.clone(),
            count,
            threads: self.threads,
            connect_concurrency: self.connect_concurrency,
            source_offset: offset,
            reconnect,
        })?;
        let timeout = Duration::from_secs(60 + count as u64 / 100);
        let took = pool.wait_ready(timeout).await?;
        if pool.failed() > 0 {
            progress(format_args!(
                "warning: {} of {count} subscribers failed: {}",
                pool.failed(),
                pool.first_error().unwrap_or_default()
            ));
        }
        Ok((pool, took))
    }

    fn publisher(&self) -> Result<Publisher> {
        let token = self
            .token
            .as_deref()
            .context("this scenario publishes: pass --token (the server's --publish-token)")?;
        Ok(Publisher::new(
            &self.publish_addrs,
            token,
            self.publish_connections,
        ))
    }

    fn rss(&self) -> Result<u64> {
        procfs::rss_kib(self.pid)
    }

    fn fds(&self) -> Result<usize> {
        procfs::fd_count(self.pid)
    }

    pub fn table(&self, title: &str, columns: &[&str]) {
        if self.header {
            println!("\n### {title}\n");
            println!("| {} |", columns.join(" | "));
            println!(
                "|{}",
                columns
                    .iter()
                    .map(|c| format!("{}|", "-".repeat(c.len().max(3) + 2)))
                    .collect::<String>()
            );
        }
        flush();
    }
}

pub fn row(cells: &[String]) {
    println!("| {} |", cells.join(" | "));
    flush();
}

pub fn flush() {
    let _ = std::io::stdout().flush();
}

pub fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("loadgen: {message}");
}

fn kib(value: u64) -> String {
    if value >= 10 * 1024 {
        format!("{:.1} MiB", value as f64 / 1024.0)
    } else {
        format!("{value} KiB")
    }
}

fn signed_kib(value: i64) -> String {
    let sign = if value < 0 { "−" } else { "+" };
    format!("{sign}{}", kib(value.unsigned_abs()))
}

pub fn secs(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{:.2} s", duration.as_secs_f64())
    }
}

pub fn ms(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.2} s", value / 1000.0)
    } else if value >= 10.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// Waits until the server's RSS stops moving (within 64 KiB over a second).
async fn settled_rss(ctx: &Ctx) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut previous = ctx.rss()?;
    let mut steady = 0;
    while Instant::now() < deadline && steady < 4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let current = ctx.rss()?;
        steady = if current.abs_diff(previous) <= 64 {
            steady + 1
        } else {
            0
        };
        previous = current;
    }
    Ok(previous)
}

/// Polls every 50 ms until the server holds at most `baseline` fds.
async fn fds_back_to(ctx: &Ctx, baseline: usize, timeout: Duration) -> Result<Option<Duration>> {
    let started = Instant::now();
    loop {
        if ctx.fds()? <= baseline {
            return Ok(Some(started.elapsed()));
        }
        if started.elapsed() > timeout {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Server memory and file descriptors per idle stream.
pub async fn idle(ctx: &Ctx, counts: &[usize]) -> Result<()> {
    ctx.table(
        "Idle streams: server memory and file descriptors",
        &[
            "streams",
            "connect + init",
            "RSS before",
            "RSS with streams",
            "Δ RSS",
            "per stream",
            "fds before",
            "fds with streams",
            "fds released in",
            "RSS 1 s after close",
        ],
    );
    for &count in counts {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_before = ctx.rss()?;
        let fds_before = ctx.fds()?;
        progress(format_args!("idle: opening {count} streams"));
        let (pool, took) = ctx.open_pool(count).await?;
        let open = pool.ready();
        let rss_with = settled_rss(ctx).await?;
        let fds_with = ctx.fds()?;
        let server_count = ctx.open_streams().await?;
        if server_count != open as u64 {
            progress(format_args!(
                "note: the server counts {server_count} open streams, we hold {open}"
            ));
        }
        let delta = rss_with as i64 - rss_before as i64;
        pool.close(CloseMode::Graceful).await;
        let released = fds_back_to(ctx, fds_before, Duration::from_secs(30)).await?;
        // The target: a closed client's memory is freed within 1 s.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss_after = ctx.rss()?;
        let label = if open == count {
            count.to_string()
        } else {
            format!("{open} of {count}")
        };
        row(&[
            label,
            secs(took),
            kib(rss_before),
            kib(rss_with),
            signed_kib(delta),
            format!("{:.1} KiB", delta as f64 / open.max(1) as f64),
            fds_before.to_string(),
            fds_with.to_string(),
            released.map_or_else(|| "not in 30 s".to_owned(), secs),
            kib(rss_after),
        ]);
    }
    Ok(())
}

/// One publishing window over an open pool, and what the subscribers saw.
struct Step {
    subscribers: usize,
    rate: f64,
    publish: PublishRun,
    stats: Stats,
    wall: f64,
    server_cpu: f64,
    /// With `--cpu-pid`: each named process's CPU (shown instead).
    cpu_others: Vec<(String, f64)>,
    /// The whole machine's busy CPU, all processes (shown with `--cpu-pid`).
    machine_cpu: f64,
    loadgen_cpu: f64,
    drained: bool,
    /// Events each live subscriber should have received.
    expected: u64,
}

impl Step {
    fn clean(&self) -> bool {
        self.stats.lost == 0
            && self.stats.duplicated == 0
            && self.stats.out_of_order == 0
            && self.stats.foreign_epoch == 0
    }

    /// `61 %`, or with `--cpu-pid` each process, the sum and the whole
    /// machine's (every process, ours or not; of 100 % per core):
    /// `a 61 + b 58 + redis 9 = 128 % (machine 195 %)`.
    fn server_cpu_cell(&self) -> String {
        if self.cpu_others.is_empty() {
            return format!("{:.0} %", self.server_cpu);
        }
        let each: Vec<String> = self
            .cpu_others
            .iter()
            .map(|(name, pct)| format!("{name} {pct:.0}"))
            .collect();
        let total: f64 = self.cpu_others.iter().map(|(_, pct)| pct).sum();
        format!(
            "{} = {total:.0} % (machine {:.0} %)",
            each.join(" + "),
            self.machine_cpu
        )
    }

    fn cells(&self) -> Vec<String> {
        let stats = &self.stats;
        vec![
            self.subscribers.to_string(),
            format!("{} / {:.1}", self.rate, self.publish.achieved_rate()),
            self.publish.published.to_string(),
            format!("{:.0}", stats.deliveries as f64 / self.wall),
            ms(stats.latency_ms(0.5)),
            ms(stats.latency_ms(0.99)),
            ms(stats.max_latency_ms()),
            stats.lost.to_string(),
            stats.duplicated.to_string(),
            stats.out_of_order.to_string(),
            if stats.resets == 0 {
                "0".to_owned()
            } else {
                format!("{} ({} ev)", stats.resets, stats.resynced_over)
            },
            self.server_cpu_cell(),
            format!("{:.0} %", self.loadgen_cpu),
            ms(self.publish.round_trip.value_at_quantile(0.99) as f64 / 1000.0),
        ]
    }
}

const STEP_COLUMNS: [&str; 14] = [
    "subscribers",
    "events/s target / sent",
    "published",
    "deliveries/s",
    "p50",
    "p99",
    "max",
    "lost",
    "dup",
    "out of order",
    "resets (events resynced)",
    "server CPU",
    "loadgen CPU",
    "publish p99",
];

/// Publishes at `rate` for `seconds`, waits for the subscribers to catch up
/// (at most `drain`), and collects their stats.
async fn step(
    ctx: &Ctx,
    pool: &Pool,
    publisher: &mut Publisher,
    rate: f64,
    seconds: f64,
    drain: Duration,
) -> Result<Step> {
    // Whatever arrived between windows (heartbeats, warm-up) is not counted.
    pool.take_stats(publisher.last_seq).await;
    let server_before = ServerCounts::read(&ctx.stream_servers()).await;
    let first_seq = publisher.last_seq + 1;
    let cpu = CpuMeter::start(ctx.pid, &ctx.cpu_pids)?;
    let publish = publisher
        .run(rate, Duration::from_secs_f64(seconds))
        .await?;
    if publish.errors > 0 {
        progress(format_args!(
            "warning: {} publishes failed: {}",
            publish.errors,
            publish.first_error.as_deref().unwrap_or_default()
        ));
    }
    let final_seq = publisher.last_seq;
    let drained = pool.drain(final_seq, drain).await;
    let cpu = cpu.read()?;
    let stats = pool.take_stats(final_seq).await;
    if !drained {
        progress(format_args!(
            "note: not every subscriber had caught up {drain:?} after the last publish; \
             what it had not received is counted lost"
        ));
    }
    let server = ServerCounts::read(&ctx.stream_servers())
        .await
        .since(&server_before);
    if server.resets != stats.resets || server.dropped > 0 {
        progress(format_args!(
            "note: the server counted {} resets and dropped {} subscribers; the subscribers saw {} resets",
            server.resets, server.dropped, stats.resets
        ));
    }
    if stats.ended_by_server > 0 || stats.malformed > 0 || stats.foreign_epoch > 0 {
        progress(format_args!(
            "note: {} streams ended by the server, {} malformed events, {} updates from another epoch",
            stats.ended_by_server, stats.malformed, stats.foreign_epoch
        ));
    }
    Ok(Step {
        subscribers: pool.ready(),
        rate,
        expected: final_seq + 1 - first_seq,
        publish,
        stats,
        wall: cpu.wall_secs,
        server_cpu: cpu.server_pct,
        cpu_others: cpu.others_pct,
        machine_cpu: cpu.machine_pct,
        loadgen_cpu: cpu.loadgen_pct,
        drained,
    })
}

/// Counters of the servers' own lag accounting, from /metrics, summed over
/// the servers (zero when unavailable: only a cross-check).
#[derive(Default)]
struct ServerCounts {
    resets: u64,
    dropped: u64,
}

impl ServerCounts {
    async fn read(servers: &[SocketAddr]) -> ServerCounts {
        let mut counts = ServerCounts::default();
        for &server in servers {
            let Ok(text) = http::metrics(server).await else {
                continue;
            };
            let value = |name| http::metric_value(&text, name).unwrap_or(0.0) as u64;
            counts.resets += value("pulseboard_resets_sent_total");
            counts.dropped += value("pulseboard_subscribers_dropped_total");
        }
        counts
    }

    fn since(&self, before: &ServerCounts) -> ServerCounts {
        ServerCounts {
            resets: self.resets.saturating_sub(before.resets),
            dropped: self.dropped.saturating_sub(before.dropped),
        }
    }
}

/// Opens `count` subscribers and checks that the server publishes.
async fn prepare(ctx: &Ctx, count: usize) -> Result<(Pool, Publisher)> {
    let mut publisher = ctx.publisher()?;
    // Fails early, with the server's answer, if publishing does not work.
    publisher.publish_one().await?;
    let servers = ctx.subscribe_addrs.len();
    if servers > 1 {
        progress(format_args!(
            "opening {count} subscribers over {servers} servers; publishing to {}",
            ctx.publish_addrs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    } else {
        progress(format_args!("opening {count} subscribers"));
    }
    let (pool, took) = ctx.open_pool(count).await?;
    progress(format_args!(
        "{} subscribers ready in {}",
        pool.ready(),
        secs(took)
    ));
    Ok((pool, publisher))
}

/// Latency and delivery of `rate` events/s to `subscribers` streams.
pub async fn fanout(
    ctx: &Ctx,
    subscribers: usize,
    rate: f64,
    seconds: f64,
    warmup: f64,
) -> Result<()> {
    let (pool, mut publisher) = prepare(ctx, subscribers).await?;
    if warmup > 0.0 {
        progress(format_args!("warm-up: {warmup} s at {rate} events/s"));
        step(
            ctx,
            &pool,
            &mut publisher,
            rate,
            warmup,
            Duration::from_secs(10),
        )
        .await?;
    }
    progress(format_args!(
        "fanout: {rate} events/s to {subscribers} subscribers for {seconds} s"
    ));
    let result = step(
        ctx,
        &pool,
        &mut publisher,
        rate,
        seconds,
        Duration::from_secs(10),
    )
    .await?;
    ctx.table("Fan-out: publish → receive latency", &STEP_COLUMNS);
    row(&result.cells());
    report_step(&result);
    pool.close(CloseMode::Graceful).await;
    Ok(())
}

fn report_step(step: &Step) {
    let expected = step.expected * step.subscribers as u64;
    progress(format_args!(
        "{} of {expected} expected deliveries received{}{}",
        step.stats.deliveries,
        if step.drained { "" } else { " (not drained)" },
        if step.publish.contiguous {
            ""
        } else {
            "; the ids the server returned to the publisher were not contiguous"
        },
    ));
}

/// The highest rate whose p99 stays within a target, stepping rates up.
pub async fn find_rate(
    ctx: &Ctx,
    subscribers: usize,
    p99_ms: f64,
    rates: &[f64],
    seconds: f64,
    stop_after_failures: usize,
) -> Result<()> {
    if rates.is_empty() {
        bail!("no rates to try");
    }
    let (pool, mut publisher) = prepare(ctx, subscribers).await?;
    progress(format_args!("warm-up: 2 s at {} events/s", rates[0]));
    step(
        ctx,
        &pool,
        &mut publisher,
        rates[0],
        2.0,
        Duration::from_secs(10),
    )
    .await?;
    let mut columns = STEP_COLUMNS.to_vec();
    columns.push("p99 ≤ target");
    ctx.table(
        &format!("Sustainable rate: p99 ≤ {p99_ms} ms to {subscribers} subscribers"),
        &columns,
    );
    let mut best: Option<f64> = None;
    // Highest rate up to which every step was silent-loss-free / complete.
    let (mut no_silent_loss, mut complete): (Option<f64>, Option<f64>) = (None, None);
    let (mut silent_seen, mut incomplete_seen) = (false, false);
    let mut failures = 0;
    for &rate in rates {
        progress(format_args!("find-rate: {rate} events/s for {seconds} s"));
        let result = step(
            ctx,
            &pool,
            &mut publisher,
            rate,
            seconds,
            Duration::from_secs(10),
        )
        .await?;
        let pass = result.stats.latency_ms(0.99) <= p99_ms && result.drained;
        let mut cells = result.cells();
        cells.push(if pass { "yes" } else { "no" }.to_owned());
        row(&cells);
        report_step(&result);
        silent_seen |= !result.clean();
        incomplete_seen |= !result.clean() || result.stats.resets > 0;
        if !silent_seen {
            no_silent_loss = Some(rate);
        }
        if !incomplete_seen {
            complete = Some(rate);
        }
        if pass {
            best = Some(best.map_or(rate, |b: f64| b.max(rate)));
            failures = 0;
        } else {
            failures += 1;
            if stop_after_failures > 0 && failures >= stop_after_failures {
                progress(format_args!("stopping after {failures} failed steps"));
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!();
    match best {
        Some(rate) => println!(
            "Highest rate with p99 ≤ {p99_ms} ms to {subscribers} subscribers: **{rate} events/s**."
        ),
        None => println!("No rate tried kept p99 ≤ {p99_ms} ms to {subscribers} subscribers."),
    }
    match complete {
        Some(rate) => println!(
            "Every event reached every subscriber (no loss, duplicate, reordering or reset) up to {rate} events/s."
        ),
        None => println!("Not every event reached every subscriber even at the lowest rate."),
    }
    match no_silent_loss {
        Some(rate) => println!(
            "No silent loss, duplicate or reordering (resets counted apart) up to {rate} events/s."
        ),
        None => println!("Silent loss, duplicates or reordering already at the lowest rate."),
    }
    flush();
    pool.close(CloseMode::Graceful).await;
    Ok(())
}

/// Connect/drop cycles: are fds and memory given back, and how fast?
pub async fn churn(ctx: &Ctx, cycles: usize, per_cycle: usize, close: CloseMode) -> Result<()> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fds_start = ctx.fds()?;
    let rss_start = ctx.rss()?;
    ctx.table(
        &format!(
            "Churn: {cycles} × {per_cycle} subscribers, closed {}",
            match close {
                CloseMode::Mixed => "half with FIN, half with RST",
                CloseMode::Graceful => "with FIN",
                CloseMode::Abrupt => "with RST",
            }
        ),
        &[
            "cycle",
            "connect + init",
            "fds with streams",
            "fds released in",
            "open streams 0 in",
            "fds after",
            "RSS 1 s after",
        ],
    );
    let timeout = Duration::from_secs(10);
    let mut first_rss = None;
    let mut last_rss = rss_start;
    let mut slowest = Duration::ZERO;
    let mut unreleased = 0;
    for cycle in 1..=cycles {
        let (pool, took) = ctx.open_pool(per_cycle).await?;
        let fds_with = ctx.fds()?;
        let hung_up = Instant::now();
        pool.close(close).await;
        let (mut fds_time, mut streams_time) = (None, None);
        let mut fds_now;
        loop {
            fds_now = ctx.fds()?;
            if fds_time.is_none() && fds_now <= fds_start {
                fds_time = Some(hung_up.elapsed());
            }
            if streams_time.is_none() && ctx.open_streams().await? == 0 {
                streams_time = Some(hung_up.elapsed());
            }
            if (fds_time.is_some() && streams_time.is_some()) || hung_up.elapsed() > timeout {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The target: a closed client's memory is freed within 1 s.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = ctx.rss()?;
        first_rss.get_or_insert(rss);
        last_rss = rss;
        match fds_time {
            Some(time) => slowest = slowest.max(time),
            None => unreleased += 1,
        }
        let never = || format!("not in {}", secs(timeout));
        row(&[
            cycle.to_string(),
            secs(took),
            fds_with.to_string(),
            fds_time.map_or_else(never, secs),
            streams_time.map_or_else(never, secs),
            fds_now.to_string(),
            kib(rss),
        ]);
    }
    let fds_end = ctx.fds()?;
    let first_rss = first_rss.unwrap_or(rss_start);
    println!();
    println!(
        "fds: {fds_start} before, {fds_end} after the last cycle; slowest release {}{}.",
        secs(slowest),
        if unreleased > 0 {
            format!(
                " ({unreleased} cycles not released within {})",
                secs(timeout)
            )
        } else {
            String::new()
        }
    );
    println!(
        "RSS: {} before, {} after cycle 1, {} after cycle {cycles} ({} vs. cycle 1).",
        kib(rss_start),
        kib(first_rss),
        kib(last_rss),
        signed_kib(last_rss as i64 - first_rss as i64)
    );
    flush();
    Ok(())
}
