//! Driver of the `protocol_decode` fuzz target: [`ServerEvent::decode`] on any
//! event name and data must not panic, and whatever decodes must survive the
//! trip back: it encodes under the same name, as one line (`docs/protocol.md`:
//! `data:` is one line), decodes to an equal event and encodes to the same
//! bytes again. A decoded `update` must also fold into a snapshot as the SPA
//! folds it, without panicking and within the widget's bounds.
//!
//! Input layout: the first byte picks the event name. Its value modulo 8 is
//! an index into [`SELECTED`] (so the ASCII digits `0` to `5` are `init`,
//! `update`, `remove`, `reset`, `heartbeat`, `shutdown`); 6 and 7 (`6`, `7`)
//! take the name from the input, up to the first newline (`updates`, the
//! name added later, comes that way). The rest is the `data:` field, decoded
//! as UTF-8 lossily (as a browser would).

use protocol::{ServerEvent, Snapshot, Update, WidgetValue, NUMBER_RECENT};

/// The event names the first byte selects: the first six of
/// [`ServerEvent::NAMES`], as when the corpus was made.
const SELECTED: [&str; 6] = ["init", "update", "remove", "reset", "heartbeat", "shutdown"];

/// Runs one input; panics when a property fails. Returns whether it decoded
/// (every seed should).
pub fn check(input: &[u8]) -> bool {
    let Some((&selector, rest)) = input.split_first() else {
        return false;
    };
    let rest = String::from_utf8_lossy(rest);
    let (name, data) = match SELECTED.get(usize::from(selector % 8)) {
        Some(name) => (*name, &*rest),
        None => rest.split_once('\n').unwrap_or((&rest, "")),
    };
    let Ok(event) = ServerEvent::decode(name, data) else {
        return false;
    };
    assert_eq!(event.name(), name, "decoded as another event");
    let encoded = event
        .encode()
        .unwrap_or_else(|e| panic!("{event:?} decodes but does not encode: {e}"));
    assert_eq!(encoded.name, name, "encodes under another name");
    assert!(
        !encoded.data.contains(['\n', '\r']),
        "the data is not one line: {:?}",
        encoded.data
    );
    let again = ServerEvent::decode(encoded.name, &encoded.data).unwrap_or_else(|e| {
        panic!(
            "the encoding of {event:?} does not decode: {e}\n{}",
            encoded.data
        )
    });
    assert_eq!(
        again, event,
        "decode(encode(x)) != x; encoded: {}",
        encoded.data
    );
    let twice = again.encode().expect("it encoded once");
    assert_eq!(twice, encoded, "the encoding is not stable");
    match event {
        ServerEvent::Update(update) => check_fold(update),
        ServerEvent::Updates(updates) => updates.into_iter().for_each(check_fold),
        _ => {}
    }
    true
}

/// The SPA folds an update into its snapshot: applied to a new widget and
/// then again to the one it made, it must keep every widget within bounds.
fn check_fold(update: Update) {
    let mut snapshot = Snapshot::default();
    snapshot.apply_update(update.clone());
    snapshot.apply_update(update.clone());
    assert_eq!(snapshot.widgets.len(), 1, "one id, one widget");
    let widget = &snapshot.widgets[0];
    assert_eq!(widget.updated_at, update.at);
    match &widget.value {
        WidgetValue::Number(n) => assert!(n.recent.len() <= NUMBER_RECENT.min(2)),
        WidgetValue::Series(s) => assert!(
            s.lines.iter().all(|l| l.points.len() <= s.window),
            "a line beyond its window: {s:?}"
        ),
        WidgetValue::Log(l) => assert!(l.lines.len() <= l.max_lines, "beyond max_lines: {l:?}"),
        _ => assert_eq!(widget.value, update.value, "not replaced"),
    }
}
