//! The SQLite event log on disk, with the real binary (issue 11): a disk that
//! stops taking writes refuses publishes (503, nothing applied, viewers keep
//! their heartbeats) until it works again, with no restart; a corrupt or
//! unreadable `pulseboard.db` stops the start and is left as it was; an old
//! `state.json` is imported once; and the files stay small however long the
//! server runs, because events beyond the history bounds are deleted.

mod common;

use std::path::{Path, PathBuf};

use common::process::{path_str, run_to_exit, ServerProcess, BASE_ARGS, TOKEN};
use common::{
    assert_api_error, call, eventually, metric_in, metrics_text, seq_of, SseClient, SOON,
};
use protocol::Widget;
use serde_json::{json, Value};

const DB: &str = "pulseboard.db";

/// `POST path` with the publish token and a JSON body.
async fn post(server: &ServerProcess, path: &str, body: &Value) -> reqwest::Response {
    tokio::time::timeout(
        SOON,
        reqwest::Client::new()
            .post(format!("{}{path}", server.base))
            .bearer_auth(TOKEN)
            .json(body)
            .send(),
    )
    .await
    .expect("answered within SOON")
    .expect("request succeeds")
}

/// The whole body of `GET /api/widgets`.
async fn listing(server: &ServerProcess) -> Value {
    let (status, body) = server.get_json("/api/widgets").await;
    assert_eq!(status, 200, "GET /api/widgets: {body}");
    body
}

async fn metric(server: &ServerProcess, name: &str) -> f64 {
    let text = metrics_text(&server.base).await;
    metric_in(&text, name).unwrap_or_else(|| panic!("metric {name} not found in:\n{text}"))
}

async fn readyz(server: &ServerProcess) -> (u16, Value) {
    server.get_json("/readyz").await
}

// ---------------------------------------------------------------------------
// (a) A disk that stops taking writes, and recovers.
// ---------------------------------------------------------------------------

/// Sets the server process's soft limit on file size (`RLIMIT_FSIZE`), or
/// lifts it back to the hard limit (unlimited) with `None`.
///
/// Why this way: the kernel checks `RLIMIT_FSIZE` against the *end offset* of
/// each write to a regular file (`generic_write_check_limits`: a write
/// starting at or past the limit fails with EFBIG, one crossing it is cut
/// short), whatever the file's size. A limit smaller than one SQLite page
/// therefore makes every page write fail — to the WAL, to the database,
/// wherever in a reused WAL it lands — exactly like a full disk, and it is
/// lifted again with one call, without a restart. It needs no mount (a
/// small tmpfs does, and so CAP_SYS_ADMIN, which a container may not have)
/// and no `chattr` (which not every file system supports), and touching only
/// the soft limit keeps the hard one, so lifting it needs no privilege. The
/// server ignores SIGXFSZ (spec), so the failed write is an error it sees,
/// not a signal that kills it.
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

/// Smaller than any page SQLite writes (4096 bytes plus a WAL frame header).
const TINY_FILE_SIZE: u64 = 512;

/// A log update of about 50 KB (under the 64 KiB body limit): no write of it
/// can fit under [`TINY_FILE_SIZE`], wherever the server puts it.
fn big_log(tag: &str) -> Value {
    let lines: Vec<String> = (0..50)
        .map(|i| format!("{tag} line {i}: {}", "x".repeat(960)))
        .collect();
    json!({"kind": "log", "max_lines": 100, "lines": lines})
}

