//! Text that came from a request, made safe for a log line.
//!
//! A log line ends at a newline, and a reader (a person, `grep`, a log
//! shipper) trusts what follows it to be a new record. A path, a header, a
//! JSON key quoted in a serde error: anything a client chose can hold `\n`,
//! `\r`, terminal escapes or a Unicode line separator, and would then write
//! lines of its own. tracing-subscriber escapes ESC and C1 controls in the
//! `message` field only, and newlines nowhere, so every request-derived value
//! goes through [`Escaped`] before it reaches a log macro.

use std::fmt::{self, Write};

/// Request-derived text longer than this is cut (a 64 KiB JSON key would
/// otherwise be one 64 KiB log line, at every refusal).
pub const MAX_CHARS: usize = 256;

/// Displays `text` with every control character (C0, DEL, C1), every Unicode
/// line or paragraph separator, every bidirectional override and the
/// backslash escaped as Rust writes them (`\n`, `\\`, `\u{1b}`), and cut
/// after [`MAX_CHARS`] characters. What it shows is one line, and a
/// backslash in it always starts an escape.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(MAX_CHARS) {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if needs_escape(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        let rest = chars.count();
        if rest > 0 {
            write!(f, "…(+{rest} chars)")?;
        }
        Ok(())
    }
}

/// Characters that end a line, move the cursor, or reorder what a terminal
/// or an editor shows.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{2028}' | '\u{2029}'            // line and paragraph separators
            | '\u{200e}' | '\u{200f}'          // left-to-right and right-to-left marks
            | '\u{202a}'..='\u{202e}'          // bidi embeddings and overrides
            | '\u{2066}'..='\u{2069}'          // bidi isolates
            | '\u{feff}'                       // byte order mark
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        Escaped(text).to_string()
    }

    #[test]
    fn line_breaks_and_escapes_cannot_start_a_line() {
        assert_eq!(escaped("a\nb\r\nc\td"), "a\\nb\\r\\nc\\td");
        assert_eq!(escaped("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(
            escaped("\0\u{7f}\u{85}\u{9b}"),
            "\\u{0}\\u{7f}\\u{85}\\u{9b}"
        );
        assert_eq!(escaped("x\u{2028}y\u{2029}"), "x\\u{2028}y\\u{2029}");
        assert_eq!(escaped("\u{202e}txt.exe"), "\\u{202e}txt.exe");
        for forged in ["a\n2026-01-01 INFO x", "\r\u{0b}\u{0c}", "\u{85}"] {
            assert!(!escaped(forged).contains(['\n', '\r', '\u{0b}', '\u{0c}', '\u{85}']));
        }
    }

    #[test]
    fn a_backslash_in_the_input_cannot_fake_an_escape() {
        assert_eq!(escaped(r"a\nb"), r"a\\nb");
        assert_eq!(escaped(r"\u{1b}"), r"\\u{1b}");
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        let text = "POST /api/widgets/cpu unknown field `välue` \"quoted\" 😀";
        assert_eq!(escaped(text), text);
    }

    #[test]
    fn long_text_is_cut() {
        let long = "é".repeat(MAX_CHARS + 10);
        let shown = escaped(&long);
        assert!(shown.starts_with(&"é".repeat(MAX_CHARS)));
        assert!(shown.ends_with("…(+10 chars)"), "{shown}");
        assert_eq!(escaped(&"x".repeat(MAX_CHARS)), "x".repeat(MAX_CHARS));
    }
}
