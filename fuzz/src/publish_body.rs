//! Driver of the `publish_body` fuzz target: the publish body parsers
//! ([`parse_publication`], [`parse_batch`]) on any bytes and kind hints. They
//! must not panic; an error must be a well-formed [`PublishError`]; an accepted
//! body must give what `crates/server/src/publish/` promises: a known kind
//! that matches the explicit and the declared one, finite numbers, every
//! limit of `publish::limits` kept, log lines stamped with the server's time, and
//! an update that encodes to an `update` event the SPA decodes to the same
//! value. `crates/server/tests/body_props.rs` includes this file and checks
//! the same properties, with these functions, on generated bodies.
//!
//! Input layout: the first byte, XORed with 0x20, selects the call; the rest
//! is the body. Bit 0: 0 `parse_publication`, 1 `parse_batch`. Bits 1-3: the
//! declared kind, bits 4-6: the current kind (0 none, 1 to 7 the kinds of
//! [`WidgetKind::ALL`] in order). Bit 7, for a batch: every widget id gets
//! its own hints, from the selector mixed with a hash of the id. So a body
//! prefixed with a space is a single publish without hints, one prefixed with
//! `!` a batch without hints: the seeds in `fuzz/corpus/publish_body/` are
//! readable JSON.

use protocol::{ServerEvent, WidgetId, WidgetKind, WidgetValue};
use pulseboard::publish::{
    limits, parse_batch, parse_publication, KindHints, Problem, Publication, PublishError,
};
use serde_json::Value;

/// The server's clock, as the parsers are given it.
pub const NOW: i64 = 1_795_000_000_000;

/// Every error code the parsers may answer with.
const CODES: [&str; 5] = [
    "invalid_json",
    "invalid_id",
    "invalid_value",
    "unknown_kind",
    "kind_mismatch",
];

/// Runs one input; panics when a property fails. Returns whether the body
/// was accepted (every seed should be).
pub fn check(input: &[u8]) -> bool {
    let Some((&selector, body)) = input.split_first() else {
        return false;
    };
    let selector = selector ^ 0x20;
    if selector & 1 == 0 {
        return check_publish(body, hints(selector));
    }
    check_batch(body, |id: &WidgetId| {
        if selector & 0x80 == 0 {
            return hints(selector);
        }
        let hash = id
            .as_str()
            .bytes()
            .fold(0u8, |h, b| h.wrapping_mul(31).wrapping_add(b));
        hints(selector ^ hash)
    })
}

/// `parse_publication` on `body`; panics when a property of its answer
/// fails. Returns whether the body was accepted.
pub fn check_publish(body: &[u8], hints: KindHints) -> bool {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    match parse_publication(body, hints, NOW) {
        Ok(publication) => {
            let explicit = json.as_ref().and_then(|v| v.get("kind"));
            check_publication(&publication, hints, explicit);
            check_wire(publication, WidgetId::parse("fuzz").expect("a valid id"));
            true
        }
        Err(error) => {
            check_error(&error, json.is_some());
            false
        }
    }
}

/// `parse_batch` on `body`, each widget with the hints `hints_of` gives;
/// panics when a property of its answer fails. Returns whether it was accepted.
pub fn check_batch(body: &[u8], hints_of: impl Fn(&WidgetId) -> KindHints) -> bool {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    match parse_batch(body, &hints_of, NOW) {
        Ok(items) => {
            let sent = json
                .as_ref()
                .and_then(|v| v.get("updates"))
                .and_then(Value::as_array)
                .expect("a batch accepted without an `updates` array");
            assert!((1..=limits::BATCH_UPDATES).contains(&items.len()));
            assert_eq!(items.len(), sent.len(), "not one publication per update");
            for ((id, publication), item) in items.into_iter().zip(sent) {
                assert_eq!(Some(id.as_str()), item["id"].as_str());
                check_publication(&publication, hints_of(&id), item.get("kind"));
                check_wire(publication, id);
            }
            true
        }
        Err(error) => {
            check_error(&error, json.is_some());
            false
        }
    }
}

/// Bits 1-3 the declared kind, bits 4-6 the current one.
fn hints(selector: u8) -> KindHints {
    let kind = |bits: u8| match bits & 7 {
        0 => None,
        n => Some(WidgetKind::ALL[usize::from(n - 1)]),
    };
    KindHints {
        declared: kind(selector >> 1),
        current: kind(selector >> 4),
    }
}