#[actix_web::test]
async fn a_failing_disk_refuses_publishes_until_it_works_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start_in(dir.path(), &["--heartbeat-interval", "200ms"]).await;
    server
        .publish_ok("kept", json!({"kind": "number", "value": 1}))
        .await;
    server.publish_ok("big", big_log("before")).await;
    let last_ok = server
        .publish_ok("doomed", json!({"kind": "text", "text": "still here"}))
        .await;
    let before = listing(&server).await;
    assert_eq!(before["last_event_id"], last_ok.as_str());
    assert_eq!(readyz(&server).await.0, 200);
    assert_eq!(metric(&server, "pulseboard_storage_available").await, 1.0);
    let mut viewer = SseClient::connect(&format!("{}/api/events", server.base)).await;
    let (init_event, _) = viewer.init().await;
    assert_eq!(init_event.id, last_ok);

    limit_file_size(server.pid(), Some(TINY_FILE_SIZE));

    // A publish, a batch and a delete: each refused with 503 and Retry-After,
    // none applied.
    let refusals = [
        (
            "POST /api/widgets/big",
            post(&server, "/api/widgets/big", &big_log("during")).await,
        ),
        (
            "POST /api/batch",
            post(
                &server,
                "/api/batch",
                &json!({"updates": [
                    {"id": "kept", "value": 2},
                    {"id": "fresh", "text": "y".repeat(9_000)},
                    {"id": "big", "lines": ["z".repeat(2_000)]},
                ]}),
            )
            .await,
        ),
        ("DELETE /api/widgets/doomed", {
            tokio::time::timeout(
                SOON,
                reqwest::Client::new()
                    .delete(format!("{}/api/widgets/doomed", server.base))
                    .bearer_auth(TOKEN)
                    .send(),
            )
            .await
            .expect("answered within SOON")
            .expect("request succeeds")
        }),
    ];
    for (what, response) in refusals {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let body: Value = response.json().await.unwrap_or_default();
        assert_api_error(&(status, body), 503, "storage_unavailable", &[]);
        let retry_after = retry_after.unwrap_or_else(|| panic!("{what}: no Retry-After"));
        assert!(
            retry_after.parse::<u64>().is_ok_and(|s| s >= 1),
            "{what}: Retry-After {retry_after:?} is not a number of seconds"
        );
    }
    assert_eq!(
        listing(&server).await,
        before,
        "nothing applied while the disk fails"
    );

    // The open stream gets none of it, and keeps its heartbeats (200 ms).
    for _ in 0..3 {
        let event = viewer.next().await.expect("the stream stays open");
        assert_eq!(
            event.event, "heartbeat",
            "only heartbeats while nothing can be stored: {} {}: {}",
            event.event, event.id, event.data
        );
    }

    let (status, body) = readyz(&server).await;
    assert_eq!(status, 503, "/readyz while the disk fails: {body}");
    assert_eq!(body["status"], "storage_unavailable", "{body}");
    assert!(
        metric(&server, "pulseboard_storage_errors_total").await > 0.0,
        "storage errors counted"
    );
    assert_eq!(metric(&server, "pulseboard_storage_available").await, 0.0);
    let refused_while_failing = metric(
        &server,
        "pulseboard_requests_refused_total{reason=\"storage_unavailable\"}",
    )
    .await;
    // The disk works again: with no publish and no restart, the server finds
    // out (it probes every second) and is ready again.
    limit_file_size(server.pid(), None);
    let running = &server;
    eventually(SOON, "/readyz answers 200 again", move || async move {
        readyz(running).await.0 == 200
    })
    .await;
    assert_eq!(readyz(&server).await.1, json!({"status": "ready"}));
    assert_eq!(metric(&server, "pulseboard_storage_available").await, 1.0);

    // Publishing works again; the refused changes left no id behind: the next
    // one follows the last acknowledged, and it is the stream's next event.
    let after = server.publish_ok("big", big_log("after")).await;
    assert_eq!(
        seq_of(&after),
        seq_of(&last_ok) + 1,
        "refused publishes use no id"
    );
    let update = viewer.expect_update(&after).await;
    assert_eq!(update.id.as_str(), "big");
    let widgets = listing(&server).await["widgets"].clone();
    let ids: Vec<&str> = widgets
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["kept", "big", "doomed"],
        "no trace of the refused batch"
    );

    // And what was stored after the recovery is on disk.
    server.stop("TERM").await;
    let restarted = ServerProcess::start_in(dir.path(), &[]).await;
    let reloaded = listing(&restarted).await;
    assert_eq!(reloaded["widgets"], widgets);
    assert_eq!(reloaded["last_event_id"], after.as_str());

    // Checked last, so that a miscount does not hide how the rest behaves.
    assert!(
        refused_while_failing >= 3.0,
        "each refusal counted in \
         pulseboard_requests_refused_total{{reason=\"storage_unavailable\"}}: \
         {refused_while_failing} after 3 refused publishes"
    );
}

