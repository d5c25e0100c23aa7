//! Pulseboard behind a real nginx, configured with the site file we ship
//! (`deploy/nginx/pulseboard.conf`) inside an `http {}` block with nginx's
//! defaults (proxy buffering on) plus gzip on for every type we send,
//! `text/event-stream` included, as a typical site has it.
//!
//! - Events pass through one by one, as they happen: each arrives through
//!   nginx within [`MAX_LAG`] of its arrival on a direct stream, and the
//!   stream is not compressed, while static files are. Which of the stream's
//!   headers does that: each of `X-Accel-Buffering: no` and
//!   `Content-Encoding: identity` alone suffices (a test for each); nginx
//!   holds events back only when it ignores both, and the control test shows
//!   the same detector then fails.
//! - What `X-Accel-Buffering: no` changes with the shipped config: nginx does
//!   not spool the stream of a viewer that stopped reading to disk (the
//!   control: it does once it ignores the header).
//! - A stream with nothing to say outlives `proxy_read_timeout` thanks to the
//!   heartbeats; the control shows that timeout does cut a silent stream.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::Decompress;
use actix_web::error::PayloadError;
use actix_web::http::header::ContentEncoding;
use common::nginx::{Nginx, Site};
use common::process::{ServerProcess, TOKEN};
use common::{wait_for_metric_at, SOON};
use futures_util::StreamExt;
use reqwest::header::HeaderMap;

/// How much later than on the direct stream an event may arrive through nginx
/// (nginx adds well under a millisecond on loopback; the slack is for a busy
/// machine's scheduling. A buffering nginx holds small events until its
/// buffers fill: seconds at least).
const MAX_LAG: Duration = Duration::from_millis(50);
/// Events published per measurement, [`SPACING`] apart.
const EVENTS: u64 = 8;
const SPACING: Duration = Duration::from_millis(200);
/// How long to wait, after the last event arrived directly, for stragglers
/// through nginx (so the report tells late from never).
const GRACE: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------
// A raw SSE reader: records when each event's bytes arrived.
// ---------------------------------------------------------------------------

/// One SSE event as read off the wire, and when its last byte arrived.
#[derive(Clone, Debug)]
struct Frame {
    event: String,
    data: String,
    at: Instant,
}

#[derive(Default, Debug)]
struct Recording {
    headers: Option<HeaderMap>,
    frames: Vec<Frame>,
    /// When and how the stream ended (clean end or error), if it did.
    ended: Option<(Instant, String)>,
}

/// A stream read by its own task, so nothing the test does delays the
/// moment a frame is recorded.
struct Reader {
    recording: Arc<Mutex<Recording>>,
    task: tokio::task::JoinHandle<()>,
    opened: Instant,
}

