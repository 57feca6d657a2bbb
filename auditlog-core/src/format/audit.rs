//! Audit log: Aurora Advanced Auditing, the RDS for MySQL audit plugin, MariaDB server_audit.
//!
//! One record per line: `timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode`
//! plus, on RDS for MySQL 5.7.34+/8.0, a trailing connection type on connection rows and two empty fields on
//! QUERY rows. The line is not RFC 4180 CSV: user names may contain commas and the quoted SQL object contains
//! unescaped commas, so the parser anchors on `,host,digits,digits,OPERATION,` (formats.md §1.2).

use std::borrow::Cow;

use super::common::{compact_timestamp, epoch_micros, parse_i64, parse_u64};
use super::{is_blank, is_truncation_marker, Cursor, Item, Peek, SkipReason, TRUNCATION_MARKER};
use crate::error::{Malformed, Reason};
use crate::event::{Dialect, Escaping, Event, EventKind, Extra, LogType, Position, Sql};
use crate::time::Timestamp;

#[derive(Debug, Default)]
pub(crate) struct State;

/// Whether the line at `at` is a truncation marker; `None` when the buffer ends inside a line that could still
/// become one. Decided exactly like the parse of that line would, so split parsing equals one pass.
fn marker_follows(cur: &Cursor<'_>, at: usize) -> Option<bool> {
    // A marker line, trimmed, starts with `[`: any other first byte rules it out without finding the line end.
    if cur.buf.get(at).is_some_and(|b| *b != b'[' && !b.is_ascii_whitespace()) {
        return Some(false);
    }
    match cur.peek(at) {
        Peek::Line(l) => Some(is_truncation_marker(l.text)),
        Peek::End => Some(false),
        Peek::Incomplete => {
            let rest = cur.buf.get(at..).unwrap_or_default();
            // Skip what `is_truncation_marker` trims: all ASCII whitespace (CR too), not only spaces and TABs.
            let start = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let t = rest.get(start..).unwrap_or_default();
            let core = TRUNCATION_MARKER.trim_ascii();
            if core.starts_with(t) || t.starts_with(core) {
                None
            } else {
                Some(false)
            }
        }
    }
}

pub(crate) fn step<'a>(_st: &mut State, cur: &mut Cursor<'a>) -> Option<Item<'a>> {
    let Peek::Line(l) = cur.peek(cur.at) else { return None };
    if is_blank(l.text) {
        return Some(cur.skip(l, SkipReason::Blank));
    }
    if is_truncation_marker(l.text) {
        return Some(cur.skip(l, SkipReason::TruncationMarker));
    }
    let cut = marker_follows(cur, l.next)?;
    let pos = cur.pos();
    cur.advance(l.next, 1);
    // The event is built by a struct literal straight into the returned item: it is large, and each move of
    // a finished event is a copy.
    Some(match fields(l.text) {
        Ok(f) => Item::Event(event(f, pos, l.text, cut)),
        Err(reason) => Item::Malformed(Malformed {
            pos,
            reason: if cut { Reason::Truncated } else { reason },
            raw: Cow::Borrowed(l.text),
            len: (l.next - l.start) as u64,
        }),
    })
}

/// Splits at the first `,`: (field, rest after the comma), or (all, None) when there is none.
fn field(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    // Fields are short: a plain loop beats memchr's set-up cost here.
    match s.iter().position(|&b| b == b',') {
        Some(i) => (s.get(..i).unwrap_or_default(), s.get(i + 1..)),
        None => (s, None),
    }
}

fn is_op(w: &[u8]) -> bool {
    !w.is_empty() && w.len() <= 32 && w.iter().all(|b| b.is_ascii_uppercase() || *b == b'_')
}

struct Anchor<'a> {
    host: &'a [u8],
    conn: u64,
    qid: u64,
    op: &'a [u8],
    rest: &'a [u8],
}

/// Matches `host,digits,digits,OP,` at the start of `s`.
fn anchor(s: &[u8]) -> Option<Anchor<'_>> {
    let (host, r) = field(s);
    let (conn, r) = field(r?);
    let (qid, r) = field(r?);
    let (op, r) = field(r?);
    if !is_op(op) {
        return None;
    }
    Some(Anchor { host, conn: parse_u64(conn)?, qid: parse_u64(qid)?, op, rest: r? })
}

