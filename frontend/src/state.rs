//! The dashboard's state and the reducer that folds server events into it.
//!
//! Pure Rust: no web APIs, times are passed in, so every rule is unit-tested
//! natively. The `stream` module turns EventSource traffic into [`Action`]s; the
//! components only read [`DashboardState`].

use std::rc::Rc;

use protocol::{EventId, ServerEvent, View};
use yew::Reducible;

/// The state of the tab's event stream, as the badge in the header shows it.
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

impl ConnectionState {
    /// The value of the badge's `data-state` attribute (part of the DOM contract).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Live => "live",
            ConnectionState::Reconnecting => "reconnecting",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "Connecting",
            ConnectionState::Live => "Live",
            ConnectionState::Reconnecting => "Reconnecting",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DashboardState {
    /// The declared dashboards, which one this stream shows, and its widgets
    /// (in snapshot order), as the last `init`/`reset` said and updates since.
    pub view: View,
    pub connection: ConnectionState,
    /// The server epoch of the last `init`/`reset`; `None` until the first one.
    pub epoch: Option<String>,
    /// Id of the last state-changing event folded into `snapshot`.
    pub last_event_id: Option<EventId>,
    /// When the last event of any kind arrived, in ms of the browser's clock.
    pub last_event_at: Option<f64>,
    /// The interval the server promised heartbeats at (from `init`).
    pub heartbeat_ms: Option<u64>,
    /// Server clock minus browser clock, from the last heartbeat, so widget
    /// ages ("updated 3m ago") are not skewed by a wrong client clock.
    pub clock_offset_ms: f64,
    /// The reconnect under way while `connection` is `Reconnecting`.
    pub retry: Option<RetryInfo>,
    /// The browser says it has no network (`navigator.onLine` is false).
    pub offline: bool,
}

/// A scheduled reconnect, for the badge: which attempt, and when it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryInfo {
    /// 1, 2, 3, ... since the last healthy connection.
    pub attempt: u32,
    /// Browser time at which the new connection is opened.
    pub at_ms: f64,
}

/// Everything that can change the state.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A decoded server event. `id` is the SSE `id:` it came with (the browser's
    /// `lastEventId`), `at_ms` the browser time it arrived.
    Received {
        event: ServerEvent,
        id: Option<EventId>,
        at_ms: f64,
    },
    /// The EventSource opened: the server accepted the stream.
    Opened,
    /// The connection failed (an `error`, no heartbeat for too long) or the
    /// server went away, and a new one is scheduled.
    RetryScheduled(RetryInfo),
    /// The stream errored and is closed; whether (and when) a new one opens
    /// is decided once the server said whether the session still holds.
    Dropped,
    /// The browser's `online`/`offline` events (and `navigator.onLine` at start).
    Network { online: bool },
    /// The tab moved to another dashboard: the new stream starts from scratch
    /// (its `init` brings that dashboard's widgets), so the old widgets and
    /// the ids they were applied up to are dropped.
    Switched,
}

impl DashboardState {
    /// Whether an `init` (or `reset`) has ever been applied; until then the
    /// dashboard shows a placeholder.
    pub fn has_snapshot(&self) -> bool {
        self.epoch.is_some()
    }

    /// Applies one action. Returns whether anything changed, so the reducer can
    /// skip a re-render for no-ops.
    pub fn apply(&mut self, action: Action) -> bool {
        match action {
            Action::Opened => {
                // Without a snapshot there is nothing live to show yet: `init`
                // follows at once and turns the badge live.
                let was = self.connection;
                self.data_flows();
                self.connection != was
            }
            Action::RetryScheduled(retry) => {
                self.connection = ConnectionState::Reconnecting;
                self.retry = Some(retry);
                true
            }
            Action::Dropped => {
                // The last retry (if any) stays: its attempt is the one that
                // just failed, and the next one replaces it in a moment.
                let changed = self.connection != ConnectionState::Reconnecting;
                self.connection = ConnectionState::Reconnecting;
                changed
            }
            Action::Network { online } => {
                let changed = self.offline == online;
                self.offline = !online;
                changed
            }
            Action::Received { event, id, at_ms } => {
                self.last_event_at = Some(at_ms);
                self.receive(event, id, at_ms);
                true
            }
            Action::Switched => {
                // What belongs to the server, not to the stream, stays: the menu
                // (so it does not flicker), the network and the clock offset.
                let next = DashboardState {
                    view: View {
                        dashboards: self.view.dashboards.clone(),
                        ..View::default()
                    },
                    offline: self.offline,
                    clock_offset_ms: self.clock_offset_ms,
                    ..DashboardState::default()
                };
                // The first stream of the tab "switches" from nothing.
                let changed = *self != next;
                *self = next;
                changed
            }
        }
    }

