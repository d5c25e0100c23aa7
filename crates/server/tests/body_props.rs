//! Property tests of the publish body parsers, `parse_publication` and
//! `parse_batch`: whatever the bytes, the answer is a valid update or a typed
//! error (a syntax or a semantic problem, a known code, a message), never a
//! panic; and every valid
//! body of every kind parses to exactly the value it describes.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::Index;
use protocol::{
    Gauge, List, ListRow, Log, LogLine, Number, Point, Series, SeriesLine, Status, StatusLevel,
    Text, Thresholds, WidgetKind, WidgetValue, DEFAULT_LOG_LINES, DEFAULT_SERIES_WINDOW,
};
use pulseboard::publish::{limits, parse_batch, parse_publication, KindHints, Omitted, Problem};
use serde_json::{json, Map, Value};

/// What every answer must be: the `publish_body` fuzz target's checks, one
/// set of rules for both.
#[path = "../../../fuzz/src/publish_body.rs"]
#[allow(dead_code)] // the fuzzer's byte-level entry point is not used here
mod publish_body;

use publish_body::NOW;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // A failure is reported with its minimal input; no file is written.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// What every answer must be.
// ---------------------------------------------------------------------------

/// Parses a publish body and checks whatever comes out, with the
/// `publish_body` fuzz target's checks (a failed property panics).
fn check_publish_bytes(bytes: &[u8], hints: KindHints) -> Result<(), TestCaseError> {
    publish_body::check_publish(bytes, hints);
    Ok(())
}

/// Parses a batch body and checks whatever comes out, likewise.
fn check_batch_bytes(bytes: &[u8], hints: KindHints) -> Result<(), TestCaseError> {
    publish_body::check_batch(bytes, |_| hints);
    Ok(())
}

// ---------------------------------------------------------------------------
// Arbitrary inputs.
// ---------------------------------------------------------------------------

fn kinds() -> impl Strategy<Value = WidgetKind> {
    prop::sample::select(WidgetKind::ALL.to_vec())
}

fn hints() -> impl Strategy<Value = KindHints> {
    (prop::option::of(kinds()), prop::option::of(kinds()))
        .prop_map(|(declared, current)| KindHints { declared, current })
}

/// Field names the parsers know, so random objects reach deep into them.
const FIELDS: [&str; 23] = [
    "kind",
    "title",
    "expect_every",
    "value",
    "unit",
    "previous",
    "thresholds",
    "warn",
    "critical",
    "min",
    "max",
    "lines",
    "points",
    "window",
    "rows",
    "label",
    "level",
    "message",
    "text",
    "line",
    "max_lines",
    "updates",
    "id",
];

/// Strings the parsers give meaning to, and some they must refuse.
const WORDS: [&str; 17] = [
    "number", "gauge", "series", "list", "status", "text", "log", "ok", "warn", "critical",
    "unknown", "hologram", "orders", "a", "Bad!", "", "value",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(FIELDS.to_vec()).prop_map(String::from),
        1 => "[a-z_]{0,8}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e3f64..1e3).prop_map(Value::from),
        // Non-finite floats become null.
        any::<f64>().prop_map(Value::from),
        (0u64..=300_000_000_000_000).prop_map(Value::from),
        prop::sample::select(WORDS.to_vec()).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), json_value()), 0..7)
        .prop_map(|fields| Value::Object(fields.into_iter().collect()))
}

fn batch_object() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "orders", "x.y-z_1"]).prop_map(Value::from),
        1 => json_value(),
    ];
    let item = (json_object(), prop::option::of(id)).prop_map(|(mut item, id)| {
        if let (Value::Object(fields), Some(id)) = (&mut item, id) {
            fields.insert("id".into(), id);
        }
        item
    });
    prop_oneof![
        4 => prop::collection::vec(item, 0..5).prop_map(|items| json!({ "updates": items })),
        1 => json_object(),
    ]
}

