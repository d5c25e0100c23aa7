//! What a dashboard shows: its declared widgets in declared order (with the
//! declared defaults filled in, or a placeholder while a widget has no value),
//! then, on the dashboard that collects them, the published widgets no
//! dashboard declares. Pure, so every rule is unit-tested natively.

use std::rc::Rc;

use protocol::{DashboardSpec, Size, Widget, WidgetId, WidgetSpec, WidgetValue};

use crate::route::Route;
use crate::state::ViewState;

/// The cards of the dashboard a stream shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Declared widgets, in declared order (or, when the server declares no
    /// dashboard at all, every widget).
    pub cards: Vec<Card>,
    /// Published widgets that no dashboard declares, in snapshot order; only
    /// on the dashboard marked `unsorted`.
    pub unsorted: Vec<Card>,
}

/// One card: shares the widget and its declaration with the state, so laying
/// out a dashboard copies pointers, not values.
#[derive(Debug, Clone, PartialEq)]
pub enum Card {
    /// Declared, but nothing was published to it yet.
    Waiting(Rc<WidgetSpec>),
    /// A value, and its declaration, whose defaults fill in what it lacks
    /// (see [`with_defaults`]), if it has one.
    Shown {
        widget: Rc<Widget>,
        spec: Option<Rc<WidgetSpec>>,
        size: Size,
    },
}

impl Card {
    pub fn id(&self) -> &WidgetId {
        match self {
            Card::Waiting(spec) => &spec.id,
            Card::Shown { widget, .. } => &widget.id,
        }
    }

    /// The grid cells it spans.
    pub fn size(&self) -> Size {
        match self {
            Card::Waiting(spec) => clamped(spec.size),
            Card::Shown { size, .. } => *size,
        }
    }
}

impl Layout {
    /// The layout of dashboard `name` (the one the stream is narrowed to when
    /// `None`); `None` when the server does not know it (it then sends no
    /// widgets).
    pub fn of(view: &ViewState, name: Option<&str>) -> Option<Layout> {
        let menu = &view.menu;
        // A server that declares no dashboards (or predates them) streams
        // every widget: show them all, as before dashboards existed.
        if menu.dashboards.is_empty() {
            let cards = view.widgets.iter().map(undeclared).collect();
            return Some(Layout {
                cards,
                unsorted: Vec::new(),
            });
        }
        let index = menu.position(name.or(view.dashboard.as_deref())?)?;
        let cards = menu.declared[index]
            .iter()
            .map(|declared| match view.widgets.get(declared.id.as_str()) {
                Some(widget) => Card::Shown {
                    widget: widget.clone(),
                    spec: Some(declared.clone()),
                    size: clamped(declared.size),
                },
                None => Card::Waiting(declared.clone()),
            })
            .collect();
        let unsorted = if menu.dashboards[index].unsorted {
            view.widgets
                .iter()
                .filter(|widget| !menu.declares(&widget.id))
                .map(undeclared)
                .collect()
        } else {
            Vec::new()
        };
        Some(Layout { cards, unsorted })
    }

    pub fn is_empty(&self) -> bool {
        self.cards.is_empty() && self.unsorted.is_empty()
    }
}

/// The spec of dashboard `name` (the one the stream is narrowed to when `None`).
pub fn current<'a>(view: &'a ViewState, name: Option<&str>) -> Option<&'a DashboardSpec> {
    let name = name.or(view.dashboard.as_deref())?;
    view.menu
        .dashboards
        .iter()
        .find(|d| d.name.as_str() == name)
}

/// A dashboard's heading: its title, else its name.
pub fn title(spec: &DashboardSpec) -> &str {
    spec.title.as_deref().unwrap_or(spec.name.as_str())
}

/// The menu entry to mark as current. Once the stream's `init` is in, the
/// server's word (it resolves "the default" to a name); before that, the
/// dashboard the route asks for, so the menu does not lag behind a click.
pub fn current_name<'a>(view: &'a ViewState, asked: &'a str) -> Option<&'a str> {
    if view.has_snapshot() {
        view.dashboard.as_deref()
    } else if asked.is_empty() {
        view.menu.dashboards.first().map(|d| d.name.as_str())
    } else {
        Some(asked)
    }
}

