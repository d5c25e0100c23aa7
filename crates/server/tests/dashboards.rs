//! Dashboards, black-box: streams narrowed to a dashboard or to some widgets,
//! declared kinds, `GET /api/dashboards`, and the real binary reading a
//! `--config` file (with flags and env vars beating it, and bad files refused).

mod common;

use std::io::Write;

use common::process::{publish_http, TOKEN};
use common::process::{run_to_exit, ServerProcess};
use common::{api_config, api_error_problem, assert_api_error, call, decode, seq_of, spawn};
use common::{SseClient, TestServer};
use protocol::{ServerEvent, View, WidgetKind, WidgetValue};
use serde_json::{json, Value};

/// `ops` is the default dashboard: it also carries every undeclared widget.
/// `queue` is on both; `build` is declared without a kind.
const DASHBOARDS: &str = r#"
[[dashboard]]
name = "ops"
title = "Operations"
[[dashboard.widget]]
id = "orders"
kind = "series"
size = [2, 1]
[[dashboard.widget]]
id = "queue"
kind = "gauge"
[[dashboard.widget]]
id = "build"

[[dashboard]]
name = "team"
[[dashboard.widget]]
id = "deploys"
kind = "log"
[[dashboard.widget]]
id = "queue"
"#;

/// A server with [`DASHBOARDS`] and one value in each of their widgets, plus
/// the undeclared `adhoc`, published in this order.
async fn dashboard_server() -> TestServer {
    let mut config = api_config();
    config.dashboards = pulseboard::config_file::parse(DASHBOARDS)
        .expect("valid dashboards")
        .dashboards;
    let server = spawn(config).await;
    server.published("orders", json!({"value": 1})).await;
    server.published("queue", json!({"value": 2})).await;
    server.published("build", json!({"level": "ok"})).await;
    server.published("deploys", json!({"line": "v1"})).await;
    server.published("adhoc", json!({"value": 3})).await;
    server
}

/// Opens a stream with `query` and returns it with its `init`'s view.
async fn open(server: &TestServer, query: &str) -> (SseClient, View) {
    let mut viewer = server.connect_with(query).await;
    let (_, init) = viewer.init().await;
    (viewer, init.view)
}

fn ids(view: &View) -> Vec<&str> {
    view.snapshot
        .widgets
        .iter()
        .map(|w| w.id.as_str())
        .collect()
}

fn names(view: &View) -> Vec<&str> {
    view.dashboards.iter().map(|d| d.name.as_str()).collect()
}

