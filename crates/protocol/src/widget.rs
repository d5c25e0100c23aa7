use std::fmt;

use serde::{Deserialize, Serialize};

/// How many points a series line keeps unless it says otherwise.
pub const DEFAULT_SERIES_WINDOW: usize = 600;

/// A widget's name: `[a-z0-9][a-z0-9_.-]{0,63}`. Parsing is the only way to make
/// one, so an invalid id cannot exist anywhere past the API boundary.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WidgetId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid widget id {0:?}: use 1-64 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit")]
pub struct InvalidWidgetId(pub String);

impl WidgetId {
    pub fn parse(s: impl Into<String>) -> Result<WidgetId, InvalidWidgetId> {
        let s = s.into();
        let bytes = s.as_bytes();
        let first_ok = bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let rest_ok = bytes[1.min(bytes.len())..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(b));
        if first_ok && rest_ok && bytes.len() <= 64 {
            Ok(WidgetId(s))
        } else {
            Err(InvalidWidgetId(s.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WidgetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for WidgetId {
    type Error = InvalidWidgetId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        WidgetId::parse(s)
    }
}

impl From<WidgetId> for String {
    fn from(id: WidgetId) -> String {
        id.0
    }
}

/// One widget as viewers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Widget {
    pub id: WidgetId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub value: WidgetValue,
    /// Last change, in milliseconds since the Unix epoch.
    pub updated_at: i64,
}

/// A widget's value; the `kind` field selects the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WidgetValue {
    Number(Number),
    Gauge(Gauge),
    Series(Series),
    List(List),
    Status(Status),
    Text(Text),
    /// A kind this build does not know (sent by a newer server): shown as such
    /// instead of failing the whole snapshot.
    #[serde(other)]
    Unknown,
}

/// A single figure, with the value it replaced so viewers can show the delta.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Number {
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<f64>,
}

/// A value on a bounded scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gauge {
    pub value: f64,
    #[serde(default)]
    pub min: f64,
    #[serde(default = "hundred")]
    pub max: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

fn hundred() -> f64 {
    100.0
}

/// Time-stamped points on one or more named lines. An update carries only the
/// new points; each line keeps the last `window` of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub lines: Vec<SeriesLine>,
    #[serde(default = "default_window")]
    pub window: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

fn default_window() -> usize {
    DEFAULT_SERIES_WINDOW
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesLine {
    pub name: String,
    pub points: Vec<Point>,
}

/// `[t, v]`: milliseconds since the Unix epoch and the value at that time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point(pub i64, pub f64);

/// Label/value rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct List {
    pub rows: Vec<ListRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListRow {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub level: StatusLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusLevel {
    Ok,
    Warn,
    Critical,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Text {
    pub text: String,
}

impl WidgetValue {
    /// The first number that is NaN or infinite, by field name. JSON cannot carry
    /// such values (they would arrive as `null` and fail to decode), so they are
    /// refused before publishing.
    pub fn non_finite_field(&self) -> Option<&'static str> {
        let bad = |x: f64| !x.is_finite();
        match self {
            WidgetValue::Number(n) if bad(n.value) => Some("value"),
            WidgetValue::Number(n) if n.previous.is_some_and(bad) => Some("previous"),
            WidgetValue::Gauge(g) if bad(g.value) => Some("value"),
            WidgetValue::Gauge(g) if bad(g.min) => Some("min"),
            WidgetValue::Gauge(g) if bad(g.max) => Some("max"),
            WidgetValue::Series(s) if s.lines.iter().any(|l| l.points.iter().any(|p| bad(p.1))) => {
                Some("points")
            }
            _ => None,
        }
    }

    /// Fills in what an update leaves implicit, from the value it is about to
    /// change (a number's `previous`), so the update alone tells viewers everything.
    pub fn complete_from(&mut self, current: &WidgetValue) {
        if let (WidgetValue::Number(new), WidgetValue::Number(old)) = (self, current) {
            if new.previous.is_none() {
                new.previous = Some(old.value);
            }
        }
    }

    /// Folds an update into this value. Series append (trimmed to their window);
    /// every other kind, or a change of kind, replaces the value. The server's
    /// store and the SPA's reducer both use this, so they cannot disagree.
    pub fn merge(&mut self, update: WidgetValue) {
        match (self, update) {
            (WidgetValue::Series(current), WidgetValue::Series(update)) => current.append(update),
            (current, update) => *current = update,
        }
    }
}

impl Series {
    fn append(&mut self, update: Series) {
        self.window = update.window;
        if update.unit.is_some() {
            self.unit = update.unit;
        }
        for incoming in update.lines {
            match self.lines.iter_mut().find(|l| l.name == incoming.name) {
                Some(line) => line.points.extend(incoming.points),
                None => self.lines.push(incoming),
            }
        }
        self.trim();
    }

    /// Drops the oldest points of every line beyond the window.
    pub fn trim(&mut self) {
        for line in &mut self.lines {
            let excess = line.points.len().saturating_sub(self.window);
            line.points.drain(..excess);
        }
    }
}

impl Widget {
    /// A widget as it is after its first update.
    pub fn new(id: WidgetId, title: Option<String>, mut value: WidgetValue, at: i64) -> Widget {
        if let WidgetValue::Series(series) = &mut value {
            series.trim();
        }
        Widget {
            id,
            title,
            value,
            updated_at: at,
        }
    }

    /// Applies an update's value, title and time to this widget.
    pub fn apply(&mut self, title: Option<String>, value: WidgetValue, at: i64) {
        if title.is_some() {
            self.title = title;
        }
        self.value.merge(value);
        self.updated_at = at;
    }
}
