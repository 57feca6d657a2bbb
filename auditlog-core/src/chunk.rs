//! Record-aligned chunks for parallel parsing.
//!
//! A chunk may only start where a record needs nothing from the records before it: an audit line; a general
//! log record with its own timestamp that is neither a `Connect` line nor an `Access denied` line (those pair
//! with their neighbour); a slow-log
//! `# Time:` line with a valid time (later entries inherit it); an error-log line with a timestamp. Parsing
//! chunks that start at such boundaries gives exactly the items of one sequential pass.

use std::ops::Range;

use crate::format::{errorlog, general, is_banner, slow, Format};

/// True when a record of `format` starting with the line `text` can start a chunk.
#[must_use]
pub fn is_boundary(format: Format, text: &[u8]) -> bool {
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    match format {
        Format::Audit => text.first().is_some_and(u8::is_ascii_digit),
        // A line that is also a start-up banner is skipped as one, so it starts no record.
        Format::General => {
            !is_banner(text)
                && general::record_start(text)
                    .is_some_and(|s| s.ts.is_some() && s.cmd != b"Connect" && !s.arg.starts_with(b"Access denied"))
        }
        Format::Slow => slow_time_line(text) && !is_banner(text),
        Format::Error => errorlog::line_timestamp(text).is_some(),
    }
}

/// A `# Time:` line whose time parses (`# Time: 2021-...Z` or `# Time: 071015 21:43:52`).
fn slow_time_line(text: &[u8]) -> bool {
    text.strip_prefix(b"# Time:").and_then(slow::time_value).is_some()
}

/// The first boundary line start at or after `from` (a line start is `0` or just after a `\n`), scanning at most
/// `limit` bytes.
fn next_boundary(format: Format, buf: &[u8], from: usize, limit: usize) -> Option<usize> {
    let mut at = if from == 0 { 0 } else { from + memchr::memchr(b'\n', buf.get(from - 1..)?)? };
    let stop = from.saturating_add(limit).min(buf.len());
    while at < stop {
        let rest = buf.get(at..)?;
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        if is_boundary(format, rest.get(..end)?) {
            return Some(at);
        }
        at += end + 1;
    }
    None
}

/// Splits `buf` into at most `n` record-aligned ranges of roughly equal size that cover it exactly.
///
/// ```
/// use auditlog_core::{chunk::split, Format};
/// let log = b"20240101 10:00:00,s,u,h,1,0,CONNECT,,,0\n20240101 10:00:01,s,u,h,2,0,CONNECT,,,0\n\
///             20240101 10:00:02,s,u,h,3,0,CONNECT,,,0\n20240101 10:00:03,s,u,h,4,0,CONNECT,,,0\n";
/// assert_eq!(split(Format::Audit, log, 2), vec![0..80, 80..160]);
/// assert_eq!(split(Format::Audit, log, 1), vec![0..160]);
/// ```
#[must_use]
pub fn split(format: Format, buf: &[u8], n: usize) -> Vec<Range<usize>> {
    let n = n.max(1);
    let target = buf.len() / n;
    let mut cuts = vec![0];
    if target > 0 {
        for k in 1..n {
            let want = (k * target).max(cuts.last().copied().unwrap_or(0) + 1);
            if want >= buf.len() {
                break;
            }
            if let Some(b) = next_boundary(format, buf, want, target.max(1 << 16)) {
                if b > cuts.last().copied().unwrap_or(0) && b < buf.len() {
                    cuts.push(b);
                }
            }
        }
    }
    cuts.push(buf.len());
    cuts.windows(2).filter_map(|w| Some(*w.first()?..*w.get(1)?)).collect()
}

/// Splits `buf` at the given candidate offsets, each moved forward to the next boundary: the ranges cover
/// `buf` exactly. Used by tests to try arbitrary chunkings.
#[must_use]
pub fn split_at(format: Format, buf: &[u8], candidates: &[usize]) -> Vec<Range<usize>> {
    let mut cuts = vec![0];
    let mut sorted: Vec<usize> = candidates.to_vec();
    sorted.sort_unstable();
    for c in sorted {
        let last = cuts.last().copied().unwrap_or(0);
        if c <= last || c >= buf.len() {
            continue;
        }
        if let Some(b) = next_boundary(format, buf, c, usize::MAX) {
            if b > last && b < buf.len() {
                cuts.push(b);
            }
        }
    }
    cuts.push(buf.len());
    cuts.dedup();
    cuts.windows(2).filter_map(|w| Some(*w.first()?..*w.get(1)?)).collect()
}

