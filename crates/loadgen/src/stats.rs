//! What the subscribers saw: a latency histogram and delivery counts, and the
//! per-subscriber sequence check that classifies every update as in order,
//! after a gap (lost), late (out of order) or repeated (duplicate).

use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds, from 1 µs to 10 min, 3 digits.
const MAX_LATENCY_US: u64 = 600_000_000;

/// Counts and latencies of one measurement window; merged across threads.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Publish → receive latency of `update` events, in µs.
    pub latency: Histogram<u64>,
    /// `update` events received (including duplicates and late ones).
    pub deliveries: u64,
    /// Updates that never arrived (net of those that arrived late).
    pub lost: u64,
    pub duplicated: u64,
    /// Updates that arrived after a later one.
    pub out_of_order: u64,
    /// `reset` events (the server resynced a lagging subscriber).
    pub resets: u64,
    /// Updates skipped over by resets: covered by a snapshot, not lost.
    pub resynced_over: u64,
    pub heartbeats: u64,
    /// Updates whose id had another epoch than the stream's `init`.
    pub foreign_epoch: u64,
    /// Events whose id or data could not be parsed.
    pub malformed: u64,
    /// Streams the server ended (EOF or error) before we closed them.
    pub ended_by_server: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("static histogram bounds are valid"),
            deliveries: 0,
            lost: 0,
            duplicated: 0,
            out_of_order: 0,
            resets: 0,
            resynced_over: 0,
            heartbeats: 0,
            foreign_epoch: 0,
            malformed: 0,
            ended_by_server: 0,
        }
    }
}

impl Stats {
    pub fn record_latency_us(&mut self, micros: f64) {
        // A negative value (clock step) is recorded as the lowest bucket.
        let value = if micros.is_finite() && micros > 1.0 {
            micros as u64
        } else {
            1
        };
        self.latency.saturating_record(value);
    }

    /// Folds one update's sequence outcome into the counts.
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::InOrder => {}
            Outcome::Gap(missing) => self.lost += missing,
            Outcome::Late => {
                self.lost = self.lost.saturating_sub(1);
                self.out_of_order += 1;
            }
            Outcome::Duplicate => self.duplicated += 1,
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        self.latency
            .add(&other.latency)
            .expect("histograms share their bounds");
        self.deliveries += other.deliveries;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
        self.resets += other.resets;
        self.resynced_over += other.resynced_over;
        self.heartbeats += other.heartbeats;
        self.foreign_epoch += other.foreign_epoch;
        self.malformed += other.malformed;
        self.ended_by_server += other.ended_by_server;
    }

    /// A latency quantile in milliseconds (0 when nothing was recorded).
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        if self.latency.is_empty() {
            return 0.0;
        }
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn max_latency_ms(&self) -> f64 {
        if self.latency.is_empty() {
            return 0.0;
        }
        self.latency.max() as f64 / 1000.0
    }
}

/// How one update relates to those a subscriber saw before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    InOrder,
    /// It skipped this many sequence numbers (counted lost until they come).
    Gap(u64),
    /// It filled an earlier gap.
    Late,
    Duplicate,
}

/// Gaps remembered per subscriber so a late arrival is not counted as lost;
/// beyond this the oldest are forgotten (and stay counted as lost).
const MAX_REMEMBERED_GAPS: usize = 4096;

/// One subscriber's position in the sequence of its epoch.
#[derive(Debug, Default, Clone)]
pub struct SeqTracker {
    /// The highest sequence number seen (from `init`, `reset` or an update).
    last: Option<u64>,
    /// Sequence numbers skipped over by a gap and not seen since, ascending.
    missing: Vec<u64>,
}

impl SeqTracker {
    /// Sets the starting position from `init`: the id's sequence number, or 0
    /// when nothing was published yet (the first update is then 1).
    pub fn start(&mut self, seq: u64) {
        self.last = Some(seq);
        self.missing.clear();
    }

    #[cfg(test)]
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    pub fn on_update(&mut self, seq: u64) -> Outcome {
        let Some(last) = self.last else {
            self.last = Some(seq);
            return Outcome::InOrder;
        };
        if seq == last + 1 {
            self.last = Some(seq);
            Outcome::InOrder
        } else if seq > last {
            let gap = seq - last - 1;
            let remember = gap.min(MAX_REMEMBERED_GAPS as u64);
            self.missing.extend(seq - remember..seq);
            if self.missing.len() > MAX_REMEMBERED_GAPS {
                let excess = self.missing.len() - MAX_REMEMBERED_GAPS;
                self.missing.drain(..excess);
            }
            self.last = Some(seq);
            Outcome::Gap(gap)
        } else {
            match self.missing.binary_search(&seq) {
                Ok(at) => {
                    self.missing.remove(at);
                    Outcome::Late
                }
                Err(_) => Outcome::Duplicate,
            }
        }
    }

