//! A real nginx in front of test servers, configured with the site file users
//! copy, `deploy/nginx/pulseboard.conf`, changed only where a test must: the
//! upstream addresses, the listen address, and what a test asks for
//! explicitly ([`Site::read_timeout`], [`Site::in_events_location`]).
//!
//! nginx runs in the foreground (`daemon off`) as one process (`master_process
//! off`: no workers, so no switch to another user and nothing left behind),
//! with every file it writes (pid, logs, temp dirs) in a temp dir, and the
//! `http {}` defaults of a stock install: proxy buffering on, plus gzip for
//! the types the SPA and the stream use, so the tests see whether the
//! server's own headers are what keep the stream unbuffered and uncompressed.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::SOON;

/// The site config the tests put in front of the server, as shipped.
pub const DEPLOY_CONF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/nginx/pulseboard.conf"
);

/// The `http {}` settings around the site: nginx's defaults (buffering on)
/// plus gzip as a typical site enables it, for every type the server sends.
const HTTP_SETTINGS: &str = "\
    gzip on;
    gzip_types text/event-stream text/css application/javascript application/wasm application/json;
    gzip_min_length 20;
    gzip_proxied any;
";

/// The nginx binary: `nginx` on `PATH`, else Debian's `/usr/sbin/nginx`
/// (often not on a non-root `PATH`).
pub fn nginx_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    });
    on_path
        .or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()))
        .unwrap_or_else(|| panic!("nginx not found: run scripts/setup.sh"))
}

/// How the test's copy of the site config differs from the shipped one.
#[derive(Clone, Debug)]
pub struct Site {
    upstreams: Vec<String>,
    read_timeout: Option<String>,
    events_extra: Vec<String>,
    listen_options: String,
}

impl Site {
    /// The shipped site with its upstream's `server` line replaced by one per
    /// base URL (`http://127.0.0.1:port`), each with the shipped line's
    /// parameters (`max_fails=0`).
    pub fn new(upstream_bases: &[&str]) -> Site {
        Site {
            upstreams: upstream_bases
                .iter()
                .map(|base| {
                    base.trim_start_matches("http://")
                        .trim_end_matches('/')
                        .to_owned()
                })
                .collect(),
            read_timeout: None,
            events_extra: Vec::new(),
            listen_options: String::new(),
        }
    }

    /// Replaces the stream's `proxy_read_timeout`, e.g. `"20s"`.
    pub fn read_timeout(mut self, timeout: &str) -> Site {
        self.read_timeout = Some(timeout.to_owned());
        self
    }

    /// Adds a directive (with its `;`) at the top of `location /api/events`.
    pub fn in_events_location(mut self, directive: &str) -> Site {
        self.events_extra.push(directive.to_owned());
        self
    }

    /// Adds parameters to the `listen` line, e.g. `"sndbuf=64k"`.
    pub fn listen_options(mut self, options: &str) -> Site {
        self.listen_options = format!(" {options}");
        self
    }

    /// The site config text for nginx to listen on `listen`.
    pub fn render(&self, listen: SocketAddr) -> String {
        let shipped = std::fs::read_to_string(DEPLOY_CONF)
            .unwrap_or_else(|e| panic!("read {DEPLOY_CONF}: {e}"));
        let shipped_server = "server 127.0.0.1:8080";
        let params = shipped
            .split_once(shipped_server)
            .and_then(|(_, rest)| rest.split_once(";\n    "))
            .map(|(params, _)| params)
            .unwrap_or_else(|| panic!("{DEPLOY_CONF} has no `{shipped_server} ...;` line"));
        let servers: String = self
            .upstreams
            .iter()
            .map(|addr| format!("server {addr}{params};\n    "))
            .collect();
        let mut text = replace_once(
            &shipped,
            &format!("{shipped_server}{params};\n    "),
            &servers,
        );
        text = replace_once(
            &text,
            "listen 80;",
            &format!("listen {listen}{};", self.listen_options),
        );
        if let Some(timeout) = &self.read_timeout {
            text = replace_once(
                &text,
                "proxy_read_timeout 60s;",
                &format!("proxy_read_timeout {timeout};"),
            );
        }
        for directive in &self.events_extra {
            text = replace_once(
                &text,
                "location /api/events {\n",
                &format!("location /api/events {{\n        {directive}\n"),
            );
        }
        text
    }
}

