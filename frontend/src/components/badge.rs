use yew::prelude::*;

use super::clock::use_clock;
use crate::format;
use crate::liveness::{ConnectionState, Liveness};
use crate::stream::use_stream;

/// The countdown and the "last event" age move once a second.
const TICK_MS: u32 = 1_000;

/// The connection indicator in the header, and how long ago the server last
/// said anything.
///
/// DOM contract (the end-to-end test relies on it):
/// - `data-testid="connection-badge"` with `data-state` = `connecting` | `live`
///   | `reconnecting` | `offline`, and `data-attempt="<n>"` while reconnecting;
/// - `data-testid="last-event-age"`: "last event 12s ago", once there was one.
///
/// Only the state's name is in the live region: the countdown and the age
/// change every second and would otherwise be read out every second.
#[function_component]
pub fn ConnectionBadge() -> Html {
    let status = use_stream();
    // The tick only re-renders; the exact time is read now, so a countdown
    // that was just scheduled is not off by up to a tick.
    use_clock(TICK_MS);
    let view = BadgeView::of(
        &status.liveness,
        status.clock.last_event_at(),
        js_sys::Date::now(),
    );
    html! {
        <div class="connection">
            <span
                class={classes!("badge", format!("badge--{}", view.state))}
                data-testid="connection-badge"
                data-state={view.state}
                data-attempt={view.attempt.map(|attempt| attempt.to_string())}
            >
                <span class="badge-dot" aria-hidden="true"></span>
                <span class="badge-label" role="status" aria-live="polite">{ view.label }</span>
                if let Some(detail) = view.detail {
                    <span class="badge-detail" data-testid="retry-countdown">{ detail }</span>
                }
            </span>
            if let Some(age) = view.last_event {
                <span
                    class="last-event"
                    data-testid="last-event-age"
                    title="Time since the server last sent anything, heartbeats included"
                >
                    { age }
                </span>
            }
        </div>
    }
}

/// What the badge shows, from the state and the browser's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgeView {
    /// The `data-state` value (and the `badge--*` class).
    pub state: &'static str,
    pub label: &'static str,
    /// The reconnect attempt, while reconnecting.
    pub attempt: Option<u32>,
    /// "attempt 3 · in 4s", while reconnecting.
    pub detail: Option<String>,
    /// "last event 12s ago".
    pub last_event: Option<String>,
}

impl BadgeView {
    pub fn of(state: &Liveness, last_event_at: Option<f64>, now_ms: f64) -> BadgeView {
        let last_event = last_event_at
            .map(|at_ms| format!("last event {}", format::ago((now_ms - at_ms) / 1000.0)));
        let (state_name, label) = match state.connection {
            // Events arriving beat what the browser thinks of its network.
            ConnectionState::Live => ("live", "Live"),
            _ if state.offline => ("offline", "Offline"),
            ConnectionState::Connecting => ("connecting", "Connecting"),
            ConnectionState::Reconnecting => ("reconnecting", "Reconnecting"),
        };
        let retry = state.retry.filter(|_| state_name == "reconnecting");
        BadgeView {
            state: state_name,
            label,
            attempt: retry.map(|retry| retry.attempt),
            detail: retry.map(|retry| {
                let when = countdown(retry.at_ms - now_ms);
                format!("attempt {} · {when}", retry.attempt)
            }),
            last_event,
        }
    }
}

impl BadgeView {
    /// What is wrong while the stream is down ("Reconnecting", "Offline"),
    /// for the tab's title; `None` while live or first connecting.
    pub fn trouble(&self) -> Option<&'static str> {
        matches!(self.state, "reconnecting" | "offline").then_some(self.label)
    }
}

/// "in 4s" until the retry, rounded up so it never says "in 0s" early;
/// "connecting…" once it is under way.
fn countdown(remaining_ms: f64) -> String {
    if remaining_ms > 0.0 {
        format!("in {}s", (remaining_ms / 1000.0).ceil())
    } else {
        "connecting…".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liveness::RetryInfo;

    fn with(connection: ConnectionState, offline: bool, retry: Option<RetryInfo>) -> Liveness {
        Liveness {
            connection,
            offline,
            retry,
        }
    }

    #[test]
    fn live_and_connecting() {
        let view = BadgeView::of(&with(ConnectionState::Connecting, false, None), None, 0.0);
        assert_eq!(view.state, "connecting");
        assert_eq!(view.attempt, None);
        assert_eq!(view.last_event, None);

        let state = with(ConnectionState::Live, false, None);
        let view = BadgeView::of(&state, Some(10_000.0), 22_500.0);
        assert_eq!((view.state, view.label), ("live", "Live"));
        assert_eq!(view.detail, None);
        assert_eq!(view.last_event.as_deref(), Some("last event 12s ago"));
        assert_eq!(view.trouble(), None);
        let connecting = BadgeView::of(&with(ConnectionState::Connecting, false, None), None, 0.0);
        assert_eq!(connecting.trouble(), None);
    }

    #[test]
    fn reconnecting_counts_down_to_the_attempt() {
        let retry = RetryInfo {
            attempt: 3,
            at_ms: 10_000.0,
        };
        let state = with(ConnectionState::Reconnecting, false, Some(retry));
        let view = BadgeView::of(&state, None, 6_100.0);
        assert_eq!(view.state, "reconnecting");
        assert_eq!(view.attempt, Some(3));
        assert_eq!(view.detail.as_deref(), Some("attempt 3 · in 4s"));
        let view = BadgeView::of(&state, None, 9_999.0);
        assert_eq!(view.detail.as_deref(), Some("attempt 3 · in 1s"));
        let view = BadgeView::of(&state, None, 10_000.0);
        assert_eq!(view.detail.as_deref(), Some("attempt 3 · connecting…"));
        assert_eq!(view.trouble(), Some("Reconnecting"));
    }

    #[test]
    fn offline_unless_events_still_arrive() {
        let retry = Some(RetryInfo {
            attempt: 2,
            at_ms: 0.0,
        });
        let view = BadgeView::of(&with(ConnectionState::Reconnecting, true, retry), None, 0.0);
        assert_eq!((view.state, view.label), ("offline", "Offline"));
        assert_eq!(view.trouble(), Some("Offline"));
        assert_eq!(view.attempt, None);
        assert_eq!(view.detail, None);
        let view = BadgeView::of(&with(ConnectionState::Connecting, true, None), None, 0.0);
        assert_eq!(view.state, "offline");
        let view = BadgeView::of(&with(ConnectionState::Live, true, None), None, 0.0);
        assert_eq!(view.state, "live");
    }
}
