//! Publish request bodies: JSON in, a typed widget value out, or an error that
//! names the field. Pure (no I/O, the time is passed in), so the rules are
//! unit- and property-tested directly. `docs/api.md` documents them.
//!
//! A body is a JSON object: the value's own fields, plus the optional common
//! fields `kind`, `title` and `expect_every`. The kind is, in this order: the
//! explicit `kind`; the kind the widget is declared with in a dashboard; the
//! kind the widget has now, if the body fits it; or inferred from the fields
//! (see [`infer_kind`]). Settings a body leaves out (a unit, a gauge's range,
//! a series' window) keep the widget's current ones: see [`crate::change`].

use std::collections::HashMap;

use actix_web::http::StatusCode;
use indexmap::IndexMap;
use protocol::{
    Gauge, List, ListRow, Log, LogLine, Number, Point, Series, SeriesLine, Status, StatusLevel,
    Text, Thresholds, Update, WidgetId, WidgetKind, WidgetValue, DEFAULT_LOG_LINES,
    DEFAULT_SERIES_WINDOW,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::ApiError;
use crate::change::{Change, Omitted};

/// One widget change, as a publisher asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub title: Option<String>,
    pub value: WidgetValue,
    pub expect_every: Option<u32>,
    /// Settings left out, which keep the widget's current ones.
    pub omitted: Omitted,
}

impl Publication {
    /// The change this makes to widget `id` at `at`.
    pub fn into_change(self, id: WidgetId, at: i64) -> Change {
        Change {
            update: Update {
                id,
                title: self.title,
                value: self.value,
                at,
                expect_every: self.expect_every,
            },
            omitted: self.omitted,
        }
    }
}

/// What the server knows of a widget's kind before parsing a body for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindHints {
    /// Declared in a dashboard: a body may leave `kind` out, and must match.
    pub declared: Option<WidgetKind>,
    /// The kind its value has now: preferred to inference when the body fits.
    pub current: Option<WidgetKind>,
}

/// Limits on what one update may hold: they bound the memory of the store and
/// of every viewer's snapshot, whatever the body size limit is.
pub mod limits {
    pub const TITLE_CHARS: usize = 200;
    pub const UNIT_CHARS: usize = 32;
    pub const TEXT_CHARS: usize = 10_000;
    pub const MESSAGE_CHARS: usize = 1_000;
    pub const LABEL_CHARS: usize = 200;
    pub const LOG_LINE_CHARS: usize = 2_000;
    pub const LINE_NAME_CHARS: usize = 64;
    pub const LIST_ROWS: usize = 100;
    pub const SERIES_LINES: usize = 16;
    pub const SERIES_WINDOW: usize = 10_000;
    pub const LOG_LINES: usize = 1_000;
    /// 30 days.
    pub const EXPECT_EVERY_SECONDS: u32 = 30 * 86_400;
    pub const BATCH_UPDATES: usize = 1_000;
}

/// Parses the body of `POST /api/widgets/{id}`; `now` stamps points and log
/// lines that carry no time.
pub fn parse_publication(body: &[u8], hints: KindHints, now: i64) -> Result<Publication, ApiError> {
    let fields = parse_object(body)?;
    publication(fields, hints, now).map_err(|e| e.into_api_error(""))
}