/// `text` with its one occurrence of `from` replaced: fails if the shipped
/// file no longer has exactly one, so the tests never silently test a config
/// other than the one they claim to.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    let count = text.matches(from).count();
    assert_eq!(
        count, 1,
        "{DEPLOY_CONF} should contain {from:?} exactly once, found {count}"
    );
    text.replacen(from, to, 1)
}

pub struct Nginx {
    /// `http://127.0.0.1:port`.
    pub base: String,
    child: Child,
    pid: i32,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with `site` on a free loopback port, and waits until it
    /// accepts connections.
    pub async fn start(site: &Site) -> Nginx {
        // A free port can be taken by someone else between our probe and
        // nginx's bind: try again with another.
        let mut last_log = String::new();
        for _ in 0..5 {
            match Nginx::try_start(site).await {
                Ok(nginx) => return nginx,
                Err(log) if log.contains("Address already in use") => last_log = log,
                Err(log) => panic!("nginx did not start; its log:\n{log}"),
            }
        }
        panic!("nginx found no free port in 5 tries; its last log:\n{last_log}")
    }

    async fn try_start(site: &Site) -> Result<Nginx, String> {
        let listen = free_loopback_port();
        let dir = tempfile::Builder::new()
            .prefix("pulseboard-nginx-")
            .tempdir()
            .expect("create a temp dir for nginx");
        let path = |name: &str| dir.path().join(name).display().to_string();
        std::fs::write(dir.path().join("pulseboard.conf"), site.render(listen))
            .expect("write the site config");
        let main = format!(
            "daemon off;
master_process off;
worker_processes 1;
pid {pid};
error_log {error_log} info;
events {{
    worker_connections 256;
}}
http {{
    access_log {access_log};
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type application/octet-stream;
{HTTP_SETTINGS}
    include {site};
}}
",
            pid = path("nginx.pid"),
            error_log = path("error.log"),
            access_log = path("access.log"),
            tmp = dir.path().display(),
            site = path("pulseboard.conf"),
        );
        std::fs::write(dir.path().join("nginx.conf"), main).expect("write nginx.conf");
        // What nginx prints before it opened its log (a config error) goes
        // to a file too.
        let output = std::fs::File::create(dir.path().join("output.log")).expect("output.log");
        let mut child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            // The error log to use before the config is read (instead of
            // /var/log/nginx/error.log).
            .arg("-e")
            .arg(path("error.log"))
            .arg("-c")
            .arg(path("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("dup output.log"))
            .stderr(output)
            // Its own process group, killed whole on drop.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("start nginx");
        let pid = child.id().expect("nginx pid") as i32;
        let deadline = Instant::now() + SOON;
        loop {
            if let Some(status) = child.try_wait().expect("poll nginx") {
                return Err(format!(
                    "nginx exited ({status}) at start\n{}",
                    read_logs(dir.path())
                ));
            }
            if TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok() {
                return Ok(Nginx {
                    base: format!("http://{listen}"),
                    child,
                    pid,
                    dir,
                });
            }
            if Instant::now() > deadline {
                panic!(
                    "nginx does not accept connections on {listen} after {SOON:?}\n{}",
                    read_logs(dir.path())
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// nginx's error log (level info: connections, upstream errors, timeouts)
    /// and anything it printed.
    pub fn log(&self) -> String {
        read_logs(self.dir.path())
    }

    /// The site config this nginx runs.
    pub fn site_config(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pulseboard.conf")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- nginx site config ---\n{}\n--- nginx log ---\n{}",
                self.site_config(),
                self.log()
            );
        }
        // Only while it has not been reaped: the group id is still ours.
        if matches!(self.child.try_wait(), Ok(None)) {
            // SAFETY: kill(2) with a negative pid signals that process group.
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
            }
        }
    }
}

fn read_logs(dir: &Path) -> String {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    format!("{}{}", read("output.log"), read("error.log"))
}

/// A loopback port nobody listens on right now.
fn free_loopback_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
}
