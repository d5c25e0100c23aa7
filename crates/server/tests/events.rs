//! `GET /api/events`, black-box: a real server on port 0, a real SSE client.

mod common;

use std::time::{Duration, Instant};

use common::{decode, number_update, spawn, test_config, SseClient, SOON};
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

#[actix_web::test]
async fn a_grouped_stream_gets_a_batch_in_few_events_with_the_same_ids_and_order() {
    let mut config = test_config();
    config.publish_tokens = vec![common::process::TOKEN.to_owned()];
    let server = spawn(config).await;
    let grouped_url = format!("{}?grouped=1", server.events_url());
    let mut grouped = SseClient::connect(&grouped_url).await;
    grouped.next_named("init").await;
    let mut plain = server.connect().await;
    plain.next_named("init").await;

    let items: Vec<serde_json::Value> = (0..100)
        .map(|i| serde_json::json!({"id": format!("g{i:03}"), "value": i}))
        .collect();
    let (status, answer) = server.batch(serde_json::Value::Array(items)).await;
    assert_eq!(status, 200, "{answer}");

    // Streams that do not ask get one `update` per widget, as always.
    let mut ids = Vec::new();
    for i in 0..100 {
        let event = plain.next_change().await;
        assert_eq!(event.event, "update");
        let ServerEvent::Update(update) = decode(&event) else {
            unreachable!("an update event decodes as one")
        };
        assert_eq!(update.id.as_str(), format!("g{i:03}"));
        ids.push(event.id);
    }

    // The grouped stream: the same updates, in the same order, in fewer
    // events, each with the id of the last update it carries.
    let mut seen = Vec::new();
    let mut events = 0;
    while seen.len() < 100 {
        let event = grouped.next_change().await;
        events += 1;
        match decode(&event) {
            ServerEvent::Updates(updates) => {
                assert_eq!(event.event, "updates");
                assert!(updates.len() > 1, "a lone update goes out as `update`");
                seen.extend(updates);
            }
            ServerEvent::Update(update) => seen.push(update),
            other => panic!("not an update: {other:?}"),
        }
        assert_eq!(event.id, ids[seen.len() - 1], "the id of its last update");
    }
    let widgets: Vec<String> = seen.iter().map(|u| u.id.to_string()).collect();
    let expected: Vec<String> = (0..100).map(|i| format!("g{i:03}")).collect();
    assert_eq!(widgets, expected);
    assert!(
        events < 100,
        "100 updates published together came in {events} events"
    );

    // Resuming a grouped stream in the middle replays the rest, grouped.
    let mut resumed = SseClient::open(&grouped_url, Some(&ids[49]), None).await;
    let event = resumed.next_change().await;
    let ServerEvent::Updates(updates) = decode(&event) else {
        panic!(
            "the replay of 50 updates is not one `updates` event: {}",
            event.event
        )
    };
    assert_eq!(updates.len(), 50);
    assert_eq!(updates[0].id.as_str(), "g050");
    assert_eq!(event.id, ids[99]);

    // A group is a bounded piece of memory: 300 updates of about 160 bytes
    // come in several events of at most 16 KiB each.
    let text = "x".repeat(100);
    let items: Vec<serde_json::Value> = (0..300)
        .map(|i| serde_json::json!({"id": format!("t{i:03}"), "kind": "text", "text": text}))
        .collect();
    let (status, answer) = server.batch(serde_json::Value::Array(items)).await;
    assert_eq!(status, 200, "{answer}");
    let (mut texts, mut events) = (0, 0);
    while texts < 300 {
        let event = grouped.next_change().await;
        assert!(event.data.len() <= 16 * 1024, "{} bytes", event.data.len());
        texts += match decode(&event) {
            ServerEvent::Updates(updates) => updates.len(),
            _ => 1,
        };
        events += 1;
    }
    assert!(events >= 3, "48 KiB of updates in {events} events");
}

#[actix_web::test]
async fn a_grouped_replay_keeps_removes_in_place_and_its_filter() {
    let mut config = test_config();
    config.publish_tokens = vec![common::process::TOKEN.to_owned()];
    let server = spawn(config).await;
    let start = server.published("a", serde_json::json!({"value": 0})).await;
    for (widget, value) in [("a", 1), ("other", 1), ("b", 1), ("a", 2)] {
        server
            .published(widget, serde_json::json!({ "value": value }))
            .await;
    }
    let (status, answer) = server
        .delete_widget("b", Some(common::process::TOKEN))
        .await;
    assert_eq!(status, 200, "{answer}");
    let last = server.published("a", serde_json::json!({"value": 3})).await;
    server
        .published("other", serde_json::json!({"value": 2}))
        .await;

    // All of it is in the replay, ready at once: the updates before the
    // remove are one event, the remove comes in its place, and the widget
    // the stream does not carry is in neither.
    let url = format!("{}?grouped&topics=a,b", server.events_url());
    let mut viewer = SseClient::open(&url, Some(&start), None).await;
    let first = viewer.next_change().await;
    let ServerEvent::Updates(updates) = decode(&first) else {
        panic!("not one `updates` event: {} {}", first.event, first.data)
    };
    let got: Vec<(String, String)> = updates
        .iter()
        .map(|u| (u.id.to_string(), serde_json::to_string(&u.value).unwrap()))
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["a", "b", "a"]
    );
    let remove = viewer.next_change().await;
    assert_eq!(remove.event, "remove");
    let after = viewer.next_change().await;
    assert_eq!(after.event, "update", "a lone update after the remove");
    assert_eq!(after.id, last);
}
