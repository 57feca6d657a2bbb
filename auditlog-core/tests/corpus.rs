//! Tests over the committed corpus (`<CARGO_MANIFEST_DIR>/../corpus`, see its README.md).
//!
//! Expectations come from the corpus's own ground truth — `mariadb/scenario.json` (written by the scenario
//! script from its inputs and the client's exit status, never from the logs), `download/audit-portion.json`,
//! `malformed/cases.json` — and from the structure of the files themselves (line counts, byte lengths). No
//! count copied from our own output is hard-coded here.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use auditlog_core::source::{expand, Input};
use auditlog_core::{
    read, sniff, Event, EventKind, Format, Item, LogType, Parser, Position, ReadOptions, Reason, SkipReason,
};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------------------
// Helpers

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus")
}

fn load(rel: &str) -> Vec<u8> {
    let p = corpus().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn json(rel: &str) -> Value {
    serde_json::from_slice(&load(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn scenario() -> Value {
    json("mariadb/scenario.json")
}

/// Every log file of the corpus (documentation, JSON ground truth and provenance notes excluded).
fn log_files() -> Vec<PathBuf> {
    let inputs = expand(&[corpus()]).expect("corpus folder");
    let files: Vec<PathBuf> = inputs
        .into_iter()
        .filter_map(|i| match i {
            Input::File(p) => Some(p),
            Input::Stdin => None,
        })
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            !(name.ends_with(".json") || name.ends_with(".md") || name == "provenance.txt")
        })
        .collect();
    assert!(files.len() >= 18, "corpus looks incomplete: {files:?}");
    files
}

fn rel(p: &Path) -> String {
    p.strip_prefix(corpus()).unwrap_or(p).display().to_string()
}

/// The format a corpus file is, from its name (see the provenance table of corpus/README.md).
fn expected_format(p: &Path) -> Format {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if name.contains("audit") || name.starts_with("aurora") {
        Format::Audit
    } else if name.contains("general") {
        Format::General
    } else if name.contains("slow") {
        Format::Slow
    } else if name.contains("error") {
        Format::Error
    } else {
        panic!("no expected format for {}", p.display())
    }
}

/// Every item of `buf` in one pass.
fn items(buf: &[u8], format: Format) -> Vec<Item<'_>> {
    Parser::new(format).records(buf, Position::START, true).collect()
}

fn events_of(buf: &[u8], format: Format) -> Vec<Event<'_>> {
    items(buf, format)
        .into_iter()
        .filter_map(|i| match i {
            Item::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// Parses a corpus file with its sniffed format, asserting it is the expected one.
fn parse_file(rel_path: &str) -> Vec<Event<'static>> {
    let buf = load(rel_path);
    let p = corpus().join(rel_path);
    let format = sniff(&buf).unwrap_or_else(|| panic!("{rel_path}: format not recognised"));
    assert_eq!(format, expected_format(&p), "{rel_path}");
    events_of(&buf, format).into_iter().map(Event::into_owned).collect()
}

/// The four Aurora stripes of corpus/aurora, each parsed.
fn aurora_stripes() -> Vec<(String, Vec<Event<'static>>)> {
    let dir = corpus().join("aurora");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("aurora dir")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "Aurora writes four stripes at a time: {names:?}");
    names.into_iter().map(|n| (n.clone(), parse_file(&format!("aurora/{n}")))).collect()
}

/// All Aurora stripes merged by timestamp (stable, so file order breaks ties), as a detector must.
fn aurora_merged() -> Vec<Event<'static>> {
    let mut all: Vec<Event<'static>> = aurora_stripes().into_iter().flat_map(|(_, e)| e).collect();
    all.sort_by_key(|e| e.ts);
    all
}

fn st(b: &Option<Cow<'_, [u8]>>) -> String {
    b.as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()
}

fn sql_text(e: &Event<'_>) -> String {
    e.sql.as_ref().map(|s| String::from_utf8_lossy(&s.text()).into_owned()).unwrap_or_default()
}

/// `host -> user -> count`, the shape of scenario.json's `expected_failed_logins`.
type ByHostUser = BTreeMap<String, BTreeMap<String, u64>>;

fn by_host_user_json(v: &Value) -> ByHostUser {
    v.as_object()
        .expect("host map")
        .iter()
        .map(|(h, users)| {
            let u = users
                .as_object()
                .expect("user map")
                .iter()
                .map(|(u, n)| (u.clone(), n.as_u64().expect("count")))
                .collect();
            (h.clone(), u)
        })
        .collect()
}

fn tally<'e>(evs: impl IntoIterator<Item = &'e Event<'static>>) -> ByHostUser {
    let mut m = ByHostUser::new();
    for e in evs {
        *m.entry(st(&e.host)).or_default().entry(st(&e.user)).or_default() += 1;
    }
    m
}

fn attempts(sc: &Value) -> impl Iterator<Item = &Value> {
    sc["phases"].as_array().expect("phases").iter().flat_map(|p| p["attempts"].as_array().expect("attempts").iter())
}

/// The server error numbers the client reported for an attempt (`ERROR 1045 (28000): ...`).
fn client_errnos(a: &Value) -> Vec<i64> {
    a["client_errors"]
        .as_array()
        .expect("client_errors")
        .iter()
        .filter_map(|e| e.as_str()?.strip_prefix("ERROR ")?.split(' ').next()?.parse().ok())
        .collect()
}

