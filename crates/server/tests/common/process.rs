//! The real `pulseboard` binary in a child process, for what only a process
//! shows: signals, exit, a new epoch after a restart.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::SOON;

/// How long a process may take to exit once signalled.
pub const EXIT_WITHIN: Duration = Duration::from_secs(10);

/// A temporary directory's path as the `&str` a flag takes.
pub fn path_str(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 temporary path")
}

/// The token every process started here accepts.
pub const TOKEN: &str = "test-publish-token-000000";

/// What [`ServerProcess::start`] always passes: any free port, no host
/// metrics, no SPA, the test token.
pub const BASE_ARGS: [&str; 8] = [
    "--addr",
    "127.0.0.1:0",
    "--host-metrics",
    "false",
    "--static-dir",
    "/nonexistent",
    "--publish-token",
    TOKEN,
];

pub struct ServerProcess {
    pub base: String,
    child: Child,
    /// Everything the process logged, shown when a test fails.
    stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts the binary on an ephemeral port, with the test token and no host
    /// metrics, and waits for the line that says where it listens. It keeps
    /// nothing unless `extra_args` name a `--data-dir` (see [`bare_command`]).
    pub async fn start(extra_args: &[&str]) -> ServerProcess {
        let mut args = BASE_ARGS.to_vec();
        args.extend_from_slice(extra_args);
        ServerProcess::start_bare(&args, &[]).await
    }

    /// [`ServerProcess::start`] with `env` added and `RUST_LOG` set to
    /// `rust_log`, or removed (so the binary's default filter applies) when
    /// `None`: for tests of what the log says.
    pub async fn start_logging(
        extra_args: &[&str],
        env: &[(&str, &str)],
        rust_log: Option<&str>,
    ) -> ServerProcess {
        let mut args = BASE_ARGS.to_vec();
        args.extend_from_slice(extra_args);
        let mut command = bare_command(&args, env);
        match rust_log {
            Some(filter) => command.env("RUST_LOG", filter),
            None => command.env_remove("RUST_LOG"),
        };
        ServerProcess::spawn_printing(command).await.0
    }

    /// [`ServerProcess::start`], durable: its database in `data_dir`.
    pub async fn start_in(data_dir: &std::path::Path, extra_args: &[&str]) -> ServerProcess {
        let mut args = vec!["--data-dir", path_str(data_dir)];
        args.extend_from_slice(extra_args);
        ServerProcess::start(&args).await
    }

    /// Sends `signal` (`TERM` or `KILL`) and waits for the exit: a clean one
    /// after SIGTERM, a killed one after SIGKILL.
    pub async fn stop(&mut self, signal: &str) {
        self.signal(signal);
        let status = self.wait_exit(EXIT_WITHIN).await;
        if signal == "TERM" {
            assert!(
                status.success(),
                "exit after SIGTERM: {status}\n{}",
                self.log()
            );
        } else {
            assert!(!status.success(), "killed: {status}");
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("process still running")
    }

    /// Sends a signal by name (`TERM`, `INT`), as an init system would.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, failing (with its log) after `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.expect("wait for the process"),
            Err(_) => panic!(
                "process still running {within:?} after being asked to stop; its log:\n{}",
                self.log()
            ),
        }
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Publishes `body` to `widget`, which must be acknowledged; returns the
    /// event id.
    pub async fn publish_ok(&self, widget: &str, body: serde_json::Value) -> String {
        let shown: String = body.to_string().chars().take(200).collect();
        let response = self.publish(widget, body).await;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!(status, 200, "publish {widget} {shown}: {answer}");
        answer["event_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no event_id in {answer}"))
            .to_owned()
    }

    /// Publishes over HTTP with the accepted token.
    pub async fn publish(&self, widget: &str, body: serde_json::Value) -> reqwest::Response {
        publish_http(&self.base, Some(TOKEN), widget, body).await
    }
}

/// `POST /api/widgets/{widget}` with an optional bearer token.
pub async fn publish_http(
    base: &str,
    token: Option<&str>,
    widget: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/api/widgets/{widget}"))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    tokio::time::timeout(SOON, request.send())
        .await
        .expect("publish answered within SOON")
        .expect("publish request succeeds")
}