// ---------------------------------------------------------------------------
// (b) A corrupt or unreadable database stops the start, untouched.
// ---------------------------------------------------------------------------

/// Starts the binary on `dir`, whose `pulseboard.db` is bad: it must exit
/// with code 1 within `SOON`, name the file on stderr, and leave it as it was.
async fn refuses_to_start(dir: &Path, what: &str) {
    let db = dir.join(DB);
    let snapshot = |path: &PathBuf| -> Option<Vec<u8>> { std::fs::read(path).ok() };
    let bytes = snapshot(&db);
    let (status, stderr) = run_to_exit(
        &[&BASE_ARGS[..], &["--data-dir", path_str(dir)]].concat(),
        &[],
    )
    .await;
    assert_eq!(
        status.code(),
        Some(1),
        "{what}: exit code 1, got {status}; stderr:\n{stderr}"
    );
    let path = db.to_str().unwrap();
    assert!(
        stderr.contains(path),
        "{what}: stderr names {path}:\n{stderr}"
    );
    assert_eq!(snapshot(&db), bytes, "{what}: {DB} left exactly as it was");
}

#[actix_web::test]
async fn a_garbage_database_file_stops_the_start_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = b"this is not an SQLite database\n"
        .iter()
        .copied()
        .cycle()
        .take(16 * 1024)
        .enumerate()
        .map(|(i, b)| if i % 97 == 0 { (i % 251) as u8 } else { b })
        .collect();
    std::fs::write(dir.path().join(DB), &garbage).unwrap();
    refuses_to_start(dir.path(), "garbage").await;
    assert_eq!(std::fs::read(dir.path().join(DB)).unwrap(), garbage);
}

#[actix_web::test]
async fn a_truncated_database_stops_the_start_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start_in(dir.path(), &[]).await;
    // Many pages of widgets, so half the file holds some of them.
    for i in 0..40 {
        server
            .publish_ok(
                &format!("page-{i:02}"),
                json!({"kind": "text", "text": format!("{i:02} {}", "p".repeat(3_000))}),
            )
            .await;
    }
    server.stop("TERM").await;
    // Whatever the server left in the WAL goes into the database file first
    // (with SQLite itself), so that cutting the file cuts pages that hold
    // data, and no WAL copy of them is left to read instead.
    let db = dir.path().join(DB);
    let connection = rusqlite::Connection::open(&db).expect("open the database");
    connection
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            row.get::<_, i64>(0)
        })
        .expect("checkpoint the WAL");
    connection.close().expect("close the database");
    let wal = dir.path().join(format!("{DB}-wal"));
    assert_eq!(
        std::fs::metadata(&wal).map_or(0, |m| m.len()),
        0,
        "the WAL is empty (or gone)"
    );
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len >= 40 * 3_000, "{DB} holds the widgets: {len} bytes");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    refuses_to_start(dir.path(), "truncated to half").await;
    assert_eq!(std::fs::metadata(&db).unwrap().len(), len / 2);
}

#[actix_web::test]
async fn an_unreadable_database_stops_the_start_and_is_left_untouched() {
    // A directory where the file should be: it cannot be opened as one (a
    // mode of 000 would not do: the tests may run as root).
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB);
    std::fs::create_dir(&db).unwrap();
    std::fs::write(db.join("inside"), "keep me").unwrap();
    refuses_to_start(dir.path(), "a directory").await;
    assert_eq!(std::fs::read(db.join("inside")).unwrap(), b"keep me");
}

// ---------------------------------------------------------------------------
// (c) The old state file is imported once.
// ---------------------------------------------------------------------------