/// The browser tab's title for what is on screen (`on_screen`: the dashboard
/// a rotation shows, else the stream's). While the connection is down,
/// `trouble` ("Reconnecting", "Offline") comes first with a warning sign: a
/// wall screen's tab, or a background one, shows stale values.
pub fn page_title(
    view: &ViewState,
    on_screen: Option<&str>,
    route: &Route,
    trouble: Option<&str>,
) -> String {
    const APP: &str = "Pulseboard";
    let title = if *route == Route::NotFound {
        format!("Not found · {APP}")
    } else if !view.has_snapshot() || view.menu.dashboards.is_empty() {
        APP.to_owned()
    } else {
        match current(view, on_screen) {
            Some(spec) => format!("{} · {APP}", title(spec)),
            None => format!("No dashboard named {} · {APP}", route.dashboard_param()),
        }
    };
    match trouble {
        Some(trouble) => format!("⚠ {trouble} · {title}"),
        None => title,
    }
}

/// An undeclared widget: its size follows its kind (charts need room).
fn undeclared(widget: &Rc<Widget>) -> Card {
    let size = match widget.value {
        WidgetValue::Series(_) => Size(2, 1),
        _ => Size(1, 1),
    };
    Card::Shown {
        widget: widget.clone(),
        spec: None,
        size,
    }
}

/// The server checks sizes; a bad one still must not break the grid.
fn clamped(Size(cols, rows): Size) -> Size {
    Size(cols.clamp(1, 4), rows.clamp(1, 4))
}

