//! General query log: MySQL 5.7/8.0 (`ISO-ts<TAB>id Command<TAB>argument`) and the legacy layout of MySQL
//! <= 5.6 and MariaDB (`YYMMDD HH:MM:SS<TAB>id Command<TAB>argument`, where lines of the same second start
//! with two TABs and carry no timestamp). Arguments continue on the following lines until the next record
//! start; server start-up banners may appear anywhere.
//!
//! A failed login is written as two `Connect` lines of one thread: the attempt (`user@host on db using ...`)
//! and `Access denied for user 'u'@'h' (using password: YES)`, in either order. The pair is one record and
//! one `failed_connect` event, so a failed attempt is never mistaken for a successful login.

use std::borrow::Cow;

use nom::Parser as _;

use super::common::{access_denied, blanks1, iso_timestamp, number, short_timestamp};
use super::{is_banner, is_blank, Cursor, Item, Peek, SkipReason};
use crate::error::Reason;
use crate::event::{Dialect, Escaping, Event, EventKind, LogType, Sql};
use crate::time::Timestamp;

#[derive(Debug, Default)]
pub(crate) struct State {
    /// The last timestamp seen: legacy lines without one happened in the same second.
    last_ts: Option<Timestamp>,
}

/// Command words the server writes (`command_name[]` of MySQL and MariaDB), longest first where one is a
/// prefix of another.
const COMMANDS: &[&str] = &[
    "Binlog Dump GTID",
    "Binlog Dump",
    "Bulk_execute",
    "Change user",
    "Close stmt",
    "Com_multi",
    "Connect Out",
    "Connect",
    "Create DB",
    "Daemon",
    "Debug",
    "Delayed insert",
    "Drop DB",
    "Error",
    "Execute",
    "Fetch",
    "Field List",
    "Group Replication Data Stream",
    "Init DB",
    "Kill",
    "Long Data",
    "Ping",
    "Prepare",
    "Processlist",
    "Query",
    "Quit",
    "Refresh",
    "Register Slave",
    "Reset Connection",
    "Reset stmt",
    "Set option",
    "Shutdown",
    "Sleep",
    "Slave_IO",
    "Slave_SQL",
    "Slave_worker",
    "Statistics",
    "Table Dump",
    "Time",
    "clone",
];

/// The first line of a record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start<'a> {
    pub(crate) ts: Option<Timestamp>,
    pub(crate) dialect: Dialect,
    pub(crate) id: u64,
    pub(crate) cmd: &'a [u8],
    pub(crate) arg: &'a [u8],
}

fn command(i: &[u8]) -> Option<(&[u8], &[u8])> {
    for c in COMMANDS {
        if let Some(rest) = i.strip_prefix(c.as_bytes()) {
            if rest.is_empty() || rest.first().is_some_and(|b| *b == b'\t' || *b == b' ') {
                return Some((c.as_bytes(), rest));
            }
        }
    }
    // 5.7+ separates the command from the argument with a TAB: accept unknown words there.
    let tab = memchr::memchr(b'\t', i)?;
    let w = i.get(..tab)?;
    (!w.is_empty() && w.len() <= 32 && w.iter().all(|b| b.is_ascii_alphabetic() || *b == b' ' || *b == b'_'))
        .then(|| (w, i.get(tab..).unwrap_or_default()))
}

/// The argument after the command: after one TAB, or after the padding spaces of old layouts.
fn argument(rest: &[u8]) -> &[u8] {
    match rest.first() {
        Some(b'\t') => rest.get(1..).unwrap_or_default(),
        _ => rest.trim_ascii_start(),
    }
}