    fn receive(&mut self, event: ServerEvent, id: Option<EventId>, at_ms: f64) {
        match event {
            ServerEvent::Init(init) => {
                self.heartbeat_ms = Some(init.heartbeat_ms);
                self.replace(init.epoch, init.last_event_id, init.view);
            }
            ServerEvent::Reset(reset) => {
                self.replace(reset.epoch, reset.last_event_id, reset.view);
            }
            ServerEvent::Update(update) => {
                if self.mark_applied(id) {
                    self.view.snapshot.apply_update(update);
                }
                self.data_flows();
            }
            ServerEvent::Remove(remove) => {
                if self.mark_applied(id) {
                    self.view.snapshot.remove(&remove.id);
                }
                self.data_flows();
            }
            ServerEvent::Heartbeat(heartbeat) => {
                self.clock_offset_ms = heartbeat.server_time as f64 - at_ms;
                self.data_flows();
            }
            ServerEvent::Shutdown(_) => {
                // The server closes the stream next; the stream module
                // reconnects (and says when with `RetryScheduled`).
                self.connection = ConnectionState::Reconnecting;
            }
        }
    }

    fn replace(&mut self, epoch: String, last_event_id: Option<EventId>, view: View) {
        self.view = view;
        self.epoch = Some(epoch);
        self.last_event_id = last_event_id;
        self.go_live();
    }

    /// An open stream or events flowing after a reconnect prove the stream
    /// works again, even if the server resumed by replaying (no `init`).
    fn data_flows(&mut self) {
        if self.has_snapshot() {
            self.go_live();
        }
    }

    fn go_live(&mut self) {
        self.connection = ConnectionState::Live;
        self.retry = None;
    }

    /// Records a state-changing event's id. Returns `false` for an event that is
    /// already folded into the snapshot (same epoch, sequence not newer): a
    /// replay after a reconnect must not append a series' points twice.
    fn mark_applied(&mut self, id: Option<EventId>) -> bool {
        let Some(id) = id else { return true };
        if let Some(last) = &self.last_event_id {
            if last.epoch == id.epoch && id.seq <= last.seq {
                return false;
            }
        }
        self.last_event_id = Some(id);
        true
    }
}

