//! The latest value of every widget: what a new viewer's snapshot is made of.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use protocol::{Snapshot, Update, Widget, WidgetId, WidgetValue};

use crate::publish::{Change, Conflict};

#[derive(Debug, Default, Clone)]
pub struct Store {
    /// Insertion order is display order, so the dashboard does not reshuffle.
    widgets: IndexMap<WidgetId, Widget>,
}

impl Store {
    /// Fills in what each change leaves implicit (settings it left out, a
    /// number's previous value) from the value it will change: the store's, or
    /// that of an earlier change to the same widget in `changes`. Then each
    /// update can be broadcast as it stands. Changes nothing in the store.
    pub fn complete_all(&self, changes: &mut [Change]) -> Result<(), Conflict> {
        let mut still_to_come: HashMap<WidgetId, usize> = HashMap::new();
        for change in changes.iter() {
            *still_to_come.entry(change.update.id.clone()).or_default() += 1;
        }
        // The value a widget will hold, for ids that come again in `changes`.
        let mut pending: HashMap<WidgetId, WidgetValue> = HashMap::new();
        for (item, change) in changes.iter_mut().enumerate() {
            let earlier = pending.remove(&change.update.id);
            let stored = self.widgets.get(&change.update.id).map(|w| &w.value);
            let current = earlier.as_ref().or(stored);
            change
                .fill_from(current)
                .map_err(|conflict| Conflict { item, ..conflict })?;
            let update = &mut change.update;
            if let Some(current) = current {
                update.value.complete_from(current);
            }
            let left = still_to_come.get_mut(&update.id).expect("counted above");
            *left -= 1;
            if *left > 0 {
                let next = match earlier.or_else(|| stored.cloned()) {
                    Some(mut value) => {
                        value.merge(update.value.clone(), update.at);
                        value
                    }
                    None => update.value.clone(),
                };
                pending.insert(update.id.clone(), next);
            }
        }
        Ok(())
    }

    /// How many widgets `changes` would create.
    pub fn count_new(&self, changes: &[Change]) -> usize {
        changes
            .iter()
            .map(|c| &c.update.id)
            .filter(|id| !self.widgets.contains_key(*id))
            .collect::<HashSet<_>>()
            .len()
    }

    /// Folds a completed update into the widget it names, creating it if new.
    pub fn commit(&mut self, update: Update) {
        match self.widgets.get_mut(&update.id) {
            Some(widget) => widget.apply(update),
            None => {
                let id = update.id.clone();
                self.widgets.insert(id, Widget::new(update));
            }
        }
    }

    /// Puts a whole widget in place, as it was saved.
    pub fn insert(&mut self, widget: Widget) {
        self.widgets.insert(widget.id.clone(), widget);
    }

    pub fn get(&self, id: &WidgetId) -> Option<&Widget> {
        self.widgets.get(id)
    }

    pub fn widgets(&self) -> impl Iterator<Item = &Widget> {
        self.widgets.values()
    }

    pub fn contains(&self, id: &WidgetId) -> bool {
        self.widgets.contains_key(id)
    }

    /// Removes a widget; false if there was none.
    pub fn remove(&mut self, id: &WidgetId) -> bool {
        self.widgets.shift_remove(id).is_some()
    }

    /// The widgets whose id `admit` accepts, in display order.
    pub fn snapshot(&self, admit: impl Fn(&WidgetId) -> bool) -> Snapshot {
        Snapshot {
            widgets: self
                .widgets
                .values()
                .filter(|w| admit(&w.id))
                .cloned()
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.widgets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.widgets.is_empty()
    }
}
