//! Request rates, per publish token and per client address for logins
//! (GCRA, from `governor`): a steady rate plus a burst, refused with 429 and
//! the time until a request would be allowed.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;
use crate::metrics::Metrics;

/// Login attempts allowed per client address and minute. Enough for every
/// screen behind one office NAT after a restart; few enough that guessing a
/// token online is hopeless.
const LOGINS_PER_MINUTE: NonZeroU32 = NonZeroU32::new(30).expect("non-zero");

pub struct RateLimits {
    publish: DefaultKeyedRateLimiter<usize>,
    login: DefaultKeyedRateLimiter<IpAddr>,
    metrics: Metrics,
}

impl RateLimits {
    pub fn new(publish_per_second: u32, publish_burst: u32, metrics: Metrics) -> RateLimits {
        let per_second = NonZeroU32::new(publish_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(publish_burst).unwrap_or(NonZeroU32::MIN);
        RateLimits {
            publish: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            login: RateLimiter::keyed(Quota::per_minute(LOGINS_PER_MINUTE)),
            metrics,
        }
    }

    /// One publish request by the token at `token_index`.
    pub fn publish(&self, token_index: usize) -> Result<(), ApiError> {
        self.check(&self.publish, &token_index, "publish_rate").map_err(|wait| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "this token publishes faster than --publish-rate allows; batch updates with POST /api/batch, or slow down",
            )
            .retry_after(wait)
        })
    }

    /// One login attempt from `client`.
    pub fn login(&self, client: IpAddr) -> Result<(), ApiError> {
        self.check(&self.login, &client, "login_rate")
            .map_err(|wait| {
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many login attempts from this address; wait and try again",
                )
                .retry_after(wait)
            })
    }

    /// Forgets keys that are back to a full burst, so the maps do not grow
    /// with every address that ever tried to log in.
    pub fn forget_idle(&self) {
        self.publish.retain_recent();
        self.login.retain_recent();
        self.login.shrink_to_fit();
    }

    /// Ok, or how long until `key` may try again (counted as refused).
    fn check<K: Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
        reason: &str,
    ) -> Result<(), Duration> {
        limiter.check_key(key).map_err(|not_until| {
            self.metrics
                .requests_refused
                .with_label_values(&[reason])
                .inc();
            not_until.wait_time_from(DefaultClock::default().now())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rest_wait() {
        let limits = RateLimits::new(1, 3, Metrics::new());
        for _ in 0..3 {
            assert!(limits.publish(0).is_ok());
        }
        let refused = limits.publish(0).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        let wait = refused.retry_after.expect("says when to retry");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // Tokens are limited separately.
        assert!(limits.publish(1).is_ok());
    }

    #[test]
    fn logins_are_limited_per_address() {
        let limits = RateLimits::new(1, 1, Metrics::new());
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..LOGINS_PER_MINUTE.get() {
            assert!(limits.login(one).is_ok());
        }
        assert!(limits.login(one).is_err());
        assert!(limits.login(other).is_ok());
    }
}
