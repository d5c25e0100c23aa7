//! `loadgen`: load generator for Pulseboard's SSE server. Not a test: it prints
//! markdown tables of measurements (see docs/benchmarks.md and scripts/bench.sh,
//! which starts a server per scenario and runs this against it).

mod http;
mod procfs;
mod publisher;
mod restart;
mod scenarios;
mod sse;
mod stats;
mod subscriber;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use restart::RestartSignal;
use scenarios::Ctx;
use subscriber::{CloseMode, Reconnect};

#[derive(Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator for Pulseboard's SSE server"
)]
struct Cli {
    /// The server's address.
    #[arg(long, global = true, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// Where subscribers connect instead of `--addr`: several instances
    /// sharing one log (`--redis-url`). Subscriber i goes to the
    /// (i mod n)-th address, so the viewers split evenly. Repeat the option
    /// or separate addresses with commas.
    #[arg(long, global = true, value_delimiter = ',')]
    subscribe_addr: Vec<SocketAddr>,

    /// Where publishes go instead of `--addr`, in turn (as `--subscribe-addr`).
    /// Latency stays publish → receive on this machine's clock, whichever
    /// instance took the publish.
    #[arg(long, global = true, value_delimiter = ',')]
    publish_addr: Vec<SocketAddr>,

    /// `NAME=PID`: processes whose CPU the tables' `server CPU` column shows
    /// (each, the sum, and the whole machine's) instead of `--pid`'s, e.g.
    /// two instances and redis-server. Repeat the option or separate with
    /// commas. `--pid` is still the process whose memory and fds are read.
    #[arg(long, global = true, value_delimiter = ',', value_parser = parse_named_pid)]
    cpu_pid: Vec<(String, u32)>,

    /// What subscribers request: `/api/events?dashboard=` measures streams
    /// narrowed to the default dashboard, as the SPA opens them.
    #[arg(long, global = true, default_value = "/api/events")]
    stream_path: String,

    /// The server's process id, for its memory, fds and CPU time from /proc.
    #[arg(long, global = true)]
    pid: Option<u32>,

    /// The server's publish token (`--publish-token`), for scenarios that publish.
    #[arg(
        long,
        global = true,
        env = "PULSEBOARD_BENCH_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// OS threads for subscribers, each with a current-thread runtime.
    #[arg(long, global = true, default_value_t = 2)]
    threads: usize,

    /// Subscriber connections being opened at once.
    #[arg(long, global = true, default_value_t = 100)]
    connect_concurrency: usize,

    /// Keep-alive connections the publisher may have requests in flight on
    /// (the pace does not wait for a slow response until all are busy).
    #[arg(long, global = true, default_value_t = 4)]
    publish_connections: usize,

