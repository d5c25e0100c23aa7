//! `Idempotency-Key` on `POST /api/widgets/{id}`, `POST /api/batch` and
//! `DELETE /api/widgets/{id}`: a retry of the same request with the same key
//! is answered with the first answer's ids and `Idempotent-Replayed: true`,
//! and applied once, also after a SIGKILL of the server (the keys are
//! committed with their events) and however many copies race; another
//! request under the key is a 422, a malformed key a 400, and neither
//! applies anything. A key is remembered for as long as its events are in
//! the history (`--history-size`, `--history-age`): that is the window.

mod common;

use std::time::Duration;

use common::process::{ServerProcess, TOKEN};
use common::{
    api_config, assert_api_error, call, seq_of, spawn, test_config, SseClient, TestServer, SOON,
};
use pulseboard::config::StorageKind;
use reqwest::header::HeaderValue;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

const HEADER: &str = "Idempotency-Key";

/// An answer: its status, whether it was marked a replay, its JSON body.
#[derive(Debug)]
struct Reply {
    status: u16,
    replayed: bool,
    body: Value,
}

impl Reply {
    /// The `event_id` of a 200, which must be marked a replay or not.
    #[track_caller]
    fn id(&self, replayed: bool) -> String {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.replayed, replayed, "Idempotent-Replayed: {self:?}");
        self.body["event_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no event_id: {self:?}"))
            .to_owned()
    }

    /// The `event_ids` of a 200 to a batch, which must be marked a replay or not.
    #[track_caller]
    fn ids(&self, replayed: bool) -> Vec<String> {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.replayed, replayed, "Idempotent-Replayed: {self:?}");
        self.body["event_ids"]
            .as_array()
            .unwrap_or_else(|| panic!("no event_ids: {self:?}"))
            .iter()
            .map(|id| id.as_str().expect("an id string").to_owned())
            .collect()
    }

    /// Asserts an API error (see [`assert_api_error`]), never marked a
    /// replay; one about the key names the header.
    #[track_caller]
    fn refused(&self, status: u16, code: &str) {
        assert!(!self.replayed, "a refusal marked a replay: {self:?}");
        let mentions: &[&str] = if code.contains("idempotency") {
            &[HEADER]
        } else {
            &[]
        };
        assert_api_error(&(self.status, self.body.clone()), status, code, mentions);
    }
}

async fn send(request: RequestBuilder) -> Reply {
    let response = tokio::time::timeout(SOON, request.send())
        .await
        .expect("answered within SOON")
        .expect("request succeeds");
    let status = response.status().as_u16();
    let replayed = match response.headers().get("idempotent-replayed") {
        None => false,
        Some(value) => {
            assert_eq!(value, "true", "the only value Idempotent-Replayed takes");
            true
        }
    };
    let body = response.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        replayed,
        body,
    }
}

/// A request with the publish token and one `Idempotency-Key` header per
/// item of `keys` (raw bytes, so malformed ones go out as they are).
fn request(method: Method, url: String, keys: &[&[u8]]) -> RequestBuilder {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(TOKEN);
    for key in keys {
        let value = HeaderValue::from_bytes(key).expect("bytes a header may carry");
        request = request.header(HEADER, value);
    }
    request
}

/// `POST /api/widgets/{widget}` with `body` as it is.
async fn publish_raw(base: &str, widget: &str, keys: &[&[u8]], body: &str) -> Reply {
    let url = format!("{base}/api/widgets/{widget}");
    send(request(Method::POST, url, keys).body(body.to_owned())).await
}

async fn publish(base: &str, widget: &str, key: &str, body: &Value) -> Reply {
    publish_raw(base, widget, &[key.as_bytes()], &body.to_string()).await
}

async fn batch_with(base: &str, keys: &[&[u8]], updates: &Value) -> Reply {
    let body = json!({ "updates": updates }).to_string();
    let url = format!("{base}/api/batch");
    send(request(Method::POST, url, keys).body(body)).await
}

async fn batch(base: &str, key: &str, updates: &Value) -> Reply {
    batch_with(base, &[key.as_bytes()], updates).await
}