/// Logins the client saw refused at connect time (1045 bad credentials, 1044 database refused): (source, user,
/// errno).
fn refused_logins(sc: &Value) -> Vec<(String, String, i64)> {
    attempts(sc)
        .filter_map(|a| {
            let errno = client_errnos(a).into_iter().find(|n| *n == 1045 || *n == 1044)?;
            // A refused statement (errno on a QUERY) happens after a successful login: only attempts whose
            // first error is a login error and whose password was wrong or whose database was refused count.
            let login_refused = !a["password_correct"].as_bool().expect("password_correct")
                || (errno == 1044 && a["database"].is_string());
            login_refused.then(|| (s(&a["source"]), s(&a["user"]), errno))
        })
        .collect()
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_string()
}

/// Successful logins per (source host, user): attempts with the right password whose login was not refused.
fn expected_connects(sc: &Value) -> ByHostUser {
    let mut m = ByHostUser::new();
    for a in attempts(sc) {
        let refused_db = a["database"].is_string() && client_errnos(a).contains(&1044);
        if a["password_correct"].as_bool().expect("password_correct") && !refused_db {
            *m.entry(s(&a["source"])).or_default().entry(s(&a["user"])).or_default() += 1;
        }
    }
    m
}

// ---------------------------------------------------------------------------------------------------------
// Formats and accounting

#[test]
fn every_log_outside_malformed_parses_clean_with_the_right_format() {
    for p in log_files() {
        let buf = std::fs::read(&p).expect("read");
        let want = expected_format(&p);
        assert_eq!(sniff(&buf), Some(want), "{}: sniffed format", rel(&p));
        let summary = read(&buf[..], &ReadOptions::default(), |_| ControlFlow::Continue(())).expect("read");
        assert_eq!(summary.format, Some(want), "{}", rel(&p));
        if rel(&p).starts_with("malformed") {
            continue;
        }
        let bad: Vec<_> = items(&buf, want)
            .into_iter()
            .filter_map(|i| match i {
                Item::Malformed(m) => Some((m.pos.line, m.reason, String::from_utf8_lossy(&m.raw).into_owned())),
                _ => None,
            })
            .collect();
        assert!(bad.is_empty(), "{}: malformed records {bad:?}", rel(&p));
        assert_eq!(summary.malformed, 0, "{}", rel(&p));
        assert!(summary.records > 0, "{}", rel(&p));
        // Every event is of the log the file is.
        for e in events_of(&buf, want) {
            let log = match want {
                Format::Audit => LogType::Audit,
                Format::General => LogType::General,
                Format::Slow => LogType::Slow,
                Format::Error => LogType::Error,
            };
            assert_eq!(e.log, log, "{}:{}", rel(&p), e.pos.line);
        }
    }
}

/// Lines in a file, a final line without a line end included.
fn line_count(buf: &[u8]) -> u64 {
    let nl = buf.iter().filter(|b| **b == b'\n').count() as u64;
    nl + u64::from(!buf.is_empty() && !buf.ends_with(b"\n"))
}

