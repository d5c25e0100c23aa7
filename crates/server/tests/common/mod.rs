//! A real server on port 0 and a real SSE client for black-box tests.

#![allow(dead_code)] // each test binary uses a different part of this

pub mod cluster;
pub mod nginx;
pub mod process;
pub mod raw;
pub mod redis;
pub mod viewer;

use std::pin::Pin;
use std::time::{Duration, Instant};

use eventsource_stream::{Event, Eventsource};
use futures_util::{Stream, StreamExt};
use protocol::EventId;
use pulseboard::config::StorageKind;
use pulseboard::hub::Hub;
use pulseboard::log::Log;
use pulseboard::{Application, Config};
use tokio::sync::oneshot;

/// Generous bound for anything that should happen "soon": CI machines are slow
/// and busy, and a correct server is far faster than this.
pub const SOON: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub base: String,
    pub hub: Hub,
    /// Where in-process tests publish (as the HTTP API does).
    pub log: Log,
    stop: Option<oneshot::Sender<()>>,
    pub stopped: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Test defaults: an ephemeral port, no host metrics (so streams carry only what
/// the test publishes) and the static dir of the caller's choosing.
pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.addr = "127.0.0.1:0".into();
    config.host_metrics = false;
    config.storage = StorageKind::Memory;
    config.workers = Some(2);
    config.static_dir = std::env::temp_dir().join("pulseboard-no-spa");
    config
}

pub async fn spawn(config: Config) -> TestServer {
    let (stop, stopped) = oneshot::channel::<()>();
    let app = Application::build(config, async move {
        let _ = stopped.await;
    })
    .expect("server builds");
    let base = format!("http://{}", app.addr());
    let hub = app.hub();
    let log = app.log();
    let stopped = tokio::spawn(app.run_until_stopped());
    TestServer {
        base,
        hub,
        log,
        stop: Some(stop),
        stopped,
    }
}

impl TestServer {
    /// Asks the server to shut down, as SIGTERM would.
    pub fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// `host:port`, for raw sockets.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base
            .trim_start_matches("http://")
            .parse()
            .expect("base is http://ip:port")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("{}{}", self.base, path))
            .await
            .expect("request succeeds")
    }

    /// The value of a Prometheus metric, e.g. `pulseboard_open_streams` or
    /// `pulseboard_resets_sent_total{reason="lagged"}`. Fails if it is absent.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = metrics_text(&self.base).await;
        metric_in(&text, name).unwrap_or_else(|| panic!("metric {name} not found in:\n{text}"))
    }

    /// Like [`TestServer::metric`], but a series that was never touched (a
    /// label value not yet seen) counts as 0.
    pub async fn metric_or_zero(&self, name: &str) -> f64 {
        metric_in(&metrics_text(&self.base).await, name).unwrap_or(0.0)
    }

    /// Polls a metric until it has `expected`, or fails after `SOON`.
    pub async fn wait_for_metric(&self, name: &str, expected: f64) {
        wait_for_metric_at(
            &self.base,
            name,
            |v| v == expected,
            &format!("== {expected}"),
        )
        .await
    }

    /// Polls a metric until it is at least `min`, or fails after `SOON`.
    pub async fn wait_for_metric_at_least(&self, name: &str, min: f64) {
        wait_for_metric_at(&self.base, name, |v| v >= min, &format!(">= {min}")).await
    }

    pub fn events_url(&self) -> String {
        format!("{}/api/events", self.base)
    }

    pub async fn connect(&self) -> SseClient {
        SseClient::connect(&self.events_url()).await
    }

    /// Resumes with a `Last-Event-ID` header, as a browser's own reconnect does.
    pub async fn resume(&self, last_event_id: &str) -> SseClient {
        SseClient::open(&self.events_url(), Some(last_event_id), None).await
    }

    /// Resumes with `?last_event_id=`, as the SPA's reconnect after a fatal close does.
    pub async fn resume_by_query(&self, last_event_id: &str) -> SseClient {
        SseClient::open(&self.events_url(), None, Some(last_event_id)).await
    }

    /// Publishes one update through the log, as a publish request would,
    /// and waits until it is committed and broadcast.
    pub fn publish(&self, update: protocol::Update) -> EventId {
        block_on(self.log.publish(update)).expect("publish")
    }

    /// The id the hub gives event number `seq` of this run.
    pub fn id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.hub.epoch())
    }

    /// Publishes `count` number updates to widget `widget`, values 1..=count;
    /// returns the last id.
    pub fn publish_numbers(&self, widget: &str, count: usize) -> EventId {
        let mut last = None;
        for i in 1..=count {
            last =
                Some(block_on(self.log.publish(number_update(widget, i as f64))).expect("publish"));
        }
        last.expect("count > 0")
    }
}