/// Parses the body of `POST /api/batch`: `{"updates": [{"id": ..., ...}, ...]}`,
/// each item a publish body plus the widget's `id`.
pub fn parse_batch(
    body: &[u8],
    hints: impl Fn(&WidgetId) -> KindHints,
    now: i64,
) -> Result<Vec<(WidgetId, Publication)>, ApiError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        updates: Vec<Map<String, Value>>,
    }
    let batch: Batch = from_fields(parse_object(body)?).map_err(|e| e.into_api_error(""))?;
    if batch.updates.is_empty() || batch.updates.len() > limits::BATCH_UPDATES {
        return Err(FieldError::new(
            "updates",
            format!("must hold 1 to {} updates", limits::BATCH_UPDATES),
        )
        .into_api_error(""));
    }
    // An item's current kind is the one an earlier item gave the widget, so a
    // batch does what its updates would do one by one.
    let mut kinds_so_far: HashMap<WidgetId, WidgetKind> = HashMap::new();
    batch
        .updates
        .into_iter()
        .enumerate()
        .map(|(index, mut fields)| {
            let prefix = format!("updates[{index}].");
            let id = match fields.shift_remove("id") {
                Some(Value::String(id)) => WidgetId::parse(id).map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_id",
                        format!("`{prefix}id`: {e}"),
                    )
                })?,
                Some(_) => {
                    return Err(FieldError::new("id", "must be a string").into_api_error(&prefix))
                }
                None => return Err(FieldError::new("id", "is required").into_api_error(&prefix)),
            };
            let mut hints = hints(&id);
            if let Some(kind) = kinds_so_far.get(&id) {
                hints.current = Some(*kind);
            }
            let publication =
                publication(fields, hints, now).map_err(|e| e.into_api_error(&prefix))?;
            if let Some(kind) = publication.value.kind() {
                kinds_so_far.insert(id.clone(), kind);
            }
            Ok((id, publication))
        })
        .collect()
}

/// Malformed JSON is a 400; well-formed JSON that is not an object, a 422.
fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: Value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        // JSON has no NaN or infinity; a number too large for an f64 is the
        // only way to ask for one, and it is a value error.
        if inner.to_string().starts_with("number out of range") {
            FieldError::new(path, "must be a finite number").into_api_error("")
        } else {
            invalid_json(inner)
        }
    })?;
    deserializer.end().map_err(invalid_json)?;
    match value {
        Value::Object(fields) => Ok(fields),
        _ => Err(FieldError::new(".", "the body must be a JSON object").into_api_error("")),
    }
}

fn invalid_json(error: serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_json",
        format!("the body is not valid JSON: {error}"),
    )
}

/// A 422 that names the field at fault, relative to the object being parsed.
#[derive(Debug)]
struct FieldError {
    code: &'static str,
    field: String,
    problem: String,
}

impl FieldError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> FieldError {
        FieldError {
            code: "invalid_value",
            field: field.into(),
            problem: problem.into(),
        }
    }

    fn with_code(mut self, code: &'static str) -> FieldError {
        self.code = code;
        self
    }

    fn into_api_error(self, prefix: &str) -> ApiError {
        let message = match (self.field.as_str(), prefix.trim_end_matches('.')) {
            (".", "") => self.problem,
            (".", item) => format!("`{item}`: {}", self.problem),
            (field, _) => format!("`{prefix}{field}`: {}", self.problem),
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, self.code, message)
    }
}

fn publication(
    mut fields: Map<String, Value>,
    hints: KindHints,
    now: i64,
) -> Result<Publication, FieldError> {
    // A field set to null is a field left out, for every rule below.
    fields.retain(|_, value| !value.is_null());
    let explicit: Option<String> = take(&mut fields, "kind")?;
    let title: Option<String> = take(&mut fields, "title")?;
    let expect_every: Option<u32> = take(&mut fields, "expect_every")?;
    check_chars("title", title.as_deref(), limits::TITLE_CHARS)?;
    if let Some(seconds) = expect_every {
        if !(1..=limits::EXPECT_EVERY_SECONDS).contains(&seconds) {
            return Err(FieldError::new(
                "expect_every",
                format!("must be 1 to {} seconds", limits::EXPECT_EVERY_SECONDS),
            ));
        }
    }
    let explicit = explicit
        .map(|name| {
            WidgetKind::parse(&name).ok_or_else(|| {
                FieldError::new("kind", format!("unknown kind {name:?}; {}", KINDS_HINT))
                    .with_code("unknown_kind")
            })
        })
        .transpose()?;
    let (value, omitted) = match (explicit, hints.declared) {
        (Some(explicit), Some(declared)) if explicit != declared => {
            return Err(FieldError::new(
                "kind",
                format!("this widget is declared as a {declared}, not a {explicit}"),
            )
            .with_code("kind_mismatch"))
        }
        (Some(kind), _) | (None, Some(kind)) => value_of(kind, fields, now)?,
        (None, None) => {
            let fitting_current = hints
                .current
                .and_then(|kind| value_of(kind, fields.clone(), now).ok());
            match fitting_current {
                Some(parsed) => parsed,
                None => value_of(infer_kind(&fields)?, fields, now)?,
            }
        }
    };
    Ok(Publication {
        title,
        value,
        expect_every,
        omitted,
    })
}

