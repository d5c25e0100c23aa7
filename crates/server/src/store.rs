//! The latest value of every widget: what a new viewer's snapshot is made of.

use indexmap::IndexMap;
use protocol::{Snapshot, Update, Widget, WidgetId};

#[derive(Debug, Default)]
pub struct Store {
    /// Insertion order is display order, so the dashboard does not reshuffle.
    widgets: IndexMap<WidgetId, Widget>,
}

impl Store {
    /// Fills in what `update` leaves implicit from the widget's current value
    /// (e.g. a number's previous value), so it can be broadcast as it stands.
    pub fn complete(&self, update: &mut Update) {
        if let Some(widget) = self.widgets.get(&update.id) {
            update.value.complete_from(&widget.value);
        }
    }

    /// Folds a completed update into the widget it names, creating it if new.
    pub fn commit(&mut self, update: Update) {
        match self.widgets.get_mut(&update.id) {
            Some(widget) => widget.apply(update.title, update.value, update.at),
            None => {
                let widget = Widget::new(update.id.clone(), update.title, update.value, update.at);
                self.widgets.insert(update.id, widget);
            }
        }
    }

    pub fn contains(&self, id: &WidgetId) -> bool {
        self.widgets.contains_key(id)
    }

    /// Removes a widget; false if there was none.
    pub fn remove(&mut self, id: &WidgetId) -> bool {
        self.widgets.shift_remove(id).is_some()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            widgets: self.widgets.values().cloned().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.widgets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.widgets.is_empty()
    }
}
