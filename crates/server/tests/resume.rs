//! Resuming a stream: a viewer that reconnects with the id of the last event it
//! saw gets exactly the events it missed, then live ones, whether the id comes
//! in the `Last-Event-ID` header (the browser's own reconnect) or in
//! `?last_event_id=` (the SPA's reconnect after a fatal close).

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{
    assert_gap_free, decode, number_in, number_update, seq_in, spawn, test_config, SseClient,
    TestServer, SOON,
};
use protocol::{ServerEvent, WidgetValue};

/// How a test hands the server its resume position.
#[derive(Clone, Copy, Debug)]
enum Via {
    Header,
    Query,
}

async fn resume(server: &TestServer, via: Via, id: &str) -> SseClient {
    match via {
        Via::Header => server.resume(id).await,
        Via::Query => server.resume_by_query(id).await,
    }
}

/// A viewer reads events 1..=5, drops, misses 6..=9, and comes back.
async fn missed_events_are_replayed_then_live_ones_follow(via: Via) {
    let server = spawn(test_config()).await;
    let epoch = server.hub.epoch();
    server.publish_numbers("orders", 3);

    let mut viewer = server.connect().await;
    let init = viewer.next_change().await;
    assert_eq!(init.event, "init");
    assert_eq!(seq_in(&init, &epoch), 3);
    for value in [4.0, 5.0] {
        server.publish(number_update("orders", value));
    }
    viewer.expect_updates_through(&epoch, 3, 5).await;
    drop(viewer);
    server.wait_for_metric("pulseboard_open_streams", 0.0).await;

    for value in [6.0, 7.0, 8.0, 9.0] {
        server.publish(number_update("orders", value));
    }
    let replayed_before = server.metric("pulseboard_events_replayed_total").await;
    let delivered_before = server.metric("pulseboard_events_delivered_total").await;

    let mut viewer = resume(&server, via, &server.id(5)).await;
    // Exactly the missed events, with their original ids and values; no init.
    for seq in 6..=9 {
        let event = viewer.next_change().await;
        assert_eq!(
            event.event, "update",
            "{via:?}: first events are the missed ones"
        );
        assert_eq!(seq_in(&event, &epoch), seq, "{via:?}");
        let ServerEvent::Update(update) = decode(&event) else {
            unreachable!()
        };
        assert!(matches!(update.value, WidgetValue::Number(n) if n.value == seq as f64));
    }
    assert_eq!(
        server.metric("pulseboard_events_replayed_total").await - replayed_before,
        4.0,
        "{via:?}: four events replayed"
    );

    // Then live events, with no duplicate of a replayed one in between.
    server.publish(number_update("orders", 10.0));
    server.publish(number_update("orders", 11.0));
    viewer.expect_updates_through(&epoch, 9, 11).await;
    assert_eq!(
        server.metric("pulseboard_events_replayed_total").await - replayed_before,
        4.0,
        "{via:?}: live events are not counted as replayed"
    );
    let delivered = server.metric("pulseboard_events_delivered_total").await - delivered_before;
    assert!(
        delivered >= 6.0,
        "{via:?}: 4 replayed + 2 live events delivered, counted {delivered}"
    );
}

#[actix_web::test]
async fn resume_with_last_event_id_header_replays_exactly_what_was_missed() {
    missed_events_are_replayed_then_live_ones_follow(Via::Header).await;
}

#[actix_web::test]
async fn resume_with_query_parameter_replays_exactly_what_was_missed() {
    missed_events_are_replayed_then_live_ones_follow(Via::Query).await;
}

#[actix_web::test]
async fn resuming_at_the_latest_id_goes_straight_to_live_events() {
    let server = spawn(test_config()).await;
    let epoch = server.hub.epoch();
    let mut last = server.publish_numbers("orders", 9);

    for via in [Via::Header, Via::Query] {
        let mut viewer = resume(&server, via, &last.to_string()).await;
        let next = server.publish(number_update("orders", 100.0));
        let event = viewer.next_change().await;
        assert_eq!(
            event.event, "update",
            "{via:?}: no init, no reset, no replay"
        );
        assert_eq!(seq_in(&event, &epoch), next.seq, "{via:?}");
        last = next;
    }
    assert_eq!(server.metric("pulseboard_events_replayed_total").await, 0.0);
    assert_eq!(
        server
            .metric("pulseboard_resets_sent_total{reason=\"invalid_id\"}")
            .await,
        0.0
    );
}

#[actix_web::test]
async fn an_empty_id_is_a_fresh_start_with_init() {
    let server = spawn(test_config()).await;
    server.publish_numbers("orders", 2);

    for mut viewer in [server.resume("").await, server.resume_by_query("").await] {
        let first = viewer.next_change().await;
        assert_eq!(first.event, "init");
        let ServerEvent::Init(init) = decode(&first) else {
            unreachable!()
        };
        assert_eq!(number_in(&init.view.snapshot, "orders"), 2.0);
    }
}

