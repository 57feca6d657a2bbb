//! Conformance against other projects' expected parse results ("peers").
//!
//! The peer corpus lives outside the repository (`shared/peers`, see its README and the MANIFEST.md of every
//! folder); it is read at test time from `$AUDITLOG_PEERS`, else `<CARGO_MANIFEST_DIR>/../../shared/peers`.
//! Nothing of it is copied here. When the folder is absent every test prints a message and passes.
//!
//! For every peer file with expected results, our events are matched with the expected ones (by byte offset
//! where the peer records one, else by order) and compared field by field. Every disagreement must be listed
//! in [`DELIBERATE`] with its reason (and in CONFORMANCE.md at the repository root); any other one fails the
//! test. Run with `cargo test -p auditlog-core --test conformance -- --nocapture` to see the tables.
//!
//! Normalisations (representation only, each applied where a peer needs it):
//! - times are compared as instants, at the precision the peer keeps (pt: seconds, beats/datadog:
//!   milliseconds, others: microseconds); naive peer times are read as UTC, as our parser reads them;
//! - numbers are compared numerically with a relative tolerance of 1e-6 (beats stores durations as float
//!   nanoseconds: 153.883481 s becomes 153883488000 ns), `Yes`/`No`/`true`/`false` as booleans;
//! - a trailing `;` of a statement is ignored (beats and datadog keep it, we and the others drop it);
//! - pmm's Go zero time `0001-01-01T00:00:00Z` means "no time";
//! - pt's `pos_in_log` (one byte after the `#` for later events) and beats' `log.offset` (the `# User@Host:`
//!   line) are used only to find the event whose byte range contains them, never compared;
//! - a user written as `priv[user]` (datadog) or `[user]` (pmm, empty priv user) is compared by its bracketed
//!   name; an empty string means "absent";
//! - maatkit joins lines with single spaces and keeps the `[Level] ` prefix; beats keeps `[MY-nnnnnn]
//!   [Subsys] ` in 8.0 messages; the centralized-logging parser keeps the `use db;` / `SET timestamp=N;` lines
//!   in the slow-log statement: those are reproduced from our fields before comparing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use auditlog_core::{read, Dialect, Event, EventKind, Extra, Format, Item, MetricValue, ReadOptions, Timestamp};
use serde_json::Value;

/// Disagreements we keep on purpose: (source, file, field, reason). `file` `*` matches every file of the
/// source. Keep in sync with CONFORMANCE.md.
const DELIBERATE: &[(&str, &str, &str, &str)] = &[
    // --- slow log
    ("pmm-agent slow", "*", "time",
     "an entry without `# Time:` inherits the last `# Time:` (legacy logs write it once per second), else takes `SET timestamp=`; pmm reports Go zero time"),
    ("pmm-agent slow", "*", "host",
     "`@  [1.2.3.8]` / `@  [127.0.0.1]`: with no host name we report the IP; pmm leaves Host empty"),
    ("pmm-agent slow", "*", "m:InnoDB_trx_id",
     "a hex transaction id: we keep the text, pmm's NumberMetrics cannot hold it and reports 0"),
    ("pmm-agent slow", "slow016.log", "malformed",
     "the file starts inside a header: we report the leading fragment as an orphan record, pmm drops it silently"),
    ("pmm-agent slow", "slow017.log", "malformed",
     "the file starts inside a query: we report the leading fragment as an orphan record, pmm drops it silently"),
    ("pmm-agent slow", "slow023.log", "sql",
     "`SET timestamp=N;` then `use `db`;` and nothing else: pmm takes the use as the statement, pt (slow056) and we take it as the database of an entry without statement"),
    ("percona-toolkit slow", "*", "m:insert_id",
     "we keep only `timestamp` from `SET insert_id=N,timestamp=N;`, not insert_id"),
    ("percona-toolkit slow", "slow044.txt@1307", "host",
     "`# User@Host: foo[foo] @ [host]` (one space): pt finds no host, we read `host`"),
    ("beats slow", "mysql-debian-5.7.19.log", "extra_event",
     "a dangling `# Time:` line at the end of the file becomes an event with only a time (no byte is dropped silently); beats drops `# Time:` lines"),
    ("beats slow", "percona-ubuntu-8.0.15.log", "sql",
     "beats glues the following server start header into the query; we skip banner lines"),
    ("datadog", "*", "ip",
     "we keep one client host (the name when there is one, else the IP); datadog reports the bracketed IP separately"),
    // --- general log
    ("percona-toolkit general", "*", "time",
     "a legacy line without a timestamp happened in the second of the last timestamp: we give it that time, pt gives none"),
    ("percona-toolkit general", "*", "db",
     "pt carries the database of Connect/Init DB to later records of the thread (session state); we report only what the record says"),
    ("percona-toolkit general", "genlog004.txt", "op",
     "a Connect line and the `Access denied` Connect line of the same thread are one failed_connect event for us, two for pt"),
    ("percona-toolkit general", "genlog004.txt", "missing_event",
     "a Connect line and the `Access denied` Connect line of the same thread are one failed_connect event for us, two for pt"),
    ("datadog", "sample05-general", "missing_event",
     "`424242 Query\tSELECT ...` has neither a timestamp nor the leading TABs of the legacy layout: not a record start for us"),
    ("datadog", "sample05-general", "malformed",
     "`424242 Query\tSELECT ...` has neither a timestamp nor the leading TABs of the legacy layout: reported as an orphan line"),
    // --- error log
    ("beats error", "error.log", "message",
     "we fold the untimestamped `Version: ...` line into the previous record; beats makes it an event of its own"),
    ("beats error", "error.log", "merged_event",
     "we fold the untimestamped `Version: ...` line into the previous record; beats makes it an event of its own"),
    ("beats error", "mysql-ubuntu-8.0.15.log", "user",
     "beats takes user.name from `Aborted connection ... user: 'sherlock'`; we set user only for failed logins"),
    ("maatkit error", "*", "message",
     "maatkit rewrites messages: drops repeated `InnoDB: ` prefixes of continuation lines, collapses some whitespace, and splits `Version:`, `Status information:` and `Memory status:` lines off; we keep the text as written (lines joined by spaces for the comparison)"),
    ("maatkit error", "*", "missing_event",
     "untimestamped lines (`Version: ...`, `InnoDB: ...`, status dumps) are folded into the previous record; maatkit makes separate events"),
    ("maatkit error", "errlog001.txt", "level",
     "maatkit infers level `error` from the text `InnoDB: Error:`; we report only a bracketed level"),
    ("datadog", "sample03-error", "message",
     "datadog strips the `InnoDB: ` prefix from 5.5 messages; we keep the message as written"),
    ("centralized-logging", "mysql8_error_logs.log", "message",
     "lines with their own timestamp (`231128  9:13:22 server_audit: ...`, `2023-11-28 09:13:22 ...:[DAS][INFO]`) start records of their own for us; the peer folds them into the previous 8.0 record"),
    ("centralized-logging", "mysql8_error_logs.log", "extra_event",
     "lines with their own timestamp (`231128  9:13:22 server_audit: ...`, `2023-11-28 09:13:22 ...:[DAS][INFO]`) start records of their own for us; the peer folds them into the previous 8.0 record"),
];

