//! Persistence, with the real binary: every acknowledged change survives a
//! restart (SIGTERM or SIGKILL, at once, with no save interval to wait for),
//! in the same epoch, so ids go on; the data directory is created; memory
//! storage writes nothing; an old state file that cannot be imported is
//! moved aside, never lost. The crash loop and the resume of viewers across
//! restarts are in durability.rs, storage failures in storage.rs.

mod common;

use std::path::{Path, PathBuf};

use common::process::ServerProcess;
use common::{decode, SseClient};
use protocol::ServerEvent;
use serde_json::{json, Value};

/// One widget of every kind, with the state only a store keeps: a number's
/// recent values, a series window and a log tail (each over several
/// publishes, with some points and lines already dropped), titles and
/// `expect_every`.
async fn publish_every_kind(server: &ServerProcess) {
    server
        .publish_ok(
            "revenue",
            json!({"kind": "number", "value": 7450, "unit": "€",
        "thresholds": {"warn": 9000, "critical": 5000}, "title": "Revenue", "expect_every": 60}),
        )
        .await;
    server
        .publish_ok(
            "revenue",
            json!({"kind": "number", "value": 7610, "unit": "€"}),
        )
        .await;
    server
        .publish_ok(
            "queue",
            json!({"kind": "gauge", "value": 412, "min": 10, "max": 1000, "unit": "jobs"}),
        )
        .await;
    server
        .publish_ok(
            "orders",
            json!({"kind": "series", "window": 3, "unit": "/min",
        "lines": {"web": [[1_767_225_600_000_u64, 31], [1_767_225_660_000_u64, 35]], "app": [12]}}),
        )
        .await;
    server
        .publish_ok(
            "orders",
            json!({"kind": "series", "window": 3, "lines": {"web": [38, 41]}}),
        )
        .await;
    server
        .publish_ok(
            "top-pages",
            json!({"kind": "list", "rows": [{"label": "/", "value": 1204},
        {"label": "/pricing", "value": "873"}]}),
        )
        .await;
    server
        .publish_ok(
            "build",
            json!({"kind": "status", "level": "warn", "message": "flaky", "title": "Build"}),
        )
        .await;
    server
        .publish_ok(
            "oncall",
            json!({"kind": "text", "text": "Alice, then Bob", "expect_every": 86_400}),
        )
        .await;
    server
        .publish_ok(
            "deploys",
            json!({"kind": "log", "max_lines": 3, "lines": ["v1", "v2"]}),
        )
        .await;
    server
        .publish_ok(
            "deploys",
            json!({"kind": "log", "max_lines": 3, "lines": ["v3", "v4"]}),
        )
        .await;
}

