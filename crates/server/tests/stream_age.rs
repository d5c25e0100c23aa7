//! `--max-stream-age`: the server ends each stream cleanly after a while, and a
//! viewer that resumes from its last id each time misses nothing.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{assert_gap_free, seq_in, spawn, test_config, SOON};

#[actix_web::test]
async fn streams_rotate_by_age_and_resuming_viewers_miss_nothing() {
    const MAX_AGE: Duration = Duration::from_millis(500);
    const PUBLISHING: Duration = Duration::from_secs(3);
    let mut config = test_config();
    config.max_stream_age = Some(MAX_AGE);
    config.heartbeat_interval = Duration::from_millis(100);
    let server = spawn(config).await;
    let epoch = server.hub.epoch();
    let first = server.publish_numbers("orders", 1);

    // Publishes every few milliseconds for 3 s, then says where it stopped.
    let last = Arc::new(AtomicU64::new(0));
    let publisher = {
        let (log, last) = (server.log.clone(), last.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut id = first;
            while started.elapsed() < PUBLISHING {
                id = common::block_on(log.publish(common::number_update("orders", id.seq as f64)))
                    .unwrap();
                std::thread::sleep(Duration::from_millis(3));
            }
            last.store(id.seq, Ordering::SeqCst);
        })
    };

    let mut viewer = server.connect().await;
    let init = viewer.next_change().await;
    assert_eq!(init.event, "init");
    let start = seq_in(&init, &epoch);
    let mut seqs = Vec::new();
    let mut position = init.id.clone();
    let mut rotations = 0;
    let mut opened = Instant::now();
    let deadline = Instant::now() + PUBLISHING + SOON;
    loop {
        assert!(
            Instant::now() < deadline,
            "never caught up with the publisher"
        );
        let last = last.load(Ordering::SeqCst);
        if last != 0 && seqs.last() == Some(&last) {
            break;
        }
        match viewer.next().await {
            Some(event) if event.event == "heartbeat" => {}
            Some(event) => {
                assert_eq!(
                    event.event, "update",
                    "after rotation {rotations}: only missed and live updates, no init or reset"
                );
                seqs.push(seq_in(&event, &epoch));
                position = event.id;
            }
            None => {
                // Ended by the server (a clean end of the chunked body), not
                // far past its age: it is checked at the next event, at the
                // latest the next heartbeat.
                let lived = opened.elapsed();
                assert!(
                    lived >= MAX_AGE.mul_f64(0.8) && lived < MAX_AGE + Duration::from_secs(2),
                    "stream {rotations} lived {lived:?} with a max age of {MAX_AGE:?}"
                );
                rotations += 1;
                viewer = server.resume(&position).await;
                opened = Instant::now();
            }
        }
    }
    publisher.join().unwrap();

    assert!(
        rotations >= 3,
        "only {rotations} rotations in {PUBLISHING:?}"
    );
    let last = last.load(Ordering::SeqCst);
    assert!(
        last > start + 100,
        "publisher too slow to test anything: {last}"
    );
    assert_gap_free(&seqs, start + 1, last, "rotating viewer");
    assert_eq!(
        server
            .metric("pulseboard_resets_sent_total{reason=\"expired\"}")
            .await,
        0.0
    );
    assert!(server.metric("pulseboard_events_replayed_total").await >= 1.0);
}