// ---------------------------------------------------------------------------------------------------------
// Values and comparison

#[derive(Debug, Clone, PartialEq)]
enum Val {
    /// The field is not there / has no value.
    Absent,
    Str(String),
    Num(f64),
    /// Microseconds since the epoch and the precision (µs) the peer keeps.
    Time(i64, i64),
}

impl Val {
    fn show(&self) -> String {
        let s = match self {
            Val::Absent => "<absent>".to_string(),
            Val::Str(s) => format!("{s:?}"),
            Val::Num(n) => format!("{n}"),
            Val::Time(t, _) => Timestamp::from_epoch_micros(*t).to_rfc3339(),
        };
        if s.len() > 160 {
            let mut cut = 160;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}... ({} bytes)", &s[..cut], s.len())
        } else {
            s
        }
    }
}

fn s(v: impl Into<String>) -> Val {
    let v = v.into();
    if v.is_empty() {
        Val::Absent
    } else {
        Val::Str(v)
    }
}

fn bytes_val(b: Option<&[u8]>) -> Val {
    match b {
        Some(b) if !b.is_empty() => Val::Str(String::from_utf8_lossy(b).into_owned()),
        _ => Val::Absent,
    }
}

/// A peer's scalar as a value: numbers numerically, yes/no as booleans.
fn scalar(v: &Value) -> Val {
    match v {
        Value::Null => Val::Absent,
        Value::Bool(b) => Val::Str(b.to_string()),
        Value::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(t) => text_scalar(t),
        Value::Array(a) => a.first().map_or(Val::Absent, scalar),
        Value::Object(_) => Val::Str(v.to_string()),
    }
}

fn text_scalar(t: &str) -> Val {
    match t {
        "" => Val::Absent,
        "Yes" | "YES" | "yes" | "true" => Val::Str("true".into()),
        "No" | "NO" | "no" | "false" => Val::Str("false".into()),
        _ => match t.trim().parse::<f64>() {
            Ok(n)
                if t.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'E' || b == b'e') =>
            {
                Val::Num(n)
            }
            _ => Val::Str(t.to_string()),
        },
    }
}

/// Both texts start alike (the first 24 characters): enough to align events whose texts differ later.
fn prefix_agrees(exp: &Val, ours: &Val) -> bool {
    match (exp, ours) {
        (Val::Str(a), Val::Str(b)) => {
            let n = a.len().min(b.len()).min(24);
            n > 0 && a.as_bytes()[..n] == b.as_bytes()[..n]
        }
        _ => false,
    }
}

