//! Durability, with the real binary and a real SQLite file in `--data-dir`
//! (issue 11): every acknowledged publish survives a SIGKILL at any moment, a
//! batch is never half applied, and a viewer resumes across a restart
//! (SIGTERM or SIGKILL) with exactly the events it missed — or, beyond the
//! history bounds, a `reset`.

mod common;

use std::time::{Duration, Instant};

use common::process::{ServerProcess, TOKEN};
use common::{decode, metric_in, metrics_text, number_in, seq_of, SseClient, SOON};
use eventsource_stream::Event;
use protocol::ServerEvent;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Every reason a stream can start with (or be sent) a `reset`.
const RESET_REASONS: [&str; 4] = ["lagged", "expired", "foreign_epoch", "invalid_id"];

/// `GET /api/widgets`: the epoch, the last event id (if any) and the widgets.
async fn listing(server: &ServerProcess) -> (String, Option<String>, Value) {
    let (status, body) = server.get_json("/api/widgets").await;
    assert_eq!(status, 200, "GET /api/widgets: {body}");
    let epoch = body["epoch"]
        .as_str()
        .unwrap_or_else(|| panic!("no epoch in {body}"))
        .to_owned();
    let last = body["last_event_id"].as_str().map(str::to_owned);
    (epoch, last, body["widgets"].clone())
}

fn find<'a>(widgets: &'a Value, id: &str) -> Option<&'a Value> {
    widgets
        .as_array()
        .expect("widgets is an array")
        .iter()
        .find(|w| w["id"] == id)
}

/// `POST /api/batch`, which must be acknowledged; returns the ids.
async fn batch(server: &ServerProcess, updates: Value) -> Vec<String> {
    let answer = common::call(
        reqwest::Method::POST,
        &format!("{}/api/batch", server.base),
        Some(TOKEN),
        Some(json!({ "updates": updates }).to_string().into_bytes()),
    )
    .await;
    assert_eq!(answer.0, 200, "batch {updates}: {}", answer.1);
    answer.1["event_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no event_ids in {}", answer.1))
        .iter()
        .map(|id| id.as_str().expect("an id string").to_owned())
        .collect()
}

async fn delete(server: &ServerProcess, widget: &str) -> String {
    let answer = common::call(
        reqwest::Method::DELETE,
        &format!("{}/api/widgets/{widget}", server.base),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(answer.0, 200, "delete {widget}: {}", answer.1);
    answer.1["event_id"]
        .as_str()
        .expect("event_id in the answer")
        .to_owned()
}

fn events_url(server: &ServerProcess) -> String {
    format!("{}/api/events", server.base)
}

/// Asserts no stream was ever sent a `reset`, for any reason.
async fn assert_no_resets(server: &ServerProcess, when: &str) {
    let text = metrics_text(&server.base).await;
    for reason in RESET_REASONS {
        let name = format!("pulseboard_resets_sent_total{{reason=\"{reason}\"}}");
        assert_eq!(
            metric_in(&text, &name).unwrap_or(0.0),
            0.0,
            "{when}: {name}"
        );
    }
}

// ---------------------------------------------------------------------------
// The crash loop.
// ---------------------------------------------------------------------------

/// What one publisher feeds. Each has its own widgets, and the value it sends
/// grows by one per request, so "newer" and "in order" are plain comparisons.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Feed {
    /// A number widget: each request replaces its value.
    Number(usize),
    /// One point appended to a series widget per request.
    Series,
    /// One line appended to a log widget per request.
    Log,
    /// A batch of updates to [`BATCH_WIDGETS`] distinct widgets of several
    /// kinds, every item carrying the same marker (the value).
    Batch,
}

const SERIES_WIDGET: &str = "crash-series";
const LOG_WIDGET: &str = "crash-log";
const BATCH_WIDGETS: [&str; 5] = [
    "crash-batch-number",
    "crash-batch-text",
    "crash-batch-status",
    "crash-batch-gauge",
    "crash-batch-list",
];
const CYCLES: usize = 20;
/// Appends per cycle, so that everything ever acknowledged still fits the
/// widget (plus the one request per cycle whose answer the kill swallowed):
/// 20 × (400 + 1) ≤ the series window, 20 × (45 + 1) ≤ the log's `max_lines`.
const SERIES_PER_CYCLE: usize = 400;
const SERIES_WINDOW: usize = 10_000;
const LOG_PER_CYCLE: usize = 45;
const LOG_MAX_LINES: usize = 1_000;