async fn delete_with(base: &str, widget: &str, keys: &[&[u8]]) -> Reply {
    let url = format!("{base}/api/widgets/{widget}");
    send(request(Method::DELETE, url, keys)).await
}

async fn delete(base: &str, widget: &str, key: &str) -> Reply {
    delete_with(base, widget, &[key.as_bytes()]).await
}

/// `GET /api/widgets/{widget}`: the status and the widget.
async fn widget(base: &str, widget: &str) -> (u16, Value) {
    call(
        Method::GET,
        &format!("{base}/api/widgets/{widget}"),
        None,
        None,
    )
    .await
}

/// The lines of log widget `id`, which must exist.
async fn log_lines(base: &str, id: &str) -> Vec<String> {
    let (status, body) = widget(base, id).await;
    assert_eq!(status, 200, "GET {id}: {body}");
    body["value"]["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("{id} is not a log: {body}"))
        .iter()
        .map(|line| line["text"].as_str().expect("a line's text").to_owned())
        .collect()
}

/// The point values of series widget `id`'s only line.
async fn series_points(base: &str, id: &str) -> Vec<f64> {
    let (status, body) = widget(base, id).await;
    assert_eq!(status, 200, "GET {id}: {body}");
    body["value"]["lines"][0]["points"]
        .as_array()
        .unwrap_or_else(|| panic!("{id} is not a series: {body}"))
        .iter()
        .map(|point| point[1].as_f64().expect("a point's value"))
        .collect()
}

fn log_line(line: &str) -> Value {
    json!({"kind": "log", "line": line})
}

/// Publishes to a `marker` widget and checks it is the viewer's next change:
/// whatever the viewer was expected to get before is all it got.
async fn expect_nothing_more(base: &str, viewer: &mut SseClient) {
    let marker = publish(
        base,
        "marker",
        &format!("marker-{}", rand_suffix()),
        &json!({"kind": "number", "value": 1}),
    )
    .await
    .id(false);
    let update = viewer.expect_update(&marker).await;
    assert_eq!(update.id.as_str(), "marker");
}

/// A key no other request of a test uses.
fn rand_suffix() -> u64 {
    rand::random()
}

async fn viewer_of(server: &TestServer) -> SseClient {
    let mut viewer = server.connect().await;
    viewer.init().await;
    viewer
}

// ---------------------------------------------------------------------------
// (a), (b) A retry is answered with the first ids and applied once.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_retried_publish_gets_the_first_id_and_is_applied_once() {
    let server = spawn(api_config()).await;
    let base = server.base.as_str();
    let mut viewer = viewer_of(&server).await;

    let first = publish(base, "deploys", "deploy-1", &log_line("v1 deployed")).await;
    let id = first.id(false);
    assert_eq!(first.body, json!({"widget": "deploys", "event_id": id}));
    let point = json!({"kind": "series", "points": [7]});
    let series_id = publish(base, "orders", "orders-1", &point).await.id(false);
    for _ in 0..3 {
        let retry = publish(base, "deploys", "deploy-1", &log_line("v1 deployed")).await;
        assert_eq!(retry.id(true), id);
        assert_eq!(retry.body, first.body, "the first answer, as it was");
        assert_eq!(
            publish(base, "orders", "orders-1", &point).await.id(true),
            series_id
        );
    }

    assert_eq!(log_lines(base, "deploys").await, ["v1 deployed"]);
    assert_eq!(series_points(base, "orders").await, [7.0]);
    viewer.expect_update(&id).await;
    viewer.expect_update(&series_id).await;
    expect_nothing_more(base, &mut viewer).await;

    // Without a key, the same request twice is two updates: the key is what
    // made the retries above change nothing.
    for _ in 0..2 {
        let url = format!("{base}/api/widgets/deploys");
        let reply = send(request(Method::POST, url, &[]).json(&log_line("v1 deployed"))).await;
        viewer.expect_update(&reply.id(false)).await;
    }
    assert_eq!(log_lines(base, "deploys").await, ["v1 deployed"; 3]);
}

