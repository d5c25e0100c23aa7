//! Several `pulseboard` processes sharing one Redis (`--redis-url`), and
//! viewers that record every event they are sent and reconnect the way a
//! browser does: on any end or error, to the same URL (a balancer's, or an
//! instance's), with `Last-Event-ID` set to the last id they hold.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use protocol::{EventId, ServerEvent};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::process::{ServerProcess, BASE_ARGS, TOKEN};
use super::SOON;

/// What every instance of a cluster gets besides the Redis URL: a publish
/// rate no test reaches (the tests publish hundreds per second through one
/// token), on top of [`BASE_ARGS`] without its `--addr`.
const CLUSTER_ARGS: [&str; 4] = ["--publish-rate", "1000000", "--publish-burst", "1000000"];

/// An instance on a free port, sharing the log in Redis at `redis_url`.
pub async fn start_instance(redis_url: &str, extra: &[&str]) -> ServerProcess {
    start_instance_on("127.0.0.1:0", redis_url, extra).await
}

/// An instance listening on `addr` exactly: to restart one on the port a
/// balancer sends to ([`ServerProcess::start`] always passes `--addr
/// 127.0.0.1:0`, and the flag cannot be given twice).
pub async fn start_instance_on(addr: &str, redis_url: &str, extra: &[&str]) -> ServerProcess {
    let mut args = vec!["--addr", addr];
    args.extend_from_slice(&BASE_ARGS[2..]);
    args.extend_from_slice(&["--redis-url", redis_url]);
    args.extend_from_slice(&CLUSTER_ARGS);
    args.extend_from_slice(extra);
    ServerProcess::start_bare(&args, &[]).await
}

/// `127.0.0.1:port` of a process's base URL.
pub fn addr_of(base: &str) -> String {
    base.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// A client for many requests: it drops idle pooled connections well before
/// the server's keep-alive timeout (actix-web's 5 s) closes them, so that no
/// request goes out on a connection the server is closing at that moment (a
/// publish is not retried on another).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("a client")
}

/// An answer: status, headers, and the body as JSON (`Null` if it is not).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `event_id` of a publish or delete answer.
    pub fn event_id(&self) -> EventId {
        let id = self.body["event_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no event_id in {} {}", self.status, self.body));
        id.parse()
            .unwrap_or_else(|e| panic!("event_id {id:?}: {e}"))
    }

    /// The `event_ids` of a batch answer.
    pub fn event_ids(&self) -> Vec<EventId> {
        self.body["event_ids"]
            .as_array()
            .unwrap_or_else(|| panic!("no event_ids in {} {}", self.status, self.body))
            .iter()
            .map(|id| id.as_str().expect("an id string").parse().expect("an id"))
            .collect()
    }

    pub fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v.as_bytes() == b"true")
    }
}

/// Sends `request` with the publish token (and `Idempotency-Key: key` if
/// given); fails if it is not answered within `SOON`.
pub async fn send_authorized(request: reqwest::RequestBuilder, key: Option<&str>) -> Reply {
    let mut request = request.bearer_auth(TOKEN);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    send(request).await
}

