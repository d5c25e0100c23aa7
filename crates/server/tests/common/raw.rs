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

/// The raw socket as a stream of SSE events: the HTTP head is skipped, and the
/// chunked transfer coding (which actix uses even for HTTP/1.0) is removed, as
/// an event may span several chunks.
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
    let mut body = Dechunk::default();
    chunks
        .map(move |read| read.map(|bytes| body.feed(&bytes)))
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

/// Strips the HTTP response head and the chunked transfer coding from bytes
/// as they arrive, however the reads split them.
#[derive(Default)]
struct Dechunk {
    pending: Vec<u8>,
    head_done: bool,
    chunked: bool,
    /// Payload bytes left in the current chunk (then its CRLF).
    left_in_chunk: usize,
}

impl Dechunk {
    fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        if !self.head_done {
            let Some(end) = find(&self.pending, b"\r\n\r\n") else {
                return out;
            };
            let head = String::from_utf8_lossy(&self.pending[..end]).to_ascii_lowercase();
            self.chunked = head.contains("transfer-encoding: chunked");
            self.pending.drain(..end + 4);
            self.head_done = true;
        }
        if !self.chunked {
            out.append(&mut self.pending);
            return out;
        }
        loop {
            if self.left_in_chunk > 0 {
                let take = self.left_in_chunk.min(self.pending.len());
                out.extend(self.pending.drain(..take));
                self.left_in_chunk -= take;
                if self.left_in_chunk > 0 {
                    return out;
                }
            }
            // Between chunks: skip the CRLF that ends the previous one (a size
            // line is hex digits, so it never starts with CR or LF).
            while self
                .pending
                .first()
                .is_some_and(|b| *b == b'\r' || *b == b'\n')
            {
                self.pending.remove(0);
            }
            let Some(end) = find(&self.pending, b"\r\n") else {
                return out;
            };
            let size = std::str::from_utf8(&self.pending[..end])
                .ok()
                .and_then(|line| usize::from_str_radix(line.trim(), 16).ok())
                .expect("a chunk size line");
            self.pending.drain(..end + 2);
            if size == 0 {
                return out;
            }
            self.left_in_chunk = size;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