#[actix_web::test]
async fn a_retried_batch_or_delete_gets_the_first_ids_and_is_applied_once() {
    let server = spawn(api_config()).await;
    let base = server.base.as_str();
    let doomed = publish(base, "doomed", "create-doomed", &log_line("soon gone"))
        .await
        .id(false);
    let mut viewer = viewer_of(&server).await;

    let updates = json!([
        {"id": "deploys", "kind": "log", "line": "v2 deployed"},
        {"id": "orders", "kind": "series", "points": [3]},
    ]);
    let ids = batch(base, "batch-1", &updates).await.ids(false);
    assert_eq!(ids.len(), 2);
    let removed = delete(base, "doomed", "delete-1").await.id(false);
    assert!(seq_of(&removed) > seq_of(&doomed));
    for _ in 0..3 {
        assert_eq!(batch(base, "batch-1", &updates).await.ids(true), ids);
        // Answered as the first time, though the widget is gone by now.
        let retry = delete(base, "doomed", "delete-1").await;
        assert_eq!(retry.id(true), removed);
        assert_eq!(retry.body["widget"], "doomed");
    }

    assert_eq!(log_lines(base, "deploys").await, ["v2 deployed"]);
    assert_eq!(series_points(base, "orders").await, [3.0]);
    assert_eq!(widget(base, "doomed").await.0, 404);
    viewer.expect_update(&ids[0]).await;
    viewer.expect_update(&ids[1]).await;
    viewer.expect_remove("doomed", &removed).await;
    expect_nothing_more(base, &mut viewer).await;
    // Without the key, the delete is a new request, and there is nothing left.
    assert_eq!(delete_with(base, "doomed", &[]).await.status, 404);
}

// ---------------------------------------------------------------------------
// (c) The same key with another request.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_key_used_again_for_another_request_is_refused_and_nothing_applied() {
    let server = spawn(api_config()).await;
    let base = server.base.as_str();
    let body = r#"{"kind": "log", "line": "v3 deployed"}"#;
    let id = publish_raw(base, "deploys", &[b"job-7"], body)
        .await
        .id(false);
    let mut viewer = viewer_of(&server).await;

    let others = [
        (
            "another body",
            publish(base, "deploys", "job-7", &log_line("v4 deployed")).await,
        ),
        (
            "the same JSON spaced differently: the body is compared byte for byte",
            publish_raw(
                base,
                "deploys",
                &[b"job-7"],
                r#"{"kind":"log","line":"v3 deployed"}"#,
            )
            .await,
        ),
        (
            "another widget",
            publish_raw(base, "builds", &[b"job-7"], body).await,
        ),
        (
            "a batch",
            batch(
                base,
                "job-7",
                &json!([{"id": "builds", "kind": "log", "line": "x"}]),
            )
            .await,
        ),
        ("a delete", delete(base, "deploys", "job-7").await),
    ];
    for (what, reply) in &others {
        assert_eq!(reply.status, 422, "{what}: {reply:?}");
        reply.refused(422, "idempotency_key_reused");
    }

    assert_eq!(log_lines(base, "deploys").await, ["v3 deployed"]);
    assert_eq!(widget(base, "builds").await.0, 404);
    expect_nothing_more(base, &mut viewer).await;
    // The key still answers the request it was first used for.
    let retry = publish_raw(base, "deploys", &[b"job-7"], body).await;
    assert_eq!(retry.id(true), id);
}

// ---------------------------------------------------------------------------
// (d) Malformed keys.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_malformed_key_is_refused_and_nothing_applied() {
    let server = spawn(api_config()).await;
    let base = server.base.as_str();
    publish(base, "kept", "create-kept", &log_line("here"))
        .await
        .id(false);
    let mut viewer = viewer_of(&server).await;

    let too_long = "k".repeat(256);
    let malformed: [(&str, Vec<&[u8]>); 6] = [
        ("empty", vec![b"".as_slice()]),
        ("256 characters", vec![too_long.as_bytes()]),
        ("not ASCII", vec!["clé".as_bytes()]),
        ("a space", vec![b"two words".as_slice()]),
        ("a tab", vec![b"tab\there".as_slice()]),
        ("sent twice", vec![b"same".as_slice(), b"same".as_slice()]),
    ];
    for (what, keys) in &malformed {
        let replies = [
            (
                "publish",
                publish_raw(base, "fresh", keys, &log_line("no").to_string()).await,
            ),
            (
                "batch",
                batch_with(base, keys, &json!([{"id": "fresh", "line": "no"}])).await,
            ),
            ("delete", delete_with(base, "kept", keys).await),
        ];
        for (route, reply) in replies {
            assert_eq!(reply.status, 400, "{what}, {route}: {reply:?}");
            reply.refused(400, "invalid_idempotency_key");
        }
    }

    assert_eq!(widget(base, "fresh").await.0, 404);
    assert_eq!(log_lines(base, "kept").await, ["here"]);
    expect_nothing_more(base, &mut viewer).await;

    // The longest key there may be is one.
    let longest = "k".repeat(255);
    let id = publish(base, "fresh", &longest, &log_line("yes"))
        .await
        .id(false);
    assert_eq!(
        publish(base, "fresh", &longest, &log_line("yes"))
            .await
            .id(true),
        id
    );
    assert_eq!(log_lines(base, "fresh").await, ["yes"]);
}

