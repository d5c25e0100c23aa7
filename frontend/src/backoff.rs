//! When to reconnect: exponential backoff with full jitter.
//!
//! Attempt `n` (counting from 0) waits a random time in
//! `[0, min(CAP, BASE * 2^n)]`. The jitter is "full" (the whole interval, not
//! a few percent around it) so that a thousand wall screens that lost the same
//! server at the same instant do not all come back at the same instant, and the
//! exponent keeps a long outage from turning into a retry storm. A connection
//! that stayed live for [`HEALTHY_AFTER_MS`] wipes the slate: its next failure
//! starts again at attempt 0.
//!
//! Pure: the clock and the random number are passed in, so the rules are
//! unit-tested natively.

/// The ceiling of the first attempt.
pub const BASE_MS: u64 = 500;
/// No attempt waits longer than this.
pub const CAP_MS: u64 = 30_000;
/// How long a connection must stay live before its failure counts as a first one.
pub const HEALTHY_AFTER_MS: f64 = 30_000.0;
/// After a `shutdown`, at most this much jitter is added to the server's hint,
/// so the viewers of a restarting server spread out over a second.
pub const SHUTDOWN_JITTER_MS: u64 = 1_000;
/// A `shutdown` hint is the server's word, but not one that may park a wall
/// screen for an hour: longer hints are cut to this.
pub const MAX_SHUTDOWN_HINT_MS: u64 = CAP_MS;

/// A reconnect that has been decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// 1 for the first reconnect after a healthy connection, then 2, 3, ...
    pub attempt: u32,
    /// How long to wait before opening the next connection.
    pub delay_ms: u64,
}

/// The reconnect schedule of one tab.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Backoff {
    /// Reconnects scheduled since the last healthy connection.
    attempts: u32,
    /// Browser time at which the current connection first proved live.
    live_since_ms: Option<f64>,
}

impl Backoff {
    /// The current connection delivers (an `open` or any event). Only the
    /// first call per connection counts: it starts the health clock.
    pub fn live(&mut self, now_ms: f64) {
        self.live_since_ms.get_or_insert(now_ms);
    }

    /// The connection failed (closed, errored, or went silent): when to try again.
    /// `random` is uniform in `[0, 1)` (`Math.random()`).
    pub fn after_failure(&mut self, now_ms: f64, random: f64) -> Retry {
        let delay_ms = full_jitter(ceiling_ms(self.start_attempt(now_ms)), random);
        self.scheduled(delay_ms)
    }

    /// The server said it is going away and suggested `hint_ms`: wait that long
    /// plus up to [`SHUTDOWN_JITTER_MS`]. Counts as an attempt, so if the server
    /// is not back by then, the next failure waits longer.
    pub fn after_shutdown(&mut self, now_ms: f64, hint_ms: u64, random: f64) -> Retry {
        self.start_attempt(now_ms);
        let delay_ms = hint_ms.min(MAX_SHUTDOWN_HINT_MS) + full_jitter(SHUTDOWN_JITTER_MS, random);
        self.scheduled(delay_ms)
    }

    /// The network just came back: past failures say nothing about the server,
    /// so forget them and try at once (attempt 1, no delay).
    pub fn restart_now(&mut self) -> Retry {
        *self = Backoff::default();
        self.scheduled(0)
    }

    /// The exponent of the attempt about to be scheduled: 0 after a connection
    /// that was healthy long enough, else one more than last time.
    fn start_attempt(&mut self, now_ms: f64) -> u32 {
        if let Some(since) = self.live_since_ms.take() {
            if now_ms - since >= HEALTHY_AFTER_MS {
                self.attempts = 0;
            }
        }
        self.attempts
    }

    fn scheduled(&mut self, delay_ms: u64) -> Retry {
        self.attempts = self.attempts.saturating_add(1);
        Retry {
            attempt: self.attempts,
            delay_ms,
        }
    }
}

/// `min(CAP, BASE * 2^exponent)`, without overflow for any exponent.
pub fn ceiling_ms(exponent: u32) -> u64 {
    let factor = 1u64.checked_shl(exponent).unwrap_or(u64::MAX);
    BASE_MS.saturating_mul(factor).min(CAP_MS)
}