/// Checks the widgets hold what [`publish_every_kind`] left, as JSON.
fn check_every_kind(widgets: &Value) {
    let find = |id: &str| {
        widgets
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing from {widgets}"))
            .clone()
    };
    let revenue = find("revenue");
    assert_eq!(revenue["title"], "Revenue");
    assert_eq!(revenue["expect_every"], 60);
    assert_eq!(revenue["value"]["value"], 7610.0);
    assert_eq!(revenue["value"]["previous"], 7450.0);
    let recent: Vec<f64> = revenue["value"]["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    assert_eq!(recent, [7450.0, 7610.0]);
    assert_eq!(
        find("queue")["value"],
        json!({"kind": "gauge", "value": 412.0, "min": 10.0, "max": 1000.0, "unit": "jobs"})
    );
    let orders = find("orders")["value"].clone();
    assert_eq!(orders["window"], 3);
    assert_eq!(orders["unit"], "/min");
    let web: Vec<f64> = orders["lines"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    assert_eq!(orders["lines"][0]["name"], "web");
    assert_eq!(web, [35.0, 38.0, 41.0], "the window's last 3 points");
    assert_eq!(orders["lines"][1]["name"], "app");
    assert_eq!(
        find("top-pages")["value"]["rows"],
        json!([{"label": "/", "value": "1204"}, {"label": "/pricing", "value": "873"}])
    );
    assert_eq!(
        find("build")["value"],
        json!({"kind": "status", "level": "warn", "message": "flaky"})
    );
    assert_eq!(find("oncall")["value"]["text"], "Alice, then Bob");
    assert_eq!(find("oncall")["expect_every"], 86_400);
    let deploys = find("deploys")["value"].clone();
    let lines: Vec<&str> = deploys["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["v2", "v3", "v4"], "the log's last 3 lines");
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read the directory")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The files moved aside next to `path`.
fn asides(path: &Path) -> Vec<PathBuf> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let prefix = format!("{name}.corrupt-");
    files_in(path.parent().unwrap())
        .into_iter()
        .filter(|f| {
            f.strip_prefix(&prefix)
                .is_some_and(|ms| !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|f| path.with_file_name(f))
        .collect()
}

#[actix_web::test]
async fn every_kind_survives_a_sigterm_restart_in_the_same_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = ServerProcess::start_in(dir.path(), &[]).await;
    publish_every_kind(&first).await;
    let (_, before) = first.get_json("/api/widgets").await;
    check_every_kind(&before["widgets"]);
    first.stop("TERM").await;
    assert_eq!(
        files_in(dir.path()),
        ["pulseboard.db", "pulseboard.db.lock", "session-key"],
        "a clean stop leaves one self-contained database (no WAL), and the session key"
    );

    let second = ServerProcess::start_in(dir.path(), &[]).await;
    let (status, after) = second.get_json("/api/widgets").await;
    assert_eq!(status, 200);
    assert_eq!(
        after["widgets"], before["widgets"],
        "every widget as it was"
    );
    assert_eq!(after["epoch"], before["epoch"], "the same epoch");
    assert_eq!(
        after["last_event_id"], before["last_event_id"],
        "ids go on from the last one"
    );
    // Viewers get them in their first snapshot.
    let mut viewer = SseClient::connect(&format!("{}/api/events", second.base)).await;
    let (_, init) = viewer.init().await;
    assert_eq!(
        serde_json::to_value(&init.view.snapshot.widgets).unwrap(),
        before["widgets"]
    );
    // And the restored state is live: appends continue the saved window and
    // tail (whose bounds are kept when an update leaves them out), a number's
    // delta is against the saved value.
    second
        .publish_ok("orders", json!({"kind": "series", "lines": {"web": [44]}}))
        .await;
    second
        .publish_ok("deploys", json!({"kind": "log", "line": "v5"}))
        .await;
    second
        .publish_ok("revenue", json!({"kind": "number", "value": 7700}))
        .await;
    let ServerEvent::Update(update) = decode(&viewer.next_named("update").await) else {
        unreachable!()
    };
    assert_eq!(update.id.as_str(), "orders");
    let after = second.widgets().await;
    let find = |id: &str| {
        after
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == id)
            .unwrap()
            .clone()
    };
    let web: Vec<f64> = find("orders")["value"]["lines"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    assert_eq!(web, [38.0, 41.0, 44.0]);
    let deploys = find("deploys");
    let lines: Vec<&str> = deploys["value"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["v3", "v4", "v5"]);
    assert_eq!(find("revenue")["value"]["previous"], 7610.0);
}

/// No save interval: what was answered 2xx is on disk, so a SIGKILL the
/// moment the last answer arrives loses nothing.
#[actix_web::test]
async fn every_kind_survives_sigkill_right_after_the_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = ServerProcess::start_in(dir.path(), &[]).await;
    publish_every_kind(&first).await;
    let (_, before) = first.get_json("/api/widgets").await;
    first.stop("KILL").await;

    let second = ServerProcess::start_in(dir.path(), &[]).await;
    let (_, after) = second.get_json("/api/widgets").await;
    check_every_kind(&after["widgets"]);
    assert_eq!(after, before, "widgets, epoch and last id");
}

#[actix_web::test]
async fn a_delete_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = ServerProcess::start_in(dir.path(), &[]).await;
    first
        .publish_ok("kept", json!({"kind": "number", "value": 1}))
        .await;
    first
        .publish_ok("gone", json!({"kind": "number", "value": 2}))
        .await;
    first
        .publish_ok("last", json!({"kind": "number", "value": 3}))
        .await;
    let deleted = common::call(
        reqwest::Method::DELETE,
        &format!("{}/api/widgets/gone", first.base),
        Some(common::process::TOKEN),
        None,
    )
    .await;
    assert_eq!(deleted.0, 200, "{}", deleted.1);
    let left = first.widgets().await;
    assert_eq!(left.as_array().unwrap().len(), 2);
    first.stop("KILL").await;

    let second = ServerProcess::start_in(dir.path(), &[]).await;
    assert_eq!(
        second.widgets().await,
        left,
        "the delete, and the order kept"
    );
}

#[actix_web::test]
async fn the_data_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("not/there/yet");
    let mut first = ServerProcess::start_in(&data, &[]).await;
    first
        .publish_ok("a", json!({"kind": "text", "text": "saved"}))
        .await;
    let widgets = first.widgets().await;
    first.stop("TERM").await;
    assert!(data.join("pulseboard.db").is_file());
    let second = ServerProcess::start_in(&data, &[]).await;
    assert_eq!(second.widgets().await, widgets);
}

#[actix_web::test]
async fn nothing_is_written_with_memory_storage() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut server = ServerProcess::start(&["--storage", "memory", "--data-dir", data]).await;
    server
        .publish_ok("a", json!({"kind": "number", "value": 1}))
        .await;
    let (_, first) = server.get_json("/api/widgets").await;
    server.stop("TERM").await;
    assert_eq!(files_in(dir.path()), Vec::<String>::new());

    // Nor is an old state file read.
    std::fs::write(dir.path().join("state.json"), b"corrupt").unwrap();
    let server = ServerProcess::start(&["--storage", "memory", "--data-dir", data]).await;
    let (_, second) = server.get_json("/api/widgets").await;
    assert_eq!(second["widgets"], json!([]));
    assert_ne!(second["epoch"], first["epoch"], "a new epoch every start");
    assert_eq!(files_in(dir.path()), ["state.json"], "not moved aside");
}