    /// Print only rows (to append to a table printed by an earlier run).
    #[arg(long, global = true)]
    no_header: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Server memory and fds per idle stream, for each count.
    Idle {
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,19000")]
        counts: Vec<usize>,
    },
    /// Publish → receive latency, loss and CPU at one rate.
    Fanout {
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        /// Events per second.
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Seconds of publishing before the measured window (not counted).
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
    },
    /// The highest rate whose p99 latency stays within a target.
    FindRate {
        #[arg(long, default_value_t = 10000)]
        subscribers: usize,
        #[arg(long, default_value_t = 100.0)]
        p99_ms: f64,
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "10,20,30,50,75,100,150,200"
        )]
        rates: Vec<f64>,
        /// Seconds per rate.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Stop after this many failed steps in a row (0: try every rate).
        #[arg(long, default_value_t = 0)]
        stop_after_failures: usize,
    },
    /// Connect/drop cycles: fds and memory given back, and how fast.
    Churn {
        #[arg(long, default_value_t = 20)]
        cycles: usize,
        #[arg(long, default_value_t = 1000)]
        per_cycle: usize,
        /// How the subscribers hang up: mixed = even ones FIN, odd ones RST.
        #[arg(long, value_enum, default_value = "mixed")]
        close: CloseMode,
    },
    /// Viewers through server restarts: the time from the signal until every
    /// viewer is live again, and the resets. Signals `--pid`, then starts the
    /// server again with the command after `--` (same address, same data).
    Restart {
        #[arg(long, default_value_t = 1000)]
        viewers: usize,
        /// Events per second published throughout.
        #[arg(long, default_value_t = 5.0)]
        rate: f64,
        /// One restart per signal, in order.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "term,kill")]
        signals: Vec<RestartSignal>,
        /// Added at random (0 to this) to every reconnect delay.
        #[arg(long, default_value = "0.1", value_parser = parse_secs)]
        reconnect_jitter: Duration,
        /// Wait between refused connection attempts (plus the jitter).
        #[arg(long, default_value = "0.05", value_parser = parse_secs)]
        retry: Duration,
        /// How long after the signal every viewer must be live again.
        #[arg(long, default_value = "30", value_parser = parse_secs)]
        timeout: Duration,
        /// Publishing before each signal.
        #[arg(long, default_value = "2", value_parser = parse_secs)]
        settle: Duration,
        /// Where the restarted servers' output goes (appended).
        #[arg(long)]
        server_log: Option<PathBuf>,
        /// The server's command line, to start it again.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Prints `name value` for each metric (summed over labels; `NaN` if
    /// absent) from `GET /metrics` (for scripts).
    Metrics {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Waits until `GET /readyz` answers 200 (for scripts).
    WaitReady {
        #[arg(long, default_value = "20", value_parser = parse_secs)]
        timeout: Duration,
    },
}

fn parse_named_pid(text: &str) -> Result<(String, u32), String> {
    let (name, pid) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PID, got {text:?}"))?;
    let pid = pid
        .parse()
        .map_err(|_| format!("expected a process id after '=', got {pid:?}"))?;
    if name.is_empty() {
        return Err(format!("expected NAME=PID, got {text:?}"));
    }
    Ok((name.to_owned(), pid))
}

fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("expected seconds, got {text:?}"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the control runtime")?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    if let Command::WaitReady { timeout } = cli.command {
        let took = http::wait_ready(cli.addr, timeout).await?;
        scenarios::progress(format_args!("{} ready after {took:?}", cli.addr));
        return Ok(());
    }
    if let Command::Metrics { names } = &cli.command {
        let text = http::metrics(cli.addr).await?;
        for name in names {
            let value = http::metric_value(&text, name).unwrap_or(f64::NAN);
            println!("{name} {value}");
        }
        return Ok(());
    }
    let limit = procfs::raise_fd_limit()?;
    let Some(pid) = cli.pid else {
        bail!("--pid (the server's process id) is needed to read its memory and fds");
    };
    procfs::rss_kib(pid)?;
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    for (name, pid) in &cli.cpu_pid {
        procfs::cpu_seconds(Some(*pid))
            .with_context(|| format!("--cpu-pid {name}={pid}: no such process"))?;
    }
    if name.trim() != "pulseboard" {
        scenarios::progress(format_args!(
            "warning: process {pid} is {:?}, not pulseboard: its memory, fds and CPU are what is measured",
            name.trim()
        ));
    }
    let needed = match &cli.command {
        Command::Idle { counts } => counts.iter().copied().max().unwrap_or(0),
        Command::Fanout { subscribers, .. } | Command::FindRate { subscribers, .. } => *subscribers,
        Command::Churn { per_cycle, .. } => *per_cycle,
        Command::Restart { viewers, .. } => *viewers,
        Command::WaitReady { .. } | Command::Metrics { .. } => 0,
    };
    if needed as u64 + 64 > limit {
        bail!("{needed} subscribers need more open files than this process may have ({limit})");
    }
    let ctx = Ctx::new(
        cli.addr,
        &cli.stream_path,
        pid,
        cli.token,
        cli.threads.max(1),
        cli.connect_concurrency.max(1),
        cli.publish_connections.max(1),
        !cli.no_header,
    )
    .spread(cli.subscribe_addr, cli.publish_addr, cli.cpu_pid);
    match cli.command {
        Command::Idle { counts } => scenarios::idle(&ctx, &counts).await,
        Command::Fanout {
            subscribers,
            rate,
            seconds,
            warmup,
        } => scenarios::fanout(&ctx, subscribers, rate, seconds, warmup).await,
        Command::FindRate {
            subscribers,
            p99_ms,
            rates,
            seconds,
            stop_after_failures,
        } => {
            scenarios::find_rate(
                &ctx,
                subscribers,
                p99_ms,
                &rates,
                seconds,
                stop_after_failures,
            )
            .await
        }
        Command::Churn {
            cycles,
            per_cycle,
            close,
        } => scenarios::churn(&ctx, cycles, per_cycle, close).await,
        Command::Restart {
            viewers,
            rate,
            signals,
            reconnect_jitter,
            retry,
            timeout,
            settle,
            server_log,
            command,
        } => {
            let options = restart::Options {
                viewers,
                rate,
                signals,
                reconnect: Reconnect {
                    jitter: reconnect_jitter,
                    retry,
                    give_up: timeout.max(Duration::from_secs(10)),
                },
                timeout,
                settle,
                command,
                server_log,
            };
            restart::restart(&ctx, options).await
        }
        Command::WaitReady { .. } | Command::Metrics { .. } => unreachable!("handled above"),
    }
}
