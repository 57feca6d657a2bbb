//! Format detection from content.

use super::{errorlog, general, is_banner, is_blank, slow, Format};
use crate::event::Position;

/// How many lines the sniffer looks at.
const SNIFF_LINES: usize = 200;

/// Guesses the format of a log from its first bytes (64 KiB are plenty). Each of the first lines votes for the
/// formats it parses as; blank and banner lines do not vote. `None` when nothing looks like a log line.
///
/// ```
/// use auditlog_core::{sniff, Format};
/// assert_eq!(sniff(b"1703817810076091,aurora-mysql-instance-1,rdsadmin,localhost,223170,0,CONNECT,,,0\n"), Some(Format::Audit));
/// assert_eq!(sniff(b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @  [10.0.0.1]  Id: 1\n"), Some(Format::Slow));
/// assert_eq!(sniff(b"2020-10-23T08:36:48.508034Z   50 Connect\tadmin@1.34.6.81 on  using SSL/TLS\n"), Some(Format::General));
/// assert_eq!(sniff(b"2019-03-24T13:44:31.085670Z 0 [System] [MY-010116] [Server] starting\n"), Some(Format::Error));
/// assert_eq!(sniff(b"hello\n"), None);
/// // A text that only quotes a log line is no log.
/// let mut readme = b"# Notes\n2019-03-24T13:44:31.085670Z 0 [System] [MY-010116] [Server] starting\n".to_vec();
/// readme.extend(b"some prose\n".repeat(20));
/// assert_eq!(sniff(&readme), None);
/// ```
#[must_use]
pub fn sniff(head: &[u8]) -> Option<Format> {
    let (mut audit, mut slow, mut general, mut error) = (0u32, 0u32, 0u32, 0u32);
    // Lines that looked like a record start of any format: at least a tenth of the lines must, so a text
    // that merely quotes a log line (a README) is not taken for a log.
    let mut recognised = 0u32;
    let mut lines = head.split(|b| *b == b'\n').peekable();
    let mut seen = 0;
    while let Some(line) = lines.next() {
        // The final piece may be a partial line unless the buffer ends with it.
        if lines.peek().is_none() && !head.ends_with(b"\n") && seen > 0 {
            break;
        }
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        if is_blank(text) || is_banner(text) {
            continue;
        }
        seen += 1;
        if seen > SNIFF_LINES {
            break;
        }
        let before = (audit, slow, general, error);
        if super::audit::parse_line(text, Position::START).is_ok() {
            audit += 4;
        }
        if slow::is_entry_start(text) {
            slow += 4;
        } else if text.starts_with(b"# ") {
            slow += 1;
        }
        if general::record_start(text).is_some() {
            general += 3;
        }
        if let Some((rest, _, _)) = errorlog::line_timestamp(text) {
            let rest = rest.trim_ascii_start();
            let rest = rest.get(rest.iter().take_while(|b| b.is_ascii_digit()).count()..).unwrap_or_default();
            error += if rest.trim_ascii_start().starts_with(b"[") { 4 } else { 1 };
        }
        if before != (audit, slow, general, error) {
            recognised += 1;
        }
    }
    // Ties go to the earlier format of `Format::ALL`.
    let scored = [(audit, Format::Audit), (slow, Format::Slow), (general, Format::General), (error, Format::Error)];
    let (best, format) = scored.into_iter().rev().max_by_key(|(s, _)| *s)?;
    (best > 0 && recognised.saturating_mul(10) >= seen.min(SNIFF_LINES) as u32).then_some(format)
}