#[actix_web::test]
async fn the_header_wins_over_the_query() {
    let server = spawn(test_config()).await;
    let epoch = server.hub.epoch();
    server.publish_numbers("orders", 6);
    let url = server.events_url();

    // A browser reconnecting an EventSource opened with a stale query sends a
    // newer header: replay starts after the header's id.
    let mut viewer = SseClient::open(&url, Some(&server.id(4)), Some(&server.id(2))).await;
    viewer.expect_updates_through(&epoch, 4, 6).await;

    // A garbage query does not matter when the header is good...
    let mut viewer = SseClient::open(&url, Some(&server.id(5)), Some("garbage")).await;
    viewer.expect_updates_through(&epoch, 5, 6).await;

    // ...and a good query does not rescue a garbage header.
    let mut viewer = SseClient::open(&url, Some("garbage"), Some(&server.id(5))).await;
    assert_eq!(viewer.next_change().await.event, "reset");
    assert_eq!(
        server
            .metric("pulseboard_resets_sent_total{reason=\"invalid_id\"}")
            .await,
        1.0
    );
}

/// The splice between replay and live events, under fire: while a publisher
/// runs flat out, 50 viewers resume from assorted earlier ids. Each must see
/// every event from its id on exactly once, in order.
#[actix_web::test]
async fn replay_and_live_events_join_without_gap_or_duplicate_while_publishing() {
    const BEFORE: u64 = 300;
    const AFTER: u64 = 200;
    const VIEWERS: u64 = 50;
    let mut config = test_config();
    // Deep enough that no viewer can lag in this test: it is about the splice,
    // not about slow viewers (see backpressure.rs for those).
    config.subscriber_buffer = 65_536;
    let server = spawn(config).await;
    let epoch = server.hub.epoch();
    server.publish_numbers("seed", BEFORE as usize);

    // The publisher runs on its own thread, so it really races the resumes. It
    // keeps going until every viewer has resumed, then publishes `AFTER` more
    // and stops; `last` is set before those, so a viewer that sees it stops.
    let published = Arc::new(AtomicU64::new(BEFORE));
    let all_resumed = Arc::new(AtomicBool::new(false));
    let last = Arc::new(AtomicU64::new(0));
    let publisher = {
        let (log, published, all_resumed, last) = (
            server.log.clone(),
            published.clone(),
            all_resumed.clone(),
            last.clone(),
        );
        std::thread::spawn(move || {
            let mut i = 0u64;
            let mut stop_at = u64::MAX;
            while published.load(Ordering::SeqCst) < stop_at {
                if stop_at == u64::MAX && all_resumed.load(Ordering::SeqCst) {
                    stop_at = published.load(Ordering::SeqCst) + AFTER;
                    last.store(stop_at, Ordering::SeqCst);
                }
                i += 1;
                let id = common::block_on(log.publish(number_update("live", i as f64))).unwrap();
                published.store(id.seq, Ordering::SeqCst);
                if i.is_multiple_of(2) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        })
    };

    let mut viewers = Vec::new();
    for k in 0..VIEWERS {
        // Assorted positions: the latest id, a little behind it, far behind it.
        let now = published.load(Ordering::SeqCst);
        let from = now.saturating_sub((k * 37) % 250).max(1);
        let mut viewer = server.resume(&server.id(from)).await;
        let (epoch, last) = (epoch.clone(), last.clone());
        viewers.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            loop {
                let event = viewer.next_change().await;
                assert_eq!(
                    event.event, "update",
                    "viewer {k} (from {from}) got {event:?}"
                );
                let seq = seq_in(&event, &epoch);
                seqs.push(seq);
                if seq == last.load(Ordering::SeqCst) {
                    break;
                }
            }
            assert_gap_free(
                &seqs,
                from + 1,
                *seqs.last().unwrap(),
                &format!("viewer {k} from {from}"),
            );
            from
        }));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    all_resumed.store(true, Ordering::SeqCst);
    publisher.join().unwrap();
    let last = last.load(Ordering::SeqCst);
    assert!(last > BEFORE + AFTER, "publishing raced the resumes");
    eprintln!("published {last} events");

    let mut positions = BTreeSet::new();
    for viewer in viewers {
        positions.insert(
            tokio::time::timeout(SOON * 3, viewer)
                .await
                .expect("every viewer reaches the last event")
                .expect("viewer saw a gap-free sequence"),
        );
    }
    assert!(
        positions.len() > 10,
        "too few distinct positions: {positions:?}"
    );
    assert_eq!(
        server
            .metric_or_zero("pulseboard_resets_sent_total{reason=\"lagged\"}")
            .await,
        0.0
    );
}