/// Sends `request`; fails if it is not answered within `SOON`.
pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let (client, request) = request.build_split();
    let request = request.expect("a valid request");
    let what = format!("{} {}", request.method(), request.url());
    let response = tokio::time::timeout(SOON, client.execute(request))
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {SOON:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

/// `POST {base}/api/widgets/{widget}` with the publish token.
pub async fn publish(
    client: &reqwest::Client,
    base: &str,
    widget: &str,
    body: &Value,
    key: Option<&str>,
) -> Reply {
    let request = client
        .post(format!("{base}/api/widgets/{widget}"))
        .body(body.to_string());
    send_authorized(request, key).await
}

/// `POST {base}/api/batch` with the publish token.
pub async fn batch(
    client: &reqwest::Client,
    base: &str,
    updates: &Value,
    key: Option<&str>,
) -> Reply {
    let request = client
        .post(format!("{base}/api/batch"))
        .body(serde_json::json!({ "updates": updates }).to_string());
    send_authorized(request, key).await
}

/// `GET {base}/api/widgets`: `(last_event_id, widgets)`.
pub async fn listing(base: &str) -> (Option<String>, Value) {
    let reply = send(reqwest::Client::new().get(format!("{base}/api/widgets"))).await;
    assert_eq!(reply.status, 200, "GET {base}/api/widgets: {}", reply.body);
    (
        reply.body["last_event_id"].as_str().map(str::to_owned),
        reply.body["widgets"].clone(),
    )
}

/// Polls `GET {base}/api/widgets` until its `last_event_id` is `id`; returns
/// the widgets then.
pub async fn widgets_at(base: &str, id: &EventId) -> Value {
    let deadline = Instant::now() + SOON;
    let want = id.to_string();
    loop {
        let (last, widgets) = listing(base).await;
        if last.as_deref() == Some(want.as_str()) {
            return widgets;
        }
        assert!(
            Instant::now() < deadline,
            "{base} still at {last:?} after {SOON:?}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The status of `GET {base}{path}`.
pub async fn status(base: &str, path: &str) -> u16 {
    send(reqwest::Client::new().get(format!("{base}{path}")))
        .await
        .status
}

/// Polls `GET {base}{path}` until it answers `expected`, or fails after `SOON`.
pub async fn wait_status(base: &str, path: &str, expected: u16) {
    let deadline = Instant::now() + SOON;
    loop {
        let got = status(base, path).await;
        if got == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "GET {base}{path} still answers {got} after {SOON:?}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------
// Recording viewers
// ---------------------------------------------------------------------------

/// One event a viewer was sent (heartbeats are only counted).
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub event: String,
    /// The SSE `id:` the event came with; empty if it had none (eventsource
    /// clients repeat the previous id then: this does not).
    pub id: String,
    pub data: String,
    /// Which connection of the viewer (0 for the first) it came on.
    pub connection: usize,
}

impl Seen {
    pub fn decode(&self) -> ServerEvent {
        ServerEvent::decode(&self.event, &self.data)
            .unwrap_or_else(|e| panic!("undecodable {} event: {e}", self.event))
    }

    /// The event's id, for `update` and `remove`.
    pub fn event_id(&self) -> EventId {
        self.id
            .parse()
            .unwrap_or_else(|e| panic!("{} event id {:?}: {e}", self.event, self.id))
    }

    /// Whether it changes state (`update` or `remove`).
    pub fn is_change(&self) -> bool {
        self.event == "update" || self.event == "remove"
    }
}

/// Everything a recording viewer saw, over all its connections.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    pub events: Vec<Seen>,
    /// When each heartbeat arrived.
    pub heartbeats: Vec<Instant>,
    /// Streams opened (answered 200).
    pub connections: usize,
    /// Opens that failed: a status other than 200, or a transport error.
    pub refused: Vec<String>,
    /// How each stream ended: `end` (cleanly) or the error.
    pub ends: Vec<String>,
    /// The id to resume from: the last change's, or the last `init`/`reset`
    /// snapshot's.
    pub position: Option<String>,
}

impl Recording {
    /// Events named `name`.
    pub fn named(&self, name: &str) -> Vec<&Seen> {
        self.events.iter().filter(|e| e.event == name).collect()
    }

    pub fn changes(&self) -> Vec<&Seen> {
        self.events.iter().filter(|e| e.is_change()).collect()
    }

    /// `(id, event, data)` of every change, in the order received.
    pub fn change_triples(&self) -> Vec<(String, String, String)> {
        self.changes()
            .into_iter()
            .map(|e| (e.id.clone(), e.event.clone(), e.data.clone()))
            .collect()
    }

    /// Whether a change with `id` (or a snapshot that includes it) came.
    pub fn reached(&self, id: &EventId) -> bool {
        self.position
            .as_deref()
            .and_then(|p| p.parse::<EventId>().ok())
            .is_some_and(|p| p.epoch == id.epoch && p.seq >= id.seq)
    }

    /// A short account of the connections, for failure messages.
    pub fn summary(&self) -> String {
        let mut counts = std::collections::BTreeMap::new();
        for e in &self.events {
            *counts.entry(e.event.as_str()).or_insert(0) += 1;
        }
        format!(
            "{} connections, events {counts:?}, {} heartbeats, refused {:?}, ends {:?}, position {:?}",
            self.connections,
            self.heartbeats.len(),
            self.refused,
            self.ends,
            self.position
        )
    }
}

/// How a [`Viewer`] reacts to its stream ending.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reconnect {
    /// It stays disconnected: for viewers whose stream must not end.
    Never,
    /// It opens a new stream after this long, resuming from its position,
    /// and keeps trying (every 50 ms) while opening fails.
    After(Duration),
}

/// A viewer in a task of its own, recording what it is sent.
pub struct Viewer {
    pub name: String,
    recording: Arc<Mutex<Recording>>,
    task: JoinHandle<()>,
}

impl Viewer {
    /// Opens `url` (an `/api/events` URL) and records until stopped. Waits
    /// until the first stream is open and its first event (`init`) came.
    pub async fn start(name: &str, url: &str, reconnect: Reconnect) -> Viewer {
        Viewer::start_with(name, url, None, reconnect).await
    }

    /// [`Viewer::start`] with a `Cookie` header on every request.
    pub async fn start_with(
        name: &str,
        url: &str,
        cookie: Option<&str>,
        reconnect: Reconnect,
    ) -> Viewer {
        let recording = Arc::new(Mutex::new(Recording::default()));
        let task = tokio::spawn(record(
            url.to_owned(),
            cookie.map(str::to_owned),
            reconnect,
            recording.clone(),
        ));
        let viewer = Viewer {
            name: name.to_owned(),
            recording,
            task,
        };
        viewer
            .wait_until(&format!("{name}: a first event"), |r| !r.events.is_empty())
            .await;
        viewer
    }

    pub fn snapshot(&self) -> Recording {
        self.recording.lock().unwrap().clone()
    }

    /// Polls until `done` holds for the recording, or fails after `SOON`.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&Recording) -> bool) {
        let deadline = Instant::now() + SOON;
        loop {
            if done(&self.recording.lock().unwrap()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {SOON:?}; {}: {}",
                self.name,
                self.snapshot().summary()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until it has the change `id` (or a snapshot past it).
    pub async fn wait_for(&self, id: &EventId) {
        self.wait_until(&format!("{}: reach {id}", self.name), |r| r.reached(id))
            .await
    }

    /// Stops it (dropping its connection) and returns what it recorded.
    pub fn stop(self) -> Recording {
        self.task.abort();
        self.snapshot()
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    url: String,
    cookie: Option<String>,
    reconnect: Reconnect,
    recording: Arc<Mutex<Recording>>,
) {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("a client");
    let mut connection = 0;
    loop {
        let position = recording.lock().unwrap().position.clone();
        let mut request = client
            .get(&url)
            .header("Accept", "text/event-stream")
            .header("Accept-Encoding", "gzip, deflate, br");
        if let Some(id) = &position {
            request = request.header("Last-Event-ID", id);
        }
        if let Some(cookie) = &cookie {
            request = request.header("Cookie", cookie);
        }
        let response = match request.send().await {
            Ok(response) if response.status() == 200 => response,
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                recording
                    .lock()
                    .unwrap()
                    .refused
                    .push(format!("{status} {body}"));
                match reconnect {
                    Reconnect::Never => return,
                    Reconnect::After(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
            }
            Err(error) => {
                recording.lock().unwrap().refused.push(error.to_string());
                match reconnect {
                    Reconnect::Never => return,
                    Reconnect::After(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
            }
        };
        recording.lock().unwrap().connections += 1;
        let mut events = response.bytes_stream().eventsource();
        let mut last_id = String::new();
        let end = loop {
            match events.next().await {
                None => break "end".to_owned(),
                Some(Err(error)) => break error.to_string(),
                Some(Ok(event)) => {
                    let mut recording = recording.lock().unwrap();
                    if event.event == "heartbeat" {
                        recording.heartbeats.push(Instant::now());
                        continue;
                    }
                    // eventsource-stream repeats the last id on events sent
                    // without one: keep only ids the server sent.
                    let id = if event.id != last_id {
                        last_id = event.id.clone();
                        event.id.clone()
                    } else {
                        String::new()
                    };
                    let seen = Seen {
                        event: event.event,
                        id,
                        data: event.data,
                        connection,
                    };
                    match seen.event.as_str() {
                        "update" | "remove" => recording.position = Some(seen.id.clone()),
                        "init" | "reset" => {
                            recording.position = match seen.decode() {
                                ServerEvent::Init(init) => init.last_event_id,
                                ServerEvent::Reset(reset) => reset.last_event_id,
                                _ => unreachable!(),
                            }
                            .map(|id| id.to_string())
                        }
                        _ => {}
                    }
                    recording.events.push(seen);
                }
            }
        };
        recording.lock().unwrap().ends.push(end);
        connection += 1;
        match reconnect {
            Reconnect::Never => return,
            Reconnect::After(delay) => tokio::time::sleep(delay).await,
        }
    }
}

/// Asserts that a recording's changes are exactly `first..=last` of
/// `epoch`, each once, in order; names the first gap or duplicate if not.
pub fn assert_contiguous(changes: &[&Seen], epoch: &str, first: u64, last: u64, who: &str) {
    let seqs: Vec<u64> = changes
        .iter()
        .map(|e| {
            let id = e.event_id();
            assert_eq!(
                id.epoch, epoch,
                "{who}: {} {} of another epoch",
                e.event, e.id
            );
            id.seq
        })
        .collect();
    if first > last {
        assert!(seqs.is_empty(), "{who}: changes {seqs:?}, expected none");
        return;
    }
    super::assert_gap_free(&seqs, first, last, who);
}

// ---------------------------------------------------------------------------
// A proxy in front of Redis that can hold back Redis's answers
// ---------------------------------------------------------------------------

/// A TCP proxy to a Redis port, for an instance whose view of the shared log
/// must trail on purpose: while it is paused, nothing Redis sends reaches
/// the instance (what the instance sends still reaches Redis), as with a slow
/// link or a stalled tail; resuming delivers everything held, in order.
/// While it is cut, the instance's connections are closed and new ones are
/// closed at once, as if Redis were unreachable from that instance only.
pub struct RedisProxy {
    pub port: u16,
    paused: Arc<tokio::sync::watch::Sender<bool>>,
    cut: Arc<tokio::sync::watch::Sender<bool>>,
    task: JoinHandle<()>,
}

impl RedisProxy {
    pub async fn start(redis_port: u16) -> RedisProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let paused = Arc::new(tokio::sync::watch::channel(false).0);
        let cut = Arc::new(tokio::sync::watch::channel(false).0);
        let (held, severed) = (paused.clone(), cut.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *severed.borrow() {
                    continue;
                }
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", redis_port)).await
                else {
                    continue;
                };
                let (paused, mut cut) = (held.subscribe(), severed.subscribe());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = relay(client, server, paused) => {}
                        _ = cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        RedisProxy {
            port,
            paused,
            cut,
            task,
        }
    }

    /// `redis://127.0.0.1:PORT/` of the proxy.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Holds back what Redis sends from now on.
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Delivers what was held, and passes everything on again.
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    /// Closes every connection, and each new one at once, until
    /// [`RedisProxy::restore`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

/// Passes bytes both ways until either side closes; Redis's only while not
/// `paused`.
async fn relay(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    mut paused: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let upstream = async {
        let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
    };
    let downstream = async {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let n = match from_server.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if paused.wait_for(|paused| !paused).await.is_err() {
                return;
            }
            if to_client.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}

impl Drop for RedisProxy {
    fn drop(&mut self) {
        self.task.abort();
        // Ends the connections' tasks too.
        self.cut.send_replace(true);
    }
}
