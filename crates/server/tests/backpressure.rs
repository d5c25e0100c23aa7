//! A viewer that stops reading never holds up others and never grows the
//! server's memory: once it reads again it is sent a `reset` snapshot instead
//! of a gap, and if it never does, the kernel cuts it off (TCP_USER_TIMEOUT).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::raw::{open_unread_stream, raw_events, RawItem};
use common::{decode, eventually, seq_in, spawn, test_config, SOON};
use futures_util::StreamExt;
use protocol::{ServerEvent, Text, Update, WidgetId, WidgetValue};

/// Events of about 1 KB, numbered in their first 8 characters.
fn text_update(i: u64) -> Update {
    Update {
        id: WidgetId::parse("log").unwrap(),
        title: None,
        value: WidgetValue::Text(Text {
            text: format!("{i:08}{}", "x".repeat(1000)),
        }),
        at: i as i64,
        expect_every: None,
    }
}

/// 10 MB: far more than the socket buffers of a stuck viewer (a fixed 64 KB on
/// its side; at most 4 MB on the server's by default) plus its queue can hold.
const EVENTS: u64 = 10_000;
const SUBSCRIBER_BUFFER: u32 = 64;
/// A receive buffer small enough that the stuck socket fills up quickly.
const STUCK_RECV_BUFFER: u32 = 64 * 1024;

#[actix_web::test]
async fn a_stuck_viewer_never_holds_up_healthy_ones_and_is_reset_when_it_reads() {
    const HEALTHY: usize = 3;
    let mut config = test_config();
    config.subscriber_buffer = SUBSCRIBER_BUFFER;
    let server = spawn(config).await;
    let epoch = server.hub.epoch();

    // The stuck viewer sends its request, then reads nothing for a while.
    let stuck = open_unread_stream(server.addr(), Some(STUCK_RECV_BUFFER)).await;
    server.wait_for_metric("pulseboard_open_streams", 1.0).await;

    // Each healthy viewer reads in its own task and reports how far it got.
    let progress: Arc<Vec<AtomicU64>> = Arc::new((0..HEALTHY).map(|_| AtomicU64::new(0)).collect());
    let mut healthy = Vec::new();
    for k in 0..HEALTHY {
        let mut viewer = server.connect().await;
        assert_eq!(viewer.next_change().await.event, "init");
        let (progress, epoch) = (progress.clone(), epoch.clone());
        healthy.push(tokio::spawn(async move {
            for expected in 1..=EVENTS {
                let event = viewer.next_change().await;
                assert_eq!(
                    event.event, "update",
                    "healthy viewer {k} got {} instead of update {expected}",
                    event.event
                );
                assert_eq!(seq_in(&event, &epoch), expected, "healthy viewer {k}");
                // The payload matches its id (a cheap check: 30,000 events).
                assert!(
                    event.data.contains(&format!("\"text\":\"{expected:08}")),
                    "healthy viewer {k}: update {expected} carries another payload"
                );
                progress[k].store(expected, Ordering::Relaxed);
            }
        }));
    }
    server
        .wait_for_metric("pulseboard_open_streams", 1.0 + HEALTHY as f64)
        .await;

    // Publish as fast as the healthy viewers read, on another thread. Never
    // more than half a buffer ahead of the slowest of them, so however slow
    // the machine, only the stuck one can lag.
    let publishing = Arc::new(AtomicBool::new(true));
    let publisher = {
        let (log, progress, publishing) =
            (server.log.clone(), progress.clone(), publishing.clone());
        std::thread::spawn(move || {
            let window = u64::from(SUBSCRIBER_BUFFER / 2);
            for i in 1..=EVENTS {
                let waiting = Instant::now();
                while i - progress
                    .iter()
                    .map(|p| p.load(Ordering::Relaxed))
                    .min()
                    .unwrap()
                    > window
                {
                    assert!(
                        waiting.elapsed() < SOON,
                        "healthy viewers stopped at event {i}"
                    );
                    std::thread::sleep(Duration::from_micros(50));
                }
                common::block_on(log.publish(text_update(i))).unwrap();
            }
            publishing.store(false, Ordering::SeqCst);
        })
    };

    // The server stays responsive throughout.
    let client = reqwest::Client::new();
    while publishing.load(Ordering::SeqCst) {
        let started = Instant::now();
        let response =
            tokio::time::timeout(SOON, client.get(format!("{}/healthz", server.base)).send())
                .await
                .expect("healthz answers during the flood")
                .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "healthz took {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    publisher.join().expect("publisher finished");
    for viewer in healthy {
        tokio::time::timeout(SOON, viewer)
            .await
            .expect("healthy viewers read everything soon after publishing ended")
            .expect("healthy viewers saw every event in order, with no reset");
    }

    // Now the stuck one reads. What it could not take is replaced by a reset
    // carrying the then latest state (or, at worst, its connection was
    // closed): it may skip events only across a reset, and it ends up with
    // the last one.
    let mut events = Box::pin(raw_events(stuck));
    let mut position = 0;
    let mut resets = 0;
    let mut last_reset = None;
    let deadline = Instant::now() + SOON * 3;
    while position < EVENTS {
        assert!(Instant::now() < deadline, "stuck viewer never caught up");
        let item = tokio::time::timeout(SOON, events.next())
            .await
            .expect("the stuck viewer's stream neither moves nor ends")
            .expect("raw_events ends with Closed");
        match item {
            RawItem::Event(event) if event.event == "update" => {
                let seq = seq_in(&event, &epoch);
                assert_eq!(seq, position + 1, "stuck viewer: a gap without a reset");
                position = seq;
            }
            RawItem::Event(event) if event.event == "reset" => {
                let seq = seq_in(&event, &epoch);
                assert!(seq > position, "reset at {seq} moves back from {position}");
                position = seq;
                resets += 1;
                last_reset = Some(event);
            }
            RawItem::Event(event) if event.event == "init" || event.event == "heartbeat" => {}
            RawItem::Event(event) => panic!("stuck viewer got {event:?}"),
            RawItem::Closed | RawItem::Failed(_) => break,
        }
    }

    if position < EVENTS {
        // Cut off rather than reset: that must be counted too.
        server
            .wait_for_metric_at_least(
                "pulseboard_subscribers_dropped_total{reason=\"lagged\"}",
                1.0,
            )
            .await
    } else {
        assert!(resets >= 1, "the stuck viewer never fell behind");
        let ServerEvent::Reset(reset) = decode(&last_reset.unwrap()) else {
            unreachable!()
        };
        let latest = reset
            .view
            .snapshot
            .get("log")
            .expect("log widget in the reset");
        let WidgetValue::Text(text) = &latest.value else {
            panic!("not text")
        };
        assert_eq!(
            text.text[..8],
            format!("{:08}", reset.last_event_id.unwrap().seq),
            "a reset's snapshot is the state at its id"
        );
        server
            .wait_for_metric_at_least("pulseboard_resets_sent_total{reason=\"lagged\"}", 1.0)
            .await;
        // And it is live again.
        server.publish(text_update(EVENTS + 1));
        loop {
            match tokio::time::timeout(SOON, events.next())
                .await
                .expect("live event")
            {
                Some(RawItem::Event(event)) if event.event == "heartbeat" => {}
                Some(RawItem::Event(event)) => {
                    assert_eq!(event.event, "update");
                    assert_eq!(seq_in(&event, &epoch), EVENTS + 1);
                    break;
                }
                _ => panic!("stream ended after the reset"),
            }
        }
    }
    drop(events);
    server.wait_for_metric("pulseboard_open_streams", 0.0).await;
}

/// Linux honours TCP_USER_TIMEOUT for data held back by a zero window since
/// 5.11 (commit 9d9b1ee0b2d1, "tcp: fix TCP_USER_TIMEOUT with zero window");
/// before that, a peer that keeps acknowledging probes holds the socket open.
fn kernel_cuts_off_zero_window_peers() -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (5, 11)
}

