//! Property tests over generated logs:
//!
//! - events rendered in every format and dialect of /work/shared/formats.md (Aurora, RDS and MariaDB audit,
//!   general 5.7 and legacy, slow 5.7 and legacy, error 8.0, 5.7 and MariaDB) parse back to the same fields;
//! - parsing in chunks cut at random points (`chunk::split_at`) equals one pass;
//! - streaming `read()` with random block sizes equals `Parser::records` over the whole input;
//! - generated passwords never survive redaction: not in `Sql::redacted`, the JSON of any event, the analysis
//!   report, the digest or a query's rows.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::ControlFlow;

use auditlog_core::analyze::{AnalyzeOptions, Analyzer};
use auditlog_core::chunk::split_at;
use auditlog_core::digest::{Digest, DigestOptions};
use auditlog_core::query::{Query, QueryOptions};
use auditlog_core::{read, Dialect, Event, EventKind, Extra, Format, Item, Parser, Position, ReadOptions, Timestamp};
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------------------------------------
// Generated records

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    Failed,
    Query,
    Table,
    Quit,
}

#[derive(Debug, Clone)]
struct Rec {
    kind: Kind,
    /// Epoch microseconds, 2001-09-09 .. 2060 (16 digits, and two-digit years below 70 for legacy layouts).
    us: i64,
    server: String,
    user: String,
    host: String,
    conn: u64,
    qid: u64,
    db: String,
    table: String,
    sql: String,
    retcode: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Aurora,
    Rds,
    MariadbAudit,
    General57,
    GeneralLegacy,
    Slow57,
    SlowLegacy,
    Error80,
    Error57,
    ErrorMariadb,
}

const LAYOUTS: [Layout; 10] = [
    Layout::Aurora,
    Layout::Rds,
    Layout::MariadbAudit,
    Layout::General57,
    Layout::GeneralLegacy,
    Layout::Slow57,
    Layout::SlowLegacy,
    Layout::Error80,
    Layout::Error57,
    Layout::ErrorMariadb,
];

impl Layout {
    fn format(self) -> Format {
        match self {
            Layout::Aurora | Layout::Rds | Layout::MariadbAudit => Format::Audit,
            Layout::General57 | Layout::GeneralLegacy => Format::General,
            Layout::Slow57 | Layout::SlowLegacy => Format::Slow,
            Layout::Error80 | Layout::Error57 | Layout::ErrorMariadb => Format::Error,
        }
    }
}

/// SQL words: keywords, quoted literals with commas, doubled and backslash-escaped quotes, back-quoted
/// identifiers, backslashes, non-ASCII text. None ends with `;` (the slow log's statement terminator).
const WORDS: &[&str] = &[
    "SELECT",
    "*",
    "FROM",
    "t1",
    "WHERE",
    "a",
    "=",
    "'x,y'",
    "\"dq\"",
    "'it''s'",
    r"'a\'b'",
    r"'c:\\dir\\'",
    r"\\",
    "`weird, col`",
    "naïve",
    "日本語",
    "😀",
    "(",
    ")",
    ",",
    "1",
    "42",
    "-- comment",
    "/* c */",
    "'@'",
    "Ω≈ç",
];

/// First words of a statement: not `use`, `SET`, `#` (slow-log header and prefix lines), nor digits or a `[`.
const STARTERS: &[&str] =
    &["SELECT", "INSERT INTO t", "UPDATE t", "DELETE FROM t", "CALL p", "SHOW TABLES", "WITH x AS"];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(WORDS).prop_map(str::to_string),
        1 => "[a-zA-Z_][a-zA-Z0-9_éü]{0,8}",
    ]
}

/// SQL text: words joined by spaces, commas, tabs and newlines; never blank lines, never leading or trailing
/// whitespace, no line that could start a record.
fn sql() -> impl Strategy<Value = String> {
    (
        select(STARTERS),
        proptest::collection::vec((select(&[" ", " ", ", ", "\t", "\n", "\n  ", "  "][..]), word()), 0..10),
    )
        .prop_map(|(start, rest)| {
            let mut s = start.to_string();
            for (sep, w) in rest {
                s.push_str(sep);
                s.push_str(&w);
            }
            s
        })
}