// ---------------------------------------------------------------------------
// Narrowed streams.
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_dashboard_stream_carries_only_that_dashboards_widgets() {
    let server = dashboard_server().await;
    let (mut viewer, view) = open(&server, "dashboard=team").await;
    assert_eq!(view.dashboard.as_deref(), Some("team"));
    assert_eq!(ids(&view), ["queue", "deploys"], "in display order");
    assert_eq!(names(&view), ["ops", "team"], "every dashboard is listed");

    // Updates of other widgets are not delivered: the next change it gets is
    // the next one of its own.
    server.published("orders", json!({"value": 5})).await;
    server.published("adhoc", json!({"value": 5})).await;
    server.published("build", json!({"level": "warn"})).await;
    let mine = server.published("deploys", json!({"line": "v2"})).await;
    let update = viewer.expect_update(&mine).await;
    assert_eq!(update.id.as_str(), "deploys");
    // Nor are removes of other widgets.
    for other in ["adhoc", "orders"] {
        assert_eq!(server.delete_widget(other, Some(TOKEN)).await.0, 200);
    }
    let (status, body) = server.delete_widget("queue", Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    viewer
        .expect_remove("queue", body["event_id"].as_str().unwrap())
        .await;
}

#[actix_web::test]
async fn the_default_dashboard_also_carries_undeclared_widgets() {
    let server = dashboard_server().await;
    for query in ["dashboard=", "dashboard=ops"] {
        let (mut viewer, view) = open(&server, query).await;
        assert_eq!(view.dashboard.as_deref(), Some("ops"), "{query}");
        assert_eq!(ids(&view), ["orders", "queue", "build", "adhoc"], "{query}");

        server
            .published("deploys", json!({"line": "not for ops"}))
            .await;
        let brand_new = server.published("brand-new", json!({"value": 1})).await;
        let update = viewer.expect_update(&brand_new).await;
        assert_eq!(update.id.as_str(), "brand-new", "{query}");
        assert_eq!(server.delete_widget("brand-new", Some(TOKEN)).await.0, 200);
        viewer.next_change().await;
    }
}

#[actix_web::test]
async fn an_unknown_dashboard_carries_no_widget() {
    let mut server = dashboard_server().await;
    let (mut viewer, view) = open(&server, "dashboard=nope").await;
    assert_eq!(view.dashboard, None);
    assert!(ids(&view).is_empty(), "{:?}", ids(&view));
    assert_eq!(names(&view), ["ops", "team"]);

    for (widget, body) in [
        ("orders", json!({"value": 9})),
        ("queue", json!({"value": 9})),
        ("build", json!({"level": "ok"})),
        ("deploys", json!({"line": "v9"})),
        ("adhoc", json!({"value": 9})),
        ("new", json!({"value": 9})),
    ] {
        server.published(widget, body).await;
    }
    assert_eq!(server.delete_widget("adhoc", Some(TOKEN)).await.0, 200);
    // Events for no widget still come: the shutdown, sent after all of the
    // above, is the first change this stream sees.
    server.shut_down();
    let next = viewer.next_change().await;
    assert_eq!(next.event, "shutdown", "got {} {}", next.event, next.data);
}

#[actix_web::test]
async fn a_topics_stream_carries_only_those_widgets() {
    let server = dashboard_server().await;
    let (mut viewer, view) = open(&server, "topics=deploys,%20adhoc").await;
    assert_eq!(view.dashboard, None);
    assert_eq!(ids(&view), ["deploys", "adhoc"]);

    server.published("queue", json!({"value": 7})).await;
    server.published("orders", json!({"value": 7})).await;
    server.published("unlisted", json!({"value": 7})).await;
    let listed = server.published("adhoc", json!({"value": 7})).await;
    viewer.expect_update(&listed).await;
    assert_eq!(server.delete_widget("unlisted", Some(TOKEN)).await.0, 200);
    let listed = server.published("deploys", json!({"line": "v3"})).await;
    viewer.expect_update(&listed).await;

    // A listed widget that does not exist yet is delivered once published.
    let (mut viewer, view) = open(&server, "topics=later").await;
    assert!(ids(&view).is_empty());
    let later = server.published("later", json!({"text": "here"})).await;
    viewer.expect_update(&later).await;
}

#[actix_web::test]
async fn bad_filters_are_refused_with_invalid_filter() {
    let server = dashboard_server().await;
    for (query, mentions) in [
        ("topics=Orders", &["`topics`", "\"Orders\""][..]),
        ("topics=", &["`topics`"][..]),
        ("topics=orders,,queue", &["`topics`"][..]),
        ("topics=orders,bad!", &["`topics`", "bad!"][..]),
        ("dashboard=ops&topics=orders", &["dashboard", "topics"][..]),
        ("dashboard=&topics=orders", &["dashboard", "topics"][..]),
    ] {
        let answer = server.get_json(&format!("/api/events?{query}")).await;
        if let Some(problem) = api_error_problem(&answer, 400, "invalid_filter", mentions) {
            panic!("?{query}: {problem}");
        }
    }
    // Other parameters are ignored.
    let (_, view) = open(&server, "colour=red").await;
    assert_eq!(ids(&view).len(), 5);
}

#[actix_web::test]
async fn a_narrowed_stream_resumes_with_only_its_events() {
    for via_header in [false, true] {
        let server = dashboard_server().await;
        let (mut viewer, _) = open(&server, "dashboard=team").await;
        let seen = server.published("deploys", json!({"line": "seen"})).await;
        viewer.expect_update(&seen).await;
        drop(viewer);

        // Missed while away: two of its own among others, and a remove of each.
        let token = Some(TOKEN);
        server.published("orders", json!({"value": 8})).await;
        let deploys = server.published("deploys", json!({"line": "missed"})).await;
        server.published("adhoc", json!({"value": 8})).await;
        let queue = server.published("queue", json!({"value": 8})).await;
        assert_eq!(server.delete_widget("adhoc", token).await.0, 200);
        let (_, removed) = server.delete_widget("deploys", token).await;
        server
            .published("build", json!({"level": "critical"}))
            .await;

        let url = format!("{}?dashboard=team", server.events_url());
        let mut viewer = if via_header {
            SseClient::open(&url, Some(&seen), None).await
        } else {
            SseClient::open(&url, None, Some(&seen)).await
        };
        let how = if via_header {
            "Last-Event-ID"
        } else {
            "?last_event_id"
        };
        assert_eq!(
            viewer.expect_update(&deploys).await.id.as_str(),
            "deploys",
            "{how}"
        );
        assert_eq!(
            viewer.expect_update(&queue).await.id.as_str(),
            "queue",
            "{how}"
        );
        viewer
            .expect_remove("deploys", removed["event_id"].as_str().unwrap())
            .await;
        // Then live ones, still narrowed.
        server.published("adhoc", json!({"value": 9})).await;
        let live = server.published("queue", json!({"value": 9})).await;
        viewer.expect_update(&live).await;
    }
}

#[actix_web::test]
async fn a_narrowed_stream_that_cannot_resume_gets_a_narrowed_reset() {
    let server = dashboard_server().await;
    let foreign = "0123456789abcdef-3";
    let url = format!("{}?dashboard=team", server.events_url());
    let mut viewer = SseClient::open(&url, None, Some(foreign)).await;
    let event = viewer.next_change().await;
    let ServerEvent::Reset(reset) = decode(&event) else {
        panic!("expected a reset, got {} {}", event.event, event.data)
    };
    assert_eq!(reset.view.dashboard.as_deref(), Some("team"));
    assert_eq!(ids(&reset.view), ["queue", "deploys"]);
    server.published("orders", json!({"value": 4})).await;
    let mine = server.published("queue", json!({"value": 4})).await;
    viewer.expect_update(&mine).await;

    let url = format!("{}?topics=orders", server.events_url());
    let mut viewer = SseClient::open(&url, Some(foreign), None).await;
    let ServerEvent::Reset(reset) = decode(&viewer.next_change().await) else {
        panic!("expected a reset")
    };
    assert_eq!(ids(&reset.view), ["orders"]);
}

// ---------------------------------------------------------------------------
// Declared kinds.
// ---------------------------------------------------------------------------

async fn kind_of(server: &TestServer, widget: &str) -> Option<WidgetKind> {
    let (status, body) = server.get_json(&format!("/api/widgets/{widget}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value::<protocol::Widget>(body)
        .unwrap()
        .value
        .kind()
}

#[actix_web::test]
async fn a_declared_kind_is_used_and_a_different_explicit_kind_refused() {
    let server = dashboard_server().await;
    assert_eq!(
        kind_of(&server, "orders").await,
        Some(WidgetKind::Series),
        "`{{\"value\": 1}}` on a declared series"
    );
    assert_eq!(kind_of(&server, "queue").await, Some(WidgetKind::Gauge));
    assert_eq!(kind_of(&server, "deploys").await, Some(WidgetKind::Log));
    let (status, body) = server.get_json("/api/widgets/queue").await;
    assert_eq!(status, 200);
    assert_eq!(body["value"]["min"], 0.0, "a gauge's default scale");
    assert_eq!(body["value"]["max"], 100.0);

    // The declared kind's own fields, and the same kind said explicitly.
    server
        .published("orders", json!({"lines": {"web": [1]}}))
        .await;
    server
        .published("orders", json!({"kind": "series", "value": 2}))
        .await;
    // Declared without a kind: inference as usual.
    server.published("build", json!({"value": 3})).await;
    assert_eq!(kind_of(&server, "build").await, Some(WidgetKind::Number));

    let mut viewer = server.connect().await;
    viewer.init().await;
    let (_, all) = server.get_json("/api/widgets").await;
    let before = all["last_event_id"].as_str().unwrap().to_owned();
    for (widget, body, declared, given) in [
        (
            "orders",
            json!({"kind": "number", "value": 3}),
            "series",
            "number",
        ),
        (
            "queue",
            json!({"kind": "series", "value": 3}),
            "gauge",
            "series",
        ),
        (
            "deploys",
            json!({"kind": "text", "text": "x"}),
            "log",
            "text",
        ),
    ] {
        assert_api_error(
            &server.publish_json(widget, body).await,
            422,
            "kind_mismatch",
            &[
                "`kind`",
                &format!("declared as a {declared}, not a {given}"),
            ],
        );
    }
    // A body of another kind's fields is checked against the declared kind.
    assert_api_error(
        &server.publish_json("orders", json!({"text": "x"})).await,
        422,
        "invalid_value",
        &["`text`"],
    );
    // In a batch too, and then nothing of it is applied.
    assert_api_error(
        &server
            .batch(json!([{"id": "queue", "value": 50}, {"id": "orders", "kind": "gauge", "value": 1}]))
            .await,
        422,
        "kind_mismatch",
        &["`updates[1].kind`", "series"],
    );
    assert_eq!(
        server.get_json("/api/widgets/queue").await.1["value"]["value"],
        2.0,
        "the batch's first update was not applied"
    );
    let next = server
        .batch(json!([{"id": "queue", "value": 60}, {"id": "orders", "value": 4}]))
        .await;
    assert_eq!(next.0, 200, "{}", next.1);
    let ids: Vec<&str> = next.1["event_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    assert_eq!(seq_of(ids[0]), seq_of(&before) + 1, "no id was used up");
    let queue = viewer.expect_update(ids[0]).await;
    assert!(matches!(queue.value, WidgetValue::Gauge(g) if g.value == 60.0));
    let orders = viewer.expect_update(ids[1]).await;
    assert!(matches!(orders.value, WidgetValue::Series(_)));
}

// ---------------------------------------------------------------------------
// GET /api/dashboards, in-process.
// ---------------------------------------------------------------------------

async fn dashboards_of(server: &TestServer) -> Vec<Value> {
    let (status, body) = server.get_json("/api/dashboards").await;
    assert_eq!(status, 200, "{body}");
    body["dashboards"].as_array().expect("a list").clone()
}

fn summary(dashboards: &[Value]) -> Vec<(String, bool)> {
    dashboards
        .iter()
        .map(|d| {
            let unsorted = d["unsorted"].as_bool().expect("unsorted is a bool");
            (d["name"].as_str().unwrap().to_owned(), unsorted)
        })
        .collect()
}

fn pairs(expected: &[(&str, bool)]) -> Vec<(String, bool)> {
    expected.iter().map(|(n, u)| (n.to_string(), *u)).collect()
}

#[actix_web::test]
async fn dashboards_are_listed_in_order_the_first_one_unsorted() {
    let server = dashboard_server().await;
    let dashboards = dashboards_of(&server).await;
    assert_eq!(
        summary(&dashboards),
        pairs(&[("ops", true), ("team", false)])
    );
    assert_eq!(
        dashboards[0],
        json!({"name": "ops", "title": "Operations", "unsorted": true, "widgets": [
            {"id": "orders", "kind": "series", "size": [2, 1]},
            {"id": "queue", "kind": "gauge", "size": [1, 1]},
            {"id": "build", "size": [1, 1]},
        ]})
    );
    // The same list starts every stream.
    let (_, view) = open(&server, "").await;
    assert_eq!(
        serde_json::to_value(&view.dashboards).unwrap(),
        Value::Array(dashboards)
    );

    // Host metrics add the built-in `host` dashboard last.
    let mut config = api_config();
    config.dashboards = pulseboard::config_file::parse(DASHBOARDS)
        .unwrap()
        .dashboards;
    config.host_metrics = true;
    let server = spawn(config).await;
    assert_eq!(
        summary(&dashboards_of(&server).await),
        pairs(&[("ops", true), ("team", false), ("host", false)])
    );

    // A `host` dashboard in the file replaces the built-in one.
    let mut config = api_config();
    config.host_metrics = true;
    config.dashboards = pulseboard::config_file::parse(
        "[[dashboard]]\nname = \"ops\"\n[[dashboard]]\nname = \"host\"\n[[dashboard.widget]]\nid = \"mine\"",
    )
    .unwrap()
    .dashboards;
    let server = spawn(config).await;
    let dashboards = dashboards_of(&server).await;
    assert_eq!(
        summary(&dashboards),
        pairs(&[("ops", true), ("host", false)])
    );
    assert_eq!(
        dashboards[1]["widgets"],
        json!([{"id": "mine", "size": [1, 1]}])
    );

    // With none declared, `host` is the default; with host metrics off too,
    // an empty `main` is.
    let mut config = api_config();
    config.host_metrics = true;
    let server = spawn(config).await;
    assert_eq!(
        summary(&dashboards_of(&server).await),
        pairs(&[("host", true)])
    );
    let server = spawn(api_config()).await;
    let dashboards = dashboards_of(&server).await;
    assert_eq!(summary(&dashboards), pairs(&[("main", true)]));
    assert_eq!(dashboards[0]["widgets"], json!([]));
}

// ---------------------------------------------------------------------------
// The real binary with a config file.
// ---------------------------------------------------------------------------

/// A config file in its own temporary directory (deleted on drop).
struct ConfigFile {
    _dir: tempfile::TempDir,
    path: String,
}

fn config_file(text: &str) -> ConfigFile {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("pulseboard.toml");
    std::fs::File::create(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .expect("write the config file");
    ConfigFile {
        path: path.to_str().expect("a UTF-8 path").to_owned(),
        _dir: dir,
    }
}

/// The usual flags of a test process, after `--config <file>`.
fn with_config<'a>(file: &'a ConfigFile, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--config",
        file.path.as_str(),
        "--addr",
        "127.0.0.1:0",
        "--static-dir",
        "/nonexistent",
    ];
    args.extend_from_slice(more);
    args
}

/// The `heartbeat_ms` a new stream's `init` announces.
async fn heartbeat_ms(server: &ServerProcess) -> u64 {
    let mut viewer = SseClient::connect(&format!("{}/api/events", server.base)).await;
    viewer.init().await.1.heartbeat_ms
}

async fn publish_with(server: &ServerProcess, token: &str, widget: &str) -> u16 {
    publish_http(&server.base, Some(token), widget, json!({"value": 1}))
        .await
        .status()
        .as_u16()
}

#[actix_web::test]
async fn the_binary_reads_dashboards_and_settings_from_its_config_file() {
    let file = config_file(&format!(
        r#"
        host_metrics = true
        sample_interval = "1h"
        heartbeat_interval = "7s"
        publish_token = ["file-publish-token-a", "file-publish-token-b"]
        {DASHBOARDS}
        [[dashboard.widget]]
        id = "oncall"
        title = "On call"
        kind = "text"
        thresholds = {{ warn = 70, critical = 90 }}
        expect_every = "5m"
        "#
    ));
    let server = ServerProcess::start_bare(&with_config(&file, &[]), &[]).await;
    let (status, body) = server.get_json("/api/dashboards").await;
    assert_eq!(status, 200, "{body}");
    let dashboards = body["dashboards"].as_array().unwrap();
    assert_eq!(
        summary(dashboards),
        pairs(&[("ops", true), ("team", false), ("host", false)]),
        "the file's dashboards in order, then host"
    );
    assert_eq!(dashboards[0]["title"], "Operations");
    assert_eq!(
        dashboards[1]["widgets"][2],
        json!({"id": "oncall", "title": "On call", "kind": "text", "size": [1, 1],
               "thresholds": {"warn": 70.0, "critical": 90.0}, "expect_every": 300})
    );
    assert!(
        dashboards[2]["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == "host.cpu"),
        "the host dashboard declares the host widgets: {}",
        dashboards[2]
    );

    // Settings from the file apply.
    assert_eq!(heartbeat_ms(&server).await, 7000);
    assert_eq!(
        publish_with(&server, "file-publish-token-a", "a").await,
        200
    );
    assert_eq!(
        publish_with(&server, "file-publish-token-b", "b").await,
        200
    );
    assert_eq!(publish_with(&server, "t", "c").await, 401);
    // And the declared kinds.
    let (status, body) = call(
        reqwest::Method::POST,
        &format!("{}/api/widgets/oncall", server.base),
        Some("file-publish-token-a"),
        Some(br#"{"kind": "number", "value": 1}"#.to_vec()),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "kind_mismatch");
}

#[actix_web::test]
async fn a_flag_or_an_env_var_beats_the_config_file() {
    let file = config_file(
        r#"
        host_metrics = false
        heartbeat_interval = "7s"
        max_widgets = 2
        publish_token = "file-publish-token"
        "#,
    );
    let from_file = ServerProcess::start_bare(&with_config(&file, &[]), &[]).await;
    assert_eq!(heartbeat_ms(&from_file).await, 7000);
    assert_eq!(
        publish_with(&from_file, "file-publish-token", "a").await,
        200
    );
    assert_eq!(
        publish_with(&from_file, "file-publish-token", "b").await,
        200
    );
    assert_eq!(
        publish_with(&from_file, "file-publish-token", "c").await,
        422,
        "max_widgets = 2"
    );

    let env = [
        ("PULSEBOARD_HEARTBEAT_INTERVAL", "8s"),
        ("PULSEBOARD_MAX_WIDGETS", "3"),
        ("PULSEBOARD_PUBLISH_TOKEN", "env-publish-token"),
    ];
    let from_env = ServerProcess::start_bare(&with_config(&file, &[]), &env).await;
    assert_eq!(heartbeat_ms(&from_env).await, 8000);
    assert_eq!(
        publish_with(&from_env, "file-publish-token", "a").await,
        401,
        "tokens are not merged"
    );
    for widget in ["a", "b", "c"] {
        assert_eq!(
            publish_with(&from_env, "env-publish-token", widget).await,
            200
        );
    }
    assert_eq!(
        publish_with(&from_env, "env-publish-token", "d").await,
        422,
        "max_widgets 3"
    );

    let flags = [
        "--heartbeat-interval",
        "9s",
        "--max-widgets=4",
        "--publish-token",
        "flag-publish-token",
    ];
    let from_flags = ServerProcess::start_bare(&with_config(&file, &flags), &env).await;
    assert_eq!(
        heartbeat_ms(&from_flags).await,
        9000,
        "the flag beats env and file"
    );
    assert_eq!(
        publish_with(&from_flags, "env-publish-token", "a").await,
        401
    );
    for widget in ["a", "b", "c", "d"] {
        assert_eq!(
            publish_with(&from_flags, "flag-publish-token", widget).await,
            200
        );
    }
    assert_eq!(
        publish_with(&from_flags, "flag-publish-token", "e").await,
        422,
        "max_widgets 4"
    );

    // The config file itself may come from the environment.
    let by_env = ServerProcess::start_bare(
        &["--addr", "127.0.0.1:0", "--static-dir", "/nonexistent"],
        &[("PULSEBOARD_CONFIG", file.path.as_str())],
    )
    .await;
    assert_eq!(heartbeat_ms(&by_env).await, 7000);
}

#[actix_web::test]
async fn a_bad_config_file_stops_the_binary_with_a_clear_message() {
    let cases: [(&str, &[&str]); 10] = [
        ("colour = \"red\"", &["unknown setting `colour`"]),
        ("config = \"other.toml\"", &["unknown setting `config`"]),
        (
            "[[dashboard]]\nname = \"a\"\n[[playlist]]\nname = \"wall\"\ndashboards = [\"a\", \"b\"]",
            &["playlist `wall`", "`b`", "not declared"],
        ),
        ("heartbeat_interval = \"soon\"", &["heartbeat-interval"]),
        ("max_widgets = { a = 1 }", &["max_widgets"]),
        (
            "[[dashboard]]\nname = \"Ops!\"",
            &["dashboard name", "Ops!"],
        ),
        (
            "[[dashboard]]\nname = \"a\"\n[[dashboard]]\nname = \"a\"",
            &["declared twice"],
        ),
        (
            "[[dashboard]]\nname = \"a\"\n[[dashboard.widget]]\nid = \"x\"\nkind = \"hologram\"",
            &["hologram"],
        ),
        (
            "[[dashboard]]\nname = \"a\"\n[[dashboard.widget]]\nid = \"x\"\nsize = [5, 1]",
            &["size"],
        ),
        ("[[dashboard]\n", &["pulseboard.toml"]),
    ];
    let mut problems = Vec::new();
    for (text, mentions) in cases {
        let file = config_file(text);
        let (status, stderr) = run_to_exit(&with_config(&file, &[]), &[]).await;
        if status.success() || status.code().is_none() {
            problems.push(format!("{text:?}: exited with {status}"));
        }
        if let Some(missing) = mentions.iter().find(|m| !stderr.contains(**m)) {
            problems.push(format!(
                "{text:?}: stderr does not mention {missing:?}:\n{stderr}"
            ));
        }
    }
    // A file that is not there.
    let (status, stderr) = run_to_exit(
        &[
            "--config",
            "/nonexistent/pulseboard.toml",
            "--addr",
            "127.0.0.1:0",
        ],
        &[],
    )
    .await;
    if status.success() || !stderr.contains("/nonexistent/pulseboard.toml") {
        problems.push(format!("missing file: {status}, stderr:\n{stderr}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