fn value_of(
    kind: WidgetKind,
    fields: Map<String, Value>,
    now: i64,
) -> Result<(WidgetValue, Omitted), FieldError> {
    let settled = |value| (value, Omitted::default());
    match kind {
        WidgetKind::Number => from_fields::<NumberBody>(fields)?.into_value(),
        WidgetKind::Gauge => from_fields::<GaugeBody>(fields)?.into_value(),
        WidgetKind::Series => from_fields::<SeriesBody>(fields)?.into_value(now),
        WidgetKind::List => from_fields::<ListBody>(fields)?.into_value().map(settled),
        WidgetKind::Status => from_fields::<StatusBody>(fields)?.into_value().map(settled),
        WidgetKind::Text => from_fields::<TextBody>(fields)?.into_value().map(settled),
        WidgetKind::Log => from_fields::<LogBody>(fields)?.into_value(now),
    }
}

const KINDS_HINT: &str = "use one of number, gauge, series, list, status, text, log";

/// The kind a body without `kind` is for, from the fields only one kind has:
///
/// | field | kind |
/// |---|---|
/// | `level`, `message` | status |
/// | `rows` | list |
/// | `text` | text |
/// | `line`, `max_lines`, or `lines` holding strings | log |
/// | `points`, `window`, or `lines` holding an object | series |
/// | `min`, `max` | gauge |
/// | `previous`, or else a numeric `value` | number |
///
/// Fields of two kinds at once are ambiguous: the publisher must say `kind`.
fn infer_kind(fields: &Map<String, Value>) -> Result<WidgetKind, FieldError> {
    let mut found: Vec<WidgetKind> = Vec::new();
    for (field, value) in fields {
        let kind = match field.as_str() {
            "level" | "message" => WidgetKind::Status,
            "rows" => WidgetKind::List,
            "text" => WidgetKind::Text,
            "line" | "max_lines" => WidgetKind::Log,
            "lines" if is_array_of_strings(value) => WidgetKind::Log,
            "points" | "window" | "lines" => WidgetKind::Series,
            "min" | "max" => WidgetKind::Gauge,
            "previous" => WidgetKind::Number,
            _ => continue,
        };
        if !found.contains(&kind) {
            found.push(kind);
        }
    }
    match found.as_slice() {
        [kind] => Ok(*kind),
        [] => match fields.get("value") {
            Some(value) if value.is_number() => Ok(WidgetKind::Number),
            Some(_) => Err(FieldError::new(
                "value",
                "must be a number (a text widget takes `text`)",
            )),
            None => Err(FieldError::new(
                "kind",
                format!("is required: the fields do not tell the kind; {KINDS_HINT}"),
            )
            .with_code("unknown_kind")),
        },
        several => Err(FieldError::new(
            "kind",
            format!(
                "is required: the fields belong to different kinds ({})",
                several
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_code("unknown_kind")),
    }
}

fn is_array_of_strings(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| !items.is_empty() && items.iter().all(Value::is_string))
}

/// Removes and parses one optional common field.
fn take<T: DeserializeOwned>(
    fields: &mut Map<String, Value>,
    field: &str,
) -> Result<Option<T>, FieldError> {
    match fields.shift_remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| FieldError::new(field, plain(&e.to_string()))),
    }
}

/// Parses the rest of the fields into a kind's body, naming the field at fault.
fn from_fields<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|error| {
        let field = error.path().to_string();
        FieldError::new(field, plain(&error.into_inner().to_string()))
    })
}