/// User names with commas and quotes (as a client may send on a failed login).
fn user() -> impl Strategy<Value = String> {
    "[a-z][a-zA-Z0-9_',\"-]{0,10}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("localhost".to_string()),
        (1u8..=254, 0u8..=255, 0u8..=255, 1u8..=254).prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        (0u16..=0xffff, 0u16..=0xffff).prop_map(|(a, b)| format!("2001:db8::{a:x}:{b:x}")),
        Just("::1".to_string()),
        Just("fe80::1ff:fe23:4567:890a".to_string()),
        "ip-10-[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}",
        "[a-z]{1,8}\\.example\\.com",
    ]
}

fn rec() -> impl Strategy<Value = Rec> {
    (
        (
            select(&[Kind::Connect, Kind::Failed, Kind::Query, Kind::Query, Kind::Table, Kind::Quit][..]),
            1_000_000_000_000_000i64..2_840_000_000_000_000,
            "[a-z][a-z0-9-]{0,15}",
            user(),
            host(),
        ),
        (1u64..10_000_000, 1u64..50_000_000_000_000, "[a-z_]{0,8}", "[a-z_][a-z0-9_]{0,8}", sql(), 0i64..2000),
    )
        .prop_map(|((kind, us, server, user, host), (conn, qid, db, table, sql, retcode))| Rec {
            kind,
            us,
            server,
            user,
            host,
            conn,
            qid,
            db,
            table,
            sql,
            retcode,
        })
}

/// Records in time order (some in the same second, so legacy layouts omit repeated timestamps).
fn recs() -> impl Strategy<Value = Vec<Rec>> {
    (proptest::collection::vec(rec(), 1..10), proptest::collection::vec(0i64..3_000_000, 10)).prop_map(
        |(mut v, gaps)| {
            let mut t = v.first().map_or(0, |r| r.us);
            for (r, g) in v.iter_mut().zip(gaps) {
                r.us = t;
                t += g;
            }
            v
        },
    )
}

// ---------------------------------------------------------------------------------------------------------
// Rendering, following formats.md

fn civil(us: i64) -> chrono::NaiveDateTime {
    Timestamp::from_epoch_micros(us).to_chrono().naive_utc()
}

fn iso(us: i64) -> String {
    civil(us).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The audit plugin's escapes of the quoted object (formats.md §1.1).
fn audit_escape(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '\'' => o.push_str("\\'"),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\u{8}' => o.push_str("\\b"),
            '\u{c}' => o.push_str("\\f"),
            c => o.push(c),
        }
    }
    o
}

/// The fields a record should parse back to.
#[derive(Debug, Clone, PartialEq, Default)]
struct Proj {
    ts: Option<i64>,
    dialect: Option<Dialect>,
    kind: Option<EventKind>,
    op: Option<String>,
    server: Option<String>,
    user: Option<String>,
    host: Option<String>,
    conn_id: Option<u64>,
    query_id: Option<u64>,
    db: Option<String>,
    object: Option<String>,
    sql: Option<String>,
    message: Option<String>,
    retcode: Option<i64>,
    conn_type: Option<String>,
    level: Option<String>,
    code: Option<String>,
    subsystem: Option<String>,
}

fn b2s(b: &Option<Cow<'_, [u8]>>) -> Option<String> {
    b.as_deref().map(|b| String::from_utf8(b.to_vec()).expect("generated text is UTF-8"))
}