impl Reader {
    /// Opens `GET url` (asking for gzip, as browsers do) and reads it until
    /// it ends. Does not wait for the response: a buffering proxy may hold
    /// back even the headers.
    fn open(url: &str) -> Reader {
        let recording = Arc::new(Mutex::new(Recording::default()));
        let record = recording.clone();
        let request = reqwest::Client::new()
            .get(url)
            .header("Accept", "text/event-stream")
            .header("Accept-Encoding", "gzip");
        let task = tokio::spawn(async move {
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    record.lock().unwrap().ended = Some((Instant::now(), error.to_string()));
                    return;
                }
            };
            record.lock().unwrap().headers = Some(response.headers().clone());
            if response.status() != 200 {
                let status = format!("status {}", response.status());
                record.lock().unwrap().ended = Some((Instant::now(), status));
                return;
            }
            // Decoded as the response says (a gzipped stream is read as a
            // browser reads it), chunk by chunk as it arrives.
            let encoding = response
                .headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(ContentEncoding::Identity);
            let raw = response
                .bytes_stream()
                .map(|chunk| chunk.map_err(|e| PayloadError::Io(std::io::Error::other(e))));
            let mut body = Box::pin(Decompress::new(raw, encoding));
            let mut pending: Vec<u8> = Vec::new();
            let end = loop {
                let chunk = match body.next().await {
                    Some(Ok(chunk)) => chunk,
                    Some(Err(error)) => break format!("error: {error}"),
                    None => break "end of stream".to_owned(),
                };
                let at = Instant::now();
                let mut record = record.lock().unwrap();
                pending.extend_from_slice(&chunk);
                while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
                    let frame: Vec<u8> = pending.drain(..end + 2).collect();
                    if let Some(frame) = parse_frame(&frame, at) {
                        record.frames.push(frame);
                    }
                }
            };
            record.lock().unwrap().ended = Some((Instant::now(), end));
        });
        Reader {
            recording,
            task,
            opened: Instant::now(),
        }
    }

    fn snapshot<T>(&self, f: impl FnOnce(&Recording) -> T) -> T {
        f(&self.recording.lock().unwrap())
    }

    /// The values of the `update` events read so far, with their arrival.
    fn updates(&self) -> Vec<(u64, Instant)> {
        self.snapshot(|r| r.frames.iter().filter_map(update_value).collect())
    }

    fn ended(&self) -> Option<(Instant, String)> {
        self.snapshot(|r| r.ended.clone())
    }

    /// Waits for the first event named `name`, for at most `within`.
    async fn wait_for(&self, name: &str, within: Duration) -> Option<Frame> {
        let deadline = Instant::now() + within;
        loop {
            let found = self.snapshot(|r| r.frames.iter().find(|f| f.event == name).cloned());
            if found.is_some() || Instant::now() > deadline || self.ended().is_some() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Every event so far: name and arrival in seconds since the stream was opened.
    fn timeline(&self) -> String {
        self.snapshot(|r| {
            let mut lines: Vec<String> = r
                .frames
                .iter()
                .map(|f| {
                    format!(
                        "  {:>7.3}s {}",
                        f.at.duration_since(self.opened).as_secs_f64(),
                        f.event
                    )
                })
                .collect();
            if let Some((at, how)) = &r.ended {
                lines.push(format!(
                    "  {:>7.3}s ended: {how}",
                    at.duration_since(self.opened).as_secs_f64()
                ));
            }
            lines.join("\n")
        })
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One SSE frame (comments and `retry:` alone are no event).
fn parse_frame(frame: &[u8], at: Instant) -> Option<Frame> {
    let text = String::from_utf8_lossy(frame);
    let mut event = None;
    let mut data = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            event = Some(name.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    if event.is_none() && data.is_empty() {
        return None;
    }
    Some(Frame {
        event: event.unwrap_or_else(|| "message".into()),
        data,
        at,
    })
}

/// The number value of an `update` frame, and its arrival.
fn update_value(frame: &Frame) -> Option<(u64, Instant)> {
    if frame.event != "update" {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(&frame.data).ok()?;
    Some((json["value"]["value"].as_f64()? as u64, frame.at))
}

async fn publish(server: &ServerProcess, widget: &str, value: u64) {
    let response = server
        .publish(widget, serde_json::json!({ "value": value }))
        .await;
    assert_eq!(response.status(), 200, "publish {value}");
}

// ---------------------------------------------------------------------------
// The detector: does a stream through nginx carry each event as it happens?
// ---------------------------------------------------------------------------

/// What one measurement saw: each event's arrival directly from the server
/// and through nginx, relative to the first publish.
struct Delivery {
    direct: Vec<(u64, Instant)>,
    proxied: Vec<(u64, Instant)>,
    proxied_headers: Option<HeaderMap>,
    start: Instant,
}

#[derive(Debug, PartialEq)]
enum Verdict {
    /// Every event arrived through nginx, in order, within `MAX_LAG` of its
    /// direct copy.
    Unbuffered,
    /// Something was held back: why.
    Buffered(String),
}

impl Delivery {
    /// How much later each event (by value) arrived through nginx than
    /// directly; `None` if it never did (within `GRACE`).
    fn lags(&self) -> Vec<(u64, Option<Duration>)> {
        self.direct
            .iter()
            .map(|&(value, direct)| {
                let proxied = self.proxied.iter().find(|&&(v, _)| v == value);
                let lag = proxied.map(|&(_, at)| at.saturating_duration_since(direct));
                (value, lag)
            })
            .collect()
    }

    fn verdict(&self) -> Verdict {
        let order: Vec<u64> = self.proxied.iter().map(|&(v, _)| v).collect();
        let expected: Vec<u64> = (1..=EVENTS).collect();
        if order != expected {
            return Verdict::Buffered(format!(
                "through nginx, {order:?} arrived (expected {expected:?}) within {GRACE:?} of the direct copies"
            ));
        }
        let late: Vec<String> = self
            .lags()
            .into_iter()
            .filter_map(|(value, lag)| lag.filter(|lag| *lag > MAX_LAG).map(|lag| (value, lag)))
            .map(|(value, lag)| format!("event {value} by {} ms", lag.as_millis()))
            .collect();
        if late.is_empty() {
            Verdict::Unbuffered
        } else {
            Verdict::Buffered(format!(
                "later than {} ms through nginx: {}",
                MAX_LAG.as_millis(),
                late.join(", ")
            ))
        }
    }

    /// A table: each event's arrival (ms after the first publish) on both
    /// streams, and the difference.
    fn report(&self) -> String {
        let ms = |at: Instant| at.duration_since(self.start).as_secs_f64() * 1000.0;
        let mut lines = vec!["event  direct ms  nginx ms   lag ms".to_owned()];
        for (value, direct) in &self.direct {
            let proxied = self.proxied.iter().find(|(v, _)| v == value);
            lines.push(match proxied {
                Some((_, at)) => format!(
                    "{value:>5} {:>10.1} {:>9.1} {:>8.1}",
                    ms(*direct),
                    ms(*at),
                    ms(*at) - ms(*direct)
                ),
                None => format!("{value:>5} {:>10.1}     never", ms(*direct)),
            });
        }
        lines.join("\n")
    }
}

/// Opens a stream directly to `server` and one through `nginx`, publishes
/// [`EVENTS`] values [`SPACING`] apart, and records when each arrives on
/// each stream.
async fn measure_delivery(server: &ServerProcess, nginx: &Nginx, widget: &str) -> Delivery {
    let direct = Reader::open(&format!("{}/api/events", server.base));
    let proxied = Reader::open(&format!("{}/api/events", nginx.base));
    // Both subscribed (nginx has connected upstream), whatever nginx does
    // with the response.
    wait_for_metric_at(
        &server.base,
        "pulseboard_open_streams",
        |n| n == 2.0,
        "== 2",
    )
    .await;
    assert!(
        direct.wait_for("init", SOON).await.is_some(),
        "no init on the direct stream:\n{}",
        direct.timeline()
    );

    let start = Instant::now();
    for value in 1..=EVENTS {
        tokio::time::sleep_until((start + SPACING * (value - 1) as u32).into()).await;
        publish(server, widget, value).await;
    }
    let deadline = Instant::now() + SOON;
    while direct.updates().len() < EVENTS as usize {
        assert!(
            Instant::now() < deadline,
            "the direct stream lacks events:\n{}",
            direct.timeline()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stragglers_until = Instant::now() + GRACE;
    while proxied.updates().len() < EVENTS as usize && Instant::now() < stragglers_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let delivery = Delivery {
        direct: direct.updates(),
        proxied: proxied.updates(),
        proxied_headers: proxied.snapshot(|r| r.headers.clone()),
        start,
    };
    let values: Vec<u64> = delivery.direct.iter().map(|&(v, _)| v).collect();
    assert_eq!(
        values,
        (1..=EVENTS).collect::<Vec<_>>(),
        "the direct stream itself is wrong"
    );
    delivery
}

/// A static dir with an index.html and a script big enough to be worth
/// compressing.
fn spa_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>Pulseboard</title><script src=\"/app.js\"></script>",
    )
    .unwrap();
    let script = "console.log('pulseboard behind nginx');\n".repeat(500);
    std::fs::write(dir.path().join("app.js"), script).unwrap();
    dir
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().expect("ASCII header"))
}

// ---------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_through_nginx_unbuffered() {
    let spa = spa_dir();
    let static_dir = spa.path().to_str().expect("UTF-8 temp path");
    let server = ServerProcess::start_bare(
        &[
            "--addr",
            "127.0.0.1:0",
            "--host-metrics",
            "false",
            "--publish-token",
            TOKEN,
            "--static-dir",
            static_dir,
        ],
        &[],
    )
    .await;
    let nginx = Nginx::start(&Site::new(&[&server.base])).await;

    let delivery = measure_delivery(&server, &nginx, "proxy.unbuffered").await;
    let report = delivery.report();
    println!("through the shipped config:\n{report}");
    assert_eq!(delivery.verdict(), Verdict::Unbuffered, "\n{report}");

    // Not compressed: nginx's gzip (on for text/event-stream here) leaves a
    // response alone that already names its encoding.
    let headers = delivery.proxied_headers.expect("headers through nginx");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/event-stream"),
        "{headers:?}"
    );
    let encoding = header(&headers, "content-encoding");
    assert!(
        matches!(encoding, None | Some("identity")),
        "the stream through nginx is encoded: {encoding:?}"
    );
    assert_eq!(
        header(&headers, "cache-control"),
        Some("no-cache, no-transform"),
        "{headers:?}"
    );
    // nginx acts on X-Accel-* headers and does not pass them on.
    assert_eq!(header(&headers, "x-accel-buffering"), None, "{headers:?}");

    // Static files through the same nginx are compressed (by the server:
    // nginx passes its gzip on untouched).
    let response = reqwest::Client::new()
        .get(format!("{}/app.js", nginx.base))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .expect("GET /app.js through nginx");
    assert_eq!(response.status(), 200);
    let encoding = header(response.headers(), "content-encoding").map(str::to_owned);
    let body = response.bytes().await.expect("app.js body");
    let original = std::fs::metadata(spa.path().join("app.js")).unwrap().len();
    assert!(
        matches!(encoding.as_deref(), Some("gzip") | Some("br")),
        "app.js through nginx not compressed: {encoding:?}"
    );
    assert!(
        (body.len() as u64) < original / 4,
        "app.js: {} bytes on the wire for {original}",
        body.len()
    );
    let page = reqwest::get(format!("{}/", nginx.base)).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<title>Pulseboard"));
}

// Which of the stream's headers does the work? nginx holds small events back
// only when it both buffers the response (`proxy_buffering on`, its default)
// and gzips it: its gzip filter then waits for a full buffer before it emits
// anything, headers included. Without gzip, even a buffered response flows:
// the proxy module hands each upstream chunk on in a "recycled" buffer, and
// nginx's write filter flushes on those. And an unbuffered response marks
// every buffer "flush", which makes gzip emit each event at once (a sync
// flush). So each header alone keeps events prompt; the control below removes
// both and must see buffering.

/// `Content-Encoding: identity` hidden from nginx, so it gzips the stream:
/// `X-Accel-Buffering: no` alone keeps each event prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_accel_buffering_alone_keeps_a_gzipped_stream_prompt() {
    let server = ServerProcess::start(&[]).await;
    let site = Site::new(&[&server.base]).in_events_location("proxy_hide_header Content-Encoding;");
    let nginx = Nginx::start(&site).await;

    let delivery = measure_delivery(&server, &nginx, "proxy.gzipped").await;
    let report = delivery.report();
    println!("gzipped by nginx, X-Accel-Buffering honoured:\n{report}");
    let headers = delivery
        .proxied_headers
        .as_ref()
        .expect("headers through nginx");
    assert_eq!(
        header(headers, "content-encoding"),
        Some("gzip"),
        "nginx should gzip the stream once its encoding is hidden: {headers:?}"
    );
    assert_eq!(delivery.verdict(), Verdict::Unbuffered, "\n{report}");
}

/// nginx told to ignore `X-Accel-Buffering: no`, so it buffers the stream:
/// `Content-Encoding: identity` alone (no gzip) keeps each event prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_encoding_alone_keeps_a_buffered_stream_prompt() {
    let server = ServerProcess::start(&[]).await;
    let site =
        Site::new(&[&server.base]).in_events_location("proxy_ignore_headers X-Accel-Buffering;");
    let nginx = Nginx::start(&site).await;

    let delivery = measure_delivery(&server, &nginx, "proxy.buffered").await;
    let report = delivery.report();
    println!("buffered by nginx, not gzipped:\n{report}");
    assert_eq!(delivery.verdict(), Verdict::Unbuffered, "\n{report}");
}