impl Reducible for DashboardState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        // The handle keeps its own reference, so this is always a copy.
        let mut next = (*self).clone();
        if next.apply(action) {
            Rc::new(next)
        } else {
            self
        }
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
    use protocol::{
        Gauge, Heartbeat, Init, Number, Point, Remove, Reset, Series, SeriesLine, Shutdown,
        Snapshot, Update, Widget, WidgetId, WidgetValue,
    };

    fn id(s: &str) -> WidgetId {
        WidgetId::parse(s).unwrap()
    }

    fn eid(epoch: &str, seq: u64) -> EventId {
        EventId {
            epoch: epoch.to_owned(),
            seq,
        }
    }

    fn number(v: f64) -> WidgetValue {
        WidgetValue::Number(Number {
            value: v,
            ..Number::default()
        })
    }

    fn widget(name: &str, value: WidgetValue, at: i64) -> Widget {
        Widget::new(Update {
            id: id(name),
            title: None,
            value,
            at,
            expect_every: None,
        })
    }

    fn view_of(widgets: Vec<Widget>) -> View {
        View {
            snapshot: Snapshot { widgets },
            ..View::default()
        }
    }

    fn series(points: &[(i64, f64)]) -> WidgetValue {
        WidgetValue::Series(Series {
            lines: vec![SeriesLine {
                name: "cpu".to_owned(),
                points: points.iter().map(|&(t, v)| Point(t, v)).collect(),
            }],
            window: 3,
            unit: Some("%".to_owned()),
        })
    }

    fn init(epoch: &str, last: Option<EventId>, widgets: Vec<Widget>) -> ServerEvent {
        ServerEvent::Init(Init {
            protocol_version: protocol::PROTOCOL_VERSION,
            epoch: epoch.to_owned(),
            last_event_id: last,
            heartbeat_ms: 15_000,
            build: None,
            view: view_of(widgets),
        })
    }

    fn update(widget: &str, value: WidgetValue, at: i64) -> ServerEvent {
        ServerEvent::Update(Update {
            id: id(widget),
            title: None,
            value,
            at,
            expect_every: None,
        })
    }

    fn received(event: ServerEvent, id: Option<EventId>) -> Action {
        Action::Received {
            event,
            id,
            at_ms: 1_000.0,
        }
    }

    fn live_with(widgets: Vec<Widget>) -> DashboardState {
        let mut state = DashboardState::default();
        state.apply(received(init("ep1", Some(eid("ep1", 10)), widgets), None));
        state
    }

    fn value_of(state: &DashboardState, widget: &str) -> WidgetValue {
        state.view.snapshot.get(widget).unwrap().value.clone()
    }

    /// A number widget's current figure (its value also carries `recent`).
    fn figure_of(state: &DashboardState, widget: &str) -> f64 {
        match value_of(state, widget) {
            WidgetValue::Number(number) => number.value,
            other => panic!("{widget} is not a number: {other:?}"),
        }
    }

    #[test]
    fn starts_connecting_without_a_snapshot() {
        let state = DashboardState::default();
        assert_eq!(state.connection, ConnectionState::Connecting);
        assert!(!state.has_snapshot());
        assert_eq!(state.connection.as_str(), "connecting");
    }

    #[test]
    fn init_replaces_the_snapshot_and_goes_live() {
        let w = widget("orders", number(1.0), 5);
        let state = live_with(vec![w.clone()]);
        assert_eq!(state.connection, ConnectionState::Live);
        assert_eq!(state.view.snapshot.widgets, vec![w]);
        assert_eq!(state.epoch.as_deref(), Some("ep1"));
        assert_eq!(state.last_event_id, Some(eid("ep1", 10)));
        assert_eq!(state.heartbeat_ms, Some(15_000));
        assert_eq!(state.last_event_at, Some(1_000.0));
    }

    #[test]
    fn update_merges_and_appends_new_widgets_in_order() {
        let mut state = live_with(vec![widget("a", number(1.0), 5)]);
        state.apply(received(update("b", number(7.0), 6), Some(eid("ep1", 11))));
        state.apply(received(update("a", number(2.0), 7), Some(eid("ep1", 12))));
        let ids: Vec<_> = state
            .view
            .snapshot
            .widgets
            .iter()
            .map(|w| w.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(figure_of(&state, "a"), 2.0);
        assert_eq!(state.view.snapshot.get("a").unwrap().updated_at, 7);
        assert_eq!(state.last_event_id, Some(eid("ep1", 12)));
    }

    #[test]
    fn series_updates_append_within_the_window() {
        let mut state = live_with(vec![widget("cpu", series(&[(1, 1.0), (2, 2.0)]), 2)]);
        state.apply(received(
            update("cpu", series(&[(3, 3.0), (4, 4.0)]), 4),
            Some(eid("ep1", 11)),
        ));
        assert_eq!(
            value_of(&state, "cpu"),
            series(&[(2, 2.0), (3, 3.0), (4, 4.0)])
        );
    }

    #[test]
    fn replayed_events_are_not_applied_twice() {
        let mut state = live_with(vec![widget("cpu", series(&[(1, 1.0)]), 1)]);
        // Already folded into init's snapshot (last id 10).
        state.apply(received(
            update("cpu", series(&[(1, 1.0)]), 1),
            Some(eid("ep1", 10)),
        ));
        assert_eq!(value_of(&state, "cpu"), series(&[(1, 1.0)]));
        state.apply(received(
            update("cpu", series(&[(2, 2.0)]), 2),
            Some(eid("ep1", 11)),
        ));
        state.apply(received(
            update("cpu", series(&[(2, 2.0)]), 2),
            Some(eid("ep1", 11)),
        ));
        assert_eq!(value_of(&state, "cpu"), series(&[(1, 1.0), (2, 2.0)]));
        // Another epoch's ids are not comparable: applied.
        state.apply(received(
            update("cpu", series(&[(3, 3.0)]), 3),
            Some(eid("ep2", 1)),
        ));
        assert_eq!(
            value_of(&state, "cpu"),
            series(&[(1, 1.0), (2, 2.0), (3, 3.0)])
        );
    }

    #[test]
    fn events_without_an_id_are_applied() {
        let mut state = live_with(vec![]);
        state.apply(received(update("a", number(1.0), 1), None));
        assert_eq!(figure_of(&state, "a"), 1.0);
        assert_eq!(state.last_event_id, Some(eid("ep1", 10)));
    }

    #[test]
    fn remove_deletes_the_widget() {
        let mut state = live_with(vec![
            widget("a", number(1.0), 1),
            widget("b", number(2.0), 1),
        ]);
        state.apply(received(
            ServerEvent::Remove(Remove { id: id("a") }),
            Some(eid("ep1", 11)),
        ));
        assert!(state.view.snapshot.get("a").is_none());
        assert_eq!(state.view.snapshot.widgets.len(), 1);
    }

    #[test]
    fn reset_replaces_everything_from_another_epoch() {
        let mut state = live_with(vec![widget("old", number(1.0), 1)]);
        let gauge = WidgetValue::Gauge(Gauge {
            value: 3.0,
            min: 0.0,
            max: 10.0,
            unit: None,
            thresholds: None,
        });
        state.apply(received(
            ServerEvent::Reset(Reset {
                epoch: "ep2".to_owned(),
                last_event_id: Some(eid("ep2", 4)),
                build: None,
                view: view_of(vec![widget("new", gauge, 9)]),
            }),
            None,
        ));
        assert!(state.view.snapshot.get("old").is_none());
        assert!(state.view.snapshot.get("new").is_some());
        assert_eq!(state.epoch.as_deref(), Some("ep2"));
        assert_eq!(state.last_event_id, Some(eid("ep2", 4)));
        // Reset keeps the heartbeat interval from init.
        assert_eq!(state.heartbeat_ms, Some(15_000));
    }

    fn retry(attempt: u32, at_ms: f64) -> Action {
        Action::RetryScheduled(RetryInfo { attempt, at_ms })
    }

    #[test]
    fn a_scheduled_retry_means_reconnecting() {
        // Even before the first init: the first connection failed.
        let mut state = DashboardState::default();
        assert!(state.apply(retry(1, 2_000.0)));
        assert_eq!(state.connection, ConnectionState::Reconnecting);
        assert_eq!(
            state.retry,
            Some(RetryInfo {
                attempt: 1,
                at_ms: 2_000.0
            })
        );
        // The server answers at last: init, live, no retry pending.
        state.apply(received(init("ep1", None, vec![]), None));
        assert_eq!(state.connection, ConnectionState::Live);
        assert_eq!(state.retry, None);

        // Each new schedule replaces the last one.
        state.apply(retry(1, 3_000.0));
        state.apply(retry(2, 5_000.0));
        assert_eq!(state.retry.map(|r| r.attempt), Some(2));
    }

    #[test]
    fn a_dropped_stream_is_reconnecting_before_its_retry_is_known() {
        let mut state = live_with(vec![]);
        assert!(state.apply(Action::Dropped));
        assert_eq!(state.connection, ConnectionState::Reconnecting);
        assert_eq!(state.retry, None);
        assert!(!state.apply(Action::Dropped));

        // A later drop keeps the attempt that just failed on the badge until
        // the next one is scheduled.
        state.apply(retry(2, 5_000.0));
        assert!(!state.apply(Action::Dropped));
        assert_eq!(state.retry.map(|r| r.attempt), Some(2));
        state.apply(retry(3, 9_000.0));
        assert_eq!(state.retry.map(|r| r.attempt), Some(3));
    }

    #[test]
    fn open_turns_live_only_with_a_snapshot() {
        // First connection: the badge waits for init, no re-render.
        let mut state = DashboardState::default();
        assert!(!state.apply(Action::Opened));
        assert_eq!(state.connection, ConnectionState::Connecting);

        // A reconnect that resumed: `open` is proof enough, before any event.
        state = live_with(vec![]);
        state.apply(retry(3, 9_000.0));
        assert!(state.apply(Action::Opened));
        assert_eq!(state.connection, ConnectionState::Live);
        assert_eq!(state.retry, None);
        assert!(!state.apply(Action::Opened));
    }

    #[test]
    fn a_resumed_stream_may_start_with_replayed_updates() {
        let mut state = live_with(vec![widget("cpu", series(&[(1, 1.0)]), 1)]);
        state.apply(retry(1, 2_000.0));
        // The server replays 11 and 12 with their original ids; no init.
        state.apply(received(
            update("cpu", series(&[(2, 2.0)]), 2),
            Some(eid("ep1", 11)),
        ));
        assert_eq!(state.connection, ConnectionState::Live);
        state.apply(received(
            update("cpu", series(&[(3, 3.0)]), 3),
            Some(eid("ep1", 12)),
        ));
        assert_eq!(
            value_of(&state, "cpu"),
            series(&[(1, 1.0), (2, 2.0), (3, 3.0)])
        );
        assert_eq!(state.last_event_id, Some(eid("ep1", 12)));
    }

    #[test]
    fn a_resumed_stream_may_start_with_a_heartbeat_or_a_reset() {
        // Nothing was missed: the first thing on the new stream is a heartbeat.
        let mut state = live_with(vec![]);
        state.apply(retry(1, 2_000.0));
        state.apply(received(
            ServerEvent::Heartbeat(Heartbeat { server_time: 5 }),
            None,
        ));
        assert_eq!(state.connection, ConnectionState::Live);

        // The server restarted (another epoch): a reset replaces everything.
        state.apply(retry(1, 4_000.0));
        state.apply(received(
            ServerEvent::Reset(Reset {
                epoch: "ep2".to_owned(),
                last_event_id: Some(eid("ep2", 3)),
                build: None,
                view: view_of(vec![widget("b", number(2.0), 1)]),
            }),
            Some(eid("ep2", 3)),
        ));
        assert_eq!(state.connection, ConnectionState::Live);
        assert_eq!(state.retry, None);
        assert_eq!(state.epoch.as_deref(), Some("ep2"));
        assert_eq!(state.last_event_id, Some(eid("ep2", 3)));
        // The new epoch's ids continue from the reset's.
        state.apply(received(update("b", number(3.0), 2), Some(eid("ep2", 3))));
        assert_eq!(figure_of(&state, "b"), 2.0);
        state.apply(received(update("b", number(3.0), 2), Some(eid("ep2", 4))));
        assert_eq!(figure_of(&state, "b"), 3.0);
    }

    #[test]
    fn network_state_is_tracked() {
        let mut state = live_with(vec![]);
        assert!(!state.offline);
        assert!(!state.apply(Action::Network { online: true }));
        assert!(state.apply(Action::Network { online: false }));
        assert!(state.offline);
        // The connection state is the stream's own business.
        assert_eq!(state.connection, ConnectionState::Live);
        assert!(state.apply(Action::Network { online: true }));
        assert!(!state.offline);
    }

    #[test]
    fn shutdown_means_reconnecting() {
        let mut state = live_with(vec![]);
        state.apply(received(
            ServerEvent::Shutdown(Shutdown {
                reconnect_after_ms: 500,
            }),
            None,
        ));
        assert_eq!(state.connection, ConnectionState::Reconnecting);
        // The values stay on screen until the next stream replaces them.
        assert!(state.has_snapshot());
    }

    #[test]
    fn heartbeat_records_time_and_clock_offset() {
        let mut state = live_with(vec![]);
        state.apply(Action::Received {
            event: ServerEvent::Heartbeat(Heartbeat {
                server_time: 10_500,
            }),
            id: None,
            at_ms: 10_000.0,
        });
        assert_eq!(state.last_event_at, Some(10_000.0));
        assert_eq!(state.clock_offset_ms, 500.0);
    }

    #[test]
    fn reducer_skips_rerender_for_no_ops() {
        let state = Rc::new(DashboardState::default());
        let next = state.clone().reduce(Action::Opened);
        assert!(Rc::ptr_eq(&state, &next));
        let next = state.clone().reduce(Action::Network { online: true });
        assert!(Rc::ptr_eq(&state, &next));
        let next = state
            .clone()
            .reduce(received(init("e", None, vec![]), None));
        assert!(!Rc::ptr_eq(&state, &next));
        assert_eq!(next.connection, ConnectionState::Live);
    }

    #[test]
    fn switching_dashboards_starts_over_but_keeps_the_menu() {
        let menu = vec![protocol::DashboardSpec {
            name: id("ops"),
            title: None,
            widgets: vec![],
            unsorted: true,
            kiosk: false,
        }];
        let mut state = DashboardState::default();
        state.apply(received(
            ServerEvent::Init(Init {
                protocol_version: protocol::PROTOCOL_VERSION,
                epoch: "ep1".to_owned(),
                last_event_id: Some(eid("ep1", 10)),
                heartbeat_ms: 1_000,
                build: None,
                view: View {
                    dashboards: menu.clone(),
                    dashboard: Some("ops".to_owned()),
                    playlists: vec![],
                    snapshot: Snapshot {
                        widgets: vec![widget("a", number(1.0), 1)],
                    },
                },
            }),
            None,
        ));
        state.apply(Action::Network { online: false });
        state.clock_offset_ms = 250.0;

        assert!(state.apply(Action::Switched));
        assert!(!state.has_snapshot());
        assert_eq!(state.connection, ConnectionState::Connecting);
        assert_eq!(state.last_event_id, None);
        assert_eq!(state.view.snapshot, Snapshot::default());
        assert_eq!(state.view.dashboard, None);
        assert_eq!(state.view.dashboards, menu);
        assert!(state.offline);
        assert_eq!(state.clock_offset_ms, 250.0);
        // The first stream of a tab switches from nothing: no re-render.
        assert!(!DashboardState::default().apply(Action::Switched));
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