/// Checks that `items` tile `buf`: positions strictly increase; malformed and skipped items span exactly
/// `len` bytes; an event's raw bytes are the input at its position and only a line end separates them from the
/// next item; line numbers count the line ends in between; the last item reaches the end of the input.
fn assert_tiles(name: &str, buf: &[u8], items: &[Item<'_>]) {
    let mut expect = Position::START;
    for it in items {
        let pos = it.pos();
        assert_eq!(pos, expect, "{name}: item does not start where the previous one ended: {it:?}");
        let start = usize::try_from(pos.byte).expect("offset");
        let end = match it {
            Item::Malformed(m) => start + usize::try_from(m.len).expect("len"),
            Item::Skipped(s) => start + usize::try_from(s.len).expect("len"),
            Item::Event(e) => {
                let raw_end = start + e.raw.len();
                assert_eq!(&buf[start..raw_end], &e.raw[..], "{name}:{}: raw is not the input", pos.line);
                // Events leave out their own line end: at most `\r\n` may follow before the next item.
                let rest = &buf[raw_end..];
                raw_end + [&b"\r\n"[..], b"\n", b"\r"].iter().find(|t| rest.starts_with(t)).map_or(0, |t| t.len())
            }
        };
        assert!(end > start, "{name}:{}: empty item", pos.line);
        if let Item::Malformed(m) = it {
            if m.reason != Reason::TooLong {
                assert_eq!(&m.raw[..], &buf[start..start + m.raw.len()], "{name}:{}", pos.line);
            }
        }
        let span = &buf[start..end];
        let nl = span.iter().filter(|b| **b == b'\n').count() as u64;
        let lines = nl + u64::from(!span.ends_with(b"\n"));
        expect = Position { byte: end as u64, line: pos.line + lines };
    }
    assert_eq!(expect.byte, buf.len() as u64, "{name}: items do not cover the whole input");
}

/// Collects every item of `read` (owned).
fn read_all(buf: &[u8], opts: &ReadOptions) -> (Vec<Item<'static>>, auditlog_core::ReadSummary) {
    let mut out = Vec::new();
    let summary = read(buf, opts, |i| {
        out.push(match i {
            Item::Event(e) => Item::Event(e.into_owned()),
            Item::Malformed(m) => Item::Malformed(m.into_owned()),
            Item::Skipped(s) => Item::Skipped(s),
        });
        ControlFlow::Continue(())
    })
    .expect("read");
    (out, summary)
}

#[test]
fn items_tile_every_file_and_summary_counts_agree() {
    for p in log_files() {
        let name = rel(&p);
        let buf = std::fs::read(&p).expect("read");
        let one = items(&buf, expected_format(&p));
        assert_tiles(&name, &buf, &one);

        let (streamed, summary) = read_all(&buf, &ReadOptions::default());
        assert_eq!(streamed, one, "{name}: read() differs from one pass");
        let (ev, bad, skip) = one.iter().fold((0, 0, 0), |(e, m, s), i| match i {
            Item::Event(_) => (e + 1, m, s),
            Item::Malformed(_) => (e, m + 1, s),
            Item::Skipped(_) => (e, m, s + 1),
        });
        assert_eq!((summary.records, summary.malformed, summary.skipped), (ev, bad, skip), "{name}");
        assert_eq!(summary.records + summary.malformed + summary.skipped, one.len() as u64, "{name}");
        assert_eq!(summary.lines, line_count(&buf), "{name}: lines");
        assert_eq!(summary.bytes, buf.len() as u64, "{name}: bytes");

        // Tiny blocks: records straddle every buffer boundary, the result must not change.
        for block in [64, 100, 4096] {
            let (small, s2) = read_all(&buf, &ReadOptions::default().with_block_size(block));
            assert_eq!(small, one, "{name}: block size {block}");
            assert_eq!(s2, summary, "{name}: block size {block}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The scenario in every dialect

/// How a log shows the login that was refused its database (1044).
#[derive(Clone, Copy, Debug)]
enum DbDenied {
    /// As a failed_connect with retcode 1044 and the client's IP.
    WithClientHost,
    /// As a failed_connect with retcode 1044, but the host is the matched account pattern (`127.0.0.%`): the
    /// MariaDB error log writes `Access denied for user 'report'@'127.0.0.%' to database 'mysql'`.
    WithAccountHost,
    /// Not at all (derive.py does not carry the 1044 warning into the MySQL 8.0 / 5.7 error logs).
    Absent,
}

fn dialect_logs() -> Vec<(&'static str, Vec<Event<'static>>, DbDenied)> {
    vec![
        ("mariadb/server_audit.log", parse_file("mariadb/server_audit.log"), DbDenied::WithClientHost),
        ("mariadb/general.log", parse_file("mariadb/general.log"), DbDenied::WithClientHost),
        ("mariadb/error.log", parse_file("mariadb/error.log"), DbDenied::WithAccountHost),
        ("aurora/* (4 stripes)", aurora_merged(), DbDenied::WithClientHost),
        ("rds-mysql8/server_audit.log", parse_file("rds-mysql8/server_audit.log"), DbDenied::WithClientHost),
        ("mysql8/general.log", parse_file("mysql8/general.log"), DbDenied::WithClientHost),
        ("mysql8/error.log", parse_file("mysql8/error.log"), DbDenied::Absent),
        ("mysql57/error.log", parse_file("mysql57/error.log"), DbDenied::Absent),
    ]
}

#[test]
fn failed_logins_agree_with_the_scenario_in_every_dialect() {
    let sc = scenario();
    let want_failed = by_host_user_json(&sc["expected_failed_logins"]);
    let want_denied = by_host_user_json(&sc["expected_db_access_denied"]);
    let refused = refused_logins(&sc);
    // The scenario's own views agree with each other.
    let mut from_attempts = ByHostUser::new();
    let mut denied_from_attempts = ByHostUser::new();
    for (h, u, errno) in &refused {
        let m = if *errno == 1044 { &mut denied_from_attempts } else { &mut from_attempts };
        *m.entry(h.clone()).or_default().entry(u.clone()).or_default() += 1;
    }
    assert_eq!(from_attempts, want_failed);
    assert_eq!(denied_from_attempts, want_denied);
    // The phases as described: 8 x admin@.20, 6 users from .21, 3 x report@.22, one 1044 for report.
    let phase =
        |name: &str| -> &Value { sc["phases"].as_array().unwrap().iter().find(|p| p["phase"] == name).expect("phase") };
    let b = phase("b_bruteforce");
    assert_eq!(want_failed[&s(&b["source_host"])]["admin"], b["failed_attempts"].as_u64().unwrap());
    let c = phase("c_spray");
    let spray: Vec<String> = c["users"].as_array().unwrap().iter().map(s).collect();
    assert_eq!(want_failed[&s(&c["source_host"])].keys().cloned().collect::<Vec<_>>(), spray);
    let d = phase("d_trickle");
    assert_eq!(want_failed[&s(&d["source_host"])]["report"], d["failed_attempts"].as_u64().unwrap());
    let h = phase("h_db_denied");
    assert_eq!(want_denied[&s(&h["source_host"])]["report"], h["database_denied"].as_u64().unwrap());

    // What errno each (host, user) got, from the client's error text.
    let errno_of: BTreeMap<(String, String), i64> =
        refused.iter().map(|(h, u, e)| ((h.clone(), u.clone()), *e)).collect();

    for (name, evs, db_denied) in dialect_logs() {
        let failed: Vec<&Event<'static>> = evs.iter().filter(|e| e.kind == EventKind::FailedConnect).collect();
        let logins: Vec<&Event<'static>> = failed.iter().copied().filter(|e| e.is_failed_login()).collect();
        assert_eq!(tally(logins.iter().copied()), want_failed, "{name}: failed logins per host and user");
        for e in &logins {
            let want = errno_of[&(st(&e.host), st(&e.user))];
            assert_eq!(e.retcode, Some(want), "{name}:{}: retcode", e.pos.line);
        }
        let denied: Vec<&Event<'static>> = failed.iter().copied().filter(|e| !e.is_failed_login()).collect();
        for e in &denied {
            assert_eq!(e.retcode, Some(1044), "{name}:{}", e.pos.line);
        }
        match db_denied {
            DbDenied::WithClientHost => assert_eq!(tally(denied.iter().copied()), want_denied, "{name}: 1044"),
            DbDenied::WithAccountHost => {
                // Same users and counts; the host is the account's pattern, which must match the client host.
                let users: BTreeMap<String, u64> =
                    want_denied.values().flatten().map(|(u, n)| (u.clone(), *n)).collect();
                let mut got = BTreeMap::<String, u64>::new();
                for e in &denied {
                    *got.entry(st(&e.user)).or_default() += 1;
                    let pattern = st(&e.host);
                    let prefix = pattern.trim_end_matches('%');
                    assert!(pattern.ends_with('%'), "{name}: {pattern}");
                    assert!(want_denied.keys().any(|h| h.starts_with(prefix)), "{name}: {pattern}");
                }
                assert_eq!(got, users, "{name}: 1044 per user");
            }
            DbDenied::Absent => assert!(denied.is_empty(), "{name}: {denied:?}"),
        }
    }
    // The slow logs hold statements only: no login events at all.
    for name in ["mariadb/slow.log", "mysql8/slow.log"] {
        let evs = parse_file(name);
        assert!(evs.iter().all(|e| e.kind == EventKind::Query || e.kind == EventKind::Command), "{name}");
    }
}

#[test]
fn successful_logins_agree_with_the_scenario() {
    let sc = scenario();
    let want = expected_connects(&sc);
    let phase = |name: &str| -> Value {
        sc["phases"].as_array().unwrap().iter().find(|p| p["phase"] == name).expect("phase").clone()
    };
    // The two logins the detectors care about: admin after the brute force, report from a new host.
    let b = phase("b_bruteforce");
    let g = phase("g_new_host");
    let admin = (s(&b["source_host"]), "admin".to_string(), b["successful_logins"].as_u64().unwrap());
    let report = (s(&g["source_host"]), "report".to_string(), g["successful_logins"].as_u64().unwrap());
    assert_eq!((admin.2, report.2), (1, 1));

    let logs: Vec<(&str, Vec<Event<'static>>)> = vec![
        ("mariadb/server_audit.log", parse_file("mariadb/server_audit.log")),
        ("aurora/* (4 stripes)", aurora_merged()),
        ("rds-mysql8/server_audit.log", parse_file("rds-mysql8/server_audit.log")),
        ("mariadb/general.log", parse_file("mariadb/general.log")),
        ("mysql8/general.log", parse_file("mysql8/general.log")),
    ];
    let failed_pairs = by_host_user_json(&sc["expected_failed_logins"]);
    for (name, evs) in logs {
        let connects = tally(evs.iter().filter(|e| e.kind == EventKind::Connect));
        assert_eq!(connects, want, "{name}: successful logins per host and user");
        for (h, u, n) in [&admin, &report] {
            assert_eq!(connects.get(h).and_then(|m| m.get(u)), Some(n), "{name}: {u}@{h}");
        }
        // A failed attempt is never also a successful login: the general log's attempt line + denial line
        // form one failed_connect. Only admin@.20 (who got in at the end) has a connect among them.
        for (h, users) in &failed_pairs {
            for u in users.keys() {
                let got = connects.get(h).and_then(|m| m.get(u)).copied().unwrap_or(0);
                let expected = want.get(h).and_then(|m| m.get(u)).copied().unwrap_or(0);
                assert_eq!(got, expected, "{name}: {u}@{h} connects");
            }
        }
        // Every failed_connect of the audit logs is followed by a DISCONNECT of its connection: still one
        // failed login each (counted above), the DISCONNECT is a disconnect.
        if evs.first().is_some_and(|e| e.log == LogType::Audit) {
            for f in evs.iter().filter(|e| e.kind == EventKind::FailedConnect) {
                assert!(
                    evs.iter().any(|d| d.kind == EventKind::Disconnect && d.conn_id == f.conn_id && d.ts >= f.ts),
                    "{name}:{}: FAILED_CONNECT without its DISCONNECT",
                    f.pos.line
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// DCL

/// Replaces every `open ... close` span (a quoted password: the scenario's passwords hold no quotes) with
/// `replacement`.
fn replace_spans(stmt: &str, open: &str, close: &str, replacement: &str) -> String {
    let mut out = String::new();
    let mut rest = stmt;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        let Some(end) = after.find(close) else { break };
        out.push_str(&rest[..i]);
        out.push_str(replacement);
        rest = &after[end + close.len()..];
    }
    out.push_str(rest);
    out
}

/// The statement as the MariaDB audit plugin logs it: `IDENTIFIED BY 'x'` becomes `IDENTIFIED BY *****`,
/// `PASSWORD('x')` becomes `PASSWORD(*****)` (corpus/README.md, difference 2; formats.md §1.1).
fn as_audit_plugin_masks(stmt: &str) -> String {
    let m = replace_spans(stmt, "IDENTIFIED BY '", "'", "IDENTIFIED BY *****");
    replace_spans(&m, "PASSWORD('", "')", "PASSWORD(*****)")
}

/// The statement as MySQL 8.0 rewrites it in the general and slow logs (corpus/README.md, derive.py):
/// `IDENTIFIED BY <secret>`, and `SET PASSWORD ... = <secret>` for MariaDB's `= PASSWORD('...')`.
fn as_mysql8_rewrites(stmt: &str) -> String {
    let m = replace_spans(stmt, "IDENTIFIED BY '", "'", "IDENTIFIED BY <secret>");
    replace_spans(&m, "= PASSWORD('", "')", "= <secret>")
}

#[test]
fn password_masking_normalisation() {
    assert_eq!(
        as_audit_plugin_masks("CREATE USER 'a'@'%' IDENTIFIED BY 'S3cret-Pa55'"),
        "CREATE USER 'a'@'%' IDENTIFIED BY *****"
    );
    assert_eq!(
        as_audit_plugin_masks("SET PASSWORD FOR 'ops'@'%' = PASSWORD('An0ther-Pa55')"),
        "SET PASSWORD FOR 'ops'@'%' = PASSWORD(*****)"
    );
    assert_eq!(
        as_mysql8_rewrites("SET PASSWORD FOR 'ops'@'%' = PASSWORD('An0ther-Pa55')"),
        "SET PASSWORD FOR 'ops'@'%' = <secret>"
    );
    assert_eq!(as_mysql8_rewrites("GRANT SELECT ON a.* TO 'b'"), "GRANT SELECT ON a.* TO 'b'");
}

struct Dcl {
    user: String,
    statement: String,
    success: bool,
}

fn dcl_statements(sc: &Value) -> Vec<Dcl> {
    let all = sc["all_dcl_statements_in_order"].as_array().expect("all_dcl_statements_in_order");
    assert!(!all.is_empty());
    all.iter()
        .map(|d| Dcl { user: s(&d["user"]), statement: s(&d["statement"]), success: d["expected"] == "success" })
        .collect()
}

/// Finds the statements in order among the query events; `user_of` names the user of an event. Returns the
/// matched events.
fn find_in_order<'e>(
    name: &str,
    dcl: &[Dcl],
    evs: &'e [Event<'static>],
    normalise: impl Fn(&str) -> String,
    user_of: impl Fn(&Event<'static>) -> String,
) -> Vec<&'e Event<'static>> {
    let queries: Vec<&Event<'static>> = evs.iter().filter(|e| e.kind == EventKind::Query).collect();
    let mut at = 0;
    let mut found = Vec::new();
    for d in dcl {
        let want = normalise(&d.statement);
        let i = queries[at..]
            .iter()
            .position(|e| sql_text(e) == want && user_of(e) == d.user)
            .unwrap_or_else(|| panic!("{name}: not found (in order) for {}: {want:?}", d.user));
        found.push(queries[at + i]);
        at += i + 1;
    }
    found
}

#[test]
fn every_dcl_statement_is_in_the_audit_logs_with_its_outcome() {
    let sc = scenario();
    let dcl = dcl_statements(&sc);
    assert!(dcl.iter().any(|d| !d.success), "the scenario has a refused statement");
    for (name, evs) in [
        ("mariadb/server_audit.log", parse_file("mariadb/server_audit.log")),
        ("aurora/* (4 stripes)", aurora_merged()),
        ("rds-mysql8/server_audit.log", parse_file("rds-mysql8/server_audit.log")),
    ] {
        // Compared after masking the scenario's statements the way the plugin does (`*****`); the audit SQL
        // itself is compared unescaped (`Sql::text`: `\'` -> `'`, `\n` -> LF, so the 5-line GRANT matches).
        let found = find_in_order(name, &dcl, &evs, as_audit_plugin_masks, |e| st(&e.user));
        for (d, e) in dcl.iter().zip(found) {
            if d.success {
                assert_eq!(e.retcode, Some(0), "{name}:{}: {}", e.pos.line, d.statement);
            } else {
                assert!(e.retcode.is_some_and(|r| r != 0), "{name}:{}: refused GRANT: {:?}", e.pos.line, e.retcode);
            }
        }
    }
}

/// conn_id -> user, from the connect events of a general log.
fn users_by_conn(evs: &[Event<'static>]) -> BTreeMap<u64, String> {
    evs.iter().filter(|e| e.kind == EventKind::Connect).filter_map(|e| Some((e.conn_id?, st(&e.user)))).collect()
}

#[test]
fn every_dcl_statement_is_in_the_general_and_slow_logs() {
    let sc = scenario();
    let dcl = dcl_statements(&sc);
    // MariaDB writes the statements as sent, passwords in clear text (corpus/README.md, difference 2).
    let mariadb = parse_file("mariadb/general.log");
    let users = users_by_conn(&mariadb);
    find_in_order("mariadb/general.log", &dcl, &mariadb, str::to_string, |e| {
        e.conn_id.and_then(|c| users.get(&c).cloned()).unwrap_or_default()
    });
    // The derived MySQL 8.0 general log has the 8.0 rewrite (`<secret>`).
    let mysql8 = parse_file("mysql8/general.log");
    let users = users_by_conn(&mysql8);
    find_in_order("mysql8/general.log", &dcl, &mysql8, as_mysql8_rewrites, |e| {
        e.conn_id.and_then(|c| users.get(&c).cloned()).unwrap_or_default()
    });
    // Slow logs (long_query_time=0 logs every statement): the user is in `# User@Host:`.
    let slow = parse_file("mariadb/slow.log");
    find_in_order("mariadb/slow.log", &dcl, &slow, str::to_string, |e| st(&e.user));
    let slow8 = parse_file("mysql8/slow.log");
    find_in_order("mysql8/slow.log", &dcl, &slow8, as_mysql8_rewrites, |e| st(&e.user));
}

// ---------------------------------------------------------------------------------------------------------
// Aurora stripes

#[test]
fn aurora_stripes_are_each_in_order_but_interleave() {
    let stripes = aurora_stripes();
    let mut ranges = Vec::new();
    for (name, evs) in &stripes {
        assert!(!evs.is_empty(), "{name}");
        let ts: Vec<i64> = evs.iter().map(|e| e.ts.expect("aurora ts").epoch_micros()).collect();
        // derive.py gives every record a distinct, strictly increasing microsecond offset.
        assert!(ts.windows(2).all(|w| w[0] < w[1]), "{name}: not in timestamp order");
        // The file name carries the first record's UTC minute: audit.log.N.YYYY-MM-DD-HH-MM.0
        let minute = evs[0].ts.unwrap().to_rfc3339();
        let stamp = format!("{}-{}-{}", &minute[..10], &minute[11..13], &minute[14..16]);
        assert!(name.contains(&stamp), "{name} vs first record {minute}");
        ranges.push((ts[0], *ts.last().unwrap()));
    }
    // Interleaving: some two stripes overlap in time, so reading them one after the other is out of order.
    let overlap = ranges.iter().enumerate().any(|(i, a)| ranges.iter().skip(i + 1).any(|b| a.0 < b.1 && b.0 < a.1));
    assert!(overlap, "stripes do not interleave: {ranges:?}");
    let concatenated: Vec<i64> =
        stripes.iter().flat_map(|(_, e)| e.iter().map(|e| e.ts.unwrap().epoch_micros())).collect();
    assert!(concatenated.windows(2).any(|w| w[0] > w[1]), "concatenated stripes are already sorted");
    for (_, evs) in &stripes {
        assert!(evs.iter().all(|e| st(&e.server) == "aurora-prod-instance-1"));
    }
}

/// What derive.py keeps of a record in every audit dialect: the second, user, host, ids, operation, db,
/// object/SQL (as written, still escaped) and retcode.
type Key = (i64, String, String, Option<u64>, Option<u64>, String, String, String, Option<i64>);

fn key(e: &Event<'_>) -> Key {
    (
        e.ts.expect("ts").epoch_micros().div_euclid(1_000_000),
        st(&e.user),
        st(&e.host),
        e.conn_id,
        e.query_id,
        st(&e.op),
        st(&e.db),
        e.sql.as_ref().map_or_else(|| st(&e.object), |s| String::from_utf8_lossy(s.raw()).into_owned()),
        e.retcode,
    )
}

#[test]
fn aurora_stripes_together_hold_the_mariadb_records_and_the_rds_ones_plus_table_rows() {
    let aurora = aurora_merged();
    let mariadb = parse_file("mariadb/server_audit.log");
    let rds = parse_file("rds-mysql8/server_audit.log");
    // Aurora: every MariaDB record, TABLE and DISCONNECT rows included, with microseconds added within the
    // second in the original order (so merging by timestamp restores the original order).
    let a: Vec<Key> = aurora.iter().map(key).collect();
    let m: Vec<Key> = mariadb.iter().map(key).collect();
    assert_eq!(a, m, "aurora (merged) vs mariadb");
    // RDS for MySQL has no TABLE rows (formats.md §1.4; derive.py drops them); everything else is the same.
    let a_no_table: Vec<Key> = aurora.iter().filter(|e| e.kind != EventKind::Table).map(key).collect();
    let r: Vec<Key> = rds.iter().map(key).collect();
    assert_eq!(a_no_table, r, "aurora minus TABLE rows vs rds");
    assert!(rds.iter().all(|e| e.kind != EventKind::Table));
    assert!(aurora.iter().any(|e| e.kind == EventKind::Table));
    // The RDS connection rows carry the connection type: SOCKET for localhost, TCP/IP otherwise.
    for e in
        rds.iter().filter(|e| matches!(e.kind, EventKind::Connect | EventKind::FailedConnect | EventKind::Disconnect))
    {
        let want = if st(&e.host) == "localhost" { "SOCKET" } else { "TCP/IP" };
        match &e.extra {
            auditlog_core::Extra::Audit { conn_type, .. } => assert_eq!(st(conn_type), want, "rds:{}", e.pos.line),
            other => panic!("rds:{}: {other:?}", e.pos.line),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// download-db-log-file-portion

#[test]
fn download_portion_skips_blanks_and_marker_and_flags_the_cut_record() {
    let meta = json("download/audit-portion.json");
    let buf = load("download/audit-portion.txt");
    assert_eq!(sniff(&buf), Some(Format::Audit));
    let all = items(&buf, Format::Audit);
    let text_lines: Vec<&[u8]> = buf.split(|b| *b == b'\n').collect();
    let blank_lines = text_lines.iter().filter(|l| l.is_empty()).count() - usize::from(buf.ends_with(b"\n"));
    let blanks = all.iter().filter(|i| matches!(i, Item::Skipped(s) if s.reason == SkipReason::Blank)).count();
    assert_eq!(blanks, blank_lines, "every blank line is skipped");
    // A blank line follows each page.
    assert_eq!(blanks as u64, meta["pages"].as_u64().unwrap());
    let markers: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Item::Skipped(s) if s.reason == SkipReason::TruncationMarker))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(markers.len(), 1);
    // The record before the marker: the cut one, flagged.
    let printed = s(&meta["truncated_record_as_printed"]);
    let full = s(&meta["truncated_record_full"]);
    match &all[markers[0] - 1] {
        Item::Event(e) => {
            assert!(e.truncated, "record before the marker not flagged");
            assert_eq!(&e.raw[..], printed.as_bytes());
            assert_eq!(e.kind, EventKind::Query);
            assert_eq!(e.retcode, None);
            // What survived of the SQL is a prefix of the full record's SQL.
            let full_ev = events_of(full.as_bytes(), Format::Audit).remove(0);
            let (cut_sql, full_sql) = (e.sql.as_ref().unwrap().raw(), full_ev.sql.as_ref().unwrap().raw());
            assert!(full_sql.starts_with(cut_sql), "{cut_sql:?} vs {full_sql:?}");
            assert_eq!((e.conn_id, e.query_id), (full_ev.conn_id, full_ev.query_id));
        }
        Item::Malformed(m) => {
            assert_eq!(m.reason, Reason::Truncated);
            assert_eq!(&m.raw[..], printed.as_bytes());
        }
        other => panic!("before the marker: {other:?}"),
    }
    // No other record is flagged or malformed, and the complete ones are all there.
    let evs = events_of(&buf, Format::Audit);
    let complete: Vec<&Event<'_>> = evs.iter().filter(|e| !e.truncated).collect();
    assert_eq!(complete.len() as u64, meta["complete_records_in_file"].as_u64().unwrap());
    let pages: u64 = meta["page_record_counts"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(complete.len() as u64, pages);
    assert!(all.iter().all(|i| !matches!(i, Item::Malformed(m) if m.reason != Reason::Truncated)));
    // The download is the RDS file minus the cut record and the records lost with it.
    let source = parse_file(&s(&meta["source"]));
    let mut lost: Vec<String> = meta["records_lost_entirely"].as_array().unwrap().iter().map(s).collect();
    lost.push(full);
    let want: Vec<Key> = source.iter().filter(|e| !lost.iter().any(|l| l.as_bytes() == &e.raw[..])).map(key).collect();
    let got: Vec<Key> = complete.iter().map(|e| key(e)).collect();
    assert_eq!(got, want);
    // No failed login and no DCL is lost (corpus/README.md).
    let failed = |v: &[&Event<'_>]| v.iter().filter(|e| e.kind == EventKind::FailedConnect).count();
    assert_eq!(failed(&complete), failed(&source.iter().collect::<Vec<_>>()));
}

// ---------------------------------------------------------------------------------------------------------
// malformed/

fn cases() -> Value {
    json("malformed/cases.json")
}

/// The item that starts on each line (1-based) of the file.
fn by_line<'a>(all: &'a [Item<'a>]) -> BTreeMap<u64, &'a Item<'a>> {
    all.iter().map(|i| (i.pos().line, i)).collect()
}

fn kind_from_description(d: &str) -> Option<EventKind> {
    if d.contains("FAILED_CONNECT") {
        Some(EventKind::FailedConnect)
    } else if d.contains("CONNECT") {
        Some(EventKind::Connect)
    } else if d.contains("QUERY") {
        Some(EventKind::Query)
    } else {
        None
    }
}

#[test]
fn malformed_audit_garbage_behaves_as_cases_json_says() {
    let case = &cases()["audit-garbage.log"];
    let buf = load("malformed/audit-garbage.log");
    assert!(!buf.ends_with(b"\n"));
    let all = items(&buf, Format::Audit);
    let at = by_line(&all);
    let lines = case["lines"].as_object().unwrap();
    assert_eq!(lines.len() as u64, line_count(&buf));
    assert_eq!(all.len(), lines.len(), "one item per line");
    let nums = |k: &str| -> Vec<u64> { case[k].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect() };
    let valid = nums("valid_records");
    let tolerable = nums("tolerable_records");
    for (n, desc) in lines {
        let n: u64 = n.parse().unwrap();
        let desc = desc.as_str().unwrap();
        let item = at.get(&n).unwrap_or_else(|| panic!("no item starts on line {n}"));
        if valid.contains(&n) {
            let Item::Event(e) = item else { panic!("line {n} ({desc}): {item:?}") };
            assert!(!e.truncated, "line {n}");
            assert_eq!(Some(e.kind), kind_from_description(desc), "line {n} ({desc})");
        } else if tolerable.contains(&n) {
            // Open enum: an unknown operation is kept as `other` with its word.
            let Item::Event(e) = item else { panic!("line {n} ({desc}): {item:?}") };
            assert_eq!(e.kind, EventKind::Other, "line {n}");
            let word = desc.split_whitespace().find(|w| w.chars().all(|c| c.is_ascii_uppercase())).unwrap();
            assert_eq!(st(&e.op), word, "line {n}");
        } else if desc.contains("empty line") {
            assert!(matches!(item, Item::Skipped(s) if s.reason == SkipReason::Blank), "line {n}: {item:?}");
        } else if desc.contains("unterminated") || desc.contains("cut mid-record") {
            // formats.md §1.2.6: an unterminated quote marks the record truncated and keeps the text. Accepted
            // either as a truncated event or as a malformed record; ours is the former (design choice).
            match item {
                Item::Event(e) => {
                    assert!(e.truncated, "line {n}: not flagged truncated");
                    assert_eq!(Some(e.kind), kind_from_description(desc), "line {n}");
                    assert_eq!(e.retcode, None, "line {n}");
                }
                Item::Malformed(_) => {}
                Item::Skipped(_) => panic!("line {n} skipped"),
            }
        } else {
            let Item::Malformed(m) = item else { panic!("line {n} ({desc}) should be malformed: {item:?}") };
            assert_eq!(m.pos.line, n);
            if desc.contains("timestamp") {
                assert_eq!(m.reason, Reason::BadTimestamp, "line {n}");
            }
        }
    }
}

#[test]
fn malformed_audit_binary_bytes_do_not_break_parsing() {
    let case = &cases()["audit-binary.log"];
    let buf = load("malformed/audit-binary.log");
    let all = items(&buf, Format::Audit);
    let at = by_line(&all);
    let valid: Vec<u64> = case["valid_records"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
    for (n, desc) in case["lines"].as_object().unwrap() {
        let n: u64 = n.parse().unwrap();
        let desc = desc.as_str().unwrap();
        assert!(valid.contains(&n));
        let Some(Item::Event(e)) = at.get(&n) else { panic!("line {n} ({desc}): {:?}", at.get(&n)) };
        assert!(!e.truncated, "line {n}");
        assert_eq!(e.retcode, Some(if desc.contains("FAILED") { 1045 } else { 0 }), "line {n}");
        let sql = e.sql.as_ref().map(|s| s.text().into_owned()).unwrap_or_default();
        let needle: &[u8] = if desc.contains("NUL") {
            b"a\0b"
        } else if desc.contains("0xE9") {
            b"Jos\xe9"
        } else if desc.contains("FF FE FD") {
            b"\xff\xfe\xfd"
        } else if desc.contains("C3") {
            b"caf\xc3"
        } else {
            b""
        };
        assert!(needle.is_empty() || sql.windows(needle.len()).any(|w| w == needle), "line {n}: {sql:?}");
        if desc.contains("C3") {
            assert!(sql.ends_with(b"\xc3"), "the cut sequence is kept as is");
        }
    }
    assert_eq!(all.len(), valid.len());
}

#[test]
fn malformed_crlf_files_parse_clean() {
    let c = cases();
    // aurora-crlf.log: the first records of stripe 0 with CRLF line ends, parsing to the same records.
    let buf = load("malformed/aurora-crlf.log");
    assert!(buf.windows(2).filter(|w| w == b"\r\n").count() as u64 == line_count(&buf));
    assert_eq!(c["aurora-crlf.log"]["valid_records"], "all");
    let crlf = events_of(&buf, Format::Audit);
    assert_eq!(crlf.len() as u64, line_count(&buf));
    let stripe0 = aurora_stripes().remove(0).1;
    for (a, b) in crlf.iter().zip(&stripe0) {
        assert_eq!(key(a), key(b));
        assert!(!a.raw.ends_with(b"\r"));
        assert!(!a.truncated);
    }
    // general-crlf.log: CRLF, a raw CR inside SQL, a multi-line query.
    let buf = load("malformed/general-crlf.log");
    let all = items(&buf, Format::General);
    assert!(all.iter().all(|i| !matches!(i, Item::Malformed(_))));
    let evs = events_of(&buf, Format::General);
    assert_eq!(evs.len() as u64, c["general-crlf.log"]["records"].as_u64().unwrap());
    for e in &evs {
        assert!(!e.raw.ends_with(b"\r"), "line {}", e.pos.line);
        assert!(!st(&e.user).ends_with('\r') && !st(&e.db).ends_with('\r'));
    }
    assert_eq!(
        (st(&evs[0].user), st(&evs[0].host), st(&evs[0].db)),
        ("app".into(), "127.0.0.10".into(), "shop".into())
    );
    assert_eq!(sql_text(&evs[1]), "SELECT 1");
    // Record 3: the raw CR inside the SQL is kept; only the line end's CR is dropped.
    assert_eq!(sql_text(&evs[2]), "SELECT 'a\rb' AS raw_cr");
    // Record 4: multi-line; the CR of the inner line end stays in the raw text (written as is).
    let multi = sql_text(&evs[3]);
    assert!(multi.starts_with("SELECT 2,") && multi.ends_with("  3"), "{multi:?}");
    assert_eq!(evs[4].kind, EventKind::Disconnect);
}