/// Recognises a record start line.
pub(crate) fn record_start(text: &[u8]) -> Option<Start<'_>> {
    let first = *text.first()?;
    let (rest, ts, dialect) = if first.is_ascii_digit() {
        if text.get(10) == Some(&b'T') {
            let (r, ts) = iso_timestamp(text).ok()?;
            (r, Some(ts), Dialect::Mysql57)
        } else {
            let (r, ts) = short_timestamp(text).ok()?;
            (r, Some(ts), Dialect::Legacy)
        }
    } else if first == b'\t' || first == b' ' {
        (text, None, Dialect::Legacy)
    } else {
        return None;
    };
    let (rest, (_, id, _)) = (blanks1, number, blanks1).parse(rest).ok()?;
    let (cmd, rest) = command(rest)?;
    // Legacy lines without a time are padded with TABs, or with spaces where a copy expanded them
    // (`                     51 Query ...`). A space-led line is a record only with a long padding and a known
    // command word, so indented SQL continuation lines stay continuations.
    if first == b' ' {
        let pad = text.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
        if pad < 8 || !COMMANDS.iter().any(|c| c.as_bytes() == cmd) {
            return None;
        }
    }
    Some(Start { ts, dialect, id, cmd, arg: argument(rest) })
}

fn opt(b: &[u8]) -> Option<Cow<'_, [u8]>> {
    (!b.is_empty()).then_some(Cow::Borrowed(b))
}

/// An `Access denied for user ...` line: on `Connect` for bad credentials; on `Init DB` (MariaDB) when the
/// login named a database the account may not use (1044).
fn is_denied(s: &Start<'_>) -> bool {
    (s.cmd == b"Connect" || s.cmd == b"Init DB") && s.arg.starts_with(b"Access denied for user")
}

/// (user, host, db) of a login.
type Account<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, Option<&'a [u8]>);

/// Parses `user@host on db using TYPE` / `user@host as anonymous on db` / `user@host on db`.
fn connect_arg(arg: &[u8]) -> Account<'_> {
    let arg = arg.strip_suffix(b"\r").unwrap_or(arg);
    let on = memchr::memmem::find(arg, b" on ");
    let as_ = memchr::memmem::find(arg, b" as ");
    let acct_end = match (on, as_) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => arg.len(),
    };
    let acct = arg.get(..acct_end).unwrap_or_default().trim_ascii();
    let (user, host) = match memchr::memrchr(b'@', acct) {
        Some(at) => (acct.get(..at), acct.get(at + 1..)),
        None => (Some(acct), None),
    };
    let db = on.and_then(|o| {
        let after = arg.get(o + 4..)?;
        let end = memchr::memmem::find(after, b" using ").unwrap_or(after.len());
        Some(after.get(..end)?.trim_ascii())
    });
    (user.filter(|u| !u.is_empty()), host.filter(|h| !h.is_empty()), db.filter(|d| !d.is_empty()))
}

