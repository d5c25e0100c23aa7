//! Keeps every connection's write buffer at actix's initial 8 KiB.
//!
//! actix-http appends each body chunk whole to a connection's write buffer and
//! keeps that buffer's capacity (up to 128 KiB) for the connection's life. One
//! large event — the `init` snapshot of a dashboard with a few 600-point
//! series is 20–40 KiB — would grow the buffer of every viewer for good, and a
//! stream lives for weeks. Handing the body out in small pieces, with the
//! server polling bodies only while less than
//! [`WRITE_BUFFER_THRESHOLD`] is buffered, bounds what any stream ever buffers
//! to a piece below the initial capacity. Splitting `Bytes` copies nothing.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::Bytes;

/// The largest piece handed to actix.
const PIECE: usize = 1024;

/// Passed to `HttpServer::h1_write_buffer_size`: actix stops polling a body
/// once this much is buffered, so a buffer holds at most this plus one piece
/// (and chunk framing), under its initial 8 KiB.
pub const WRITE_BUFFER_THRESHOLD: usize = 6 * 1024;

pub struct SmallChunks<B> {
    inner: B,
    /// The rest of a chunk that was too big to hand out at once.
    rest: Bytes,
}

impl<B> SmallChunks<B> {
    pub fn new(inner: B) -> SmallChunks<B> {
        SmallChunks {
            inner,
            rest: Bytes::new(),
        }
    }
}

impl<B: MessageBody + Unpin> MessageBody for SmallChunks<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        match self.inner.size() {
            // A sized body is framed by Content-Length, not chunks: let it be.
            BodySize::Sized(n) => BodySize::Sized(n + self.rest.len() as u64),
            other => other,
        }
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if this.rest.is_empty() {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.rest = chunk,
                other => return other,
            }
        }
        let piece = this.rest.split_to(this.rest.len().min(PIECE));
        Poll::Ready(Some(Ok(piece)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::{self, BodyStream};
    use futures_util::stream;

    #[actix_web::test]
    async fn hands_out_the_same_bytes_in_small_pieces() {
        let big = Bytes::from(vec![b'x'; 2 * PIECE + 10]);
        let chunks = vec![
            Ok::<_, std::convert::Infallible>(Bytes::from_static(b"small")),
            Ok(big.clone()),
            Ok(Bytes::from_static(b"end")),
        ];
        let mut body = SmallChunks::new(BodyStream::new(stream::iter(chunks)));
        let mut pieces = Vec::new();
        while let Some(piece) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await {
            pieces.push(piece.unwrap());
        }
        let sizes: Vec<usize> = pieces.iter().map(Bytes::len).collect();
        assert_eq!(sizes, [5, PIECE, PIECE, 10, 3]);
        let joined: Vec<u8> = pieces.concat();
        let mut expected = b"small".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"end");
        assert_eq!(joined, expected);
        // A finished body stays finished.
        assert!(body::to_bytes(body).await.unwrap().is_empty());
    }
}
