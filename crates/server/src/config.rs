//! Typed configuration. Every flag can also come from a `PULSEBOARD_*` env var
//! or from the config file (`--config`), in that order of precedence: flag,
//! env, file, default.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};
use protocol::{DashboardSpec, PlaylistSpec};

use crate::access::ClientIpHeader;
use crate::config_file::{self, ConfigFile};

#[derive(Clone, Parser)]
#[command(
    name = "pulseboard",
    version,
    about = "A self-hosted real-time dashboard"
)]
pub struct Config {
    /// A TOML file with dashboards (`[[dashboard]]`) and settings: any flag by
    /// its long name with `_` for `-` (`heartbeat_interval = "10s"`).
    #[arg(long, env = "PULSEBOARD_CONFIG")]
    pub config: Option<PathBuf>,

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

    /// Events a subscriber may fall behind before it is sent a fresh snapshot
    /// (rounded up to a power of two). It costs no memory per subscriber: all
    /// share one ring of this size.
    #[arg(long, env = "PULSEBOARD_SUBSCRIBER_BUFFER", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(16..=1_000_000))]
    pub subscriber_buffer: u32,

    /// Most recent events kept so reconnecting viewers get exactly what they
    /// missed (0 turns replay off: every reconnect gets a snapshot).
    #[arg(long, env = "PULSEBOARD_HISTORY_SIZE", default_value_t = 10_000,
          value_parser = count_between(0, 10_000_000))]
    pub history_size: usize,

    /// How long events stay replayable; older resumes get a snapshot.
    #[arg(long, env = "PULSEBOARD_HISTORY_AGE", default_value = "10m",
          value_parser = duration_between(Duration::from_secs(1), Duration::from_secs(7 * 86_400)))]
    pub history_age: Duration,

    /// End each stream after about this long (off by default), so clients
    /// reconnect, resume from their last id, and spread over instances.
    #[arg(long, env = "PULSEBOARD_MAX_STREAM_AGE",
          value_parser = duration_between(Duration::from_millis(100), Duration::from_secs(7 * 86_400)))]
    pub max_stream_age: Option<Duration>,

    /// A connection whose peer accepts no data for this long is closed by the
    /// kernel (TCP_USER_TIMEOUT), freeing a stuck viewer's resources.
    #[arg(long, env = "PULSEBOARD_STUCK_STREAM_TIMEOUT", default_value = "30s",
          value_parser = duration_between(Duration::from_secs(1), Duration::from_secs(3600)))]
    pub stuck_stream_timeout: Duration,

    /// Bearer tokens allowed to publish, comma-separated. With none, a random
    /// token is generated at start and printed once.
    #[arg(
        long = "publish-token",
        env = "PULSEBOARD_PUBLISH_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub publish_tokens: Vec<String>,

    /// Where the log is kept: `sqlite` (durable, in `--data-dir`) or
    /// `memory` (nothing written; a restart starts empty).
    #[arg(long, env = "PULSEBOARD_STORAGE", value_enum, default_value = "sqlite")]
    pub storage: StorageKind,

    /// Directory of the database (`pulseboard.db`). Default: `data`, or the
    /// directory of `--state-file` when only that is given (older setups).
    #[arg(long, env = "PULSEBOARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// How commits reach the disk. `full`: every accepted publish is fsynced
    /// before it is answered (survives power loss). `normal`: faster; survives
    /// the process being killed, but the last publishes may be lost if the
    /// machine goes down.
    #[arg(long, env = "PULSEBOARD_SYNC", value_enum, default_value = "full")]
    pub sync: SyncMode,

    /// A Redis server (`redis://[:password@]host:port/[db]`) that several
    /// instances share one log through: one order of events, their history,
    /// the widgets' state and the sessions. Replaces `--storage`; without it
    /// the log stays local to this instance.
    #[arg(long, env = "PULSEBOARD_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// The prefix of every Redis key, so several Pulseboards can share one
    /// Redis. Instances with the same `--redis-url` and prefix are one
    /// dashboard.
    #[arg(long, env = "PULSEBOARD_REDIS_PREFIX", default_value = "pulseboard")]
    pub redis_prefix: String,

    /// The state file of earlier versions, imported once into the database
    /// and renamed `*.imported`. Default: `state.json` in the data directory.
    #[arg(long, env = "PULSEBOARD_STATE_FILE")]
    pub state_file: Option<PathBuf>,

    /// Largest publish request body, in bytes.
    #[arg(long, env = "PULSEBOARD_MAX_BODY_BYTES", default_value_t = 64 * 1024,
          value_parser = count_between(1, 16 * 1024 * 1024))]
    pub max_body_bytes: usize,

    /// Most widgets kept; publishes that would create more are refused.
    #[arg(long, env = "PULSEBOARD_MAX_WIDGETS", default_value_t = 1_000,
          value_parser = count_between(1, 1_000_000))]
    pub max_widgets: usize,

    /// Viewer tokens, comma-separated. With any set, the dashboard, its stream
    /// and the read API need a session cookie (from `POST /api/session` with one
    /// of these) or `Authorization: Bearer <viewer token>`. With none, viewing is
    /// open to anyone who can reach the server.
    #[arg(
        long = "viewer-token",
        env = "PULSEBOARD_VIEWER_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub viewer_tokens: Vec<String>,

    /// How long a viewer's session cookie stays valid after logging in.
    #[arg(long, env = "PULSEBOARD_SESSION_LIFETIME", default_value = "30days",
          value_parser = duration_between(Duration::from_secs(60), Duration::from_secs(400 * 86_400)))]
    pub session_lifetime: Duration,

    /// Always mark the session cookie `Secure`. It is anyway when the request
    /// came over https (`X-Forwarded-Proto: https` from the proxy).
    #[arg(long, env = "PULSEBOARD_SECURE_COOKIE", default_value_t = false,
          action = clap::ArgAction::Set)]
    pub secure_cookie: bool,

    /// Origins (`https://host[:port]`) whose pages may call the API and open
    /// the stream, comma-separated. None by default: only the dashboard's own
    /// pages can.
    #[arg(long = "cors-origin", env = "PULSEBOARD_CORS_ORIGIN", value_delimiter = ',',
          value_parser = parse_origin)]
    pub cors_origins: Vec<String>,

    /// Who may show the dashboard in a frame: the CSP `frame-ancestors`
    /// sources, e.g. `'self' https://wall.example.com`. `'none'` forbids it.
    #[arg(long, env = "PULSEBOARD_FRAME_ANCESTORS", default_value = "'none'",
          value_parser = parse_frame_ancestors)]
    pub frame_ancestors: String,

    /// Most streams open at once; more get 503 with `Retry-After`.
    #[arg(long, env = "PULSEBOARD_MAX_STREAMS", default_value_t = 50_000,
          value_parser = count_between(1, 10_000_000))]
    pub max_streams: usize,

    /// Most streams open at once from one client address (behind a proxy, set
    /// `--trusted-proxy`, or every viewer counts as the proxy's address).
    #[arg(long, env = "PULSEBOARD_MAX_STREAMS_PER_IP", default_value_t = 1_000,
          value_parser = count_between(1, 10_000_000))]
    pub max_streams_per_ip: usize,

    /// Publish requests per second allowed per publish token, on average;
    /// more get 429 with `Retry-After`.
    #[arg(long, env = "PULSEBOARD_PUBLISH_RATE", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub publish_rate: u32,

    /// Publish requests a token may send at once, above `--publish-rate`.
    #[arg(long, env = "PULSEBOARD_PUBLISH_BURST", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub publish_burst: u32,

    /// Largest request head (request line and headers), in bytes; larger ones
    /// get 431.
    #[arg(long, env = "PULSEBOARD_MAX_HEADER_BYTES", default_value_t = 16 * 1024,
          value_parser = count_between(1024, 128 * 1024))]
    pub max_header_bytes: usize,

    /// How long a client may take to send a request body; slower ones get 408.
    #[arg(long, env = "PULSEBOARD_BODY_TIMEOUT", default_value = "10s",
          value_parser = duration_between(Duration::from_millis(100), Duration::from_secs(600)))]
    pub body_timeout: Duration,

    /// How long a client may take to send a request's head after connecting
    /// (or between requests on one connection); slower ones are cut off.
    #[arg(long, env = "PULSEBOARD_HEAD_TIMEOUT", default_value = "5s",
          value_parser = duration_between(Duration::from_millis(100), Duration::from_secs(600)))]
    pub head_timeout: Duration,

    /// Proxies (addresses or CIDR ranges, comma-separated) whose
    /// `--client-ip-header` names the client. From any other peer it is
    /// ignored.
    #[arg(long = "trusted-proxy", env = "PULSEBOARD_TRUSTED_PROXY", value_delimiter = ',',
          value_parser = parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// The header in which a trusted proxy names the client:
    /// `X-Forwarded-For` (its right-most entry that is not a trusted proxy),
    /// or one that holds a single address, such as `CF-Connecting-IP` when
    /// Cloudflare connects straight to Pulseboard. Every other header is
    /// ignored: a client can send any of them.
    #[arg(long, env = "PULSEBOARD_CLIENT_IP_HEADER", default_value = "X-Forwarded-For",
          value_parser = parse_client_ip_header)]
    pub client_ip_header: ClientIpHeader,

    /// How often refusals (4xx and 5xx API errors) are summarized in the log:
    /// the first from an address in each interval is logged, the rest
    /// counted, and the count logged when the interval ends.
    #[arg(long, env = "PULSEBOARD_REFUSAL_LOG_INTERVAL", default_value = "60s",
          value_parser = duration_between(Duration::from_millis(100), Duration::from_secs(86_400)))]
    pub refusal_log_interval: Duration,

    /// The dashboards declared in the config file (filled by [`Config::load`]).
    #[arg(skip)]
    pub dashboards: Vec<DashboardSpec>,

    /// The playlists declared in the config file (filled by [`Config::load`]).
    #[arg(skip)]
    pub playlists: Vec<PlaylistSpec>,

    /// The SPA build id sent to viewers in `init` and `reset`, instead of the
    /// one read from the static dir's `index.html` (trunk's hash of the
    /// bundle). For a deploy that serves the SPA from elsewhere, and for
    /// tests of the reload that follows a changed build.
    #[arg(long, env = "PULSEBOARD_BUILD_ID", value_parser = parse_build_id)]
    pub build_id: Option<String>,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PULSEBOARD_WORKERS", value_parser = count_between(1, 1024))]
    pub workers: Option<usize>,

    /// Sent to every stream in the `shutdown` event: how long clients wait
    /// before reconnecting (to another instance, or to this one restarted).
    #[arg(long, env = "PULSEBOARD_RECONNECT_AFTER", default_value = "250ms",
          value_parser = duration_between(Duration::ZERO, Duration::from_secs(60)))]
    pub reconnect_after: Duration,

    /// How long shutdown waits for in-flight requests after streams were told.
    #[arg(long, env = "PULSEBOARD_SHUTDOWN_TIMEOUT", default_value = "5s",
          value_parser = duration_between(Duration::ZERO, Duration::from_secs(300)))]
    pub shutdown_timeout: Duration,
}

