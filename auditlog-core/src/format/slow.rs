//! Slow query log: header lines (`# Time:`, `# User@Host:`, `# Query_time:`, Percona and MariaDB extras),
//! then optional `use db;` and `SET timestamp=N;`, then the statement up to the next entry.
//!
//! An entry starts at `# Time:`, at `# User@Host:` (legacy logs write `# Time:` only when the second changes)
//! or, for fragments, at `# Query_time:`. Once the body has begun, only those three header lines start a new
//! entry, so statements may contain other lines beginning with `#`.

use std::borrow::Cow;

use super::common::{iso_timestamp, parse_i64, parse_u64, short_timestamp, utc_micros_parts};
use super::{is_banner, is_blank, Cursor, Item, Peek, SkipReason};
use crate::error::Reason;
use crate::event::{Dialect, Escaping, Event, EventKind, Extra, LogType, MetricValue, SlowMetrics, Sql};
use crate::time::Timestamp;

/// The first `needle` in a short header line: memchr for its first byte, then a comparison. A memmem searcher
/// costs more to run than this on the few dozen bytes of a header line.
fn find_short(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    memchr::memchr_iter(first, hay).find(|&i| hay.get(i + 1..).is_some_and(|t| t.starts_with(rest)))
}

/// Whether metric lines hold a key the parser reads: `Thread_id:`, `Schema:`, `Errno:` or `Last_errno:`.
fn has_own_key(header: &[u8]) -> bool {
    memchr::memchr_iter(b':', header).any(|i| {
        let key = header.get(..i).unwrap_or_default();
        key.ends_with(b"Thread_id") || key.ends_with(b"Schema") || key.ends_with(b"rrno")
    })
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// The last `# Time:` seen; entries without one happened in that second.
    last_time: Option<(Timestamp, Dialect)>,
    /// The date of the last ISO `# Time:` and when its day began (see [`time_value_cached`]).
    day: Option<([u8; 10], i64)>,
    /// Where the first [`KNOWN_LINES`] lines of the current entry end (offsets from its start), found while
    /// looking for its end, so that reading its header does not search for them again.
    ends: Vec<usize>,
}

/// Line ends of an entry remembered (headers, `use`, `SET` and the statement's first line are fewer); the lines
/// of a longer entry are found again when needed, so the memory stays the same whatever the entry.
const KNOWN_LINES: usize = 16;

/// The lines of an entry from `at`, each with its `\n` (the last one without, when the entry does not end with
/// one): those whose ends are known first, then found with memchr.
struct Lines<'r, 'k> {
    raw: &'r [u8],
    at: usize,
    known: std::slice::Iter<'k, usize>,
}

impl<'r> Iterator for Lines<'r, '_> {
    type Item = &'r [u8];

    fn next(&mut self) -> Option<&'r [u8]> {
        let rest = self.raw.get(self.at..).filter(|r| !r.is_empty())?;
        let len = match self.known.next() {
            Some(&end) if end > self.at && end <= self.raw.len() => end - self.at,
            _ => memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1),
        };
        let line = rest.get(..len)?;
        self.at += len;
        Some(line)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Head {
    Time,
    UserHost,
    QueryTime,
}

fn head(text: &[u8]) -> Option<Head> {
    let t = text.strip_prefix(b"# ")?;
    if t.starts_with(b"Time:") {
        Some(Head::Time)
    } else if t.starts_with(b"User@Host:") {
        Some(Head::UserHost)
    } else if t.starts_with(b"Query_time:") {
        Some(Head::QueryTime)
    } else {
        None
    }
}

/// Which entry-start header lines an entry has had.
#[derive(Default)]
struct Seen {
    time: bool,
    user_host: bool,
    query_time: bool,
}

impl Seen {
    fn mark(&mut self, h: Head) {
        match h {
            Head::Time => self.time = true,
            Head::UserHost => self.user_host = true,
            Head::QueryTime => self.query_time = true,
        }
    }
}

/// True for a line that starts a slow-log entry.
pub(crate) fn is_entry_start(text: &[u8]) -> bool {
    head(text).is_some()
}

