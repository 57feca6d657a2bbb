//! Error log: MySQL 8.0 (`ts thread [Label] [MY-nnnnnn] [Subsystem] message`), 5.7 (`ts thread [Label] message`),
//! MariaDB (`YYYY-MM-DD HH:MM:SS thread [Label] message`) and 5.5 (`YYMMDD HH:MM:SS [Label] message`).
//! Lines without a leading timestamp (continuations, InnoDB dumps, foreign writers) belong to the record
//! before them; at the start of an input they form a message without a time.

use std::borrow::Cow;

use super::common::{access_denied, dash_date_time, iso_timestamp, short_timestamp};
use super::{is_blank, Cursor, Item, Peek, SkipReason};
use crate::event::{Dialect, Event, EventKind, Extra, LogType, Position};
use crate::time::Timestamp;

#[derive(Debug, Default)]
pub(crate) struct State;

const LEVELS: &[&[u8]] = &[b"System", b"ERROR", b"Error", b"Warning", b"Note", b"Information", b"Info", b"Notice"];

/// The timestamp at the start of an error-log line and what follows it.
pub(crate) fn line_timestamp(text: &[u8]) -> Option<(&[u8], Timestamp, Dialect)> {
    if !text.first()?.is_ascii_digit() {
        return None;
    }
    let (rest, ts, d) = match (text.get(4), text.get(10)) {
        (Some(b'-'), Some(b'T')) => iso_timestamp(text).ok().map(|(r, t)| (r, t, Dialect::Mysql57))?,
        (Some(b'-'), _) => dash_date_time(text).ok().map(|(r, t)| (r, t, Dialect::Mariadb))?,
        _ => short_timestamp(text).ok().map(|(r, t)| (r, t, Dialect::Legacy))?,
    };
    // The time must be followed by a separator or, in old InnoDB lines, glued text (`22:27:11InnoDB:`).
    match rest.first() {
        None | Some(b' ' | b'\t') => Some((rest, ts, d)),
        Some(b) if b.is_ascii_alphabetic() => Some((rest, ts, d)),
        _ => None,
    }
}

fn bracket(i: &[u8]) -> Option<(&[u8], &[u8])> {
    let inner = i.strip_prefix(b"[")?;
    let end = memchr::memchr(b']', inner)?;
    let word = inner.get(..end)?;
    (!word.is_empty() && word.len() <= 32 && !word.contains(&b' '))
        .then(|| (word, inner.get(end + 1..).unwrap_or_default()))
}

/// Aurora's `(file.cc:1234)` at the end of a message.
fn source_location(msg: &[u8]) -> Option<&[u8]> {
    let m = msg.trim_ascii_end().strip_suffix(b")")?;
    let open = memchr::memrchr(b'(', m)?;
    let loc = m.get(open + 1..)?;
    let colon = memchr::memrchr(b':', loc)?;
    let (file, line) = (loc.get(..colon)?, loc.get(colon + 1..)?);
    let ok_file = file.contains(&b'.') && file.iter().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(b));
    (ok_file && !line.is_empty() && line.iter().all(u8::is_ascii_digit)).then_some(loc)
}

