//! The real binary, as an operator runs it: it says where it listens, takes
//! publishes over HTTP, tells every viewer on SIGTERM/SIGINT and exits, and a
//! restarted process (a new epoch) answers an old id with a reset.

mod common;

use std::time::{Duration, Instant};

use common::process::{publish_http, ServerProcess};
use common::{decode, metric_in, metrics_text, number_in, SseClient};
use protocol::{EventId, ServerEvent};
use serde_json::json;

/// How long a process may take to exit once its streams were told.
const EXIT_WITHIN: Duration = Duration::from_secs(5);

async fn readyz(base: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("{base}/readyz"))
        .await
        .expect("readyz");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Publishes a number over HTTP and returns the id the server says it got.
async fn publish_number(server: &ServerProcess, value: f64) -> EventId {
    let response = server
        .publish("orders", json!({"kind": "number", "value": value}))
        .await;
    assert_eq!(response.status(), 200, "publish over HTTP");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["widget"], "orders");
    body["event_id"]
        .as_str()
        .expect("event_id in the answer")
        .parse()
        .expect("event_id is <epoch>-<seq>")
}

#[actix_web::test]
async fn sigterm_tells_every_viewer_and_a_restart_resets_old_ids() {
    let mut first = ServerProcess::start(&[]).await;
    assert_eq!(readyz(&first.base).await, (200, json!({"status": "ready"})));

    // Publishing needs the token.
    let refused = publish_http(
        &first.base,
        None,
        "orders",
        json!({"kind": "number", "value": 1}),
    )
    .await;
    assert_eq!(refused.status(), 401);
    let refused = publish_http(
        &first.base,
        Some("wrong"),
        "orders",
        json!({"kind": "number", "value": 1}),
    )
    .await;
    assert_eq!(refused.status(), 401);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");

    let published = publish_number(&first, 41.0).await;
    let events_url = format!("{}/api/events", first.base);
    let mut viewers = Vec::new();
    for _ in 0..4 {
        let mut viewer = SseClient::connect(&events_url).await;
        let init = viewer.next_change().await;
        assert_eq!(init.event, "init");
        assert_eq!(init.id, published.to_string());
        let ServerEvent::Init(init) = decode(&init) else {
            unreachable!()
        };
        assert_eq!(number_in(&init.view.snapshot, "orders"), 41.0);
        viewers.push(viewer);
    }
    let latest = publish_number(&first, 42.0).await;
    assert_eq!(latest.seq, published.seq + 1);
    for viewer in &mut viewers {
        let update = viewer.next_change().await;
        assert_eq!(update.event, "update");
        assert_eq!(update.id, latest.to_string());
    }

    first.signal("TERM");
    let signalled = Instant::now();
    for (i, viewer) in viewers.iter_mut().enumerate() {
        let shutdown = viewer.next_change().await;
        assert_eq!(shutdown.event, "shutdown", "viewer {i}");
        // It carries no id of its own: the last id is still the update's.
        assert_eq!(
            shutdown.id,
            latest.to_string(),
            "viewer {i}: shutdown has no id"
        );
        assert!(matches!(decode(&shutdown), ServerEvent::Shutdown(_)));
        assert!(
            viewer.next().await.is_none(),
            "viewer {i}: stream ends after shutdown"
        );
    }
    // The viewers' connections are still open: that must not delay the exit.
    let status = first.wait_exit(EXIT_WITHIN).await;
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        first.log()
    );
    eprintln!("exited {:?} after SIGTERM", signalled.elapsed());
    drop(viewers);

    // A new process is a new epoch: the old id cannot be replayed there.
    let second = ServerProcess::start(&[]).await;
    let mut viewer = SseClient::open(
        &format!("{}/api/events", second.base),
        Some(&latest.to_string()),
        None,
    )
    .await;
    let reset = viewer.next_change().await;
    assert_eq!(reset.event, "reset");
    let ServerEvent::Reset(reset) = decode(&reset) else {
        unreachable!()
    };
    assert_ne!(reset.epoch, latest.epoch, "a restart starts a new epoch");
    let metrics = metrics_text(&second.base).await;
    assert_eq!(
        metric_in(
            &metrics,
            "pulseboard_resets_sent_total{reason=\"foreign_epoch\"}"
        ),
        Some(1.0)
    );
}

#[actix_web::test]
async fn sigint_stops_the_process_too() {
    let mut server = ServerProcess::start(&[]).await;
    let mut viewer = SseClient::connect(&format!("{}/api/events", server.base)).await;
    assert_eq!(viewer.next_change().await.event, "init");

    server.signal("INT");
    assert_eq!(viewer.next_change().await.event, "shutdown");
    assert!(viewer.next().await.is_none(), "stream ends after shutdown");
    drop(viewer);
    let status = server.wait_exit(EXIT_WITHIN).await;
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        server.log()
    );
}