/// The control: nginx ignores both headers (buffers, and gzips). The detector
/// that passes the tests above must now see buffering, so it can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detector_sees_buffering_when_nginx_ignores_both_headers() {
    let server = ServerProcess::start(&[]).await;
    let site = Site::new(&[&server.base])
        .in_events_location("proxy_ignore_headers X-Accel-Buffering;")
        .in_events_location("proxy_hide_header Content-Encoding;");
    let nginx = Nginx::start(&site).await;

    let delivery = measure_delivery(&server, &nginx, "proxy.held").await;
    let report = delivery.report();
    let verdict = delivery.verdict();
    println!("buffered and gzipped by nginx:\n{report}\nverdict: {verdict:?}");
    assert!(
        matches!(verdict, Verdict::Buffered(_)),
        "nginx passed every event promptly though it buffers and gzips: the detector cannot tell\n{report}"
    );
}

// What `X-Accel-Buffering: no` does change with the shipped config: a viewer
// that stops reading (a sleeping laptop whose connection stays up). Unbuffered,
// nginx keeps one small buffer for it (besides the sockets' own), so the
// backpressure reaches the server,
// which handles slow viewers itself (a `reset` once it reads again, or a
// disconnect). Buffered, nginx reads on regardless and spools the stream to a
// temp file, up to proxy_max_temp_file_size (1 GiB) per viewer.

