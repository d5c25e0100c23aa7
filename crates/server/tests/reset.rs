//! Resume positions that cannot be replayed: the stream still opens (200, never
//! an error a browser would give up on) and starts with a `reset` carrying the
//! current snapshot, counted by reason.

mod common;

use std::time::Duration;

use common::{decode, number_in, number_update, seq_in, spawn, test_config, TestServer};
use protocol::{EventId, ServerEvent};

/// Opens a stream resuming from `id` (header, or query if `by_query`) and
/// checks it starts with a reset of the current state, then goes on live.
async fn expect_reset(server: &TestServer, id: &str, by_query: bool) {
    let epoch = server.hub.epoch();
    let current = server.publish(number_update("orders", 1000.0));
    let mut viewer = if by_query {
        server.resume_by_query(id).await
    } else {
        server.resume(id).await
    };

    let first = viewer.next_change().await;
    assert_eq!(first.event, "reset", "resuming from {id:?}");
    assert_eq!(
        first.id,
        current.to_string(),
        "a reset's SSE id is the current position"
    );
    let ServerEvent::Reset(reset) = decode(&first) else {
        unreachable!()
    };
    assert_eq!(reset.epoch, epoch);
    assert_eq!(reset.last_event_id, Some(current.clone()));
    assert_eq!(number_in(&reset.view.snapshot, "orders"), 1000.0);

    // Live events follow the reset without a gap.
    let next = server.publish(number_update("orders", 1001.0));
    let event = viewer.next_change().await;
    assert_eq!(event.event, "update");
    assert_eq!(seq_in(&event, &epoch), current.seq + 1);
    assert_eq!(next.seq, current.seq + 1);
}

async fn resets(server: &TestServer, reason: &str) -> f64 {
    server
        .metric(&format!(
            "pulseboard_resets_sent_total{{reason=\"{reason}\"}}"
        ))
        .await
}

#[actix_web::test]
async fn an_id_older_than_the_history_gets_a_reset() {
    let mut config = test_config();
    config.history_size = 16;
    let server = spawn(config).await;
    let epoch = server.hub.epoch();
    server.publish_numbers("orders", 40);
    assert_eq!(server.metric("pulseboard_history_len").await, 16.0);

    // The history holds 25..=40: resuming after 24 needs nothing older...
    let mut viewer = server.resume(&server.id(24)).await;
    viewer.expect_updates_through(&epoch, 24, 40).await;
    assert_eq!(resets(&server, "expired").await, 0.0);

    // ...resuming after 23 needs event 24, which is gone.
    expect_reset(&server, &server.id(23), false).await;
    expect_reset(&server, &server.id(5), true).await;
    assert_eq!(resets(&server, "expired").await, 2.0);
}

#[actix_web::test]
async fn an_id_older_than_the_history_age_gets_a_reset() {
    let mut config = test_config();
    config.history_age = Duration::from_secs(1);
    let server = spawn(config).await;
    let epoch = server.hub.epoch();
    server.publish_numbers("orders", 5);
    // Let events 1..=5 age out; only a lower bound on time matters here.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    server.publish(number_update("orders", 6.0));

    // Event 6 is fresh: a viewer that saw 5 misses nothing it cannot have.
    let mut viewer = server.resume(&server.id(5)).await;
    viewer.expect_updates_through(&epoch, 5, 6).await;
    // A viewer that saw only 2 would need 3..=5, which are too old.
    expect_reset(&server, &server.id(2), false).await;
    assert_eq!(resets(&server, "expired").await, 1.0);
}

#[actix_web::test]
async fn an_id_from_another_epoch_gets_a_reset() {
    let server = spawn(test_config()).await;
    server.publish_numbers("orders", 5);
    let foreign = "0123456789abcdef";
    assert_ne!(&server.hub.epoch(), foreign);

    // Same sequence numbers as this run's, so only the epoch tells them apart.
    expect_reset(&server, &format!("{foreign}-3"), false).await;
    expect_reset(&server, &format!("{foreign}-6"), true).await;
    assert_eq!(resets(&server, "foreign_epoch").await, 2.0);
    assert_eq!(resets(&server, "invalid_id").await, 0.0);
}

#[actix_web::test]
async fn a_garbage_id_gets_a_reset() {
    let server = spawn(test_config()).await;
    server.publish_numbers("orders", 5);
    let long = "z".repeat(4000);
    let epoch = server.hub.epoch();
    let garbage = [
        "garbage",
        "42",
        "-",
        "-7",
        "abc-def",
        &format!("{epoch}-"),
        &format!("{epoch}--1"),
        &format!("{epoch}-1.5"),
        &format!("{epoch}-99999999999999999999999999"),
        &format!("{epoch} 3"),
        &long,
    ];
    for id in garbage {
        expect_reset(&server, id, false).await;
    }
    // The query can carry what a header cannot.
    let in_query = ["%00", "\u{0}-1", "a-1\nb-2", "<script>-1", "ép0ch-3"];
    for id in in_query {
        expect_reset(&server, id, true).await;
    }
    assert_eq!(
        resets(&server, "invalid_id").await,
        (garbage.len() + in_query.len()) as f64
    );
}

#[actix_web::test]
async fn an_id_from_the_future_gets_a_reset() {
    let server = spawn(test_config()).await;
    server.publish_numbers("orders", 5);
    let future = |seq: u64| {
        EventId {
            epoch: server.hub.epoch(),
            seq,
        }
        .to_string()
    };

    // `expect_reset` publishes one event first, so 5 becomes 6 and so on: each
    // of these is ahead of the last id the server handed out.
    expect_reset(&server, &future(100), false).await;
    expect_reset(&server, &future(9), true).await;
    expect_reset(&server, &future(u64::MAX), false).await;
    assert_eq!(resets(&server, "invalid_id").await, 3.0);
    assert_eq!(resets(&server, "expired").await, 0.0);
}