/// The quoted object: the bytes between the quotes and what follows the closing quote, or
/// (everything, None) when the closing quote is missing. Only a quote followed by `,` or the line end can
/// close; scanning starts after `from` bytes of the text, so a caller can skip a candidate that did not fit.
fn quoted(s: &[u8], from: usize) -> (&[u8], Option<&[u8]>) {
    let body = s.get(1..).unwrap_or_default();
    let mut i = from;
    while let Some(j) = memchr::memchr2(b'\\', b'\'', body.get(i..).unwrap_or_default()) {
        let k = i + j;
        if body.get(k) == Some(&b'\\') {
            i = k + 2;
        } else {
            let after = body.get(k + 1..).unwrap_or_default();
            if after.is_empty() || after.first() == Some(&b',') {
                return (body.get(..k).unwrap_or_default(), Some(after));
            }
            i = k + 1;
        }
    }
    (body, None)
}

fn op_kind(op: &[u8]) -> EventKind {
    match op {
        b"CONNECT" | b"PROXY_CONNECT" => EventKind::Connect,
        b"FAILED_CONNECT" => EventKind::FailedConnect,
        b"DISCONNECT" => EventKind::Disconnect,
        b"CHANGEUSER" => EventKind::ChangeUser,
        b"QUERY" => EventKind::Query,
        b"READ" | b"WRITE" | b"CREATE" | b"ALTER" | b"DROP" | b"RENAME" => EventKind::Table,
        _ => EventKind::Other,
    }
}

fn opt(b: &[u8]) -> Option<Cow<'_, [u8]>> {
    (!b.is_empty()).then_some(Cow::Borrowed(b))
}

/// Splits MariaDB 12's `host:port` (one colon only, so IPv6 addresses stay whole).
fn split_port(host: &[u8]) -> (&[u8], Option<u16>) {
    // Host fields are short: a plain scan beats setting up memchr twice per record.
    let mut colons = host.iter().enumerate().filter(|(_, b)| **b == b':').map(|(i, _)| i);
    if let (Some(i), None) = (colons.next(), colons.next()) {
        let port = host.get(i + 1..).unwrap_or_default();
        if port == b"unavailable" {
            return (host.get(..i).unwrap_or_default(), None);
        }
        if let Some(p) = parse_u64(port).and_then(|p| u16::try_from(p).ok()) {
            return (host.get(..i).unwrap_or_default(), Some(p));
        }
    }
    (host, None)
}

/// The object, retcode and trailing fields after the database field.
struct Tail<'a> {
    object: Option<&'a [u8]>,
    sql: Option<&'a [u8]>,
    retcode: Option<i64>,
    trailing: Option<&'a [u8]>,
    truncated: bool,
}

fn tail(s: &[u8]) -> Option<Tail<'_>> {
    if s.first() == Some(&b'\'') {
        // A writer that lost its escapes leaves bare quotes inside the text (`time_zone='+00:00',...`): a
        // quote followed by `,` closes the field only if a valid retcode follows; else scanning goes on.
        let mut from = 0;
        loop {
            let (inner, after) = quoted(s, from);
            let Some(a) = after else {
                // No closing quote at all: a cut record. A closing quote followed by garbage: malformed.
                return (from == 0).then_some(Tail {
                    object: None,
                    sql: Some(inner),
                    retcode: None,
                    trailing: None,
                    truncated: true,
                });
            };
            if let Some(t) = after_object(None, Some(inner), a.get(1..), false) {
                return Some(t);
            }
            from = inner.len() + 1;
        }
    }
    let (obj, after) = field(s);
    after_object(Some(obj), None, after, false)
}

/// The retcode and trailing fields after the object.
fn after_object<'a>(
    object: Option<&'a [u8]>,
    sql: Option<&'a [u8]>,
    after: Option<&'a [u8]>,
    truncated: bool,
) -> Option<Tail<'a>> {
    let (retcode, trailing) = match after {
        Some(a) => {
            let (rc, tr) = field(a);
            let rc = if rc.is_empty() { None } else { Some(parse_i64(rc)?) };
            (rc, tr)
        }
        None => (None, None),
    };
    Some(Tail { object, sql, retcode, trailing, truncated })
}

/// The fields of one audit line, before they become an [`Event`].
struct Fields<'a> {
    ts: Timestamp,
    dialect: Dialect,
    server: &'a [u8],
    user: &'a [u8],
    host: &'a [u8],
    port: Option<u16>,
    anchor: Anchor<'a>,
    db: &'a [u8],
    tail: Tail<'a>,
}

