//! Publish rules: a body, JSON in, a typed widget value out, or an error that
//! names the field. Pure (no I/O, the time is passed in) and free of HTTP, so
//! the rules are unit- and property-tested directly and every way in (the
//! API, the fuzz targets) shares them; `api::body` only maps [`PublishError`]
//! to a response. `docs/api.md` documents them.
//!
//! A body is a JSON object: the value's own fields, plus the optional common
//! fields `kind`, `title` and `expect_every`. The kind is, in this order: the
//! explicit `kind`; the kind the widget is declared with in a dashboard; the
//! kind the widget has now, if the body fits it; or inferred from the fields
//! (see [`infer_kind`]). Settings a body leaves out (a unit, a gauge's range,
//! a series' window) keep the widget's current ones: see [`change`].
//!
//! Each kind's module holds its body, how it becomes a value, and its part of
//! folding a change into the widget; this one, what is common to all kinds.

use std::collections::HashMap;

use protocol::{Thresholds, Update, WidgetId, WidgetKind, WidgetValue};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub mod change;
mod gauge;
pub mod limits;
mod list;
mod log;
mod number;
mod series;
mod status;
mod text;

pub use change::{Change, Conflict, Omitted};
pub use gauge::GaugeBody;
pub use list::{ListBody, RowBody, StringOrNumber};
pub use log::LogBody;
pub use number::NumberBody;
pub use series::{PointBody, SeriesBody};
pub use status::StatusBody;
pub use text::TextBody;

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

/// Why a body was refused: a stable code, a message that names the field at
/// fault, and which kind of problem it is, which the API answers with a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PublishError {
    pub problem: Problem,
    /// Stable and machine-readable: `invalid_json`, `invalid_id`,
    /// `invalid_value`, `unknown_kind` or `kind_mismatch`.
    pub code: &'static str,
    pub message: String,
}

/// Whether the body could not be read at all or said something invalid: the
/// API answers the first with 400, the second with 422.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Not JSON, or a widget id that is not one (as in the path, a 400).
    Syntax,
    /// Well-formed, but a value breaks a rule or the kind cannot be told.
    Semantic,
}

/// Parses the body of `POST /api/widgets/{id}`; `now` stamps points and log
/// lines that carry no time.
pub fn parse_publication(
    body: &[u8],
    hints: KindHints,
    now: i64,
) -> Result<Publication, PublishError> {
    let fields = parse_object(body)?;
    publication(fields, hints, now).map_err(|e| e.into_publish_error(""))
}

/// Parses the body of `POST /api/batch`: `{"updates": [{"id": ..., ...}, ...]}`,
/// each item a publish body plus the widget's `id`.
pub fn parse_batch(
    body: &[u8],
    hints: impl Fn(&WidgetId) -> KindHints,
    now: i64,
) -> Result<Vec<(WidgetId, Publication)>, PublishError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        updates: Vec<Map<String, Value>>,
    }
    let batch: Batch = from_fields(parse_object(body)?).map_err(|e| e.into_publish_error(""))?;
    if batch.updates.is_empty() || batch.updates.len() > limits::BATCH_UPDATES {
        return Err(FieldError::new(
            "updates",
            format!("must hold 1 to {} updates", limits::BATCH_UPDATES),
        )
        .into_publish_error(""));
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
                Some(Value::String(id)) => WidgetId::parse(id).map_err(|e| PublishError {
                    problem: Problem::Syntax,
                    code: "invalid_id",
                    message: format!("`{prefix}id`: {e}"),
                })?,
                Some(_) => {
                    return Err(
                        FieldError::new("id", "must be a string").into_publish_error(&prefix)
                    )
                }
                None => {
                    return Err(FieldError::new("id", "is required").into_publish_error(&prefix))
                }
            };
            let mut hints = hints(&id);
            if let Some(kind) = kinds_so_far.get(&id) {
                hints.current = Some(*kind);
            }
            let publication =
                publication(fields, hints, now).map_err(|e| e.into_publish_error(&prefix))?;
            if let Some(kind) = publication.value.kind() {
                kinds_so_far.insert(id.clone(), kind);
            }
            Ok((id, publication))
        })
        .collect()
}

