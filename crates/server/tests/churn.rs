//! A thousand viewers come and go, politely or not: afterwards nothing of them
//! is left (streams, threads, file descriptors), and the history is untouched.
//!
//! Alone in its test binary, so the thread and fd counts of this process are
//! the server's and this test's only.

mod common;

use std::time::Duration;

use common::raw::open_and_reset;
use common::{eventually, spawn, test_config, SOON};

const CYCLES: usize = 1_000;
const CONCURRENT: usize = 100;

/// Threads and open fds of this process (Linux only).
fn threads_and_fds() -> Option<(usize, usize)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let threads = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()?;
    let fds = std::fs::read_dir("/proc/self/fd").ok()?.count();
    Some((threads, fds))
}

#[actix_web::test]
async fn a_thousand_connects_and_disconnects_leave_nothing_behind() {
    let server = spawn(test_config()).await;
    server.publish_numbers("orders", 3);
    let addr = server.addr();

    // Warm up: one stream of each kind, so lazily started pools exist already.
    drop(server.connect().await);
    open_and_reset(addr).await;
    server.wait_for_metric("pulseboard_open_streams", 0.0).await;
    let history_len = server.metric("pulseboard_history_len").await;
    assert_eq!(history_len, 3.0);
    let before = threads_and_fds();

    let mut done = 0;
    while done < CYCLES {
        let mut round = Vec::new();
        for i in done..done + CONCURRENT {
            let url = server.events_url();
            round.push(tokio::spawn(async move {
                match i % 3 {
                    // Graceful: read the init, then close the connection.
                    0 => {
                        let mut viewer = common::SseClient::connect(&url).await;
                        assert_eq!(viewer.next_change().await.event, "init");
                    }
                    // Abrupt: a RST in the middle of the stream.
                    1 => open_and_reset(addr).await,
                    // Gone before reading anything at all.
                    _ => drop(common::SseClient::connect(&url).await),
                }
            }));
        }
        for task in round {
            tokio::time::timeout(SOON, task)
                .await
                .expect("a connect/disconnect cycle finishes")
                .expect("cycle succeeds");
        }
        done += CONCURRENT;
    }

    server.wait_for_metric("pulseboard_open_streams", 0.0).await;
    // The warm-up's two streams plus the cycles'.
    assert_eq!(
        server.metric("pulseboard_streams_opened_total").await,
        (CYCLES + 2) as f64
    );
    assert_eq!(server.metric("pulseboard_history_len").await, history_len);
    assert_eq!(
        server.metric("pulseboard_events_published_total").await,
        3.0
    );
    // A fresh viewer is served as before.
    let mut viewer = server.connect().await;
    assert_eq!(viewer.next_change().await.event, "init");
    drop(viewer);

    let Some((threads_before, fds_before)) = before else {
        eprintln!("no /proc: thread and fd counts not checked");
        return;
    };
    // Threads: tokio's blocking pool may have grown a little, but not per
    // connection.
    let (threads_after, fds_after) = threads_and_fds().unwrap();
    eprintln!("threads {threads_before} -> {threads_after}, fds {fds_before} -> {fds_after}");
    assert!(
        threads_after <= threads_before + 8,
        "threads grew from {threads_before} to {threads_after} over {CYCLES} connections"
    );
    // File descriptors: every socket is closed again (a few may be pooled
    // keep-alive connections of the metrics requests).
    eventually(
        Duration::from_secs(10),
        &format!("fds return near {fds_before}"),
        || async { threads_and_fds().unwrap().1 <= fds_before + 8 },
    )
    .await;
}
