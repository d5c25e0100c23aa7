//! The view: what the stream has delivered, and the reducer that folds its
//! events in.
//!
//! Pure Rust: no web APIs, so every rule is unit-tested natively. The stream
//! supervisor (`stream`) owns the one [`ViewState`] being built and folds
//! every `init`, `reset`, `update` and `remove` into it as it arrives; once
//! per animation frame it hands the result to the views, which only read it.
//! Whether the connection is live is not the view's business: see
//! [`crate::liveness`].

use std::rc::Rc;

use protocol::{DashboardSpec, EventId, PlaylistSpec, ServerEvent, View, WidgetId, WidgetSpec};

use crate::widgets::Widgets;

/// The declared dashboards and playlists, as the last `init`/`reset` said:
/// built once per snapshot and shared by every state until the next one.
#[derive(Debug, Default)]
#[cfg_attr(test, derive(PartialEq))]
pub struct Menu {
    /// In menu order; the first is the default dashboard.
    pub dashboards: Vec<DashboardSpec>,
    /// Each dashboard's declared widgets, shared with the cards that show them.
    pub declared: Vec<Vec<Rc<WidgetSpec>>>,
    /// Every widget some dashboard declares, sorted (see [`Menu::declares`]).
    declared_ids: Vec<WidgetId>,
    pub playlists: Vec<PlaylistSpec>,
}

impl Menu {
    fn new(dashboards: Vec<DashboardSpec>, playlists: Vec<PlaylistSpec>) -> Menu {
        let declared = dashboards
            .iter()
            .map(|d| d.widgets.iter().cloned().map(Rc::new).collect())
            .collect();
        // Sorted by insertion, as in `Widgets`: no sort's code in the bundle.
        let mut declared_ids: Vec<WidgetId> = Vec::new();
        for id in dashboards
            .iter()
            .flat_map(|d| d.widgets.iter().map(|w| &w.id))
        {
            if let Err(at) = declared_ids.binary_search(id) {
                declared_ids.insert(at, id.clone());
            }
        }
        Menu {
            dashboards,
            declared,
            declared_ids,
            playlists,
        }
    }

    /// Whether some dashboard declares widget `id`.
    pub fn declares(&self, id: &WidgetId) -> bool {
        self.declared_ids.binary_search(id).is_ok()
    }

    /// The index of dashboard `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.dashboards.iter().position(|d| d.name.as_str() == name)
    }
}

#[derive(Debug, Clone, Default)]
#[cfg_attr(test, derive(PartialEq))]
pub struct ViewState {
    pub menu: Rc<Menu>,
    /// The dashboard the server narrowed the stream to (`?dashboard=`), if any.
    pub dashboard: Option<String>,
    /// The widgets the stream carries, in snapshot order.
    pub widgets: Widgets,
    /// The server epoch of the last `init`/`reset`; `None` until the first one.
    pub epoch: Option<String>,
    /// Id of the last state-changing event folded in: where a new stream resumes.
    pub last_event_id: Option<EventId>,
    /// The SPA build the server serves, from the last `init`/`reset`.
    pub build: Option<String>,
}

impl ViewState {
    /// Whether an `init` (or `reset`) has ever been applied; until then the
    /// dashboard shows a placeholder.
    pub fn has_snapshot(&self) -> bool {
        self.epoch.is_some()
    }

    /// The state a stream of another filter starts from: nothing of the old
    /// stream but the menu, so it does not flicker.
    pub fn switched(&self) -> ViewState {
        ViewState {
            menu: self.menu.clone(),
            ..ViewState::default()
        }
    }

    /// Folds one event in. Returns whether the view changed (heartbeats and
    /// shutdowns never change it; they are the supervisor's).
    pub fn apply(&mut self, event: ServerEvent, id: Option<EventId>) -> bool {
        match event {
            ServerEvent::Init(init) => {
                self.replace(init.epoch, init.last_event_id, init.build, init.view);
                true
            }
            ServerEvent::Reset(reset) => {
                self.replace(reset.epoch, reset.last_event_id, reset.build, reset.view);
                true
            }
            ServerEvent::Update(update) => {
                let new = self.mark_applied(id);
                if new {
                    self.widgets.apply(update);
                }
                new
            }
            // Its id is its last update's: the server never splits what a
            // viewer already has from what it has not (a resume replays
            // after the last id the viewer has), so it is new as a whole.
            ServerEvent::Updates(updates) => {
                let new = self.mark_applied(id);
                if new {
                    updates
                        .into_iter()
                        .for_each(|update| self.widgets.apply(update));
                }
                new
            }
            ServerEvent::Remove(remove) => self.mark_applied(id) && self.widgets.remove(&remove.id),
            ServerEvent::Heartbeat(_) | ServerEvent::Shutdown(_) => false,
        }
    }

