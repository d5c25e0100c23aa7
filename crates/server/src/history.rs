//! The recent past: the last state-changing events, kept so a viewer that
//! reconnects can be sent exactly what it missed instead of a whole snapshot.
//!
//! Bounded twice: by count (memory) and by age (a viewer gone for an hour is
//! better served by a fresh snapshot than by replaying an hour of events).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hub::Frame;

pub struct History {
    entries: VecDeque<Entry>,
    max_len: usize,
    max_age: Duration,
}

struct Entry {
    seq: u64,
    at: Instant,
    event: Arc<Frame>,
}

/// Why the events after a position cannot be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreplayable {
    /// Some of them have already left the history.
    Expired,
    /// The position is past the last event: it was never handed out.
    InTheFuture,
}

impl History {
    pub fn new(max_len: usize, max_age: Duration) -> History {
        History {
            entries: VecDeque::with_capacity(max_len.min(1024)),
            max_len,
            max_age,
        }
    }

    /// Appends event `seq`, which must follow the last one, and forgets what
    /// no longer fits.
    pub fn push(&mut self, seq: u64, event: Arc<Frame>, now: Instant) {
        debug_assert!(self.entries.back().is_none_or(|last| last.seq + 1 == seq));
        if self.max_len == 0 {
            return;
        }
        if self.entries.len() == self.max_len {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry {
            seq,
            at: now,
            event,
        });
        self.prune(now);
    }

    /// Forgets events older than the maximum age.
    pub fn prune(&mut self, now: Instant) {
        while let Some(oldest) = self.entries.front() {
            if now.saturating_duration_since(oldest.at) <= self.max_age {
                break;
            }
            self.entries.pop_front();
        }
    }

    /// The events after `seq`, given that `last_seq` is the newest event ever
    /// published: all of them, in order, or why that is not possible.
    pub fn after(&self, seq: u64, last_seq: u64) -> Result<Vec<Arc<Frame>>, Unreplayable> {
        if seq > last_seq {
            return Err(Unreplayable::InTheFuture);
        }
        if seq == last_seq {
            return Ok(Vec::new());
        }
        // Entries are consecutive, so the first one wanted sits at a fixed offset.
        let oldest = self.entries.front().ok_or(Unreplayable::Expired)?.seq;
        if seq + 1 < oldest {
            return Err(Unreplayable::Expired);
        }
        let skip = (seq + 1 - oldest) as usize;
        Ok(self
            .entries
            .range(skip..)
            .map(|entry| entry.event.clone())
            .collect())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> Arc<Frame> {
        Arc::new(Frame {
            id: Some(format!("e-{seq}").into()),
            widget: None,
            name: "update",
            data: "{}".into(),
        })
    }

    fn ids(events: &[Arc<Frame>]) -> Vec<String> {
        events
            .iter()
            .map(|e| e.id.as_deref().unwrap_or_default().to_string())
            .collect()
    }

    fn filled(max_len: usize, count: u64, now: Instant) -> History {
        let mut history = History::new(max_len, Duration::from_secs(60));
        for seq in 1..=count {
            history.push(seq, event(seq), now);
        }
        history
    }

    #[test]
    fn replays_exactly_what_follows_a_position() {
        let history = filled(10, 5, Instant::now());
        assert_eq!(ids(&history.after(2, 5).unwrap()), ["e-3", "e-4", "e-5"]);
        assert_eq!(ids(&history.after(0, 5).unwrap()).len(), 5);
        assert!(history.after(5, 5).unwrap().is_empty());
    }

    #[test]
    fn is_bounded_by_count() {
        let history = filled(3, 10, Instant::now());
        assert_eq!(history.len(), 3);
        assert_eq!(ids(&history.after(7, 10).unwrap()), ["e-8", "e-9", "e-10"]);
        assert_eq!(history.after(6, 10).err(), Some(Unreplayable::Expired));
    }

    #[test]
    fn is_bounded_by_age() {
        let start = Instant::now();
        let mut history = History::new(100, Duration::from_secs(10));
        history.push(1, event(1), start);
        history.push(2, event(2), start + Duration::from_secs(5));
        history.prune(start + Duration::from_secs(12));
        assert_eq!(history.len(), 1);
        assert_eq!(history.after(0, 2).err(), Some(Unreplayable::Expired));
        assert_eq!(ids(&history.after(1, 2).unwrap()), ["e-2"]);
        history.prune(start + Duration::from_secs(16));
        assert!(history.is_empty());
        // Nothing is left, but a viewer already at the end misses nothing.
        assert!(history.after(2, 2).unwrap().is_empty());
        assert_eq!(history.after(1, 2).err(), Some(Unreplayable::Expired));
    }

    #[test]
    fn a_position_never_handed_out_is_refused() {
        let history = filled(10, 3, Instant::now());
        assert_eq!(history.after(4, 3).err(), Some(Unreplayable::InTheFuture));
    }

    #[test]
    fn can_be_turned_off() {
        let history = filled(0, 3, Instant::now());
        assert!(history.is_empty());
        assert_eq!(history.after(2, 3).err(), Some(Unreplayable::Expired));
        assert!(history.after(3, 3).unwrap().is_empty());
    }
}