/// An older setup names only `--state-file` (as the systemd unit of earlier
/// versions did): its directory becomes the data directory, and the file is
/// imported once.
#[actix_web::test]
async fn a_state_file_flag_alone_picks_the_data_directory_and_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = ServerProcess::start_in(&dir.path().join("old"), &[]).await;
    publish_every_kind(&old).await;
    let widgets = old.widgets().await;
    old.stop("TERM").await;
    let state = dir.path().join("state.json");
    let file = json!({"version": 1, "saved_at": 0, "widgets": widgets});
    std::fs::write(&state, serde_json::to_vec(&file).unwrap()).unwrap();

    let state_arg = state.to_str().unwrap();
    let mut server = ServerProcess::start(&["--state-file", state_arg]).await;
    assert_eq!(server.widgets().await, widgets);
    server.stop("TERM").await;
    assert!(
        dir.path().join("pulseboard.db").is_file(),
        "{:?}",
        files_in(dir.path())
    );
    assert!(!state.exists());
    assert!(dir.path().join("state.json.imported").is_file());
    let server = ServerProcess::start(&["--state-file", state_arg]).await;
    assert_eq!(server.widgets().await, widgets, "from the database now");
}

/// Writes a bad old state file into a new data directory (`make` creates
/// it), starts the server, and checks it was moved aside whole, not
/// imported, and the server starts empty and works.
async fn a_bad_state_file_is_moved_aside(make: impl FnOnce(&Path), check_aside: impl Fn(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    make(&state);

    let mut server = ServerProcess::start_in(dir.path(), &[]).await;
    assert_eq!(server.widgets().await, json!([]), "starts empty");
    let aside = asides(&state);
    assert_eq!(
        aside.len(),
        1,
        "moved aside once: {:?}",
        files_in(dir.path())
    );
    check_aside(&aside[0]);
    assert!(
        server.log().contains("not imported"),
        "a warning says so:\n{}",
        server.log()
    );
    server
        .publish_ok("fresh", json!({"kind": "number", "value": 1}))
        .await;
    server.stop("TERM").await;

    let restarted = ServerProcess::start_in(dir.path(), &[]).await;
    assert_eq!(restarted.widgets().await.as_array().unwrap().len(), 1);
    assert_eq!(asides(&state), aside, "the old copy is still there");
    check_aside(&aside[0]);
}

#[actix_web::test]
async fn a_corrupt_state_file_is_moved_aside_and_the_server_starts_empty() {
    let corrupt = br#"{"version":1,"saved_at":0,"widgets":[{"id":"a","val"#;
    a_bad_state_file_is_moved_aside(
        |path| std::fs::write(path, corrupt).unwrap(),
        |aside| assert_eq!(std::fs::read(aside).unwrap(), corrupt, "the old bytes"),
    )
    .await;
}

#[actix_web::test]
async fn a_state_file_of_an_unknown_version_is_moved_aside() {
    let future = br#"{"version":99,"saved_at":0,"widgets":[]}"#;
    a_bad_state_file_is_moved_aside(
        |path| std::fs::write(path, future).unwrap(),
        |aside| assert_eq!(std::fs::read(aside).unwrap(), future),
    )
    .await;
}

#[actix_web::test]
async fn an_unreadable_state_file_is_moved_aside() {
    // A directory where the file should be: it cannot be read as one.
    a_bad_state_file_is_moved_aside(
        |path| {
            std::fs::create_dir(path).unwrap();
            std::fs::write(path.join("inside"), "keep me").unwrap();
        },
        |aside| assert_eq!(std::fs::read(aside.join("inside")).unwrap(), b"keep me"),
    )
    .await;
}
