//! Several instances sharing one log in Redis (`--redis-url`), black-box:
//! real `pulseboard` processes, one real `redis-server`, and a real nginx
//! with the shipped site config where a balancer is needed.
//!
//! What a deployment of several instances relies on: one order of events
//! whichever instance takes a publish; appends through different instances
//! all land; a viewer moving to another instance (its own died, was stopped,
//! or ended the stream by age) resumes without a gap or a reset, even on an
//! instance started after the events it missed; Redis going away refuses
//! publishes and comes back without a gap (with AOF) or with exactly one
//! reset (without); sessions and `Idempotency-Key`s hold on every instance;
//! nginx never answers 502 while an instance is up; a viewer ahead of the
//! instance it moves to is not reset; and an instance that missed a new
//! epoch never shows its events as the old epoch's.
//!
//! An instance that must trail Redis, or lose it alone, reaches it through
//! a [`RedisProxy`] that can hold back Redis's answers or cut the link.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::{
    addr_of, assert_contiguous, batch, client, listing, publish, send, start_instance,
    start_instance_on, status, wait_status, widgets_at, Reconnect, Recording, RedisProxy, Reply,
    Seen, Viewer,
};
use common::nginx::{Nginx, Site};
use common::redis::RedisServer;
use common::{metric_in, metrics_text, SseClient, SOON};
use protocol::{EventId, ServerEvent, Snapshot};
use serde_json::{json, Value};

/// Every reason a stream can be sent a `reset`.
const RESET_REASONS: [&str; 5] = [
    "lagged",
    "expired",
    "foreign_epoch",
    "invalid_id",
    "other_build",
];

fn events_url(base: &str) -> String {
    format!("{base}/api/events")
}

/// A point's time: distinct per request, in 2026.
const T0: i64 = 1_767_225_600_000;

async fn metric(base: &str, name: &str) -> f64 {
    metric_in(&metrics_text(base).await, name).unwrap_or(0.0)
}

/// Asserts no stream of the instance at `base` was sent a `reset`.
async fn assert_no_resets_sent(base: &str, who: &str) {
    let text = metrics_text(base).await;
    for reason in RESET_REASONS {
        let name = format!("pulseboard_resets_sent_total{{reason=\"{reason}\"}}");
        assert_eq!(metric_in(&text, &name).unwrap_or(0.0), 0.0, "{who}: {name}");
    }
}

/// A fresh viewer's `init`, which must be its first event.
fn init_of(recording: &Recording, who: &str) -> protocol::Init {
    let first = recording
        .events
        .first()
        .unwrap_or_else(|| panic!("{who}: no event at all"));
    match first.decode() {
        ServerEvent::Init(init) => init,
        other => panic!("{who}: first event is not init: {other:?}"),
    }
}

/// Folds a stream's changes into the snapshot it started from.
fn fold(mut snapshot: Snapshot, changes: &[&Seen]) -> Snapshot {
    for change in changes {
        match change.decode() {
            ServerEvent::Update(update) => snapshot.apply_update(update),
            ServerEvent::Remove(remove) => snapshot.remove(&remove.id),
            other => panic!("not a change: {other:?}"),
        }
    }
    snapshot
}

/// The widget `id` of a `GET /api/widgets` listing.
fn find<'a>(widgets: &'a Value, id: &str) -> &'a Value {
    widgets
        .as_array()
        .expect("widgets is an array")
        .iter()
        .find(|w| w["id"] == id)
        .unwrap_or_else(|| panic!("no widget {id} in {widgets}"))
}

/// A series widget's points (its one line, `value`) as `(t, v)`.
fn points_of(widget: &Value) -> Vec<(i64, i64)> {
    let lines = widget["value"]["lines"].as_array().expect("series lines");
    assert_eq!(lines.len(), 1, "one line: {widget}");
    lines[0]["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| (p[0].as_i64().expect("t"), p[1].as_f64().expect("v") as i64))
        .collect()
}

/// A log widget's line texts, oldest first.
fn texts_of(widget: &Value) -> Vec<String> {
    widget["value"]["lines"]
        .as_array()
        .expect("log lines")
        .iter()
        .map(|l| l["text"].as_str().expect("text").to_owned())
        .collect()
}

/// Publishes `count` requests at `per_second`, spreading them over `bases`
/// in turn; `request(i)` says what request `i` is. Returns the answers in
/// request order, with the instance each went to.
async fn publish_at_rate(
    bases: &[String],
    per_second: u32,
    count: usize,
    request: impl Fn(usize) -> Request,
) -> Vec<(usize, Request, Reply)> {
    let client = client();
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / per_second);
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        ticker.tick().await;
        let which = i % bases.len();
        let base = bases[which].clone();
        let client = client.clone();
        let what = request(i);
        tasks.push(tokio::spawn(async move {
            let reply = what.send(&client, &base).await;
            (which, what, reply)
        }));
    }
    let mut answers = Vec::with_capacity(count);
    for task in tasks {
        answers.push(task.await.expect("publish task"));
    }
    answers
}

/// One publish request.
#[derive(Clone, Debug)]
enum Request {
    One { widget: String, body: Value },
    Batch(Value),
}

impl Request {
    async fn send(&self, client: &reqwest::Client, base: &str) -> Reply {
        match self {
            Request::One { widget, body } => publish(client, base, widget, body, None).await,
            Request::Batch(updates) => batch(client, base, updates, None).await,
        }
    }

    /// `(widget, body)` of each update it holds.
    fn updates(&self) -> Vec<(String, Value)> {
        match self {
            Request::One { widget, body } => vec![(widget.clone(), body.clone())],
            Request::Batch(updates) => updates
                .as_array()
                .expect("updates")
                .iter()
                .map(|u| {
                    let mut body = u.clone();
                    let id = body
                        .as_object_mut()
                        .expect("an object")
                        .remove("id")
                        .expect("an id");
                    (id.as_str().expect("id").to_owned(), body)
                })
                .collect(),
        }
    }

    /// The ids an accepted answer names, one per update.
    fn ids(&self, reply: &Reply) -> Vec<EventId> {
        match self {
            Request::One { .. } => vec![reply.event_id()],
            Request::Batch(_) => reply.event_ids(),
        }
    }
}

fn one(widget: &str, body: Value) -> Request {
    Request::One {
        widget: widget.to_owned(),
        body,
    }
}

/// Polls `/readyz` of `bases` every 250 ms until `stop`; returns every
/// answer that was not 200, with the instance.
fn watch_readiness(
    bases: Vec<String>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut problems = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            for base in &bases {
                let reply = send(reqwest::Client::new().get(format!("{base}/readyz"))).await;
                if reply.status != 200 {
                    problems.push(format!("{base}: {} {}", reply.status, reply.body));
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        problems
    })
}