fn record_end(cur: &Cursor<'_>, first_next: usize) -> Option<(usize, u64)> {
    let (mut end, mut lines, mut seen, mut at) = (first_next, 1u64, 1u64, first_next);
    loop {
        match cur.peek(at) {
            Peek::End => return Some((end, lines)),
            Peek::Incomplete => return None,
            Peek::Line(l) => {
                if line_timestamp(l.text).is_some() {
                    return Some((end, lines));
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

pub(crate) fn step<'a>(_st: &mut State, cur: &mut Cursor<'a>) -> Option<Item<'a>> {
    let Peek::Line(l) = cur.peek(cur.at) else { return None };
    if is_blank(l.text) {
        return Some(cur.skip(l, SkipReason::Blank));
    }
    let (end, lines) = record_end(cur, l.next)?;
    let pos = cur.pos();
    let raw = cur.slice(end);
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let ev = parse_record(raw, pos);
    cur.advance(end, lines);
    Some(Item::Event(ev))
}

fn opt(b: &[u8]) -> Option<Cow<'_, [u8]>> {
    (!b.is_empty()).then_some(Cow::Borrowed(b))
}

pub(crate) fn parse_record(raw: &[u8], pos: Position) -> Event<'_> {
    let Some((rest, ts, mut dialect)) = line_timestamp(raw) else {
        let mut ev = Event::new(LogType::Error, Dialect::Mysql57, EventKind::Message, pos, raw);
        ev.message = opt(raw);
        return ev;
    };
    let mut rest = rest.trim_ascii_start();
    // Thread id: decimal (MySQL, MariaDB) or an OS thread handle in hex glued to the text (InnoDB).
    let mut thread = None;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 0 && rest.get(digits).is_some_and(|b| *b == b' ' || *b == b'\t') {
        thread = super::common::parse_u64(rest.get(..digits).unwrap_or_default());
        rest = rest.get(digits..).unwrap_or_default().trim_ascii_start();
    } else if rest.starts_with(b"0x") {
        let hex = 2 + rest.iter().skip(2).take_while(|b| b.is_ascii_hexdigit()).count();
        rest = rest.get(hex..).unwrap_or_default().trim_ascii_start();
    }
    let mut level = None;
    let mut code = None;
    let mut subsystem = None;
    if let Some((w, r)) = bracket(rest) {
        if LEVELS.contains(&w) {
            level = Some(w);
            rest = r.trim_ascii_start();
            if let Some((c, r2)) = bracket(rest).filter(|(c, _)| c.starts_with(b"MY-")) {
                code = Some(c);
                dialect = Dialect::Mysql80;
                rest = r2.trim_ascii_start();
                if let Some((s, r3)) = bracket(rest) {
                    subsystem = Some(s);
                    rest = r3.trim_ascii_start();
                }
            }
        }
    }
    let msg = rest;
    let first_line = msg.get(..memchr::memchr(b'\n', msg).unwrap_or(msg.len())).unwrap_or_default();
    let loc = source_location(first_line.strip_suffix(b"\r").unwrap_or(first_line));
    let mut ev = Event::new(LogType::Error, dialect, EventKind::Message, pos, raw);
    ev.ts = Some(ts);
    ev.conn_id = thread;
    ev.message = opt(msg);
    if let Some((user, host, errno)) = access_denied(first_line) {
        ev.kind = EventKind::FailedConnect;
        ev.user = opt(user);
        ev.host = opt(host);
        ev.retcode = Some(errno);
    }
    ev.extra = Extra::Error {
        level: level.map(Cow::Borrowed),
        code: code.map(Cow::Borrowed),
        subsystem: subsystem.map(Cow::Borrowed),
        source_location: loc.map(Cow::Borrowed),
    };
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Format, Parser};

    fn events(log: &[u8]) -> Vec<Event<'_>> {
        let mut p = Parser::new(Format::Error);
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

    fn extra<'a>(e: &'a Event<'a>) -> (String, String, String, String) {
        match &e.extra {
            Extra::Error { level, code, subsystem, source_location } => {
                (s(level), s(code), s(subsystem), s(source_location))
            }
            _ => panic!(),
        }
    }

    #[test]
    fn mysql80_with_source_location() {
        let e = &events(b"2023-11-28T09:13:22.104678Z 0 [System] [MY-010116] [Server] /rdsdbbin/oscar/bin/mysqld (mysqld 8.0.28) starting as process 259 (mysqld.cc:5965)\n")[0];
        assert_eq!(e.dialect, Dialect::Mysql80);
        assert_eq!(extra(e), ("System".into(), "MY-010116".into(), "Server".into(), "mysqld.cc:5965".into()));
        assert_eq!(e.conn_id, Some(0));
    }

    #[test]
    fn failed_logins_in_every_layout() {
        let log = b"2020-10-23T07:13:26.298081Z 34 [Note] Access denied for user 'admin'@'58.182.98.237' (using password: YES)\n2022-10-14T09:16:02.430542Z 63707 [Note] [MY-010926] [Server] Access denied for user 'root'@'ip-10-0-16-79' (using password: YES)\n2023-04-27 14:36:09 14487 [Warning] Access denied for user 'dev'@'1.2.3.4' (using password: YES)\n";
        let ev = events(log);
        assert_eq!(ev.len(), 3);
        for (e, (u, h, d)) in ev.iter().zip([
            ("admin", "58.182.98.237", Dialect::Mysql57),
            ("root", "ip-10-0-16-79", Dialect::Mysql80),
            ("dev", "1.2.3.4", Dialect::Mariadb),
        ]) {
            assert_eq!(e.kind, EventKind::FailedConnect);
            assert_eq!((s(&e.user), s(&e.host), e.dialect, e.retcode), (u.into(), h.into(), d, Some(1045)));
        }
    }

    #[test]
    fn continuations_and_foreign_lines() {
        let log = b"Found DAS config file, trying to load\n2016-12-09T12:08:33.335060Z 0 [Note] /usr/sbin/mysqld: ready for connections.\nVersion: '5.7.10'  socket: '/tmp/mysql.sock'  port: 3306  Homebrew\n\n161209 13:08:33 mysqld_safe Starting mysqld daemon\n091119 22:27:11InnoDB: Warning: x\nInnoDB: more\n2022-02-18 06:12:07 0x2b76b6e68700InnoDB: transactions deadlock detected\n";
        let ev = events(log);
        assert_eq!(ev.len(), 5);
        assert_eq!(ev[0].ts, None);
        assert!(s(&ev[1].message).ends_with("port: 3306  Homebrew"));
        assert_eq!(ev[2].dialect, Dialect::Legacy);
        assert_eq!(s(&ev[2].message), "mysqld_safe Starting mysqld daemon");
        assert_eq!(s(&ev[3].message), "InnoDB: Warning: x\nInnoDB: more");
        assert_eq!(s(&ev[4].message), "InnoDB: transactions deadlock detected");
        assert_eq!(ev[4].pos.line, 8);
    }

    #[test]
    fn mariadb_padded_hour_and_db_denial() {
        let e = &events(b"2021-07-06  7:29:32 0 [Warning] Access denied for user 'u'@'h' to database 'x'\n")[0];
        assert_eq!(e.ts.unwrap().to_rfc3339(), "2021-07-06T07:29:32.000000Z");
        assert_eq!(e.retcode, Some(1044));
        assert!(!e.is_failed_login());
    }
}