/// One widget of every kind, as the old `state.json` held them (the format
/// of `--persist`, version 1): a number with its recent values, a gauge, a
/// series window, a list, a status, a text and a log tail, with titles and
/// `expect_every`.
fn old_widgets() -> Value {
    json!([
        {"id": "revenue", "title": "Revenue", "expect_every": 60, "updated_at": 1_767_225_660_000_i64,
         "value": {"kind": "number", "value": 7610.0, "unit": "€", "previous": 7450.0,
                   "thresholds": {"warn": 9000.0, "critical": 5000.0},
                   "recent": [[1_767_225_600_000_i64, 7450.0], [1_767_225_660_000_i64, 7610.0]]}},
        {"id": "queue", "updated_at": 1_767_225_600_000_i64,
         "value": {"kind": "gauge", "value": 412.0, "min": 10.0, "max": 1000.0, "unit": "jobs"}},
        {"id": "orders", "updated_at": 1_767_225_720_000_i64,
         "value": {"kind": "series", "window": 3, "unit": "/min", "lines": [
             {"name": "web", "points": [[1_767_225_660_000_i64, 35.0], [1_767_225_690_000_i64, 38.0],
                                        [1_767_225_720_000_i64, 41.0]]},
             {"name": "app", "points": [[1_767_225_600_000_i64, 12.0]]}]}},
        {"id": "top-pages", "updated_at": 1_767_225_600_000_i64,
         "value": {"kind": "list", "rows": [{"label": "/", "value": "1204"},
                                            {"label": "/pricing", "value": "873"}]}},
        {"id": "build", "title": "Build", "updated_at": 1_767_225_600_000_i64,
         "value": {"kind": "status", "level": "warn", "message": "flaky"}},
        {"id": "oncall", "expect_every": 86_400, "updated_at": 1_767_225_600_000_i64,
         "value": {"kind": "text", "text": "Alice, then Bob"}},
        {"id": "deploys", "updated_at": 1_767_225_630_000_i64,
         "value": {"kind": "log", "max_lines": 3, "lines": [
             {"at": 1_767_225_600_000_i64, "text": "v2"}, {"at": 1_767_225_610_000_i64, "text": "v3"},
             {"at": 1_767_225_630_000_i64, "text": "v4"}]}},
    ])
}

fn typed(widgets: &Value) -> Vec<Widget> {
    serde_json::from_value(widgets.clone()).expect("widgets in the protocol's shape")
}

/// The lines of `log` that say something was imported.
/// The log lines that report an import (not the warnings about a file
/// that was not imported).
fn import_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("imported the widgets"))
        .collect()
}

#[actix_web::test]
async fn an_old_state_file_is_imported_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let imported = dir.path().join("state.json.imported");
    let widgets = old_widgets();
    let count = widgets.as_array().unwrap().len();
    let file = serde_json::to_vec_pretty(
        &json!({"version": 1, "saved_at": 1_767_225_720_000_i64, "widgets": widgets}),
    )
    .unwrap();
    std::fs::write(&state, &file).unwrap();

    let mut first = ServerProcess::start_in(dir.path(), &[]).await;
    let listed = listing(&first).await;
    assert_eq!(
        typed(&listed["widgets"]),
        typed(&widgets),
        "every widget as the file held it, in its order"
    );
    assert!(!state.exists(), "state.json renamed");
    assert_eq!(
        std::fs::read(&imported).expect("state.json.imported"),
        file,
        "renamed whole"
    );
    // The log says so, with the count (digits of the path aside).
    let log = first.log().replace(path_str(dir.path()), "<dir>");
    assert!(
        import_lines(&log).iter().any(|line| line
            .split(|c: char| !c.is_ascii_digit())
            .any(|n| n == count.to_string())),
        "a line says {count} widgets were imported:\n{log}"
    );
    let epoch = listed["epoch"].clone();

    // The imported state is live: appends continue the window and the tail.
    first
        .publish_ok("orders", json!({"lines": {"web": [44]}}))
        .await;
    first.publish_ok("deploys", json!({"line": "v5"})).await;
    let after = listing(&first).await["widgets"].clone();
    first.stop("TERM").await;

    // A restart imports nothing again, even if a new state.json shows up
    // (an older version ran again on this directory, say): the database
    // exists. Neither that file nor the copy of the imported one may be lost.
    let later = json!({"version": 1, "saved_at": 0, "widgets": [
        {"id": "intruder", "updated_at": 0, "value": {"kind": "text", "text": "no"}}]})
    .to_string()
    .into_bytes();
    std::fs::write(&state, &later).unwrap();
    let second = ServerProcess::start_in(dir.path(), &[]).await;
    let relisted = listing(&second).await;
    assert_eq!(relisted["widgets"], after, "the same widgets, once");
    assert_eq!(relisted["epoch"], epoch);
    assert!(
        import_lines(&second.log()).is_empty(),
        "no second import:\n{}",
        second.log()
    );
    assert!(
        second.log().contains("not imported"),
        "a warning says the new file was not imported:\n{}",
        second.log()
    );
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| std::fs::read(f).is_ok_and(|bytes| bytes == later)),
        "the later state.json is kept (in place or set aside): {files:?}"
    );
    let web: Vec<f64> = after
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "orders")
        .unwrap()["value"]["lines"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    assert_eq!(web, [38.0, 41.0, 44.0], "the window of 3 continued");
    let deploys: Vec<&str> = after
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "deploys")
        .unwrap()["value"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(deploys, ["v3", "v4", "v5"], "the tail of 3 continued");
    // Checked last, so that it does not hide how the rest behaves.
    let kept = std::fs::read(&imported).ok();
    assert!(
        kept.as_ref() == Some(&file),
        "state.json.imported still holds the file that was imported; it holds {:?}",
        kept.as_deref().map(String::from_utf8_lossy)
    );
}

