//! The log of refused requests (every API error: 4xx and 5xx), in a volume
//! that does not depend on how hard a client tries.
//!
//! One line per refusal would let anyone write the log at the rate they can
//! send requests: a token-guessing run writes thousands of lines, and hides
//! whatever else happened. So per interval (`--refusal-log-interval`), the
//! first refusal from each client address is logged in full; the others from
//! that address are counted, and when the interval ends one summary line per
//! address gives their number by status and code. Memory is bounded too:
//! past [`MAX_CLIENTS`] addresses in one interval, refusals from further
//! addresses share one count. The exact counts are in `/metrics`
//! (`pulseboard_error_responses_total{status,code}`), whatever was logged.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use tokio::task::JoinHandle;

use crate::access::TrustedProxies;
use crate::error::ApiError;
use crate::log_text::Escaped;
use crate::metrics::Metrics;

/// Addresses tracked one by one per interval: as many full lines and
/// summaries at most, per interval, however many addresses a client rotates
/// through (an IPv6 /64 holds billions).
pub const MAX_CLIENTS: usize = 256;

/// A client address, when the connection has one.
type Client = Option<IpAddr>;

pub struct RefusalLog {
    interval: Duration,
    window: Mutex<Window>,
    metrics: Metrics,
}

/// The refusals of the current interval.
#[derive(Default)]
struct Window {
    /// Addresses refused in this interval (their first refusal was logged),
    /// with the refusals not logged since.
    clients: HashMap<Client, Tally>,
    /// Refusals from addresses beyond [`MAX_CLIENTS`]: none was logged.
    others: Tally,
}

/// Refusals not logged one by one, by status and code.
#[derive(Default)]
struct Tally {
    total: u64,
    /// Few entries: codes are the API's fixed set.
    by_code: Vec<(StatusCode, &'static str, u64)>,
}

impl Tally {
    fn add(&mut self, status: StatusCode, code: &'static str) {
        self.total += 1;
        match self
            .by_code
            .iter_mut()
            .find(|(s, c, _)| *s == status && *c == code)
        {
            Some((_, _, count)) => *count += 1,
            None => self.by_code.push((status, code, 1)),
        }
    }
}

/// `401 unauthorized ×3, 429 rate_limited ×40`.
struct Codes<'a>(&'a [(StatusCode, &'static str, u64)]);

impl std::fmt::Display for Codes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (status, code, count)) in self.0.iter().enumerate() {
            let comma = if i == 0 { "" } else { ", " };
            write!(f, "{comma}{} {code} ×{count}", status.as_u16())?;
        }
        Ok(())
    }
}

/// An address for a log line (`unknown` without one).
struct Shown(Client);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{ip}"),
            None => f.write_str("unknown"),
        }
    }
}

impl RefusalLog {
    pub fn new(interval: Duration, metrics: Metrics) -> RefusalLog {
        RefusalLog {
            interval,
            window: Mutex::new(Window::default()),
            metrics,
        }
    }

    /// Counts one refusal of `client`, and logs it if it is the first from
    /// that address in this interval. `message` came from the request (it
    /// quotes what the client sent): it is escaped here.
    pub fn refused(&self, client: Client, status: StatusCode, code: &'static str, message: &str) {
        self.metrics
            .error_responses
            .with_label_values(&[status.as_str(), code])
            .inc();
        let first = {
            let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
            let window = &mut *window;
            let tracked = window.clients.len() < MAX_CLIENTS;
            match window.clients.get_mut(&client) {
                Some(tally) => {
                    tally.add(status, code);
                    false
                }
                None if tracked => {
                    window.clients.insert(client, Tally::default());
                    true
                }
                None => {
                    window.others.add(status, code);
                    false
                }
            }
        };
        if first {
            // The text from the request last, so nothing in it reads as one
            // of our fields. (A field named `message` would be taken for the
            // line's own message.)
            tracing::info!(
                client = %Shown(client),
                status = status.as_u16(),
                code = %code,
                detail = %Escaped(message),
                "request refused (more from this client are counted until the next summary)"
            );
        }
    }

