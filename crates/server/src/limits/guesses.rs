//! Token guessing, per client address. Every failed check of a presented
//! credential (a publish token, a viewer token as `Bearer`, a login) counts
//! against the address it came from, whatever endpoint it was sent to. Past a
//! burst, the address is refused with 429 and `Retry-After` for every
//! credential it presents, right or wrong, until its budget refills: otherwise
//! a 200 among the 429s would still tell a guesser it found one. Other
//! addresses, and browsers with a session cookie, are unaffected.
//!
//! The budget is a GCRA (`governor`) over failures only, so a publisher with
//! the right token never spends it; the refusal deadline of each address over
//! it is kept beside it, since GCRA cannot be asked without spending a cell.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;
use crate::metrics::Metrics;

/// Failed checks an address may make at once, then one more every
/// [`REFILL`]: a mistyped token or a script with an old one is told 401 a few
/// times before 429, while an online guess of a 16-character token would take
/// longer than the universe has.
pub const FAILURE_BURST: NonZeroU32 = NonZeroU32::new(20).expect("non-zero");
const REFILL: Duration = Duration::from_secs(3);

/// Which kind of credential failed, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub enum Credential {
    PublishToken,
    ViewerToken,
    Login,
}

impl Credential {
    fn as_str(self) -> &'static str {
        match self {
            Credential::PublishToken => "publish_token",
            Credential::ViewerToken => "viewer_token",
            Credential::Login => "login",
        }
    }
}

pub struct GuessLimit {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses over their budget, and until when.
    refused_until: Mutex<HashMap<IpAddr, Instant>>,
    /// Whether `refused_until` may hold anyone: while nobody is guessing,
    /// a right token costs one atomic load here, not a shared lock.
    any_refused: AtomicBool,
    metrics: Metrics,
}

impl GuessLimit {
    pub fn new(metrics: Metrics) -> GuessLimit {
        let quota = Quota::with_period(REFILL)
            .expect("a non-zero period")
            .allow_burst(FAILURE_BURST);
        GuessLimit {
            failures: RateLimiter::keyed(quota),
            refused_until: Mutex::new(HashMap::new()),
            any_refused: AtomicBool::new(false),
            metrics,
        }
    }

    /// Checks the credential `check` finds in a request from `client`: 429
    /// while the address is over its budget (without looking at the
    /// credential), else what `check` found, or `refusal` (counted as a
    /// failure, and turned into a 429 if it is one too many).
    pub fn check<T>(
        &self,
        client: Option<IpAddr>,
        credential: Credential,
        check: impl FnOnce() -> Option<T>,
        refusal: impl FnOnce() -> ApiError,
    ) -> Result<T, ApiError> {
        let Some(client) = client else {
            // Only a request with no peer address (never over TCP) lands here.
            return check().ok_or_else(refusal);
        };
        if let Some(wait) = self.refused_for(client) {
            return Err(self.too_many(wait));
        }
        if let Some(found) = check() {
            return Ok(found);
        }
        self.metrics
            .auth_failures
            .with_label_values(&[credential.as_str()])
            .inc();
        match self.failures.check_key(&client) {
            Ok(()) => Err(refusal()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                self.lock().insert(client, Instant::now() + wait);
                self.any_refused.store(true, Ordering::Release);
                Err(self.too_many(wait))
            }
        }
    }

    /// How long `client` is still refused, if it is.
    fn refused_for(&self, client: IpAddr) -> Option<Duration> {
        if !self.any_refused.load(Ordering::Acquire) {
            return None;
        }
        let mut refused = self.lock();
        let until = *refused.get(&client)?;
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            refused.remove(&client);
            return None;
        }
        Some(left)
    }

    fn too_many(&self, wait: Duration) -> ApiError {
        self.metrics
            .requests_refused
            .with_label_values(&["auth_failures"])
            .inc();
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many failed token checks from this address; wait and try again",
        )
        .retry_after(wait)
    }

    /// Forgets addresses back to a full budget, and refusals that ended.
    pub fn forget_idle(&self) {
        self.failures.retain_recent();
        self.failures.shrink_to_fit();
        let now = Instant::now();
        let mut refused = self.lock();
        refused.retain(|_, until| *until > now);
        if refused.is_empty() {
            self.any_refused.store(false, Ordering::Release);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Instant>> {
        self.refused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guess(limit: &GuessLimit, client: IpAddr, right: bool) -> Result<(), StatusCode> {
        limit
            .check(
                Some(client),
                Credential::PublishToken,
                || right.then_some(()),
                ApiError::unauthorized,
            )
            .map_err(|e| e.status)
    }

    #[test]
    fn failures_past_the_burst_refuse_the_address_even_with_the_right_token() {
        let limit = GuessLimit::new(Metrics::new());
        let guesser: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..10 {
            assert_eq!(guess(&limit, guesser, true), Ok(()), "successes are free");
        }
        for _ in 0..FAILURE_BURST.get() {
            assert_eq!(guess(&limit, guesser, false), Err(StatusCode::UNAUTHORIZED));
        }
        assert_eq!(
            guess(&limit, guesser, false),
            Err(StatusCode::TOO_MANY_REQUESTS)
        );
        assert_eq!(
            guess(&limit, guesser, true),
            Err(StatusCode::TOO_MANY_REQUESTS),
            "no oracle while refused"
        );
        assert_eq!(guess(&limit, other, true), Ok(()));
        assert_eq!(guess(&limit, other, false), Err(StatusCode::UNAUTHORIZED));
    }
}