/// serde's messages without the position suffix, which is meaningless here.
fn plain(message: &str) -> String {
    match message.find(" at line ") {
        Some(end) => message[..end].to_owned(),
        None => message.to_owned(),
    }
}

fn check_chars(field: &str, text: Option<&str>, max: usize) -> Result<(), FieldError> {
    match text {
        Some(text) if text.chars().count() > max => Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        )),
        _ => Ok(()),
    }
}

fn check_len<T>(field: &str, items: &[T], min: usize, max: usize) -> Result<(), FieldError> {
    if (min..=max).contains(&items.len()) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("must hold {min} to {max} items"),
        ))
    }
}

/// The publish body of each kind, for the OpenAPI document. Parsing does not
/// go through this type (see [`parse_publication`]): it names the bodies the
/// parser uses, so the document cannot drift from them.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum PublishBody {
    Number(NumberBody),
    Gauge(GaugeBody),
    Series(SeriesBody),
    List(ListBody),
    Status(StatusBody),
    Text(TextBody),
    Log(LogBody),
}

/// `POST /api/batch`: each update is a publish body plus the widget's `id`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BatchBody {
    #[schema(value_type = Vec<Object>)]
    updates: Vec<()>,
}

/// `{"warn": 70, "critical": 90}`, in a publish body and in the config file.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsBody {
    warn: Option<f64>,
    critical: Option<f64>,
}

impl From<ThresholdsBody> for Thresholds {
    fn from(body: ThresholdsBody) -> Thresholds {
        Thresholds {
            warn: body.warn,
            critical: body.critical,
        }
    }
}

/// `{"value": 42, "unit": "ms", "previous": 40, "thresholds": {...}}`
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberBody {
    value: f64,
    unit: Option<String>,
    /// Defaults to the widget's current value.
    previous: Option<f64>,
    thresholds: Option<ThresholdsBody>,
}

impl NumberBody {
    fn into_value(self) -> Result<(WidgetValue, Omitted), FieldError> {
        check_chars("unit", self.unit.as_deref(), limits::UNIT_CHARS)?;
        let omitted = Omitted {
            unit: self.unit.is_none(),
            thresholds: self.thresholds.is_none(),
            ..Omitted::default()
        };
        let value = WidgetValue::Number(Number {
            value: self.value,
            unit: self.unit,
            previous: self.previous,
            thresholds: self.thresholds.map(Into::into),
            recent: Vec::new(),
        });
        Ok((value, omitted))
    }
}

/// `{"value": 7, "min": 0, "max": 10, "unit": "jobs", "thresholds": {...}}`
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GaugeBody {
    value: f64,
    min: Option<f64>,
    max: Option<f64>,
    unit: Option<String>,
    thresholds: Option<ThresholdsBody>,
}

impl GaugeBody {
    /// The range defaults to 0–100 for a new gauge; the hub checks it once the
    /// widget's own range has filled what was left out.
    fn into_value(self) -> Result<(WidgetValue, Omitted), FieldError> {
        check_chars("unit", self.unit.as_deref(), limits::UNIT_CHARS)?;
        if let (Some(min), Some(max)) = (self.min, self.max) {
            if max <= min {
                return Err(FieldError::new(
                    "max",
                    format!("must be greater than `min` ({min})"),
                ));
            }
        }
        let omitted = Omitted {
            unit: self.unit.is_none(),
            thresholds: self.thresholds.is_none(),
            min: self.min.is_none(),
            max: self.max.is_none(),
            ..Omitted::default()
        };
        let value = WidgetValue::Gauge(Gauge {
            value: self.value,
            min: self.min.unwrap_or(0.0),
            max: self.max.unwrap_or(100.0),
            unit: self.unit,
            thresholds: self.thresholds.map(Into::into),
        });
        Ok((value, omitted))
    }
}