// ---------------------------------------------------------------------------
// 1. One order, whichever instance takes the publish.
// ---------------------------------------------------------------------------

const NUMBERS: usize = 3;
const SERIES: usize = 2;
const LOGS: usize = 3;

/// Request `i` of the mixed load: numbers, series points, log lines, and
/// every tenth a batch of one of each.
fn mixed(i: usize) -> Request {
    let number = |i: usize| (format!("n.{}", i % NUMBERS), json!({ "value": i }));
    let point = |i: usize| {
        (
            format!("s.{}", i % SERIES),
            json!({ "points": [[T0 + i as i64, i]] }),
        )
    };
    let line = |i: usize| {
        (
            format!("l.{}", i % LOGS),
            json!({ "line": format!("line {i}") }),
        )
    };
    let (widget, body) = match i % 10 {
        0 | 3 | 8 => number(i),
        1 | 4 | 6 => point(i),
        2 | 5 | 7 => line(i),
        _ => {
            let items: Vec<Value> = [number(i), point(i), line(i)]
                .into_iter()
                .map(|(id, mut body)| {
                    body["id"] = json!(id);
                    body
                })
                .collect();
            return Request::Batch(json!(items));
        }
    };
    one(&widget, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_order_across_instances() {
    const RATE: u32 = 200;
    const REQUESTS: usize = 200 * 30;
    let redis = RedisServer::start(false).await;
    let a = start_instance(&redis.url(), &[]).await;
    let b = start_instance(&redis.url(), &[]).await;
    let bases = [a.base.clone(), b.base.clone()];

    let mut viewers = Vec::new();
    for (i, base) in [&a.base, &a.base, &b.base, &b.base].into_iter().enumerate() {
        let name = format!("viewer {i} on {}", if i < 2 { "A" } else { "B" });
        viewers.push(Viewer::start(&name, &events_url(base), Reconnect::Never).await);
    }

    // The widgets, with bounds that keep everything published: settings an
    // update leaves out are kept, whichever instance takes it.
    let client = client();
    let mut setup = Vec::new();
    for s in 0..SERIES {
        setup.push(
            json!({"id": format!("s.{s}"), "points": [[T0 - 1 - s as i64, -1]], "window": 10_000}),
        );
    }
    for l in 0..LOGS {
        setup.push(json!({"id": format!("l.{l}"), "line": "first", "max_lines": 1000}));
    }
    let setup = Request::Batch(json!(setup));
    let setup_reply = setup.send(&client, &a.base).await;
    assert_eq!(setup_reply.status, 200, "setup: {}", setup_reply.body);
    let setup_ids = setup.ids(&setup_reply);
    widgets_at(&b.base, setup_ids.last().unwrap()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let readiness = watch_readiness(bases.to_vec(), stop.clone());
    let started = Instant::now();
    let answers = publish_at_rate(&bases, RATE, REQUESTS, mixed).await;
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);

    // Every publish was accepted, and the ids they were answered with are
    // exactly 1..=N of one epoch, each once.
    let refused: Vec<String> = answers
        .iter()
        .filter(|(_, _, reply)| reply.status != 200)
        .map(|(which, what, reply)| format!("{which}: {what:?} → {} {}", reply.status, reply.body))
        .collect();
    assert!(
        refused.is_empty(),
        "{} refused, e.g. {:?}",
        refused.len(),
        &refused[..refused.len().min(5)]
    );
    let mut accepted: Vec<(EventId, String, Value)> = Vec::new();
    for (what, reply) in std::iter::once((&setup, &setup_reply))
        .chain(answers.iter().map(|(_, what, reply)| (what, reply)))
    {
        for (id, (widget, body)) in what.ids(reply).into_iter().zip(what.updates()) {
            accepted.push((id, widget, body));
        }
    }
    let epoch = accepted[0].0.epoch.clone();
    let n = accepted.len() as u64;
    let mut seqs: Vec<u64> = accepted
        .iter()
        .map(|(id, _, _)| {
            assert_eq!(id.epoch, epoch, "answers of two epochs");
            id.seq
        })
        .collect();
    seqs.sort_unstable();
    common::assert_gap_free(&seqs, 1, n, "the ids publishes were answered with");
    let last = EventId {
        epoch: epoch.clone(),
        seq: n,
    };

    // Every viewer, on either instance, got the same events in the same
    // order: 1..=N, no reset, nothing else.
    for viewer in &viewers {
        viewer.wait_for(&last).await;
    }
    let recordings: Vec<(String, Recording)> = viewers
        .into_iter()
        .map(|v| (v.name.clone(), v.stop()))
        .collect();
    let (first_name, first) = &recordings[0];
    let reference = first.change_triples();
    for (name, recording) in &recordings {
        let init = init_of(recording, name);
        assert_eq!(init.epoch, epoch, "{name}");
        assert_eq!(
            init.last_event_id, None,
            "{name}: connected before any publish"
        );
        let others: Vec<&str> = recording.events[1..]
            .iter()
            .filter(|e| !e.is_change())
            .map(|e| e.event.as_str())
            .collect();
        assert!(
            others.is_empty(),
            "{name}: events other than changes after init: {others:?}"
        );
        assert_eq!(recording.connections, 1, "{name}: {}", recording.summary());
        assert_eq!(
            recording.ends,
            Vec::<String>::new(),
            "{name}: the stream ended"
        );
        assert_contiguous(&recording.changes(), &epoch, 1, n, name);
        let triples = recording.change_triples();
        if let Some(i) = (0..triples.len()).find(|&i| triples[i] != reference[i]) {
            panic!(
                "{name} and {first_name} differ at change #{i}: {:?} vs {:?}",
                triples[i], reference[i]
            );
        }
    }

    // Each answer's id is the event of that publish's widget.
    let changes = first.changes();
    for (id, widget, _) in &accepted {
        let event = changes[id.seq as usize - 1];
        let carried = match event.decode() {
            ServerEvent::Update(update) => update.id.to_string(),
            other => panic!("{}: {other:?}", event.id),
        };
        assert_eq!(
            &carried, widget,
            "event {id} carries another widget than its publish"
        );
    }

    // Both instances hold the same widgets, which are the events folded.
    let on_a = widgets_at(&a.base, &last).await;
    let on_b = widgets_at(&b.base, &last).await;
    assert_eq!(on_a, on_b, "GET /api/widgets differs between A and B");
    let folded = fold(Snapshot::default(), &changes);
    assert_eq!(
        serde_json::to_value(&folded.widgets).unwrap(),
        on_a,
        "GET /api/widgets is not the events folded"
    );

    // And what was published, independently of the server's merge: every
    // point and line once, the log in stream order, each number the last
    // value in stream order.
    let mut points: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    let mut lines: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    let mut numbers: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for (id, widget, body) in &accepted {
        if let Some(p) = body["points"].as_array() {
            let p = &p[0];
            points
                .entry(widget.clone())
                .or_default()
                .push((p[0].as_i64().unwrap(), p[1].as_i64().unwrap()));
        } else if let Some(line) = body["line"].as_str() {
            lines
                .entry(widget.clone())
                .or_default()
                .push((id.seq, line.to_owned()));
        } else {
            let value = body["value"].as_i64().expect("a number");
            let entry = numbers.entry(widget.clone()).or_insert((0, 0));
            if id.seq > entry.0 {
                *entry = (id.seq, value);
            }
        }
    }
    for (widget, mut expected) in points {
        let mut held = points_of(find(&on_a, &widget));
        held.sort_unstable();
        expected.sort_unstable();
        assert_eq!(held.len(), expected.len(), "{widget}: point count");
        assert_eq!(held, expected, "{widget}: points");
    }
    for (widget, mut expected) in lines {
        expected.sort_unstable();
        let expected: Vec<String> = expected.into_iter().map(|(_, text)| text).collect();
        let held = texts_of(find(&on_a, &widget));
        assert_eq!(held.len(), expected.len(), "{widget}: line count");
        assert_eq!(held, expected, "{widget}: lines, in stream order");
    }
    for (widget, (_, value)) in numbers {
        assert_eq!(
            find(&on_a, &widget)["value"]["value"].as_f64(),
            Some(value as f64),
            "{widget}: the value of its last event"
        );
    }
    assert_no_resets_sent(&a.base, "A").await;
    assert_no_resets_sent(&b.base, "B").await;
    let not_ready = readiness.await.unwrap();
    assert!(
        not_ready.is_empty(),
        "/readyz was not 200 under load ({} times), e.g. {:?}",
        not_ready.len(),
        &not_ready[..not_ready.len().min(5)]
    );
    eprintln!("{REQUESTS} publishes ({n} events) in {took:?}");
}

// ---------------------------------------------------------------------------
// 2. Concurrent appends to one widget through different instances.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_series_appends_lose_nothing() {
    const TASKS: usize = 8;
    const EACH: usize = 100;
    let redis = RedisServer::start(false).await;
    // A short history: the stream is trimmed as the appends go, so the
    // third instance needs the checkpoint for the early ones.
    let history = ["--history-size", "100"];
    let a = start_instance(&redis.url(), &history).await;
    let b = start_instance(&redis.url(), &history).await;
    let client = client();
    let setup = batch(
        &client,
        &a.base,
        &json!([{"id": "cs", "points": [[T0 - 1, -1]], "window": 10_000}]),
        None,
    )
    .await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    let log = publish(
        &client,
        &a.base,
        "cl",
        &json!({"line": "first", "max_lines": 1000}),
        None,
    )
    .await;
    assert_eq!(log.status, 200, "{}", log.body);
    widgets_at(&b.base, &log.event_id()).await;

    let bases = [a.base.clone(), b.base.clone()];
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let client = client.clone();
            let bases = bases.clone();
            tokio::spawn(async move {
                let mut last = 0;
                for i in 0..EACH {
                    // Each task alternates between the instances, and the
                    // tasks start on different ones.
                    let base = &bases[(task + i) % 2];
                    let x = (task * 1000 + i) as i64;
                    let point = json!({"points": [[T0 + x, x]]});
                    let reply = publish(&client, base, "cs", &point, None).await;
                    assert_eq!(reply.status, 200, "point {x}: {}", reply.body);
                    last = last.max(reply.event_id().seq);
                    let line = json!({"line": format!("{task}-{i}")});
                    let reply =
                        publish(&client, &bases[(task + i + 1) % 2], "cl", &line, None).await;
                    assert_eq!(reply.status, 200, "line {task}-{i}: {}", reply.body);
                    last = last.max(reply.event_id().seq);
                }
                last
            })
        })
        .collect();
    let mut last_seq = 0;
    for task in tasks {
        last_seq = last_seq.max(task.await.expect("an appending task"));
    }
    let epoch = log.event_id().epoch;
    let last = EventId {
        epoch,
        seq: last_seq,
    };

    let mut expected_points: Vec<(i64, i64)> = (0..TASKS)
        .flat_map(|task| (0..EACH).map(move |i| (task * 1000 + i) as i64))
        .map(|x| (T0 + x, x))
        .collect();
    expected_points.sort_unstable();
    let mut expected_lines: Vec<String> = (0..TASKS)
        .flat_map(|task| (0..EACH).map(move |i| format!("{task}-{i}")))
        .collect();
    expected_lines.sort_unstable();
    let check = |who: &str, widgets: &Value| {
        let mut points = points_of(find(widgets, "cs"));
        points.retain(|&(t, _)| t >= T0);
        points.sort_unstable();
        assert_eq!(points.len(), TASKS * EACH, "{who}: series point count");
        assert_eq!(points, expected_points, "{who}: every point exactly once");
        let mut texts = texts_of(find(widgets, "cl"));
        assert_eq!(texts.first().map(String::as_str), Some("first"), "{who}");
        texts.remove(0);
        texts.sort_unstable();
        assert_eq!(texts.len(), TASKS * EACH, "{who}: log line count");
        assert_eq!(texts, expected_lines, "{who}: every line exactly once");
    };
    let on_a = widgets_at(&a.base, &last).await;
    let on_b = widgets_at(&b.base, &last).await;
    check("A", &on_a);
    check("B", &on_b);
    assert_eq!(on_a, on_b, "A and B hold different widgets");

    // The stream was trimmed behind a checkpoint of the whole state, which
    // is what a new instance starts from.
    common::eventually(SOON, "a checkpoint of the last event", || async {
        redis
            .command(&["HGET", "pulseboard:checkpoint", "seq"])
            .await
            == format!("${}\r\n{last_seq}\r\n", last_seq.to_string().len())
    })
    .await;
    let first_entry = redis
        .command(&["XRANGE", "pulseboard:events", "-", "+", "COUNT", "1"])
        .await;
    assert!(
        !first_entry.contains("\r\n1-0\r\n"),
        "the stream was never trimmed (history 100, {last_seq} events): {first_entry:?}"
    );
    let c = start_instance(&redis.url(), &history).await;
    let on_c = widgets_at(&c.base, &last).await;
    check("C", &on_c);
    assert_eq!(
        on_c, on_a,
        "a third instance started afterwards holds other widgets"
    );
}