// ---------------------------------------------------------------------------
// (d) Events beyond the history bounds are deleted from disk.
// ---------------------------------------------------------------------------

/// The bytes the database takes: `pulseboard.db` and its WAL.
fn db_bytes(dir: &Path) -> u64 {
    [DB.to_owned(), format!("{DB}-wal")]
        .iter()
        .map(|name| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len()))
        .sum()
}

/// The bytes of `pulseboard.db` that hold data: its pages less the free ones
/// (SQLite does not give freed pages back to the file system, so the file
/// keeps its high-water size). Read with SQLite once the server stopped.
fn live_bytes(dir: &Path) -> u64 {
    let connection = rusqlite::Connection::open(dir.join(DB)).expect("open the database");
    let pragma = |name: &str| -> u64 {
        connection
            .query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, i64>(0))
            .unwrap_or_else(|e| panic!("PRAGMA {name}: {e}")) as u64
    };
    let live = (pragma("page_count") - pragma("freelist_count")) * pragma("page_size");
    drop(connection);
    live
}

const WIDGETS: usize = 100;
const PER_BATCH: usize = 1_000;

/// Publishes `batches` batches of [`PER_BATCH`] number updates spread over
/// [`WIDGETS`] widgets, values `first..`; returns the last event id.
async fn publish_batches(server: &ServerProcess, first: usize, batches: usize) -> String {
    let mut last = String::new();
    for b in 0..batches {
        let updates: Vec<Value> = (0..PER_BATCH)
            .map(|i| {
                let n = first + b * PER_BATCH + i;
                json!({"id": format!("w{:03}", n % WIDGETS), "kind": "number", "value": n})
            })
            .collect();
        let answer = call(
            reqwest::Method::POST,
            &format!("{}/api/batch", server.base),
            Some(TOKEN),
            Some(json!({ "updates": updates }).to_string().into_bytes()),
        )
        .await;
        assert_eq!(answer.0, 200, "batch {b}: {}", answer.1);
        let ids = answer.1["event_ids"].as_array().expect("event_ids");
        assert_eq!(ids.len(), PER_BATCH);
        last = ids.last().unwrap().as_str().unwrap().to_owned();
    }
    last
}

/// The sizes after 10,000 and after 20,000 events (10 batches, SIGTERM,
/// restart, 10 more, SIGTERM), with `settings`: (file bytes, live bytes) at
/// each point, the widgets and the last id.
struct Sizes {
    files: [u64; 2],
    live: [u64; 2],
    widgets: Value,
    last: String,
}

