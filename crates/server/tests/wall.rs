//! Wall screens, black-box: the SPA build told in `init` and `reset` (read
//! from the served `index.html`, or `--build-id`), a viewer of another build
//! resuming with a `reset`, playlists and kiosk dashboards in what viewers
//! receive, and streams carrying several dashboards for a rotation.

mod common;

use std::path::Path;

use common::{api_config, decode, spawn, SseClient, TestServer};
use protocol::ServerEvent;
use serde_json::json;

const CONFIG: &str = r#"
[[dashboard]]
name = "ops"
[[dashboard.widget]]
id = "orders"

[[dashboard]]
name = "sales"
kiosk = true
[[dashboard.widget]]
id = "revenue"

[[dashboard]]
name = "team"
[[dashboard.widget]]
id = "deploys"

[[playlist]]
name = "lobby"
seconds = 20
dashboards = ["sales", { name = "team", seconds = 5 }]
"#;

/// A static dir whose `index.html` preloads a bundle of build `hash`, as
/// trunk writes it.
fn spa_dir(hash: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let html = format!(
        "<!doctype html><html><head>\n<link rel=\"modulepreload\" href=\"/frontend-{hash}.js\">\
         <link rel=\"preload\" href=\"/frontend-{hash}_bg.wasm\" as=\"fetch\" type=\"application/wasm\"></head></html>"
    );
    write(&dir.path().join("index.html"), &html);
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write a file");
}

async fn wall_server(static_dir: &Path, build_id: Option<&str>) -> TestServer {
    let mut config = api_config();
    let file = pulseboard::config_file::parse(CONFIG).expect("valid config");
    config.dashboards = file.dashboards;
    config.playlists = file.playlists;
    config.static_dir = static_dir.to_owned();
    config.build_id = build_id.map(str::to_owned);
    let server = spawn(config).await;
    server.published("orders", json!({"value": 1})).await;
    server.published("revenue", json!({"value": 2})).await;
    server.published("deploys", json!({"line": "v1"})).await;
    server
}

fn ids(view: &protocol::View) -> Vec<&str> {
    view.snapshot
        .widgets
        .iter()
        .map(|w| w.id.as_str())
        .collect()
}

#[actix_web::test]
async fn init_names_the_build_read_from_the_served_index() {
    let spa = spa_dir("0123456789abcdef");
    let server = wall_server(spa.path(), None).await;
    let (_, init) = server.connect().await.init().await;
    assert_eq!(init.build.as_deref(), Some("0123456789abcdef"));

    // `--build-id` wins over the file.
    let server = wall_server(spa.path(), Some("test-build-2")).await;
    let (_, init) = server.connect().await.init().await;
    assert_eq!(init.build.as_deref(), Some("test-build-2"));

    // No SPA: no build, and the field is left out.
    let server = wall_server(Path::new("/nonexistent"), None).await;
    let (event, init) = server.connect().await.init().await;
    assert_eq!(init.build, None);
    assert!(!event.data.contains("\"build\""), "{}", event.data);
}

#[actix_web::test]
async fn a_viewer_of_another_build_resumes_with_a_reset_naming_the_build() {
    let spa = spa_dir("00000000aaaaaaaa");
    let server = wall_server(spa.path(), None).await;
    let last = server.id(3);

    // The same build resumes as ever: nothing missed, so no event yet.
    let mut same = SseClient::connect(&format!(
        "{}?last_event_id={last}&build=00000000aaaaaaaa",
        server.events_url()
    ))
    .await;
    let id = server.published("orders", json!({"value": 5})).await;
    same.expect_update(&id).await;

    // Another build gets a reset carrying the served one.
    let mut other = SseClient::connect(&format!(
        "{}?last_event_id={last}&build=11111111bbbbbbbb",
        server.events_url()
    ))
    .await;
    let event = other.next_change().await;
    match decode(&event) {
        ServerEvent::Reset(reset) => {
            assert_eq!(reset.build.as_deref(), Some("00000000aaaaaaaa"));
            assert_eq!(reset.last_event_id.map(|id| id.seq), Some(4));
        }
        other => panic!("expected a reset, got {other:?}"),
    }
    server
        .wait_for_metric("pulseboard_resets_sent_total{reason=\"other_build\"}", 1.0)
        .await;

    // A fresh stream gets its init whatever build it says it runs.
    let mut fresh = server.connect_with("build=11111111bbbbbbbb").await;
    let (_, init) = fresh.init().await;
    assert_eq!(init.build.as_deref(), Some("00000000aaaaaaaa"));
}

#[actix_web::test]
async fn viewers_receive_playlists_and_kiosk_dashboards() {
    let server = wall_server(Path::new("/nonexistent"), None).await;
    let (_, init) = server.connect_with("dashboard=ops").await.init().await;
    let kiosk: Vec<_> = init
        .view
        .dashboards
        .iter()
        .map(|d| (d.name.as_str(), d.kiosk))
        .collect();
    assert_eq!(kiosk, [("ops", false), ("sales", true), ("team", false)]);
    let lobby = &init.view.playlists[0];
    assert_eq!(lobby.name.as_str(), "lobby");
    let entries: Vec<_> = lobby
        .entries
        .iter()
        .map(|e| (e.dashboard.as_str(), e.seconds))
        .collect();
    assert_eq!(entries, [("sales", 20), ("team", 5)]);
}

#[actix_web::test]
async fn one_stream_carries_a_rotations_dashboards() {
    let server = wall_server(Path::new("/nonexistent"), None).await;

    let (mut listed, init) = {
        let mut viewer = server.connect_with("dashboards=team,ops").await;
        let (_, init) = viewer.init().await;
        (viewer, init)
    };
    assert_eq!(ids(&init.view), ["orders", "deploys"]);
    assert_eq!(init.view.dashboard, None);

    let (mut lobby, init) = {
        let mut viewer = server.connect_with("playlist=lobby").await;
        let (_, init) = viewer.init().await;
        (viewer, init)
    };
    assert_eq!(ids(&init.view), ["revenue", "deploys"]);

    // Live updates follow the same filters.
    let orders = server.published("orders", json!({"value": 7})).await;
    let revenue = server.published("revenue", json!({"value": 8})).await;
    listed.expect_update(&orders).await;
    lobby.expect_update(&revenue).await;

    // An unknown playlist carries nothing; two filters at once are refused.
    let (_, init) = server.connect_with("playlist=nope").await.init().await;
    assert!(init.view.snapshot.widgets.is_empty());
    let response = server.get("/api/events?playlist=lobby&dashboard=ops").await;
    assert_eq!(response.status(), 400);
}