impl Feed {
    fn widget(self) -> String {
        match self {
            Feed::Number(i) => format!("crash-number-{i}"),
            Feed::Series => SERIES_WIDGET.into(),
            Feed::Log => LOG_WIDGET.into(),
            Feed::Batch => "batch".into(),
        }
    }

    fn request(self, client: &reqwest::Client, base: &str, value: u64) -> reqwest::RequestBuilder {
        let (path, body) = match self {
            Feed::Number(_) => (
                format!("/api/widgets/{}", self.widget()),
                json!({"kind": "number", "value": value}),
            ),
            Feed::Series => (
                format!("/api/widgets/{SERIES_WIDGET}"),
                json!({"kind": "series", "window": SERIES_WINDOW, "points": [value]}),
            ),
            Feed::Log => (
                format!("/api/widgets/{LOG_WIDGET}"),
                json!({"kind": "log", "max_lines": LOG_MAX_LINES, "line": format!("line {value}")}),
            ),
            Feed::Batch => (
                "/api/batch".to_owned(),
                json!({"updates": [
                    {"id": BATCH_WIDGETS[0], "kind": "number", "value": value},
                    {"id": BATCH_WIDGETS[1], "kind": "text", "text": format!("marker {value}")},
                    {"id": BATCH_WIDGETS[2], "kind": "status", "level": "ok",
                     "message": format!("marker {value}")},
                    {"id": BATCH_WIDGETS[3], "kind": "gauge", "value": value, "max": 1e9},
                    {"id": BATCH_WIDGETS[4], "kind": "list",
                     "rows": [{"label": "marker", "value": value.to_string()}]},
                ]}),
            ),
        };
        client
            .post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
    }

    /// At most this many acknowledged requests per cycle, with this pause
    /// between them (appends are paced so they spread over the cycle).
    fn pace(self) -> (usize, Duration) {
        match self {
            Feed::Series => (SERIES_PER_CYCLE, Duration::from_millis(1)),
            Feed::Log => (LOG_PER_CYCLE, Duration::from_millis(8)),
            Feed::Number(_) | Feed::Batch => (usize::MAX, Duration::ZERO),
        }
    }
}

/// What one publisher got in one cycle.
#[derive(Debug, Default)]
struct Run {
    /// Values acknowledged (2xx), in order.
    acked: Vec<u64>,
    /// The sequence numbers of the acknowledged events.
    seqs: Vec<u64>,
    /// The value whose request got no answer (the kill): applied or not.
    unknown: Option<u64>,
    /// The next value to send.
    next: u64,
}