/// Malformed JSON is a syntax problem; well-formed JSON that is not an object,
/// a semantic one.
fn parse_object(body: &[u8]) -> Result<Map<String, Value>, PublishError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: Value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        // JSON has no NaN or infinity; a number too large for an f64 is the
        // only way to ask for one, and it is a value error.
        if inner.to_string().starts_with("number out of range") {
            FieldError::new(path, "must be a finite number").into_publish_error("")
        } else {
            invalid_json(inner)
        }
    })?;
    deserializer.end().map_err(invalid_json)?;
    match value {
        Value::Object(fields) => Ok(fields),
        _ => Err(FieldError::new(".", "the body must be a JSON object").into_publish_error("")),
    }
}

fn invalid_json(error: serde_json::Error) -> PublishError {
    PublishError {
        problem: Problem::Syntax,
        code: "invalid_json",
        message: format!("the body is not valid JSON: {error}"),
    }
}

/// A semantic problem that names the field at fault, relative to the object
/// being parsed.
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

    fn into_publish_error(self, prefix: &str) -> PublishError {
        let message = match (self.field.as_str(), prefix.trim_end_matches('.')) {
            (".", "") => self.problem,
            (".", item) => format!("`{item}`: {}", self.problem),
            (field, _) => format!("`{prefix}{field}`: {}", self.problem),
        };
        PublishError {
            problem: Problem::Semantic,
            code: self.code,
            message,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Point, Series, SeriesLine, DEFAULT_SERIES_WINDOW};
    use Problem::{Semantic, Syntax};

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
            .map_err(|e| format!("{:?} {}: {}", e.problem, e.code, e.message))
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
            (mismatch.problem, mismatch.code),
            (Semantic, "kind_mismatch")
        );
    }

    #[test]
    fn errors_name_the_field_and_tell_json_from_value_problems() {
        for (json, problem, code, mentions) in [
            ("{", Syntax, "invalid_json", "JSON"),
            (r#"{"value": 1} {}"#, Syntax, "invalid_json", "trailing"),
            ("[1]", Semantic, "invalid_value", "object"),
            (r#"{"value": 1e999}"#, Semantic, "invalid_value", "`value`"),
            (r#"{"value": "x"}"#, Semantic, "invalid_value", "`value`"),
            (
                r#"{"rows": [{"label": "a"}]}"#,
                Semantic,
                "invalid_value",
                "`rows[0]`: missing field `value`",
            ),
            (
                r#"{"level": "ok", "message": null, "x": 1}"#,
                Semantic,
                "invalid_value",
                "`x`",
            ),
            (
                r#"{"points": [[-1, 5]]}"#,
                Semantic,
                "invalid_value",
                "`points[0]`",
            ),
            (
                r#"{"kind": "status"}"#,
                Semantic,
                "invalid_value",
                "missing field `level`",
            ),
            (
                r#"{"kind": "unknown"}"#,
                Semantic,
                "unknown_kind",
                "unknown",
            ),
            (
                r#"{"text": "a", "level": "ok"}"#,
                Semantic,
                "unknown_kind",
                "different kinds",
            ),
            (
                r#"{"kind": "hologram"}"#,
                Semantic,
                "unknown_kind",
                "hologram",
            ),
            (
                r#"{"value": 1, "vlaue": 2}"#,
                Semantic,
                "invalid_value",
                "`vlaue`",
            ),
            (
                r#"{"kind": "gauge", "value": 1, "min": 2, "max": 2}"#,
                Semantic,
                "invalid_value",
                "`max`",
            ),
            (
                r#"{"lines": {"a": [[1, "x"]]}}"#,
                Semantic,
                "invalid_value",
                "`lines.a[0][1]`",
            ),
            (
                r#"{"lines": {"a": [[-1, 2]]}}"#,
                Semantic,
                "invalid_value",
                "`lines.a[0]`",
            ),
            (
                r#"{"kind": "log", "lines": []}"#,
                Semantic,
                "invalid_value",
                "`lines`",
            ),
            (
                r#"{"level": "purple"}"#,
                Semantic,
                "invalid_value",
                "`level`",
            ),
            (
                r#"{"value": 1, "expect_every": 0}"#,
                Semantic,
                "invalid_value",
                "`expect_every`",
            ),
            (
                r#"{"value": 1, "title": 5}"#,
                Semantic,
                "invalid_value",
                "`title`",
            ),
        ] {
            let error = parse_publication(json.as_bytes(), KindHints::default(), 7).unwrap_err();
            assert_eq!(
                (error.problem, error.code),
                (problem, code),
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
