//! The client side of an SSE response, as bytes arrive from the socket: the
//! HTTP response head, the chunked transfer coding, and the event stream.
//!
//! Everything is incremental (a read may end anywhere, even inside a chunk-size
//! line) and allocation-free in the steady state: the body is decoded into one
//! buffer per stream, complete events are handed out as slices of it, and the
//! consumed prefix is dropped.

use std::borrow::Cow;

use anyhow::{bail, Context, Result};

/// The parts of an HTTP/1.1 response head a client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub chunked: bool,
    pub content_length: Option<usize>,
    pub close: bool,
    pub content_type: Option<String>,
}

/// Finds the end of a response head: the index just past `\r\n\r\n`.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    memchr::memmem::find(buf, b"\r\n\r\n").map(|at| at + 4)
}

/// Parses a complete response head (status line and headers, without the body).
pub fn parse_head(head: &[u8]) -> Result<ResponseHead> {
    let text = std::str::from_utf8(head).context("response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1.x response: {status_line:?}");
    }
    let status = parts
        .next()
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut head = ResponseHead {
        status,
        chunked: false,
        content_length: None,
        close: version == "HTTP/1.0",
        content_type: None,
    };
    for line in lines.filter(|line| !line.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            bail!("bad header line {line:?}");
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("content-length") {
            head.content_length = Some(value.parse().context("bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("connection") {
            head.close = value
                .split(',')
                .any(|token| token.trim().eq_ignore_ascii_case("close"));
        } else if name.eq_ignore_ascii_case("content-type") {
            head.content_type = Some(value.to_owned());
        }
    }
    Ok(head)
}

/// Decodes the chunked transfer coding (RFC 9112 §7.1) incrementally.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    state: ChunkState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// At the first hex digit of a chunk size.
    #[default]
    SizeStart,
    /// Within the hex digits of a chunk size.
    Size {
        size: u64,
    },
    /// After `;` (a chunk extension) or whitespace, up to the line's end.
    SizeRest {
        size: u64,
    },
    SizeLf {
        size: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// After the last (zero-size) chunk: trailer lines (skipped), then an
    /// empty line; `line_start` is true at the start of a line.
    Trailer {
        line_start: bool,
    },
    TrailerLf {
        line_start: bool,
    },
    Done,
}

impl ChunkDecoder {
    /// Appends the payload bytes found in `input` to `out`.
    pub fn decode(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        while !input.is_empty() {
            let byte = input[0];
            let mut consumed = 1;
            self.state = match self.state {
                ChunkState::SizeStart => match hex_value(byte) {
                    Some(digit) => ChunkState::Size {
                        size: u64::from(digit),
                    },
                    None => bail!("expected a chunk size, got byte {byte:#04x}"),
                },
                ChunkState::Size { size } => match (hex_value(byte), byte) {
                    (Some(digit), _) => {
                        if size >> 60 != 0 {
                            bail!("chunk size too large");
                        }
                        ChunkState::Size {
                            size: size << 4 | u64::from(digit),
                        }
                    }
                    (None, b'\r') => ChunkState::SizeLf { size },
                    (None, b'\n') => Self::after_size(size),
                    (None, b';' | b' ' | b'\t') => ChunkState::SizeRest { size },
                    (None, _) => bail!("bad byte {byte:#04x} in a chunk size"),
                },
                ChunkState::SizeRest { size } => match byte {
                    b'\r' => ChunkState::SizeLf { size },
                    b'\n' => Self::after_size(size),
                    _ => ChunkState::SizeRest { size },
                },
                ChunkState::SizeLf { size } => match byte {
                    b'\n' => Self::after_size(size),
                    _ => bail!("expected LF after a chunk size"),
                },
                ChunkState::Data { remaining } => {
                    let take = remaining.min(input.len() as u64) as usize;
                    out.extend_from_slice(&input[..take]);
                    consumed = take;
                    match remaining - take as u64 {
                        0 => ChunkState::DataCr,
                        left => ChunkState::Data { remaining: left },
                    }
                }
                ChunkState::DataCr => match byte {
                    b'\r' => ChunkState::DataLf,
                    b'\n' => ChunkState::SizeStart,
                    _ => bail!("expected CRLF after chunk data"),
                },
                ChunkState::DataLf => match byte {
                    b'\n' => ChunkState::SizeStart,
                    _ => bail!("expected LF after chunk data"),
                },
                ChunkState::Trailer { line_start } => match byte {
                    b'\r' => ChunkState::TrailerLf { line_start },
                    b'\n' if line_start => ChunkState::Done,
                    b'\n' => ChunkState::Trailer { line_start: true },
                    _ => ChunkState::Trailer { line_start: false },
                },
                ChunkState::TrailerLf { line_start } => match byte {
                    b'\n' if line_start => ChunkState::Done,
                    b'\n' => ChunkState::Trailer { line_start: true },
                    _ => bail!("expected LF in the chunked trailer"),
                },
                // The message is over; we never pipeline, so nothing follows.
                ChunkState::Done => return Ok(()),
            };
            input = &input[consumed..];
        }
        Ok(())
    }

    /// Whether the whole body was read: the last chunk and the trailer.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    fn after_size(size: u64) -> ChunkState {
        if size == 0 {
            ChunkState::Trailer { line_start: true }
        } else {
            ChunkState::Data { remaining: size }
        }
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// One dispatched SSE event, borrowed from the stream's buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// The `event:` field; `message` when absent.
    pub name: &'a [u8],
    /// The `id:` field of this event, if it had one.
    pub id: Option<&'a [u8]>,
    /// The `data:` lines joined by `\n` (borrowed when there is one line).
    pub data: Cow<'a, [u8]>,
}

/// Splits an event-stream body into events (the WHATWG "event stream
/// interpretation", minus the parts a load generator does not need: `retry` is
/// ignored and the last event id is not carried over to events without one).
#[derive(Debug, Default)]
pub struct EventParser {
    /// Decoded body bytes not yet consumed: at most one partial event.
    buf: Vec<u8>,
    /// How far `buf` was already searched for the end of an event.
    scanned: usize,
}

impl EventParser {
    /// Appends body bytes; take the events out with [`EventParser::drain`].
    pub fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Bytes held for an incomplete event.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Calls `on_event` for every complete event in the buffer, then drops them.
    /// Events without any `data` line are not dispatched (as in browsers);
    /// comments (`:` lines) are skipped.
    pub fn drain(&mut self, mut on_event: impl FnMut(Event<'_>)) {
        let mut start = 0; // start of the event being collected
        let mut line_start = self.scanned;
        let buf = &self.buf[..];
        while let Some(offset) = memchr::memchr(b'\n', &buf[line_start..]) {
            let line_end = line_start + offset;
            let line = trim_cr(&buf[line_start..line_end]);
            line_start = line_end + 1;
            if line.is_empty() {
                if let Some(event) = parse_block(&buf[start..line_end]) {
                    on_event(event);
                }
                start = line_start;
            }
        }
        // Keep the unfinished event; remember how far its lines were seen.
        self.scanned = line_start - start;
        if start > 0 {
            self.buf.drain(..start);
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses the lines of one event (everything before its blank line).
fn parse_block(block: &[u8]) -> Option<Event<'_>> {
    let mut name: &[u8] = b"message";
    let mut id = None;
    let mut data: Option<Cow<'_, [u8]>> = None;
    for line in block.split(|&byte| byte == b'\n').map(trim_cr) {
        if line.is_empty() || line[0] == b':' {
            continue;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => name = value,
            b"id" => id = Some(value),
            b"data" => {
                data = Some(match data {
                    None => Cow::Borrowed(value),
                    Some(previous) => {
                        let mut joined = previous.into_owned();
                        joined.push(b'\n');
                        joined.extend_from_slice(value);
                        Cow::Owned(joined)
                    }
                })
            }
            _ => {}
        }
    }
    Some(Event {
        name,
        id,
        data: data?,
    })
}

/// An event id `<epoch>-<seq>` split into its parts.
pub fn parse_event_id(id: &[u8]) -> Option<(&[u8], u64)> {
    let dash = memchr::memrchr(b'-', id)?;
    let (epoch, seq) = (&id[..dash], &id[dash + 1..]);
    if epoch.is_empty() || seq.is_empty() || seq.len() > 19 {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in seq {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(byte - b'0');
    }
    Some((epoch, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(parser: &mut EventParser) -> Vec<(String, Option<String>, String)> {
        let mut events = Vec::new();
        parser.drain(|event| {
            events.push((
                String::from_utf8_lossy(event.name).into_owned(),
                event.id.map(|id| String::from_utf8_lossy(id).into_owned()),
                String::from_utf8_lossy(&event.data).into_owned(),
            ))
        });
        events
    }

    fn chunk(payload: &str) -> String {
        format!("{:x}\r\n{payload}\r\n", payload.len())
    }

    const STREAM: &str = "retry: 2000\n\n\
        id: ab12-7\nevent: init\ndata: {\"epoch\":\"ab12\"}\n\n\
        : keep-alive comment\n\n\
        event: heartbeat\ndata: {\"server_time\":1}\n\n\
        id: ab12-8\nevent: update\ndata: {\"id\":\"x\",\"value\":{\"kind\":\"number\",\"value\":1.5}}\n\n";

    fn expected() -> Vec<(String, Option<String>, String)> {
        let event = |name: &str, id: Option<&str>, data: &str| {
            (name.to_owned(), id.map(str::to_owned), data.to_owned())
        };
        vec![
            event("init", Some("ab12-7"), "{\"epoch\":\"ab12\"}"),
            event("heartbeat", None, "{\"server_time\":1}"),
            event(
                "update",
                Some("ab12-8"),
                "{\"id\":\"x\",\"value\":{\"kind\":\"number\",\"value\":1.5}}",
            ),
        ]
    }

    #[test]
    fn head_is_parsed() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
            Transfer-Encoding: chunked\r\ncache-control: no-cache\r\n\r\nbody";
        let end = head_end(raw).unwrap();
        assert_eq!(&raw[end..], b"body");
        let head = parse_head(&raw[..end]).unwrap();
        assert_eq!(head.status, 200);
        assert!(head.chunked);
        assert!(!head.close);
        assert_eq!(head.content_type.as_deref(), Some("text/event-stream"));

        let head = parse_head(
            b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 12\r\nconnection: close\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            (head.status, head.content_length, head.close),
            (401, Some(12), true)
        );
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n"), None);
    }

    #[test]
    fn chunks_decode_whatever_the_read_boundaries() {
        let body: String = STREAM
            .as_bytes()
            .chunks(37)
            .map(|part| chunk(std::str::from_utf8(part).unwrap()))
            .collect::<String>()
            + "0\r\n\r\n";
        // Every split point, including inside size lines and CRLFs.
        for step in [1, 2, 3, 5, 16, 1000] {
            let mut decoder = ChunkDecoder::default();
            let mut out = Vec::new();
            for part in body.as_bytes().chunks(step) {
                decoder.decode(part, &mut out).unwrap();
            }
            assert_eq!(out, STREAM.as_bytes(), "step {step}");
            assert!(decoder.is_done());
        }
    }

    #[test]
    fn chunk_extensions_and_uppercase_hex_are_accepted() {
        let mut decoder = ChunkDecoder::default();
        let mut out = Vec::new();
        let payload = "x".repeat(0x1A);
        decoder
            .decode(
                format!("1A;name=value\r\n{payload}\r\n").as_bytes(),
                &mut out,
            )
            .unwrap();
        assert_eq!(out, payload.as_bytes());
        assert!(!decoder.is_done());
    }

    #[test]
    fn the_body_ends_after_the_trailer() {
        for input in [&b"0\r\n\r\n"[..], b"0\r\nExpires: never\r\n\r\n", b"0\n\n"] {
            for step in [1, 100] {
                let mut decoder = ChunkDecoder::default();
                let mut out = Vec::new();
                let parts: Vec<&[u8]> = input.chunks(step).collect();
                for (i, part) in parts.iter().enumerate() {
                    assert!(!decoder.is_done(), "done before part {i} of {input:?}");
                    decoder.decode(part, &mut out).unwrap();
                }
                assert!(decoder.is_done(), "{input:?}");
                assert!(out.is_empty());
            }
        }
        let mut decoder = ChunkDecoder::default();
        decoder.decode(b"0\r\n", &mut Vec::new()).unwrap();
        assert!(!decoder.is_done(), "the final CRLF is part of the body");
    }

    #[test]
    fn bad_chunk_framing_is_an_error() {
        let mut out = Vec::new();
        assert!(ChunkDecoder::default().decode(b"zz\r\n", &mut out).is_err());
        assert!(ChunkDecoder::default()
            .decode(b"2\r\nabX", &mut out)
            .is_err());
    }

    #[test]
    fn events_are_split_whatever_the_read_boundaries() {
        for step in [1, 2, 7, 64, 4096] {
            let mut parser = EventParser::default();
            let mut events = Vec::new();
            for part in STREAM.as_bytes().chunks(step) {
                parser.buffer_mut().extend_from_slice(part);
                events.extend(collect(&mut parser));
            }
            assert_eq!(events, expected(), "step {step}");
            assert_eq!(parser.pending(), 0);
        }
    }

    #[test]
    fn crlf_lines_multiline_data_and_fields_without_space() {
        let mut parser = EventParser::default();
        parser.buffer_mut().extend_from_slice(
            b"event:update\r\nid:e-1\r\ndata: a\r\ndata:b\r\n\r\ndata\n\nevent: x\n",
        );
        let events = collect(&mut parser);
        assert_eq!(
            events,
            vec![
                ("update".into(), Some("e-1".into()), "a\nb".into()),
                ("message".into(), None, "".into()),
            ]
        );
        // The partial event stays buffered.
        assert_eq!(parser.pending(), b"event: x\n".len());
        parser.buffer_mut().extend_from_slice(b"data: 1\n\n");
        assert_eq!(collect(&mut parser), vec![("x".into(), None, "1".into())]);
    }

    #[test]
    fn event_ids_split_at_the_last_dash() {
        assert_eq!(
            parse_event_id(b"73d2734ac365ce15-30"),
            Some((&b"73d2734ac365ce15"[..], 30))
        );
        assert_eq!(parse_event_id(b"a-b-0"), Some((&b"a-b"[..], 0)));
        for bad in [
            &b"abc"[..],
            b"-5",
            b"abc-",
            b"abc-1x",
            b"e-123456789012345678901",
        ] {
            assert_eq!(
                parse_event_id(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
