//! Shared invariants for the fuzz targets.

use auditlog_core::{Format, Item, Parser, Position};

/// Parses `data` in one go and checks the invariants every parser keeps: items come in input order and tile it
/// (a malformed record or skipped line ends exactly where the next item starts; an event's raw bytes are the
/// input at its position), and everything is consumed. Redaction and unescaping run on every SQL text.
pub fn check(format: Format, data: &[u8]) {
    let mut parser = Parser::new(format);
    let mut it = parser.records(data, Position::START, true);
    // (start, minimum end, exact end known)
    let mut prev: Option<(u64, u64, bool)> = None;
    for item in &mut it {
        let pos = item.pos();
        if let Some((start, end, exact)) = prev {
            assert!(pos.byte > start, "items advance");
            if exact {
                assert_eq!(pos.byte, end, "no gap or overlap after a malformed or skipped item");
            } else {
                assert!(pos.byte >= end, "an event's bytes end before the next item");
            }
        } else {
            assert_eq!(pos.byte, 0, "the first item starts the input");
        }
        prev = Some(match &item {
            Item::Event(e) => {
                if let Some(q) = &e.sql {
                    let _ = q.redacted();
                }
                let rest = data.get(pos.byte as usize..).unwrap_or_default();
                assert!(rest.starts_with(&e.raw), "raw is the record's bytes");
                (pos.byte, pos.byte + e.raw.len() as u64, false)
            }
            Item::Malformed(m) => (pos.byte, pos.byte + m.len, true),
            Item::Skipped(s) => (pos.byte, pos.byte + s.len, true),
        });
    }
    assert_eq!(it.consumed(), data.len(), "everything is consumed at end of input");
}

/// Parses `data` cut in two at `cut` through the incremental interface and checks the items equal one pass.
pub fn check_split(format: Format, data: &[u8], cut: usize) {
    let whole: Vec<String> = {
        let mut p = Parser::new(format);
        p.records(data, Position::START, true).map(|i| format!("{:?}", i)).collect()
    };
    let cut = cut.min(data.len());
    let mut p = Parser::new(format);
    let mut got: Vec<String> = Vec::new();
    let (consumed, pos) = {
        let mut it = p.records(&data[..cut], Position::START, false);
        for i in &mut it {
            got.push(format!("{:?}", i));
        }
        (it.consumed(), it.position())
    };
    for i in p.records(&data[consumed..], pos, true) {
        got.push(format!("{:?}", i));
    }
    assert_eq!(whole, got, "split parsing equals one pass");
}