#[actix_web::test]
async fn a_viewer_that_never_reads_is_cut_off_and_counted() {
    if !kernel_cuts_off_zero_window_peers() {
        eprintln!("skipped: this kernel does not apply TCP_USER_TIMEOUT to a zero window");
        return;
    }
    let mut config = test_config();
    config.subscriber_buffer = SUBSCRIBER_BUFFER;
    config.stuck_stream_timeout = Duration::from_secs(2);
    let server = spawn(config).await;

    // Held open, never read, until the end of the test.
    let _stuck = open_unread_stream(server.addr(), Some(STUCK_RECV_BUFFER)).await;
    server.wait_for_metric("pulseboard_open_streams", 1.0).await;

    // A burst far bigger than its socket and queue, then a steady trickle, as
    // a live dashboard has: the socket fills up (however the threads were
    // scheduled during the burst) and the queue overflows behind it.
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (log, stop) = (server.log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                common::block_on(log.publish(text_update(i))).unwrap();
                if i > EVENTS && i % 10 == 0 {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        })
    };

    // Within the timeout (plus the kernel's probe backoff) the connection is
    // cut and the stream forgotten.
    let started = Instant::now();
    eventually(SOON * 2, "the stuck stream is closed", || async {
        server.metric("pulseboard_open_streams").await == 0.0
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    publisher.join().unwrap();
    eprintln!("stuck stream cut off after {:?}", started.elapsed());
    assert!(
        server
            .metric("pulseboard_subscribers_dropped_total{reason=\"lagged\"}")
            .await
            >= 1.0,
        "a stuck viewer dropped while lagging is counted"
    );
    // The server is fine.
    assert_eq!(server.get("/healthz").await.status(), 200);
}