/// Written by hand so tokens never reach a log line.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("static_dir", &self.static_dir)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("history_size", &self.history_size)
            .field("history_age", &self.history_age)
            .field("max_stream_age", &self.max_stream_age)
            .field("config", &self.config)
            .field("storage", &self.storage)
            .field("data_dir", &self.data_dir)
            .field("sync", &self.sync)
            .field("redis", &self.redis_url.as_ref().map(|_| "<hidden>"))
            .field("redis_prefix", &self.redis_prefix)
            .field("state_file", &self.state_file)
            .field("dashboards", &self.dashboards.len())
            .field("playlists", &self.playlists.len())
            .field("build_id", &self.build_id)
            .field(
                "publish_tokens",
                &format!("<{} hidden>", self.publish_tokens.len()),
            )
            .field(
                "viewer_tokens",
                &format!("<{} hidden>", self.viewer_tokens.len()),
            )
            .field("cors_origins", &self.cors_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("client_ip_header", &self.client_ip_header)
            .field("refusal_log_interval", &self.refusal_log_interval)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The directory of the database.
    pub fn data_dir(&self) -> PathBuf {
        match (&self.data_dir, &self.state_file) {
            (Some(dir), _) => dir.clone(),
            (None, Some(file)) => match file.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
                _ => PathBuf::from("."),
            },
            (None, None) => PathBuf::from("data"),
        }
    }

    /// The old state file to import.
    pub fn state_file(&self) -> PathBuf {
        self.state_file
            .clone()
            .unwrap_or_else(|| self.data_dir().join("state.json"))
    }

    /// The defaults, as if started with no flags and no environment (for tests).
    pub fn defaults() -> Config {
        Config::parse_from(["pulseboard"])
    }

    /// The configuration from the command line, the environment and the
    /// config file it names.
    pub fn load() -> Result<Config, ConfigError> {
        Config::load_from(std::env::args_os())
    }

    /// As [`Config::load`], with `args` (the program name first) as the command
    /// line. Settings from the file apply where no flag or env var gave one:
    /// they are added as flags for exactly those.
    pub fn load_from<I, T>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let command = Config::command();
        let matches = command.clone().try_get_matches_from(&args)?;
        let Some(path) = matches.get_one::<PathBuf>("config").cloned() else {
            return Ok(Config::from_arg_matches(&matches)?);
        };
        let ConfigFile {
            settings,
            dashboards,
            playlists,
        } = config_file::read(&path)?;
        for (key, value) in settings {
            let long = key.replace('_', "-");
            let known = command
                .get_arguments()
                .find(|arg| arg.get_long() == Some(long.as_str()) && long != "config");
            let Some(arg) = known else {
                return Err(ConfigError::File(format!(
                    "config file {}: unknown setting `{key}`",
                    path.display()
                )));
            };
            let given = matches!(
                matches.value_source(arg.get_id().as_str()),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            if !given {
                args.push(format!("--{long}={value}").into());
            }
        }
        // Flags and env parsed above, so an error now is a value from the file.
        let matches = command.try_get_matches_from(&args).map_err(|error| {
            let error = error.render().to_string();
            let first_line = error.lines().next().unwrap_or_default();
            ConfigError::File(format!(
                "config file {}: {}",
                path.display(),
                first_line.trim_start_matches("error: ")
            ))
        })?;
        let mut config = Config::from_arg_matches(&matches)?;
        config.dashboards = dashboards;
        config.playlists = playlists;
        Ok(config)
    }
}

