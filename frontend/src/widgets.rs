//! The widgets a stream has delivered, shared rather than cloned.
//!
//! Each widget sits behind its own [`Rc`]: the state handed to the views for
//! a frame and the one the next events are folded into share every widget
//! that did not change, and an update copies only the widget it changes
//! (`Rc::make_mut`, and only the first time in a frame: later updates of the
//! same widget before the next render find it unshared and change it in
//! place). A card can then tell "my widget did not change" by pointer
//! ([`Shared`]), without comparing its contents. Lookups by id go through an
//! index (sorted, searched by halves: a hash map's code would cost the
//! bundle more than it saves a few hundred widgets), itself shared until a
//! widget is added or removed.

use std::ops::Deref;
use std::rc::Rc;

use protocol::{Update, Widget, WidgetId};

/// The widgets in display order (the order they were first published).
#[derive(Debug, Clone, Default)]
pub struct Widgets {
    list: Vec<Rc<Widget>>,
    /// Positions in `list`, sorted by id; rebuilt when the list's shape changes.
    index: Rc<Vec<(WidgetId, usize)>>,
}

impl Widgets {
    pub fn new(widgets: Vec<Widget>) -> Widgets {
        let mut widgets = Widgets {
            list: widgets.into_iter().map(Rc::new).collect(),
            index: Rc::default(),
        };
        widgets.reindex();
        widgets
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rc<Widget>> {
        self.list.iter()
    }

    pub fn get(&self, id: &str) -> Option<&Rc<Widget>> {
        self.position(id).map(|i| &self.list[i])
    }

    fn position(&self, id: &str) -> Option<usize> {
        let found = self.index.binary_search_by(|(key, _)| key.as_str().cmp(id));
        found.ok().map(|at| self.index[at].1)
    }

    /// Folds an update in as the server's store did: an existing widget is
    /// merged in place (copied first if a rendered state still holds it), a
    /// new one is appended at the end.
    pub fn apply(&mut self, update: Update) {
        match self.position(update.id.as_str()) {
            Some(i) => Rc::make_mut(&mut self.list[i]).apply(update),
            None => {
                self.list.push(Rc::new(Widget::new(update)));
                self.reindex();
            }
        }
    }

    /// Returns whether there was such a widget.
    pub fn remove(&mut self, id: &WidgetId) -> bool {
        let Some(i) = self.position(id.as_str()) else {
            return false;
        };
        self.list.remove(i);
        self.reindex();
        true
    }

    fn reindex(&mut self) {
        let mut index: Vec<(WidgetId, usize)> = Vec::with_capacity(self.list.len());
        for (i, widget) in self.list.iter().enumerate() {
            // Sorted by insertion rather than with `sort`: a sort's code is
            // large in the bundle, and this runs only when widgets come or go.
            let at = index
                .binary_search_by(|(key, _)| key.cmp(&widget.id))
                .unwrap_or_else(|at| at);
            index.insert(at, (widget.id.clone(), i));
        }
        self.index = Rc::new(index);
    }
}

/// Equal when the same widget list, value by value, in the same order: for
/// tests; the views compare [`Shared`]s.
#[cfg(test)]
impl PartialEq for Widgets {
    fn eq(&self, other: &Widgets) -> bool {
        self.list == other.list
    }
}

/// An [`Rc`] compared by pointer: a view's props holding one are equal while
/// they hold the same allocation, i.e. while nothing changed it, whatever its
/// size (a series of 600 points costs one comparison).
#[derive(Debug, Default)]
pub struct Shared<T>(pub Rc<T>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> From<Rc<T>> for Shared<T> {
    fn from(rc: Rc<T>) -> Self {
        Shared(rc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Number, WidgetValue};

    fn update(id: &str, value: f64) -> Update {
        Update {
            id: WidgetId::parse(id).unwrap(),
            title: None,
            value: WidgetValue::Number(Number {
                value,
                ..Number::default()
            }),
            at: 1,
            expect_every: None,
        }
    }

    #[test]
    fn updates_copy_only_the_widget_they_change() {
        let mut widgets = Widgets::default();
        widgets.apply(update("a", 1.0));
        widgets.apply(update("b", 2.0));
        let rendered = widgets.clone();

        widgets.apply(update("b", 3.0));
        assert!(Rc::ptr_eq(
            widgets.get("a").unwrap(),
            rendered.get("a").unwrap()
        ));
        assert!(!Rc::ptr_eq(
            widgets.get("b").unwrap(),
            rendered.get("b").unwrap()
        ));
        // The rendered state still shows what it showed.
        let value = |w: &Widget| match &w.value {
            WidgetValue::Number(n) => n.value,
            _ => unreachable!(),
        };
        assert_eq!(value(rendered.get("b").unwrap()), 2.0);
        assert_eq!(value(widgets.get("b").unwrap()), 3.0);

        // A second update in the same frame changes the copy in place.
        let copy = Rc::as_ptr(widgets.get("b").unwrap());
        widgets.apply(update("b", 4.0));
        assert_eq!(Rc::as_ptr(widgets.get("b").unwrap()), copy);
    }

    #[test]
    fn order_and_index_survive_adds_and_removes() {
        let mut widgets = Widgets::new(vec![]);
        for id in ["c", "a", "b"] {
            widgets.apply(update(id, 0.0));
        }
        assert!(widgets.remove(&WidgetId::parse("a").unwrap()));
        assert!(!widgets.remove(&WidgetId::parse("a").unwrap()));
        let ids: Vec<_> = widgets.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["c", "b"]);
        assert_eq!(widgets.get("b").unwrap().id.as_str(), "b");
        assert!(widgets.get("a").is_none());
        assert_eq!(widgets.len(), 2);
    }

    #[test]
    fn shared_compares_by_pointer() {
        let a = Shared(Rc::new(1));
        let same = a.clone();
        let equal_value = Shared(Rc::new(1));
        assert!(a == same);
        assert!(a != equal_value);
    }
}
