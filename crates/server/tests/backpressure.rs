//! A viewer that stops reading never holds up others; once it reads again it is
//! sent a `reset` snapshot instead of a gap.

mod common;

use std::time::Instant;

use common::{decode, spawn, test_config, SOON};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use protocol::{ServerEvent, Text, Update, WidgetId, WidgetValue};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn big_text(id: &str, i: usize) -> Update {
    Update {
        id: WidgetId::parse(id).unwrap(),
        title: None,
        value: WidgetValue::Text(Text {
            text: format!("{i:08}{}", "x".repeat(4000)),
        }),
        at: i as i64,
    }
}

#[actix_web::test]
async fn a_stuck_viewer_is_reset_and_does_not_hold_up_others() {
    let mut config = test_config();
    config.subscriber_buffer = 1024;
    let server = spawn(config).await;

    // The stuck viewer sends its request, then reads nothing for a while.
    // HTTP/1.0, so the body is the bare event stream without chunk framing.
    let addr = server.base.trim_start_matches("http://").to_owned();
    // A fixed, small receive buffer turns off the kernel's autotuning, so the
    // socket cannot quietly absorb the whole test.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let mut stuck = socket.connect(addr.parse().unwrap()).await.unwrap();
    stuck
        .write_all(format!("GET /api/events HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    server.wait_for_metric("pulseboard_open_streams", 1.0).await;

    let mut healthy = server.connect().await;
    healthy.next_named("init").await;

    // ~20 MB of events: far more than socket buffers plus the ring can hold.
    // Published in batches the healthy viewer reads in between, so it never
    // falls a ring behind however slow the machine is.
    const EVENTS: usize = 5_000;
    const BATCH: usize = 100;
    for batch in 0..EVENTS / BATCH {
        for i in batch * BATCH..(batch + 1) * BATCH {
            server.hub.publish(big_text("log", i)).unwrap();
        }
        for i in batch * BATCH..(batch + 1) * BATCH {
            let event = healthy.next_change().await;
            let ServerEvent::Update(update) = decode(&event) else {
                panic!("healthy viewer got {} instead of update {i}", event.event)
            };
            let WidgetValue::Text(text) = update.value else {
                panic!("not text")
            };
            assert_eq!(text.text[..8], format!("{i:08}"), "gap or reorder");
        }
    }

    // Now the stuck one reads: what it could not take is replaced by a reset
    // carrying the latest state.
    let mut events = Box::pin(raw_body_chunks(stuck).eventsource());
    let deadline = Instant::now() + SOON * 3;
    let reset = loop {
        assert!(Instant::now() < deadline, "stuck viewer never got a reset");
        let event = match tokio::time::timeout(SOON, events.next()).await {
            Ok(Some(Ok(event))) => event,
            other => panic!("stuck viewer's stream ended without a reset: {other:?}"),
        };
        if event.event == "reset" {
            break decode(&event);
        }
    };
    let ServerEvent::Reset(reset) = reset else {
        unreachable!()
    };
    let latest = reset.snapshot.get("log").expect("log widget in the reset");
    let WidgetValue::Text(text) = &latest.value else {
        panic!("not text")
    };
    assert_eq!(text.text[..8], format!("{:08}", EVENTS - 1));
    let resets = server
        .metric("pulseboard_resets_sent_total{reason=\"lagged\"}")
        .await;
    assert!(resets >= 1.0, "reset not counted");
}

/// The raw socket as a stream of byte chunks. The SSE parser skips the HTTP
/// head: its lines carry no `data:` field.
fn raw_body_chunks(
    socket: TcpStream,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::unfold(socket, |mut socket| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match socket.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), socket))
            }
            Err(e) => Some((Err(e), socket)),
        }
    })
}