/// Scans the entry whose first line is `first`: (end past its last non-blank line, its line count). The ends of
/// its first lines are left in `ends`, relative to its start.
fn entry_end(cur: &Cursor<'_>, first: super::Line<'_>, ends: &mut Vec<usize>) -> Option<(usize, u64)> {
    ends.clear();
    ends.push(first.next - first.start);
    let mut seen = Seen::default();
    if let Some(h) = head(first.text) {
        seen.mark(h);
        // Past its own `# Time:` (7 bytes): a `#` there is what to look at.
        if h == Head::Time && first.text.get(7..).is_some_and(|t| find_short(t, b"# User@Host:").is_some()) {
            seen.mark(Head::UserHost);
        }
    }
    let mut body = false;
    let (mut end, mut lines, mut count, mut at) = (first.next, 1u64, 1u64, first.next);
    loop {
        let l = match cur.peek(at) {
            Peek::End => return Some((end, lines)),
            Peek::Incomplete => return None,
            Peek::Line(l) => l,
        };
        if is_banner(l.text) {
            return Some((end, lines));
        }
        if let Some(h) = head(l.text) {
            let new_entry = body
                || match h {
                    Head::Time => seen.time || seen.user_host || seen.query_time,
                    Head::UserHost => seen.user_host || seen.query_time,
                    Head::QueryTime => seen.query_time,
                };
            if new_entry {
                return Some((end, lines));
            }
            seen.mark(h);
        } else if !body
            && !is_blank(l.text)
            && (!l.text.starts_with(b"#") || l.text.starts_with(b"# administrator command:"))
        {
            body = true;
        }
        count += 1;
        at = l.next;
        if ends.len() < KNOWN_LINES {
            ends.push(l.next - first.start);
        }
        if !is_blank(l.text) {
            end = l.next;
            lines = count;
        }
    }
}

pub(crate) fn step<'a>(st: &mut State, cur: &mut Cursor<'a>) -> Option<Item<'a>> {
    let Peek::Line(l) = cur.peek(cur.at) else { return None };
    if is_blank(l.text) {
        return Some(cur.skip(l, SkipReason::Blank));
    }
    if is_banner(l.text) {
        return Some(cur.skip(l, SkipReason::Banner));
    }
    if !is_entry_start(l.text) {
        // The input begins inside an entry (or holds foreign lines): report them up to the next entry.
        let mut end = l.next;
        let mut lines = 1;
        loop {
            match cur.peek(end) {
                Peek::Incomplete => return None,
                Peek::End => break,
                Peek::Line(n) if is_entry_start(n.text) || is_banner(n.text) => break,
                Peek::Line(n) => {
                    end = n.next;
                    lines += 1;
                }
            }
        }
        return Some(cur.malformed(end, lines, Reason::Orphan));
    }
    let (end, lines) = entry_end(cur, l, &mut st.ends)?;
    let pos = cur.pos();
    let raw = cur.slice(end);
    cur.advance(end, lines);
    // Built in place: the event (400 bytes) was copied twice on its way out.
    Some(Item::Event(parse_entry(&mut st.last_time, &mut st.day, raw, pos, &st.ends)))
}

fn opt(b: &[u8]) -> Option<Cow<'_, [u8]>> {
    (!b.is_empty()).then_some(Cow::Borrowed(b))
}

/// `# User@Host: priv[user] @ host [ip]  Id: N` → (user, host, id).
fn user_host(v: &[u8]) -> (Option<&[u8]>, Option<&[u8]>, Option<u64>) {
    let (acct, rest) = match spaced_at(v) {
        Some(i) => (v.get(..i).unwrap_or_default(), v.get(i + 3..).unwrap_or_default()),
        None => (v, &[][..]),
    };
    let acct = acct.trim_ascii();
    // The parts are a few bytes long: plain scans cost less than calls to memchr.
    let (priv_user, user) = match bracketed(acct) {
        Some((a, b)) => (acct.get(..a).unwrap_or_default(), acct.get(a + 1..b).unwrap_or_default()),
        None => (acct, &[][..]),
    };
    let user = if user.is_empty() { priv_user } else { user };
    let (hostpart, id) = match find_short(rest, b"Id:") {
        Some(i) => (rest.get(..i).unwrap_or_default(), parse_u64(rest.get(i + 3..).unwrap_or_default().trim_ascii())),
        None => (rest, None),
    };
    let hostpart = hostpart.trim_ascii();
    let (name, ip) = match bracketed(hostpart) {
        Some((a, b)) => (
            hostpart.get(..a).unwrap_or_default().trim_ascii(),
            hostpart.get(a + 1..b).unwrap_or_default().trim_ascii(),
        ),
        None => (hostpart, &[][..]),
    };
    let host = if name.is_empty() { ip } else { name };
    ((!user.is_empty()).then_some(user), (!host.is_empty()).then_some(host), id)
}

