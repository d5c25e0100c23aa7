//! Raw TCP viewers: ones that stop reading, and ones that vanish with a RST.

use std::net::SocketAddr;

use eventsource_stream::{Event, Eventsource};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Opens `GET /api/events` over HTTP/1.0 (so the body is the bare event stream,
/// without chunk framing) and reads nothing. `recv_buffer` fixes the socket's
/// receive buffer, which turns off the kernel's autotuning so the socket cannot
/// quietly absorb a whole test's worth of events.
pub async fn open_unread_stream(addr: SocketAddr, recv_buffer: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let mut stream = socket.connect(addr).await.expect("connect");
    stream
        .write_all(format!("GET /api/events HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    stream
}

/// What a raw socket yields once it reads: its events, then how it ended.
pub enum RawItem {
    Event(Event),
    /// Orderly end of the stream (FIN).
    Closed,
    /// The connection was reset or timed out.
    Failed(String),
}

/// The raw socket as a stream of SSE events. The SSE parser skips the HTTP
/// head: its lines carry no `data:` field.
pub fn raw_events(socket: TcpStream) -> impl Stream<Item = RawItem> {
    let chunks = futures_util::stream::unfold(Some(socket), |socket| async move {
        let mut socket = socket?;
        let mut buf = vec![0u8; 64 * 1024];
        match socket.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), Some(socket)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    chunks
        .eventsource()
        .map(|item| match item {
            Ok(event) => RawItem::Event(event),
            Err(error) => RawItem::Failed(error.to_string()),
        })
        .chain(futures_util::stream::once(async { RawItem::Closed }))
}

/// Opens a stream, waits for the first bytes of its body, then disappears
/// abruptly: `SO_LINGER` 0 makes the close send a RST instead of a FIN.
pub async fn open_and_reset(addr: SocketAddr) {
    let mut stream = open_unread_stream(addr, None).await;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&head).contains("event: init") {
        let n = stream.read(&mut buf).await.expect("read the stream head");
        assert!(n > 0, "stream closed before init");
        head.extend_from_slice(&buf[..n]);
    }
    stream.set_zero_linger().unwrap();
    drop(stream);
}
