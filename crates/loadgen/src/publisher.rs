//! Publishes `number` updates to the bench widget at a steady rate; each value
//! is the send time in Unix microseconds (an f64, exact below 2^53), so a
//! subscriber's latency is its receive time minus the value.
//!
//! The pace does not wait for the server: each tick sends on an idle
//! keep-alive connection of a small pool, so a slow response does not lower
//! the offered load (no "coordinated omission") until every connection is
//! busy; the achieved rate is reported. Requests in flight at once also land on
//! different server workers, which is what tests the order of delivery.
//!
//! With several addresses (instances sharing one log, `--publish-addr`), the
//! connections are spread over them and successive publishes go to them in
//! turn; the latency is still the subscriber's clock minus the publisher's,
//! one machine's clock, whichever instance took the publish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use crate::http::Client;
use crate::sse::parse_event_id;
use crate::subscriber::{unix_micros, BENCH_WIDGET};

/// Consecutive failed publishes after which a run is abandoned.
const MAX_CONSECUTIVE_ERRORS: u32 = 20;

pub struct Publisher {
    /// Idle connections (all of them between runs).
    idle: Vec<Client>,
    /// The addresses publishes go to, in turn (one for a single server).
    addrs: Vec<SocketAddr>,
    /// Which of `addrs` the next publish should go to.
    turn: usize,
    request: Arc<RequestParts>,
    /// Highest sequence number published so far (from the responses).
    pub last_seq: u64,
    epoch: Option<String>,
}

struct RequestParts {
    path: String,
    authorization: String,
}

/// One paced run.
#[derive(Debug, Clone)]
pub struct PublishRun {
    pub published: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// From the first send to the last send.
    pub send_span: Duration,
    /// Request → response time, µs.
    pub round_trip: Histogram<u64>,
    /// Whether the sequence numbers of this run's events are exactly the
    /// range after the previous run's (no gap, none twice).
    pub contiguous: bool,
}

impl PublishRun {
    /// Publish attempts per second, between the first and the last send.
    pub fn achieved_rate(&self) -> f64 {
        let attempts = self.published + self.errors;
        if attempts < 2 {
            return 0.0;
        }
        (attempts - 1) as f64 / self.send_span.as_secs_f64().max(1e-9)
    }
}

#[derive(Deserialize)]
struct Published {
    event_id: String,
}

/// What one request learnt: the event's epoch and sequence number.
type Outcome = Result<(String, u64)>;

impl Publisher {
    /// `connections` keep-alive connections (at least one per address),
    /// spread over `servers` in turn.
    pub fn new(servers: &[SocketAddr], token: &str, connections: usize) -> Publisher {
        assert!(!servers.is_empty(), "a publisher needs an address");
        Publisher {
            idle: (0..connections.max(servers.len()))
                .map(|i| Client::new(servers[i % servers.len()]))
                .collect(),
            addrs: servers.to_vec(),
            turn: 0,
            request: Arc::new(RequestParts {
                path: format!("/api/widgets/{BENCH_WIDGET}"),
                authorization: format!("Bearer {token}"),
            }),
            last_seq: 0,
            epoch: None,
        }
    }

    /// Publishes one update now; returns its sequence number. Fails with the
    /// server's answer if publishing does not work.
    pub async fn publish_one(&mut self) -> Result<u64> {
        let mut client = self.take_idle().expect("the pool is never empty");
        let outcome = publish(&mut client, &self.request).await;
        self.idle.push(client);
        let (epoch, seq) = outcome?;
        self.note(epoch, seq);
        Ok(seq)
    }

    /// An idle connection: the most recently used one, or with several
    /// addresses one to the address whose turn it is (another if all of
    /// those are busy).
    fn take_idle(&mut self) -> Option<Client> {
        if self.addrs.len() <= 1 {
            return self.idle.pop();
        }
        let want = self.addrs[self.turn % self.addrs.len()];
        let position = self
            .idle
            .iter()
            .rposition(|client| client.addr() == want)
            .or_else(|| self.idle.len().checked_sub(1))?;
        self.turn += 1;
        Some(self.idle.remove(position))
    }

    fn note(&mut self, epoch: String, seq: u64) {
        if self.epoch.as_deref() != Some(epoch.as_str()) {
            self.epoch = Some(epoch);
            self.last_seq = 0;
        }
        self.last_seq = self.last_seq.max(seq);
    }