/// Parses one audit line (without its line end).
pub(crate) fn parse_line(t: &[u8], pos: Position) -> Result<Event<'_>, Reason> {
    fields(t).map(|f| event(f, pos, t, false))
}

/// The event of a parsed line; `cut` when a truncation marker follows it.
#[inline(always)]
fn event<'a>(f: Fields<'a>, pos: Position, t: &'a [u8], cut: bool) -> Event<'a> {
    let conn_type = f.tail.trailing.map(|t| field(t).0).and_then(opt);
    let extra =
        if conn_type.is_some() || f.port.is_some() { Extra::Audit { conn_type, port: f.port } } else { Extra::None };
    Event {
        ts: Some(f.ts),
        log: LogType::Audit,
        dialect: f.dialect,
        kind: op_kind(f.anchor.op),
        op: Some(Cow::Borrowed(f.anchor.op)),
        server: opt(f.server),
        user: opt(f.user),
        host: opt(f.host),
        conn_id: Some(f.anchor.conn),
        query_id: Some(f.anchor.qid),
        db: opt(f.db),
        object: f.tail.object.and_then(opt),
        sql: f.tail.sql.map(|s| Sql::new(s, Escaping::AuditQuoted)),
        message: None,
        retcode: f.tail.retcode,
        truncated: f.tail.truncated || cut,
        extra,
        pos,
        raw: Cow::Borrowed(t),
    }
}