fn project(e: &Event<'_>) -> Proj {
    let mut p = Proj {
        ts: e.ts.map(Timestamp::epoch_micros),
        dialect: Some(e.dialect),
        kind: Some(e.kind),
        op: b2s(&e.op),
        server: b2s(&e.server),
        user: b2s(&e.user),
        host: b2s(&e.host),
        conn_id: e.conn_id,
        query_id: e.query_id,
        db: b2s(&e.db),
        object: b2s(&e.object),
        sql: e.sql.as_ref().map(|s| String::from_utf8(s.text().into_owned()).expect("UTF-8")),
        message: b2s(&e.message),
        retcode: e.retcode,
        ..Proj::default()
    };
    match &e.extra {
        Extra::Audit { conn_type, .. } => p.conn_type = b2s(conn_type),
        Extra::Error { level, code, subsystem, .. } => {
            p.level = b2s(level);
            p.code = b2s(code);
            p.subsystem = b2s(subsystem);
        }
        _ => {}
    }
    p
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn denial(r: &Rec) -> String {
    format!("Access denied for user '{}'@'{}' (using password: YES)", r.user, r.host)
}

/// Renders `recs` in `layout`: the log text and the expected projection of each record.
fn render(layout: Layout, recs: &[Rec], crlf: bool) -> (String, Vec<Proj>) {
    let mut log = String::new();
    let mut want = Vec::new();
    let mut last_second: Option<i64> = None;
    let nl = if crlf { "\r\n" } else { "\n" };
    for r in recs {
        let second = r.us.div_euclid(1_000_000);
        let same_second = last_second == Some(second);
        last_second = Some(second);
        let secs_us = second * 1_000_000;
        let mut p = Proj { conn_id: Some(r.conn), ..Proj::default() };
        let mut lines: Vec<String> = Vec::new();
        match layout {
            Layout::Aurora | Layout::Rds | Layout::MariadbAudit => {
                let ts = if layout == Layout::Aurora {
                    p.ts = Some(r.us);
                    r.us.to_string()
                } else {
                    p.ts = Some(secs_us);
                    civil(r.us).format("%Y%m%d %H:%M:%S").to_string()
                };
                let rds = layout == Layout::Rds;
                p.dialect = Some(match layout {
                    Layout::Aurora => Dialect::Aurora,
                    Layout::Rds => Dialect::RdsMysql,
                    _ => Dialect::Mariadb,
                });
                p.server = some(&r.server);
                p.user = some(&r.user);
                p.host = some(&r.host);
                // The RDS plugin writes no TABLE rows.
                let kind = if rds && r.kind == Kind::Table { Kind::Query } else { r.kind };
                let (op, qid, db, obj, rc) = match kind {
                    Kind::Connect => ("CONNECT", 0, r.db.as_str(), String::new(), r.retcode.to_string()),
                    Kind::Failed => ("FAILED_CONNECT", 0, "", String::new(), "1045".to_string()),
                    Kind::Quit => ("DISCONNECT", 0, "", String::new(), "0".to_string()),
                    Kind::Query => {
                        ("QUERY", r.qid, r.db.as_str(), format!("'{}'", audit_escape(&r.sql)), r.retcode.to_string())
                    }
                    Kind::Table => ("READ", r.qid, r.db.as_str(), r.table.clone(), String::new()),
                };
                let tail = match (rds, kind) {
                    (false, _) => String::new(),
                    (true, Kind::Query) => ",,".to_string(),
                    (true, _) => {
                        p.conn_type = Some("TCP/IP".into());
                        ",TCP/IP".to_string()
                    }
                };
                lines.push(format!(
                    "{ts},{},{},{},{},{qid},{op},{db},{obj},{rc}{tail}",
                    r.server, r.user, r.host, r.conn
                ));
                p.kind = Some(match kind {
                    Kind::Connect => EventKind::Connect,
                    Kind::Failed => EventKind::FailedConnect,
                    Kind::Quit => EventKind::Disconnect,
                    Kind::Query => EventKind::Query,
                    Kind::Table => EventKind::Table,
                });
                p.op = Some(op.into());
                p.query_id = Some(qid);
                p.db = some(db);
                match kind {
                    Kind::Query => p.sql = Some(r.sql.clone()),
                    Kind::Table => p.object = some(&r.table),
                    _ => {}
                }
                p.retcode = rc.parse().ok();
            }
            Layout::General57 | Layout::GeneralLegacy => {
                let legacy = layout == Layout::GeneralLegacy;
                let head = if !legacy {
                    p.ts = Some(r.us);
                    p.dialect = Some(Dialect::Mysql57);
                    format!("{}\t{:>5}", iso(r.us), r.conn)
                } else {
                    p.ts = Some(secs_us);
                    p.dialect = Some(Dialect::Legacy);
                    if same_second {
                        format!("\t\t{:>7}", r.conn)
                    } else {
                        format!("{}\t{:>7}", civil(r.us).format("%y%m%d %k:%M:%S"), r.conn)
                    }
                };
                let head2 = if legacy { format!("\t\t{:>7}", r.conn) } else { format!("{}\t{:>5}", iso(r.us), r.conn) };
                let attempt = format!("{}@{} on {} using TCP/IP", r.user, r.host, r.db);
                match r.kind {
                    Kind::Connect => {
                        lines.push(format!("{head} Connect\t{attempt}"));
                        p.kind = Some(EventKind::Connect);
                        p.op = Some("Connect".into());
                        (p.user, p.host, p.db) = (some(&r.user), some(&r.host), some(&r.db));
                    }
                    Kind::Failed => {
                        lines.push(format!("{head} Connect\t{attempt}"));
                        lines.push(format!("{head2} Connect\t{}", denial(r)));
                        p.kind = Some(EventKind::FailedConnect);
                        p.op = Some("Connect".into());
                        (p.user, p.host, p.db) = (some(&r.user), some(&r.host), some(&r.db));
                        p.retcode = Some(1045);
                        p.message = Some(denial(r));
                    }
                    Kind::Quit => {
                        lines.push(format!("{head} Quit\t"));
                        p.kind = Some(EventKind::Disconnect);
                        p.op = Some("Quit".into());
                    }
                    Kind::Query | Kind::Table => {
                        lines.push(format!("{head} Query\t{}", r.sql));
                        p.kind = Some(EventKind::Query);
                        p.op = Some("Query".into());
                        p.sql = Some(r.sql.clone());
                    }
                }
            }
            Layout::Slow57 | Layout::SlowLegacy => {
                let legacy = layout == Layout::SlowLegacy;
                p.kind = Some(EventKind::Query);
                p.user = some(&r.user);
                p.host = some(&r.host);
                p.db = some(&r.db);
                p.sql = Some(r.sql.clone());
                // The user of a slow log is written as `priv[user]`: no brackets in it.
                let hostpart = if r.host.contains(':') || r.host.starts_with(|c: char| c.is_ascii_digit()) {
                    format!(" [{}]", r.host)
                } else {
                    format!("{} []", r.host)
                };
                if legacy {
                    p.ts = Some(secs_us);
                    p.dialect = Some(Dialect::Legacy);
                    if !same_second {
                        lines.push(format!("# Time: {}", civil(r.us).format("%y%m%d %k:%M:%S")));
                    }
                    lines.push(format!("# User@Host: {}[{}] @ {hostpart}", r.user, r.user));
                    lines.push(format!("# Thread_id: {}  Schema: {}  QC_hit: No", r.conn, r.db));
                } else {
                    p.ts = Some(r.us);
                    p.dialect = Some(Dialect::Mysql57);
                    lines.push(format!("# Time: {}", iso(r.us)));
                    lines.push(format!("# User@Host: {}[{}] @ {hostpart}  Id: {}", r.user, r.user, r.conn));
                }
                lines.push("# Query_time: 1.000100  Lock_time: 0.000000 Rows_sent: 1  Rows_examined: 12".into());
                if !r.db.is_empty() && !legacy {
                    lines.push(format!("use {};", r.db));
                }
                lines.push(format!("SET timestamp={second};"));
                lines.push(format!("{};", r.sql));
            }
            Layout::Error80 | Layout::Error57 | Layout::ErrorMariadb => {
                let (head, dialect) = match layout {
                    Layout::ErrorMariadb => {
                        p.ts = Some(secs_us);
                        (civil(r.us).format("%Y-%m-%d %H:%M:%S").to_string(), Dialect::Mariadb)
                    }
                    Layout::Error80 => {
                        p.ts = Some(r.us);
                        (iso(r.us), Dialect::Mysql80)
                    }
                    _ => {
                        p.ts = Some(r.us);
                        (iso(r.us), Dialect::Mysql57)
                    }
                };
                p.dialect = Some(dialect);
                let failed = r.kind == Kind::Failed;
                let msg = if failed { denial(r) } else { r.sql.clone() };
                let (level, code) = match (layout, failed) {
                    (Layout::Error80, true) => ("Note", "MY-010926"),
                    (Layout::Error80, false) => ("Warning", "MY-010055"),
                    (Layout::ErrorMariadb, _) => ("Warning", ""),
                    _ => ("Note", ""),
                };
                let mut line = format!("{head} {} [{level}] ", r.conn);
                p.level = Some(level.into());
                if layout == Layout::Error80 {
                    write!(line, "[{code}] [Server] ").unwrap();
                    p.code = Some(code.into());
                    p.subsystem = Some("Server".into());
                }
                line.push_str(&msg);
                lines.push(line);
                p.kind = Some(if failed { EventKind::FailedConnect } else { EventKind::Message });
                if failed {
                    p.user = some(&r.user);
                    p.host = some(&r.host);
                    p.retcode = Some(1045);
                }
                p.message = Some(msg);
            }
        }
        let text = lines.join("\n");
        // CRLF files end every line with `\r\n`, also inside multi-line SQL written raw.
        let text = if crlf { text.replace('\n', "\r\n") } else { text };
        if crlf {
            for f in [&mut p.sql, &mut p.message] {
                if let Some(s) = f.as_mut() {
                    if layout.format() != Format::Audit {
                        *s = s.replace('\n', "\r\n");
                    }
                }
            }
        }
        log.push_str(&text);
        log.push_str(nl);
        want.push(p);
    }
    (log, want)
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

fn owned(i: Item<'_>) -> Item<'static> {
    match i {
        Item::Event(e) => Item::Event(e.into_owned()),
        Item::Malformed(m) => Item::Malformed(m.into_owned()),
        Item::Skipped(s) => Item::Skipped(s),
    }
}

fn one_pass(format: Format, log: &[u8]) -> Vec<Item<'static>> {
    Parser::new(format).records(log, Position::START, true).map(owned).collect()
}

/// Parses each range with a fresh parser started at its position.
fn by_ranges(format: Format, log: &[u8], ranges: &[std::ops::Range<usize>]) -> Vec<Item<'static>> {
    let mut out = Vec::new();
    let mut line = 1;
    for r in ranges {
        let part = &log[r.clone()];
        out.extend(Parser::new(format).records(part, Position { byte: r.start as u64, line }, true).map(owned));
        line += part.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    out
}

fn layout() -> impl Strategy<Value = Layout> {
    select(&LAYOUTS[..])
}

// ---------------------------------------------------------------------------------------------------------
// Round trip

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Every layout: each generated record is one event with the generated fields, nothing is malformed.
    #[test]
    fn rendered_events_parse_back_to_the_same_fields(layout in layout(), recs in recs(), crlf in any::<bool>()) {
        let (log, want) = render(layout, &recs, crlf);
        let items = one_pass(layout.format(), log.as_bytes());
        let mut got = Vec::new();
        for i in &items {
            match i {
                Item::Event(e) => got.push(project(e)),
                Item::Malformed(m) => prop_assert!(false, "malformed {:?} at line {}: {:?}\n{log}", m.reason, m.pos.line, String::from_utf8_lossy(&m.raw)),
                Item::Skipped(s) => prop_assert!(false, "skipped {s:?}\n{log}"),
            }
        }
        prop_assert_eq!(got, want, "{:?}\n{}", layout, log);
    }

    /// Chunks cut at random offsets (moved to the next record boundary) parse to the items of one pass.
    #[test]
    fn chunked_parsing_with_random_cuts_equals_one_pass(
        layout in layout(),
        recs in recs(),
        crlf in any::<bool>(),
        cuts in proptest::collection::vec(0.0f64..1.0, 0..8),
    ) {
        let (log, _) = render(layout, &recs, crlf);
        let log = log.as_bytes();
        let format = layout.format();
        let cands: Vec<usize> = cuts.iter().map(|c| (c * log.len() as f64) as usize).collect();
        let ranges = split_at(format, log, &cands);
        prop_assert_eq!(ranges.first().map(|r| r.start), Some(0));
        prop_assert_eq!(ranges.last().map(|r| r.end), Some(log.len()));
        prop_assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
        prop_assert_eq!(by_ranges(format, log, &ranges), one_pass(format, log));
    }

    /// The streaming reader with random block sizes (and sniffing) gives the items of one pass, and its
    /// summary counts them and every byte and line.
    #[test]
    fn streaming_with_random_block_sizes_equals_one_pass(
        layout in layout(),
        recs in proptest::collection::vec(recs(), 1..6),
        block in 64usize..2048,
        sniffed in any::<bool>(),
    ) {
        let recs: Vec<Rec> = recs.into_iter().flatten().collect();
        let (log, _) = render(layout, &recs, false);
        let format = layout.format();
        let want = one_pass(format, log.as_bytes());
        let opts = ReadOptions::default()
            .with_format(if sniffed { None } else { Some(format) })
            .with_block_size(block)
            .with_max_record(1 << 20);
        let mut got = Vec::new();
        let summary = read(log.as_bytes(), &opts, |i| {
            got.push(owned(i));
            ControlFlow::Continue(())
        })
        .unwrap();
        if sniffed {
            prop_assert_eq!(summary.format, Some(format), "sniffed {}", log);
        }
        prop_assert_eq!(summary.records + summary.malformed + summary.skipped, got.len() as u64);
        prop_assert_eq!(summary.bytes, log.len() as u64);
        prop_assert_eq!(summary.lines, log.matches('\n').count() as u64);
        prop_assert_eq!(got, want);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Redaction

/// Passwords: a fixed marker (so the test can look for it) and characters that need escaping in SQL.
fn password() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%^&*()_+=.,;:?~ '\"\\\\-]{4,16}".prop_map(|s| format!("Pw7{s}"))
}

/// A quoted SQL literal holding `pw`, in one of the ways SQL allows.
fn literal(pw: &str, style: u8) -> String {
    match style % 3 {
        0 => format!("'{}'", pw.replace('\\', "\\\\").replace('\'', "\\'")),
        1 => format!("'{}'", pw.replace('\\', "\\\\").replace('\'', "''")),
        _ => format!("\"{}\"", pw.replace('\\', "\\\\").replace('"', "\"\"")),
    }
}

/// Statements that carry a secret, with random keyword case and whitespace or comments between the tokens.
fn secret_statement() -> impl Strategy<Value = (String, String)> {
    (
        password(),
        0u8..3,
        0usize..9,
        proptest::collection::vec(select(&[" ", "  ", "\n", "\t", " /* c */ "][..]), 12),
        proptest::collection::vec(any::<bool>(), 12),
        "[a-z]{1,8}",
    )
        .prop_map(|(pw, style, shape, seps, upper, u)| {
            let lit = literal(&pw, style);
            let tokens: Vec<String> = match shape {
                0 => vec!["CREATE", "USER", &format!("'{u}'@'%'"), "IDENTIFIED", "BY", &lit]
                    .into_iter()
                    .map(String::from)
                    .collect(),
                1 => vec!["ALTER", "USER", &u, "IDENTIFIED", "BY", &lit, "PASSWORD", "EXPIRE", "NEVER"]
                    .into_iter()
                    .map(String::from)
                    .collect(),
                2 => vec!["GRANT", "ALL", "ON", "*.*", "TO", &u, "IDENTIFIED", "BY", &lit, "WITH", "GRANT", "OPTION"]
                    .into_iter()
                    .map(String::from)
                    .collect(),
                3 => vec!["SET", "PASSWORD", "FOR", &format!("'{u}'@'%'"), "=", &format!("PASSWORD({lit})")]
                    .into_iter()
                    .map(String::from)
                    .collect(),
                4 => vec!["SET", "PASSWORD", "=", &lit].into_iter().map(String::from).collect(),
                5 => vec!["SET", "PASSWORD", "FOR", &u, "=", &lit].into_iter().map(String::from).collect(),
                6 => vec!["CREATE", "USER", &u, "IDENTIFIED", "WITH", "mysql_native_password", "AS", &lit]
                    .into_iter()
                    .map(String::from)
                    .collect(),
                7 => vec!["CREATE", "USER", &u, "IDENTIFIED", "WITH", "caching_sha2_password", "BY", &lit]
                    .into_iter()
                    .map(String::from)
                    .collect(),
                _ => vec!["SELECT", &format!("PASSWORD({lit})"), ",", "1"].into_iter().map(String::from).collect(),
            };
            let mut s = String::new();
            for (i, t) in tokens.iter().enumerate() {
                if i > 0 {
                    s.push_str(if t == "," { "" } else { seps[i % seps.len()] });
                }
                let is_keyword = t.chars().all(|c| c.is_ascii_uppercase() || c == '_');
                if is_keyword && !upper[i % upper.len()] {
                    s.push_str(&t.to_lowercase());
                } else {
                    s.push_str(t);
                }
            }
            (s, pw)
        })
}

/// Every string in a JSON value.
fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A statement with a generated password, logged in every layout that carries SQL (the error log as a
    /// message): the password appears neither in `Sql::redacted`, nor in the JSON of the event, nor in the
    /// analysis report, the digest or query rows of the log (the raw record included).
    #[test]
    fn redaction_never_leaves_a_generated_secret((stmt, pw) in secret_statement(), layout in layout(), base in rec()) {
        let rec = Rec { kind: Kind::Query, sql: stmt.clone(), ..base };
        let (log, _) = render(layout, &[rec], false);
        let items = one_pass(layout.format(), log.as_bytes());
        prop_assert_eq!(items.len(), 1, "{}", log);
        let Item::Event(ev) = &items[0] else { panic!("not an event: {:?}\n{log}", items[0]) };
        let escaped_pw = literal(&pw, 0);
        let secret_forms = [pw.clone(), escaped_pw[1..escaped_pw.len() - 1].to_string()];
        if let Some(sql) = &ev.sql {
            let red = String::from_utf8_lossy(&sql.redacted()).into_owned();
            for s in &secret_forms {
                prop_assert!(!red.contains(s.as_str()), "{s:?} left in {red:?}");
            }
            prop_assert!(red.contains("<redacted>"));
        }
        let mut all = Vec::new();
        strings(&serde_json::to_value(ev).unwrap(), &mut all);
        for (what, out) in engine_outputs(layout.format(), log.as_bytes()) {
            let mut texts = Vec::new();
            strings(&out, &mut texts);
            all.extend(texts.into_iter().map(|t| format!("{what}: {t}")));
        }
        for text in &all {
            for s in &secret_forms {
                prop_assert!(!text.contains(s.as_str()), "{s:?} left in {text:?} of {stmt:?}");
            }
        }
    }
}

/// What the engines make of `log`, as JSON: the analysis report, the digest and the rows of a query showing every
/// text field (the raw record as `@message` too).
fn engine_outputs(format: Format, log: &[u8]) -> Vec<(&'static str, serde_json::Value)> {
    let read = ReadOptions::default().with_format(Some(format));
    let mut analyzer =
        Analyzer::new(AnalyzeOptions { read: read.clone(), threads: 1, ..AnalyzeOptions::default() }).unwrap();
    analyzer.add_reader("log", log).unwrap();
    let mut digest = Digest::new(DigestOptions { read: read.clone(), threads: 1, ..DigestOptions::default() }).unwrap();
    digest.add_reader("log", log).unwrap();
    let query = Query::parse("fields ts, log, kind, op, user, host, db, object, sql, message, @message").unwrap();
    let rows = query.run_bytes("log", log, &QueryOptions { read, threads: 1, ..QueryOptions::default() }).unwrap();
    vec![
        ("analysis report", serde_json::to_value(analyzer.finish()).unwrap()),
        ("digest", serde_json::to_value(digest.finish()).unwrap()),
        ("query rows", serde_json::to_value(rows).unwrap()),
    ]
}

/// The generators themselves: a known statement renders in every layout and parses back (guards the test
/// against rendering nothing).
#[test]
fn every_layout_renders_a_known_record() {
    let r = Rec {
        kind: Kind::Query,
        us: 1_700_000_000_123_456,
        server: "db-1".into(),
        user: "o'brien,x".into(),
        host: "2001:db8::7".into(),
        conn: 42,
        qid: 7,
        db: "shop".into(),
        table: "t1".into(),
        sql: "SELECT 'a,b', \"c\"\n  FROM `t` -- é\tx \\ y".into(),
        retcode: 0,
    };
    for layout in LAYOUTS {
        let (log, want) = render(layout, std::slice::from_ref(&r), false);
        let got: Vec<Proj> = one_pass(layout.format(), log.as_bytes())
            .iter()
            .map(|i| match i {
                Item::Event(e) => project(e),
                other => panic!("{layout:?}: {other:?}\n{log}"),
            })
            .collect();
        assert_eq!(got, want, "{layout:?}\n{log}");
        let body = if layout.format() == Format::Error { want[0].message.clone() } else { want[0].sql.clone() };
        assert_eq!(body.as_deref(), Some(r.sql.as_str()), "{layout:?}");
    }
}