    /// Publishes `rate` events per second for `duration`: a tokio interval,
    /// whose ticks missed while every connection was busy are caught up in a
    /// burst, so the count is kept and the achieved rate says how well.
    pub async fn run(&mut self, rate: f64, duration: Duration) -> Result<PublishRun> {
        if !(rate > 0.0 && rate.is_finite()) {
            bail!("rate must be positive, got {rate}");
        }
        let count = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
        let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut run = PublishRun {
            published: 0,
            errors: 0,
            first_error: None,
            send_span: Duration::ZERO,
            round_trip: Histogram::new_with_bounds(1, 600_000_000, 3)
                .expect("static histogram bounds are valid"),
            contiguous: true,
        };
        let previous_seq = self.last_seq;
        let mut seqs = Vec::with_capacity(count as usize);
        let mut in_flight: JoinSet<(Client, Instant, Outcome)> = JoinSet::new();
        let mut consecutive_errors = 0;
        let (mut due, mut sent) = (0u64, 0u64);
        let started = Instant::now();
        while sent < count || !in_flight.is_empty() {
            tokio::select! {
                _ = ticker.tick(), if sent + due < count => due += 1,
                Some(done) = in_flight.join_next() => {
                    let (client, send_time, outcome) = done.context("a publish task failed")?;
                    self.idle.push(client);
                    match outcome {
                        Ok((epoch, seq)) => {
                            run.published += 1;
                            consecutive_errors = 0;
                            let micros = send_time.elapsed().as_micros().max(1) as u64;
                            run.round_trip.saturating_record(micros);
                            seqs.push(seq);
                            self.note(epoch, seq);
                        }
                        Err(error) => {
                            run.errors += 1;
                            consecutive_errors += 1;
                            run.first_error.get_or_insert_with(|| format!("{error:#}"));
                            if consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
                                bail!(
                                    "{consecutive_errors} publishes in a row failed: {}",
                                    run.first_error.unwrap_or_default()
                                );
                            }
                        }
                    }
                }
                else => bail!("the publisher stalled with nothing in flight"),
            }
            while due > 0 {
                let Some(mut client) = self.take_idle() else {
                    break; // every connection busy: falling behind the pace
                };
                let request = self.request.clone();
                let send_time = Instant::now();
                run.send_span = send_time - started;
                in_flight.spawn(async move {
                    let outcome = publish(&mut client, &request).await;
                    (client, send_time, outcome)
                });
                due -= 1;
                sent += 1;
            }
        }
        seqs.sort_unstable();
        run.contiguous = seqs
            .iter()
            .zip(previous_seq + 1..)
            .all(|(&seq, expected)| seq == expected);
        Ok(run)
    }
}

/// One keep-alive connection publishing one update at a time, for a caller
/// that paces and times it itself (the restart scenario).
pub struct SinglePublisher {
    server: SocketAddr,
    client: Client,
    request: RequestParts,
}

impl SinglePublisher {
    pub fn new(server: SocketAddr, token: &str) -> SinglePublisher {
        SinglePublisher {
            server,
            client: Client::new(server),
            request: RequestParts {
                path: format!("/api/widgets/{BENCH_WIDGET}"),
                authorization: format!("Bearer {token}"),
            },
        }
    }

    /// Publishes one update; returns its sequence number. A request that
    /// takes longer than `timeout` fails, and the connection is dropped.
    pub async fn publish(&mut self, timeout: Duration) -> Result<u64> {
        match tokio::time::timeout(timeout, publish(&mut self.client, &self.request)).await {
            Ok(outcome) => outcome.map(|(_, seq)| seq),
            Err(_) => {
                self.client = Client::new(self.server);
                bail!("no answer in {timeout:?}")
            }
        }
    }
}