fn agree(exp: &Val, ours: &Val) -> bool {
    match (exp, ours) {
        (Val::Absent, Val::Absent) => true,
        (Val::Str(a), Val::Str(b)) => a == b,
        (Val::Num(a), Val::Num(b)) => (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-3),
        (Val::Num(_), Val::Str(b)) => text_scalar(b) != Val::Str(b.clone()) && agree(exp, &text_scalar(b)),
        (Val::Str(a), Val::Num(_)) => agree(&text_scalar(a), ours) && text_scalar(a) != Val::Str(a.clone()),
        (Val::Time(a, p), Val::Time(b, _)) => a.div_euclid(*p) == b.div_euclid(*p),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Peer timestamps

fn num(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// ISO 8601 (`2016-07-20T18:13:25.698433Z`, `...+08:00`, no zone = UTC, space instead of `T`).
fn iso_us(t: &str) -> Option<i64> {
    let b = t.trim().as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let civil = Timestamp::from_civil(
        num(&b[0..4])?,
        num(&b[5..7])? as u32,
        num(&b[8..10])? as u32,
        num(&b[11..13])? as u32,
        num(&b[14..16])? as u32,
        num(&b[17..19])? as u32,
        0,
    )?;
    let mut us = civil.epoch_micros();
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        let digits: Vec<u8> = rest[1..].iter().copied().take_while(u8::is_ascii_digit).collect();
        let mut frac = 0i64;
        for k in 0..6 {
            frac = frac * 10 + digits.get(k).map_or(0, |d| i64::from(d - b'0'));
        }
        us += frac;
        rest = &rest[1 + digits.len()..];
    }
    match rest {
        [] | [b'Z'] => Some(us),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let off = num(&[*h1, *h2])? * 3600 + num(&[*m1, *m2])? * 60;
            Some(us - if *sign == b'-' { -off } else { off } * 1_000_000)
        }
        _ => None,
    }
}

/// Legacy `YYMMDD H:MM:SS` with any spaces between date and time.
fn legacy_us(t: &str) -> Option<i64> {
    let t = t.trim();
    let (d, tm) = t.split_once(' ')?;
    let tm = tm.trim_start();
    let tm = tm.split('.').next()?;
    let parts: Vec<&str> = tm.split(':').collect();
    if d.len() != 6 || parts.len() != 3 {
        return None;
    }
    let y: i64 = d[0..2].parse().ok()?;
    Some(
        Timestamp::from_civil(
            if y < 70 { 2000 + y } else { 1900 + y },
            d[2..4].parse().ok()?,
            d[4..6].parse().ok()?,
            parts[0].parse().ok()?,
            parts[1].parse().ok()?,
            parts[2].parse().ok()?,
            0,
        )?
        .epoch_micros(),
    )
}

fn any_time(t: &str, prec: i64) -> Val {
    match iso_us(t).or_else(|| legacy_us(t)) {
        Some(us) => Val::Time(us, prec),
        None if t.is_empty() => Val::Absent,
        None => Val::Str(format!("unparsable time {t:?}")),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Our side

/// One of our events, reduced to what the comparison needs.
struct Ours {
    start: u64,
    end: u64,
    fields: BTreeMap<String, Val>,
    metrics: Vec<(String, Val)>,
}

impl Ours {
    fn get(&self, field: &str) -> Val {
        if let Some(m) = field.strip_prefix("m:") {
            // `m:A|B`: metric A, else B (peers that merge two servers' names for one quantity).
            if let Some((a, b)) = m.split_once('|') {
                let v = self.get(&format!("m:{a}"));
                return if v == Val::Absent { self.get(&format!("m:{b}")) } else { v };
            }
            return self
                .metrics
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(m))
                .map_or(Val::Absent, |(_, v)| v.clone());
        }
        self.fields.get(field).cloned().unwrap_or(Val::Absent)
    }
}

fn time_val(t: Option<Timestamp>) -> Val {
    t.map_or(Val::Absent, |t| Val::Time(t.epoch_micros(), 1))
}

fn reduce(ev: &Event<'_>, start: u64, end: u64) -> Ours {
    let mut f: BTreeMap<String, Val> = BTreeMap::new();
    let b = |c: &Option<std::borrow::Cow<'_, [u8]>>| bytes_val(c.as_deref());
    f.insert("time".into(), time_val(ev.ts));
    f.insert("kind".into(), s(ev.kind.as_str()));
    f.insert("op".into(), b(&ev.op));
    f.insert("user".into(), b(&ev.user));
    f.insert("host".into(), b(&ev.host));
    f.insert("db".into(), b(&ev.db));
    f.insert("object".into(), b(&ev.object));
    f.insert("message".into(), b(&ev.message));
    f.insert("conn_id".into(), ev.conn_id.map_or(Val::Absent, |n| Val::Num(n as f64)));
    f.insert("query_id".into(), ev.query_id.map_or(Val::Absent, |n| Val::Num(n as f64)));
    f.insert("retcode".into(), ev.retcode.map_or(Val::Absent, |n| Val::Num(n as f64)));
    let sql = ev.sql.as_ref().map(|q| no_semicolon(&String::from_utf8_lossy(&q.text())));
    f.insert("sql".into(), sql.map_or(Val::Absent, s));
    let mut metrics = Vec::new();
    match &ev.extra {
        Extra::Slow { metrics: m, set_timestamp, admin } => {
            let st = set_timestamp.map(|t| Val::Time(t * 1_000_000, 1));
            f.insert("set_timestamp".into(), st.clone().unwrap_or(Val::Absent));
            f.insert("time_or_set".into(), st.unwrap_or_else(|| time_val(ev.ts)));
            f.insert("admin".into(), Val::Str(admin.to_string()));
            for (k, v) in m.iter() {
                let v = match v {
                    MetricValue::Int(n) => Val::Num(n as f64),
                    MetricValue::Float(x) => Val::Num(x),
                    MetricValue::Bool(b) => Val::Str(b.to_string()),
                    MetricValue::Text(t) => {
                        let t = String::from_utf8_lossy(t).into_owned();
                        match iso_us(&t) {
                            Some(us) => Val::Time(us, 1),
                            None => s(t),
                        }
                    }
                };
                metrics.push((String::from_utf8_lossy(k).into_owned(), v));
            }
        }
        Extra::Error { level, code, subsystem, .. } => {
            f.insert("level".into(), b(level));
            f.insert("code".into(), b(code));
            f.insert("subsystem".into(), b(subsystem));
        }
        Extra::Audit { conn_type, .. } => {
            f.insert("conn_type".into(), b(conn_type));
        }
        _ => {}
    }
    if ev.log == auditlog_core::LogType::Audit {
        // The field count our reading implies: RDS for MySQL rows carry a connection type (11 fields) or two
        // empty trailing fields after a QUERY (12); Aurora and MariaDB rows have 10.
        let n = match (ev.dialect, ev.kind) {
            (Dialect::RdsMysql, EventKind::Query) => 12.0,
            (Dialect::RdsMysql, _) => 11.0,
            _ => 10.0,
        };
        f.insert("field_count".into(), Val::Num(n));
    }
    Ours { start, end, fields: f, metrics }
}

/// Parses `data` as `format`: our events (with their byte ranges) and the number of malformed records.
fn parse(data: &[u8], format: Format) -> (Vec<Ours>, usize) {
    let mut items: Vec<(u64, Option<Ours>)> = Vec::new();
    let mut malformed = 0;
    let opts = ReadOptions::default().with_format(Some(format));
    let r = read(data, &opts, |item| {
        match &item {
            Item::Event(ev) => items.push((ev.pos.byte, Some(reduce(ev, ev.pos.byte, 0)))),
            Item::Malformed(m) => {
                malformed += 1;
                items.push((m.pos.byte, None));
            }
            Item::Skipped(sk) => items.push((sk.pos.byte, None)),
        }
        ControlFlow::Continue(())
    });
    assert!(r.is_ok(), "read failed: {r:?}");
    let total = data.len() as u64;
    let mut out = Vec::new();
    let n = items.len();
    let mut starts: Vec<u64> = Vec::new();
    let mut evs: Vec<(usize, Ours)> = Vec::new();
    for (i, (pos, o)) in items.into_iter().enumerate() {
        starts.push(pos);
        if let Some(o) = o {
            evs.push((i, o));
        }
    }
    for (i, mut o) in evs {
        o.end = if i + 1 < n { starts[i + 1] } else { total };
        out.push(o);
    }
    (out, malformed)
}

// ---------------------------------------------------------------------------------------------------------
// Expected side and the comparison

enum Anchor {
    /// A byte offset inside the expected event: matched with our event whose range contains it.
    Offset(u64),
    /// The n-th event of the file.
    Index(usize),
    /// The next event in file order: expected and our events are aligned in order, an expected event taking
    /// the first of our next few events that agrees on its key fields (time, thread, command, text).
    Seq,
}

struct Expected {
    anchor: Anchor,
    fields: Vec<(String, Val)>,
}

impl Expected {
    fn new(anchor: Anchor) -> Self {
        Expected { anchor, fields: Vec::new() }
    }
    fn put(&mut self, field: &str, v: Val) {
        // A trailing `;` is representation: some peers keep it, we drop it (see the module comment).
        let v = match v {
            Val::Str(q) if field == "sql" => s(no_semicolon(&q)),
            v => v,
        };
        self.fields.push((field.to_string(), v));
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    expected: usize,
    produced: usize,
    matched: usize,
    fields: usize,
    agree: usize,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.expected += o.expected;
        self.produced += o.produced;
        self.matched += o.matched;
        self.fields += o.fields;
        self.agree += o.agree;
    }
}

struct Diff {
    source: String,
    file: String,
    field: String,
    detail: String,
}

#[derive(Default)]
struct Report {
    rows: Vec<(String, Tally)>,
    diffs: Vec<Diff>,
    /// (source, file, field) seen disagreeing, to report stale allow-list entries.
    seen: Vec<(String, String, String)>,
}

fn deliberate(source: &str, file: &str, field: &str) -> Option<&'static str> {
    DELIBERATE
        .iter()
        .find(|(s, f, fl, _)| *s == source && (*f == "*" || *f == file) && *fl == field)
        .map(|(_, _, _, r)| *r)
}

impl Report {
    fn tally(&mut self, source: &str) -> &mut Tally {
        if !self.rows.iter().any(|(s, _)| s == source) {
            self.rows.push((source.to_string(), Tally::default()));
        }
        &mut self.rows.iter_mut().find(|(s, _)| s == source).unwrap().1
    }

    fn diff(&mut self, source: &str, file: &str, field: &str, detail: String) {
        self.seen.push((source.into(), file.into(), field.into()));
        self.diffs.push(Diff { source: source.into(), file: file.into(), field: field.into(), detail });
    }

    /// Compares one file's expected events with ours.
    fn compare(&mut self, source: &str, file: &str, exp: &[Expected], ours: &[Ours], malformed: usize) {
        let mut t = Tally { expected: exp.len(), produced: ours.len(), ..Tally::default() };
        let mut used = vec![false; ours.len()];
        let mut cursor = 0usize;
        for (n, e) in exp.iter().enumerate() {
            let found = match e.anchor {
                Anchor::Offset(off) => ours.iter().position(|o| o.start <= off && off < o.end.max(o.start + 1)),
                Anchor::Index(i) => (i < ours.len()).then_some(i),
                Anchor::Seq => {
                    let score = |o: &Ours| {
                        let thread = e.fields.iter().find(|(f, _)| f == "conn_id");
                        if thread.is_some_and(|(f, v)| !agree(v, &o.get(f))) {
                            return 0;
                        }
                        e.fields
                            .iter()
                            .filter(|(f, _)| matches!(f.as_str(), "time" | "conn_id" | "op" | "sql" | "message"))
                            .filter(|(f, v)| agree(v, &o.get(f)) || prefix_agrees(v, &o.get(f)))
                            .count()
                    };
                    let best = (cursor..ours.len().min(cursor + 6))
                        .map(|k| (score(&ours[k]), k))
                        .filter(|(sc, _)| *sc > 0)
                        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
                    if let Some((_, k)) = best {
                        cursor = k + 1;
                    }
                    best.map(|(_, k)| k)
                }
            };
            let Some(k) = found else {
                let at = match e.anchor {
                    Anchor::Offset(o) => format!("offset {o}"),
                    Anchor::Index(i) => format!("#{i}"),
                    Anchor::Seq => format!("#{n} in order"),
                };
                let summary: String = e
                    .fields
                    .iter()
                    .filter(|(f, _)| matches!(f.as_str(), "time" | "sql" | "message"))
                    .map(|(f, v)| format!("{f}={} ", v.show()))
                    .collect();
                self.diff(source, file, "missing_event", format!("expected event {n} at {at}: {summary}"));
                t.fields += e.fields.len();
                continue;
            };
            if used[k] {
                // Two expected events fall into one of ours: the peer split what we keep together.
                self.diff(source, file, "merged_event", format!("expected event {n} falls inside our event {k}"));
                t.fields += e.fields.len();
                continue;
            }
            used[k] = true;
            t.matched += 1;
            for (field, want) in &e.fields {
                let got = ours[k].get(field);
                t.fields += 1;
                if agree(want, &got) {
                    t.agree += 1;
                } else {
                    self.diff(
                        source,
                        file,
                        field,
                        format!("event {n} (our byte {}): expected {} got {}", ours[k].start, want.show(), got.show()),
                    );
                }
            }
        }
        for (k, u) in used.iter().enumerate() {
            if !u {
                self.diff(
                    source,
                    file,
                    "extra_event",
                    format!("our event at byte {} has no expected event", ours[k].start),
                );
            }
        }
        if malformed > 0 {
            self.diff(source, file, "malformed", format!("{malformed} record(s) malformed"));
        }
        *self.tally(source) += t;
    }

    fn finish(self) {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n{:<34} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
            "source", "expected", "produced", "matched", "fields", "agree", "agree%"
        );
        let mut total = Tally::default();
        for (src, t) in &self.rows {
            total += *t;
            let pct = if t.fields == 0 { 100.0 } else { 100.0 * t.agree as f64 / t.fields as f64 };
            let _ = writeln!(
                out,
                "{src:<34} {:>8} {:>8} {:>8} {:>8} {:>8} {pct:>6.1}%",
                t.expected, t.produced, t.matched, t.fields, t.agree
            );
        }
        let pct = if total.fields == 0 { 100.0 } else { 100.0 * total.agree as f64 / total.fields as f64 };
        let _ = writeln!(
            out,
            "conformance: {} of {} fields agree ({pct:.1}%), {} of {} events",
            total.agree, total.fields, total.matched, total.expected
        );
        let mut unexplained = Vec::new();
        let mut explained = 0usize;
        for d in &self.diffs {
            match deliberate(&d.source, &d.file, &d.field) {
                Some(_) => explained += 1,
                None => unexplained.push(d),
            }
        }
        let _ = writeln!(out, "{explained} disagreement(s) listed as deliberate in DELIBERATE / CONFORMANCE.md");
        if std::env::var_os("CONFORMANCE_VERBOSE").is_some() {
            for d in &self.diffs {
                let _ = writeln!(
                    out,
                    "  [{}] {} {} {}: {}",
                    if deliberate(&d.source, &d.file, &d.field).is_some() { "ok" } else { "!!" },
                    d.source,
                    d.file,
                    d.field,
                    d.detail
                );
            }
        }
        for (src, file, field, _) in DELIBERATE {
            let hit = self.seen.iter().any(|(s, f, fl)| s == src && (*file == "*" || f == file) && fl == field);
            if !hit && self.rows.iter().any(|(s, _)| s == src) {
                let _ = writeln!(out, "note: deliberate difference ({src}, {file}, {field}) no longer occurs");
            }
        }
        println!("{out}");
        if !unexplained.is_empty() {
            let mut msg = format!("{} unexplained disagreement(s):\n", unexplained.len());
            for d in unexplained.iter().take(200) {
                let _ = writeln!(msg, "  ({:?}, {:?}, {:?}): {}", d.source, d.file, d.field, d.detail);
            }
            panic!("{msg}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Locating the corpus

fn peers() -> Option<PathBuf> {
    let p = match std::env::var_os("AUDITLOG_PEERS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers"),
    };
    if p.is_dir() {
        Some(p)
    } else {
        println!("skipping: ../shared/peers not found; set AUDITLOG_PEERS (looked at {})", p.display());
        None
    }
}

fn load(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn json(p: &Path) -> Value {
    serde_json::from_slice(&load(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn get<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.get(key).filter(|x| !x.is_null())
}

fn get_str<'v>(v: &'v Value, key: &str) -> &'v str {
    get(v, key).and_then(Value::as_str).unwrap_or("")
}

/// Drops one trailing `;` (and the whitespace around it).
fn no_semicolon(t: &str) -> String {
    let t = t.trim_end();
    t.strip_suffix(';').unwrap_or(t).trim_end().to_string()
}

/// `priv[user]` / `[user]` → `user`.
fn bracketed_user(u: &str) -> String {
    match (u.find('['), u.rfind(']')) {
        (Some(a), Some(b)) if a < b && !u[a + 1..b].is_empty() => u[a + 1..b].to_string(),
        _ => u.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Sources

fn pmm(root: &Path, rep: &mut Report) {
    const SRC: &str = "pmm-agent slow";
    let dir = root.join("pmm-agent/agents/mysql/slowlog/parser/testdata");
    let mut logs: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
    logs.sort();
    assert_eq!(logs.len(), 30, "pmm-agent: expected 30 logs in {}", dir.display());
    for log in logs {
        let file = log.file_name().unwrap().to_string_lossy().into_owned();
        let golden = json(&log.with_extension("json"));
        let mut exp = Vec::new();
        for e in golden.as_array().into_iter().flatten() {
            let mut x = Expected::new(Anchor::Offset(e["Offset"].as_u64().unwrap_or(0)));
            let ts = get_str(e, "Ts");
            // Go's zero time is pmm's "no time".
            x.put("time", if ts.starts_with("0001-01-01") { Val::Absent } else { any_time(ts, 1) });
            let admin = e["Admin"].as_bool().unwrap_or(false);
            x.put("admin", Val::Str(admin.to_string()));
            if admin {
                x.put("op", s(get_str(e, "Query")));
            } else {
                x.put("sql", s(get_str(e, "Query")));
            }
            x.put("user", s(bracketed_user(get_str(e, "User"))));
            x.put("host", s(get_str(e, "Host")));
            x.put("db", s(get_str(e, "Db")));
            for group in ["TimeMetrics", "NumberMetrics", "BoolMetrics"] {
                if let Some(m) = e[group].as_object() {
                    for (k, v) in m {
                        x.put(&format!("m:{k}"), scalar(v));
                    }
                }
            }
            if let Some(rt) = get(e, "RateType").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                x.put("m:Log_slow_rate_type", s(rt));
            }
            if let Some(rl) = e["RateLimit"].as_u64().filter(|r| *r != 0) {
                x.put("m:Log_slow_rate_limit", Val::Num(rl as f64));
            }
            exp.push(x);
        }
        let (ours, bad) = parse(&load(&log), Format::Slow);
        rep.compare(SRC, &file, &exp, &ours, bad);
    }
}

fn pt_slow(root: &Path, rep: &mut Report) {
    const SRC: &str = "percona-toolkit slow";
    let base = root.join("percona-toolkit");
    let cases = json(&base.join("_extracted/SlowLogParser.t.expected.json"));
    for case in cases["cases"].as_array().into_iter().flatten() {
        let input = get_str(case, "input");
        let Some(events) = case["expected_events"].as_array() else { continue };
        let file = format!("{}@{}", input.rsplit('/').next().unwrap_or(input), case["test_file_line"]);
        let mut exp = Vec::new();
        for e in events {
            let pos = scalar(&e["pos_in_log"]);
            let Val::Num(pos) = pos else { panic!("pt pos_in_log {pos:?}") };
            // pt's pos_in_log is 0 for the first event even after a server header, one byte after the `#`
            // for later ones, and the file end for some: align in order instead.
            let _ = pos;
            let mut x = Expected::new(Anchor::Seq);
            let obj = e.as_object().unwrap();
            for (k, v) in obj {
                let vs = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                match k.as_str() {
                    // pt drops the fraction and zone of `# Time:`: compare to the second.
                    "ts" => x.put("time", any_time(&vs, 1_000_000)),
                    "timestamp" => x.put("set_timestamp", Val::Time(vs.parse::<i64>().unwrap_or(0) * 1_000_000, 1)),
                    "user" => x.put("user", s(bracketed_user(&vs))),
                    "host" | "ip" => {}
                    "db" | "Schema" => {}
                    "arg" => match vs.strip_prefix("administrator command: ") {
                        Some(cmd) => x.put("op", s(cmd)),
                        // pt's placeholder for an entry without a statement.
                        None if vs == "/* No query */" => x.put("sql", Val::Absent),
                        None => x.put("sql", s(vs)),
                    },
                    "cmd" => x.put("admin", Val::Str((vs == "Admin").to_string())),
                    // Derived from arg / the offset quirk: not compared (see the module comment).
                    "bytes" | "pos_in_log" => {}
                    // Embedded attributes exist only with pt's `misc` parser option (slow010).
                    "file" | "line" | "url" if case.get("parser_options").is_some() => {}
                    // pt names the `Id:` of `# User@Host:` and the `# Thread_id:` metric alike: our conn_id.
                    "Thread_id" => x.put("conn_id", scalar(v)),
                    _ => x.put(&format!("m:{k}"), scalar(v)),
                }
            }
            // Our host is the name when there is one, else the IP; our db is `use db;` else `Schema:`.
            let host = [get_str(e, "host"), get_str(e, "ip")].into_iter().find(|h| !h.is_empty()).unwrap_or("");
            x.put("host", s(host));
            let db = [get_str(e, "db"), get_str(e, "Schema")].into_iter().find(|h| !h.is_empty()).unwrap_or("");
            x.put("db", s(db));
            exp.push(x);
        }
        let (ours, bad) = parse(&load(&base.join(input)), Format::Slow);
        rep.compare(SRC, &file, &exp, &ours, bad);
    }
}

fn pt_general(root: &Path, rep: &mut Report) {
    const SRC: &str = "percona-toolkit general";
    let base = root.join("percona-toolkit");
    let cases = json(&base.join("_extracted/GeneralLogParser.t.expected.json"));
    for case in cases["cases"].as_array().into_iter().flatten() {
        let input = get_str(case, "input");
        let Some(events) = case["expected_events"].as_array() else { continue };
        let file = input.rsplit('/').next().unwrap_or(input).to_string();
        let mut exp = Vec::new();
        for e in events {
            // pt's general-log pos_in_log lags one record behind from the second record on: align in order.
            let mut x = Expected::new(Anchor::Seq);
            let ts = get_str(e, "ts");
            x.put("time", if ts.is_empty() { Val::Absent } else { any_time(ts, 1) });
            x.put("conn_id", scalar(&e["Thread_id"]));
            let arg = get_str(e, "arg");
            match arg.strip_prefix("administrator command: ") {
                Some(cmd) => x.put("op", s(cmd)),
                None => x.put("sql", s(arg)),
            }
            for k in ["user", "host", "db"] {
                if e.get(k).is_some() {
                    x.put(k, s(get_str(e, k)));
                }
            }
            exp.push(x);
        }
        let (ours, bad) = parse(&load(&base.join(input)), Format::General);
        rep.compare(SRC, &file, &exp, &ours, bad);
    }
}

/// beats `mysql.slowlog.X` names that are not our metric name lower-cased.
fn beats_metric(x: &str) -> String {
    let x = x.strip_suffix(".sec").unwrap_or(x);
    match x {
        "query_cache_hit" => "QC_hit".into(),
        "innodb.trx_id" => "InnoDB_trx_id".into(),
        _ => x.replace("innodb.", "InnoDB_"),
    }
}

fn beats_slow(root: &Path, rep: &mut Report) {
    const SRC: &str = "beats slow";
    let dir = root.join("beats/filebeat/module/mysql/slowlog/test");
    for log in sorted_logs(&dir) {
        let file = log.file_name().unwrap().to_string_lossy().into_owned();
        let expected = json(&dir.join(format!("{file}-expected.json")));
        let data = load(&log);
        let (ours, bad) = parse(&data, Format::Slow);
        let mut exp = Vec::new();
        for e in expected.as_array().into_iter().flatten() {
            let mut x = Expected::new(Anchor::Offset(e["log.offset"].as_u64().unwrap_or(0)));
            for (k, v) in e.as_object().unwrap() {
                let vs = v.as_str().unwrap_or("");
                match k.as_str() {
                    // beats takes @timestamp from `SET timestamp=` when there is one, else `# Time:`.
                    "@timestamp" => x.put("time_or_set", any_time(vs, 1000)),
                    "event.duration" => x.put("m:Query_time", Val::Num(v.as_f64().unwrap_or(0.0) / 1e9)),
                    "event.start" => x.put("m:Start", any_time(vs, 1)),
                    "event.end" => x.put("m:End", any_time(vs, 1)),
                    "user.name" => x.put("user", s(vs)),
                    "mysql.thread_id" => x.put("conn_id", scalar(v)),
                    "mysql.slowlog.query" => x.put("sql", s(no_semicolon(vs))),
                    "mysql.slowlog.schema" => x.put("db", s(vs)),
                    "mysql.slowlog.current_user" => {}
                    k if k.starts_with("mysql.slowlog.") => {
                        let m = beats_metric(&k["mysql.slowlog.".len()..]);
                        // 8.0 log_slow_extra names: Errno, Created_tmp_tables, Created_tmp_disk_tables.
                        let m =
                            if m == "last_errno" { "Last_errno|Errno".to_string() } else { format!("{m}|Created_{m}") };
                        x.put(&format!("m:{m}"), scalar(v));
                    }
                    _ => {}
                }
            }
            let host = [get_str(e, "source.domain"), get_str(e, "source.ip")]
                .into_iter()
                .find(|h| !h.is_empty())
                .unwrap_or("");
            x.put("host", s(host));
            exp.push(x);
        }
        rep.compare(SRC, &file, &exp, &ours, bad);
    }
}

fn sorted_logs(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
    logs.sort();
    logs
}

fn beats_error(root: &Path, rep: &mut Report) {
    const SRC: &str = "beats error";
    let dir = root.join("beats/filebeat/module/mysql/error/test");
    for log in sorted_logs(&dir) {
        let file = log.file_name().unwrap().to_string_lossy().into_owned();
        let expected = json(&dir.join(format!("{file}-expected.json")));
        let data = load(&log);
        let (ours, bad) = parse(&data, Format::Error);
        let mut exp = Vec::new();
        for e in expected.as_array().into_iter().flatten() {
            let off = e["log.offset"].as_u64().unwrap_or(0);
            let mut x = Expected::new(Anchor::Offset(off));
            // The beats test pins the reader's zone (`event.timezone`, e.g. -02:00) and reads naive times
            // (no `Z`/offset in the line) in it; we read them as UTC. Compare the wall-clock time.
            let mut t = any_time(get_str(e, "@timestamp"), 1000);
            let naive = data.get(off as usize..).is_some_and(|l| l.get(10) != Some(&b'T'));
            if let (Val::Time(us, p), Some(tz), true) =
                (&t, iso_us(&format!("1970-01-01T00:00:00{}", get_str(e, "event.timezone"))), naive)
            {
                t = Val::Time(us - tz, *p);
            }
            x.put("time", t);
            if let Some(l) = get(e, "log.level") {
                x.put("level", scalar(l));
            }
            x.put("code", s(get_str(e, "event.code")));
            x.put("subsystem", s(get_str(e, "event.provider")));
            if let Some(t) = get(e, "mysql.thread_id").or_else(|| get(e, "process.thread.id")) {
                x.put("conn_id", scalar(t));
            }
            // beats keeps `[MY-nnnnnn] [Subsys] ` at the start of 8.0 messages: compare without it.
            let mut msg = get_str(e, "message").to_string();
            let code = get_str(e, "event.code");
            let prov = get_str(e, "event.provider");
            if let Some(m) = msg.strip_prefix(&format!("[{code}] [{prov}] ")) {
                msg = m.to_string();
            }
            x.put("message", s(msg.trim_end()));
            if let Some(u) = get(e, "user.name") {
                x.put("user", scalar(u));
            }
            exp.push(x);
        }
        rep.compare(SRC, &file, &exp, &ours, bad);
    }
}

fn maatkit(root: &Path, rep: &mut Report) {
    const SRC: &str = "maatkit error";
    let base = root.join("maatkit");
    let cases = json(&base.join("_extracted/ErrorLogParser.t.expected.json"));
    for case in cases["cases"].as_array().into_iter().flatten() {
        let input = get_str(case, "input");
        let Some(events) = case["expected_events"].as_array() else { continue };
        let file = input.rsplit('/').next().unwrap_or(input).to_string();
        let (mut ours, bad) = parse(&load(&base.join(input)), Format::Error);
        // maatkit joins continuation lines with single spaces and keeps the `[Level] ` prefix in `arg`; it
        // names levels error/warning/info/unknown. Bring our message and level to that form.
        for o in &mut ours {
            let lvl = match o.get("level") {
                Val::Str(l) => l,
                _ => String::new(),
            };
            if let Val::Str(m) = o.get("message") {
                let joined = m.split('\n').map(str::trim_end).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
                let full = if lvl.is_empty() { joined } else { format!("[{lvl}] {joined}") };
                o.fields.insert("message".into(), s(full));
            }
            let mk = match lvl.as_str() {
                "ERROR" | "Error" => "error",
                "Warning" => "warning",
                "Note" | "Info" | "Information" | "Notice" | "System" => "info",
                _ => "unknown",
            };
            o.fields.insert("level".into(), s(mk));
        }
        let mut exp = Vec::new();
        for e in events {
            // maatkit's pos_in_log points at the line end before the event, and two events of one read share
            // one offset: align in order instead.
            let mut x = Expected::new(Anchor::Seq);
            let ts = get_str(e, "ts");
            x.put("time", if ts.is_empty() { Val::Absent } else { any_time(ts, 1_000_000) });
            x.put("level", s(get_str(e, "Level")));
            x.put("message", s(get_str(e, "arg").trim_end()));
            exp.push(x);
        }
        rep.compare(SRC, &file, &exp, &ours, bad);
    }
}

fn centralized(root: &Path, rep: &mut Report) {
    const SRC: &str = "centralized-logging";
    let dir = root.join("centralized-logging-with-opensearch/_extracted/microbatch-test");
    let cases = json(&dir.join("test_connector.expected.json"));
    for case in cases["cases"].as_array().into_iter().flatten() {
        let input = get_str(case, "input_file");
        let class = get_str(case, "log_format_class");
        let format = match class {
            c if c.contains("Audit") => Format::Audit,
            c if c.contains("Slow") => Format::Slow,
            c if c.contains("Error") => Format::Error,
            _ => Format::General,
        };
        let mut exp = Vec::new();
        for (i, r) in case["expected_records"].as_array().into_iter().flatten().enumerate() {
            let _ = i;
            let mut x = Expected::new(Anchor::Seq);
            x.put("time", any_time(get_str(r, "timestamp"), 1));
            match format {
                Format::Audit => {
                    x.put("user", s(get_str(r, "username")));
                    x.put("host", s(get_str(r, "host")));
                    x.put("conn_id", scalar(&r["connection_id"]));
                    x.put("query_id", scalar(&r["query_id"]));
                    x.put("op", s(get_str(r, "operation")));
                    x.put("db", s(get_str(r, "database")));
                    let field = if get_str(r, "operation") == "QUERY" { "sql" } else { "object" };
                    x.put(field, s(get_str(r, "object")));
                    x.put("retcode", scalar(&r["return_code"]));
                }
                Format::Slow => {
                    x.put("user", s(get_str(r, "username")));
                    x.put("host", s(get_str(r, "host")));
                    x.put("conn_id", scalar(&r["query_id"]));
                    x.put("m:Query_time", scalar(&r["query_time"]));
                    x.put("m:Lock_time", scalar(&r["lock_time"]));
                    x.put("m:Rows_sent", scalar(&r["rows_sent"]));
                    x.put("m:Rows_examined", scalar(&r["rows_examined"]));
                    // The peer keeps `use db;` and `SET timestamp=N;` in the statement: split them off.
                    let mut q = get_str(r, "object");
                    let mut db = "";
                    loop {
                        let (line, rest) = q.split_once('\n').unwrap_or((q, ""));
                        if let Some(d) = line.strip_prefix("use ").and_then(|l| l.strip_suffix(';')) {
                            db = d;
                        } else if line.starts_with("SET timestamp=") && line.ends_with(';') {
                            let t = line["SET timestamp=".len()..line.len() - 1].parse::<i64>().unwrap_or(0);
                            x.put("set_timestamp", Val::Time(t * 1_000_000, 1));
                        } else {
                            break;
                        }
                        q = rest;
                    }
                    x.put("db", s(db));
                    x.put("sql", s(q));
                }
                Format::Error => {
                    x.put("conn_id", scalar(&r["connection_id"]));
                    x.put("level", s(get_str(r, "priority")));
                    x.put("code", s(get_str(r, "return_code")));
                    let sub = get_str(r, "subsystem");
                    x.put("subsystem", s(if sub == "-" { "" } else { sub }));
                    x.put("message", s(get_str(r, "object")));
                }
                Format::General => {
                    x.put("conn_id", scalar(&r["connection_id"]));
                    x.put("op", s(get_str(r, "operation")));
                    x.put("sql", s(get_str(r, "object")));
                }
            }
            exp.push(x);
        }
        let mut inputs = vec![input.to_string()];
        // The tested Aurora input lost its `\'` escapes (see the MANIFEST); the source text keeps them.
        let alt = input.replace(".log", ".source-text.log");
        if dir.join(&alt).is_file() {
            inputs.push(alt);
        }
        for inp in inputs {
            let (ours, bad) = parse(&load(&dir.join(&inp)), format);
            rep.compare(SRC, &inp, &exp, &ours, bad);
        }
    }
}

// A tiny reader for the subset of YAML that datadog's mysql_tests.yaml uses: nested maps, `- ` lists,
// double-quoted scalars with escapes and `|` block scalars. Flattens `result` into dotted keys.
struct YamlCase {
    sample: String,
    result: BTreeMap<String, String>,
}

fn yaml_unquote(v: &str) -> String {
    let v = v.trim();
    let Some(inner) = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) else { return v.to_string() };
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

fn datadog_cases(text: &str) -> Vec<YamlCase> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut cases: Vec<YamlCase> = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        i += 1;
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t == "-" && indent(l) == 1 {
            cases.push(YamlCase { sample: String::new(), result: BTreeMap::new() });
            path.clear();
            continue;
        }
        if t.starts_with("- ") {
            continue; // list items (tags)
        }
        let Some((k, v)) = t.split_once(':') else { continue };
        let ind = indent(l);
        while path.last().is_some_and(|(d, _)| *d >= ind) {
            path.pop();
        }
        let v = v.trim();
        let value = if v == "|" {
            let mut block = String::new();
            let bi = lines.get(i).map_or(0, |n| indent(n));
            while i < lines.len() && (lines[i].trim().is_empty() || indent(lines[i]) >= bi) && indent(lines[i]) > ind {
                block.push_str(&lines[i][bi.min(lines[i].len())..]);
                block.push('\n');
                i += 1;
            }
            Some(block)
        } else if v.is_empty() {
            None
        } else {
            Some(yaml_unquote(v))
        };
        match value {
            None => path.push((ind, k.to_string())),
            Some(val) => {
                let Some(case) = cases.last_mut() else { continue };
                let mut key: Vec<&str> = path.iter().map(|(_, p)| p.as_str()).collect();
                key.push(k);
                let key = key.join(".");
                if key == "sample" {
                    case.sample = val;
                } else if let Some(r) = key.strip_prefix("result.") {
                    case.result.insert(r.to_string(), val);
                }
            }
        }
    }
    cases
}

fn datadog(root: &Path, rep: &mut Report) {
    const SRC: &str = "datadog";
    let path = root.join("datadog-integrations-core/mysql/assets/logs/mysql_tests.yaml");
    let text = String::from_utf8(load(&path)).unwrap();
    let cases = datadog_cases(&text);
    assert_eq!(cases.len(), 13, "datadog: 13 samples expected");
    for (n, c) in cases.iter().enumerate() {
        let r = &c.result;
        let format = if c.sample.starts_with('#') {
            Format::Slow
        } else if r.contains_key("custom.db.operation") {
            Format::General
        } else {
            Format::Error
        };
        let file = format!("sample{:02}-{}", n + 1, format);
        let mut x = Expected::new(Anchor::Index(0));
        let ms = |k: &str| r.get(k).and_then(|v| v.parse::<f64>().ok());
        for (k, v) in r {
            match k.as_str() {
                "custom.db.date" => {
                    let t = Val::Time((ms(k).unwrap_or(0.0) * 1000.0).round() as i64, 1000);
                    // Slow entries take the date from `SET timestamp=`.
                    x.put(if format == Format::Slow { "time_or_set" } else { "time" }, t);
                }
                "custom.db.operation" if format == Format::General => x.put("op", s(v.as_str())),
                // The SQL verb datadog derives from the statement: not a parse field.
                "custom.db.operation" => {}
                "custom.db.statement" => x.put("sql", s(no_semicolon(v))),
                "custom.db.user" => x.put("user", s(bracketed_user(v))),
                "custom.db.host" => x.put("host", s(v.as_str())),
                "custom.db.instance" => x.put("db", s(v.as_str())),
                "custom.db.severity" => x.put("level", s(v.as_str())),
                "custom.message" => x.put("message", s(v.as_str())),
                "custom.thread_id" => x.put("conn_id", text_scalar(v)),
                "custom.mysql.query.id" => x.put("conn_id", text_scalar(v)),
                "custom.mysql.query.timestamp" => {
                    x.put("set_timestamp", Val::Time((ms(k).unwrap_or(0.0) * 1e6).round() as i64, 1));
                }
                "custom.duration" => x.put("m:Query_time", Val::Num(ms(k).unwrap_or(0.0) / 1e9)),
                "custom.network.bytes_read" => x.put("m:Bytes_received", text_scalar(v)),
                "custom.network.bytes_written" => x.put("m:Bytes_sent", text_scalar(v)),
                "custom.network.client.ip" => x.put("ip", s(v.as_str())),
                k if k.starts_with("custom.") && !k["custom.".len()..].contains('.') => {
                    x.put(&format!("m:{}", &k["custom.".len()..]), text_scalar(v));
                }
                _ => {}
            }
        }
        let (mut ours, bad) = parse(c.sample.as_bytes(), format);
        // Datadog reports the client IP separately; we keep one host (the name when there is one), so our
        // `ip` is the host when it looks like an address.
        for o in &mut ours {
            let h = o.get("host");
            if let Val::Str(h) = &h {
                if h.parse::<std::net::IpAddr>().is_ok() {
                    o.fields.insert("ip".into(), Val::Str(h.clone()));
                }
            }
        }
        rep.compare(SRC, &file, &[x], &ours, bad);
    }
}

/// Audit records of the mysqltest `.result` files: masked placeholders replaced, then checked against our
/// own reading of the record text (the records are the plugin's byte-exact output).
fn audit_results(root: &Path, rep: &mut Report) {
    let files = [
        ("mariadb-server audit", "mariadb-server/mysql-test/suite/plugins/r/server_audit.result"),
        ("mariadb-server audit", "mariadb-server/mysql-test/suite/plugins/r/server_audit_port.result"),
        ("mariadb-server audit", "mariadb-server/mysql-test/suite/plugins/r/server_audit_timestamp.result"),
        ("mariadb-server audit", "mariadb-server/mysql-test/suite/plugins/r/server_audit_query_id.result"),
        ("mariadb-server audit", "mariadb-server/mysql-test/suite/plugins/r/MDEV-37434-server_audit_query_id.result"),
        ("aws-audit-plugin", "aws-audit-plugin-for-mysql/mysql-test/suite/server_audit/r/server_audit.result"),
    ];
    const PREFIXES: &[&str] =
        &["TIME,", "TIMESTAMP,", "CUSTOM-DATE TIMESTAMP,", "CUSTOM-TZ TIMESTAMP,", "CMD-LINE-TIMESTAMP,"];
    for (src, rel) in files {
        let text = String::from_utf8_lossy(&load(&root.join(rel))).into_owned();
        let file = rel.rsplit('/').next().unwrap().to_string();
        let mut log = String::new();
        let mut exp = Vec::new();
        for (n, line) in text.lines().filter(|l| PREFIXES.iter().any(|p| l.starts_with(p))).enumerate() {
            let (rebuilt, x) = reference_audit(line, n);
            log.push_str(&rebuilt);
            log.push('\n');
            exp.push(x);
        }
        let (ours, bad) = parse(log.as_bytes(), Format::Audit);
        rep.compare(src, &file, &exp, &ours, bad);
    }
}

/// Unescapes the plugin's `\x` escapes (reference implementation for the test).
fn ref_unescape(q: &str) -> String {
    let mut out = String::new();
    let mut it = q.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\'') => out.push('\''),
            Some('\\') => out.push('\\'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Tokenises one masked record independently of the parser, substitutes real-looking values for the
/// placeholders and returns the rebuilt line with what our parser must read from it.
fn reference_audit(line: &str, n: usize) -> (String, Expected) {
    let (_, rest) = line.split_once(',').unwrap();
    let mut f: Vec<String> = Vec::new();
    let mut r = rest;
    for _ in 0..6 {
        let (a, b) = r.split_once(',').unwrap_or((r, ""));
        f.push(a.to_string());
        r = b;
    }
    // f = serverhost, user, host, conn, qid, op; then db, object, retcode, trailing...
    let (db, r2) = r.split_once(',').unwrap_or((r, ""));
    let (object, quoted, after) = if let Some(body) = r2.strip_prefix('\'') {
        let bytes = body.as_bytes();
        let mut k = 0;
        let mut end = None;
        while k < bytes.len() {
            match bytes[k] {
                b'\\' => k += 2,
                b'\'' => {
                    end = Some(k);
                    break;
                }
                _ => k += 1,
            }
        }
        let e = end.unwrap_or(body.len());
        (body[..e].to_string(), true, body.get(e + 1..).unwrap_or("").strip_prefix(',').unwrap_or(""))
    } else {
        let (o, a) = r2.split_once(',').unwrap_or((r2, ""));
        (o.to_string(), false, a)
    };
    let tail: Vec<&str> = after.split(',').collect();
    let sub = |v: &str, real: &str| {
        if v == "ID" || v == "CONNECTION_ID" || v == "QUERY_ID" {
            real.to_string()
        } else {
            v.to_string()
        }
    };
    let server = if f[0] == "HOSTNAME" { "ip-10-0-0-1".to_string() } else { f[0].clone() };
    let conn = sub(&f[3], &format!("{}", 10 + n % 7));
    let qid = sub(&f[4], &format!("{}", 1000 + n));
    let retcode = sub(tail[0], "0");
    let obj_text = if quoted { format!("'{object}'") } else { object.clone() };
    let mut rebuilt = format!(
        "20240615 10:32:{:02},{server},{},{},{conn},{qid},{},{db},{obj_text},{retcode}",
        n % 60,
        f[1],
        f[2],
        f[5]
    );
    for t in &tail[1..] {
        rebuilt.push(',');
        rebuilt.push_str(t);
    }
    let mut x = Expected::new(Anchor::Index(n));
    x.put("op", s(f[5].as_str()));
    x.put("user", s(f[1].as_str()));
    x.put("conn_id", text_scalar(&conn));
    x.put("query_id", text_scalar(&qid));
    x.put("db", s(db));
    if quoted {
        x.put("sql", s(ref_unescape(&object)));
    } else {
        x.put("object", s(object.as_str()));
    }
    x.put("retcode", text_scalar(&retcode));
    x.put("field_count", Val::Num((10 + tail.len() - 1) as f64));
    if tail.len() == 2 {
        x.put("conn_type", s(tail[1]));
    }
    (rebuilt, x)
}

#[test]
fn conformance_with_peers() {
    let Some(root) = peers() else { return };
    let mut rep = Report::default();
    pmm(&root, &mut rep);
    pt_slow(&root, &mut rep);
    pt_general(&root, &mut rep);
    beats_slow(&root, &mut rep);
    beats_error(&root, &mut rep);
    maatkit(&root, &mut rep);
    centralized(&root, &mut rep);
    datadog(&root, &mut rep);
    audit_results(&root, &mut rep);
    rep.finish();
}
