//! Whether a widget's value is still current, and the age shown on its card.
//! Pure (the server-adjusted clock is passed in), so tested natively.

use crate::format;

/// Without a promised interval, a value this old gets its age shown (quietly,
/// it is not called stale: nobody said how often it should change).
const SHOW_AGE_AFTER_S: f64 = 5.0;

/// Slack before a late value counts as stale. The age is measured on the
/// server's clock as estimated from heartbeats (off by the network delay) and
/// the cards re-render once a second, so a widget updated exactly every
/// `expect_every` seconds would otherwise flicker stale between updates.
pub const STALE_GRACE_MS: f64 = 1_000.0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// Older than its `expect_every` (plus the grace): tagged "Stale", `data-stale`.
    pub stale: bool,
    /// "updated 5m ago" for a stale value, "5m ago" for an old one.
    pub age: Option<String>,
}

/// How fresh a value from `updated_at_ms` is at `server_now_ms`, given the
/// interval (s) its publisher promised, if any.
pub fn freshness(updated_at_ms: i64, expect_every_s: Option<u32>, server_now_ms: f64) -> Freshness {
    let age_ms = server_now_ms - updated_at_ms as f64;
    let age_s = age_ms / 1000.0;
    match expect_every_s {
        Some(expected) => {
            let stale = age_ms > f64::from(expected) * 1000.0 + STALE_GRACE_MS;
            Freshness {
                stale,
                // To the second: a value stale after 2 s must not read "just now".
                age: stale.then(|| format!("updated {}", format::ago(age_s))),
            }
        }
        None => Freshness {
            stale: false,
            age: (age_s >= SHOW_AGE_AFTER_S).then(|| format::age(age_s)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promised_interval_makes_late_values_stale() {
        let at = 100_000;
        let fresh = freshness(at, Some(60), 100_000.0 + 61_000.0);
        assert_eq!(
            fresh,
            Freshness {
                stale: false,
                age: None
            }
        );
        let late = freshness(at, Some(60), 100_000.0 + 61_001.0);
        assert!(late.stale);
        assert_eq!(late.age.as_deref(), Some("updated 1m ago"));
        let very_late = freshness(at, Some(60), 100_000.0 + 300_000.0);
        assert_eq!(very_late.age.as_deref(), Some("updated 5m ago"));
        // Even every second: stale after one missed update.
        assert!(!freshness(at, Some(1), 102_000.0).stale);
        let missed_one = freshness(at, Some(1), 102_500.0);
        assert!(missed_one.stale);
        assert_eq!(missed_one.age.as_deref(), Some("updated 2s ago"));
    }

    #[test]
    fn without_an_interval_only_the_age_shows() {
        let at = 100_000;
        assert_eq!(freshness(at, None, 104_000.0).age, None);
        let old = freshness(at, None, 100_000.0 + 3_600_000.0);
        assert!(!old.stale);
        assert_eq!(old.age.as_deref(), Some("1h ago"));
    }

    #[test]
    fn a_clock_behind_the_value_is_not_stale() {
        let f = freshness(100_000, Some(1), 90_000.0);
        assert!(!f.stale);
        assert_eq!(f.age, None);
    }
}