/// Fills in what the value leaves out from its declaration: its own title,
/// unit, thresholds and `expect_every` win.
pub fn with_defaults(mut widget: Widget, spec: &WidgetSpec) -> Widget {
    if widget.title.is_none() {
        widget.title.clone_from(&spec.title);
    }
    widget.expect_every = widget.expect_every.or(spec.expect_every);
    let unit = |own: &mut Option<String>| {
        if own.is_none() {
            own.clone_from(&spec.unit);
        }
    };
    match &mut widget.value {
        WidgetValue::Number(number) => {
            unit(&mut number.unit);
            number.thresholds = number.thresholds.or(spec.thresholds);
        }
        WidgetValue::Gauge(gauge) => {
            unit(&mut gauge.unit);
            gauge.thresholds = gauge.thresholds.or(spec.thresholds);
        }
        WidgetValue::Series(series) => unit(&mut series.unit),
        _ => {}
    }
    widget
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Gauge, Init, Number, ServerEvent, Snapshot, Text, Thresholds, Update, View};

    fn id(s: &str) -> WidgetId {
        WidgetId::parse(s).unwrap()
    }

    fn spec(name: &str) -> WidgetSpec {
        WidgetSpec {
            id: id(name),
            title: None,
            kind: None,
            unit: None,
            size: Size::default(),
            thresholds: None,
            expect_every: None,
        }
    }

    fn dashboard(name: &str, widgets: &[&str], unsorted: bool) -> DashboardSpec {
        DashboardSpec {
            name: id(name),
            title: None,
            widgets: widgets.iter().map(|w| spec(w)).collect(),
            unsorted,
            kiosk: false,
        }
    }

    fn widget(name: &str, value: WidgetValue) -> Widget {
        Widget::new(Update {
            id: id(name),
            title: None,
            value,
            at: 1,
            expect_every: None,
        })
    }

    fn text(name: &str) -> Widget {
        widget(
            name,
            WidgetValue::Text(Text {
                text: name.to_owned(),
            }),
        )
    }

    /// The state after an `init` with these dashboards and widgets.
    fn view(
        dashboards: Vec<DashboardSpec>,
        current: Option<&str>,
        widgets: Vec<Widget>,
    ) -> ViewState {
        let mut state = ViewState::default();
        state.apply(
            ServerEvent::Init(Init {
                protocol_version: protocol::PROTOCOL_VERSION,
                epoch: "e".to_owned(),
                last_event_id: None,
                heartbeat_ms: 1_000,
                build: None,
                view: View {
                    dashboards,
                    dashboard: current.map(str::to_owned),
                    playlists: vec![],
                    snapshot: Snapshot { widgets },
                },
            }),
            None,
        );
        state
    }

    fn ids(cards: &[Card]) -> Vec<&str> {
        cards.iter().map(|c| c.id().as_str()).collect()
    }

    #[test]
    fn declared_widgets_come_in_declared_order_with_placeholders() {
        let v = view(
            vec![dashboard("ops", &["c", "a", "b"], false)],
            Some("ops"),
            vec![text("a"), text("b")],
        );
        let layout = Layout::of(&v, None).unwrap();
        assert_eq!(ids(&layout.cards), ["c", "a", "b"]);
        assert!(matches!(&layout.cards[0], Card::Waiting(spec) if spec.id == id("c")));
        assert!(matches!(&layout.cards[1], Card::Shown { .. }));
        assert!(layout.unsorted.is_empty());
    }

    #[test]
    fn undeclared_widgets_go_to_the_unsorted_dashboard_only() {
        let dashboards = vec![
            dashboard("ops", &["a"], false),
            dashboard("sales", &["b"], false),
            dashboard("host", &["host.cpu"], true),
        ];
        // The server sends the unsorted dashboard its own widgets plus the
        // undeclared ones; widgets another dashboard declares stay out even
        // if a server sent them.
        let all = vec![text("z"), text("a"), text("host.cpu"), text("y"), text("b")];
        let layout =
            Layout::of(&view(dashboards.clone(), Some("host"), all.clone()), None).unwrap();
        assert_eq!(ids(&layout.cards), ["host.cpu"]);
        assert_eq!(ids(&layout.unsorted), ["z", "y"]);

        let layout = Layout::of(&view(dashboards, Some("ops"), all), None).unwrap();
        assert_eq!(ids(&layout.cards), ["a"]);
        assert!(layout.unsorted.is_empty());
    }

    #[test]
    fn unknown_dashboards_have_no_layout() {
        let dashboards = vec![dashboard("ops", &["a"], true)];
        assert_eq!(
            Layout::of(&view(dashboards.clone(), None, vec![]), None),
            None
        );
        assert_eq!(
            Layout::of(&view(dashboards, Some("nope"), vec![]), None),
            None
        );
    }

    #[test]
    fn without_dashboards_every_widget_is_shown() {
        let layout = Layout::of(&view(vec![], None, vec![text("b"), text("a")]), None).unwrap();
        assert_eq!(ids(&layout.cards), ["b", "a"]);
        assert!(!layout.is_empty());
        assert!(Layout::of(&ViewState::default(), None).unwrap().is_empty());
    }

    #[test]
    fn sizes_come_from_the_declaration_or_the_kind() {
        let mut ops = dashboard("ops", &["a"], true);
        ops.widgets[0].size = Size(3, 9);
        let series = widget(
            "s",
            serde_json::from_str(r#"{"kind":"series","lines":[]}"#).unwrap(),
        );
        let layout =
            Layout::of(&view(vec![ops], Some("ops"), vec![text("a"), series]), None).unwrap();
        // Clamped to the grid's 4 x 4.
        assert_eq!(layout.cards[0].size(), Size(3, 4));
        assert_eq!(layout.unsorted[0].size(), Size(2, 1));
    }

    #[test]
    fn declared_defaults_fill_in_what_the_value_lacks() {
        let mut declared = spec("load");
        declared.title = Some("Load".to_owned());
        declared.unit = Some("jobs".to_owned());
        declared.expect_every = Some(60);
        declared.thresholds = Some(Thresholds {
            warn: Some(7.0),
            critical: Some(9.0),
        });
        let gauge = |unit: Option<&str>, thresholds| {
            WidgetValue::Gauge(Gauge {
                value: 1.0,
                min: 0.0,
                max: 10.0,
                unit: unit.map(str::to_owned),
                thresholds,
            })
        };

        let bare = with_defaults(widget("load", gauge(None, None)), &declared);
        assert_eq!(bare.title.as_deref(), Some("Load"));
        assert_eq!(bare.expect_every, Some(60));
        assert_eq!(bare.value, gauge(Some("jobs"), declared.thresholds));

        let own_thresholds = Some(Thresholds {
            warn: Some(1.0),
            critical: None,
        });
        let mut own = widget("load", gauge(Some("tasks"), own_thresholds));
        own.title = Some("Mine".to_owned());
        own.expect_every = Some(5);
        let own = with_defaults(own, &declared);
        assert_eq!(own.title.as_deref(), Some("Mine"));
        assert_eq!(own.expect_every, Some(5));
        assert_eq!(own.value, gauge(Some("tasks"), own_thresholds));

        let number = with_defaults(
            widget("load", WidgetValue::Number(Number::default())),
            &declared,
        );
        let WidgetValue::Number(number) = number.value else {
            unreachable!()
        };
        assert_eq!(number.unit.as_deref(), Some("jobs"));
        assert_eq!(number.thresholds, declared.thresholds);
    }

    #[test]
    fn the_menu_marks_the_servers_choice_once_known() {
        let dashboards = vec![dashboard("ops", &[], true), dashboard("sales", &[], false)];
        let v = view(dashboards.clone(), Some("ops"), vec![]);
        assert_eq!(current_name(&v, ""), Some("ops"));
        // Switching: the init is not in yet.
        let waiting = view(dashboards.clone(), None, vec![]).switched();
        assert_eq!(current_name(&waiting, "sales"), Some("sales"));
        assert_eq!(current_name(&waiting, ""), Some("ops"));
        // The server knows no such dashboard.
        let unknown = view(dashboards, None, vec![]);
        assert_eq!(current_name(&unknown, "nope"), None);
    }

    #[test]
    fn page_titles_name_the_dashboard() {
        let mut ops = dashboard("ops", &[], true);
        ops.title = Some("Operations".to_owned());
        let dashboards = vec![ops, dashboard("sales", &[], false)];
        let named = |name: &str| Route::Named {
            name: name.to_owned(),
        };
        let title_of = |current: Option<&str>, route: &Route| {
            page_title(
                &view(dashboards.clone(), current, vec![]),
                None,
                route,
                None,
            )
        };
        assert_eq!(
            title_of(Some("ops"), &Route::Default),
            "Operations · Pulseboard"
        );
        assert_eq!(
            title_of(Some("sales"), &named("sales")),
            "sales · Pulseboard"
        );
        assert_eq!(
            title_of(None, &named("nope")),
            "No dashboard named nope · Pulseboard"
        );
        assert_eq!(
            title_of(Some("ops"), &Route::NotFound),
            "Not found · Pulseboard"
        );
        assert_eq!(
            page_title(&ViewState::default(), None, &named("ops"), None),
            "Pulseboard"
        );
        // A rotation names what it shows.
        let rotating = view(dashboards.clone(), None, vec![]);
        assert_eq!(
            page_title(&rotating, Some("sales"), &Route::Default, None),
            "sales · Pulseboard"
        );
    }

    #[test]
    fn a_rotation_lays_out_any_dashboard_of_its_stream() {
        let dashboards = vec![
            dashboard("ops", &["a"], true),
            dashboard("sales", &["b"], false),
        ];
        // One stream with both dashboards' widgets, narrowed to neither.
        let v = view(dashboards, None, vec![text("a"), text("b"), text("z")]);
        assert_eq!(Layout::of(&v, None), None);
        let ops = Layout::of(&v, Some("ops")).unwrap();
        assert_eq!(ids(&ops.cards), ["a"]);
        assert_eq!(ids(&ops.unsorted), ["z"]);
        let sales = Layout::of(&v, Some("sales")).unwrap();
        assert_eq!(ids(&sales.cards), ["b"]);
        // The cards share the state's widgets.
        let Card::Shown { widget, .. } = &sales.cards[0] else {
            panic!("b has a value");
        };
        assert!(Rc::ptr_eq(widget, v.widgets.get("b").unwrap()));
    }

    #[test]
    fn page_titles_warn_while_the_connection_is_down() {
        let mut ops = dashboard("ops", &[], true);
        ops.title = Some("Operations".to_owned());
        let v = view(vec![ops], Some("ops"), vec![]);
        assert_eq!(
            page_title(&v, None, &Route::Default, Some("Reconnecting")),
            "⚠ Reconnecting · Operations · Pulseboard"
        );
        assert_eq!(
            page_title(
                &ViewState::default(),
                None,
                &Route::Default,
                Some("Offline")
            ),
            "⚠ Offline · Pulseboard"
        );
    }
}