    /// Logs one summary line per address refused more than once since the
    /// last summary, and starts a new interval.
    pub fn summarize(&self) {
        let window =
            std::mem::take(&mut *self.window.lock().unwrap_or_else(PoisonError::into_inner));
        let mut tallies: Vec<(Client, Tally)> = window
            .clients
            .into_iter()
            .filter(|(_, tally)| tally.total > 0)
            .collect();
        tallies.sort_by(|a, b| b.1.total.cmp(&a.1.total).then(a.0.cmp(&b.0)));
        let within = humantime::format_duration(self.interval);
        for (client, tally) in tallies {
            tracing::info!(
                client = %Shown(client),
                refusals = tally.total,
                codes = %Codes(&tally.by_code),
                "more requests refused in the last {within}, not logged one by one"
            );
        }
        if window.others.total > 0 {
            tracing::info!(
                refusals = window.others.total,
                codes = %Codes(&window.others.by_code),
                "more requests refused in the last {within}, from addresses beyond the {MAX_CLIENTS} tracked, not logged one by one"
            );
        }
    }

    /// Summarizes every interval, until aborted.
    pub fn spawn_summaries(log: web::Data<RefusalLog>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(log.interval);
            ticker.tick().await; // the first tick is immediate
            loop {
                ticker.tick().await;
                log.summarize();
            }
        })
    }
}

/// Records `error` as the answer to `req`, with the refusal log and the
/// proxies of its app (nothing without them, as in a handler's unit test).
pub fn record(req: &HttpRequest, error: &ApiError) {
    record_with(req, error.status, error.code, &error.message);
}

/// [`record`] for an error that is not an [`ApiError`] (actix's own).
pub fn record_with(req: &HttpRequest, status: StatusCode, code: &'static str, message: &str) {
    let Some(log) = req.app_data::<web::Data<RefusalLog>>() else {
        return;
    };
    let client = req
        .app_data::<web::Data<TrustedProxies>>()
        .and_then(|proxies| proxies.client_ip(req))
        .or_else(|| req.peer_addr().map(|addr| addr.ip()));
    log.refused(client, status, code, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> Client {
        Some(IpAddr::V4(n.into()))
    }

    fn counted(log: &RefusalLog, status: &str, code: &str) -> u64 {
        log.metrics
            .error_responses
            .with_label_values(&[status, code])
            .get()
    }

    #[test]
    fn the_first_refusal_per_address_is_logged_and_the_rest_counted() {
        let log = RefusalLog::new(Duration::from_secs(60), Metrics::new());
        for _ in 0..3 {
            log.refused(ip(1), StatusCode::UNAUTHORIZED, "unauthorized", "no");
        }
        log.refused(ip(1), StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow");
        log.refused(ip(2), StatusCode::UNAUTHORIZED, "unauthorized", "no");
        {
            let window = log.window.lock().unwrap();
            let one = &window.clients[&ip(1)];
            assert_eq!(one.total, 3);
            assert_eq!(
                one.by_code,
                [
                    (StatusCode::UNAUTHORIZED, "unauthorized", 2),
                    (StatusCode::TOO_MANY_REQUESTS, "rate_limited", 1)
                ]
            );
            assert_eq!(window.clients[&ip(2)].total, 0);
        }
        assert_eq!(counted(&log, "401", "unauthorized"), 4);
        assert_eq!(counted(&log, "429", "rate_limited"), 1);
        log.summarize();
        assert!(log.window.lock().unwrap().clients.is_empty());
    }

    #[test]
    fn addresses_beyond_the_cap_share_one_count() {
        let log = RefusalLog::new(Duration::from_secs(60), Metrics::new());
        let n = MAX_CLIENTS as u32 + 100;
        for client in 0..n {
            log.refused(ip(client), StatusCode::BAD_REQUEST, "invalid_json", "x");
        }
        {
            let window = log.window.lock().unwrap();
            assert_eq!(window.clients.len(), MAX_CLIENTS);
            assert_eq!(window.others.total, 100);
        }
        assert_eq!(counted(&log, "400", "invalid_json"), u64::from(n));
    }
}