    fn replace(
        &mut self,
        epoch: String,
        last_event_id: Option<EventId>,
        build: Option<String>,
        view: View,
    ) {
        self.menu = Rc::new(Menu::new(view.dashboards, view.playlists));
        self.dashboard = view.dashboard;
        self.widgets = Widgets::new(view.snapshot.widgets);
        self.epoch = Some(epoch);
        self.last_event_id = last_event_id;
        self.build = build;
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

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{
        Gauge, Heartbeat, Init, Number, Point, Remove, Reset, Series, SeriesLine, Snapshot, Update,
        Widget, WidgetValue,
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
            build: Some("0123abcd".to_owned()),
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

    fn with(widgets: Vec<Widget>) -> ViewState {
        let mut state = ViewState::default();
        assert!(state.apply(init("ep1", Some(eid("ep1", 10)), widgets), None));
        state
    }

    fn value_of(state: &ViewState, widget: &str) -> WidgetValue {
        state.widgets.get(widget).unwrap().value.clone()
    }

    /// A number widget's current figure (its value also carries `recent`).
    fn figure_of(state: &ViewState, widget: &str) -> f64 {
        match value_of(state, widget) {
            WidgetValue::Number(number) => number.value,
            other => panic!("{widget} is not a number: {other:?}"),
        }
    }

    fn ids(state: &ViewState) -> Vec<&str> {
        state.widgets.iter().map(|w| w.id.as_str()).collect()
    }

    #[test]
    fn init_replaces_the_snapshot() {
        assert!(!ViewState::default().has_snapshot());
        let w = widget("orders", number(1.0), 5);
        let state = with(vec![w.clone()]);
        assert!(state.has_snapshot());
        assert_eq!(**state.widgets.get("orders").unwrap(), w);
        assert_eq!(state.epoch.as_deref(), Some("ep1"));
        assert_eq!(state.last_event_id, Some(eid("ep1", 10)));
        assert_eq!(state.build.as_deref(), Some("0123abcd"));
    }

    #[test]
    fn update_merges_and_appends_new_widgets_in_order() {
        let mut state = with(vec![widget("a", number(1.0), 5)]);
        assert!(state.apply(update("b", number(7.0), 6), Some(eid("ep1", 11))));
        assert!(state.apply(update("a", number(2.0), 7), Some(eid("ep1", 12))));
        assert_eq!(ids(&state), ["a", "b"]);
        assert_eq!(figure_of(&state, "a"), 2.0);
        assert_eq!(state.widgets.get("a").unwrap().updated_at, 7);
        assert_eq!(state.last_event_id, Some(eid("ep1", 12)));
    }

    #[test]
    fn series_updates_append_within_the_window() {
        let mut state = with(vec![widget("cpu", series(&[(1, 1.0), (2, 2.0)]), 2)]);
        state.apply(
            update("cpu", series(&[(3, 3.0), (4, 4.0)]), 4),
            Some(eid("ep1", 11)),
        );
        assert_eq!(
            value_of(&state, "cpu"),
            series(&[(2, 2.0), (3, 3.0), (4, 4.0)])
        );
    }

    #[test]
    fn replayed_events_are_not_applied_twice() {
        let mut state = with(vec![widget("cpu", series(&[(1, 1.0)]), 1)]);
        // Already folded into init's snapshot (last id 10).
        assert!(!state.apply(update("cpu", series(&[(1, 1.0)]), 1), Some(eid("ep1", 10))));
        assert_eq!(value_of(&state, "cpu"), series(&[(1, 1.0)]));
        state.apply(update("cpu", series(&[(2, 2.0)]), 2), Some(eid("ep1", 11)));
        assert!(!state.apply(update("cpu", series(&[(2, 2.0)]), 2), Some(eid("ep1", 11))));
        assert_eq!(value_of(&state, "cpu"), series(&[(1, 1.0), (2, 2.0)]));
        // Another epoch's ids are not comparable: applied.
        state.apply(update("cpu", series(&[(3, 3.0)]), 3), Some(eid("ep2", 1)));
        assert_eq!(
            value_of(&state, "cpu"),
            series(&[(1, 1.0), (2, 2.0), (3, 3.0)])
        );
    }

    #[test]
    fn grouped_updates_apply_in_order_once() {
        let mut state = with(vec![widget("cpu", series(&[(1, 1.0)]), 1)]);
        let group = ServerEvent::Updates(vec![
            Update {
                id: id("cpu"),
                title: None,
                value: series(&[(2, 2.0)]),
                at: 2,
                expect_every: None,
            },
            Update {
                id: id("b"),
                title: None,
                value: number(7.0),
                at: 2,
                expect_every: None,
            },
            Update {
                id: id("cpu"),
                title: None,
                value: series(&[(3, 3.0)]),
                at: 3,
                expect_every: None,
            },
        ]);
        assert!(state.apply(group.clone(), Some(eid("ep1", 13))));
        assert_eq!(ids(&state), ["cpu", "b"]);
        assert_eq!(figure_of(&state, "b"), 7.0);
        let expected = series(&[(1, 1.0), (2, 2.0), (3, 3.0)]);
        assert_eq!(value_of(&state, "cpu"), expected);
        assert_eq!(state.last_event_id, Some(eid("ep1", 13)));
        // Replayed (its id is not newer): not applied again.
        assert!(!state.apply(group, Some(eid("ep1", 13))));
        assert_eq!(value_of(&state, "cpu"), expected);
    }

    #[test]
    fn events_without_an_id_are_applied() {
        let mut state = with(vec![]);
        state.apply(update("a", number(1.0), 1), None);
        assert_eq!(figure_of(&state, "a"), 1.0);
        assert_eq!(state.last_event_id, Some(eid("ep1", 10)));
    }

    #[test]
    fn remove_deletes_the_widget() {
        let mut state = with(vec![
            widget("a", number(1.0), 1),
            widget("b", number(2.0), 1),
        ]);
        assert!(state.apply(
            ServerEvent::Remove(Remove { id: id("a") }),
            Some(eid("ep1", 11)),
        ));
        assert!(state.widgets.get("a").is_none());
        assert_eq!(ids(&state), ["b"]);
    }

    #[test]
    fn reset_replaces_everything_from_another_epoch() {
        let mut state = with(vec![widget("old", number(1.0), 1)]);
        let gauge = WidgetValue::Gauge(Gauge {
            value: 3.0,
            min: 0.0,
            max: 10.0,
            unit: None,
            thresholds: None,
        });
        state.apply(
            ServerEvent::Reset(Reset {
                epoch: "ep2".to_owned(),
                last_event_id: Some(eid("ep2", 4)),
                build: Some("fedc0987".to_owned()),
                view: view_of(vec![widget("new", gauge, 9)]),
            }),
            None,
        );
        assert_eq!(ids(&state), ["new"]);
        assert_eq!(state.epoch.as_deref(), Some("ep2"));
        assert_eq!(state.last_event_id, Some(eid("ep2", 4)));
        assert_eq!(state.build.as_deref(), Some("fedc0987"));
        // The new epoch's ids continue from the reset's.
        assert!(!state.apply(update("new", number(3.0), 2), Some(eid("ep2", 4))));
        assert!(state.apply(update("new", number(3.0), 2), Some(eid("ep2", 5))));
    }

    #[test]
    fn heartbeats_and_shutdowns_leave_the_view_alone() {
        let mut state = with(vec![]);
        let before = state.clone();
        assert!(!state.apply(ServerEvent::Heartbeat(Heartbeat { server_time: 5 }), None));
        assert_eq!(state, before);
    }

    #[test]
    fn another_stream_keeps_only_the_menu() {
        let menu = vec![protocol::DashboardSpec {
            name: id("ops"),
            title: None,
            widgets: vec![],
            unsorted: true,
            kiosk: false,
        }];
        let snapshot = |epoch: &str| {
            ServerEvent::Init(Init {
                protocol_version: protocol::PROTOCOL_VERSION,
                epoch: epoch.to_owned(),
                last_event_id: None,
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
            })
        };
        let mut state = ViewState::default();
        state.apply(snapshot("ep1"), None);
        let first = state.menu.clone();
        assert_eq!(state.menu.position("ops"), Some(0));
        assert!(!state.menu.declares(&id("a")));

        // Another stream starts from scratch, keeping only the menu.
        let switched = state.switched();
        assert!(!switched.has_snapshot());
        assert!(switched.widgets.is_empty());
        assert_eq!(switched.last_event_id, None);
        assert!(Rc::ptr_eq(&first, &switched.menu));
    }
}