// ---------------------------------------------------------------------------
// 3. A viewer moves to another instance without a gap or a reset.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Move {
    /// A is SIGKILLed mid-way: its viewers' streams break.
    Kill,
    /// A is SIGTERMed mid-way: its viewers get `shutdown`, then the end.
    Term,
    /// Both stay up; every stream ends after about a second.
    Rotate,
}

async fn viewers_move_between_instances(how: Move) {
    const VIEWERS: usize = 4;
    let redis = RedisServer::start(false).await;
    let mut extra = vec!["--heartbeat-interval", "1s"];
    if how == Move::Rotate {
        extra.extend_from_slice(&["--max-stream-age", "1s"]);
    }
    let mut a = start_instance(&redis.url(), &extra).await;
    let b = start_instance(&redis.url(), &extra).await;
    let nginx = Nginx::start(&Site::new(&[&a.base, &b.base])).await;

    let mut viewers = Vec::new();
    for i in 0..VIEWERS {
        let name = format!("viewer {i} through nginx");
        let viewer = Viewer::start(
            &name,
            &events_url(&nginx.base),
            Reconnect::After(Duration::from_millis(20)),
        )
        .await;
        viewers.push(viewer);
    }
    let streams = "pulseboard_open_streams";
    let on_a = metric(&a.base, streams).await;
    assert!(
        on_a >= 1.0 && on_a + metric(&b.base, streams).await >= VIEWERS as f64,
        "nginx spreads the viewers over both instances: {on_a} on A"
    );

    // ~50 publishes a second, through B (which stays up) or both.
    let publishing = Arc::new(AtomicBool::new(true));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let publisher = {
        let bases = match how {
            Move::Rotate => vec![a.base.clone(), b.base.clone()],
            Move::Kill | Move::Term => vec![b.base.clone()],
        };
        let (publishing, answers) = (publishing.clone(), answers.clone());
        tokio::spawn(async move {
            let client = client();
            let mut ticker = tokio::time::interval(Duration::from_millis(20));
            let mut i = 0usize;
            while publishing.load(Ordering::Relaxed) {
                ticker.tick().await;
                let base = &bases[i % bases.len()];
                let reply = publish(
                    &client,
                    base,
                    &format!("m.{}", i % 4),
                    &json!({"value": i}),
                    None,
                )
                .await;
                answers.lock().unwrap().push(reply);
                i += 1;
            }
        })
    };
    let mut on_a_at_stop = 0.0;
    match how {
        Move::Kill | Move::Term => {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            on_a_at_stop = metric(&a.base, streams).await;
            a.stop(if how == Move::Kill { "KILL" } else { "TERM" })
                .await;
            tokio::time::sleep(Duration::from_millis(3000)).await;
        }
        Move::Rotate => tokio::time::sleep(Duration::from_secs(8)).await,
    }
    publishing.store(false, Ordering::Relaxed);
    publisher.await.expect("the publisher");
    let answers = answers.lock().unwrap().clone();
    let refused: Vec<String> = answers
        .iter()
        .filter(|r| r.status != 200)
        .map(|r| format!("{} {}", r.status, r.body))
        .collect();
    assert!(refused.is_empty(), "publishes refused: {refused:?}");
    let ids: Vec<EventId> = answers.iter().map(Reply::event_id).collect();
    let last = ids
        .iter()
        .max_by_key(|id| id.seq)
        .expect("publishes")
        .clone();
    assert!(
        last.seq > 100,
        "too few publishes to test anything: {}",
        last.seq
    );

    for viewer in &viewers {
        viewer.wait_for(&last).await;
    }
    let mut shutdowns = 0;
    let mut connections = 0;
    for viewer in viewers {
        let name = viewer.name.clone();
        let recording = viewer.stop();
        let init = init_of(&recording, &name);
        assert_eq!(init.epoch, last.epoch, "{name}");
        let from = init.last_event_id.map_or(0, |id| id.seq);
        for event in &recording.events[1..] {
            assert!(
                event.is_change() || event.event == "shutdown",
                "{name}: {} (connection {}) after init: {}; {}",
                event.event,
                event.connection,
                event.data,
                recording.summary()
            );
        }
        assert_contiguous(&recording.changes(), &last.epoch, from + 1, last.seq, &name);
        // Every reconnect through nginx was answered with a stream: no 502
        // (nor a 503 passed on) while B is up.
        assert!(
            recording.refused.is_empty(),
            "{name}: reconnects refused: {:?}",
            recording.refused
        );
        shutdowns += recording.named("shutdown").len();
        connections += recording.connections;
        if how == Move::Rotate {
            assert!(
                recording.connections >= 5,
                "{name}: streams should end every ~1 s: {}",
                recording.summary()
            );
        }
    }
    match how {
        Move::Kill => assert!(
            connections >= VIEWERS + on_a_at_stop as usize,
            "A's {on_a_at_stop} viewers reconnected: {connections} connections in all"
        ),
        Move::Term => assert!(
            shutdowns >= on_a_at_stop as usize,
            "A's {on_a_at_stop} viewers were each sent shutdown: {shutdowns} in all"
        ),
        Move::Rotate => {}
    }
    assert_no_resets_sent(&b.base, "B").await;
    if how == Move::Rotate {
        assert_no_resets_sent(&a.base, "A").await;
    }
    drop(nginx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failover_sigkill_resumes_gap_free() {
    viewers_move_between_instances(Move::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failover_sigterm_resumes_gap_free() {
    viewers_move_between_instances(Move::Term).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stream_age_rotation_across_instances_resumes_gap_free() {
    viewers_move_between_instances(Move::Rotate).await;
}

// ---------------------------------------------------------------------------
// 4. A new instance replays events it never held.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_instance_replays_what_it_never_held() {
    const EVENTS: u64 = 50;
    const SEEN: u64 = 20;
    let redis = RedisServer::start(false).await;
    let a = start_instance(&redis.url(), &[]).await;
    let mut partial = SseClient::connect(&events_url(&a.base)).await;
    let mut full = SseClient::connect(&events_url(&a.base)).await;
    let (_, init) = partial.init().await;
    full.init().await;
    let epoch = init.epoch;

    let client = client();
    for i in 1..=EVENTS {
        let (widget, body) = match i % 3 {
            0 => ("r.n", json!({"value": i})),
            1 => ("r.s", json!({"points": [[T0 + i as i64, i]]})),
            _ => ("r.l", json!({"line": format!("line {i}")})),
        };
        let reply = publish(&client, &a.base, widget, &body, None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.event_id().seq, i);
    }
    partial.expect_updates_through(&epoch, 0, SEEN).await;
    drop(partial);
    let mut originals = Vec::new();
    for _ in 1..=EVENTS {
        originals.push(full.next_change().await);
    }

    let b = start_instance(&redis.url(), &[]).await;
    let mut resumed =
        SseClient::open(&events_url(&b.base), Some(&format!("{epoch}-{SEEN}")), None).await;
    for original in &originals[SEEN as usize..] {
        let event = resumed.next_change().await;
        assert_eq!(
            (&event.event, &event.id, &event.data),
            (&original.event, &original.id, &original.data),
            "B's replay differs from what A sent"
        );
    }
    // Nothing more: the next change is the next publish.
    let next = publish(&client, &b.base, "r.n", &json!({"value": 0}), None).await;
    assert_eq!(next.event_id().seq, EVENTS + 1);
    let event = resumed.next_change().await;
    assert_eq!(
        (event.event.as_str(), event.id.as_str()),
        ("update", next.body["event_id"].as_str().unwrap())
    );
    assert_eq!(
        metric(&b.base, "pulseboard_events_replayed_total").await,
        (EVENTS - SEEN) as f64
    );
    assert_no_resets_sent(&b.base, "B").await;
}

// ---------------------------------------------------------------------------
// 5. Redis goes away and comes back.
// ---------------------------------------------------------------------------

/// One publish attempt during the outage test.
#[derive(Clone, Debug)]
struct Attempt {
    i: usize,
    sent: Instant,
    answered: Instant,
    reply: Reply,
}

async fn redis_outage(aof: bool) {
    const OUTAGE: Duration = Duration::from_secs(10);
    let mut redis = RedisServer::start(aof).await;
    let extra = ["--heartbeat-interval", "1s"];
    let a = start_instance(&redis.url(), &extra).await;
    let b = start_instance(&redis.url(), &extra).await;
    let mut viewers = Vec::new();
    for (i, base) in [&a.base, &a.base, &b.base, &b.base].into_iter().enumerate() {
        let name = format!("viewer {i} on {}", if i < 2 { "A" } else { "B" });
        viewers.push(Viewer::start(&name, &events_url(base), Reconnect::Never).await);
    }

    // 10 publishes a second to A, alternately a number and a log line.
    let publishing = Arc::new(AtomicBool::new(true));
    let attempts = Arc::new(Mutex::new(Vec::<Attempt>::new()));
    let publisher = {
        let (publishing, attempts, base) = (publishing.clone(), attempts.clone(), a.base.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(SOON).build().unwrap();
            let mut ticker = tokio::time::interval(Duration::from_millis(100));
            let mut tasks = Vec::new();
            let mut i = 0;
            while publishing.load(Ordering::Relaxed) {
                ticker.tick().await;
                let (client, base, attempts) = (client.clone(), base.clone(), attempts.clone());
                tasks.push(tokio::spawn(async move {
                    let (widget, body) = if i % 2 == 0 {
                        ("o.num", json!({"value": i}))
                    } else {
                        ("o.log", json!({"line": format!("{i}")}))
                    };
                    let sent = Instant::now();
                    let reply = publish(&client, &base, widget, &body, None).await;
                    attempts.lock().unwrap().push(Attempt {
                        i,
                        sent,
                        answered: Instant::now(),
                        reply,
                    });
                }));
                i += 1;
            }
            for task in tasks {
                task.await.expect("a publish");
            }
        })
    };
    let accepted_count = || {
        attempts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.reply.status == 200)
            .count()
    };
    common::eventually(SOON, "20 publishes before the outage", || async {
        accepted_count() >= 20
    })
    .await;
    let (before_last, before) = listing(&a.base).await;
    let before_epoch = before_last
        .expect("an id")
        .parse::<EventId>()
        .unwrap()
        .epoch;
    assert_eq!(before.as_array().map(Vec::len), Some(2), "{before}");

    // The outage.
    redis.stop().await;
    let down = Instant::now();
    for (who, base) in [("A", &a.base), ("B", &b.base)] {
        wait_status(base, "/readyz", 503).await;
        common::wait_for_metric_at(base, "pulseboard_storage_available", |v| v == 0.0, "== 0")
            .await;
        let reply = send(reqwest::Client::new().get(format!("{base}/readyz"))).await;
        assert_eq!(
            reply.body["status"], "storage_unavailable",
            "{who}: {}",
            reply.body
        );
    }
    let heartbeats_at_down: Vec<usize> = viewers
        .iter()
        .map(|v| v.snapshot().heartbeats.len())
        .collect();
    let remaining = OUTAGE.saturating_sub(down.elapsed());
    tokio::time::sleep(remaining).await;
    // Still down at the end, and the streams are still open and beating.
    assert_eq!(status(&a.base, "/readyz").await, 503);
    for (viewer, at_down) in viewers.iter().zip(&heartbeats_at_down) {
        let recording = viewer.snapshot();
        assert!(
            recording.ends.is_empty(),
            "{}: the stream ended during the outage: {}",
            viewer.name,
            recording.summary()
        );
        assert!(
            recording.heartbeats.len() >= at_down + 5,
            "{}: heartbeats during a {OUTAGE:?} outage at 1 s: {} → {}",
            viewer.name,
            at_down,
            recording.heartbeats.len()
        );
    }
    let up_begins = Instant::now();
    redis.restart().await;
    for base in [&a.base, &b.base] {
        wait_status(base, "/readyz", 200).await;
        common::wait_for_metric_at(base, "pulseboard_storage_available", |v| v == 1.0, "== 1")
            .await;
    }
    let accepted_at_up = accepted_count();
    common::eventually(SOON, "20 publishes after the outage", || async {
        accepted_count() >= accepted_at_up + 20
    })
    .await;
    publishing.store(false, Ordering::Relaxed);
    publisher.await.expect("the publisher");
    let attempts = attempts.lock().unwrap().clone();

    // During the outage, every publish was refused with 503
    // storage_unavailable, as JSON; none was accepted.
    let during: Vec<&Attempt> = attempts
        .iter()
        .filter(|t| t.sent > down && t.answered < up_begins)
        .collect();
    assert!(
        during.len() >= 50,
        "only {} publishes during the outage",
        during.len()
    );
    for attempt in &during {
        common::assert_api_error(
            &(attempt.reply.status, attempt.reply.body.clone()),
            503,
            "storage_unavailable",
            &[],
        );
    }
    let accepted: Vec<(EventId, usize)> = attempts
        .iter()
        .filter(|t| t.reply.status == 200)
        .map(|t| (t.reply.event_id(), t.i))
        .collect();
    let others: Vec<String> = attempts
        .iter()
        .filter(|t| t.reply.status != 200 && t.reply.status != 503)
        .map(|t| format!("{} {}", t.reply.status, t.reply.body))
        .collect();
    assert!(others.is_empty(), "answers neither 200 nor 503: {others:?}");

    let last = accepted
        .iter()
        .map(|(id, _)| id.clone())
        .max_by_key(|id| (id.epoch != before_epoch, id.seq))
        .unwrap();
    for viewer in &viewers {
        viewer.wait_for(&last).await;
    }
    let on_a = widgets_at(&a.base, &last).await;
    let on_b = widgets_at(&b.base, &last).await;
    assert_eq!(
        on_a, on_b,
        "A and B hold different widgets after the outage"
    );
    let recordings: Vec<(String, Recording)> = viewers
        .into_iter()
        .map(|v| (v.name.clone(), v.stop()))
        .collect();

    if aof {
        // Nothing was lost: same epoch, every viewer saw 1..=last with no
        // reset, and every accepted publish is there.
        assert_eq!(
            last.epoch, before_epoch,
            "the epoch changed though Redis kept its data"
        );
        for (name, recording) in &recordings {
            init_of(recording, name);
            assert!(
                recording.named("reset").is_empty(),
                "{name}: {}",
                recording.summary()
            );
            let changes = recording.changes();
            assert_contiguous(&changes, &before_epoch, 1, last.seq, name);
            let seen: BTreeSet<u64> = changes.iter().map(|e| e.event_id().seq).collect();
            for (id, i) in &accepted {
                assert!(
                    seen.contains(&id.seq),
                    "{name}: accepted publish {i} ({id}) missing"
                );
            }
        }
        assert_no_resets_sent(&a.base, "A").await;
        assert_no_resets_sent(&b.base, "B").await;
        // The log has every accepted line (and no line twice).
        let texts = texts_of(find(&on_a, "o.log"));
        let unique: BTreeSet<&String> = texts.iter().collect();
        assert_eq!(unique.len(), texts.len(), "a line twice: {texts:?}");
        for (_, i) in accepted.iter().filter(|(_, i)| i % 2 == 1) {
            assert!(
                texts.contains(&i.to_string()),
                "line {i} accepted but missing"
            );
        }
    } else {
        // Redis came back empty: a new epoch, exactly one reset for every
        // viewer, then the new epoch's events without a gap; the state is
        // what was published since.
        assert_ne!(
            last.epoch, before_epoch,
            "Redis lost everything, yet the epoch is the same"
        );
        let new_epoch = last.epoch.clone();
        let accepted_after: Vec<usize> = accepted
            .iter()
            .filter(|(id, _)| id.epoch == new_epoch)
            .map(|(_, i)| *i)
            .collect();
        assert!(
            accepted
                .iter()
                .all(|(id, _)| id.epoch == new_epoch || id.epoch == before_epoch),
            "ids of a third epoch: {accepted:?}"
        );
        for (name, recording) in &recordings {
            let init = init_of(recording, name);
            let resets: Vec<usize> = recording
                .events
                .iter()
                .enumerate()
                .filter(|(_, e)| e.event == "reset")
                .map(|(i, _)| i)
                .collect();
            assert_eq!(resets.len(), 1, "{name}: resets: {}", recording.summary());
            let at = resets[0];
            let reset = match recording.events[at].decode() {
                ServerEvent::Reset(reset) => reset,
                _ => unreachable!(),
            };
            assert_eq!(reset.epoch, new_epoch, "{name}: the reset's epoch");
            let before: Vec<&Seen> = recording.events[1..at].iter().collect();
            let after: Vec<&Seen> = recording.events[at + 1..].iter().collect();
            assert!(
                before.iter().chain(&after).all(|e| e.is_change()),
                "{name}: {}",
                recording.summary()
            );
            let old_last = before.last().map_or(0, |e| e.event_id().seq);
            assert_contiguous(
                &before,
                &before_epoch,
                init.last_event_id.map_or(1, |id| id.seq + 1),
                old_last,
                name,
            );
            let from = reset.last_event_id.as_ref().map_or(0, |id| id.seq);
            assert_contiguous(&after, &new_epoch, from + 1, last.seq, name);
            // Nothing of the old epoch survives the reset.
            let state = fold(reset.view.snapshot.clone(), &after);
            assert_eq!(
                serde_json::to_value(&state.widgets).unwrap(),
                on_a,
                "{name}: the reset plus what followed is not the instance's state"
            );
        }
        // The state holds exactly what was accepted after the restart.
        let texts = texts_of(find(&on_a, "o.log"));
        let mut expected: Vec<String> = accepted_after
            .iter()
            .filter(|i| *i % 2 == 1)
            .map(|i| i.to_string())
            .collect();
        let mut sorted = texts.clone();
        sorted.sort_unstable_by_key(|t| t.parse::<usize>().unwrap());
        expected.sort_unstable_by_key(|t| t.parse::<usize>().unwrap());
        assert_eq!(
            sorted, expected,
            "the log after the restart holds exactly what was accepted since"
        );
        let value = find(&on_a, "o.num")["value"]["value"]
            .as_f64()
            .expect("a number");
        assert!(
            accepted_after.contains(&(value as usize)),
            "o.num = {value} is not a value accepted after the restart"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_outage_with_aof_recovers_without_a_gap() {
    redis_outage(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_outage_without_aof_resets_every_viewer_once() {
    redis_outage(false).await;
}

// ---------------------------------------------------------------------------
// 6. Sessions hold on every instance, and so does a logout.
// ---------------------------------------------------------------------------

const VIEWER_TOKEN: &str = "wall-screen-token-0001";

async fn login(base: &str) -> String {
    let reply = send(
        reqwest::Client::new()
            .post(format!("{base}/api/session"))
            .json(&json!({ "token": VIEWER_TOKEN })),
    )
    .await;
    assert_eq!(reply.status, 200, "login: {}", reply.body);
    let set_cookie = common::viewer::set_cookie_of(&reply.headers).expect("a session cookie");
    common::viewer::cookie_pair(&set_cookie)
}

async fn get_with(base: &str, path: &str, cookie: &str) -> Reply {
    send(
        reqwest::Client::new()
            .get(format!("{base}{path}"))
            .header("Cookie", cookie),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_hold_everywhere() {
    let redis = RedisServer::start(false).await;
    // Heartbeats far apart: a stream that ends, ends because of the logout.
    let extra = [
        "--viewer-token",
        VIEWER_TOKEN,
        "--heartbeat-interval",
        "90s",
    ];
    let a = start_instance(&redis.url(), &extra).await;
    let b = start_instance(&redis.url(), &extra).await;
    let cookie = login(&a.base).await;
    let bystander = login(&b.base).await;
    assert_eq!(
        status(&b.base, "/api/widgets").await,
        401,
        "B is closed without a session"
    );
    assert_eq!(
        get_with(&b.base, "/api/widgets", &cookie).await.status,
        200,
        "A's session on B"
    );
    assert_eq!(
        get_with(&a.base, "/api/widgets", &bystander).await.status,
        200,
        "B's session on A"
    );

    let stream = Viewer::start_with(
        "stream on A",
        &events_url(&a.base),
        Some(&cookie),
        Reconnect::Never,
    )
    .await;
    let other = Viewer::start_with(
        "bystander on A",
        &events_url(&a.base),
        Some(&bystander),
        Reconnect::Never,
    )
    .await;
    let client = client();
    let first = publish(&client, &b.base, "sess", &json!({"value": 1}), None)
        .await
        .event_id();
    stream.wait_for(&first).await;

    // Logging out through B ends the session on A, open stream included.
    let logout = send(
        reqwest::Client::new()
            .delete(format!("{}/api/session", b.base))
            .header("Cookie", &cookie),
    )
    .await;
    assert_eq!(logout.status, 200, "logout: {}", logout.body);
    stream
        .wait_until("the stream on A ends after the logout on B", |r| {
            !r.ends.is_empty()
        })
        .await;
    let ended = stream.stop();
    assert!(ended.named("update").len() == 1, "{}", ended.summary());
    let reconnect = tokio::time::timeout(
        SOON,
        reqwest::Client::new()
            .get(events_url(&a.base))
            .header("Cookie", &cookie)
            .send(),
    )
    .await
    .expect("answered within SOON")
    .expect("answered");
    assert_eq!(
        reconnect.status(),
        401,
        "a reconnect to A with the logged-out cookie"
    );
    for base in [&a.base, &b.base] {
        assert_eq!(
            get_with(base, "/api/widgets", &cookie).await.status,
            401,
            "{base}"
        );
    }
    // An instance started afterwards knows of the logout too.
    let c = start_instance(&redis.url(), &extra).await;
    assert_eq!(
        get_with(&c.base, "/api/widgets", &cookie).await.status,
        401,
        "C"
    );
    assert_eq!(
        get_with(&c.base, "/api/widgets", &bystander).await.status,
        200,
        "C"
    );

    // Another session's stream carries on.
    let second = publish(&client, &a.base, "sess", &json!({"value": 2}), None)
        .await
        .event_id();
    other.wait_for(&second).await;
    let other = other.stop();
    assert!(other.ends.is_empty(), "{}", other.summary());
}

// ---------------------------------------------------------------------------
// 7. An Idempotency-Key holds on every instance.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotent_retries_across_instances() {
    let redis = RedisServer::start(false).await;
    let a = start_instance(&redis.url(), &[]).await;
    let b = start_instance(&redis.url(), &[]).await;
    let client = client();
    let body = json!({"line": "deployed v1", "max_lines": 100});

    let first = publish(&client, &a.base, "idem.log", &body, Some("deploy-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(!first.replayed(), "a first publish is not a replay");
    let retry = publish(&client, &b.base, "idem.log", &body, Some("deploy-1")).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(
        retry.body, first.body,
        "the retry through B gets the first answer"
    );
    assert!(
        retry.replayed(),
        "Idempotent-Replayed: true on the retry: {:?}",
        retry.headers
    );
    let again = publish(&client, &a.base, "idem.log", &body, Some("deploy-1")).await;
    assert_eq!(
        (again.body.clone(), again.replayed()),
        (first.body.clone(), true)
    );

    let other = publish(
        &client,
        &b.base,
        "idem.log",
        &json!({"line": "deployed v2"}),
        Some("deploy-1"),
    )
    .await;
    common::assert_api_error(
        &(other.status, other.body.clone()),
        422,
        "idempotency_key_reused",
        &[],
    );

    // A batch, first through B then retried through A.
    let updates = json!([{"id": "idem.n", "value": 1}, {"id": "idem.log", "line": "batch line"}]);
    let first_batch = batch(&client, &b.base, &updates, Some("batch-1")).await;
    assert_eq!(first_batch.status, 200, "{}", first_batch.body);
    let retried_batch = batch(&client, &a.base, &updates, Some("batch-1")).await;
    assert_eq!(retried_batch.status, 200, "{}", retried_batch.body);
    assert_eq!(retried_batch.body, first_batch.body);
    assert!(retried_batch.replayed());

    // Each change happened once: 3 events, the line once on both.
    let last = retried_batch.event_ids().pop().expect("ids");
    assert_eq!(last.seq, 3, "one publish and a batch of two");
    for base in [&a.base, &b.base] {
        let widgets = widgets_at(base, &last).await;
        assert_eq!(widgets.as_array().unwrap().len(), 2, "{base}: {widgets}");
        assert_eq!(
            texts_of(find(&widgets, "idem.log")),
            ["deployed v1", "batch line"],
            "{base}"
        );
    }

    // A delete retried through the other instance: the first answer (not a
    // 404: the widget is gone by then), applied once.
    let delete = |base: String| {
        let client = client.clone();
        async move {
            common::cluster::send_authorized(
                client.delete(format!("{base}/api/widgets/idem.n")),
                Some("delete-1"),
            )
            .await
        }
    };
    let deleted = delete(a.base.clone()).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.event_id().seq, 4);
    let redeleted = delete(b.base.clone()).await;
    assert_eq!(
        (redeleted.status, &redeleted.body, redeleted.replayed()),
        (200, &deleted.body, true),
        "a retried delete through B"
    );
    for base in [&a.base, &b.base] {
        let widgets = widgets_at(base, &deleted.event_id()).await;
        assert_eq!(widgets.as_array().unwrap().len(), 1, "{base}: {widgets}");
    }
}

// ---------------------------------------------------------------------------
// 8. nginx never answers 502 while an instance is up.
// ---------------------------------------------------------------------------

/// Requests through nginx until `stop`: short reads of the stream and
/// listings, each answered status counted.
fn hammer(
    base: String,
    path: &'static str,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(Instant, u16)>> {
    tokio::spawn(async move {
        let client = client();
        let mut statuses = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let request = client
                .get(format!("{base}{path}"))
                .header("Accept", "text/event-stream");
            match tokio::time::timeout(SOON, request.send()).await {
                Ok(Ok(mut response)) => {
                    statuses.push((Instant::now(), response.status().as_u16()));
                    // A short read: the first chunk, then hang up.
                    let _ =
                        tokio::time::timeout(Duration::from_millis(200), response.chunk()).await;
                }
                Ok(Err(error)) => panic!("{path} through nginx: {error}"),
                Err(_) => panic!("{path} through nginx: no answer within {SOON:?}"),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        statuses
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nginx_never_answers_502_while_an_instance_is_up() {
    let redis = RedisServer::start(false).await;
    let mut a = start_instance(&redis.url(), &[]).await;
    let mut b = start_instance(&redis.url(), &[]).await;
    let client = client();
    publish(&client, &a.base, "up", &json!({"value": 1}), None).await;
    let a_addr = addr_of(&a.base);
    let nginx = Nginx::start(&Site::new(&[&a.base, &b.base])).await;

    let stop = Arc::new(AtomicBool::new(false));
    let hammers: Vec<_> = ["/api/events", "/api/events", "/api/widgets", "/api/widgets"]
        .into_iter()
        .map(|path| hammer(nginx.base.clone(), path, stop.clone()))
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    a.stop("KILL").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // A comes back on its port; nginx must use it again at once.
    let a_again = start_instance_on(&a_addr, &redis.url(), &[]).await;
    assert_eq!(a_again.base, a.base);
    tokio::time::sleep(Duration::from_millis(2400)).await;
    b.stop("TERM").await;
    let b_gone = Instant::now();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    stop.store(true, Ordering::Relaxed);
    let mut counts: BTreeMap<u16, usize> = BTreeMap::new();
    let mut after_b = 0;
    for hammer in hammers {
        for (at, status) in hammer.await.expect("a requester") {
            *counts.entry(status).or_default() += 1;
            if at > b_gone {
                after_b += 1;
            }
        }
    }
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        [200],
        "answers through nginx while at least one instance was up: {counts:?}"
    );
    assert!(after_b >= 20, "only {after_b} requests once B was gone");
    drop(nginx);
}

// ---------------------------------------------------------------------------
// 9. A viewer ahead of the instance it moves to.
// ---------------------------------------------------------------------------

/// A viewer that saw event N on A and resumes on B before B's tail has read
/// N (B trails by its tail's latency: a burst, a pause, a slow link) must
/// get N+1… once B has them, as with any other resume: not a `reset`, which
/// an id "in the future" gets on a single instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resume_ahead_of_a_trailing_instance_is_not_a_reset() {
    let redis = RedisServer::start(false).await;
    let a = start_instance(&redis.url(), &[]).await;
    // B reaches Redis through a proxy that can hold back Redis's answers.
    let proxy = RedisProxy::start(redis.port()).await;
    let b = start_instance(&proxy.url(), &[]).await;
    let client = client();
    let first = publish(&client, &a.base, "ahead", &json!({"value": 0}), None)
        .await
        .event_id();
    widgets_at(&b.base, &first).await;

    // B stops hearing from Redis; A goes on. A viewer on A sees all of it.
    proxy.pause();
    let mut viewer = SseClient::open(&events_url(&a.base), Some(&first.to_string()), None).await;
    let mut last = first.clone();
    for i in 1..=10 {
        last = publish(&client, &a.base, "ahead", &json!({"value": i}), None)
            .await
            .event_id();
    }
    viewer
        .expect_updates_through(&first.epoch, first.seq, last.seq)
        .await;
    let (b_last, _) = listing(&b.base).await;
    assert_eq!(
        b_last,
        Some(first.to_string()),
        "B is meant to trail while the proxy holds Redis's answers"
    );

    // The viewer moves to B, which catches up a moment later.
    let url = events_url(&b.base);
    let position = last.to_string();
    let opening = tokio::spawn(async move { SseClient::open(&url, Some(&position), None).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.resume();
    widgets_at(&b.base, &last).await;
    let next = publish(&client, &a.base, "ahead", &json!({"value": 11}), None).await;
    let mut moved = opening.await.expect("the stream on B");
    moved
        .expect_update(next.body["event_id"].as_str().unwrap())
        .await;
    assert_no_resets_sent(&b.base, "B").await;
}

// ---------------------------------------------------------------------------
// 10. An instance that was away while Redis started a new epoch.
// ---------------------------------------------------------------------------

/// Publishes `body` to `widget` through `base` until it is accepted (a
/// publish in the wrong epoch, or while Redis is away, gets a 503).
async fn publish_until_accepted(base: &str, widget: &str, body: Value) -> EventId {
    let client = client();
    let deadline = Instant::now() + SOON;
    loop {
        let reply = publish(&client, base, widget, &body, None).await;
        if reply.status == 200 {
            return reply.event_id();
        }
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert!(
            Instant::now() < deadline,
            "{base} refuses publishes: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// B cannot reach Redis while Redis restarts empty and A goes on in the new
/// epoch, past B's last event. When B reaches Redis again, its viewers get a
/// `reset` to the new epoch, and nothing before it: the new epoch's events
/// must not be passed off as the old epoch's next ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_away_during_a_new_epoch_shows_none_of_it_as_the_old_one() {
    let mut redis = RedisServer::start(false).await;
    let a = start_instance(&redis.url(), &[]).await;
    let proxy = RedisProxy::start(redis.port()).await;
    let b = start_instance(&proxy.url(), &[]).await;
    let viewer = Viewer::start("viewer on B", &events_url(&b.base), Reconnect::Never).await;
    let client = client();
    let mut old_last = None;
    for i in 0..3 {
        let reply = publish(
            &client,
            &a.base,
            "epochs",
            &json!({"line": format!("old {i}")}),
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        old_last = Some(reply.event_id());
    }
    let old_last = old_last.unwrap();
    viewer.wait_for(&old_last).await;

    proxy.cut();
    wait_status(&b.base, "/readyz", 503).await;
    redis.restart().await;
    let mut new_last = publish_until_accepted(&a.base, "epochs", json!({"line": "new 0"})).await;
    assert_ne!(
        new_last.epoch, old_last.epoch,
        "Redis came back empty: a new epoch"
    );
    for i in 1..10 {
        let reply = publish(
            &client,
            &a.base,
            "epochs",
            &json!({"line": format!("new {i}")}),
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        new_last = reply.event_id();
    }
    assert!(new_last.seq > old_last.seq + 3);

    proxy.restore();
    wait_status(&b.base, "/readyz", 200).await;
    widgets_at(&b.base, &new_last).await;
    viewer.wait_for(&new_last).await;
    let recording = viewer.stop();
    let resets: Vec<usize> = (0..recording.events.len())
        .filter(|&i| recording.events[i].event == "reset")
        .collect();
    assert_eq!(resets.len(), 1, "{}", recording.summary());
    let before: Vec<String> = recording.events[1..resets[0]]
        .iter()
        .map(|e| format!("{} {} {}", e.event, e.id, e.data))
        .collect();
    assert_eq!(
        before.len(),
        3,
        "before the reset, only the old epoch's 3 events: {before:#?}"
    );
    let reset = match recording.events[resets[0]].decode() {
        ServerEvent::Reset(reset) => reset,
        _ => unreachable!(),
    };
    assert_eq!(reset.epoch, new_last.epoch);
}
