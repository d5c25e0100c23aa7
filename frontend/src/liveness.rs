//! Whether the stream is live, as the connection badge shows it.
//!
//! Pure Rust, tested natively. The stream supervisor (`stream`) is the one
//! owner: it turns what its EventSource does (opens, delivers, errors, the
//! server's `shutdown`, the browser's `online`/`offline`) into [`Signal`]s
//! and publishes the [`Liveness`] only when it changes, so the views that
//! show it re-render a few times per connection, not per event.

/// The state of the tab's event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectionState {
    /// The first connection is being made; nothing failed yet.
    #[default]
    Connecting,
    /// The stream delivers events.
    Live,
    /// The connection dropped (or the server said it is going away) and a new
    /// one is scheduled or being made; the dashboard shows the last known
    /// values meanwhile.
    Reconnecting,
}

/// A scheduled reconnect, for the badge: which attempt, and when it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryInfo {
    /// 1, 2, 3, ... since the last healthy connection.
    pub attempt: u32,
    /// Browser time at which the new connection is opened.
    pub at_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Liveness {
    pub connection: ConnectionState,
    /// The reconnect under way while `connection` is `Reconnecting`.
    pub retry: Option<RetryInfo>,
    /// The browser says it has no network (`navigator.onLine` is false).
    pub offline: bool,
}

/// What happened to the stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// The EventSource opened: the server accepted the stream.
    Opened { has_snapshot: bool },
    /// An event arrived (after a reconnect that resumed, proof enough).
    Delivered { has_snapshot: bool },
    /// The connection failed (an `error`, no heartbeat for too long) or the
    /// server went away, and a new one is scheduled.
    RetryScheduled(RetryInfo),
    /// The stream errored and is closed; whether (and when) a new one opens
    /// is decided once the server said whether the session still holds.
    Dropped,
    /// The server said it is going away (`shutdown`).
    ShuttingDown,
    /// The browser's `online`/`offline` events (and `navigator.onLine` at start).
    Network { online: bool },
    /// A stream of another filter starts from scratch.
    Switched,
}

impl Liveness {
    /// Applies one signal; returns whether anything changed.
    pub fn apply(&mut self, signal: Signal) -> bool {
        let before = *self;
        match signal {
            // Without a snapshot there is nothing live to show yet: `init`
            // follows at once and turns the badge live.
            Signal::Opened { has_snapshot } | Signal::Delivered { has_snapshot } => {
                if has_snapshot {
                    self.connection = ConnectionState::Live;
                    self.retry = None;
                }
            }
            Signal::RetryScheduled(retry) => {
                self.connection = ConnectionState::Reconnecting;
                self.retry = Some(retry);
            }
            // The last retry (if any) stays: its attempt is the one that just
            // failed, and the next one replaces it in a moment.
            Signal::Dropped | Signal::ShuttingDown => {
                self.connection = ConnectionState::Reconnecting;
            }
            Signal::Network { online } => self.offline = !online,
            Signal::Switched => {
                self.connection = ConnectionState::Connecting;
                self.retry = None;
            }
        }
        *self != before
    }
}

/// The heartbeat interval assumed until an `init` says otherwise (the server's
/// default), so a connection that never delivers anything is still judged.
pub const DEFAULT_HEARTBEAT_MS: u64 = 15_000;

/// Whether a connection is presumed dead: nothing (not even a heartbeat) for
/// two and a half heartbeat intervals since `last_seen_ms`.
pub fn heartbeat_overdue(last_seen_ms: f64, heartbeat_ms: Option<u64>, now_ms: f64) -> bool {
    let interval = match heartbeat_ms {
        Some(interval) if interval > 0 => interval,
        _ => DEFAULT_HEARTBEAT_MS,
    };
    now_ms - last_seen_ms > interval as f64 * 2.5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(attempt: u32, at_ms: f64) -> Signal {
        Signal::RetryScheduled(RetryInfo { attempt, at_ms })
    }

    const DATA: Signal = Signal::Delivered { has_snapshot: true };

    #[test]
    fn a_scheduled_retry_means_reconnecting() {
        // Even before the first init: the first connection failed.
        let mut state = Liveness::default();
        assert_eq!(state.connection, ConnectionState::Connecting);
        assert!(state.apply(retry(1, 2_000.0)));
        assert_eq!(state.connection, ConnectionState::Reconnecting);
        // The server answers at last: init, live, no retry pending.
        assert!(state.apply(DATA));
        assert_eq!(state.connection, ConnectionState::Live);
        assert_eq!(state.retry, None);
        // Each new schedule replaces the last one.
        state.apply(retry(1, 3_000.0));
        state.apply(retry(2, 5_000.0));
        assert_eq!(state.retry.map(|r| r.attempt), Some(2));
    }

    #[test]
    fn a_dropped_stream_is_reconnecting_before_its_retry_is_known() {
        let mut state = Liveness::default();
        state.apply(DATA);
        assert!(state.apply(Signal::Dropped));
        assert_eq!(state.connection, ConnectionState::Reconnecting);
        assert_eq!(state.retry, None);
        assert!(!state.apply(Signal::Dropped));
        // A later drop keeps the attempt that just failed on the badge until
        // the next one is scheduled.
        state.apply(retry(2, 5_000.0));
        assert!(!state.apply(Signal::Dropped));
        assert_eq!(state.retry.map(|r| r.attempt), Some(2));
    }

    #[test]
    fn open_turns_live_only_with_a_snapshot() {
        let mut state = Liveness::default();
        assert!(!state.apply(Signal::Opened {
            has_snapshot: false
        }));
        assert_eq!(state.connection, ConnectionState::Connecting);
        // A reconnect that resumed: `open` is proof enough, before any event.
        state.apply(retry(3, 9_000.0));
        assert!(state.apply(Signal::Opened { has_snapshot: true }));
        assert_eq!(state.connection, ConnectionState::Live);
        assert_eq!(state.retry, None);
        // Every later event changes nothing: no re-render per event.
        assert!(!state.apply(DATA));
    }

    #[test]
    fn shutdown_and_switch() {
        let mut state = Liveness::default();
        state.apply(DATA);
        assert!(state.apply(Signal::ShuttingDown));
        assert_eq!(state.connection, ConnectionState::Reconnecting);
        state.apply(retry(1, 1.0));
        assert!(state.apply(Signal::Switched));
        assert_eq!(state, Liveness::default());
    }

    #[test]
    fn network_state_is_tracked_apart_from_the_connection() {
        let mut state = Liveness::default();
        state.apply(DATA);
        assert!(!state.apply(Signal::Network { online: true }));
        assert!(state.apply(Signal::Network { online: false }));
        assert!(state.offline);
        assert_eq!(state.connection, ConnectionState::Live);
        assert!(state.apply(Signal::Network { online: true }));
    }

    #[test]
    fn overdue_after_two_and_a_half_heartbeats() {
        // Without an init, the server's default interval (15 s) is assumed.
        assert!(!heartbeat_overdue(0.0, None, 37_500.0));
        assert!(heartbeat_overdue(0.0, None, 37_501.0));
        assert!(heartbeat_overdue(0.0, Some(0), 37_501.0));
        assert!(!heartbeat_overdue(1_000.0, Some(1_000), 3_500.0));
        assert!(heartbeat_overdue(1_000.0, Some(1_000), 3_501.0));
    }
}