/// The start of the last boundary line of `buf` that is not at offset 0, scanning back at most `limit` bytes:
/// everything before it is complete records. `None` if there is none (the caller needs more data).
#[must_use]
pub fn last_boundary(format: Format, buf: &[u8], limit: usize) -> Option<usize> {
    // Only lines followed by a line end are known to be whole.
    let mut end = memchr::memrchr(b'\n', buf)?;
    let floor = buf.len().saturating_sub(limit);
    loop {
        let start = memchr::memrchr(b'\n', buf.get(..end)?).map_or(0, |i| i + 1);
        if start == 0 || start < floor {
            return None;
        }
        if is_boundary(format, buf.get(start..end)?) {
            return Some(start);
        }
        end = start - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Item, Parser};
    use crate::Position;

    fn items(format: Format, buf: &[u8], ranges: &[Range<usize>]) -> Vec<String> {
        let mut out = Vec::new();
        let mut line = 1;
        for r in ranges {
            let part = &buf[r.clone()];
            let mut p = Parser::new(format);
            out.extend(p.records(part, Position { byte: r.start as u64, line }, true).map(|i| format!("{i:?}")));
            line += memchr::memchr_iter(b'\n', part).count() as u64;
        }
        out
    }

    #[test]
    fn general_boundaries_keep_failed_login_pairs_and_legacy_time() {
        let log = b"051007 21:55:24\t     42 Connect     root@localhost on db1\n\t\t     42 Query       SELECT 1\n051007 21:55:25\t     43 Connect\tx@h on  using TCP/IP\n051007 21:55:25\t     43 Connect\tAccess denied for user 'x'@'h' (using password: YES)\n051007 21:55:26\t     44 Query\tSELECT 2\n";
        let whole = items(Format::General, log, std::slice::from_ref(&(0..log.len())));
        for cut in 0..log.len() {
            let ranges = split_at(Format::General, log, &[cut]);
            assert_eq!(items(Format::General, log, &ranges), whole, "cut at {cut}");
        }
        assert_eq!(split_at(Format::General, log, &[1]).len(), 2);
    }

    #[test]
    fn banner_lines_are_no_boundaries() {
        // Found by the `chunk` fuzz target: a `# Time:` (or general-log record) line that is also a start-up
        // banner (`..., Version: ... started with:`) was taken as a boundary. The parser skips it as a banner,
        // so a chunk starting there lost the time later entries inherit from the entry before it.
        let slow = b"# Time: 071015 21:43:52\n# User@Host: a[a] @ h []\nSELECT 1;\n# Time: 071015 21:43:53 x, Version: 5 started with:\n# User@Host: b[b] @ h []\nSELECT 2;\n";
        let general = b"071015 21:43:52\t     1 Query\tSELECT 1\n071015 21:43:53\t     1 Query\tx, Version: 5 started with:\n\t\t     1 Query\tSELECT 2\n";
        for (format, log) in [(Format::Slow, &slow[..]), (Format::General, &general[..])] {
            let whole = items(format, log, std::slice::from_ref(&(0..log.len())));
            for cut in 0..log.len() {
                let ranges = split_at(format, log, &[cut]);
                assert_eq!(items(format, log, &ranges), whole, "{format} cut at {cut}");
            }
            assert_eq!(last_boundary(format, log, usize::MAX), None, "{format}");
        }
    }

    #[test]
    fn last_boundary_leaves_the_open_record() {
        let log = b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @ h []\nSELECT 1;\n# Time: 2021-09-16T15:45:21.188927Z\n# User@Host: a[a] @ h []\nSELECT";
        assert_eq!(last_boundary(Format::Slow, log, usize::MAX), Some(71));
        assert_eq!(last_boundary(Format::Slow, &log[..71], usize::MAX), None);
        let _ = Item::Skipped;
    }
}