// ---------------------------------------------------------------------------
// (f) Concurrent retries.
// ---------------------------------------------------------------------------

/// 20 copies of one request, sent at once with one key, through the SQLite
/// log (whose group commits take several of them in one transaction): one
/// is applied, and every answer names its event.
#[actix_web::test]
async fn concurrent_copies_of_a_request_are_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = api_config();
    config.storage = StorageKind::Sqlite;
    config.data_dir = Some(dir.path().to_owned());
    let server = spawn(config).await;
    let base = server.base.as_str();
    let mut viewer = viewer_of(&server).await;

    let line = log_line("v5 deployed");
    let copies = (0..20).map(|_| publish(base, "deploys", "racing", &line));
    let replies = futures_util::future::join_all(copies).await;
    let applied: Vec<&Reply> = replies.iter().filter(|reply| !reply.replayed).collect();
    assert_eq!(applied.len(), 1, "exactly one applied: {replies:?}");
    let id = applied[0].id(false);
    for reply in &replies {
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body, json!({"widget": "deploys", "event_id": id}));
    }
    let updates = json!([
        {"id": "orders", "kind": "series", "points": [1]},
        {"id": "builds", "kind": "log", "line": "green"},
    ]);
    let copies = (0..20).map(|_| batch(base, "racing-batch", &updates));
    let replies = futures_util::future::join_all(copies).await;
    assert_eq!(replies.iter().filter(|reply| !reply.replayed).count(), 1);
    let ids = replies[0].ids(replies[0].replayed);
    for reply in &replies {
        assert_eq!(reply.ids(reply.replayed), ids);
    }

    assert_eq!(log_lines(base, "deploys").await, ["v5 deployed"]);
    assert_eq!(series_points(base, "orders").await, [1.0]);
    assert_eq!(log_lines(base, "builds").await, ["green"]);
    viewer.expect_update(&id).await;
    viewer.expect_update(&ids[0]).await;
    viewer.expect_update(&ids[1]).await;
    expect_nothing_more(base, &mut viewer).await;
}

// ---------------------------------------------------------------------------
// (e) A SIGKILL, and an older database.
// ---------------------------------------------------------------------------

/// A publish, a batch and a delete with keys, answered; the server is
/// killed; retries to the restarted server get the same answers, marked
/// replays, and change nothing.
#[actix_web::test]
async fn keys_survive_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = ServerProcess::start_in(dir.path(), &[]).await;
    let base = first.base.clone();
    publish(&base, "doomed", "create-doomed", &log_line("soon gone"))
        .await
        .id(false);
    let id = publish(&base, "deploys", "deploy-9", &log_line("v9 deployed"))
        .await
        .id(false);
    let updates = json!([
        {"id": "orders", "kind": "series", "points": [9]},
        {"id": "builds", "kind": "log", "line": "build 9"},
    ]);
    let ids = batch(&base, "batch-9", &updates).await.ids(false);
    let removed = delete(&base, "doomed", "delete-9").await.id(false);
    first.stop("KILL").await;

    let second = ServerProcess::start_in(dir.path(), &[]).await;
    let base = second.base.clone();
    let mut viewer = SseClient::connect(&format!("{base}/api/events")).await;
    viewer.init().await;
    assert_eq!(
        publish(&base, "deploys", "deploy-9", &log_line("v9 deployed"))
            .await
            .id(true),
        id
    );
    assert_eq!(batch(&base, "batch-9", &updates).await.ids(true), ids);
    assert_eq!(delete(&base, "doomed", "delete-9").await.id(true), removed);
    // What the key was used for is known too.
    publish(&base, "deploys", "deploy-9", &log_line("v10 deployed"))
        .await
        .refused(422, "idempotency_key_reused");

    assert_eq!(log_lines(&base, "deploys").await, ["v9 deployed"]);
    assert_eq!(series_points(&base, "orders").await, [9.0]);
    assert_eq!(log_lines(&base, "builds").await, ["build 9"]);
    assert_eq!(widget(&base, "doomed").await.0, 404);
    expect_nothing_more(&base, &mut viewer).await;
}