/// Publishes `feed` from `first` on, one request at a time, until a request
/// gets no answer (the server was killed) or the cycle's cap is reached.
async fn publish_until_killed(base: String, feed: Feed, first: u64) -> Run {
    let client = reqwest::Client::builder()
        .timeout(SOON)
        .build()
        .expect("an HTTP client");
    let (cap, pause) = feed.pace();
    let mut run = Run {
        next: first,
        ..Run::default()
    };
    while run.acked.len() < cap {
        let value = run.next;
        run.next += 1;
        match feed.request(&client, &base, value).send().await {
            Ok(response) => {
                let status = response.status();
                // The answer is sent once the change is committed: a 2xx is
                // an acknowledgement even if the kill cuts its body short.
                let body: Value = response.json().await.unwrap_or_default();
                assert!(
                    status.is_success(),
                    "{feed:?} value {value}: refused with {status}: {body}"
                );
                run.acked.push(value);
                let ids = match &body["event_ids"] {
                    Value::Array(ids) => ids.clone(),
                    _ => vec![body["event_id"].clone()],
                };
                run.seqs
                    .extend(ids.iter().filter_map(Value::as_str).map(seq_of));
            }
            Err(_) => {
                run.unknown = Some(value);
                break;
            }
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    run
}

/// One publisher's record over all cycles.
struct Publisher {
    feed: Feed,
    next: u64,
    /// Series, log: every value on disk, in order. Number, batch: the newest
    /// value on disk (at most one).
    committed: Vec<u64>,
    /// Values sent in the last cycle whose request got no answer.
    pending: Vec<u64>,
    acks: usize,
    /// Unanswered requests found applied after the restart, and not.
    unanswered_applied: usize,
    unanswered_lost: usize,
}

impl Publisher {
    fn new(feed: Feed) -> Publisher {
        Publisher {
            feed,
            next: 1,
            committed: Vec::new(),
            pending: Vec::new(),
            acks: 0,
            unanswered_applied: 0,
            unanswered_lost: 0,
        }
    }

    fn absorb(&mut self, run: Run) {
        self.next = run.next;
        self.acks += run.acked.len();
        match self.feed {
            Feed::Number(_) | Feed::Batch => {
                if let Some(&last) = run.acked.last() {
                    self.committed = vec![last];
                }
            }
            Feed::Series | Feed::Log => self.committed.extend(&run.acked),
        }
        self.pending.extend(run.unknown);
    }

    /// Checks the restarted server holds every acknowledged change of this
    /// publisher, and nothing it never sent; then settles the pending values
    /// (present: committed; absent: lost, and must never appear later).
    fn check(&mut self, widgets: &Value, cycle: usize) {
        let who = format!("after kill #{cycle}, {:?}", self.feed);
        match self.feed {
            Feed::Number(_) => {
                let found = find(widgets, &self.feed.widget())
                    .map(|w| w["value"]["value"].as_f64().expect("a number") as u64);
                self.settle_latest(found, &who);
            }
            Feed::Batch => {
                let markers: Vec<Option<u64>> = BATCH_WIDGETS
                    .iter()
                    .map(|id| find(widgets, id).map(|w| batch_marker(id, &w["value"])))
                    .collect();
                assert!(
                    markers.iter().all(|m| *m == markers[0]),
                    "{who}: a batch is half applied: markers {markers:?} of {BATCH_WIDGETS:?}"
                );
                self.settle_latest(markers[0], &who);
            }
            Feed::Series => {
                let values: Vec<u64> = match find(widgets, SERIES_WIDGET) {
                    None => Vec::new(),
                    Some(w) => {
                        let lines = w["value"]["lines"].as_array().expect("series lines");
                        assert_eq!(lines.len(), 1, "{who}: one line: {w}");
                        lines[0]["points"]
                            .as_array()
                            .expect("points")
                            .iter()
                            .map(|p| p[1].as_f64().expect("a point value") as u64)
                            .collect()
                    }
                };
                self.settle_appended(values, &who);
            }
            Feed::Log => {
                let values: Vec<u64> = match find(widgets, LOG_WIDGET) {
                    None => Vec::new(),
                    Some(w) => w["value"]["lines"]
                        .as_array()
                        .expect("log lines")
                        .iter()
                        .map(|l| {
                            let text = l["text"].as_str().expect("a line's text");
                            text.strip_prefix("line ")
                                .and_then(|v| v.parse().ok())
                                .unwrap_or_else(|| panic!("{who}: a line never sent: {text:?}"))
                        })
                        .collect(),
                };
                self.settle_appended(values, &who);
            }
        }
        for value in self.pending.drain(..) {
            if self.committed.contains(&value) {
                self.unanswered_applied += 1;
            } else {
                self.unanswered_lost += 1;
            }
        }
    }

    /// A widget each request replaces: it holds the newest acknowledged value
    /// or the unanswered one sent after it — never an older one.
    fn settle_latest(&mut self, found: Option<u64>, who: &str) {
        let last = self.committed.last().copied();
        match found {
            None => assert_eq!(last, None, "{who}: acknowledged value {last:?} lost"),
            Some(value) => {
                assert!(
                    Some(value) == last || self.pending.contains(&value),
                    "{who}: holds {value}; the last acknowledged is {last:?}, unanswered {:?}",
                    self.pending
                );
                assert!(
                    last.is_none_or(|last| value >= last),
                    "{who}: older than the last acknowledged"
                );
                self.committed = vec![value];
            }
        }
    }

    /// A widget each request appends to: it holds every acknowledged value in
    /// the order acknowledged, plus perhaps unanswered ones, nothing else.
    fn settle_appended(&mut self, values: Vec<u64>, who: &str) {
        let around = |i: usize| &values[i.saturating_sub(3)..(i + 3).min(values.len())];
        for (i, pair) in values.windows(2).enumerate() {
            assert!(
                pair[0] < pair[1],
                "{who}: out of order or duplicated at #{i}: {:?}",
                around(i)
            );
        }
        let missing: Vec<u64> = self
            .committed
            .iter()
            .filter(|v| values.binary_search(v).is_err())
            .copied()
            .collect();
        assert!(
            missing.is_empty(),
            "{who}: {} acknowledged values lost: {:?} (holds {} values)",
            missing.len(),
            &missing[..missing.len().min(10)],
            values.len()
        );
        let never_acked: Vec<u64> = values
            .iter()
            .filter(|v| self.committed.binary_search(v).is_err() && !self.pending.contains(v))
            .copied()
            .collect();
        assert!(
            never_acked.is_empty(),
            "{who}: values that were never acknowledged (or were lost at an earlier restart): \
             {never_acked:?}; unanswered in the last cycle: {:?}",
            self.pending
        );
        self.committed = values;
    }
}

/// The marker a batch item left in its widget's value.
fn batch_marker(id: &str, value: &Value) -> u64 {
    let text_marker = |text: &Value| -> u64 {
        text.as_str()
            .and_then(|t| t.strip_prefix("marker "))
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("{id}: no marker in {value}"))
    };
    match value["kind"].as_str() {
        Some("number") | Some("gauge") => value["value"].as_f64().expect("a value") as u64,
        Some("text") => text_marker(&value["text"]),
        Some("status") => text_marker(&value["message"]),
        Some("list") => value["rows"][0]["value"]
            .as_str()
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("{id}: no marker in {value}")),
        _ => panic!("{id}: unexpected value {value}"),
    }
}