    /// A `reset` snapshot at position `seq`: the events up to it are folded into
    /// the snapshot, so skipping them is a resync, not a loss. Returns how many
    /// were skipped. Earlier gaps stay lost: they were missed silently.
    pub fn on_reset(&mut self, seq: u64) -> u64 {
        let skipped = match self.last {
            Some(last) if seq > last => seq - last,
            _ => 0,
        };
        self.missing.retain(|&missing| missing > seq);
        self.last = Some(seq);
        skipped
    }

    /// Updates this subscriber has not seen up to `final_seq` (the last one
    /// published), assuming no more arrive: the tail it missed.
    pub fn behind(&self, final_seq: u64) -> u64 {
        final_seq.saturating_sub(self.last.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(start: u64, seqs: &[u64]) -> (SeqTracker, Stats) {
        let mut tracker = SeqTracker::default();
        let mut stats = Stats::default();
        tracker.start(start);
        for &seq in seqs {
            stats.count(tracker.on_update(seq));
        }
        (tracker, stats)
    }

    #[test]
    fn in_order_sequence_counts_nothing() {
        let (tracker, stats) = run(0, &[1, 2, 3, 4]);
        assert_eq!(
            (stats.lost, stats.duplicated, stats.out_of_order),
            (0, 0, 0)
        );
        assert_eq!(tracker.last(), Some(4));
        assert_eq!(tracker.behind(4), 0);
        assert_eq!(tracker.behind(6), 2);
    }

    #[test]
    fn gaps_are_lost_unless_they_arrive_late() {
        let (_, stats) = run(10, &[11, 14, 15]);
        assert_eq!((stats.lost, stats.out_of_order), (2, 0));
        let (_, stats) = run(10, &[11, 14, 12, 15, 13]);
        assert_eq!(
            (stats.lost, stats.out_of_order, stats.duplicated),
            (0, 2, 0)
        );
    }

    #[test]
    fn repeats_are_duplicates() {
        let (_, stats) = run(0, &[1, 2, 2, 3, 1, 3]);
        assert_eq!(
            (stats.lost, stats.out_of_order, stats.duplicated),
            (0, 0, 3)
        );
        // A late event that arrives twice is late once, then a duplicate.
        let (_, stats) = run(0, &[1, 3, 2, 2]);
        assert_eq!(
            (stats.lost, stats.out_of_order, stats.duplicated),
            (0, 1, 1)
        );
    }

    #[test]
    fn a_reset_skips_without_loss() {
        let mut tracker = SeqTracker::default();
        let mut stats = Stats::default();
        tracker.start(5);
        stats.count(tracker.on_update(6));
        assert_eq!(tracker.on_reset(40), 34);
        stats.count(tracker.on_update(41));
        assert_eq!(stats.lost, 0);
        assert_eq!(tracker.behind(41), 0);
        // Events folded into the snapshot that straggle in are duplicates.
        assert_eq!(tracker.on_update(30), Outcome::Duplicate);
    }

    #[test]
    fn a_reset_keeps_earlier_silent_gaps_lost() {
        let mut tracker = SeqTracker::default();
        tracker.start(0);
        assert_eq!(tracker.on_update(3), Outcome::Gap(2));
        assert_eq!(tracker.on_reset(10), 7);
        // Seq 1 and 2 were forgotten by the reset; they are lost for good.
        assert_eq!(tracker.on_update(1), Outcome::Duplicate);
    }

    #[test]
    fn huge_gaps_are_bounded_in_memory() {
        let mut tracker = SeqTracker::default();
        tracker.start(0);
        assert_eq!(tracker.on_update(1_000_001), Outcome::Gap(1_000_000));
        assert_eq!(tracker.missing.len(), MAX_REMEMBERED_GAPS);
        assert_eq!(tracker.on_update(1_000_000), Outcome::Late);
        assert_eq!(tracker.on_update(5), Outcome::Duplicate);
    }

    #[test]
    fn stats_merge_and_quantiles() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for ms in 1..=100 {
            a.record_latency_us(f64::from(ms) * 1000.0);
        }
        b.record_latency_us(-5.0);
        b.record_latency_us(250_000.0);
        a.deliveries = 100;
        b.deliveries = 2;
        b.lost = 3;
        b.resets = 1;
        a.merge(&b);
        assert_eq!(a.deliveries, 102);
        assert_eq!((a.lost, a.resets), (3, 1));
        assert_eq!(a.latency.len(), 102);
        assert!(
            (a.latency_ms(0.5) - 50.0).abs() < 0.1,
            "{}",
            a.latency_ms(0.5)
        );
        assert!((a.max_latency_ms() - 250.0).abs() < 0.5);
        assert_eq!(Stats::default().latency_ms(0.99), 0.0);
    }
}
