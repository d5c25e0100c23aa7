//! A real `redis-server` in a child process, for the tests of `--redis-url`.
//!
//! Each [`RedisServer`] listens on its own free loopback port and keeps its
//! files in its own temp dir, so tests run in parallel and never touch a
//! system Redis (scripts/setup.sh installs the binary; its service is not
//! needed). Snapshots are off (`--save ""`), so what survives a restart is
//! exactly what the append-only file holds: with [`RedisBuilder::aof`],
//! every acknowledged write (`--appendfsync always` fsyncs it before the
//! reply; it comes back after SIGTERM or SIGKILL); without, nothing.
//!
//! Replies are read raw: [`RedisServer::command`] speaks RESP by hand over
//! one TCP connection and returns the reply as Redis sent it, e.g. `+OK\r\n`,
//! `:3\r\n`, `$5\r\nhello\r\n`, `$-1\r\n`, `*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n`.

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use super::SOON;

/// How many fresh ports [`RedisBuilder::start`] tries when the one it probed
/// was taken before Redis could bind it.
const PORT_TRIES: usize = 5;

/// The `redis-server` binary: on `PATH`, else Debian's `/usr/bin`, else
/// `/usr/sbin` (which a non-root `PATH` often lacks).
pub fn redis_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("redis-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path
        .or_else(|| {
            ["/usr/bin/redis-server", "/usr/sbin/redis-server"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("redis-server not found: run scripts/setup.sh"))
}

/// How a [`RedisServer`] is started.
#[derive(Clone, Debug, Default)]
pub struct RedisBuilder {
    aof: bool,
    extra: Vec<String>,
}

impl RedisBuilder {
    /// With `true`, `--appendonly yes --appendfsync always`: every write
    /// acknowledged is on disk, and comes back after a restart, even one
    /// after SIGKILL. With `false` (the default), nothing is written and a
    /// restart comes back empty.
    pub fn aof(mut self, aof: bool) -> RedisBuilder {
        self.aof = aof;
        self
    }

    /// Adds arguments after the harness's own, e.g. `["--maxmemory", "1mb"]`
    /// (a later argument overrides an earlier one).
    pub fn args(mut self, args: &[&str]) -> RedisBuilder {
        self.extra.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Starts Redis on a free loopback port and waits until it answers PING.
    pub async fn start(self) -> RedisServer {
        let root = tempfile::Builder::new()
            .prefix("pulseboard-redis-")
            .tempdir()
            .expect("create a temp dir for redis");
        std::fs::create_dir(root.path().join("data")).expect("create redis's data dir");
        let mut server = RedisServer {
            builder: self,
            port: 0,
            root,
            child: None,
        };
        // A free port can be taken by someone else between our probe and
        // Redis's bind: try again with another.
        for _ in 0..PORT_TRIES {
            server.port = free_loopback_port();
            match server.spawn().await {
                Ok(()) => return server,
                Err(SpawnError::PortTaken) => continue,
                Err(SpawnError::Exited(status)) => panic!(
                    "redis-server exited ({status}) at start; its log:\n{}",
                    server.log()
                ),
            }
        }
        panic!(
            "redis-server found no free port in {PORT_TRIES} tries; its log:\n{}",
            server.log()
        )
    }
}

enum SpawnError {
    /// Another process bound the port first.
    PortTaken,
    /// Redis stopped for another reason (its log says which).
    Exited(ExitStatus),
}

pub struct RedisServer {
    builder: RedisBuilder,
    port: u16,
    /// `data/` is Redis's `--dir`; `output.log` its stdout and stderr, of
    /// every run.
    root: tempfile::TempDir,
    /// `None` once stopped or killed.
    child: Option<Child>,
}

impl RedisServer {
    /// Starts Redis with (`true`) or without (`false`) an fsynced append-only
    /// file; see [`RedisBuilder::aof`].
    pub async fn start(aof: bool) -> RedisServer {
        RedisServer::builder().aof(aof).start().await
    }

    /// For more settings than [`RedisServer::start`] takes.
    pub fn builder() -> RedisBuilder {
        RedisBuilder::default()
    }

    /// `redis://127.0.0.1:PORT/`, for `--redis-url`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Redis's `--dir`: where the append-only files go (for a test that
    /// inspects or damages them).
    pub fn dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// Everything Redis printed, over all its runs.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("output.log")).unwrap_or_default()
    }

    /// Whether the process is running (not stopped, killed, or exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGTERM, and waits for a clean exit: with AOF, everything acknowledged
    /// is flushed first. Nothing happens if it is not running.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            // SAFETY: kill(2) on our own child's pid, which cannot have been
            // reused: the child is not reaped until `wait` below.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
        let status = self.wait(&mut child).await;
        assert!(
            status.success(),
            "redis-server exit after SIGTERM: {status}; its log:\n{}",
            self.log()
        );
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`): a Redis that hangs, with every
    /// connection open and nothing answered, as after a network partition.
    pub fn freeze(&self, frozen: bool) {
        let pid = self
            .child
            .as_ref()
            .and_then(Child::id)
            .expect("redis-server is running");
        let signal = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: kill(2) on our own, unreaped child.
        unsafe {
            libc::kill(pid as i32, signal);
        }
    }

    /// SIGKILL, as a crash or the OOM killer would, and waits for the exit:
    /// only what Redis had written to its append-only file survives (with
    /// AOF on, every acknowledged write). Nothing happens if it is not
    /// running.
    pub async fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        child.start_kill().expect("SIGKILL redis-server");
        self.wait(&mut child).await;
    }

    /// Starts Redis again on the same port with the same dir and settings
    /// (stopping it with SIGTERM first if it runs), and waits until it
    /// answers PING. With AOF, the data comes back; without, it is empty.
    pub async fn restart(&mut self) {
        self.stop().await;
        // The port was ours a moment ago; should another process have taken
        // it since (a client's ephemeral port), wait for it to be released.
        let deadline = Instant::now() + SOON;
        loop {
            match self.spawn().await {
                Ok(()) => return,
                Err(SpawnError::PortTaken) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(SpawnError::PortTaken) => panic!(
                    "redis-server could not bind port {} again within {SOON:?}; its log:\n{}",
                    self.port,
                    self.log()
                ),
                Err(SpawnError::Exited(status)) => panic!(
                    "redis-server exited ({status}) at restart; its log:\n{}",
                    self.log()
                ),
            }
        }
    }

    /// Polls with a raw `PING` until Redis answers `+PONG` (not `-LOADING`,
    /// while it reads its append-only file back), or fails after `SOON`.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + SOON;
        loop {
            let answer = self.ping().await;
            if answer.as_deref() == Some("+PONG") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} not ready after {SOON:?} (last answer: {answer:?}); its log:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends one command (as a RESP array of bulk strings) on a new
    /// connection and returns the raw reply, e.g. `command(&["DBSIZE"])` →
    /// `":0\r\n"`. An error reply (`-ERR …\r\n`) is returned, not a failure;
    /// no connection or no reply within `SOON` is.
    pub async fn command(&self, args: &[&str]) -> String {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        let exchange = async {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
            stream.write_all(&request).await?;
            read_reply(&mut BufReader::new(stream)).await
        };
        match tokio::time::timeout(SOON, exchange).await {
            Ok(Ok(reply)) => String::from_utf8_lossy(&reply).into_owned(),
            Ok(Err(e)) => panic!(
                "redis {args:?} on port {}: {e}; its log:\n{}",
                self.port,
                self.log()
            ),
            Err(_) => panic!(
                "redis {args:?} on port {}: no reply within {SOON:?}; its log:\n{}",
                self.port,
                self.log()
            ),
        }
    }

    /// One inline `PING`, answered by its first line without `\r\n`; `None`
    /// when Redis cannot be reached.
    async fn ping(&self) -> Option<String> {
        let exchange = async {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
            stream.write_all(b"PING\r\n").await.ok()?;
            let mut line = String::new();
            BufReader::new(stream).read_line(&mut line).await.ok()?;
            Some(line.trim_end().to_owned())
        };
        tokio::time::timeout(Duration::from_secs(1), exchange)
            .await
            .ok()
            .flatten()
    }

    /// Starts the process on `self.port` and waits until it answers PING.
    async fn spawn(&mut self) -> Result<(), SpawnError> {
        let output = self.output_file();
        let mut command = Command::new(redis_binary());
        command
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(self.dir())
            // No RDB snapshots, at shutdown or ever: only the AOF (if on)
            // carries data across a restart.
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg(if self.builder.aof { "yes" } else { "no" });
        if self.builder.aof {
            command.arg("--appendfsync").arg("always");
        }
        command
            .arg("--daemonize")
            .arg("no")
            .arg("--protected-mode")
            .arg("no")
            // The log to stdout, which goes to output.log.
            .arg("--logfile")
            .arg("")
            .args(&self.builder.extra)
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("dup output.log"))
            .stderr(output)
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start redis-server");
        let deadline = Instant::now() + SOON;
        loop {
            if let Some(status) = child.try_wait().expect("poll redis-server") {
                let log = self.log();
                let last_run = log.rsplit(RUN_MARK).next().unwrap_or_default();
                return Err(if last_run.contains("Address already in use") {
                    SpawnError::PortTaken
                } else {
                    SpawnError::Exited(status)
                });
            }
            if self.ping().await.as_deref() == Some("+PONG") {
                self.child = Some(child);
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} does not answer PING after {SOON:?}; its log:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `output.log`, opened for appending, with a line that marks a new run.
    fn output_file(&self) -> File {
        let path = self.root.path().join("output.log");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        std::io::Write::write_all(
            &mut file,
            format!("{RUN_MARK} port {}\n", self.port).as_bytes(),
        )
        .expect("write output.log");
        file
    }

    /// Waits for `child` to exit, failing (with the log) after `SOON`.
    async fn wait(&self, child: &mut Child) -> ExitStatus {
        match tokio::time::timeout(SOON, child.wait()).await {
            Ok(status) => status.expect("wait for redis-server"),
            Err(_) => panic!(
                "redis-server still running {SOON:?} after being signalled; its log:\n{}",
                self.log()
            ),
        }
    }
}

/// Starts each run's part of output.log.
const RUN_MARK: &str = "--- redis-server started by the test harness on";

impl Drop for RedisServer {
    fn drop(&mut self) {
        // The child itself is killed by `kill_on_drop`.
        if std::thread::panicking() {
            eprintln!("--- redis-server on port {} ---\n{}", self.port, self.log());
        }
    }
}

/// Reads one whole RESP2 reply, returning its bytes as sent.
async fn read_reply(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut reply = Vec::new();
    // Replies (or array elements) still to read.
    let mut pending = 1usize;
    while pending > 0 {
        pending -= 1;
        let start = reply.len();
        if reader.read_until(b'\n', &mut reply).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed mid-reply",
            ));
        }
        let line = String::from_utf8_lossy(&reply[start..])
            .trim_end()
            .to_owned();
        let length = || -> std::io::Result<i64> {
            line[1..].parse().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("bad length in {line:?}"),
                )
            })
        };
        match line.as_bytes().first() {
            Some(b'+' | b'-' | b':') => {}
            Some(b'$') => {
                let n = length()?;
                if n >= 0 {
                    let mut body = vec![0; n as usize + 2];
                    reader.read_exact(&mut body).await?;
                    reply.extend_from_slice(&body);
                }
            }
            Some(b'*') => pending += length()?.max(0) as usize,
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("not a RESP2 reply: {line:?}"),
                ))
            }
        }
    }
    Ok(reply)
}

/// A loopback port nobody listens on right now.
fn free_loopback_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}