// ---------------------------------------------------------------------------
// Processes started with exactly the settings a test gives (config files,
// precedence, persistence).
// ---------------------------------------------------------------------------

/// The binary with `args` and `env` and nothing else from the caller's
/// environment (its `PULSEBOARD_*` variables are removed). Unless `args` or
/// `env` choose the storage, it keeps nothing (`--storage memory`), so no
/// test writes `data/pulseboard.db` into the source tree.
fn bare_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pulseboard"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PULSEBOARD_") {
            command.env_remove(name);
        }
    }
    const STORAGE_FLAGS: [&str; 3] = ["--storage", "--data-dir", "--state-file"];
    const STORAGE_ENV: [&str; 3] = [
        "PULSEBOARD_STORAGE",
        "PULSEBOARD_DATA_DIR",
        "PULSEBOARD_STATE_FILE",
    ];
    let storage_chosen = args
        .iter()
        .any(|a| STORAGE_FLAGS.iter().any(|flag| a.starts_with(flag)))
        || env.iter().any(|(k, _)| STORAGE_ENV.contains(k));
    if !storage_chosen {
        command.args(["--storage", "memory"]);
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

impl ServerProcess {
    /// Starts the binary with exactly `args` and `env` (see [`bare_command`]):
    /// unlike [`ServerProcess::start`], no address, token or host-metrics
    /// setting is added, so a config file's can apply. `args` should hold
    /// `--addr 127.0.0.1:0` (or the file `addr = "127.0.0.1:0"`).
    pub async fn start_bare(args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::start_bare_printing(args, env).await.0
    }

    /// [`ServerProcess::start_bare`], and what the process prints on stdout
    /// (the listening line, the generated token) as it prints it.
    pub async fn start_bare_printing(
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (ServerProcess, Arc<Mutex<String>>) {
        ServerProcess::spawn_printing(bare_command(args, env)).await
    }

    /// Starts `command` (a [`bare_command`]) and waits for its listening line.
    async fn spawn_printing(mut command: Command) -> (ServerProcess, Arc<Mutex<String>>) {
        let mut child = command.spawn().expect("start the pulseboard binary");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = BufReader::new(child.stderr.take().unwrap());
        let sink = stderr.clone();
        tokio::spawn(async move {
            // Line by line, so a character is never split between two reads
            // (and shown as two U+FFFD) in what tests search.
            let mut line = Vec::new();
            while let Ok(n) = err_pipe.read_until(b'\n', &mut line).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&line));
                line.clear();
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let log = stderr.clone();
        let stdout = Arc::new(Mutex::new(String::new()));
        let printed = stdout.clone();
        let base = tokio::time::timeout(SOON, async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                printed.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some(addr) = line.strip_prefix("Pulseboard listening on ") {
                    return addr.trim().to_owned();
                }
            }
            panic!(
                "stdout closed before the listening line; log:\n{}",
                log.lock().unwrap()
            );
        })
        .await
        .unwrap_or_else(|_| panic!("no listening line within {SOON:?}"));
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                printed.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let process = ServerProcess {
            base,
            child,
            stderr,
        };
        (process, stdout)
    }

    /// `GET path` as JSON.
    pub async fn get_json(&self, path: &str) -> super::Answer {
        super::call(
            reqwest::Method::GET,
            &format!("{}{path}", self.base),
            None,
            None,
        )
        .await
    }

    /// The widgets of `GET /api/widgets`, as JSON.
    pub async fn widgets(&self) -> serde_json::Value {
        let (status, body) = self.get_json("/api/widgets").await;
        assert_eq!(status, 200, "GET /api/widgets: {body}");
        body["widgets"].clone()
    }
}

/// Runs the binary with exactly `args` and `env` (see [`bare_command`]) and
/// waits for it to exit on its own, as it must when its configuration is bad;
/// returns how it exited and what it wrote to stderr.
pub async fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let child = bare_command(args, env)
        .spawn()
        .expect("start the pulseboard binary");
    let output = tokio::time::timeout(SOON, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the binary still runs after {SOON:?} (args {args:?})"))
        .expect("wait for the binary");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
