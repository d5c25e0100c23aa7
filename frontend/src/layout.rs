//! What a dashboard shows: its declared widgets in declared order (with the
//! declared defaults filled in, or a placeholder while a widget has no value),
//! then, on the dashboard that collects them, the published widgets no
//! dashboard declares. Pure, so every rule is unit-tested natively.

use protocol::{DashboardSpec, Size, View, Widget, WidgetId, WidgetSpec, WidgetValue};

use crate::route::Route;

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

#[derive(Debug, Clone, PartialEq)]
pub enum Card {
    /// Declared, but nothing was published to it yet.
    Waiting(WidgetSpec),
    /// A value, with the declared defaults filled in where it has none.
    Shown { widget: Widget, size: Size },
}

impl Card {
    pub fn id(&self) -> &WidgetId {
        match self {
            Card::Waiting(spec) => &spec.id,
            Card::Shown { widget, .. } => &widget.id,
        }
    }
}

impl Layout {
    /// The layout of the stream's dashboard; `None` when the server does not
    /// know the dashboard asked for (it then sends no widgets).
    pub fn of(view: &View) -> Option<Layout> {
        // A server that declares no dashboards (or predates them) streams
        // every widget: show them all, as before dashboards existed.
        if view.dashboards.is_empty() {
            let cards = view.snapshot.widgets.iter().map(undeclared).collect();
            return Some(Layout {
                cards,
                unsorted: Vec::new(),
            });
        }
        let spec = current(view)?;
        let cards = spec
            .widgets
            .iter()
            .map(|declared| match view.snapshot.get(declared.id.as_str()) {
                Some(widget) => Card::Shown {
                    widget: with_defaults(widget.clone(), declared),
                    size: clamped(declared.size),
                },
                None => Card::Waiting(declared.clone()),
            })
            .collect();
        let unsorted = if spec.unsorted {
            view.snapshot
                .widgets
                .iter()
                .filter(|widget| !view.dashboards.iter().any(|d| d.declares(&widget.id)))
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

/// The spec of the dashboard the stream shows, if the server named one it declares.
pub fn current(view: &View) -> Option<&DashboardSpec> {
    let name = view.dashboard.as_deref()?;
    view.dashboards.iter().find(|d| d.name.as_str() == name)
}

/// A dashboard's heading: its title, else its name.
pub fn title(spec: &DashboardSpec) -> &str {
    spec.title.as_deref().unwrap_or(spec.name.as_str())
}

/// The menu entry to mark as current. Once the stream's `init` is in, the
/// server's word (it resolves "the default" to a name); before that, the
/// dashboard the route asks for, so the menu does not lag behind a click.
pub fn current_name<'a>(view: &'a View, has_snapshot: bool, asked: &'a str) -> Option<&'a str> {
    if has_snapshot {
        view.dashboard.as_deref()
    } else if asked.is_empty() {
        view.dashboards.first().map(|d| d.name.as_str())
    } else {
        Some(asked)
    }
}

/// The browser tab's title for what is on screen.
pub fn page_title(view: &View, has_snapshot: bool, route: &Route) -> String {
    const APP: &str = "Pulseboard";
    if *route == Route::NotFound {
        return format!("Not found · {APP}");
    }
    if !has_snapshot || view.dashboards.is_empty() {
        return APP.to_owned();
    }
    match current(view) {
        Some(spec) => format!("{} · {APP}", title(spec)),
        None => format!("No dashboard named {} · {APP}", route.dashboard_param()),
    }
}

/// An undeclared widget: its size follows its kind (charts need room).
fn undeclared(widget: &Widget) -> Card {
    let size = match widget.value {
        WidgetValue::Series(_) => Size(2, 1),
        _ => Size(1, 1),
    };
    Card::Shown {
        widget: widget.clone(),
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
    use protocol::{Gauge, Number, Snapshot, Text, Thresholds, Update};

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

    fn view(dashboards: Vec<DashboardSpec>, current: Option<&str>, widgets: Vec<Widget>) -> View {
        View {
            dashboards,
            dashboard: current.map(str::to_owned),
            playlists: vec![],
            snapshot: Snapshot { widgets },
        }
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
        let layout = Layout::of(&v).unwrap();
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
        let layout = Layout::of(&view(dashboards.clone(), Some("host"), all.clone())).unwrap();
        assert_eq!(ids(&layout.cards), ["host.cpu"]);
        assert_eq!(ids(&layout.unsorted), ["z", "y"]);

        let layout = Layout::of(&view(dashboards, Some("ops"), all)).unwrap();
        assert_eq!(ids(&layout.cards), ["a"]);
        assert!(layout.unsorted.is_empty());
    }

    #[test]
    fn unknown_dashboards_have_no_layout() {
        let dashboards = vec![dashboard("ops", &["a"], true)];
        assert_eq!(Layout::of(&view(dashboards.clone(), None, vec![])), None);
        assert_eq!(Layout::of(&view(dashboards, Some("nope"), vec![])), None);
    }

    #[test]
    fn without_dashboards_every_widget_is_shown() {
        let layout = Layout::of(&view(vec![], None, vec![text("b"), text("a")])).unwrap();
        assert_eq!(ids(&layout.cards), ["b", "a"]);
        assert!(!layout.is_empty());
        assert!(Layout::of(&View::default()).unwrap().is_empty());
    }

    #[test]
    fn sizes_come_from_the_declaration_or_the_kind() {
        let mut ops = dashboard("ops", &["a"], true);
        ops.widgets[0].size = Size(3, 9);
        let series = widget(
            "s",
            serde_json::from_str(r#"{"kind":"series","lines":[]}"#).unwrap(),
        );
        let layout = Layout::of(&view(vec![ops], Some("ops"), vec![text("a"), series])).unwrap();
        let size = |card: &Card| match card {
            Card::Shown { size, .. } => *size,
            Card::Waiting(spec) => spec.size,
        };
        // Clamped to the grid's 4 x 4.
        assert_eq!(size(&layout.cards[0]), Size(3, 4));
        assert_eq!(size(&layout.unsorted[0]), Size(2, 1));
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
        assert_eq!(current_name(&v, true, ""), Some("ops"));
        // Switching: the init is not in yet.
        let waiting = view(dashboards, None, vec![]);
        assert_eq!(current_name(&waiting, false, "sales"), Some("sales"));
        assert_eq!(current_name(&waiting, false, ""), Some("ops"));
        // The server knows no such dashboard.
        assert_eq!(current_name(&waiting, true, "nope"), None);
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
            page_title(&view(dashboards.clone(), current, vec![]), true, route)
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
            page_title(&View::default(), false, &named("ops")),
            "Pulseboard"
        );
    }
}