/// Which storage keeps the log (`--storage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageKind {
    /// `pulseboard.db` in the data directory: durable, survives restarts.
    Sqlite,
    /// Nothing is written: a new epoch and no widgets at every start.
    Memory,
}

/// How commits reach the disk (`--sync`); see `log/sqlite.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncMode {
    /// Every commit is fsynced: survives power loss.
    Full,
    /// Survives a process crash; the last commits may be lost on power loss.
    Normal,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad flags or env vars, or a bad value in the file; clap says which.
    #[error(transparent)]
    Args(#[from] clap::Error),
    #[error("{0}")]
    File(String),
}

impl From<config_file::Error> for ConfigError {
    fn from(error: config_file::Error) -> ConfigError {
        ConfigError::File(error.to_string())
    }
}

/// A build id goes into every `init` as JSON and is compared by the SPA:
/// letters, digits, `.`, `_` and `-`, at most 64.
fn parse_build_id(text: &str) -> Result<String, String> {
    let valid = (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?}: use 1 to 64 letters, digits, '.', '_' or '-'"
        ))
    }
}

/// An origin as browsers send it: scheme, host and optional port, nothing else.
fn parse_origin(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| {
            format!("{text:?} is not an origin: it must start with https:// or http://")
        })?;
    let valid = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if !valid {
        return Err(format!(
            "{text:?} is not an origin: scheme://host[:port], without a path"
        ));
    }
    Ok(text.to_ascii_lowercase())
}

