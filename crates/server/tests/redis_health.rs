//! An instance on a shared log must not look healthy while it cannot follow
//! the log: a peer system's subscriber once wedged after a failover while its
//! health stayed green, and one of its instances delivered nothing.

mod common;

use common::process::ServerProcess;
use common::redis::RedisServer;
use common::{eventually, metric_in, metrics_text, SOON};
use serde_json::json;

#[tokio::test]
async fn an_instance_whose_redis_hangs_turns_unready_and_recovers() {
    let redis = RedisServer::start(false).await;
    let url = redis.url();
    let server = ServerProcess::start(&["--redis-url", &url]).await;
    server.publish_ok("before", json!({"value": 1})).await;
    assert_eq!(server.get_json("/readyz").await.0, 200);

    // Every connection stays open and nothing is answered: the tail's read
    // neither returns nor fails at once.
    redis.freeze(true);
    let base = server.base.clone();
    eventually(SOON, "/readyz says 503 while Redis hangs", || async {
        server.get_json("/readyz").await.0 == 503
    })
    .await;
    let (_, body) = server.get_json("/readyz").await;
    assert_eq!(body["status"], "storage_unavailable", "{body}");
    eventually(SOON, "/metrics says storage_available 0", || async {
        let metrics = metrics_text(&base).await;
        metric_in(&metrics, "pulseboard_storage_available") == Some(0.0)
    })
    .await;
    let refused = server.publish("during", json!({"value": 2})).await;
    assert_eq!(refused.status(), 503);

    redis.freeze(false);
    eventually(SOON, "/readyz says 200 once Redis answers", || async {
        server.get_json("/readyz").await.0 == 200
    })
    .await;
    eventually(SOON, "/metrics says storage_available 1 again", || async {
        let metrics = metrics_text(&base).await;
        metric_in(&metrics, "pulseboard_storage_available") == Some(1.0)
    })
    .await;
    server.publish_ok("after", json!({"value": 3})).await;
    let widgets = server.widgets().await;
    let ids: Vec<&str> = widgets
        .as_array()
        .expect("a list of widgets")
        .iter()
        .filter_map(|w| w["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["before", "after"],
        "the refused publish changed nothing"
    );
    assert!(server.log().contains("the shared log is unavailable"));
}