/// 20 times: start on the same data dir, check that everything acknowledged
/// before the last kill is there, publish from five concurrent publishers
/// (numbers, series points, log lines, batches), and SIGKILL the process at a
/// random moment 50–400 ms in. The seed is printed; set `CRASH_LOOP_SEED` to
/// replay a run's kill moments.
#[actix_web::test]
async fn every_acknowledged_change_survives_a_crash_loop() {
    let seed = std::env::var("CRASH_LOOP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("crash loop seed: CRASH_LOOP_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // The publish rate limit is not what this test is about.
    let settings = ["--publish-rate", "1000000", "--publish-burst", "10000000"];

    let mut publishers: Vec<Publisher> = [
        Feed::Number(0),
        Feed::Number(1),
        Feed::Series,
        Feed::Log,
        Feed::Batch,
    ]
    .into_iter()
    .map(Publisher::new)
    .collect();
    let mut epoch: Option<String> = None;
    // The newest event id acknowledged so far: a restart continues after it.
    let mut newest_acked = 0u64;
    let mut kill_moments = Vec::new();

    for cycle in 0..=CYCLES {
        let mut server = ServerProcess::start_in(dir.path(), &settings).await;
        let (this_epoch, last_id, widgets) = listing(&server).await;
        match &epoch {
            None => epoch = Some(this_epoch.clone()),
            Some(first) => assert_eq!(&this_epoch, first, "restart #{cycle} kept the epoch"),
        }
        let last_seq = last_id.as_deref().map(seq_of).unwrap_or(0);
        assert!(
            last_seq >= newest_acked,
            "restart #{cycle}: last_event_id {last_id:?} is before the acknowledged seq {newest_acked}"
        );
        for publisher in &mut publishers {
            publisher.check(&widgets, cycle);
        }
        if cycle == CYCLES {
            server.stop("TERM").await;
            break;
        }

        let tasks: Vec<_> = publishers
            .iter()
            .map(|p| tokio::spawn(publish_until_killed(server.base.clone(), p.feed, p.next)))
            .collect();
        // Not a wait for something: the random moment of the crash.
        let kill_after = Duration::from_millis(rng.random_range(50..=400));
        kill_moments.push(kill_after.as_millis());
        tokio::time::sleep(kill_after).await;
        server.stop("KILL").await;
        for (publisher, task) in publishers.iter_mut().zip(tasks) {
            let run = tokio::time::timeout(SOON, task)
                .await
                .expect("a publisher stops once the server is gone")
                .expect("the publisher got only 2xx answers");
            if let Some(&first) = run.seqs.first() {
                assert!(
                    first > last_seq,
                    "cycle {cycle}: {:?} got seq {first}, not after the restored {last_seq}",
                    publisher.feed
                );
            }
            newest_acked = newest_acked.max(run.seqs.iter().copied().max().unwrap_or(0));
            publisher.absorb(run);
        }
    }

    for publisher in &publishers {
        eprintln!(
            "{:?}: {} acknowledged; unanswered at a kill: {} applied, {} not",
            publisher.feed, publisher.acks, publisher.unanswered_applied, publisher.unanswered_lost
        );
        assert!(
            publisher.acks >= CYCLES,
            "{:?}: only {} acknowledged publishes over {CYCLES} cycles; the test exercised little",
            publisher.feed,
            publisher.acks
        );
    }
    eprintln!(
        "kills after {kill_moments:?} ms; {CYCLES} cycles in {:?}",
        began.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Resuming across a restart.
// ---------------------------------------------------------------------------

/// The next change, which must be a state-changing event (`update` or
/// `remove`); returns its name, id and data as JSON.
async fn next_event(viewer: &mut SseClient, who: &str) -> (String, String, Value) {
    let event: Event = viewer.next_change().await;
    assert!(
        event.event == "update" || event.event == "remove",
        "{who}: expected a missed update or remove, got {} {}: {}",
        event.event,
        event.id,
        event.data
    );
    let data = serde_json::from_str(&event.data).expect("JSON data");
    (event.event, event.id, data)
}

/// A viewer that saw part of the events and went away, and one that stayed
/// until the restart; the server restarts with `signal` on the same data
/// dir, more is published (and acknowledged) before they come back; each
/// resumes from the last id it saw and gets exactly what it missed, in
/// order, once, with the original ids and data — no `reset`, same epoch.
async fn viewers_resume_across_a_restart(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut first = ServerProcess::start_in(dir.path(), &[]).await;
    let (epoch, _, _) = listing(&first).await;

    let mut away = SseClient::connect(&events_url(&first)).await;
    let (_, init) = away.init().await;
    assert_eq!(init.epoch, epoch);
    let mut present = SseClient::connect(&events_url(&first)).await;
    present.init().await;

    // Seen by both.
    let mut ids = Vec::new();
    for value in 1..=3 {
        ids.push(
            first
                .publish_ok("orders", json!({"kind": "number", "value": value}))
                .await,
        );
    }
    ids.push(
        first
            .publish_ok("deploys", json!({"kind": "log", "line": "v1"}))
            .await,
    );
    for viewer in [&mut away, &mut present] {
        for id in &ids {
            let (_, got, _) = next_event(viewer, "live").await;
            assert_eq!(&got, id);
        }
    }
    let away_last = ids.last().unwrap().clone();
    drop(away);

    // Missed by `away`: updates, a batch and a delete, before the restart.
    let mut before = vec![
        first
            .publish_ok("orders", json!({"kind": "number", "value": 4}))
            .await,
    ];
    before.extend(
        batch(
            &first,
            json!([
                {"id": "queue", "value": 412, "max": 1000},
                {"id": "build", "level": "warn", "message": "flaky"},
                {"id": "deploys", "line": "v2"},
            ]),
        )
        .await,
    );
    before.push(delete(&first, "queue").await);
    before.push(
        first
            .publish_ok(
                "orders-window",
                json!({"kind": "series", "window": 5, "points": [1, 2, 3]}),
            )
            .await,
    );
    // `present` sees them live: the reference for what the replay must send.
    let mut live_before = Vec::new();
    for id in &before {
        let event = next_event(&mut present, "present, live").await;
        assert_eq!(&event.1, id);
        live_before.push(event);
    }
    let present_last = before.last().unwrap().clone();
    for pair in before.windows(2) {
        assert_eq!(
            seq_of(&pair[1]),
            seq_of(&pair[0]) + 1,
            "ids are consecutive"
        );
    }

    first.stop(signal).await;
    drop(present);
    let second = ServerProcess::start_in(dir.path(), &[]).await;
    let (epoch_after, last_after, _) = listing(&second).await;
    assert_eq!(epoch_after, epoch, "the epoch survives a {signal} restart");
    assert_eq!(
        last_after.as_deref(),
        Some(present_last.as_str()),
        "the last event id survives a {signal} restart"
    );

    // Published (and acknowledged) after the restart, before they come back:
    // ids continue where they stopped.
    let after = vec![
        second
            .publish_ok("orders", json!({"kind": "number", "value": 5}))
            .await,
        second
            .publish_ok("deploys", json!({"kind": "log", "line": "v3"}))
            .await,
        delete(&second, "build").await,
    ];
    assert_eq!(
        seq_of(&after[0]),
        seq_of(&present_last) + 1,
        "the first id after a {signal} restart follows the last one before it"
    );

    // `away` resumes with the Last-Event-ID header (the browser's reconnect).
    let mut away = SseClient::open(&events_url(&second), Some(away_last.as_str()), None).await;
    for (i, (name, id, data)) in live_before.iter().enumerate() {
        let replayed = next_event(&mut away, &format!("away, missed #{i}")).await;
        assert_eq!(
            (&replayed.0, &replayed.1),
            (name, id),
            "{signal}: missed event #{i}"
        );
        assert_eq!(
            &replayed.2, data,
            "{signal}: event {id} replayed from disk as it was sent live"
        );
    }
    let mut away_after = Vec::new();
    for id in &after {
        let event = next_event(&mut away, "away, after the restart").await;
        assert_eq!(&event.1, id, "{signal}: events after the restart, in order");
        away_after.push(event);
    }

    // `present` resumes with `?last_event_id=` (the SPA's reconnect): only
    // what was published after the restart.
    let mut present =
        SseClient::open(&events_url(&second), None, Some(present_last.as_str())).await;
    for (i, expected) in away_after.iter().enumerate() {
        let event = next_event(&mut present, "present, after the restart").await;
        assert_eq!(
            &event, expected,
            "{signal}: event #{i} after the restart, the same for both viewers"
        );
    }

    // Then live events, once each, with nothing replayed twice in between.
    let live = second
        .publish_ok("orders", json!({"kind": "number", "value": 6}))
        .await;
    for (who, viewer) in [("away", &mut away), ("present", &mut present)] {
        let (name, id, data) = next_event(viewer, who).await;
        assert_eq!(
            (name.as_str(), id.as_str()),
            ("update", live.as_str()),
            "{who}"
        );
        assert_eq!(data["value"]["value"], 6.0, "{who}");
    }
    assert_no_resets(&second, &format!("after a {signal} restart")).await;
    // A fresh viewer's snapshot holds the latest state, in the same epoch.
    let mut fresh = SseClient::connect(&events_url(&second)).await;
    let (event, init) = fresh.init().await;
    assert_eq!(init.epoch, epoch);
    assert_eq!(event.id, live);
    assert_eq!(number_in(&init.view.snapshot, "orders"), 6.0);
    assert!(init.view.snapshot.get("queue").is_none(), "deleted");
    assert!(init.view.snapshot.get("build").is_none(), "deleted");
}

#[actix_web::test]
async fn viewers_resume_across_a_sigterm_restart_with_exactly_what_they_missed() {
    viewers_resume_across_a_restart("TERM").await;
}

#[actix_web::test]
async fn viewers_resume_across_a_sigkill_restart_with_exactly_what_they_missed() {
    viewers_resume_across_a_restart("KILL").await;
}

/// With `--history-size 5`, a viewer 20 events behind gets a `reset` after a
/// restart (reason `expired`), in the same epoch, holding the latest state;
/// one exactly 5 behind still gets the 5 it missed.
#[actix_web::test]
async fn a_viewer_beyond_the_history_bounds_gets_a_reset_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let settings = ["--history-size", "5"];
    let mut first = ServerProcess::start_in(dir.path(), &settings).await;
    let (epoch, _, _) = listing(&first).await;
    let mut viewer = SseClient::connect(&events_url(&first)).await;
    viewer.init().await;
    let seen = first
        .publish_ok("orders", json!({"kind": "number", "value": 0}))
        .await;
    let (_, id, _) = next_event(&mut viewer, "live").await;
    assert_eq!(id, seen);
    drop(viewer);

    let mut ids = Vec::new();
    for value in 1..=20 {
        ids.push(
            first
                .publish_ok("orders", json!({"kind": "number", "value": value}))
                .await,
        );
    }
    first.stop("TERM").await;
    let second = ServerProcess::start_in(dir.path(), &settings).await;
    let last = ids.last().unwrap().clone();

    // Exactly at the bound: the last 5 events are kept.
    let mut within = SseClient::open(&events_url(&second), Some(ids[14].as_str()), None).await;
    for (i, id) in ids[15..].iter().enumerate() {
        let (name, got, data) = next_event(&mut within, "5 behind").await;
        assert_eq!((name.as_str(), got.as_str()), ("update", id.as_str()));
        assert_eq!(data["value"]["value"], (16 + i) as f64);
    }

    // One more behind, and 20 behind: a reset, not a partial replay.
    let mut reset_viewers = Vec::new();
    for (from, behind) in [(&ids[13], 6), (&seen, 20)] {
        let mut viewer = SseClient::open(&events_url(&second), Some(from.as_str()), None).await;
        let event = viewer.next_change().await;
        assert_eq!(
            event.event, "reset",
            "{behind} behind a history of 5: {} {}",
            event.event, event.id
        );
        let ServerEvent::Reset(reset) = decode(&event) else {
            unreachable!()
        };
        assert_eq!(reset.epoch, epoch, "same epoch: the reset is for expiry");
        assert_eq!(
            reset.last_event_id.map(|id| id.to_string()).as_deref(),
            Some(last.as_str())
        );
        assert_eq!(event.id, last);
        assert_eq!(number_in(&reset.view.snapshot, "orders"), 20.0);
        reset_viewers.push(viewer);
    }
    let text = metrics_text(&second.base).await;
    assert_eq!(
        metric_in(&text, "pulseboard_resets_sent_total{reason=\"expired\"}"),
        Some(2.0),
        "both counted as expired"
    );
    for reason in ["lagged", "foreign_epoch", "invalid_id"] {
        let name = format!("pulseboard_resets_sent_total{{reason=\"{reason}\"}}");
        assert_eq!(metric_in(&text, &name).unwrap_or(0.0), 0.0, "{name}");
    }

    // And every stream goes on live, after the replay as after the reset.
    let next = second
        .publish_ok("orders", json!({"kind": "number", "value": 21}))
        .await;
    for viewer in std::iter::once(&mut within).chain(&mut reset_viewers) {
        let (_, id, _) = next_event(viewer, "live after replay or reset").await;
        assert_eq!(id, next);
    }
}

/// Durability does not serialize the API: publishes that arrive while a
/// commit (and its fsync) is under way are committed together with the next
/// one. 32 publishers sending back to back: fewer commits than publishes,
/// and every publish acknowledged with its own id, in one gap-free order.
#[actix_web::test]
async fn concurrent_publishes_share_commits() {
    const PUBLISHERS: usize = 32;
    const EACH: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    // The per-token rate limit is not what this is about.
    let unlimited = ["--publish-rate", "1000000", "--publish-burst", "1000000"];
    let server = ServerProcess::start_in(dir.path(), &unlimited).await;
    let mut tasks = Vec::new();
    for publisher in 0..PUBLISHERS {
        let base = server.base.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut seqs = Vec::new();
            for i in 0..EACH {
                let response = client
                    .post(format!("{base}/api/widgets/p{publisher}"))
                    .bearer_auth(TOKEN)
                    .json(&json!({"value": i}))
                    .send()
                    .await
                    .expect("publish answered");
                assert_eq!(response.status(), 200);
                let answer: Value = response.json().await.expect("JSON answer");
                seqs.push(seq_of(answer["event_id"].as_str().expect("event_id")));
            }
            seqs
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.expect("publisher task"));
    }
    seqs.sort_unstable();
    let publishes = (PUBLISHERS * EACH) as u64;
    assert_eq!(
        seqs,
        (1..=publishes).collect::<Vec<_>>(),
        "one id each, no gap"
    );
    let metrics = metrics_text(&server.base).await;
    let commits = metric_in(&metrics, "pulseboard_storage_commit_seconds_count")
        .expect("the commit histogram");
    assert!(
        commits < publishes as f64,
        "{commits} commits for {publishes} concurrent publishes: each waited for its own"
    );
    eprintln!("{publishes} publishes in {commits} commits");
}
