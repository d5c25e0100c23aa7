//! Typed configuration: every flag can also come from a `PULSEBOARD_*` env var.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "pulseboard",
    version,
    about = "A self-hosted real-time dashboard"
)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "PULSEBOARD_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,

    /// Directory of the built SPA (trunk's dist), served at `/`.
    #[arg(long, env = "PULSEBOARD_STATIC_DIR", default_value = "frontend/dist")]
    pub static_dir: PathBuf,

    /// Interval of the `heartbeat` event on every stream. Must stay well under
    /// proxies' idle timeouts (Cloudflare: 100 s).
    #[arg(long, env = "PULSEBOARD_HEARTBEAT_INTERVAL", default_value = "15s",
          value_parser = duration_between(Duration::from_millis(50), Duration::from_secs(90)))]
    pub heartbeat_interval: Duration,

    /// How often the built-in host metrics are sampled.
    #[arg(long, env = "PULSEBOARD_SAMPLE_INTERVAL", default_value = "1s",
          value_parser = duration_between(Duration::from_millis(50), Duration::from_secs(3600)))]
    pub sample_interval: Duration,

    /// Publish the built-in host metrics (CPU, memory, load, network, disk, uptime).
    #[arg(long, env = "PULSEBOARD_HOST_METRICS", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub host_metrics: bool,

    /// Events a subscriber may fall behind before it is sent a fresh snapshot.
    #[arg(long, env = "PULSEBOARD_SUBSCRIBER_BUFFER", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(16..=1_000_000))]
    pub subscriber_buffer: u32,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PULSEBOARD_WORKERS")]
    pub workers: Option<usize>,

    /// How long shutdown waits for in-flight requests after streams were told.
    #[arg(long, env = "PULSEBOARD_SHUTDOWN_TIMEOUT", default_value = "5s",
          value_parser = duration_between(Duration::ZERO, Duration::from_secs(300)))]
    pub shutdown_timeout: Duration,
}

impl Config {
    /// The defaults, as if started with no flags and no environment (for tests).
    pub fn defaults() -> Config {
        Config::parse_from(["pulseboard"])
    }
}

/// A clap value parser for human durations ("15s", "200ms") within bounds.
fn duration_between(
    min: Duration,
    max: Duration,
) -> impl Fn(&str) -> Result<Duration, String> + Clone {
    move |text| {
        let value = humantime::parse_duration(text).map_err(|e| e.to_string())?;
        if value < min || value > max {
            return Err(format!(
                "must be between {} and {}",
                humantime::format_duration(min),
                humantime::format_duration(max)
            ));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_human_and_bounded() {
        let config =
            Config::try_parse_from(["pulseboard", "--heartbeat-interval", "200ms"]).unwrap();
        assert_eq!(config.heartbeat_interval, Duration::from_millis(200));
        for bad in ["0s", "120s", "soon", "-1s"] {
            assert!(
                Config::try_parse_from(["pulseboard", "--heartbeat-interval", bad]).is_err(),
                "{bad}"
            );
        }
    }
}