/// Valid JSON with a few bytes changed and maybe cut short: mostly almost-JSON.
fn mutated(json: impl Strategy<Value = Value>) -> impl Strategy<Value = Vec<u8>> {
    (
        json,
        prop::collection::vec((any::<Index>(), any::<u8>()), 0..4),
        prop::option::of(any::<Index>()),
    )
        .prop_map(|(value, changes, cut)| {
            let mut bytes = serde_json::to_vec(&value).unwrap();
            for (at, byte) in changes {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
        })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_bytes_get_an_update_or_a_typed_error(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        hints in hints(),
    ) {
        check_publish_bytes(&bytes, hints)?;
        check_batch_bytes(&bytes, hints)?;
    }
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn almost_json_gets_an_update_or_a_typed_error(
        bytes in mutated(json_object()),
        batch in mutated(batch_object()),
        hints in hints(),
    ) {
        check_publish_bytes(&bytes, hints)?;
        check_batch_bytes(&batch, hints)?;
    }

    #[test]
    fn any_json_gets_an_update_or_a_typed_error(
        value in prop_oneof![1 => json_value(), 4 => json_object()],
        hints in hints(),
    ) {
        check_publish_bytes(&serde_json::to_vec(&value).unwrap(), hints)?;
    }

    #[test]
    fn any_json_batch_gets_updates_or_a_typed_error(
        value in batch_object(),
        hints in hints(),
    ) {
        check_batch_bytes(&serde_json::to_vec(&value).unwrap(), hints)?;
    }
}

// ---------------------------------------------------------------------------
// Valid bodies of every kind.
// ---------------------------------------------------------------------------

/// A valid body and what it must parse to.
#[derive(Debug, Clone)]
struct Valid {
    kind: WidgetKind,
    fields: Map<String, Value>,
    value: WidgetValue,
    omitted: Omitted,
}

/// The number JSON gives back for `x`, which is what a parser can see.
fn through_json(x: f64) -> f64 {
    serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap()
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        -1e6f64..1e6,
        any::<i32>().prop_map(f64::from),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::string::string_regex(&format!("\\PC{{0,{max}}}")).unwrap()
}

/// Sets `key` if there is a value; a missing optional field is sometimes
/// `null` instead of absent, which must mean the same.
fn put(fields: &mut Map<String, Value>, key: &str, value: Option<Value>, null_if_none: bool) {
    match value {
        Some(value) => {
            fields.insert(key.into(), value);
        }
        None if null_if_none => {
            fields.insert(key.into(), Value::Null);
        }
        None => {}
    }
}

fn thresholds() -> impl Strategy<Value = (Value, Thresholds)> {
    (prop::option::of(finite()), prop::option::of(finite())).prop_map(|(warn, critical)| {
        let mut fields = Map::new();
        put(&mut fields, "warn", warn.map(Value::from), false);
        put(&mut fields, "critical", critical.map(Value::from), false);
        let thresholds = Thresholds {
            warn: warn.map(through_json),
            critical: critical.map(through_json),
        };
        (Value::Object(fields), thresholds)
    })
}

fn number() -> impl Strategy<Value = Valid> {
    (
        finite(),
        prop::option::of(text(limits::UNIT_CHARS)),
        prop::option::of(finite()),
        prop::option::of(thresholds()),
        any::<bool>(),
    )
        .prop_map(|(value, unit, previous, thresholds, nulls)| {
            let mut fields = Map::new();
            fields.insert("value".into(), value.into());
            put(&mut fields, "unit", unit.clone().map(Value::from), nulls);
            put(&mut fields, "previous", previous.map(Value::from), nulls);
            put(
                &mut fields,
                "thresholds",
                thresholds.clone().map(|t| t.0),
                nulls,
            );
            Valid {
                kind: WidgetKind::Number,
                fields,
                omitted: Omitted {
                    unit: unit.is_none(),
                    thresholds: thresholds.is_none(),
                    ..Omitted::default()
                },
                value: WidgetValue::Number(Number {
                    value: through_json(value),
                    unit,
                    previous: previous.map(through_json),
                    thresholds: thresholds.map(|t| t.1),
                    recent: Vec::new(),
                }),
            }
        })
}

fn gauge() -> impl Strategy<Value = Valid> {
    (
        finite(),
        (finite(), finite()).prop_filter("a range", |(a, b)| through_json(*a) != through_json(*b)),
        prop::option::of(text(limits::UNIT_CHARS)),
        prop::option::of(thresholds()),
        any::<bool>(),
    )
        .prop_map(|(value, (a, b), unit, thresholds, nulls)| {
            let (min, max) = if through_json(a) < through_json(b) {
                (a, b)
            } else {
                (b, a)
            };
            let mut fields = Map::new();
            fields.insert("value".into(), value.into());
            fields.insert("min".into(), min.into());
            fields.insert("max".into(), max.into());
            put(&mut fields, "unit", unit.clone().map(Value::from), nulls);
            put(
                &mut fields,
                "thresholds",
                thresholds.clone().map(|t| t.0),
                nulls,
            );
            Valid {
                kind: WidgetKind::Gauge,
                fields,
                omitted: Omitted {
                    unit: unit.is_none(),
                    thresholds: thresholds.is_none(),
                    ..Omitted::default()
                },
                value: WidgetValue::Gauge(Gauge {
                    value: through_json(value),
                    min: through_json(min),
                    max: through_json(max),
                    unit,
                    thresholds: thresholds.map(|t| t.1),
                }),
            }
        })
}

/// A point as JSON (`[t, v]` or a bare `v`) and as parsed.
fn point() -> impl Strategy<Value = (Value, Point)> {
    prop_oneof![
        (0i64..=253_402_300_799_999, finite())
            .prop_map(|(t, v)| (json!([t, v]), Point(t, through_json(v)))),
        finite().prop_map(|v| (Value::from(v), Point(NOW, through_json(v)))),
    ]
}

fn series() -> impl Strategy<Value = Valid> {
    let lines = prop::collection::btree_map(
        "[a-z][a-z0-9_ ]{0,9}",
        prop::collection::vec(point(), 1..6),
        1..5,
    );
    (
        lines,
        any::<bool>(),
        prop::option::of(6usize..=limits::SERIES_WINDOW),
        prop::option::of(text(limits::UNIT_CHARS)),
        any::<bool>(),
    )
        .prop_map(|(lines, one_line, window, unit, nulls)| {
            let mut fields = Map::new();
            let lines: BTreeMap<String, Vec<(Value, Point)>> = if one_line {
                // `points`: one line, named `value`.
                let points = lines.into_values().next().unwrap();
                fields.insert(
                    "points".into(),
                    Value::Array(points.iter().map(|p| p.0.clone()).collect()),
                );
                BTreeMap::from([("value".to_owned(), points)])
            } else {
                let json: Map<String, Value> = lines
                    .iter()
                    .map(|(name, points)| {
                        let points = points.iter().map(|p| p.0.clone()).collect();
                        (name.clone(), Value::Array(points))
                    })
                    .collect();
                fields.insert("lines".into(), Value::Object(json));
                lines
            };
            put(&mut fields, "window", window.map(Value::from), nulls);
            put(&mut fields, "unit", unit.clone().map(Value::from), nulls);
            Valid {
                kind: WidgetKind::Series,
                fields,
                omitted: Omitted {
                    unit: unit.is_none(),
                    window: window.is_none(),
                    ..Omitted::default()
                },
                value: WidgetValue::Series(Series {
                    lines: lines
                        .into_iter()
                        .map(|(name, points)| SeriesLine {
                            name,
                            points: points.into_iter().map(|p| p.1).collect(),
                        })
                        .collect(),
                    window: window.unwrap_or(DEFAULT_SERIES_WINDOW),
                    unit,
                }),
            }
        })
}

fn list() -> impl Strategy<Value = Valid> {
    let cell = prop_oneof![
        text(limits::LABEL_CHARS.min(40)).prop_map(|s| (Value::from(s.clone()), s)),
        any::<i64>().prop_map(|n| (Value::from(n), n.to_string())),
    ];
    prop::collection::vec((text(40), cell), 0..8).prop_map(|rows| {
        let json: Vec<Value> = rows
            .iter()
            .map(|(label, (value, _))| json!({"label": label, "value": value}))
            .collect();
        Valid {
            kind: WidgetKind::List,
            fields: Map::from_iter([("rows".to_owned(), Value::Array(json))]),
            omitted: Omitted::default(),
            value: WidgetValue::List(List {
                rows: rows
                    .into_iter()
                    .map(|(label, (_, value))| ListRow { label, value })
                    .collect(),
            }),
        }
    })
}

fn status() -> impl Strategy<Value = Valid> {
    let levels = [
        ("ok", StatusLevel::Ok),
        ("warn", StatusLevel::Warn),
        ("critical", StatusLevel::Critical),
        ("unknown", StatusLevel::Unknown),
    ];
    (
        prop::sample::select(levels.to_vec()),
        prop::option::of(text(80)),
        any::<bool>(),
    )
        .prop_map(|((name, level), message, nulls)| {
            let mut fields = Map::from_iter([("level".to_owned(), Value::from(name))]);
            put(
                &mut fields,
                "message",
                message.clone().map(Value::from),
                nulls,
            );
            Valid {
                kind: WidgetKind::Status,
                fields,
                omitted: Omitted::default(),
                value: WidgetValue::Status(Status { level, message }),
            }
        })
}

fn text_kind() -> impl Strategy<Value = Valid> {
    text(200).prop_map(|text| Valid {
        kind: WidgetKind::Text,
        fields: Map::from_iter([("text".to_owned(), Value::from(text.clone()))]),
        omitted: Omitted::default(),
        value: WidgetValue::Text(Text { text }),
    })
}

fn log() -> impl Strategy<Value = Valid> {
    (
        prop::collection::vec(text(60), 1..6),
        any::<bool>(),
        prop::option::of(5usize..=limits::LOG_LINES),
        any::<bool>(),
    )
        .prop_map(|(lines, one, max_lines, nulls)| {
            let mut fields = Map::new();
            let lines = if one {
                fields.insert("line".into(), Value::from(lines[0].clone()));
                lines[..1].to_vec()
            } else {
                fields.insert("lines".into(), json!(lines));
                lines
            };
            put(&mut fields, "max_lines", max_lines.map(Value::from), nulls);
            Valid {
                kind: WidgetKind::Log,
                fields,
                omitted: Omitted {
                    max_lines: max_lines.is_none(),
                    ..Omitted::default()
                },
                value: WidgetValue::Log(Log {
                    lines: lines
                        .into_iter()
                        .map(|text| LogLine { at: NOW, text })
                        .collect(),
                    max_lines: max_lines.unwrap_or(DEFAULT_LOG_LINES),
                }),
            }
        })
}

fn valid() -> impl Strategy<Value = Valid> {
    prop_oneof![
        number(),
        gauge(),
        series(),
        list(),
        status(),
        text_kind(),
        log()
    ]
}

/// How the parser learns the kind.
#[derive(Debug, Clone, Copy)]
enum Told {
    /// `"kind": ...` in the body.
    Explicit,
    /// Declared in a dashboard.
    Declared,
    /// The widget's current kind.
    Current,
    /// From the fields alone.
    Inferred,
}

fn told() -> impl Strategy<Value = Told> {
    prop::sample::select(vec![
        Told::Explicit,
        Told::Declared,
        Told::Current,
        Told::Inferred,
    ])
}

/// The common fields, maybe.
fn common() -> impl Strategy<Value = (Option<String>, Option<u32>)> {
    (
        prop::option::of(text(limits::TITLE_CHARS.min(60))),
        prop::option::of(1..=limits::EXPECT_EVERY_SECONDS),
    )
}

/// The body and hints for `valid` told its kind as `told`.
fn body_of(
    valid: &Valid,
    told: Told,
    (title, expect_every): &(Option<String>, Option<u32>),
) -> (Map<String, Value>, KindHints) {
    let mut fields = valid.fields.clone();
    put(&mut fields, "title", title.clone().map(Value::from), false);
    put(
        &mut fields,
        "expect_every",
        expect_every.map(Value::from),
        false,
    );
    let mut hints = KindHints::default();
    match told {
        Told::Explicit => {
            fields.insert("kind".into(), valid.kind.as_str().into());
        }
        Told::Declared => hints.declared = Some(valid.kind),
        Told::Current => hints.current = Some(valid.kind),
        Told::Inferred => {}
    }
    (fields, hints)
}

/// One change that may make a valid body invalid (or valid for another kind).
#[derive(Debug, Clone)]
enum Perturb {
    Remove(Index),
    Replace(Index, Value),
    Insert(String, Value),
    Kind(&'static str),
}

fn perturb() -> impl Strategy<Value = Perturb> {
    prop_oneof![
        any::<Index>().prop_map(Perturb::Remove),
        (any::<Index>(), json_value()).prop_map(|(i, v)| Perturb::Replace(i, v)),
        (key(), json_value()).prop_map(|(k, v)| Perturb::Insert(k, v)),
        prop::sample::select(WORDS.to_vec()).prop_map(Perturb::Kind),
    ]
}

/// A valid body of some kind with a few changes: reaches every kind's checks.
fn perturbed() -> impl Strategy<Value = (Value, KindHints)> {
    (
        valid(),
        told(),
        common(),
        prop::collection::vec(perturb(), 1..4),
    )
        .prop_map(|(valid, told, common, changes)| {
            let (mut fields, hints) = body_of(&valid, told, &common);
            for change in changes {
                match change {
                    Perturb::Remove(i) if !fields.is_empty() => {
                        let key = fields.keys().nth(i.index(fields.len())).unwrap().clone();
                        fields.shift_remove(&key);
                    }
                    Perturb::Replace(i, value) if !fields.is_empty() => {
                        let key = fields.keys().nth(i.index(fields.len())).unwrap().clone();
                        fields.insert(key, value);
                    }
                    Perturb::Insert(key, value) => {
                        fields.insert(key, value);
                    }
                    Perturb::Kind(kind) => {
                        fields.insert("kind".into(), kind.into());
                    }
                    _ => {}
                }
            }
            (Value::Object(fields), hints)
        })
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn an_almost_valid_body_gets_an_update_or_a_typed_error(
        (body, hints) in perturbed(),
        batch_hints in hints(),
    ) {
        let bytes = serde_json::to_vec(&body).unwrap();
        check_publish_bytes(&bytes, hints)?;
        let mut item = body;
        item["id"] = json!("a");
        let batch = serde_json::to_vec(&json!({ "updates": [{"id": "b", "value": 1}, item] })).unwrap();
        check_batch_bytes(&batch, batch_hints)?;
    }

    #[test]
    fn a_valid_body_of_each_kind_parses_to_its_value(
        valid in valid(),
        told in told(),
        common in common(),
    ) {
        let (fields, hints) = body_of(&valid, told, &common);
        let bytes = serde_json::to_vec(&fields).unwrap();
        let parsed = parse_publication(&bytes, hints, NOW);
        prop_assert!(parsed.is_ok(), "{}: {:?}", Value::Object(fields), parsed.err());
        let publication = parsed.unwrap();
        prop_assert_eq!(&publication.value, &valid.value);
        prop_assert_eq!(&publication.title, &common.0);
        prop_assert_eq!(publication.expect_every, common.1);
        prop_assert_eq!(publication.omitted, valid.omitted);
    }

    #[test]
    fn a_valid_batch_parses_to_its_values_in_order(
        items in prop::collection::vec((valid(), prop::bool::ANY, common()), 1..6),
    ) {
        let ids = ["a", "b", "orders", "x.y-z_1", "0"];
        let body: Vec<Value> = items
            .iter()
            .enumerate()
            .map(|(i, (valid, explicit, common))| {
                let told = if *explicit { Told::Explicit } else { Told::Inferred };
                let (mut fields, _) = body_of(valid, told, common);
                fields.insert("id".into(), ids[i % ids.len()].into());
                Value::Object(fields)
            })
            .collect();
        let bytes = serde_json::to_vec(&json!({ "updates": body })).unwrap();
        let parsed = parse_batch(&bytes, |_| KindHints::default(), NOW);
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.len(), items.len());
        for (i, ((id, publication), (valid, _, _))) in parsed.iter().zip(&items).enumerate() {
            prop_assert_eq!(id.as_str(), ids[i % ids.len()]);
            prop_assert_eq!(&publication.value, &valid.value);
        }
    }
}

// ---------------------------------------------------------------------------
// Every limit, at the limit and one past it.
// ---------------------------------------------------------------------------

/// Bodies that are valid exactly at a limit, and the same one past it with
/// the field the error must name.
#[test]
fn every_limit_holds_exactly() {
    let s = |n: usize| "é".repeat(n); // multi-byte: limits count characters
    let lines_of = |n: usize| -> Map<String, Value> {
        (0..n).map(|i| (format!("l{i}"), json!([1]))).collect()
    };
    let rows_of = |n: usize| vec![json!({"label": "a", "value": 1}); n];
    #[rustfmt::skip]
    let cases = [
        (json!({"value": 1, "title": s(200)}), json!({"value": 1, "title": s(201)}), "`title`"),
        (json!({"value": 1, "unit": s(32)}), json!({"value": 1, "unit": s(33)}), "`unit`"),
        (json!({"value": 1, "expect_every": 2_592_000}), json!({"value": 1, "expect_every": 2_592_001}), "`expect_every`"),
        (json!({"value": 1, "expect_every": 1}), json!({"value": 1, "expect_every": 0}), "`expect_every`"),
        (json!({"text": s(10_000)}), json!({"text": s(10_001)}), "`text`"),
        (json!({"level": "ok", "message": s(1000)}), json!({"level": "ok", "message": s(1001)}), "`message`"),
        (json!({"rows": [{"label": s(200), "value": 1}]}), json!({"rows": [{"label": s(201), "value": 1}]}), "`rows[0].label`"),
        (json!({"rows": [{"label": "a", "value": s(200)}]}), json!({"rows": [{"label": "a", "value": s(201)}]}), "`rows[0].value`"),
        (json!({"rows": rows_of(100)}), json!({"rows": rows_of(101)}), "`rows`"),
        (json!({"line": s(2000)}), json!({"line": s(2001)}), "`line`"),
        (json!({"lines": ["a", s(2000)]}), json!({"lines": ["a", s(2001)]}), "`lines[1]`"),
        (json!({"line": "a", "max_lines": 1000}), json!({"line": "a", "max_lines": 1001}), "`max_lines`"),
        (json!({"line": "a", "max_lines": 1}), json!({"line": "a", "max_lines": 0}), "`max_lines`"),
        (json!({"lines": ["a", "b"], "max_lines": 2}), json!({"lines": ["a", "b", "c"], "max_lines": 2}), "`lines`"),
        (json!({"lines": lines_of(16)}), json!({"lines": lines_of(17)}), "`lines`"),
        (json!({"lines": {s(64): [1]}}), json!({"lines": {s(65): [1]}}), "`lines."),
        (json!({"points": [1], "window": 10_000}), json!({"points": [1], "window": 10_001}), "`window`"),
        (json!({"points": [1], "window": 2}), json!({"points": [1], "window": 1}), "`window`"),
        (json!({"points": [1, 2], "window": 2}), json!({"points": [1, 2, 3], "window": 2}), "`points`"),
        (json!({"points": [[0, 1]]}), json!({"points": [[-1, 1]]}), "`points[0]`"),
        (json!({"points": [[253_402_300_799_999_u64, 1]]}), json!({"points": [[253_402_300_800_000_u64, 1]]}), "`points[0]`"),
    ];
    let mut problems = Vec::new();
    for (at, past, field) in &cases {
        let parse = |body: &Value| {
            parse_publication(
                &serde_json::to_vec(body).unwrap(),
                KindHints::default(),
                NOW,
            )
        };
        if let Err(error) = parse(at) {
            problems.push(format!("at the limit, refused: {error} ({at:.80})"));
        }
        match parse(past) {
            Ok(_) => problems.push(format!("past the limit, accepted: {field}")),
            Err(error) if error.problem != Problem::Semantic || !error.message.contains(field) => {
                problems.push(format!(
                    "past the limit: {error}, expected a semantic problem naming {field}"
                ))
            }
            Err(_) => {}
        }
    }
    // A batch holds 1 to 1000 updates.
    let batch = |n: usize| {
        let items = vec![json!({"id": "a", "value": 1}); n];
        serde_json::to_vec(&json!({ "updates": items })).unwrap()
    };
    let parse = |n| parse_batch(&batch(n), |_| KindHints::default(), NOW);
    if let Err(error) = parse(1000) {
        problems.push(format!("1000 updates refused: {error}"));
    }
    for n in [0, 1001] {
        match parse(n) {
            Err(error) if error.message.contains("`updates`") => {}
            other => problems.push(format!("{n} updates: {:?}", other.map(|v| v.len()))),
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
