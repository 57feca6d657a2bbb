//! Making attacker-controlled log text safe to show on a terminal.
//!
//! Control characters (C0, DEL, C1), bidirectional overrides and zero-width characters are shown as escapes
//! (`\n`, `\x1b`, `\u{202e}`), invalid UTF-8 bytes as `\xNN`, and a backslash as `\\` so escapes cannot be
//! forged. Clean text is borrowed, not copied.

use std::borrow::Cow;
use std::fmt::Write as _;

fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{061c}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\\' => out.push_str("\\\\"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Sanitizes bytes for display on a terminal.
pub fn sanitize(b: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(b) {
        if !s.chars().any(needs_escape) {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(b.len() + 8);
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            if needs_escape(c) {
                push_escaped(&mut out, c);
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    Cow::Owned(out)
}

/// Escapes, in JSON text, the characters JSON allows raw but a terminal acts on or hides: DEL, C1 controls,
/// bidirectional overrides and zero-width characters become `\uXXXX` (the same string to a JSON reader).
/// Control characters below U+0020, quotes and backslashes are already escaped by the serializer.
pub fn json_for_terminal(json: &str) -> Cow<'_, str> {
    let risky = |c: char| c != '\\' && needs_escape(c);
    if !json.chars().any(risky) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if risky(c) {
            // Every such character is in the Basic Multilingual Plane: one `\uXXXX` escape.
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::{json_for_terminal, sanitize};

    #[test]
    fn json_for_terminal_escapes_what_json_leaves_raw() {
        let json = serde_json::to_string("a\u{1b}[2J \u{202e}x\u{9b}1m \u{7f} \\ \u{200b}é").unwrap();
        let safe = json_for_terminal(&json);
        assert!(!safe.chars().any(|c| c.is_control() || ('\u{200b}'..='\u{202e}').contains(&c)), "{safe}");
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "a\u{1b}[2J \u{202e}x\u{9b}1m \u{7f} \\ \u{200b}é");
        assert!(matches!(json_for_terminal("{\"a\":\"plain\"}"), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(sanitize(b"plain text"), "plain text");
        assert_eq!(sanitize(b"a\x1b[31mred\x1b[0m"), "a\\x1b[31mred\\x1b[0m");
        assert_eq!(sanitize("x\u{202e}y".as_bytes()), "x\\u{202e}y");
        assert_eq!(sanitize(b"line1\nline2\ttab\\n"), "line1\\nline2\\ttab\\\\n");
        assert_eq!(sanitize(b"bad\xff\x00"), "bad\\xff\\x00");
        assert_eq!(sanitize("caf\u{e9} \u{9b}".as_bytes()), "caf\u{e9} \\x9b");
    }
}
