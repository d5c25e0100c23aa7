//! What an operator watches: `/healthz`, `/readyz` and `/metrics`.

mod common;

use std::time::Duration;

use common::{eventually, spawn, test_config, SOON};

/// Every metric the server promises, by name.
const METRICS: [&str; 9] = [
    "pulseboard_open_streams",
    "pulseboard_streams_opened_total",
    "pulseboard_events_published_total",
    "pulseboard_events_delivered_total",
    "pulseboard_events_replayed_total",
    "pulseboard_resets_sent_total",
    "pulseboard_subscribers_dropped_total",
    "pulseboard_heartbeats_total",
    "pulseboard_history_len",
];

#[actix_web::test]
async fn healthz_and_readyz_answer_while_serving() {
    let server = spawn(test_config()).await;

    let health = server.get("/healthz").await;
    assert_eq!(health.status(), 200);

    let ready = server.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

#[actix_web::test]
async fn every_metric_is_exposed_from_the_start() {
    let server = spawn(test_config()).await;
    let response = server.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();

    // A sample line for each, even before anything happened: absent series
    // make alerts and dashboards silently blind.
    for name in METRICS {
        assert!(
            text.lines()
                .any(|line| !line.starts_with('#') && line.starts_with(name)),
            "{name} missing from /metrics:\n{text}"
        );
    }
    for reason in ["lagged", "expired", "foreign_epoch", "invalid_id"] {
        let series = format!("pulseboard_resets_sent_total{{reason=\"{reason}\"}}");
        assert_eq!(server.metric(&series).await, 0.0);
    }
    assert_eq!(
        server
            .metric("pulseboard_subscribers_dropped_total{reason=\"lagged\"}")
            .await,
        0.0
    );
}

#[actix_web::test]
async fn metrics_follow_publishing_and_streams() {
    let mut config = test_config();
    config.heartbeat_interval = Duration::from_millis(100);
    let server = spawn(config).await;
    let mut viewer = server.connect().await;
    assert_eq!(viewer.next_change().await.event, "init");
    server.wait_for_metric("pulseboard_open_streams", 1.0).await;

    server.publish_numbers("orders", 5);
    viewer
        .expect_updates_through(&server.hub.epoch(), 0, 5)
        .await;
    assert_eq!(
        server.metric("pulseboard_events_published_total").await,
        5.0
    );
    assert_eq!(server.metric("pulseboard_history_len").await, 5.0);
    // init + 5 updates at least (heartbeats may have gone out too).
    server
        .wait_for_metric_at_least("pulseboard_events_delivered_total", 6.0)
        .await;
    server
        .wait_for_metric_at_least("pulseboard_heartbeats_total", 2.0)
        .await;
    assert_eq!(server.metric("pulseboard_streams_opened_total").await, 1.0);
    drop(viewer);
    server.wait_for_metric("pulseboard_open_streams", 0.0).await;
}

#[actix_web::test]
async fn readyz_stops_saying_ready_once_shutdown_begins() {
    let mut server = spawn(test_config()).await;
    // An open stream keeps the server busy while it shuts down.
    let mut viewer = server.connect().await;
    assert_eq!(viewer.next_change().await.event, "init");
    // A kept-alive connection can still reach the server during shutdown.
    let client = reqwest::Client::new();
    let readyz = format!("{}/readyz", server.base);
    assert_eq!(client.get(&readyz).send().await.unwrap().status(), 200);

    server.shut_down();
    // Either 503, or no answer at all once it stopped accepting: never 200.
    eventually(SOON, "readyz says not ready", || async {
        match client.get(&readyz).send().await {
            Ok(response) => {
                eprintln!("readyz during shutdown: {}", response.status());
                response.status() == 503
            }
            Err(error) => {
                eprintln!("readyz during shutdown: {error}");
                true
            }
        }
    })
    .await;
    assert_eq!(viewer.next_named("shutdown").await.event, "shutdown");
    tokio::time::timeout(SOON, &mut server.stopped)
        .await
        .expect("server stops promptly")
        .unwrap()
        .unwrap();
}
