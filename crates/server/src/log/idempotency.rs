//! The `Idempotency-Key`s the local log has answered, so that a publisher's
//! retry (its instance died mid-request, or nginx answered 502) applies once.
//! A key is remembered as long as the events it produced are replayable: for
//! the history's size and age. The storage commits each key with those events
//! (`Batch::keys`) and gives it back at start, so a retry after a crash of the
//! server is answered too.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use protocol::EventId;

use super::{AnsweredKey, AppendError, Appended, Idempotency};
use crate::hub::{accepted_at, unix_ms};

/// The answer to a retry under a key first answered for `request`: its ids
/// if it is the same request, else a refusal. Both logs answer this way.
pub fn replay(
    request: &str,
    once: &Idempotency,
    ids: impl FnOnce() -> Vec<EventId>,
) -> Result<Appended, AppendError> {
    if request == once.request {
        Ok(Appended {
            ids: ids(),
            replayed: true,
        })
    } else {
        Err(AppendError::KeyReused)
    }
}

pub struct IdempotencyKeys {
    answered: HashMap<String, Answered>,
    /// Keys oldest first, with the last event their append produced.
    order: VecDeque<(String, u64, Instant)>,
    max_events: u64,
    max_age: Duration,
}

struct Answered {
    request: String,
    ids: Vec<EventId>,
}

impl IdempotencyKeys {
    pub fn new(max_events: usize, max_age: Duration) -> IdempotencyKeys {
        IdempotencyKeys {
            answered: HashMap::new(),
            order: VecDeque::new(),
            max_events: max_events as u64,
            max_age,
        }
    }

    /// The answer an earlier append under `once`'s key got, if any: its ids
    /// if it was the same request, else a refusal.
    pub fn earlier(&self, once: &Idempotency) -> Option<Result<Appended, AppendError>> {
        let answered = self.answered.get(&once.key)?;
        Some(replay(&answered.request, once, || answered.ids.clone()))
    }

    /// Remembers the ids `once`'s append got; `at` is when (restored keys
    /// keep their age).
    pub fn remember(&mut self, once: Idempotency, ids: Vec<EventId>, at: Instant) {
        let last_seq = ids.last().map_or(0, |id| id.seq);
        self.order.push_back((once.key.clone(), last_seq, at));
        self.answered.insert(
            once.key,
            Answered {
                request: once.request,
                ids,
            },
        );
    }

    /// Remembers the keys an earlier run committed (oldest first), each as
    /// old as it really is, then forgets those already out of the window
    /// that ends at event `last_seq`.
    pub fn restore(&mut self, keys: Vec<AnsweredKey>, last_seq: u64) {
        let (now, now_ms) = (Instant::now(), unix_ms());
        for key in keys {
            // As the hub ages its restored history: from the wall clock then.
            let ids = key.ids();
            self.remember(key.once, ids, accepted_at(key.at, now, now_ms));
        }
        self.prune(last_seq, now);
    }

    /// Forgets a key whose append was not committed after all.
    pub fn forget(&mut self, key: &str) {
        self.answered.remove(key);
        self.order.retain(|(k, _, _)| k != key);
    }

    /// Forgets keys whose events have left the history window.
    pub fn prune(&mut self, last_seq: u64, now: Instant) {
        while let Some((key, seq, at)) = self.order.front() {
            let too_old = now.saturating_duration_since(*at) > self.max_age
                || last_seq.saturating_sub(*seq) >= self.max_events;
            if !too_old {
                break;
            }
            self.answered.remove(key);
            self.order.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.answered.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answered.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn once(key: &str, request: &str) -> Idempotency {
        Idempotency {
            key: key.into(),
            request: request.into(),
        }
    }

    fn id(seq: u64) -> EventId {
        EventId {
            epoch: "e".into(),
            seq,
        }
    }

    #[test]
    fn a_retry_gets_the_first_answer_and_another_request_is_refused() {
        let mut keys = IdempotencyKeys::new(100, Duration::from_secs(60));
        let now = Instant::now();
        assert!(keys.earlier(&once("k", "r")).is_none());
        keys.remember(once("k", "r"), vec![id(1), id(2)], now);
        let retry = keys.earlier(&once("k", "r")).unwrap().unwrap();
        assert_eq!(retry.ids, vec![id(1), id(2)]);
        assert!(retry.replayed);
        assert!(matches!(
            keys.earlier(&once("k", "other")),
            Some(Err(AppendError::KeyReused))
        ));
    }

    #[test]
    fn restored_keys_keep_their_age_and_window() {
        let mut keys = IdempotencyKeys::new(10, Duration::from_secs(60));
        let stored = |key: &str, first_seq, count, age_ms| AnsweredKey {
            once: once(key, "r"),
            epoch: "e".into(),
            first_seq,
            count,
            at: unix_ms() - age_ms,
        };
        keys.restore(
            vec![
                stored("beyond-the-size", 1, 1, 0),
                stored("too-old", 5, 1, 120_000),
                stored("batch", 6, 3, 30_000),
            ],
            12,
        );
        assert!(keys.earlier(&once("beyond-the-size", "r")).is_none());
        assert!(keys.earlier(&once("too-old", "r")).is_none());
        let retry = keys.earlier(&once("batch", "r")).unwrap().unwrap();
        assert_eq!(retry.ids, vec![id(6), id(7), id(8)]);
        // 30 s old already: gone 30 s from now, not 60.
        keys.prune(12, Instant::now() + Duration::from_secs(31));
        assert!(keys.is_empty());
    }

    #[test]
    fn keys_go_with_the_history_window() {
        let mut keys = IdempotencyKeys::new(10, Duration::from_secs(60));
        let now = Instant::now();
        keys.remember(once("old", "r"), vec![id(1)], now);
        keys.remember(once("new", "r"), vec![id(5)], now);
        keys.prune(11, now);
        assert!(keys.earlier(&once("old", "r")).is_none());
        assert!(keys.earlier(&once("new", "r")).is_some());
        keys.prune(11, now + Duration::from_secs(61));
        assert!(keys.is_empty());
    }
}