fn check_error(error: &PublishError, body_is_json: bool) {
    assert!(
        CODES.contains(&error.code),
        "unknown error code {:?}: {}",
        error.code,
        error.message
    );
    // The API answers a syntax problem with 400, a semantic one with 422.
    let problem = match error.code {
        "invalid_json" | "invalid_id" => Problem::Syntax,
        _ => Problem::Semantic,
    };
    assert_eq!(error.problem, problem, "{}", error.message);
    assert!(
        !(body_is_json && error.code == "invalid_json"),
        "valid JSON refused as invalid: {}",
        error.message
    );
    assert!(!error.message.trim().is_empty(), "an empty error message");
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn check_publication(publication: &Publication, hints: KindHints, explicit: Option<&Value>) {
    let kind = publication.value.kind();
    assert!(kind.is_some(), "an unknown kind: {:?}", publication.value);
    if let Some(declared) = hints.declared {
        assert_eq!(kind, Some(declared), "not the declared kind");
    }
    if let Some(explicit) = explicit.filter(|v| !v.is_null()) {
        assert_eq!(
            kind.map(WidgetKind::as_str),
            explicit.as_str(),
            "not the explicit kind"
        );
    }
    assert_eq!(
        publication.value.non_finite_field(),
        None,
        "{:?}",
        publication.value
    );
    if let Some(title) = &publication.title {
        assert!(chars(title) <= limits::TITLE_CHARS, "title too long");
    }
    if let Some(seconds) = publication.expect_every {
        assert!((1..=limits::EXPECT_EVERY_SECONDS).contains(&seconds));
    }
    let unit_ok = |unit: &Option<String>| {
        unit.as_deref()
            .is_none_or(|u| chars(u) <= limits::UNIT_CHARS)
    };
    match &publication.value {
        WidgetValue::Number(n) => assert!(unit_ok(&n.unit) && n.recent.is_empty()),
        WidgetValue::Gauge(g) => {
            assert!(unit_ok(&g.unit));
            // A range left half out is completed and checked by the hub.
            let (o, ranged) = (publication.omitted, g.min < g.max);
            assert!(o.min || o.max || ranged, "an empty range: {g:?}");
        }
        WidgetValue::Series(s) => {
            assert!(unit_ok(&s.unit));
            assert!((2..=limits::SERIES_WINDOW).contains(&s.window));
            assert!((1..=limits::SERIES_LINES).contains(&s.lines.len()));
            for line in &s.lines {
                assert!((1..=limits::LINE_NAME_CHARS).contains(&chars(&line.name)));
                assert!((1..=s.window).contains(&line.points.len()));
                assert!(line.points.iter().all(|p| p.0 >= 0), "a point before 1970");
            }
            let mut names: Vec<&str> = s.lines.iter().map(|l| l.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), s.lines.len(), "two lines of one name");
        }
        WidgetValue::List(l) => {
            assert!(l.rows.len() <= limits::LIST_ROWS);
            for row in &l.rows {
                assert!(chars(&row.label) <= limits::LABEL_CHARS);
                assert!(chars(&row.value) <= limits::LABEL_CHARS);
            }
        }
        WidgetValue::Status(s) => assert!(s
            .message
            .as_deref()
            .is_none_or(|m| chars(m) <= limits::MESSAGE_CHARS)),
        WidgetValue::Text(t) => assert!(chars(&t.text) <= limits::TEXT_CHARS),
        WidgetValue::Log(l) => {
            assert!((1..=limits::LOG_LINES).contains(&l.max_lines));
            assert!((1..=l.max_lines).contains(&l.lines.len()));
            for line in &l.lines {
                assert!(chars(&line.text) <= limits::LOG_LINE_CHARS);
                assert_eq!(line.at, NOW);
            }
        }
        WidgetValue::Unknown => unreachable!("checked above"),
    }
}

/// What the parser accepted goes out as an `update` event; the SPA must read
/// back exactly that.
fn check_wire(publication: Publication, id: WidgetId) {
    let event = ServerEvent::Update(publication.into_change(id, NOW).update);
    let encoded = event
        .encode()
        .unwrap_or_else(|e| panic!("{event:?} does not encode: {e}"));
    let decoded = ServerEvent::decode(encoded.name, &encoded.data)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", encoded.data));
    assert_eq!(
        decoded, event,
        "the SPA would see another value: {}",
        encoded.data
    );
}