/// A database written before the keys were kept (schema 2, or 1 without the
/// revoked sessions either) is upgraded in place at start; its keys then
/// survive a SIGKILL like any.
#[actix_web::test]
async fn an_older_database_is_upgraded_and_keeps_keys_from_then_on() {
    for (version, older) in [
        (2, "DROP TABLE idempotency_keys; PRAGMA user_version = 2;"),
        (
            1,
            "DROP TABLE idempotency_keys; DROP TABLE revoked_sessions; PRAGMA user_version = 1;",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pulseboard.db");
        let mut server = ServerProcess::start_in(dir.path(), &[]).await;
        publish(&server.base, "deploys", "before", &log_line("v1 deployed"))
            .await
            .id(false);
        server.stop("TERM").await;
        let connection = rusqlite::Connection::open(&db).expect("open the database");
        connection.execute_batch(older).expect("make it older");
        connection.close().expect("close the database");

        let mut upgraded = ServerProcess::start_in(dir.path(), &[]).await;
        let base = upgraded.base.clone();
        assert_eq!(
            log_lines(&base, "deploys").await,
            ["v1 deployed"],
            "schema {version}: its data kept"
        );
        let id = publish(&base, "deploys", "after", &log_line("v2 deployed"))
            .await
            .id(false);
        upgraded.stop("KILL").await;

        let mut restarted = ServerProcess::start_in(dir.path(), &[]).await;
        let base = restarted.base.clone();
        let retry = publish(&base, "deploys", "after", &log_line("v2 deployed")).await;
        assert_eq!(retry.id(true), id, "schema {version}");
        assert_eq!(
            log_lines(&base, "deploys").await,
            ["v1 deployed", "v2 deployed"]
        );
        restarted.stop("TERM").await;
        let connection = rusqlite::Connection::open(&db).expect("open the database");
        let now: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .expect("read the schema version");
        assert_eq!(now, 3, "upgraded from {version}");
    }
}

// ---------------------------------------------------------------------------
// (g) The window: the history.
// ---------------------------------------------------------------------------

/// With `--history-size 5`, a key is remembered while its event is among the
/// last 5; once 5 more events have come, a retry is a new update with a new
/// id. So is it after a restart, however long the database kept the row.
#[actix_web::test]
async fn a_key_is_remembered_while_its_events_are_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let settings = ["--history-size", "5"];
    let mut server = ServerProcess::start_in(dir.path(), &settings).await;
    let base = server.base.clone();
    let line = log_line("vW deployed");
    let retry = || publish(&base, "deploys", "deploy-w", &line);
    let id = retry().await.id(false);
    let others = |count: usize| {
        let base = base.clone();
        async move {
            for value in 0..count {
                let body = json!({"kind": "number", "value": value});
                publish(&base, "other", &format!("other-{}", rand_suffix()), &body)
                    .await
                    .id(false);
            }
        }
    };
    others(4).await;
    assert_eq!(retry().await.id(true), id, "its event is among the last 5");
    others(1).await;
    let again = retry().await.id(false);
    assert_eq!(seq_of(&again), seq_of(&id) + 6, "a new update, a new id");
    assert_eq!(log_lines(&base, "deploys").await, ["vW deployed"; 2]);
    // The new answer is what the key means now.
    assert_eq!(retry().await.id(true), again);

    // Out of the window at the kill: forgotten after the restart too.
    others(5).await;
    server.stop("KILL").await;
    let server = ServerProcess::start_in(dir.path(), &settings).await;
    let base = server.base.clone();
    let after_restart = publish(&base, "deploys", "deploy-w", &log_line("vW deployed"))
        .await
        .id(false);
    assert!(seq_of(&after_restart) > seq_of(&again));
    assert_eq!(log_lines(&base, "deploys").await, ["vW deployed"; 3]);
}