pub async fn metrics_text(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics request succeeds")
        .text()
        .await
        .expect("metrics body")
}

/// The value of the sample `name` (with its labels, exactly as rendered) in a
/// Prometheus text exposition.
pub fn metric_in(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (key, value) = line.rsplit_once(' ')?;
        (key == name).then(|| value.trim().parse().ok())?
    })
}

pub async fn wait_for_metric_at(base: &str, name: &str, ok: impl Fn(f64) -> bool, want: &str) {
    let deadline = Instant::now() + SOON;
    loop {
        let value = metric_in(&metrics_text(base).await, name).unwrap_or(0.0);
        if ok(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stayed {value}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<Event, String>> + Send>>;

/// An SSE client over a real HTTP connection, parsed by the `eventsource-stream`
/// crate (not by the code under test).
///
/// Note that, as in a browser, an event's `id` is the *last event id* of the
/// stream: an event sent without `id:` (heartbeat, shutdown) repeats the
/// previous one.
pub struct SseClient {
    pub headers: reqwest::header::HeaderMap,
    events: EventStream,
}

impl SseClient {
    pub async fn connect(url: &str) -> SseClient {
        SseClient::open(url, None, None).await
    }

    /// Opens a stream, optionally resuming with a `Last-Event-ID` header and/or
    /// a `last_event_id` query parameter. The status must be 200 whatever they hold.
    pub async fn open(url: &str, header: Option<&str>, query: Option<&str>) -> SseClient {
        let mut request = reqwest::Client::new()
            .get(url)
            .header("Accept", "text/event-stream")
            .header("Accept-Encoding", "gzip, deflate, br");
        if let Some(id) = header {
            request = request.header("Last-Event-ID", id);
        }
        if let Some(id) = query {
            request = request.query(&[("last_event_id", id)]);
        }
        let what = format!("stream status (Last-Event-ID {header:?}, ?last_event_id {query:?})");
        SseClient::from_request(request, &what).await
    }

    /// Opens a stream with any request (extra headers, a cookie); its status
    /// must be 200.
    pub async fn from_request(request: reqwest::RequestBuilder, what: &str) -> SseClient {
        let request = request.header("Accept", "text/event-stream");
        let response = tokio::time::timeout(SOON, request.send())
            .await
            .expect("stream response within SOON")
            .expect("stream request succeeds");
        assert_eq!(response.status(), 200, "{what}");
        let headers = response.headers().clone();
        let events = response
            .bytes_stream()
            .eventsource()
            .map(|e| e.map_err(|e| e.to_string()));
        SseClient {
            headers,
            events: Box::pin(events),
        }
    }

    /// The next event, or `None` if the stream ended. Fails after `SOON`.
    pub async fn next(&mut self) -> Option<Event> {
        match tokio::time::timeout(SOON, self.events.next()).await {
            Ok(Some(Ok(event))) => Some(event),
            Ok(Some(Err(error))) => panic!("stream error: {error}"),
            Ok(None) => None,
            Err(_) => panic!("no event within {SOON:?}"),
        }
    }

    /// The next event with this name, skipping others.
    pub async fn next_named(&mut self, name: &str) -> Event {
        let deadline = Instant::now() + SOON;
        loop {
            assert!(Instant::now() < deadline, "no {name} event within {SOON:?}");
            let event = self.next().await.expect("stream ended");
            if event.event == name {
                return event;
            }
        }
    }

    /// The next event that is not a heartbeat, or `None` if the stream ended.
    pub async fn next_change_or_end(&mut self) -> Option<Event> {
        loop {
            let event = self.next().await?;
            if event.event != "heartbeat" {
                return Some(event);
            }
        }
    }

    /// The next event that is not a heartbeat.
    pub async fn next_change(&mut self) -> Event {
        self.next_change_or_end().await.expect("stream ended")
    }

    /// The next `n` events that are not heartbeats.
    pub async fn next_changes(&mut self, n: usize) -> Vec<Event> {
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            events.push(self.next_change().await);
        }
        events
    }

    /// Reads `update`s up to and including sequence number `last`, asserting
    /// each is exactly the one after the previous (no gap, no duplicate, no
    /// other event), starting right after `after`. Returns how many it read.
    pub async fn expect_updates_through(&mut self, epoch: &str, after: u64, last: u64) -> u64 {
        let mut expected = after + 1;
        while expected <= last {
            let event = self.next_change().await;
            assert_eq!(
                event.event, "update",
                "expected update {expected} (resumed after {after}), got {} {:?}",
                event.event, event.id
            );
            assert_eq!(
                seq_in(&event, epoch),
                expected,
                "gap, duplicate or reorder (resumed after {after})"
            );
            expected += 1;
        }
        last - after
    }
}

pub fn decode(event: &Event) -> protocol::ServerEvent {
    protocol::ServerEvent::decode(&event.event, &event.data)
        .unwrap_or_else(|e| panic!("undecodable {} event: {e}", event.event))
}

/// The sequence number of an event's SSE id, which must be of `epoch`.
pub fn seq_in(event: &Event, epoch: &str) -> u64 {
    let id: EventId = event
        .id
        .parse()
        .unwrap_or_else(|e| panic!("{} event has no valid id: {e}", event.event));
    assert_eq!(id.epoch, epoch, "{} event of another epoch", event.event);
    id.seq
}

/// Asserts `seqs` is exactly `first, first + 1, ..., last`, naming the first
/// gap or duplicate if not.
pub fn assert_gap_free(seqs: &[u64], first: u64, last: u64, who: &str) {
    for (i, &seq) in seqs.iter().enumerate() {
        let expected = first + i as u64;
        assert_eq!(
            seq,
            expected,
            "{who}: event #{i} has seq {seq}, expected {expected} ({} around it: {:?})",
            if seq > expected { "gap" } else { "duplicate" },
            &seqs[i.saturating_sub(3)..(i + 3).min(seqs.len())]
        );
    }
    assert_eq!(
        seqs.last().copied(),
        Some(last),
        "{who}: sequence from {first} stops short of {last}"
    );
}

pub fn number_update(id: &str, value: f64) -> protocol::Update {
    protocol::Update {
        id: protocol::WidgetId::parse(id).expect("valid id"),
        title: None,
        value: protocol::WidgetValue::Number(protocol::Number {
            value,
            ..protocol::Number::default()
        }),
        at: 1,
        expect_every: None,
    }
}

/// The value of a number widget in an `init` or `reset` snapshot.
pub fn number_in(snapshot: &protocol::Snapshot, widget: &str) -> f64 {
    match &snapshot.get(widget).expect("widget in snapshot").value {
        protocol::WidgetValue::Number(n) => n.value,
        other => panic!("{widget} is not a number: {other:?}"),
    }
}

/// Calls `check` until it returns true, or fails after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Calls `find` until it returns something, or fails after [`SOON`].
pub async fn eventually_some<T>(mut find: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + SOON;
    loop {
        if let Some(found) = find() {
            return found;
        }
        assert!(Instant::now() < deadline, "nothing found within {SOON:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------
// The publish API over HTTP (api.rs, dashboards.rs, persistence.rs).
// ---------------------------------------------------------------------------

/// [`test_config`] with one known publish token, [`process::TOKEN`].
pub fn api_config() -> Config {
    let mut config = test_config();
    config.publish_tokens = vec![process::TOKEN.to_owned()];
    config
}

/// A JSON answer: its status and its body (`Null` if the body is not JSON).
pub type Answer = (u16, serde_json::Value);

/// Sends a request, failing if it is not answered within `SOON`.
pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = tokio::time::timeout(SOON, request.send())
        .await
        .expect("answered within SOON")
        .expect("request succeeds");
    let status = response.status().as_u16();
    let text = response.text().await.expect("response body");
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// `method base/path` with `Authorization: Bearer <token>` if a token is given,
/// and `body` as the raw request body if given.
pub async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Answer {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    send(request).await
}

/// Asserts an API error: the status, and a body that is exactly
/// `{"error": code, "message": ...}` with a message mentioning each of `mentions`.
#[track_caller]
pub fn assert_api_error(answer: &Answer, status: u16, code: &str, mentions: &[&str]) {
    if let Some(problem) = api_error_problem(answer, status, code, mentions) {
        panic!("{problem}");
    }
}

/// What is wrong with `answer` as the API error [`assert_api_error`] expects,
/// if anything (for tables of cases that report every failure at once).
pub fn api_error_problem(
    answer: &Answer,
    status: u16,
    code: &str,
    mentions: &[&str],
) -> Option<String> {
    let (got_status, body) = answer;
    if *got_status != status {
        return Some(format!("status {got_status}, expected {status}: {body}"));
    }
    let Some(fields) = body.as_object() else {
        return Some(format!("error body is not a JSON object: {body}"));
    };
    let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["error", "message"] {
        return Some(format!(
            "error body is not exactly {{error, message}}: {body}"
        ));
    }
    if body["error"] != code {
        return Some(format!("error code {}, expected {code:?}", body["error"]));
    }
    let message = match body["message"].as_str() {
        Some(message) if !message.trim().is_empty() => message,
        _ => return Some(format!("no message: {body}")),
    };
    mentions
        .iter()
        .find(|mention| !message.contains(**mention))
        .map(|mention| format!("message {message:?} should mention {mention:?}"))
}

/// The `event_id` of a successful publish or delete answer.
#[track_caller]
pub fn accepted_id(answer: &Answer, widget: &str) -> String {
    let (status, body) = answer;
    assert_eq!(*status, 200, "publish refused: {body}");
    assert_eq!(body["widget"], widget, "answer names the widget: {body}");
    body["event_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no event_id in {body}"))
        .to_owned()
}

/// The sequence number of an event id string.
pub fn seq_of(event_id: &str) -> u64 {
    event_id
        .parse::<EventId>()
        .unwrap_or_else(|e| panic!("{event_id:?}: {e}"))
        .seq
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/widgets/{widget}` with the test token and `body` as JSON.
    pub async fn publish_json(&self, widget: &str, body: serde_json::Value) -> Answer {
        self.post_raw(
            &format!("/api/widgets/{widget}"),
            Some(process::TOKEN),
            body.to_string().into_bytes(),
        )
        .await
    }

    /// Publishes `body` to `widget`, which must succeed; returns the event id.
    pub async fn published(&self, widget: &str, body: serde_json::Value) -> String {
        accepted_id(&self.publish_json(widget, body).await, widget)
    }

    /// `POST /api/batch` with the test token.
    pub async fn batch(&self, updates: serde_json::Value) -> Answer {
        self.post_raw(
            "/api/batch",
            Some(process::TOKEN),
            serde_json::json!({ "updates": updates })
                .to_string()
                .into_bytes(),
        )
        .await
    }

    /// `POST path` with any token and raw body.
    pub async fn post_raw(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> Answer {
        call(reqwest::Method::POST, &self.url(path), token, Some(body)).await
    }

    /// `GET path` as JSON.
    pub async fn get_json(&self, path: &str) -> Answer {
        call(reqwest::Method::GET, &self.url(path), None, None).await
    }

    /// `DELETE /api/widgets/{widget}` with `token`.
    pub async fn delete_widget(&self, widget: &str, token: Option<&str>) -> Answer {
        let url = self.url(&format!("/api/widgets/{widget}"));
        call(reqwest::Method::DELETE, &url, token, None).await
    }

    /// A stream opened with this query string (without the `?`).
    pub async fn connect_with(&self, query: &str) -> SseClient {
        SseClient::connect(&format!("{}?{query}", self.events_url())).await
    }
}

impl SseClient {
    /// The `init` that starts every fresh stream.
    pub async fn init(&mut self) -> (Event, protocol::Init) {
        let event = self.next_change().await;
        match decode(&event) {
            protocol::ServerEvent::Init(init) => (event, init),
            other => panic!("expected init, got {other:?}"),
        }
    }

    /// The next change, which must be an `update` with SSE id `event_id`.
    pub async fn expect_update(&mut self, event_id: &str) -> protocol::Update {
        let event = self.next_change().await;
        assert_eq!(
            (event.event.as_str(), event.id.as_str()),
            ("update", event_id),
            "expected the update {event_id}, got {} {}: {}",
            event.event,
            event.id,
            event.data
        );
        match decode(&event) {
            protocol::ServerEvent::Update(update) => update,
            other => panic!("not an update: {other:?}"),
        }
    }

    /// The next change, which must be a `remove` of `widget` with SSE id `event_id`.
    pub async fn expect_remove(&mut self, widget: &str, event_id: &str) {
        let event = self.next_change().await;
        assert_eq!(
            (event.event.as_str(), event.id.as_str()),
            ("remove", event_id),
            "expected the remove {event_id}, got {} {}: {}",
            event.event,
            event.id,
            event.data
        );
        match decode(&event) {
            protocol::ServerEvent::Remove(remove) => assert_eq!(remove.id.as_str(), widget),
            other => panic!("not a remove: {other:?}"),
        }
    }
}

/// Runs `future` to completion on this thread: for test threads that publish
/// through the log without an async runtime of their own.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct ThreadWaker(std::thread::Thread);
    impl std::task::Wake for ThreadWaker {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::sync::Arc::new(ThreadWaker(std::thread::current())).into();
    let mut context = std::task::Context::from_waker(&waker);
    // Unconstrained: on a runtime's thread (a sync helper called from an
    // async test), tokio's cooperative budget would otherwise run out after
    // some polls and keep answering `Pending` until the task yields, which
    // this loop never does.
    let mut future = std::pin::pin!(tokio::task::unconstrained(future));
    loop {
        if let std::task::Poll::Ready(output) =
            std::future::Future::poll(future.as_mut(), &mut context)
        {
            return output;
        }
        std::thread::park();
    }
}
