//! `GET /api/events`, black-box: a real server on port 0, a real SSE client.

mod common;

use std::time::{Duration, Instant};

use common::{decode, number_update, spawn, test_config, SOON};
use protocol::{EventId, ServerEvent, WidgetValue, PROTOCOL_VERSION};

#[actix_web::test]
async fn stream_headers_are_exactly_as_proxies_need() {
    let server = spawn(test_config()).await;
    let client = server.connect().await;
    let h = &client.headers;
    let header = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_owned());

    assert_eq!(header("content-type").as_deref(), Some("text/event-stream"));
    assert_eq!(
        header("cache-control").as_deref(),
        Some("no-cache, no-transform")
    );
    assert_eq!(header("x-accel-buffering").as_deref(), Some("no"));
    assert_eq!(header("content-length"), None);
    // The client offered gzip and br: the stream must still not be compressed.
    assert!(
        matches!(
            header("content-encoding").as_deref(),
            None | Some("identity")
        ),
        "stream is compressed: {:?}",
        header("content-encoding")
    );
}

#[actix_web::test]
async fn init_comes_first_within_a_second_with_the_snapshot() {
    let server = spawn(test_config()).await;
    let published = server.publish(number_update("orders", 42.0));

    let started = Instant::now();
    let mut client = server.connect().await;
    let first = client.next().await.expect("an event");
    let elapsed = started.elapsed();

    assert_eq!(first.event, "init");
    assert!(elapsed < Duration::from_secs(1), "init took {elapsed:?}");
    assert_eq!(first.id, published.to_string(), "init carries the last id");
    let ServerEvent::Init(init) = decode(&first) else {
        panic!("not an init")
    };
    assert_eq!(init.protocol_version, PROTOCOL_VERSION);
    assert_eq!(init.epoch, server.hub.epoch());
    assert_eq!(init.last_event_id, Some(published));
    let orders = init
        .view
        .snapshot
        .get("orders")
        .expect("orders in snapshot");
    assert!(matches!(&orders.value, WidgetValue::Number(n) if n.value == 42.0));
}

#[actix_web::test]
async fn heartbeats_arrive_at_the_configured_interval() {
    let mut config = test_config();
    config.heartbeat_interval = Duration::from_millis(200);
    let server = spawn(config).await;
    let mut client = server.connect().await;
    client.next_named("init").await;

    client.next_named("heartbeat").await;
    let started = Instant::now();
    for _ in 0..5 {
        let heartbeat = client.next_named("heartbeat").await;
        assert!(heartbeat.id.is_empty(), "heartbeats change no state: no id");
        let ServerEvent::Heartbeat(beat) = decode(&heartbeat) else {
            panic!("not a heartbeat")
        };
        assert!(beat.server_time > 1_600_000_000_000, "server time in ms");
    }
    let mean = started.elapsed() / 5;
    assert!(
        mean >= Duration::from_millis(150) && mean <= Duration::from_millis(600),
        "mean heartbeat interval {mean:?}, configured 200ms"
    );
}

#[actix_web::test]
async fn host_metrics_arrive_as_widget_updates() {
    let mut config = test_config();
    config.host_metrics = true;
    config.sample_interval = Duration::from_millis(100);
    let server = spawn(config).await;
    let mut client = server.connect().await;
    client.next_named("init").await;

    let mut seen = std::collections::BTreeSet::new();
    let mut cpu_history_points = 0;
    let deadline = Instant::now() + SOON;
    while cpu_history_points < 3 || seen.len() < 8 {
        assert!(Instant::now() < deadline, "host widgets seen: {seen:?}");
        let ServerEvent::Update(update) = decode(&client.next_named("update").await) else {
            panic!("not an update")
        };
        match &update.value {
            WidgetValue::Gauge(g) if update.id.as_str() == "host.cpu" => {
                assert!((0.0..=100.0).contains(&g.value), "cpu {}", g.value)
            }
            WidgetValue::Gauge(g) if update.id.as_str() == "host.memory" => {
                assert!(g.max > 0.0 && g.value <= g.max, "memory {g:?}")
            }
            WidgetValue::Series(s) if update.id.as_str() == "host.cpu_history" => {
                cpu_history_points += s.lines[0].points.len()
            }
            _ => {}
        }
        seen.insert(update.id.to_string());
    }
    for id in [
        "host.cpu",
        "host.memory",
        "host.net_rx",
        "host.uptime",
        "host.cpu_history",
    ] {
        assert!(seen.contains(id), "{id} missing from {seen:?}");
    }
}

#[actix_web::test]
async fn every_stream_gets_every_update_in_id_order() {
    let server = spawn(test_config()).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = server.connect().await;
        client.next_named("init").await;
        clients.push(client);
    }
    // Publish from several tasks at once: order is whatever the hub assigned,
    // and every client must see exactly that order.
    let mut publishers = Vec::new();
    for task in 0..4 {
        let hub = server.log.clone();
        publishers.push(tokio::task::spawn_blocking(move || {
            for i in 0..50 {
                common::block_on(hub.publish(number_update(&format!("w{task}"), i as f64)))
                    .unwrap();
            }
        }));
    }
    for publisher in publishers {
        publisher.await.unwrap();
    }
    for client in &mut clients {
        let mut previous: Option<EventId> = None;
        for _ in 0..200 {
            let event = client.next_change().await;
            assert_eq!(event.event, "update");
            let id: EventId = event.id.parse().expect("update has an id");
            assert_eq!(id.epoch, server.hub.epoch());
            if let Some(previous) = previous {
                assert_eq!(id.seq, previous.seq + 1, "gap or reorder");
            }
            previous = Some(id);
        }
    }
}

#[actix_web::test]
async fn closed_streams_are_forgotten() {
    let server = spawn(test_config()).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut client = server.connect().await;
        client.next_named("init").await;
        clients.push(client);
    }
    server.wait_for_metric("pulseboard_open_streams", 5.0).await;

    drop(clients.pop());
    server.wait_for_metric("pulseboard_open_streams", 4.0).await;
    drop(clients);
    server.wait_for_metric("pulseboard_open_streams", 0.0).await;
    assert_eq!(server.metric("pulseboard_streams_opened_total").await, 5.0);
}

#[actix_web::test]
async fn shutdown_tells_every_stream_then_stops() {
    let mut server = spawn(test_config()).await;
    let mut client = server.connect().await;
    client.next_named("init").await;

    server.shut_down();
    let shutdown = client.next_named("shutdown").await;
    assert!(matches!(decode(&shutdown), ServerEvent::Shutdown(_)));
    assert!(client.next().await.is_none(), "stream ends after shutdown");
    tokio::time::timeout(SOON, &mut server.stopped)
        .await
        .expect("server stops promptly")
        .unwrap()
        .unwrap();
}