/// Text values this big (the API's limit is 10,000 characters) ...
const STALL_TEXT: usize = 9_000;
/// ... this many of them (~2.7 MB, ten times what nginx's buffers and its
/// socket to the viewer, pinned at [`VIEWER_SNDBUF`], hold) ...
const STALL_EVENTS: usize = 300;
/// ... in batches of this many.
const STALL_BATCH: usize = 100;
/// nginx's send buffer to viewers in the stall tests, instead of the
/// kernel's autotuned one (up to `net.ipv4.tcp_wmem`'s maximum, 4 MiB on
/// most machines), so how much it takes to fill it does not depend on the
/// machine.
const VIEWER_SNDBUF: &str = "sndbuf=64k";

struct Stall {
    /// nginx logged that it buffered the stream to a temporary file.
    spooled: bool,
    /// `update` and `reset` events the viewer read once it read again.
    updates: usize,
    resets: usize,
}

/// Opens a stream through `nginx` that is never read (a tiny receive buffer,
/// HTTP/1.0 so the body is plain SSE), publishes [`STALL_EVENTS`] big values,
/// then reads until the last one shows up (as an update, or in a reset's
/// snapshot) and reports what nginx did meanwhile.
async fn stalled_viewer(server: &ServerProcess, nginx: &Nginx) -> Stall {
    use std::io::{Read, Write};

    let addr: std::net::SocketAddr = nginx.base.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).expect("connect to nginx");
    let mut viewer: std::net::TcpStream = socket.into();
    viewer
        .write_all(
            b"GET /api/events HTTP/1.0\r\nHost: pulseboard\r\nAccept: text/event-stream\r\n\r\n",
        )
        .unwrap();
    wait_for_metric_at(
        &server.base,
        "pulseboard_open_streams",
        |n| n == 1.0,
        "== 1",
    )
    .await;

    let pad = "x".repeat(STALL_TEXT - 20);
    let client = reqwest::Client::new();
    for first in (1..=STALL_EVENTS).step_by(STALL_BATCH) {
        let updates: Vec<serde_json::Value> = (first..first + STALL_BATCH)
            .map(|i| serde_json::json!({ "id": "proxy.stall", "kind": "text", "text": format!("stall {i} {pad}") }))
            .collect();
        let response = client
            .post(format!("{}/api/batch", server.base))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "updates": updates }))
            .send()
            .await
            .expect("batch");
        assert_eq!(
            response.status(),
            200,
            "batch from {first}: {:?}",
            response.text().await
        );
    }
    // nginx spools as the data arrives; give it a moment to catch up.
    let spooled = || nginx.log().contains("buffered to a temporary file");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !spooled() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let spooled = spooled();

    let last = format!("stall {STALL_EVENTS} ");
    let read = tokio::task::spawn_blocking(move || {
        viewer.set_read_timeout(Some(SOON)).unwrap();
        let mut bytes = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let found = |bytes: &[u8]| bytes.windows(last.len()).any(|w| w == last.as_bytes());
        loop {
            match viewer.read(&mut buf) {
                Ok(0) => panic!("the stalled stream ended"),
                Ok(n) => {
                    let from = bytes.len().saturating_sub(last.len());
                    bytes.extend_from_slice(&buf[..n]);
                    if found(&bytes[from..]) {
                        return bytes;
                    }
                }
                Err(e) => panic!(
                    "the last value never came ({e}) after {} bytes",
                    bytes.len()
                ),
            }
        }
    });
    let bytes = read.await.expect("reader");
    let text = String::from_utf8_lossy(&bytes);
    Stall {
        spooled,
        updates: text.matches("\nevent: update\n").count(),
        resets: text.matches("\nevent: reset\n").count(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_viewer_is_not_spooled_to_disk() {
    let server = ServerProcess::start(&["--max-body-bytes", "1048576"]).await;
    let nginx = Nginx::start(&Site::new(&[&server.base]).listen_options(VIEWER_SNDBUF)).await;

    let stall = stalled_viewer(&server, &nginx).await;
    println!(
        "shipped config: spooled {}, then {} updates and {} resets",
        stall.spooled, stall.updates, stall.resets
    );
    assert!(!stall.spooled, "nginx spooled the stalled stream to disk");
}

/// The control: ignoring `X-Accel-Buffering`, the same nginx spools the
/// stalled stream to disk and replays every stale event from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignoring_x_accel_buffering_spools_a_stalled_viewer_to_disk() {
    let server = ServerProcess::start(&["--max-body-bytes", "1048576"]).await;
    let site = Site::new(&[&server.base])
        .in_events_location("proxy_ignore_headers X-Accel-Buffering;")
        .listen_options(VIEWER_SNDBUF);
    let nginx = Nginx::start(&site).await;

    let stall = stalled_viewer(&server, &nginx).await;
    println!(
        "X-Accel-Buffering ignored: spooled {}, then {} updates and {} resets",
        stall.spooled, stall.updates, stall.resets
    );
    assert!(
        stall.spooled,
        "nginx did not spool: the test above proves nothing"
    );
    assert_eq!(
        (stall.updates, stall.resets),
        (STALL_EVENTS, 0),
        "every stale event replayed from nginx's temp file"
    );
}

/// Heartbeats every 15 s keep a stream with nothing to say open through an
/// nginx that drops upstream connections silent for 20 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_stream_survives_proxy_read_timeout() {
    const IDLE: Duration = Duration::from_secs(60);
    let server = ServerProcess::start(&["--heartbeat-interval", "15s"]).await;
    let nginx = Nginx::start(&Site::new(&[&server.base]).read_timeout("20s")).await;

    let stream = Reader::open(&format!("{}/api/events", nginx.base));
    assert!(
        stream.wait_for("init", SOON).await.is_some(),
        "no init through nginx:\n{}",
        stream.timeline()
    );
    let opened = stream.opened;
    while opened.elapsed() < IDLE {
        if let Some((at, how)) = stream.ended() {
            panic!(
                "the idle stream ended after {:?} ({how}):\n{}",
                at.duration_since(opened),
                stream.timeline()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let heartbeats =
        stream.snapshot(|r| r.frames.iter().filter(|f| f.event == "heartbeat").count());
    assert!(
        heartbeats >= 3,
        "{heartbeats} heartbeats in {IDLE:?}:\n{}",
        stream.timeline()
    );

    publish(&server, "proxy.idle", 60).await;
    let deadline = Instant::now() + SOON;
    while stream.updates().is_empty() {
        assert!(
            Instant::now() < deadline && stream.ended().is_none(),
            "no update after {IDLE:?} idle:\n{}",
            stream.timeline()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stream.updates()[0].0, 60);
    println!("{}", stream.timeline());
}

/// The control for the test above: with heartbeats only every 30 s, the same
/// nginx cuts the stream once it has been silent for its 20 s — so the 20 s
/// timeout is in force, and the test above would see a cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_stream_is_cut_by_proxy_read_timeout() {
    let server = ServerProcess::start(&["--heartbeat-interval", "30s"]).await;
    let nginx = Nginx::start(&Site::new(&[&server.base]).read_timeout("20s")).await;

    let stream = Reader::open(&format!("{}/api/events", nginx.base));
    assert!(
        stream.wait_for("init", SOON).await.is_some(),
        "no init through nginx:\n{}",
        stream.timeline()
    );
    // Silence starts at the latest with the next heartbeat, within 30 s.
    let deadline = Instant::now() + Duration::from_secs(30 + 20) + SOON;
    let (ended, how) = loop {
        if let Some(end) = stream.ended() {
            break end;
        }
        assert!(
            Instant::now() < deadline,
            "the silent stream was never cut:\n{}",
            stream.timeline()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let last = stream
        .snapshot(|r| r.frames.last().map(|f| f.at))
        .expect("init");
    let silence = ended.duration_since(last);
    println!(
        "{}\nsilent for {silence:?} before the cut ({how})",
        stream.timeline()
    );
    assert!(
        silence >= Duration::from_secs(19) && silence < Duration::from_secs(20) + SOON,
        "cut after {silence:?} of silence, expected ~20 s:\n{}",
        stream.timeline()
    );
    assert!(
        nginx.log().contains("upstream timed out"),
        "nginx did not log the read timeout:\n{}",
        nginx.log()
    );
}
