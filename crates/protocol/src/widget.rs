use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Update;

/// How many points a series line keeps unless it says otherwise.
pub const DEFAULT_SERIES_WINDOW: usize = 600;

/// How many lines a log keeps unless it says otherwise.
pub const DEFAULT_LOG_LINES: usize = 200;

/// How many recent values of a number are kept for its sparkline.
pub const NUMBER_RECENT: usize = 60;

/// A widget's name: `[a-z0-9][a-z0-9_.-]{0,63}`. Parsing is the only way to make
/// one, so an invalid id cannot exist anywhere past the API boundary.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Widget {
    pub id: WidgetId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub value: WidgetValue,
    /// Last change, in milliseconds since the Unix epoch.
    pub updated_at: i64,
    /// Seconds within which the next update is expected; older values are shown
    /// as stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_every: Option<u32>,
}

/// The kinds of widget, as named in the `kind` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WidgetKind {
    Number,
    Gauge,
    Series,
    List,
    Status,
    Text,
    Log,
}

impl WidgetKind {
    pub const ALL: [WidgetKind; 7] = [
        WidgetKind::Number,
        WidgetKind::Gauge,
        WidgetKind::Series,
        WidgetKind::List,
        WidgetKind::Status,
        WidgetKind::Text,
        WidgetKind::Log,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WidgetKind::Number => "number",
            WidgetKind::Gauge => "gauge",
            WidgetKind::Series => "series",
            WidgetKind::List => "list",
            WidgetKind::Status => "status",
            WidgetKind::Text => "text",
            WidgetKind::Log => "log",
        }
    }

    pub fn parse(name: &str) -> Option<WidgetKind> {
        WidgetKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for WidgetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A widget's value; the `kind` field selects the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WidgetValue {
    Number(Number),
    Gauge(Gauge),
    Series(Series),
    List(List),
    Status(Status),
    Text(Text),
    Log(Log),
    /// A kind this build does not know (sent by a newer server): shown as such
    /// instead of failing the whole snapshot.
    #[serde(other)]
    Unknown,
}

/// A single figure, with the value it replaced so viewers can show the delta.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Number {
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    /// The last [`NUMBER_RECENT`] values with their times, for a sparkline.
    /// Kept by the store (an update never carries it) and sent in snapshots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<Point>,
}

/// A value on a bounded scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Gauge {
    pub value: f64,
    #[serde(default)]
    pub min: f64,
    #[serde(default = "hundred")]
    pub max: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
}

/// Where a value turns from ok to warn and from warn to critical. With `warn`
/// above `critical`, low values are the bad ones (free disk, say).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thresholds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<f64>,
}

impl Thresholds {
    /// Low values are the bad ones: `warn` is set above `critical`.
    pub fn low_is_bad(&self) -> bool {
        matches!((self.warn, self.critical), (Some(w), Some(c)) if w > c)
    }

    /// The level of `value`: `Ok` below `warn`, `Warn` from it, `Critical` from
    /// `critical` (mirrored when low values are bad).
    pub fn level(&self, value: f64) -> StatusLevel {
        let low_is_bad = self.low_is_bad();
        let reached = |limit: Option<f64>| {
            limit.is_some_and(|limit| {
                if low_is_bad {
                    value <= limit
                } else {
                    value >= limit
                }
            })
        };
        if reached(self.critical) {
            StatusLevel::Critical
        } else if reached(self.warn) {
            StatusLevel::Warn
        } else {
            StatusLevel::Ok
        }
    }
}

fn hundred() -> f64 {
    100.0
}

/// Time-stamped points on one or more named lines. An update carries only the
/// new points; each line keeps the last `window` of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesLine {
    pub name: String,
    pub points: Vec<Point>,
}

/// `[t, v]`: milliseconds since the Unix epoch and the value at that time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Point(pub i64, pub f64);