#[inline]
fn fields(t: &[u8]) -> Result<Fields<'_>, Reason> {
    let (rest, ts, dialect): (&[u8], Timestamp, Dialect) = if let Ok((r, ts)) = epoch_micros(t) {
        (r, ts, Dialect::Aurora)
    } else if let Ok((r, ts)) = compact_timestamp(t) {
        (r, ts, Dialect::Mariadb)
    } else {
        return Err(Reason::BadTimestamp);
    };
    let rest = rest.strip_prefix(b",").ok_or(Reason::BadField("timestamp"))?;
    let (server, rest) = field(rest);
    let rest = rest.ok_or(Reason::BadField("serverhost"))?;
    // The user name may hold commas: the first `,host,conn,qid,OP,` that matches ends it.
    let (user, a) = memchr::memchr_iter(b',', rest)
        .find_map(|c| Some((rest.get(..c)?, anchor(rest.get(c + 1..)?)?)))
        .ok_or(Reason::BadField("operation"))?;
    // The database name is up to the next comma; a back-quoted name may itself hold commas, so if the rest
    // does not parse, the database field is extended to the next comma (a few times at most).
    let mut db_end_search = 0;
    let mut parsed = None;
    for _ in 0..4 {
        let Some(c) = memchr::memchr(b',', a.rest.get(db_end_search..).unwrap_or_default()) else { break };
        let c = db_end_search + c;
        if let Some(tl) = a.rest.get(c + 1..).and_then(tail) {
            parsed = Some((a.rest.get(..c).unwrap_or_default(), tl));
            break;
        }
        // Only a back-quoted name that is still open may extend over a comma.
        let db = a.rest.get(..c).unwrap_or_default();
        if !(db.starts_with(b"`") && (db.len() == 1 || !db.ends_with(b"`"))) {
            break;
        }
        db_end_search = c + 1;
    }
    let (db, tl) = match parsed {
        Some(p) => p,
        // Nothing after the database field at all: a record cut after `OP,db`.
        None if memchr::memchr(b',', a.rest).is_none() => {
            (a.rest, Tail { object: None, sql: None, retcode: None, trailing: None, truncated: true })
        }
        None => return Err(Reason::BadField("object")),
    };
    let dialect = match (dialect, tl.trailing) {
        (Dialect::Mariadb, Some(_)) => Dialect::RdsMysql,
        (d, _) => d,
    };
    let (host, port) = split_port(a.host);
    Ok(Fields { ts, dialect, server, user, host, port, anchor: a, db, tail: tl })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Format, Parser};

    fn one(line: &str) -> Event<'_> {
        parse_line(line.as_bytes(), Position::START).unwrap_or_else(|r| panic!("{line}: {r}"))
    }

    fn s<'a>(b: &'a Option<Cow<'_, [u8]>>) -> &'a str {
        b.as_deref().map(|b| std::str::from_utf8(b).unwrap()).unwrap_or("<none>")
    }

    #[test]
    fn aurora_query_with_commas_and_escapes() {
        let e = one(
            r"1703817810074458,aurora-mysql-instance-1,rdsadmin,localhost,223153,20070830,QUERY,,'SET SESSION wait_timeout=28800,SESSION time_zone=\'+00:00\',SESSION sql_mode=0',0",
        );
        assert_eq!(e.dialect, Dialect::Aurora);
        assert_eq!(e.kind, EventKind::Query);
        assert_eq!(e.ts.unwrap().to_rfc3339(), "2023-12-29T02:43:30.074458Z");
        assert_eq!(s(&e.server), "aurora-mysql-instance-1");
        assert_eq!(e.conn_id, Some(223153));
        assert_eq!(e.query_id, Some(20070830));
        assert_eq!(e.db, None);
        assert_eq!(
            &*e.sql.as_ref().unwrap().text(),
            b"SET SESSION wait_timeout=28800,SESSION time_zone='+00:00',SESSION sql_mode=0"
        );
        assert_eq!(e.retcode, Some(0));
    }

    #[test]
    fn marker_after_carriage_returns_is_seen_across_a_buffer_cut() {
        // Found by `parse_audit`: a marker line led by CRs (`\r\r [Your log ...]`) is a marker once complete,
        // but the look-ahead over an incomplete line skipped only spaces and TABs, so the record before it was
        // `BadTimestamp` when the buffer was cut inside the marker and `Truncated` in one pass.
        let data = b"\xff\n\r\r [Your log message was truncated]";
        let whole: Vec<Item<'_>> = Parser::new(Format::Audit).records(data, Position::START, true).collect();
        for cut in 2..data.len() {
            let mut p = Parser::new(Format::Audit);
            let mut it = p.records(&data[..cut], Position::START, false);
            let mut got: Vec<Item<'_>> = (&mut it).collect();
            let (used, pos) = (it.consumed(), it.position());
            got.extend(p.records(&data[used..], pos, true));
            assert_eq!(got, whole, "cut at {cut}");
        }
    }

    #[test]
    fn table_row_with_empty_retcode() {
        let e = one("1603439251354761,database-1-instance-1,admin,1.34.6.81,30,966941,CREATE,world,customers,");
        assert_eq!(e.kind, EventKind::Table);
        assert_eq!(s(&e.object), "customers");
        assert_eq!(s(&e.db), "world");
        assert_eq!(e.retcode, None);
    }

    #[test]
    fn user_with_commas() {
        let e = one("1536652826127350,dv-mysql,a,b,c,192.168.169.108,8426327,0,FAILED_CONNECT,,,1045");
        assert_eq!(s(&e.user), "a,b,c");
        assert_eq!(s(&e.host), "192.168.169.108");
        assert_eq!(e.kind, EventKind::FailedConnect);
        assert_eq!(e.retcode, Some(1045));
    }

    #[test]
    fn rds_trailing_fields() {
        let e = one("20221201 14:07:05,ip-10-22-1-51,rdsadmin,localhost,821,0,CONNECT,,,0,SOCKET");
        assert_eq!(e.dialect, Dialect::RdsMysql);
        assert_eq!(e.extra, Extra::Audit { conn_type: Some(Cow::Borrowed(&b"SOCKET"[..])), port: None });
        let e =
            one(r"20230501 10:02:19,ip-10-1-0-50,rdsadmin,localhost,7,585281,QUERY,,'select 1 where a <> \'B\'',0,,");
        assert_eq!(e.dialect, Dialect::RdsMysql);
        assert_eq!(&*e.sql.unwrap().text(), b"select 1 where a <> 'B'");
        let e = one("20200720 16:38:01,ip-172-27-1-97,admin,10.120.186.117,305231,0,CONNECT,rdslogstest,,0");
        assert_eq!(e.dialect, Dialect::Mariadb);
        assert_eq!(s(&e.db), "rdslogstest");
    }

    #[test]
    fn mariadb_empty_user_and_port() {
        let e = one("20240101 10:00:00,srv,,,12,0,DISCONNECT,,,0");
        assert_eq!(e.user, None);
        assert_eq!(e.host, None);
        let e = one("20240101 10:00:00,srv,u,10.0.0.1:50514,12,0,CONNECT,db,,0");
        assert_eq!(s(&e.host), "10.0.0.1");
        assert_eq!(e.extra, Extra::Audit { conn_type: None, port: Some(50514) });
        let e = one("20240101 10:00:00,srv,u,fe80::1,12,0,CONNECT,db,,0");
        assert_eq!(s(&e.host), "fe80::1");
    }

    #[test]
    fn unterminated_quote_is_truncated_not_lost() {
        let e = one(r"1703817810074458,i,u,h,1,2,QUERY,db,'SELECT \'abc");
        assert!(e.truncated);
        assert_eq!(e.retcode, None);
        assert_eq!(e.sql.unwrap().raw(), br"SELECT \'abc");
    }

    #[test]
    fn query_log_limit_cut_keeps_closing_quote() {
        let e = one("20240101 10:00:00,HOSTNAME,root,localhost,1,2,QUERY,,'set global serv',0");
        assert!(!e.truncated);
        assert_eq!(e.sql.unwrap().raw(), b"set global serv");
    }

    #[test]
    fn bare_quotes_inside_the_query() {
        // A writer that lost its escapes (centralized-logging's Aurora fixture): the quote after `+00:00` is
        // followed by a comma but not by a retcode, so it does not close the field.
        let e = one("1703817810077132,i,rdsadmin,localhost,223170,20070834,QUERY,,'SET time_zone='+00:00',SESSION sql_mode=0',0");
        assert_eq!(&*e.sql.as_ref().unwrap().text(), b"SET time_zone='+00:00',SESSION sql_mode=0");
        assert_eq!(e.retcode, Some(0));
        assert!(!e.truncated);
        let e = one("1703817810077132,i,u,h,1,2,QUERY,db,'it's',0,,");
        assert_eq!(e.sql.unwrap().raw(), b"it's");
        assert_eq!(e.dialect, Dialect::Aurora);
    }

    #[test]
    fn backquoted_db_with_comma() {
        let e = one("1703817810074458,i,u,h,1,2,QUERY,`a,b`,'SELECT 1',0");
        assert_eq!(s(&e.db), "`a,b`");
        assert_eq!(e.retcode, Some(0));
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(parse_line(b"hello world", Position::START).unwrap_err(), Reason::BadTimestamp);
        assert_eq!(
            parse_line(b"1703817810074458,i,u,h,x,2,QUERY,,'a',0", Position::START).unwrap_err(),
            Reason::BadField("operation")
        );
        assert_eq!(
            parse_line(b"1703817810074458,i,u,h,1,2,QUERY,,'a',zz", Position::START).unwrap_err(),
            Reason::BadField("object")
        );
    }

    #[test]
    fn blank_lines_marker_and_crlf() {
        let log = b"\n20240101 10:00:00,s,u,h,1,0,CONNECT,,,0\r\n20240101 10:00:01,s,u,h,1,5,QUERY,,'SELECT 1\n [Your log message was truncated]\n\n20240101 10:00:02,s,u,h,1,0,DISCONNECT,,,0";
        let mut p = Parser::new(Format::Audit);
        let items: Vec<Item<'_>> = p.records(log, Position::START, true).collect();
        let kinds: Vec<String> = items
            .iter()
            .map(|i| match i {
                Item::Event(e) => format!("{}{}@{}", e.kind.as_str(), if e.truncated { "!" } else { "" }, e.pos.line),
                Item::Malformed(m) => format!("bad:{:?}", m.reason),
                Item::Skipped(s) => format!("skip:{:?}@{}", s.reason, s.pos.line),
            })
            .collect();
        assert_eq!(
            kinds,
            ["skip:Blank@1", "connect@2", "query!@3", "skip:TruncationMarker@4", "skip:Blank@5", "disconnect@6"]
        );
    }

    #[test]
    fn streaming_waits_for_complete_lines() {
        let log = b"20240101 10:00:00,s,u,h,1,0,CONNECT,,,0\n20240101 10:00:01,s,u,h";
        let mut p = Parser::new(Format::Audit);
        let mut it = p.records(log, Position::START, false);
        assert!(matches!(it.next(), Some(Item::Event(_))));
        assert!(it.next().is_none());
        assert_eq!(it.consumed(), 40);
        assert_eq!(it.position(), Position { byte: 40, line: 2 });
    }
}