/// POSTs one update stamped with the current time.
async fn publish(client: &mut Client, request: &RequestParts) -> Outcome {
    let body = format!(
        "{{\"kind\":\"number\",\"value\":{:.1}}}",
        unix_micros().round()
    );
    let response = client
        .request(
            "POST",
            &request.path,
            &[
                ("Authorization", &request.authorization),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
        .await?;
    if response.status != 200 {
        bail!(
            "POST {}: HTTP {}: {}",
            request.path,
            response.status,
            response.text().trim()
        );
    }
    let published: Published = serde_json::from_slice(&response.body).with_context(|| {
        format!(
            "POST {}: unexpected body {:?}",
            request.path,
            response.text()
        )
    })?;
    let (epoch, seq) = parse_event_id(published.event_id.as_bytes())
        .with_context(|| format!("bad event_id {:?}", published.event_id))?;
    Ok((String::from_utf8_lossy(epoch).into_owned(), seq))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::sse::head_end;

    /// A fake publish endpoint: each POST gets the next sequence number; every
    /// `slow_every`-th response is delayed, so requests overlap.
    async fn fake_server(slow_every: u64) -> SocketAddr {
        fake_server_counting(slow_every).await.0
    }

    /// The fake endpoint, and how many publishes it answered.
    async fn fake_server_counting(slow_every: u64) -> (SocketAddr, Arc<AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seq = Arc::new(AtomicU64::new(0));
        let answered = seq.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let seq = seq.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let mut chunk = [0u8; 4096];
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let Some(end) = head_end(&buf) else { continue };
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        assert!(head.contains("authorization: bearer secret"), "{head}");
                        let length: usize = head
                            .split("content-length: ")
                            .nth(1)
                            .and_then(|rest| rest.split("\r\n").next()?.parse().ok())
                            .unwrap();
                        if buf.len() < end + length {
                            continue;
                        }
                        let body: serde_json::Value =
                            serde_json::from_slice(&buf[end..end + length]).unwrap();
                        assert!(body["value"].as_f64().unwrap() > 1.7e15);
                        buf.drain(..end + length);
                        let seq = seq.fetch_add(1, Ordering::SeqCst) + 1;
                        if seq.is_multiple_of(slow_every) {
                            tokio::time::sleep(Duration::from_millis(30)).await;
                        }
                        let json =
                            format!("{{\"widget\":\"bench.latency\",\"event_id\":\"ep-{seq}\"}}");
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\n\r\n{json}",
                            json.len()
                        );
                        socket.write_all(response.as_bytes()).await.unwrap();
                    }
                });
            }
        });
        (addr, answered)
    }

    #[tokio::test]
    async fn paces_and_checks_the_returned_ids() {
        let addr = fake_server(5).await;
        let mut publisher = Publisher::new(&[addr], "secret", 3);
        assert_eq!(publisher.publish_one().await.unwrap(), 1);
        let started = Instant::now();
        let run = publisher
            .run(200.0, Duration::from_millis(250))
            .await
            .unwrap();
        assert_eq!((run.published, run.errors), (50, 0));
        assert!(run.contiguous);
        assert_eq!(publisher.last_seq, 51);
        assert_eq!(publisher.idle.len(), 3, "every connection comes back");
        // 50 sends 5 ms apart take ~245 ms, slow responses notwithstanding.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(240), "{took:?}");
        assert!(run.achieved_rate() > 150.0, "{}", run.achieved_rate());
    }

    #[tokio::test]
    async fn publishes_go_to_several_addresses_in_turn() {
        let (first, first_count) = fake_server_counting(1000).await;
        let (second, second_count) = fake_server_counting(1000).await;
        let mut publisher = Publisher::new(&[first, second], "secret", 4);
        publisher.publish_one().await.unwrap();
        publisher.publish_one().await.unwrap();
        assert_eq!(first_count.load(Ordering::SeqCst), 1);
        assert_eq!(second_count.load(Ordering::SeqCst), 1);
        // Paced one at a time (each answered long before the next tick).
        let run = publisher
            .run(100.0, Duration::from_millis(200))
            .await
            .unwrap();
        assert_eq!((run.published, run.errors), (20, 0));
        assert_eq!(first_count.load(Ordering::SeqCst), 11);
        assert_eq!(second_count.load(Ordering::SeqCst), 11);
        assert_eq!(publisher.idle.len(), 4, "every connection comes back");
    }

    #[tokio::test]
    async fn a_refused_publish_reports_the_servers_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let body = "{\"error\":\"unauthorized\"}";
            let response = format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
        });
        let mut publisher = Publisher::new(&[addr], "wrong", 1);
        let error = publisher.publish_one().await.unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("401") && message.contains("unauthorized"),
            "{message}"
        );
    }
}