/// Points to append: `{"lines": {"orders": [[t, v], v, ...]}}`, or for one line
/// named `value`, `{"points": [...]}` or `{"value": v}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesBody {
    /// Points per line name; a point is `[t, v]` (t in ms since 1970) or a
    /// bare number, stamped with the server's time.
    #[schema(value_type = Option<HashMap<String, Vec<Object>>>)]
    lines: Option<IndexMap<String, Vec<PointBody>>>,
    /// Points of one line named `value`.
    #[schema(value_type = Option<Vec<Object>>)]
    points: Option<Vec<PointBody>>,
    /// One point, now, on a line named `value`.
    value: Option<f64>,
    unit: Option<String>,
    /// Points each line keeps (default 600).
    window: Option<usize>,
}

impl SeriesBody {
    fn into_value(self, now: i64) -> Result<(WidgetValue, Omitted), FieldError> {
        let omitted = Omitted {
            unit: self.unit.is_none(),
            window: self.window.is_none(),
            ..Omitted::default()
        };
        check_chars("unit", self.unit.as_deref(), limits::UNIT_CHARS)?;
        let window = self.window.unwrap_or(DEFAULT_SERIES_WINDOW);
        if !(2..=limits::SERIES_WINDOW).contains(&window) {
            return Err(FieldError::new(
                "window",
                format!("must be 2 to {} points", limits::SERIES_WINDOW),
            ));
        }
        // Where each line came from, for errors: `lines.<name>` or `points`.
        let (lines, shorthand) = match (self.lines, self.points, self.value) {
            (Some(lines), None, None) => (lines, None),
            (None, Some(points), None) => (
                IndexMap::from([("value".to_owned(), points)]),
                Some("points"),
            ),
            (None, None, Some(value)) => (
                IndexMap::from([("value".to_owned(), vec![PointBody::Now(value)])]),
                Some("value"),
            ),
            _ => {
                return Err(FieldError::new(
                    "lines",
                    "give exactly one of `lines`, `points` or `value`",
                ))
            }
        };
        if lines.is_empty() || lines.len() > limits::SERIES_LINES {
            return Err(FieldError::new(
                "lines",
                format!("must hold 1 to {} lines", limits::SERIES_LINES),
            ));
        }
        let lines = lines
            .into_iter()
            .map(|(name, points)| {
                let field = shorthand.map_or_else(|| format!("lines.{name}"), str::to_owned);
                if name.is_empty() || name.chars().count() > limits::LINE_NAME_CHARS {
                    return Err(FieldError::new(
                        field,
                        format!(
                            "a line name must be 1 to {} characters",
                            limits::LINE_NAME_CHARS
                        ),
                    ));
                }
                // Without `window`, the widget's own applies; the hub trims to it.
                let most = if omitted.window {
                    limits::SERIES_WINDOW
                } else {
                    window
                };
                check_len(&field, &points, 1, most)?;
                let points = points
                    .into_iter()
                    .enumerate()
                    .map(|(i, point)| {
                        point
                            .at(now)
                            .map_err(|p| FieldError::new(format!("{field}[{i}]"), p))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(SeriesLine { name, points })
            })
            .collect::<Result<_, _>>()?;
        let value = WidgetValue::Series(Series {
            lines,
            window,
            unit: self.unit,
        });
        Ok((value, omitted))
    }
}

/// A series point: `[t, v]` with `t` in milliseconds since the Unix epoch, or
/// a bare `v`, stamped with the time the server accepted it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PointBody {
    At(f64, f64),
    Now(f64),
}

/// Latest time a point may carry: the end of year 9999.
const MAX_TIME_MS: f64 = 253_402_300_799_999.0;

impl PointBody {
    fn at(self, now: i64) -> Result<Point, String> {
        match self {
            PointBody::Now(v) => Ok(Point(now, v)),
            PointBody::At(t, v) if (0.0..=MAX_TIME_MS).contains(&t) => Ok(Point(t as i64, v)),
            PointBody::At(..) => {
                Err("the time must be milliseconds since 1970 (0 to 253402300799999)".to_owned())
            }
        }
    }
}

impl<'de> Deserialize<'de> for PointBody {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = PointBody;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a point: [t, v] or a number")
            }
            fn visit_f64<E>(self, v: f64) -> Result<PointBody, E> {
                Ok(PointBody::Now(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<PointBody, E> {
                Ok(PointBody::Now(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<PointBody, E> {
                Ok(PointBody::Now(v as f64))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<PointBody, A::Error> {
                use serde::de::Error;
                let t: f64 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let v: f64 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(3, &self));
                }
                Ok(PointBody::At(t, v))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `{"rows": [{"label": "/home", "value": "1,204"}, ...]}`; a numeric value is
/// shown in its shortest form (`1.50` as `1.5`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBody {
    rows: Vec<RowBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowBody {
    label: String,
    /// A string, or a number (shown in its shortest form).
    #[schema(value_type = String)]
    value: StringOrNumber,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum StringOrNumber {
    String(String),
    Number(serde_json::Number),
}

impl ListBody {
    fn into_value(self) -> Result<WidgetValue, FieldError> {
        check_len("rows", &self.rows, 0, limits::LIST_ROWS)?;
        let rows = self
            .rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let value = match row.value {
                    StringOrNumber::String(s) => s,
                    StringOrNumber::Number(n) => n.to_string(),
                };
                check_chars(
                    &format!("rows[{i}].label"),
                    Some(&row.label),
                    limits::LABEL_CHARS,
                )?;
                check_chars(
                    &format!("rows[{i}].value"),
                    Some(&value),
                    limits::LABEL_CHARS,
                )?;
                Ok(ListRow {
                    label: row.label,
                    value,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(WidgetValue::List(List { rows }))
    }
}

/// `{"level": "ok" | "warn" | "critical" | "unknown", "message": "..."}`
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    level: StatusLevel,
    message: Option<String>,
}

impl StatusBody {
    fn into_value(self) -> Result<WidgetValue, FieldError> {
        check_chars("message", self.message.as_deref(), limits::MESSAGE_CHARS)?;
        Ok(WidgetValue::Status(Status {
            level: self.level,
            message: self.message,
        }))
    }
}

/// `{"text": "..."}`
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    text: String,
}

impl TextBody {
    fn into_value(self) -> Result<WidgetValue, FieldError> {
        check_chars("text", Some(&self.text), limits::TEXT_CHARS)?;
        Ok(WidgetValue::Text(Text { text: self.text }))
    }
}

/// Lines to append: `{"line": "..."}` or `{"lines": ["...", ...]}`, and how
/// many the widget keeps (`max_lines`, default 200).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogBody {
    line: Option<String>,
    lines: Option<Vec<String>>,
    max_lines: Option<usize>,
}

impl LogBody {
    fn into_value(self, now: i64) -> Result<(WidgetValue, Omitted), FieldError> {
        let omitted = Omitted {
            max_lines: self.max_lines.is_none(),
            ..Omitted::default()
        };
        let max_lines = self.max_lines.unwrap_or(DEFAULT_LOG_LINES);
        if !(1..=limits::LOG_LINES).contains(&max_lines) {
            return Err(FieldError::new(
                "max_lines",
                format!("must be 1 to {}", limits::LOG_LINES),
            ));
        }
        let (field, texts) = match (self.line, self.lines) {
            (Some(line), None) => ("line", vec![line]),
            (None, Some(lines)) => ("lines", lines),
            _ => {
                return Err(FieldError::new(
                    "lines",
                    "give exactly one of `line` or `lines`",
                ))
            }
        };
        // Without `max_lines`, the widget's own applies; the hub trims to it.
        let most = if omitted.max_lines {
            limits::LOG_LINES
        } else {
            max_lines
        };
        check_len(field, &texts, 1, most)?;
        let lines = texts
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                let name = match field {
                    "line" => field.to_owned(),
                    _ => format!("{field}[{i}]"),
                };
                check_chars(&name, Some(&text), limits::LOG_LINE_CHARS)?;
                Ok(LogLine { at: now, text })
            })
            .collect::<Result<_, _>>()?;
        Ok((WidgetValue::Log(Log { lines, max_lines }), omitted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(kind: WidgetKind) -> KindHints {
        KindHints {
            declared: Some(kind),
            current: None,
        }
    }

    fn current(kind: WidgetKind) -> KindHints {
        KindHints {
            declared: None,
            current: Some(kind),
        }
    }

    #[test]
    fn the_current_kind_wins_over_inference_when_the_body_fits_it() {
        let append = parse_publication(br#"{"value": 9}"#, current(WidgetKind::Series), 7).unwrap();
        assert_eq!(append.value.kind(), Some(WidgetKind::Series));
        let gauge = parse_publication(br#"{"value": 9}"#, current(WidgetKind::Gauge), 7).unwrap();
        assert_eq!(gauge.value.kind(), Some(WidgetKind::Gauge));
        assert!(gauge.omitted.min && gauge.omitted.max && gauge.omitted.unit);
        // A body that does not fit the current kind switches the widget's kind.
        let text = parse_publication(br#"{"text": "x"}"#, current(WidgetKind::Number), 7).unwrap();
        assert_eq!(text.value.kind(), Some(WidgetKind::Text));
    }

    #[test]
    fn records_which_settings_were_left_out() {
        let series =
            parse_publication(br#"{"points": [1], "unit": "ms"}"#, KindHints::default(), 7)
                .unwrap();
        assert!(series.omitted.window && !series.omitted.unit);
        let log = parse_publication(br#"{"line": "a", "max_lines": 5}"#, KindHints::default(), 7)
            .unwrap();
        assert!(!log.omitted.max_lines);
    }

    fn kind_of(json: &str) -> Result<WidgetKind, String> {
        parse_publication(json.as_bytes(), KindHints::default(), 7)
            .map(|p| p.value.kind().expect("a known kind"))
            .map_err(|e| format!("{} {}: {}", e.status.as_u16(), e.code, e.message))
    }

    #[test]
    fn infers_the_kind_from_the_fields_only_one_kind_has() {
        use WidgetKind::*;
        for (json, kind) in [
            (r#"{"value": 42}"#, Number),
            (r#"{"value": 42, "unit": "ms", "title": "T"}"#, Number),
            (r#"{"value": 42, "previous": 40}"#, Number),
            (r#"{"value": 4, "max": 10}"#, Gauge),
            (r#"{"value": 4, "min": 1}"#, Gauge),
            (r#"{"points": [[1, 2], 3]}"#, Series),
            (r#"{"lines": {"a": [1]}}"#, Series),
            (r#"{"window": 10, "value": 1}"#, Series),
            (r#"{"rows": []}"#, List),
            (r#"{"level": "ok"}"#, Status),
            (r#"{"message": "hm", "level": "warn"}"#, Status),
            (r#"{"text": "hi"}"#, Text),
            (r#"{"line": "deployed"}"#, Log),
            (r#"{"lines": ["a", "b"]}"#, Log),
        ] {
            assert_eq!(kind_of(json), Ok(kind), "{json}");
        }
    }

    #[test]
    fn the_explicit_then_the_declared_kind_win_over_inference() {
        let body = br#"{"value": 5}"#;
        let series = parse_publication(body, declared(WidgetKind::Series), 7).unwrap();
        assert_eq!(
            series.value,
            WidgetValue::Series(Series {
                lines: vec![SeriesLine {
                    name: "value".into(),
                    points: vec![Point(7, 5.0)],
                }],
                window: DEFAULT_SERIES_WINDOW,
                unit: None,
            })
        );
        let gauge = parse_publication(br#"{"kind": "gauge", "value": 5}"#, KindHints::default(), 7)
            .unwrap();
        assert_eq!(gauge.value.kind(), Some(WidgetKind::Gauge));
        let mismatch = parse_publication(
            br#"{"kind": "gauge", "value": 5}"#,
            declared(WidgetKind::Number),
            7,
        )
        .unwrap_err();
        assert_eq!(
            (mismatch.status.as_u16(), mismatch.code),
            (422, "kind_mismatch")
        );
    }

    #[test]
    fn errors_name_the_field_and_tell_json_from_value_problems() {
        for (json, status, code, mentions) in [
            ("{", 400, "invalid_json", "JSON"),
            (r#"{"value": 1} {}"#, 400, "invalid_json", "trailing"),
            ("[1]", 422, "invalid_value", "object"),
            (r#"{"value": 1e999}"#, 422, "invalid_value", "`value`"),
            (r#"{"value": "x"}"#, 422, "invalid_value", "`value`"),
            (
                r#"{"rows": [{"label": "a"}]}"#,
                422,
                "invalid_value",
                "`rows[0]`: missing field `value`",
            ),
            (
                r#"{"level": "ok", "message": null, "x": 1}"#,
                422,
                "invalid_value",
                "`x`",
            ),
            (
                r#"{"points": [[-1, 5]]}"#,
                422,
                "invalid_value",
                "`points[0]`",
            ),
            (
                r#"{"kind": "status"}"#,
                422,
                "invalid_value",
                "missing field `level`",
            ),
            (r#"{"kind": "unknown"}"#, 422, "unknown_kind", "unknown"),
            (
                r#"{"text": "a", "level": "ok"}"#,
                422,
                "unknown_kind",
                "different kinds",
            ),
            (r#"{"kind": "hologram"}"#, 422, "unknown_kind", "hologram"),
            (
                r#"{"value": 1, "vlaue": 2}"#,
                422,
                "invalid_value",
                "`vlaue`",
            ),
            (
                r#"{"kind": "gauge", "value": 1, "min": 2, "max": 2}"#,
                422,
                "invalid_value",
                "`max`",
            ),
            (
                r#"{"lines": {"a": [[1, "x"]]}}"#,
                422,
                "invalid_value",
                "`lines.a[0][1]`",
            ),
            (
                r#"{"lines": {"a": [[-1, 2]]}}"#,
                422,
                "invalid_value",
                "`lines.a[0]`",
            ),
            (
                r#"{"kind": "log", "lines": []}"#,
                422,
                "invalid_value",
                "`lines`",
            ),
            (r#"{"level": "purple"}"#, 422, "invalid_value", "`level`"),
            (
                r#"{"value": 1, "expect_every": 0}"#,
                422,
                "invalid_value",
                "`expect_every`",
            ),
            (
                r#"{"value": 1, "title": 5}"#,
                422,
                "invalid_value",
                "`title`",
            ),
        ] {
            let error = parse_publication(json.as_bytes(), KindHints::default(), 7).unwrap_err();
            assert_eq!(
                (error.status.as_u16(), error.code),
                (status, code),
                "{json}: {}",
                error.message
            );
            assert!(
                error.message.contains(mentions),
                "{json}: {}",
                error.message
            );
        }
    }

    #[test]
    fn a_batch_names_the_item_at_fault() {
        let error = parse_batch(
            br#"{"updates": [{"id": "a", "value": 1}, {"id": "b", "text": 5}]}"#,
            |_| KindHints::default(),
            7,
        )
        .unwrap_err();
        assert!(
            error.message.contains("`updates[1].text`"),
            "{}",
            error.message
        );
        let bad_id = parse_batch(
            br#"{"updates": [{"id": "A", "value": 1}]}"#,
            |_| KindHints::default(),
            7,
        );
        assert_eq!(bad_id.unwrap_err().code, "invalid_id");
        let missing = parse_batch(
            br#"{"updates": [{"id": "a", "kind": "status"}]}"#,
            |_| KindHints::default(),
            7,
        )
        .unwrap_err();
        assert_eq!(missing.message, "`updates[0]`: missing field `level`");
        let empty = parse_batch(br#"{"updates": []}"#, |_| KindHints::default(), 7).unwrap_err();
        assert!(empty.message.contains("`updates`"), "{}", empty.message);
    }
}