/// Where the first ` @ ` of `v` is, found by its `@` (spaces are many, `@` usually one).
fn spaced_at(v: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'@', v)
        .find(|&i| i > 0 && v.get(i - 1) == Some(&b' ') && v.get(i + 1) == Some(&b' '))
        .map(|i| i - 1)
}

/// The first `[` and the last `]` of `b`, when the one comes before the other.
fn bracketed(b: &[u8]) -> Option<(usize, usize)> {
    let open = b.iter().position(|c| *c == b'[')?;
    let close = b.iter().rposition(|c| *c == b']')?;
    (open < close).then_some((open, close))
}

/// The time of a `# Time:` line (the text after the colon): ISO 8601 (5.7+) or legacy `YYMMDD H:MM:SS`.
pub(crate) fn time_value(v: &[u8]) -> Option<(Timestamp, Dialect)> {
    let v = v.trim_ascii_start();
    if v.get(10) == Some(&b'T') {
        iso_timestamp(v).ok().map(|(_, t)| (t, Dialect::Mysql57))
    } else {
        short_timestamp(v).ok().map(|(_, t)| (t, Dialect::Legacy))
    }
}

/// [`time_value`], remembering where the day of the last `YYYY-MM-DDTHH:MM:SS.ffffffZ` began: a log's entries
/// mostly share their date, so only the time of day is read for them.
fn time_value_cached(v: &[u8], day: &mut Option<([u8; 10], i64)>) -> Option<(Timestamp, Dialect)> {
    let t = v.trim_ascii_start();
    let Some((date, tod)) = utc_parts(t) else { return time_value(v) };
    if let Some((_, start)) = day.as_ref().filter(|(d, _)| *d == date) {
        return Some((Timestamp::from_epoch_micros(start + tod), Dialect::Mysql57));
    }
    let found = time_value(v)?;
    *day = Some((date, found.0.epoch_micros() - tod));
    Some(found)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` as its date and its time of day in microseconds, the hours, minutes and seconds
/// in the ranges [`Timestamp::from_civil`] accepts.
fn utc_parts(t: &[u8]) -> Option<([u8; 10], i64)> {
    let (date, sep, [h, m, s, us]) = utc_micros_parts(t)?;
    if sep != b'T' || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let tod = (i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s)) * 1_000_000 + i64::from(us);
    Some((date, tod))
}

/// `SET timestamp=N;` or `SET last_insert_id=1,insert_id=2,timestamp=N;` → N.
fn set_timestamp(line: &[u8]) -> Option<Option<i64>> {
    let rest = line.get(..4).filter(|p| p.eq_ignore_ascii_case(b"SET "))?;
    let _ = rest;
    let body = line.get(4..)?.trim_ascii().strip_suffix(b";")?;
    let mut ts = None;
    for assign in body.split(|b| *b == b',') {
        let (k, v) = assign.split_at(memchr::memchr(b'=', assign)?);
        let k = k.trim_ascii();
        if !k.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
            return None;
        }
        let v = parse_i64(v.get(1..)?.trim_ascii())?;
        // The server writes only these: `SET autocommit=1;` and the like are the statement itself.
        let known = [&b"timestamp"[..], b"insert_id", b"last_insert_id"];
        if !known.iter().any(|n| k.eq_ignore_ascii_case(n)) {
            return None;
        }
        if k.eq_ignore_ascii_case(b"timestamp") {
            ts = Some(v);
        }
    }
    Some(ts)
}

/// `use db;` → db (back-quotes removed).
fn use_db(line: &[u8]) -> Option<&[u8]> {
    let p = line.get(..4).filter(|p| p.eq_ignore_ascii_case(b"use "))?;
    let _ = p;
    let db = line.get(4..)?.trim_ascii().strip_suffix(b";")?.trim_ascii();
    let db = db.strip_prefix(b"`").and_then(|d| d.strip_suffix(b"`")).unwrap_or(db);
    (!db.is_empty() && memchr::memchr2(b' ', b';', db).is_none()).then_some(db)
}

/// The event of the entry `raw`, whose first lines end at `ends` (see [`State::ends`]).
fn parse_entry<'a>(
    last_time: &mut Option<(Timestamp, Dialect)>,
    day: &mut Option<([u8; 10], i64)>,
    raw: &'a [u8],
    pos: crate::event::Position,
    ends: &[usize],
) -> Event<'a> {
    let mut time: Option<Option<(Timestamp, Dialect)>> = None;
    let (mut user, mut host, mut id) = (None, None, None);
    let mut header_end = 0;
    let mut metrics_start = None;
    let mut off = 0;
    let mut lines = Lines { raw, at: 0, known: ends.iter() };
    // Header lines.
    let mut first_body = None;
    for line in lines.by_ref() {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let is_header = text.starts_with(b"#") && !text.starts_with(b"# administrator command:");
        if !is_header && !is_blank(text) {
            first_body = Some(line);
            break;
        }
        if let Some(v) = text.strip_prefix(b"# Time:") {
            // `# Time: 071218 11:48:27 # User@Host: ...` (Percona 5.0/5.1) holds both on one line.
            let (tv, uh) = match find_short(v, b"# User@Host:") {
                Some(i) => (v.get(..i).unwrap_or_default(), v.get(i + 12..)),
                None => (v, None),
            };
            time = Some(time_value_cached(tv, day));
            if let Some(uh) = uh {
                (user, host, id) = user_host(uh);
            }
        } else if let Some(v) = text.strip_prefix(b"# User@Host:") {
            (user, host, id) = user_host(v);
        } else if metrics_start.is_none() && is_header {
            metrics_start = Some(off);
        }
        off += line.len();
        header_end = off;
    }
    let header = raw.get(metrics_start.unwrap_or(header_end)..header_end).unwrap_or_default();
    // The metrics the event's own fields come from, in one pass (first occurrence of each key).
    let (mut thread_id, mut schema, mut errno, mut last_errno) = (None, None, None, None);
    // MySQL writes none of them: a search for each is much cheaper than tokenizing the lines.
    let any_own_key = has_own_key(header);
    for (k, v) in crate::event::metric_raw_pairs_in(if any_own_key { header } else { &[] }) {
        let slot = match k {
            b"Thread_id" => &mut thread_id,
            b"Schema" => &mut schema,
            b"Errno" => &mut errno,
            b"Last_errno" => &mut last_errno,
            _ => continue,
        };
        slot.get_or_insert(v);
    }
    let int = |v: Option<&[u8]>| match v.map(MetricValue::parse) {
        Some(MetricValue::Int(n)) => Some(n),
        _ => None,
    };
    let mut db: Option<&[u8]> = None;
    let mut set_ts = None;
    // `use db;` and `SET timestamp=...;` lines before the statement.
    let mut body_start = header_end;
    let mut line = first_body;
    while let Some(l) = line {
        let text = l.trim_ascii_end();
        // The server writes at most one `use db;`: a second one (`USE \`db\`;`) is the statement.
        if let Some(d) = use_db(text).filter(|_| db.is_none()) {
            db = Some(d);
        } else if let Some(t) = set_timestamp(text) {
            set_ts = set_ts.or(t);
        } else {
            break;
        }
        body_start += l.len();
        line = lines.next();
    }
    let body = raw.get(body_start..).unwrap_or_default();
    let stmt = body.trim_ascii_end();
    let stmt = stmt.strip_suffix(b";").unwrap_or(stmt);
    let (kind, op, sql) = match stmt.strip_prefix(b"# administrator command:") {
        Some(cmd) => (EventKind::Command, Some(cmd.trim_ascii()), None),
        None => (EventKind::Query, None, (!stmt.is_empty()).then_some(stmt)),
    };
    let own_time = time.flatten();
    if own_time.is_some() {
        *last_time = own_time;
    }
    let (ts, dialect) = match (own_time, time, *last_time, set_ts) {
        (Some((t, d)), _, _, _) => (Some(t), d),
        // No `# Time:` line at all: the entry happened in the second of the last one written.
        (None, None, Some((t, d)), _) => (Some(t), d),
        (None, _, last, Some(s)) => {
            (s.checked_mul(1_000_000).map(Timestamp::from_epoch_micros), last.map_or(Dialect::Mysql57, |(_, d)| d))
        }
        (None, _, last, None) => (None, last.map_or(Dialect::Mysql57, |(_, d)| d)),
    };
    // Only the line end is left out: trailing blanks of the last line belong to the record, so the event's
    // bytes and its line end account for the whole entry.
    let raw_text = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw_text = raw_text.strip_suffix(b"\r").unwrap_or(raw_text);
    let admin = kind == EventKind::Command;
    // One literal, returned as is: built where the caller wants it.
    Event {
        ts,
        log: LogType::Slow,
        dialect,
        kind,
        op: op.map(Cow::Borrowed),
        server: None,
        user: user.and_then(opt),
        host: host.and_then(opt),
        conn_id: id.or_else(|| int(thread_id)),
        query_id: None,
        // The raw text: a database may be named `no`, `yes` or `2024`, which type as a flag or a number.
        db: db.or(schema.filter(|s| !s.is_empty())).and_then(opt),
        object: None,
        sql: sql.map(|s| Sql::new(s, Escaping::Raw)),
        message: None,
        retcode: [errno, last_errno].into_iter().find_map(|v| int(v).and_then(|n| i64::try_from(n).ok())),
        truncated: false,
        extra: Extra::Slow { metrics: SlowMetrics::new(header), set_timestamp: set_ts, admin },
        pos,
        raw: Cow::Borrowed(raw_text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Position;
    use crate::format::{Format, Parser};

    proptest::proptest! {
        /// The short-line searches find what memmem finds, on text made of the needles, their parts and
        /// near misses.
        #[test]
        fn short_searches_equal_memmem(parts in proptest::collection::vec(proptest::sample::select(vec![
            "# User@Host:", "# User@Host", " @ ", "@", " @", "Id:", "Id", "I", ":", "Thread_id:", "Thread_id",
            "Schema:", "Schem", "rrno:", "Last_errno:", "rrno", " ", "#", "x",
        ]), 0..10)) {
            let hay = parts.concat();
            let h = hay.as_bytes();
            for needle in [&b"# User@Host:"[..], b" @ ", b"Id:", b"Thread_id:", b"Schema:", b"rrno:"] {
                proptest::prop_assert_eq!(find_short(h, needle), memchr::memmem::find(h, needle));
            }
            let own = [&b"Thread_id:"[..], b"Schema:", b"rrno:"].iter().any(|n| memchr::memmem::find(h, n).is_some());
            proptest::prop_assert_eq!(has_own_key(h), own);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Times read with the day remembered equal those read whole, over sequences that repeat, change and
        /// break dates (February 29th and 30th, month 13), times at the limits (23:59:60, hour 24), other zones and
        /// layouts.
        #[test]
        fn cached_days_equal_whole_times(times in proptest::collection::vec((
            proptest::sample::select(vec!["2024-02-29", "2023-02-29", "2024-02-30", "2024-13-01", "2024-11-19", "0000-01-01", "9999-12-31", "2024-1x-19"]),
            proptest::sample::select(vec!["T", " "]),
            proptest::sample::select(vec!["00:00:00", "23:59:59", "23:59:60", "24:00:00", "12:60:00", "07:06:40", "0x:00:00"]),
            proptest::sample::select(vec![".000415Z", ".999999Z", ".5Z", ".000415+02:00", "Z", ".00041xZ", ".000415Z # User@Host: a"]),
        ), 1..12)) {
            let mut day = None;
            for (d, sep, t, rest) in times {
                let v = format!(" {d}{sep}{t}{rest}");
                proptest::prop_assert_eq!(time_value_cached(v.as_bytes(), &mut day), time_value(v.as_bytes()), "{}", v);
            }
        }
    }

    proptest::proptest! {
        /// The brackets found by scanning are those memchr and memrchr find.
        #[test]
        fn brackets_equal_memchr(text in "[\\[\\]a ]{0,12}") {
            let b = text.as_bytes();
            let want = match (memchr::memchr(b'[', b), memchr::memrchr(b']', b)) {
                (Some(a), Some(c)) if a < c => Some((a, c)),
                _ => None,
            };
            proptest::prop_assert_eq!(bracketed(b), want);
        }

        /// The ` @ ` found by its `@` is the one memmem finds.
        #[test]
        fn spaced_at_equals_memmem(text in "[@ a]{0,12}") {
            let b = text.as_bytes();
            proptest::prop_assert_eq!(spaced_at(b), memchr::memmem::find(b, b" @ "));
        }
    }

    proptest::proptest! {
        /// An entry's lines, with the ends of its first `k` lines known or not, are those `split_inclusive`
        /// gives.
        #[test]
        fn entry_lines_split_like_split_inclusive(text in "[a\n\r ]{0,30}", k in 0usize..8) {
            let b = text.as_bytes();
            let want: Vec<&[u8]> = b.split_inclusive(|c| *c == b'\n').collect();
            let ends: Vec<usize> = want.iter().scan(0, |at, l| { *at += l.len(); Some(*at) }).take(k).collect();
            proptest::prop_assert_eq!(Lines { raw: b, at: 0, known: ends.iter() }.collect::<Vec<_>>(), want);
        }
    }

    fn events(log: &[u8]) -> Vec<Event<'_>> {
        let mut p = Parser::new(Format::Slow);
        p.records(log, Position::START, true)
            .filter_map(|i| match i {
                Item::Event(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn s(b: &Option<Cow<'_, [u8]>>) -> String {
        b.as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_else(|| "-".into())
    }

    #[test]
    fn schema_names_that_look_like_flags_or_numbers() {
        // Found by the property test: `Schema: no` typed as a flag, so the database was lost.
        for db in ["no", "Yes", "2024", "1.5"] {
            let log = format!("# User@Host: a[a] @ h []\n# Thread_id: 1  Schema: {db}  QC_hit: No\n# Query_time: 1  Lock_time: 0  Rows_sent: 0  Rows_examined: 0\nSELECT 1;\n");
            let ev = events(log.as_bytes());
            assert_eq!(s(&ev[0].db), db);
        }
    }

    #[test]
    fn raw_keeps_trailing_blanks_of_the_last_line() {
        // Found by the accounting test over the fuzz corpus: `raw` was trimmed of all trailing whitespace, so
        // the blanks before the final line end were in no item.
        let log = b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @ h []\nSELECT 1;  \t\r\n";
        let ev = events(log);
        assert_eq!(&ev[0].raw[..], &log[..log.len() - 2]);
        assert_eq!(&*ev[0].sql.as_ref().unwrap().text(), b"SELECT 1");
    }

    #[test]
    fn aurora_entry() {
        let log = b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: checkxxx[checkxxx] @  [10.213.15.234]  Id: 1250245\n# Query_time: 0.110489  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1631807120;\nshow slave status;\n";
        let e = &events(log)[0];
        assert_eq!(e.ts.unwrap().to_rfc3339(), "2021-09-16T15:45:20.188927Z");
        assert_eq!(s(&e.user), "checkxxx");
        assert_eq!(s(&e.host), "10.213.15.234");
        assert_eq!(e.conn_id, Some(1250245));
        assert_eq!(&*e.sql.as_ref().unwrap().text(), b"show slave status");
        assert_eq!(e.metrics().unwrap().get("Query_time"), Some(MetricValue::Float(0.110489)));
        assert_eq!(e.metrics().unwrap().get("Rows_examined"), Some(MetricValue::Int(0)));
        assert!(matches!(e.extra, Extra::Slow { set_timestamp: Some(1631807120), admin: false, .. }));
    }

    #[test]
    fn legacy_entries_share_time_and_use_db() {
        let log = b"# Time: 071015 21:43:52\n# User@Host: root[root] @ localhost []\n# Query_time: 2  Lock_time: 0  Rows_sent: 1  Rows_examined: 0\nuse test;\nselect sleep(2) from n;\n# User@Host: root[root] @ localhost []\n# Query_time: 2  Lock_time: 0  Rows_sent: 1  Rows_examined: 0\nuse `sakila`;\nselect sleep(2) from\n  n;\n";
        let ev = events(log);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].ts, ev[1].ts);
        assert_eq!(ev[0].dialect, Dialect::Legacy);
        assert_eq!(s(&ev[1].db), "sakila");
        assert_eq!(&*ev[1].sql.as_ref().unwrap().text(), b"select sleep(2) from\n  n");
        assert_eq!(ev[1].pos.line, 6);
    }

    #[test]
    fn set_and_use_statements_are_not_prefix_lines() {
        // percona-toolkit slow012/slow016: the statement itself is `SET autocommit=1;` or a second `USE`.
        let log = b"# User@Host: root[root] @ localhost []\n# Query_time: 1  Lock_time: 0  Rows_sent: 0  Rows_examined: 0\nSET timestamp=1197996507;\nSET autocommit=1;\n# User@Host: root[root] @ localhost []\n# Query_time: 1  Lock_time: 0  Rows_sent: 0  Rows_examined: 0\nuse user_chos;\nUSE `user_chos`;\n";
        let ev = events(log);
        assert_eq!(ev.len(), 2);
        assert_eq!(&*ev[0].sql.as_ref().unwrap().text(), b"SET autocommit=1");
        assert!(matches!(ev[0].extra, Extra::Slow { set_timestamp: Some(1197996507), .. }));
        assert_eq!(s(&ev[1].db), "user_chos");
        assert_eq!(&*ev[1].sql.as_ref().unwrap().text(), b"USE `user_chos`");
    }

    #[test]
    fn windows_start_header_is_a_banner() {
        // percona-toolkit slow031: MySQL 5.1 on Windows.
        let log = b"D:\\MySQL\\bin\\mysqld, Version: 5.1.30-community-log (MySQL Community Server (GPL)). started with:\nTCP Port: 3306, Named Pipe: (null)\nTime                 Id Command    Argument\n# Time: 090127  1:23:34\n# User@Host: u[u] @ h [1.2.3.4]\n# Query_time: 0.45  Lock_time: 0 Rows_sent: 1  Rows_examined: 1\nSELECT 1;\n";
        let mut p = Parser::new(Format::Slow);
        let items: Vec<Item<'_>> = p.records(log, Position::START, true).collect();
        assert_eq!(items.len(), 4);
        assert!(items[..3].iter().all(|i| matches!(i, Item::Skipped(s) if s.reason == SkipReason::Banner)));
        assert!(matches!(&items[3], Item::Event(e) if e.pos.line == 4));
    }

    #[test]
    fn admin_command_and_mysql8_extra() {
        let log = b"# Time: 2019-03-24T14:01:47.811234Z\n# User@Host: root[root] @ localhost []  Id:    14\n# Query_time: 0.000002  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0 Thread_id: 14 Errno: 1146 Killed: 0 Bytes_received: 0 Start: 2019-03-24T14:01:47.811232Z End: 2019-03-24T14:01:47.811234Z\nSET timestamp=1553436107;\n# administrator command: Quit;\n";
        let e = &events(log)[0];
        assert_eq!(e.kind, EventKind::Command);
        assert_eq!(s(&e.op), "Quit");
        assert_eq!(e.retcode, Some(1146));
        assert_eq!(e.metrics().unwrap().get("Start"), Some(MetricValue::Text(b"2019-03-24T14:01:47.811232Z")));
    }

    #[test]
    fn time_and_user_on_one_line_and_thread_id() {
        let log = b"# Time: 071218 11:48:27 # User@Host: [SQL_SLAVE] @  []\n# Thread_id: 10\n# Query_time: 0.000012  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0\nBEGIN;\n";
        let e = &events(log)[0];
        assert_eq!(s(&e.user), "SQL_SLAVE");
        assert_eq!(e.host, None);
        assert_eq!(e.conn_id, Some(10));
        assert_eq!(e.ts.unwrap().to_rfc3339(), "2007-12-18T11:48:27.000000Z");
    }

    #[test]
    fn hash_lines_inside_statement_and_orphans() {
        let log = b"INSERT INTO t VALUES (1);\n# User@Host: a[a] @ h []\n# Query_time: 1  Lock_time: 0  Rows_sent: 0  Rows_examined: 0\nSELECT 1\n### not a header\n;\n";
        let mut p = Parser::new(Format::Slow);
        let items: Vec<_> = p.records(log, Position::START, true).collect();
        assert!(matches!(&items[0], Item::Malformed(m) if m.reason == Reason::Orphan));
        let Item::Event(e) = &items[1] else { panic!() };
        assert_eq!(&*e.sql.as_ref().unwrap().text(), b"SELECT 1\n### not a header\n");
    }

    #[test]
    fn banner_ends_entry_and_dangling_time() {
        let log = b"# User@Host: a[a] @ h []\n# Query_time: 1  Lock_time: 0  Rows_sent: 0  Rows_examined: 0\nSELECT 1;\n/usr/sbin/mysqld, Version: 8.0.15 (MySQL Community Server - GPL). started with:\nTcp port: 0  Unix socket: /var/run/mysqld/mysqld.sock\nTime                 Id Command    Argument\n# Time: 2019-03-24T14:01:47.811234Z\n";
        let mut p = Parser::new(Format::Slow);
        let items: Vec<_> = p.records(log, Position::START, true).collect();
        assert_eq!(items.len(), 5);
        let Item::Event(e) = &items[4] else { panic!() };
        assert_eq!(e.sql, None);
        assert!(e.ts.is_some());
    }
}