/// A delay uniformly in `[0, ceiling]`, from `random` in `[0, 1)`. Anything
/// else (NaN, out of range) is clamped rather than trusted.
pub fn full_jitter(ceiling_ms: u64, random: f64) -> u64 {
    let random = if random.is_finite() {
        random.clamp(0.0, 1.0)
    } else {
        0.0
    };
    (ceiling_ms as f64 * random).floor() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ceiling reached with `random` just under 1.
    const TOP: f64 = 0.999_999_999;

    #[test]
    fn ceiling_doubles_from_half_a_second_up_to_the_cap() {
        let ceilings: Vec<u64> = (0..9).map(ceiling_ms).collect();
        assert_eq!(
            ceilings,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
        // No overflow, however long the outage.
        assert_eq!(ceiling_ms(63), CAP_MS);
        assert_eq!(ceiling_ms(64), CAP_MS);
        assert_eq!(ceiling_ms(u32::MAX), CAP_MS);
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        assert_eq!(full_jitter(8_000, 0.0), 0);
        assert_eq!(full_jitter(8_000, 0.5), 4_000);
        assert_eq!(full_jitter(8_000, TOP), 7_999);
        // Untrusted randomness stays within bounds.
        assert_eq!(full_jitter(8_000, 1.5), 8_000);
        assert_eq!(full_jitter(8_000, -1.0), 0);
        assert_eq!(full_jitter(8_000, f64::NAN), 0);
        assert_eq!(full_jitter(8_000, f64::INFINITY), 0);
    }

    #[test]
    fn failures_grow_the_delay_and_number_the_attempts() {
        let mut backoff = Backoff::default();
        let retries: Vec<Retry> = (0..8)
            .map(|i| backoff.after_failure(i as f64 * 1_000.0, TOP))
            .collect();
        let attempts: Vec<u32> = retries.iter().map(|r| r.attempt).collect();
        let delays: Vec<u64> = retries.iter().map(|r| r.delay_ms).collect();
        assert_eq!(attempts, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            delays,
            [499, 999, 1_999, 3_999, 7_999, 15_999, 29_999, 29_999]
        );
        // The random number picks within the ceiling.
        assert_eq!(backoff.after_failure(9_000.0, 0.25).delay_ms, 7_500);
    }

    #[test]
    fn a_connection_live_for_30_s_resets_the_attempts() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.after_failure(0.0, TOP);
        }
        // Live, but only for 29.9 s: the failure is still the sixth in a row.
        backoff.live(100_000.0);
        let retry = backoff.after_failure(129_900.0, TOP);
        assert_eq!(retry.attempt, 6);
        assert_eq!(retry.delay_ms, 15_999);

        // Live for 30 s: back to the first attempt and half a second.
        backoff.live(200_000.0);
        // Later signs of life do not move the start of the health clock.
        backoff.live(220_000.0);
        let retry = backoff.after_failure(230_000.0, TOP);
        assert_eq!(
            retry,
            Retry {
                attempt: 1,
                delay_ms: 499
            }
        );

        // The health clock belongs to one connection: a failure without a new
        // `live` does not reuse the old one.
        assert_eq!(backoff.after_failure(500_000.0, TOP).attempt, 2);
    }

    #[test]
    fn shutdown_waits_for_the_hint_plus_a_second_of_jitter() {
        let mut backoff = Backoff::default();
        backoff.live(0.0);
        let retry = backoff.after_shutdown(60_000.0, 250, 0.5);
        assert_eq!(
            retry,
            Retry {
                attempt: 1,
                delay_ms: 750
            }
        );
        assert_eq!(backoff.after_shutdown(60_000.0, 250, 0.0).delay_ms, 250);
        // It counts as an attempt: a server not back yet is then waited for longer.
        assert_eq!(
            backoff.after_failure(61_000.0, TOP),
            Retry {
                attempt: 3,
                delay_ms: 1_999
            }
        );
        // An absurd hint is capped.
        assert_eq!(
            backoff.after_shutdown(0.0, u64::MAX, TOP).delay_ms,
            MAX_SHUTDOWN_HINT_MS + 999
        );
    }

    #[test]
    fn restart_now_starts_over() {
        let mut backoff = Backoff::default();
        for _ in 0..6 {
            backoff.after_failure(0.0, TOP);
        }
        assert_eq!(
            backoff.restart_now(),
            Retry {
                attempt: 1,
                delay_ms: 0
            }
        );
        // If that fails too, the schedule goes on from there, not from 6.
        assert_eq!(
            backoff.after_failure(0.0, TOP),
            Retry {
                attempt: 2,
                delay_ms: 999
            }
        );
    }
}
