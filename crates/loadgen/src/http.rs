//! A minimal HTTP/1.1 client for the few plain requests the load generator
//! makes (publish, `/metrics`, `/readyz`): one keep-alive connection, one
//! request at a time. Subscribers speak raw HTTP themselves (see `subscriber`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::sse::{head_end, parse_head, ChunkDecoder};

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive connection, reopened when the server closed it.
pub struct Client {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Where this connection goes.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends one request and reads the whole response. A connection the server
    /// closed while idle (keep-alive timeout) is reopened and the request sent
    /// again, but only if not a byte of the response had arrived.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);

        let reused = self.stream.is_some();
        match self.exchange(&bytes).await {
            Ok(response) => Ok(response),
            Err(Exchange::BeforeResponse(error)) if reused => {
                self.stream = None;
                self.exchange(&bytes)
                    .await
                    .map_err(Exchange::into_error)
                    .with_context(|| format!("{method} {path} (after reconnecting: {error:#})"))
            }
            Err(error) => {
                self.stream = None;
                Err(error.into_error()).with_context(|| format!("{method} {path}"))
            }
        }
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Response, Exchange> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connecting to {}", self.addr))
                .map_err(Exchange::BeforeResponse)?;
            stream.set_nodelay(true).ok();
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        stream
            .write_all(request)
            .await
            .context("writing the request")
            .map_err(Exchange::BeforeResponse)?;

        self.buf.clear();
        let head_len = loop {
            if let Some(end) = head_end(&self.buf) {
                break end;
            }
            let read = read_some(stream, &mut self.buf).await;
            match read {
                Ok(0) if self.buf.is_empty() => {
                    return Err(Exchange::BeforeResponse(anyhow::anyhow!(
                        "connection closed before the response"
                    )))
                }
                Ok(0) => return Err(Exchange::During(anyhow::anyhow!("truncated response head"))),
                Ok(_) => {}
                Err(error) if self.buf.is_empty() => return Err(Exchange::BeforeResponse(error)),
                Err(error) => return Err(Exchange::During(error)),
            }
        };
        let head = parse_head(&self.buf[..head_len]).map_err(Exchange::During)?;
        let mut raw = self.buf.split_off(head_len);
        let mut body = Vec::new();
        if head.chunked {
            let mut decoder = ChunkDecoder::default();
            loop {
                decoder.decode(&raw, &mut body).map_err(Exchange::During)?;
                if decoder.is_done() {
                    break;
                }
                raw.clear();
                if read_some(stream, &mut raw)
                    .await
                    .map_err(Exchange::During)?
                    == 0
                {
                    return Err(Exchange::During(anyhow::anyhow!("truncated chunked body")));
                }
            }
        } else if let Some(length) = head.content_length {
            while raw.len() < length {
                if read_some(stream, &mut raw)
                    .await
                    .map_err(Exchange::During)?
                    == 0
                {
                    return Err(Exchange::During(anyhow::anyhow!("truncated body")));
                }
            }
            raw.truncate(length);
            body = raw;
        } else {
            // No framing: the body runs to the end of the connection.
            while read_some(stream, &mut raw)
                .await
                .map_err(Exchange::During)?
                > 0
            {}
            body = raw;
            self.stream = None;
        }
        if head.close {
            self.stream = None;
        }
        Ok(Response {
            status: head.status,
            body,
        })
    }
}

/// Where an exchange failed: before any response byte (safe to resend) or not.
enum Exchange {
    BeforeResponse(anyhow::Error),
    During(anyhow::Error),
}

impl Exchange {
    fn into_error(self) -> anyhow::Error {
        match self {
            Exchange::BeforeResponse(error) | Exchange::During(error) => error,
        }
    }
}

async fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize> {
    buf.reserve(4096);
    Ok(stream.read_buf(buf).await?)
}

/// `GET path` on a fresh connection that is closed afterwards, so that it
/// holds no server file descriptor once this returns.
pub async fn get_once(addr: SocketAddr, path: &str) -> Result<Response> {
    let mut client = Client::new(addr);
    client
        .request("GET", path, &[("Connection", "close")], b"")
        .await
}

/// The server's Prometheus text.
pub async fn metrics(addr: SocketAddr) -> Result<String> {
    let response = get_once(addr, "/metrics").await?;
    if response.status != 200 {
        bail!("GET /metrics: HTTP {}", response.status);
    }
    Ok(response.text())
}

/// `pulseboard_open_streams` from the server's metrics.
pub async fn open_streams(addr: SocketAddr) -> Result<u64> {
    metric_value(&metrics(addr).await?, "pulseboard_open_streams")
        .map(|value| value as u64)
        .context("no pulseboard_open_streams in /metrics")
}

/// The value of an unlabelled metric, or the sum over its label sets.
pub fn metric_value(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let value_text = if let Some(labelled) = rest.strip_prefix('{') {
            labelled.split_once('}').map(|(_, value)| value)
        } else if rest.starts_with(' ') {
            Some(rest)
        } else {
            None // a longer name with this prefix
        };
        if let Some(value) =
            value_text.and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        {
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

/// Polls `GET /readyz` until it answers 200.
pub async fn wait_ready(addr: SocketAddr, timeout: Duration) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let last = match get_once(addr, "/readyz").await {
            Ok(response) if response.status == 200 => return Ok(started.elapsed()),
            Ok(response) => format!("HTTP {}: {}", response.status, response.text().trim()),
            Err(error) => format!("{error:#}"),
        };
        if started.elapsed() > timeout {
            bail!("{addr} not ready after {timeout:?}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = "# HELP pulseboard_open_streams SSE streams open right now\n\
        # TYPE pulseboard_open_streams gauge\n\
        pulseboard_open_streams 17\n\
        pulseboard_open_streams_peak 99\n\
        pulseboard_resets_sent_total{reason=\"lagged\"} 3\n\
        pulseboard_resets_sent_total{reason=\"replay\"} 4\n";

    #[test]
    fn metrics_are_found_by_exact_name() {
        assert_eq!(metric_value(METRICS, "pulseboard_open_streams"), Some(17.0));
        assert_eq!(
            metric_value(METRICS, "pulseboard_resets_sent_total"),
            Some(7.0)
        );
        assert_eq!(metric_value(METRICS, "pulseboard_nothing"), None);
    }

    #[tokio::test]
    async fn keep_alive_client_reads_sized_and_chunked_bodies() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let responses: [&[u8]; 2] = [
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
                b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            ];
            for response in responses {
                let mut buf = [0u8; 1024];
                loop {
                    let n = socket.read(&mut buf).await.unwrap();
                    seen.extend_from_slice(&buf[..n]);
                    if head_end(&seen).is_some() {
                        break;
                    }
                }
                let text = String::from_utf8_lossy(&seen).into_owned();
                seen.clear();
                socket.write_all(response).await.unwrap();
                if text.starts_with("POST") {
                    assert!(text.contains("Content-Length: 2\r\n"), "{text}");
                }
            }
        });
        let mut client = Client::new(addr);
        let first = client.request("GET", "/a", &[], b"").await.unwrap();
        assert_eq!((first.status, first.text().as_str()), (200, "hello"));
        let second = client.request("POST", "/b", &[], b"{}").await.unwrap();
        assert_eq!((second.status, second.text().as_str()), (404, "abcde"));
        server.await.unwrap();
    }
}