async fn publish_20k(dir: &Path, settings: &[&str]) -> Sizes {
    let mut sizes = Sizes {
        files: [0; 2],
        live: [0; 2],
        widgets: Value::Null,
        last: String::new(),
    };
    for half in 0..2 {
        let mut server = ServerProcess::start_in(dir, settings).await;
        sizes.last = publish_batches(&server, half * 10_000, 10).await;
        assert_eq!(
            seq_of(&sizes.last),
            (half as u64 + 1) * 10_000,
            "ids continue after the restart"
        );
        sizes.widgets = listing(&server).await["widgets"].clone();
        assert_eq!(sizes.widgets.as_array().unwrap().len(), WIDGETS);
        server.stop("TERM").await;
        sizes.files[half] = db_bytes(dir);
        sizes.live[half] = live_bytes(dir);
    }
    sizes
}

/// With `--history-size 100`, 20,000 events over 100 widgets: what is kept
/// is the widgets' state and the last 100 events, not the log of everything.
///
/// The bounds are calibrated, not guessed: the same 20,000 events are first
/// published with a history large enough to keep them all, which gives what
/// keeping every event costs on this SQLite (about 170 bytes each). With the
/// history of 100, the files may still keep events for a while (pruned at
/// checkpoints; SQLite reuses freed pages but never shrinks the file), so
/// they must take well under that cost, and must not grow from 10,000 events
/// to 20,000 by more than a fraction of what 10,000 kept events take; and
/// the data in them after a clean stop must not grow at all.
#[actix_web::test]
async fn the_database_does_not_grow_with_events_beyond_the_history() {
    // Batches of 1,000 are ~45 KB bodies, under the 64 KiB limit.
    let everything = tempfile::tempdir().unwrap();
    let all = publish_20k(everything.path(), &["--history-size", "10000000"]).await;
    let dir = tempfile::tempdir().unwrap();
    let pruned = publish_20k(dir.path(), &["--history-size", "100"]).await;
    eprintln!(
        "every event kept: files {:?} bytes, data {:?}; history of 100: files {:?}, data {:?} \
         (after 10,000 and 20,000 events)",
        all.files, all.live, pruned.files, pruned.live
    );
    let values = |widgets: &Value| -> Vec<(String, f64)> {
        widgets
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                let id = w["id"].as_str().unwrap().to_owned();
                (id, w["value"]["value"].as_f64().unwrap())
            })
            .collect()
    };
    assert_eq!(
        values(&pruned.widgets),
        values(&all.widgets),
        "the same values either way"
    );

    let [all_10k, all_20k] = all.files;
    let ten_thousand_kept = all_20k.saturating_sub(all_10k);
    assert!(
        ten_thousand_kept > 500 * 1024,
        "the reference run keeps every event: {:?} bytes",
        all.files
    );
    let [at_10k, at_20k] = pruned.files;
    assert!(
        at_20k < all_20k * 3 / 4,
        "{at_20k} bytes after 20,000 events with a history of 100, against {all_20k} \
         keeping them all: events beyond the history are kept"
    );
    assert!(
        at_20k <= at_10k + ten_thousand_kept / 2,
        "grew from {at_10k} to {at_20k} bytes between 10,000 and 20,000 events \
         (keeping 10,000 events takes {ten_thousand_kept}): old events are not deleted"
    );
    let [live_10k, live_20k] = pruned.live;
    assert!(
        live_20k <= live_10k + 64 * 1024 + live_10k / 8,
        "the data after a clean stop grew from {live_10k} to {live_20k} bytes"
    );

    // What is kept still works: the state, and a resume within the history.
    let server = ServerProcess::start_in(dir.path(), &["--history-size", "100"]).await;
    let listed = listing(&server).await;
    assert_eq!(listed["widgets"], pruned.widgets);
    assert_eq!(listed["last_event_id"], pruned.last.as_str());
    let epoch = listed["epoch"].as_str().unwrap().to_owned();
    let from = format!("{epoch}-{}", 20_000 - 100);
    let mut viewer = SseClient::open(
        &format!("{}/api/events", server.base),
        Some(from.as_str()),
        None,
    )
    .await;
    viewer
        .expect_updates_through(&epoch, 20_000 - 100, 20_000)
        .await;
}