/// CSP `frame-ancestors` sources: anything that cannot end the directive.
fn parse_frame_ancestors(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() || text.contains([';', ',', '\r', '\n']) {
        return Err(format!(
            "{text:?}: give space-separated sources such as 'self' https://wall.example.com"
        ));
    }
    Ok(text.to_owned())
}

/// An address (`10.0.0.1`) or a range (`10.0.0.0/8`).
fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))
}

/// A header name (`--client-ip-header`).
fn parse_client_ip_header(text: &str) -> Result<ClientIpHeader, String> {
    text.parse()
}

/// A clap value parser for a count within `min..=max`.
fn count_between(min: usize, max: usize) -> impl Fn(&str) -> Result<usize, String> + Clone {
    move |text| {
        let value: usize = text
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a count"))?;
        if !(min..=max).contains(&value) {
            return Err(format!("must be between {min} and {max}"));
        }
        Ok(value)
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
    fn counts_are_bounded() {
        for (flag, bad) in [
            ("--workers", "0"),
            ("--max-widgets", "0"),
            ("--max-body-bytes", "0"),
            ("--history-size", "x"),
        ] {
            assert!(
                Config::try_parse_from(["pulseboard", flag, bad]).is_err(),
                "{flag} {bad}"
            );
        }
        let config = Config::try_parse_from(["pulseboard", "--workers", "3"]).unwrap();
        assert_eq!(config.workers, Some(3));
    }

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

    /// The access and limit settings read from a config file like any other,
    /// lists included.
    #[test]
    fn access_settings_come_from_the_file_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pulseboard.toml");
        std::fs::write(
            &path,
            r#"
viewer_token = ["wall", "lobby"]
trusted_proxy = ["127.0.0.1", "10.0.0.0/8"]
cors_origin = "https://a.example"
frame_ancestors = "'self' https://portal.example"
max_streams_per_ip = 20
publish_rate = 5
session_lifetime = "7days"
client_ip_header = "CF-Connecting-IP"
refusal_log_interval = "10s"
"#,
        )
        .unwrap();
        let config = Config::load_from(["pulseboard", "--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(config.viewer_tokens, ["wall", "lobby"]);
        assert_eq!(config.trusted_proxies.len(), 2);
        assert_eq!(config.cors_origins, ["https://a.example"]);
        assert_eq!(config.frame_ancestors, "'self' https://portal.example");
        assert_eq!(config.max_streams_per_ip, 20);
        assert_eq!(config.publish_rate, 5);
        assert_eq!(config.session_lifetime, Duration::from_secs(7 * 86_400));
        assert_eq!(
            config.client_ip_header,
            ClientIpHeader::Single(actix_web::http::header::HeaderName::from_static(
                "cf-connecting-ip"
            ))
        );
        assert_eq!(config.refusal_log_interval, Duration::from_secs(10));
    }

    #[test]
    fn the_client_ip_header_is_x_forwarded_for_unless_named() {
        assert_eq!(
            Config::defaults().client_ip_header,
            ClientIpHeader::ForwardedFor
        );
        for bad in ["", "two words", "Forwarded"] {
            assert!(
                Config::try_parse_from(["pulseboard", "--client-ip-header", bad]).is_err(),
                "{bad:?}"
            );
        }
    }
}