/// With `--history-age 2s`, a key is forgotten two seconds after it was
/// used, even with nothing committed meanwhile (the checkpoint a second after
/// the publish is the last commit).
#[actix_web::test]
async fn a_key_is_forgotten_once_its_events_are_older_than_the_history_age() {
    let mut config = api_config();
    config.history_age = Duration::from_secs(2);
    let server = spawn(config).await;
    let base = server.base.as_str();
    let id = publish(base, "deploys", "deploy-a", &log_line("vA deployed"))
        .await
        .id(false);
    assert_eq!(
        publish(base, "deploys", "deploy-a", &log_line("vA deployed"))
            .await
            .id(true),
        id
    );
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let again = publish(base, "deploys", "deploy-a", &log_line("vA deployed"))
        .await
        .id(false);
    assert_ne!(again, id);
    assert_eq!(log_lines(base, "deploys").await, ["vA deployed"; 2]);
}

// ---------------------------------------------------------------------------
// A commit that fails takes its keys with it.
// ---------------------------------------------------------------------------

/// Sets the server's soft limit on file size (see tests/storage.rs: a limit
/// under one SQLite page makes every write fail like a full disk), or lifts it.
fn limit_file_size(pid: u32, limit: Option<u64>) {
    let soft = limit.map_or("unlimited".to_owned(), |l| l.to_string());
    let output = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={soft}:")])
        .output()
        .expect("run prlimit (util-linux)");
    assert!(
        output.status.success(),
        "prlimit --fsize={soft}: failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A publish refused with 503 (the disk failed) left no key behind: its
/// retry, once the disk works, is applied (not answered with ids that were
/// never committed), then remembered.
#[actix_web::test]
async fn a_key_whose_commit_failed_is_not_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_in(dir.path(), &[]).await;
    let base = server.base.clone();
    // Large enough that no write of it fits under the limit.
    let body = json!({"kind": "log", "max_lines": 100,
        "lines": (0..50).map(|i| format!("line {i}: {}", "x".repeat(960))).collect::<Vec<_>>()});
    limit_file_size(server.pid(), Some(512));
    publish(&base, "big", "big-1", &body)
        .await
        .refused(503, "storage_unavailable");
    limit_file_size(server.pid(), None);
    let mut ready = false;
    for _ in 0..SOON.as_millis() / 50 {
        if server.get_json("/readyz").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the storage works again within {SOON:?}");

    let id = publish(&base, "big", "big-1", &body).await.id(false);
    assert_eq!(publish(&base, "big", "big-1", &body).await.id(true), id);
    assert_eq!(log_lines(&base, "big").await.len(), 50);
}

// ---------------------------------------------------------------------------
// The OpenAPI document.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_openapi_document_describes_the_header_and_its_errors() {
    let server = spawn(test_config()).await;
    let doc: Value = server.get("/api/openapi.json").await.json().await.unwrap();
    for (path, method) in [
        ("/api/widgets/{id}", "post"),
        ("/api/batch", "post"),
        ("/api/widgets/{id}", "delete"),
    ] {
        let operation = &doc["paths"][path][method];
        let header = operation["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
            .iter()
            .find(|p| p["name"] == HEADER)
            .unwrap_or_else(|| panic!("{method} {path}: no {HEADER} parameter"));
        assert_eq!(header["in"], "header", "{method} {path}");
        assert_eq!(header["required"], false, "{method} {path}");
        for (status, code) in [
            ("400", "invalid_idempotency_key"),
            ("422", "idempotency_key_reused"),
        ] {
            let description = operation["responses"][status]["description"]
                .as_str()
                .unwrap_or_default();
            assert!(
                description.contains(code),
                "{method} {path} {status}: {description:?}"
            );
        }
    }
}