/// Label/value rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct List {
    pub rows: Vec<ListRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListRow {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    pub level: StatusLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StatusLevel {
    Ok,
    Warn,
    Critical,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Text {
    pub text: String,
}

/// Recent lines of a log, oldest first. An update carries only the new lines;
/// the widget keeps the last `max_lines`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Log {
    pub lines: Vec<LogLine>,
    #[serde(default = "default_log_lines")]
    pub max_lines: usize,
}

fn default_log_lines() -> usize {
    DEFAULT_LOG_LINES
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogLine {
    /// When the line was published, in milliseconds since the Unix epoch.
    pub at: i64,
    pub text: String,
}

impl WidgetValue {
    /// `None` for [`WidgetValue::Unknown`].
    pub fn kind(&self) -> Option<WidgetKind> {
        Some(match self {
            WidgetValue::Number(_) => WidgetKind::Number,
            WidgetValue::Gauge(_) => WidgetKind::Gauge,
            WidgetValue::Series(_) => WidgetKind::Series,
            WidgetValue::List(_) => WidgetKind::List,
            WidgetValue::Status(_) => WidgetKind::Status,
            WidgetValue::Text(_) => WidgetKind::Text,
            WidgetValue::Log(_) => WidgetKind::Log,
            WidgetValue::Unknown => return None,
        })
    }

    /// The first number that is NaN or infinite, by field name. JSON cannot carry
    /// such values (they would arrive as `null` and fail to decode), so they are
    /// refused before publishing.
    pub fn non_finite_field(&self) -> Option<&'static str> {
        let bad = |x: f64| !x.is_finite();
        let bad_thresholds = |t: &Option<Thresholds>| {
            t.is_some_and(|t| t.warn.is_some_and(bad) || t.critical.is_some_and(bad))
        };
        match self {
            WidgetValue::Number(n) if bad(n.value) => Some("value"),
            WidgetValue::Number(n) if n.previous.is_some_and(bad) => Some("previous"),
            WidgetValue::Number(n) if bad_thresholds(&n.thresholds) => Some("thresholds"),
            WidgetValue::Gauge(g) if bad(g.value) => Some("value"),
            WidgetValue::Gauge(g) if bad(g.min) => Some("min"),
            WidgetValue::Gauge(g) if bad(g.max) => Some("max"),
            WidgetValue::Gauge(g) if bad_thresholds(&g.thresholds) => Some("thresholds"),
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

    /// Folds an update made at `at` into this value. Series and logs append
    /// (trimmed to their bounds), a number adds its new value to its recent ones;
    /// every other kind, or a change of kind, replaces the value. The server's
    /// store and the SPA's reducer both use this, so they cannot disagree.
    pub fn merge(&mut self, update: WidgetValue, at: i64) {
        match (self, update) {
            (WidgetValue::Series(current), WidgetValue::Series(update)) => current.append(update),
            (WidgetValue::Log(current), WidgetValue::Log(update)) => current.append(update),
            (WidgetValue::Number(current), WidgetValue::Number(update)) => {
                let mut recent = std::mem::take(&mut current.recent);
                *current = update;
                recent.push(Point(at, current.value));
                current.recent = recent;
                current.trim();
            }
            (current, update) => {
                *current = update;
                current.start(at);
            }
        }
    }

    /// Makes a value that is starting a widget (or replacing one of another
    /// kind) obey its own bounds.
    fn start(&mut self, at: i64) {
        match self {
            WidgetValue::Series(series) => series.trim(),
            WidgetValue::Log(log) => log.trim(),
            WidgetValue::Number(number) => {
                number.recent.push(Point(at, number.value));
                number.trim();
            }
            _ => {}
        }
    }
}

impl Number {
    fn trim(&mut self) {
        let excess = self.recent.len().saturating_sub(NUMBER_RECENT);
        self.recent.drain(..excess);
    }
}

impl Log {
    fn append(&mut self, update: Log) {
        self.max_lines = update.max_lines;
        self.lines.extend(update.lines);
        self.trim();
    }

    /// Drops the oldest lines beyond `max_lines`.
    pub fn trim(&mut self) {
        let excess = self.lines.len().saturating_sub(self.max_lines);
        self.lines.drain(..excess);
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
    pub fn new(update: Update) -> Widget {
        let mut value = update.value;
        value.start(update.at);
        Widget {
            id: update.id,
            title: update.title,
            value,
            updated_at: update.at,
            expect_every: update.expect_every,
        }
    }

    /// Applies an update's value, title, staleness bound and time to this widget.
    /// Title and `expect_every` are kept when the update leaves them out.
    pub fn apply(&mut self, update: Update) {
        if update.title.is_some() {
            self.title = update.title;
        }
        if update.expect_every.is_some() {
            self.expect_every = update.expect_every;
        }
        self.value.merge(update.value, update.at);
        self.updated_at = update.at;
    }
}