/// Where the record that starts with the line at `cur.at` ends: (end offset past the last non-blank line,
/// lines in it, offset of the terminating line). `None` when the buffer ends before the record is known to be
/// complete.
fn record_end(cur: &Cursor<'_>, first_next: usize) -> Option<(usize, u64, usize)> {
    let mut end = first_next;
    let mut lines = 1;
    let mut at = first_next;
    let mut seen = 1;
    loop {
        match cur.peek(at) {
            Peek::End => return Some((end, lines, at)),
            Peek::Incomplete => return None,
            Peek::Line(l) => {
                if record_start(l.text).is_some() || is_banner(l.text) {
                    return Some((end, lines, at));
                }
                seen += 1;
                if !is_blank(l.text) {
                    end = l.next;
                    lines = seen;
                }
                at = l.next;
            }
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
    let Some(start) = record_start(l.text) else {
        // Lines before the first record start of the input: the input begins mid-record.
        let (end, lines, _) = orphan_end(cur, l)?;
        return Some(cur.malformed(end, lines, Reason::Orphan));
    };
    let (mut end, mut lines, term) = record_end(cur, l.next)?;
    let mut pair: Option<Start<'a>> = None;
    // A Connect line and an `Access denied` Connect line of the same thread, in either order, are one attempt.
    if start.cmd == b"Connect" && term == end {
        if let Peek::Line(n) = cur.peek(term) {
            if let Some(next) = record_start(n.text) {
                // Attempt then denial (the denial may be MariaDB's `Init DB` for a refused database), or a
                // `Connect` denial then the attempt.
                let pairs = next.id == start.id
                    && if is_denied(&start) { next.cmd == b"Connect" && !is_denied(&next) } else { is_denied(&next) };
                if pairs {
                    let (e2, l2, _) = record_end(cur, n.next)?;
                    end = e2;
                    lines += l2;
                    pair = Some(next);
                }
            }
        }
    }
    let pos = cur.pos();
    let raw = cur.slice(end);
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let ts = start.ts.or(st.last_ts);
    if start.ts.is_some() {
        st.last_ts = start.ts;
    }
    if let Some(p) = pair {
        if p.ts.is_some() {
            st.last_ts = p.ts;
        }
    }
    let dialect = if start.ts.is_none() { Dialect::Legacy } else { start.dialect };
    // The argument runs from its start on the first line to the end of the record.
    let arg_off = l.text.len() - start.arg.len();
    let full_arg = match pair {
        Some(_) => start.arg,
        None => raw.get(arg_off..).unwrap_or_default(),
    };
    let mut ev = Event::new(LogType::General, dialect, EventKind::Command, pos, raw);
    ev.ts = ts;
    ev.op = Some(Cow::Borrowed(start.cmd));
    ev.conn_id = Some(start.id);
    match start.cmd {
        b"Connect" => {
            let (attempt, denied) = match pair {
                Some(p) if is_denied(&p) => (Some(start.arg), Some(p.arg)),
                Some(p) => (Some(p.arg), Some(start.arg)),
                None if is_denied(&start) => (None, Some(start.arg)),
                None => (Some(start.arg), None),
            };
            if let Some(a) = attempt {
                let (user, host, db) = connect_arg(a);
                ev.user = user.and_then(opt);
                ev.host = host.and_then(opt);
                ev.db = db.and_then(opt);
            }
            ev.kind = EventKind::Connect;
            if let Some(d) = denied {
                ev.kind = EventKind::FailedConnect;
                // The attempt line names the real client; the denial may name the matched account
                // (`'report'@'127.0.0.%'`), so it only fills what the attempt did not give.
                if let Some((user, host, errno)) = access_denied(d) {
                    ev.user = ev.user.take().or_else(|| opt(user));
                    ev.host = ev.host.take().or_else(|| opt(host));
                    ev.retcode = Some(errno);
                }
                ev.message = Some(Cow::Borrowed(d.strip_suffix(b"\r").unwrap_or(d)));
            }
        }
        b"Query" | b"Execute" | b"Prepare" => {
            ev.kind = EventKind::Query;
            ev.sql = Some(Sql::new(full_arg, Escaping::Raw));
        }
        b"Quit" => ev.kind = EventKind::Disconnect,
        b"Change user" => {
            ev.kind = EventKind::ChangeUser;
            let (user, host, db) = connect_arg(full_arg);
            ev.user = user.and_then(opt);
            ev.host = host.and_then(opt);
            ev.db = db.and_then(opt);
        }
        _ if is_denied(&start) => {
            // `USE db` refused inside a session: not a login, but keep the errno and the text.
            ev.message = Some(Cow::Borrowed(full_arg));
            ev.retcode = access_denied(full_arg).map(|(_, _, errno)| errno);
        }
        b"Init DB" => {
            ev.db = opt(full_arg.trim_ascii());
        }
        _ => {
            ev.object = opt(full_arg.trim_ascii());
        }
    }
    cur.advance(end, lines);
    Some(Item::Event(ev))
}

/// The end of a run of orphan lines (neither record start, banner nor blank).
fn orphan_end(cur: &Cursor<'_>, first: super::Line<'_>) -> Option<(usize, u64, usize)> {
    let mut end = first.next;
    let mut lines = 1;
    loop {
        match cur.peek(end) {
            Peek::End => return Some((end, lines, end)),
            Peek::Incomplete => return None,
            Peek::Line(l) => {
                if is_blank(l.text) || is_banner(l.text) || record_start(l.text).is_some() {
                    return Some((end, lines, end));
                }
                end = l.next;
                lines += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Position;
    use crate::format::{Format, Parser};

    fn events(log: &[u8]) -> Vec<Item<'_>> {
        let mut p = Parser::new(Format::General);
        p.records(log, Position::START, true).collect()
    }

    fn s(b: &Option<Cow<'_, [u8]>>) -> String {
        b.as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_else(|| "-".into())
    }

    fn ev<'a, 'b>(i: &'b Item<'a>) -> &'b Event<'a> {
        match i {
            Item::Event(e) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn mysql57_records_and_banner() {
        let log = b"/rdsdbbin/oscar/bin/mysqld, Version: 8.0.28 (Source distribution). started with:\nTcp port: 3306  Unix socket: /tmp/mysql.sock\nTime                 Id Command    Argument\n2018-09-07T18:45:40.098124+08:00\t257426 Connect\tmysqlha_common@127.0.0.1 on  using TCP/IP\n2018-09-07T18:45:40.098511+08:00\t257426 Query\tset autocommit=0\n2018-09-07T18:45:40.101009+08:00\t257426 Quit\t\n";
        let items = events(log);
        assert_eq!(items.len(), 6);
        assert!(matches!(items[0], Item::Skipped(s) if s.reason == SkipReason::Banner));
        let c = ev(&items[3]);
        assert_eq!(c.kind, EventKind::Connect);
        assert_eq!(s(&c.user), "mysqlha_common");
        assert_eq!(s(&c.host), "127.0.0.1");
        assert_eq!(c.db, None);
        assert_eq!(c.conn_id, Some(257426));
        assert_eq!(c.ts.unwrap().to_rfc3339(), "2018-09-07T10:45:40.098124Z");
        assert_eq!(c.pos.line, 4);
        let q = ev(&items[4]);
        assert_eq!(&*q.sql.as_ref().unwrap().text(), b"set autocommit=0");
        assert_eq!(ev(&items[5]).kind, EventKind::Disconnect);
    }

    #[test]
    fn failed_login_pair_is_one_event() {
        let log = b"2018-12-27T11:14:54.687513Z\t   48 Connect\troot@172.30.0.3 on  using SSL/TLS\n2018-12-27T11:14:54.687606Z\t   48 Connect\tAccess denied for user 'root'@'172.30.0.3' (using password: NO)\n2018-12-27T11:14:55.000000Z\t   49 Connect\tapp@10.0.0.5 on shop using TCP/IP\n";
        let items = events(log);
        assert_eq!(items.len(), 2);
        let f = ev(&items[0]);
        assert_eq!(f.kind, EventKind::FailedConnect);
        assert_eq!(s(&f.user), "root");
        assert_eq!(s(&f.host), "172.30.0.3");
        assert_eq!(f.retcode, Some(1045));
        let c = ev(&items[1]);
        assert_eq!(c.kind, EventKind::Connect);
        assert_eq!(s(&c.db), "shop");
        assert_eq!(c.pos.line, 3);
    }

    #[test]
    fn legacy_layout_inherits_time_and_continues_lines() {
        let log = b"051007 21:55:24\t     42 Connect     root@localhost on db1\n\t\t                 42 Query       SELECT foo \n                         FROM tbl\n                         WHERE col=12345\n\t\t                 42 Quit\n";
        let items = events(log);
        assert_eq!(items.len(), 3);
        let c = ev(&items[0]);
        assert_eq!((s(&c.user), s(&c.host), s(&c.db)), ("root".into(), "localhost".into(), "db1".into()));
        let q = ev(&items[1]);
        assert_eq!(q.ts, c.ts);
        assert_eq!(q.dialect, Dialect::Legacy);
        assert_eq!(
            &*q.sql.as_ref().unwrap().text(),
            &b"SELECT foo \n                         FROM tbl\n                         WHERE col=12345"[..]
        );
        assert_eq!(ev(&items[2]).pos.line, 5);
    }

    #[test]
    fn denied_before_attempt_and_mariadb_as_anonymous() {
        let log = b"\t\t12345 Connect\tAccess denied for user 'nobody'@'localhost' (using password: NO)\n\t\t12345 Connect\tnobody@localhost as  on \n\t\t98765 Connect\tpayments_r@1.2.3.4 on sar\n";
        let items = events(log);
        assert_eq!(items.len(), 2);
        assert_eq!(ev(&items[0]).kind, EventKind::FailedConnect);
        assert_eq!(s(&ev(&items[0]).user), "nobody");
        let c = ev(&items[1]);
        assert_eq!((s(&c.user), s(&c.host), s(&c.db)), ("payments_r".into(), "1.2.3.4".into(), "sar".into()));
    }

    #[test]
    fn mariadb_database_refused_at_login_is_one_failed_connect() {
        let log = b"\t\t    34 Connect\treport@127.0.0.11 on mysql using TCP/IP\n\t\t    34 Init DB\tAccess denied for user 'report'@'127.0.0.%' to database 'mysql'\n\t\t    35 Init DB\tAccess denied for user 'x'@'%' to database 'y'\n";
        let items = events(log);
        assert_eq!(items.len(), 2);
        let f = ev(&items[0]);
        assert_eq!(f.kind, EventKind::FailedConnect);
        assert_eq!(f.retcode, Some(1044));
        assert!(!f.is_failed_login());
        assert_eq!((s(&f.user), s(&f.db)), ("report".into(), "mysql".into()));
        let u = ev(&items[1]);
        assert_eq!((u.kind, u.retcode, u.db.is_none()), (EventKind::Command, Some(1044), true));
    }

    #[test]
    fn space_padded_legacy_lines_start_records() {
        // percona-toolkit genlog002/genlog003: the TABs of untimestamped lines expanded to spaces.
        let log = b"100211  0:55:24\t     51 Query       SELECT 1\n                FROM t\n                     51 Query       SELECT 2\n               \t     11 Quit       \n";
        let items = events(log);
        assert_eq!(items.len(), 3);
        assert_eq!(&*ev(&items[0]).sql.as_ref().unwrap().text(), b"SELECT 1\n                FROM t");
        assert_eq!(&*ev(&items[1]).sql.as_ref().unwrap().text(), b"SELECT 2");
        assert_eq!(ev(&items[2]).kind, EventKind::Disconnect);
        assert_eq!(ev(&items[2]).conn_id, Some(11));
    }

    #[test]
    fn orphan_lines_and_trailing_blanks() {
        let log = b"  FROM t\nWHERE 1\n2024-01-03T08:00:01.341151Z\t217720 Query\tSELECT 1\n\n\n2024-01-03T08:00:02.341151Z\t217720 Quit\t";
        let items = events(log);
        assert!(matches!(&items[0], Item::Malformed(m) if m.reason == Reason::Orphan && m.len == 17));
        assert_eq!(&*ev(&items[1]).sql.as_ref().unwrap().text(), b"SELECT 1");
        assert!(matches!(items[2], Item::Skipped(_)));
        assert!(matches!(items[3], Item::Skipped(_)));
        assert_eq!(ev(&items[4]).pos.line, 6);
    }

    #[test]
    fn streaming_holds_back_an_open_record() {
        let log = b"2024-01-03T08:00:01.341151Z\t217720 Query\tSELECT\n  1\n";
        let mut p = Parser::new(Format::General);
        let mut it = p.records(log, Position::START, false);
        assert!(it.next().is_none());
        assert_eq!(it.consumed(), 0);
    }
}
