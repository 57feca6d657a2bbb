//! Query digest: statements grouped by fingerprint the way `pt-query-digest` groups them, with per-class time,
//! lock, row counts, first and last seen, users, hosts and one (redacted) example.
//!
//! [`fingerprint`] follows pt-query-digest's documented abstraction, re-implemented on bytes: comments
//! removed (but `/*!...*/` version comments kept), quoted strings, numbers (also inside identifiers, as
//! `t1` -> `t?`), `NULL`, `TRUE` and `FALSE` replaced by `?`, `IN (...)` and `VALUES (...), (...)` lists
//! collapsed to `in(?+)` / `values(?+)` (what follows the value lists is dropped), `LIMIT ?, ?` and `LIMIT ? OFFSET ?` to `limit ?`, `ASC` dropped
//! from `ORDER BY`, `USE db` to `use ?`, `CALL p(...)` to `call p`, identical `UNION` branches folded, case
//! folded and whitespace collapsed.
//!
//! The engine is the parallel one of [`crate::analyze`]: the result is the same with any number of threads.
//! Memory grows with the number of classes; each class keeps its query times (for an exact 95th percentile)
//! and at most [`MAX_NAMES`] distinct users and hosts.
//!
//! ```
//! use auditlog_core::digest::{fingerprint, Digest, DigestOptions};
//! assert_eq!(fingerprint(b"SELECT * FROM t WHERE id IN (1, 2, 3) AND name = 'x'"), "select * from t where id in(?+) and name = ?");
//! let log = b"# Time: 2024-06-15T10:00:00.000000Z
//! ## User@Host: app[app] @  [10.0.0.5]  Id: 7
//! ## Query_time: 0.5  Lock_time: 0.1 Rows_sent: 1  Rows_examined: 100
//! SET timestamp=1718445600;
//! SELECT * FROM orders WHERE id = 42;
//! ## Time: 2024-06-15T10:00:01.000000Z
//! ## User@Host: app[app] @  [10.0.0.6]  Id: 8
//! ## Query_time: 1.5  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 100
//! SET timestamp=1718445601;
//! select * from orders  where id = 7;
//! ";
//! let mut d = Digest::new(DigestOptions::default())?;
//! d.add_reader("slow.log", &log[..])?;
//! let report = d.finish();
//! let c = &report.classes[0];
//! assert_eq!((c.fingerprint.as_str(), c.count), ("select * from orders where id = ?", 2));
//! assert_eq!((c.query_time.total, c.query_time.max), (2.0, 1.5));
//! assert_eq!(c.hosts, ["10.0.0.5", "10.0.0.6"]);
//! # Ok::<(), auditlog_core::Error>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::ops::ControlFlow;
use std::sync::Arc;

use crate::analyze::{either, prefix8, Fold, InputSummary};
use crate::error::Error;
use crate::event::{Event, EventKind, Extra, LogType, MetricValue};
use crate::format::common::parse_u64;
use crate::format::Format;
use crate::format::Item;
use crate::read::{ReadOptions, ReadSummary};
use crate::source::Input;
use crate::time::Timestamp;

/// Distinct users and hosts kept per class: the first in byte order; `users_more` / `hosts_more` say whether
/// there were more.
pub const MAX_NAMES: usize = 64;

/// What the first pass copies for a byte it copies whatever surrounds it (the byte lowercased), or 0 for the
/// others: whitespace, quotes, digits and signs, bytes that may start a comment (`/*`, `--`, `#`), a number
/// (`.5`, `+1`) or a bit or hex literal (`b1`, `x1`), and NUL, which the general path copies the same way.
fn plain_lower(b: u8) -> u8 {
    // A table that classifies and lowercases in one load. Built at compile time, where an index out of bounds is
    // a compile error.
    #[allow(clippy::indexing_slicing)]
    static PLAIN: [u8; 256] = {
        let mut t = [0; 256];
        let mut c = 0;
        while c < 256 {
            let b = c as u8;
            let special = b.is_ascii_whitespace()
                || matches!(b, b'/' | b'-' | b'#' | b'\'' | b'"' | b'+' | b'.' | b'b' | b'x' | b'0'..=b'9');
            t[c] = if special { 0 } else { b.to_ascii_lowercase() };
            c += 1;
        }
        t
    };
    PLAIN.get(usize::from(b)).copied().unwrap_or(0)
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The fingerprint of a statement: literals to `?`, lists collapsed, comments and whitespace normalized, case
/// folded (see the module documentation).
///
/// ```
/// use auditlog_core::digest::fingerprint;
/// assert_eq!(fingerprint(b"INSERT INTO t (a,b) VALUES (1,'x'), (2,'y')"), "insert into t (a,b) values(?+)");
/// assert_eq!(fingerprint(b"/* app */ SELECT a FROM t1 ORDER BY a ASC LIMIT 10, 20"), "select a from t? order by a limit ?");
/// assert_eq!(fingerprint(b"USE `shop`"), "use ?");
/// ```
#[must_use]
pub fn fingerprint(sql: &[u8]) -> String {
    let mut out = Vec::new();
    match first_pass(sql, &mut out) {
        Pass::Final => String::from_utf8_lossy(&out).into_owned(),
        Pass::First => rewrite(&out),
    }
}

/// What [`first_pass`] left in its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// The first pass: the fingerprint is [`rewrite`] of it, which depends on nothing else, so equal first
    /// passes give equal fingerprints (the digest memoizes on them).
    First,
    /// The fingerprint itself, UTF-8 (`use ?`, `call name`).
    Final,
}

/// The first pass of [`fingerprint`], into `out` (cleared first): comments out, strings and numbers to `?`,
/// whitespace collapsed, case folded; or the whole fingerprint when it is already known (see [`Pass`]).
fn first_pass(sql: &[u8], out: &mut Vec<u8>) -> Pass {
    first_pass_with::<true>(sql, out)
}

/// [`first_pass`]; `LOOP`: with the tight copy loop, which must give what the general path alone gives (a test
/// compares both).
fn first_pass_with<const LOOP: bool>(sql: &[u8], out: &mut Vec<u8>) -> Pass {
    out.clear();
    let mut sql = sql.trim_ascii();
    while let Some(s) = sql.strip_suffix(b";") {
        sql = s.trim_ascii_end();
    }
    if sql.len() >= 4 && sql.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"use ")) {
        out.extend_from_slice(b"use ?");
        return Pass::Final;
    }
    if sql.len() >= 5 && sql.get(..5).is_some_and(|p| p.eq_ignore_ascii_case(b"call ")) {
        let rest = sql.get(5..).unwrap_or_default().trim_ascii_start();
        let name = rest.get(..rest.iter().position(|b| *b == b'(' || b.is_ascii_whitespace()).unwrap_or(rest.len()));
        let name = name.unwrap_or_default();
        out.extend_from_slice(b"call ");
        if name.is_ascii() {
            out.extend(name.iter().map(u8::to_ascii_lowercase));
        } else {
            out.extend_from_slice(String::from_utf8_lossy(name).to_lowercase().as_bytes());
        }
        return Pass::Final;
    }
    // Written through a local vector, whose length the compiler keeps in a register (through the reference it
    // stored it back after every byte).
    let mut o = std::mem::take(out);
    o.reserve(sql.len());
    let mut i = 0;
    let at = |k: usize| sql.get(k).copied();
    let mut space = false;
    while let Some(b) = at(i) {
        match b {
            b'/' if at(i + 1) == Some(b'*') && at(i + 2) != Some(b'!') => {
                i = memchr::memmem::find(sql.get(i + 2..).unwrap_or_default(), b"*/")
                    .map_or(sql.len(), |e| i + 2 + e + 2);
                continue;
            }
            b'-' if at(i + 1) == Some(b'-') && at(i + 2).is_none_or(|c| c.is_ascii_whitespace()) => {
                i = memchr::memchr(b'\n', sql.get(i..).unwrap_or_default()).map_or(sql.len(), |e| i + e);
                continue;
            }
            b'#' => {
                i = memchr::memchr(b'\n', sql.get(i..).unwrap_or_default()).map_or(sql.len(), |e| i + e);
                continue;
            }
            _ => {}
        }
        if b.is_ascii_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        if space {
            if !o.is_empty() {
                o.push(b' ');
            }
            space = false;
        }
        match b {
            b'\'' | b'"' => {
                i += 1;
                while let Some(c) = at(i) {
                    i += 1;
                    if c == b'\\' {
                        i += 1;
                    } else if c == b {
                        break;
                    }
                }
                o.push(b'?');
            }
            b'0'..=b'9' => i = number(sql, i, &mut o),
            b'-' | b'+' | b'.'
                if at(i + 1).is_some_and(|c| c.is_ascii_digit()) && !o.last().is_some_and(|c| is_word(*c)) =>
            {
                i = number(sql, i, &mut o);
            }
            b'b' | b'x' if at(i + 1).is_some_and(|c| c.is_ascii_digit()) => i = number(sql, i, &mut o),
            _ => {
                o.push(b.to_ascii_lowercase());
                i += 1;
                if !LOOP {
                    continue;
                }
                // The bytes that follow and need no decision (most of a statement) are copied in a tight loop, and
                // so is a single space between two of them (`from t where`), which the general path would copy
                // the same way.
                while let Some(&c) = sql.get(i) {
                    let l = plain_lower(c);
                    if l != 0 {
                        o.push(l);
                        i += 1;
                        continue;
                    }
                    // A number, or a single space before a plain byte or a number (`id = 42`), goes where the
                    // general path would send it.
                    if c.is_ascii_digit() {
                        i = number(sql, i, &mut o);
                        continue;
                    }
                    let next = sql.get(i + 1).copied();
                    match next.map(plain_lower) {
                        Some(n) if c == b' ' && n != 0 => {
                            o.extend_from_slice(&[b' ', n]);
                            i += 2;
                        }
                        _ if c == b' ' && next.is_some_and(|n| n.is_ascii_digit()) => {
                            o.push(b' ');
                            i = number(sql, i + 1, &mut o);
                        }
                        _ => break,
                    }
                }
            }
        }
    }
    if space && !o.is_empty() {
        o.push(b' ');
    }
    *out = o;
    Pass::First
}

/// The second pass of [`fingerprint`]: word-level rewrites of a first pass's output.
fn rewrite(out: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(out).into_owned();
    // A `;` left at the end (before a comment) goes, with the space before it.
    if s.trim_end().ends_with(';') {
        s = s.trim_end().trim_end_matches(';').trim_end().to_string();
    }
    // 2. Word-level rewrites, each skipped (no copy) when its words do not occur.
    let has = |s: &str, w: &str| find_bytes(s.as_bytes(), w).is_some();
    if ["null", "true", "false"].iter().any(|w| has(&s, w)) {
        s = replace_words(&s, &["null", "true", "false"], "?");
    }
    let s = if has(&s, "in") { collapse_lists(&s, "in", "in(?+)") } else { s };
    let s = if has(&s, "value") { collapse_values(&s) } else { s };
    let s = if has(&s, "limit ?") { limit(&s) } else { s };
    let s = if has(&s, "order by") && has(&s, " asc") {
        let s = s.replace(" asc,", ",").replace(" asc ", " ");
        match s.strip_suffix(" asc") {
            Some(p) => p.to_string(),
            None => s,
        }
    } else {
        s
    };
    repeat_union(s)
}

/// Replaces a number-like token starting at `i` (digits, hex, decimals, exponents) by `?`.
fn number(sql: &[u8], mut i: usize, out: &mut Vec<u8>) -> usize {
    i += 1;
    while sql.get(i).is_some_and(|c| c.is_ascii_digit() || matches!(c, b'a'..=b'f' | b'.' | b'x' | b'+' | b'-')) {
        i += 1;
    }
    out.push(b'?');
    i
}

fn replace_words(s: &str, words: &[&str], with: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let prev_word = i > 0 && b.get(i - 1).is_some_and(|c| is_word(*c));
        let hit = (!prev_word)
            .then(|| {
                words
                    .iter()
                    .find(|w| s.get(i..i + w.len()) == Some(**w) && !b.get(i + w.len()).is_some_and(|c| is_word(*c)))
            })
            .flatten();
        match hit {
            Some(w) => {
                out.push_str(with);
                i += w.len();
            }
            None => {
                let ch = s.get(i..).and_then(|r| r.chars().next()).unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// `kw ( ?, ?, ? )` -> `replacement` when the parentheses hold only `?` and commas.
fn collapse_lists(s: &str, kw: &str, replacement: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = find_word(rest, kw) {
        let (before, after) = rest.split_at(pos);
        out.push_str(before);
        let tail = after.get(kw.len()..).unwrap_or_default();
        let t = tail.trim_start();
        if let Some(inner) = t.strip_prefix('(') {
            if let Some(close) = inner.find(')') {
                let body = inner.get(..close).unwrap_or_default();
                if !body.trim().is_empty() && body.chars().all(|c| c == '?' || c == ',' || c == ' ') {
                    out.push_str(replacement);
                    rest = inner.get(close + 1..).unwrap_or_default();
                    continue;
                }
            }
        }
        out.push_str(kw);
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// The words the fingerprint rewrites look for, with their searchers built once (building one per call cost
/// more than the search).
static WORDS: std::sync::LazyLock<Vec<(&'static str, memchr::memmem::Finder<'static>)>> =
    std::sync::LazyLock::new(|| {
        ["null", "true", "false", "in", "values", "value", "limit ?", "order by", " asc", " union "]
            .into_iter()
            .map(|w| (w, memchr::memmem::Finder::new(w.as_bytes())))
            .collect()
    });

/// The first occurrence of `needle` in `hay`.
fn find_bytes(hay: &[u8], needle: &str) -> Option<usize> {
    match WORDS.iter().find(|(w, _)| *w == needle) {
        Some((_, f)) => f.find(hay),
        None => memchr::memmem::find(hay, needle.as_bytes()),
    }
}

fn find_word(s: &str, w: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(p) = b.get(from..).and_then(|r| find_bytes(r, w)) {
        let at = from + p;
        let before_ok = at == 0 || !b.get(at - 1).is_some_and(|c| is_word(*c));
        let after_ok = !b.get(at + w.len()).is_some_and(|c| is_word(*c));
        if before_ok && after_ok {
            return Some(at);
        }
        from = at + w.len();
    }
    None
}

/// `values (...), (...)` -> `values(?+)`.
fn collapse_values(s: &str) -> String {
    let Some(pos) = find_word(s, "values").or_else(|| find_word(s, "value")) else { return s.to_string() };
    let kw_len = if s.get(pos..pos + 6) == Some("values") { 6 } else { 5 };
    let after = s.get(pos + kw_len..).unwrap_or_default();
    let mut rest = after.trim_start();
    if !rest.starts_with('(') {
        return s.to_string();
    }
    loop {
        // One balanced group.
        let mut depth = 0usize;
        let mut end = None;
        for (k, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = Some(k);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { return s.to_string() };
        rest = rest.get(end + 1..).unwrap_or_default();
        let t = rest.trim_start();
        match t.strip_prefix(',') {
            Some(n) if n.trim_start().starts_with('(') => rest = n.trim_start(),
            _ => break,
        }
    }
    // Like pt-query-digest, whatever follows the value lists (`ON DUPLICATE KEY UPDATE ...`) is dropped.
    let _ = rest;
    format!("{}values(?+)", s.get(..pos).unwrap_or_default())
}

/// `limit ?, ?` and `limit ? offset ?` -> `limit ?`.
fn limit(s: &str) -> String {
    let mut s = s.to_string();
    for pat in ["limit ?, ?", "limit ?,?", "limit ? offset ?"] {
        if s.contains(pat) {
            s = s.replace(pat, "limit ?");
        }
    }
    s
}

/// `select ? union select ?` -> `select ? /*repeat union*/`.
fn repeat_union(s: String) -> String {
    if find_bytes(s.as_bytes(), " union ").is_none() {
        return s;
    }
    for (sep, tag) in [(" union all ", "union all"), (" union ", "union")] {
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() > 1 && parts.iter().all(|p| Some(p) == parts.first()) {
            return format!("{} /*repeat {tag}*/", parts.first().copied().unwrap_or_default());
        }
    }
    s
}

/// Summary statistics of one metric in a class.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Metric {
    /// Sum.
    pub total: f64,
    /// Mean per statement that reported the metric.
    pub avg: f64,
    /// 95th percentile (nearest rank): exact for up to 1,000 statements, beyond from a histogram with buckets
    /// 5% wide (at most 5% above the exact value, never above the maximum).
    pub p95: f64,
    /// Maximum.
    pub max: f64,
}

/// One fingerprint class.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Class {
    /// The fingerprint.
    pub fingerprint: String,
    /// Statements in the class.
    pub count: u64,
    /// Query time in seconds (slow logs).
    pub query_time: Metric,
    /// Lock time in seconds (slow logs).
    pub lock_time: Metric,
    /// Rows sent, summed.
    pub rows_sent: u64,
    /// Rows examined, summed.
    pub rows_examined: u64,
    /// Earliest statement time.
    pub first_seen: Option<Timestamp>,
    /// Latest statement time.
    pub last_seen: Option<Timestamp>,
    /// Distinct users, sorted: all of them, or the first [`MAX_NAMES`] when there are more.
    pub users: Vec<String>,
    /// True when the class had more than [`MAX_NAMES`] distinct users.
    pub users_more: bool,
    /// Distinct client hosts, sorted: all of them, or the first [`MAX_NAMES`] when there are more.
    pub hosts: Vec<String>,
    /// True when the class had more than [`MAX_NAMES`] distinct hosts.
    pub hosts_more: bool,
    /// Which logs the statements came from.
    pub logs: Vec<String>,
    /// The slowest statement of the class (the first one when no times), redacted.
    pub example: String,
}

/// The digest.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DigestReport {
    /// Per input.
    pub inputs: Vec<InputSummary>,
    /// Statements grouped.
    pub statements: u64,
    /// Records parsed.
    pub records: u64,
    /// Malformed records.
    pub malformed: u64,
    /// Classes by total query time (highest first), then count, then fingerprint.
    pub classes: Vec<Class>,
}

/// How the digest runs.
#[derive(Debug, Clone)]
pub struct DigestOptions {
    /// Format, record-size limit and block size.
    pub read: ReadOptions,
    /// Threads of work: the calling thread and `threads - 1` pool workers; 0 means one per core.
    pub threads: usize,
    /// Only statements at or after this time.
    pub since: Option<Timestamp>,
    /// Only statements before this time.
    pub until: Option<Timestamp>,
    /// Smallest chunk worth a parallel task, in bytes.
    pub min_chunk: usize,
}

impl Default for DigestOptions {
    fn default() -> Self {
        DigestOptions {
            read: ReadOptions::default().with_block_size(ReadOptions::ENGINE_BLOCK_SIZE),
            threads: 0,
            since: None,
            until: None,
            min_chunk: 256 << 10,
        }
    }
}

/// Exact, order-free accumulation of seconds in nanoseconds.
fn nanos(x: f64) -> i128 {
    let v = (x * 1e9).round();
    if v.is_finite() && v.abs() < 1e30 {
        v as i128
    } else {
        0
    }
}

/// Values kept exactly per class and metric; beyond, they go into a histogram, so a class's state stays bounded
/// however many statements it has.
const EXACT_TIMES: usize = 1000;

/// Width of a histogram bucket: each is 5% wider than the one below it, so a percentile read from the
/// histogram is within 5% of the exact one (pt-query-digest uses the same base).
const BUCKET_BASE: f64 = 1.05;

/// The times (in nanoseconds) of one metric of a class: count, exact total and maximum, and the values for the
/// 95th percentile, exact up to [`EXACT_TIMES`] values, then as a histogram. The result depends only on the
/// values, not on how partials were split or merged.
#[derive(Debug, Default)]
struct Times {
    n: u64,
    total: i128,
    max: Option<i128>,
    /// The largest value at or below zero (the representative of histogram bucket 0).
    nonpos_max: Option<i128>,
    exact: Vec<i128>,
    /// Bucket -> count, once there are more than [`EXACT_TIMES`] values.
    hist: Option<Hist>,
}

/// The histogram bucket of a value: 0 for values at or below zero, else 1 + floor(log_1.05 v), as
/// [`bucket_by_formula`] computes it: read from a fast estimate of the logarithm when that is far enough from a
/// bucket boundary to decide, else by the formula.
fn bucket(v: i128) -> u16 {
    if v <= 0 {
        return 0;
    }
    // Converted by the processor when it fits 64 bits (the same rounding as the 128-bit conversion).
    let x = i64::try_from(v).map_or(v as f64, |v| v as f64);
    let t = fast_ln(x) / BUCKET_BASE.ln();
    // The estimate errs by less than 1e-4 (the table's interpolation, 2e-6 in the logarithm, over ln 1.05), and
    // the formula's result by far less: away from an integer by more than that, both floor to the same bucket.
    let frac = t - t.floor();
    if (1e-3..=1.0 - 1e-3).contains(&frac) && t < 60_000.0 {
        return 1 + t as u16;
    }
    bucket_by_formula(v)
}

/// [`bucket`] by its definition, with the library logarithm.
fn bucket_by_formula(v: i128) -> u16 {
    if v <= 0 {
        return 0;
    }
    let b = 1.0 + ((v as f64).ln() / BUCKET_BASE.ln()).floor();
    if b.is_finite() && b < f64::from(u16::MAX) {
        b as u16
    } else {
        u16::MAX
    }
}

/// The natural logarithm of a positive, finite `x`, within 2e-6: the exponent times ln 2, plus the logarithm of
/// the mantissa interpolated between 256 points.
fn fast_ln(x: f64) -> f64 {
    static TABLE: std::sync::LazyLock<[f64; 257]> = std::sync::LazyLock::new(|| {
        let mut t = [0.0; 257];
        for (i, v) in t.iter_mut().enumerate() {
            *v = (1.0 + i as f64 / 256.0).ln();
        }
        t
    });
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
    // The mantissa as 1.f: its top 8 fraction bits pick the interval, the rest place x in it.
    let frac = bits & ((1 << 52) - 1);
    let i = (frac >> 44) as usize;
    let w = (frac & ((1 << 44) - 1)) as f64 / (1u64 << 44) as f64;
    let (lo, hi) = (TABLE.get(i).copied().unwrap_or(0.0), TABLE.get(i + 1).copied().unwrap_or(0.0));
    exp as f64 * std::f64::consts::LN_2 + lo + (hi - lo) * w
}

/// Counts per histogram bucket, dense from the lowest bucket seen to the highest: times within a few orders of
/// magnitude span a few hundred buckets; all that [`nanos`] gives, about 1,420 (11 KiB).
#[derive(Debug, Default)]
struct Hist {
    base: u16,
    counts: Vec<u64>,
}

impl Hist {
    fn add(&mut self, b: u16, c: u64) {
        if self.counts.is_empty() {
            self.base = b;
        } else if b < self.base {
            let grow = usize::from(self.base - b);
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.base = b;
        }
        let i = usize::from(b - self.base);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        if let Some(n) = self.counts.get_mut(i) {
            *n += c;
        }
    }

    /// (bucket, count) of the buckets with values, in bucket order.
    fn iter(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        let base = usize::from(self.base);
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .filter_map(move |(i, c)| Some((u16::try_from(base + i).ok()?, *c)))
    }
}

impl Times {
    fn push(&mut self, v: i128) {
        self.n += 1;
        self.total = self.total.saturating_add(v);
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
        if v <= 0 {
            self.nonpos_max = Some(self.nonpos_max.map_or(v, |m| m.max(v)));
        }
        match &mut self.hist {
            Some(h) => h.add(bucket(v), 1),
            None if self.exact.len() < EXACT_TIMES => self.exact.push(v),
            None => {
                self.spill();
                self.push_bucket(v);
            }
        }
    }

    fn push_bucket(&mut self, v: i128) {
        if let Some(h) = &mut self.hist {
            h.add(bucket(v), 1);
        }
    }

    /// Moves the exact values into a histogram.
    fn spill(&mut self) {
        let mut h = self.hist.take().unwrap_or_default();
        for v in std::mem::take(&mut self.exact) {
            h.add(bucket(v), 1);
        }
        self.hist = Some(h);
    }

    fn merge(&mut self, o: Times) {
        self.n += o.n;
        self.total = self.total.saturating_add(o.total);
        self.max = either(self.max, o.max, Ord::max);
        self.nonpos_max = either(self.nonpos_max, o.nonpos_max, Ord::max);
        if self.hist.is_none() && o.hist.is_none() && self.exact.len() + o.exact.len() <= EXACT_TIMES {
            self.exact.extend(o.exact);
            return;
        }
        self.spill();
        for v in o.exact {
            self.push_bucket(v);
        }
        if let (Some(h), Some(oh)) = (&mut self.hist, o.hist) {
            for (b, c) in oh.iter() {
                h.add(b, c);
            }
        }
    }

    /// Total, mean, 95th percentile (nearest rank: exact, or the upper bound of its bucket capped at the
    /// maximum) and maximum, in seconds.
    fn metric(mut self) -> Metric {
        let secs = |n: i128| n as f64 / 1e9;
        let (Some(max), true) = (self.max, self.n > 0) else { return Metric::default() };
        let k = ((0.95 * self.n as f64).ceil() as u64).clamp(1, self.n);
        let p95 = match &self.hist {
            None => {
                // The k-th smallest: selection, not a sort.
                let i = usize::try_from(k - 1).ok().filter(|i| *i < self.exact.len());
                i.map(|i| *self.exact.select_nth_unstable(i).1).map_or(0.0, secs)
            }
            Some(h) => {
                let mut seen = 0u64;
                let b = h.iter().find(|(_, c)| {
                    seen += *c;
                    seen >= k
                });
                match b.map(|(b, _)| b) {
                    Some(0) => self.nonpos_max.map_or(0.0, secs),
                    Some(b) => (BUCKET_BASE.powi(i32::from(b)) / 1e9).min(secs(max)),
                    None => secs(max),
                }
            }
        };
        Metric { total: secs(self.total), avg: secs(self.total) / self.n as f64, p95, max: secs(max) }
    }
}

/// A name with its [`prefix8`]: ordered as the name's bytes, mostly without comparing them.
type Keyed<'a> = (u64, &'a [u8]);

/// The distinct names of a class: the [`MAX_NAMES`] first in byte order, and whether there were more. Both
/// depend only on the set of names seen, not on how the input was split among partials (the first names in
/// order of appearance would).
#[derive(Debug, Default)]
struct Names {
    /// Sorted, distinct, at most [`MAX_NAMES`]: a short vector, searched by bisection and merged in one pass.
    set: Vec<String>,
    more: bool,
}

impl Names {
    /// Adds `seen`, distinct byte strings (`valid`: all of them UTF-8).
    fn add_distinct(&mut self, seen: &[Keyed<'_>], valid: bool) {
        if !valid {
            // Invalid UTF-8 is replaced, which may make two names one and changes their order: all are converted.
            let mut set: Vec<String> = seen.iter().map(|(_, n)| String::from_utf8_lossy(n).into_owned()).collect();
            set.sort_unstable();
            set.dedup();
            let more = set.len() > MAX_NAMES;
            set.truncate(MAX_NAMES);
            return self.merge(Names { set, more });
        }
        // Once the list is full, only names before its last one can enter it; any after it means there were more.
        let mut keyed: Vec<Keyed<'_>> = match self.set.last().filter(|_| self.set.len() >= MAX_NAMES) {
            Some(last) => {
                let last = (prefix8(last.as_bytes()), last.as_bytes());
                if seen.iter().any(|n| *n > last) {
                    self.more = true;
                }
                seen.iter().copied().filter(|n| *n < last).collect()
            }
            None => seen.to_vec(),
        };
        if keyed.is_empty() {
            return;
        }
        // Only the first MAX_NAMES + 1 matter (the last only to tell whether there were more), and UTF-8 keeps
        // byte order as text.
        let distinct = keyed.len();
        if keyed.len() > MAX_NAMES + 1 {
            keyed.select_nth_unstable(MAX_NAMES);
            keyed.truncate(MAX_NAMES + 1);
        }
        keyed.sort_unstable();
        self.more |= distinct > MAX_NAMES;
        // Merged with the kept names in one pass; a name is copied only when it is new and kept.
        let new = keyed.iter().take(MAX_NAMES).copied();
        let by_bytes = |x: &String, y: &Keyed<'_>| (prefix8(x.as_bytes()), x.as_bytes()).cmp(y);
        let (set, left) =
            merge_first(std::mem::take(&mut self.set), new, by_bytes, |(_, n)| String::from_utf8_lossy(n).into_owned());
        self.set = set;
        self.more |= left;
    }

    /// One name more: the model the digest's own path ([`Partial::settle`]) is tested against.
    #[cfg(test)]
    fn insert(&mut self, name: &str) {
        match self.set.binary_search_by(|n| n.as_str().cmp(name)) {
            Ok(_) => {}
            // Past the last kept name of a full list: only counted as more (no copy).
            Err(i) if i >= MAX_NAMES => self.more = true,
            Err(i) => {
                if self.set.len() >= MAX_NAMES {
                    self.set.pop();
                    self.more = true;
                }
                self.set.insert(i, name.to_owned());
            }
        }
    }

    /// The first [`MAX_NAMES`] of both lists (one pass over two sorted lists, moving the names), and whether
    /// either had more or names were left over.
    fn merge(&mut self, o: Names) {
        self.more |= o.more;
        if o.set.is_empty() {
            return;
        }
        let (set, left) = merge_first(std::mem::take(&mut self.set), o.set.into_iter(), |a, b| a.cmp(b), |n| n);
        self.set = set;
        self.more |= left;
    }
}

/// The first [`MAX_NAMES`] of two sorted lists of distinct names (one of equal ones), and whether any were left
/// over; an item of `new` becomes a name (`own`) only when it is kept.
fn merge_first<T>(
    mine: Vec<String>,
    new: impl Iterator<Item = T>,
    cmp: impl Fn(&String, &T) -> std::cmp::Ordering,
    own: impl Fn(T) -> String,
) -> (Vec<String>, bool) {
    let mut out = Vec::with_capacity(MAX_NAMES.min(mine.len() + new.size_hint().0));
    let (mut a, mut b) = (mine.into_iter().peekable(), new.peekable());
    while out.len() < MAX_NAMES {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match cmp(x, y) {
                std::cmp::Ordering::Less => a.next(),
                std::cmp::Ordering::Greater => b.next().map(&own),
                std::cmp::Ordering::Equal => {
                    b.next();
                    a.next()
                }
            },
            (Some(_), None) => a.next(),
            (None, _) => b.next().map(&own),
        };
        match next {
            Some(n) => out.push(n),
            None => break,
        }
    }
    let left = a.peek().is_some() || b.peek().is_some();
    (out, left)
}

#[derive(Debug, Default)]
struct State {
    count: u64,
    qt: Times,
    lock: Times,
    rows_sent: u64,
    rows_examined: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    users: Names,
    hosts: Names,
    /// Which logs the statements came from: bit `t as u8` for log type `t`.
    logs: u8,
    example: Option<(i128, String)>,
}

impl State {
    fn merge(&mut self, o: State) {
        self.count += o.count;
        self.qt.merge(o.qt);
        self.lock.merge(o.lock);
        self.rows_sent = self.rows_sent.saturating_add(o.rows_sent);
        self.rows_examined = self.rows_examined.saturating_add(o.rows_examined);
        self.first = either(self.first, o.first, Ord::min);
        self.last = either(self.last, o.last, Ord::max);
        self.users.merge(o.users);
        self.hosts.merge(o.hosts);
        self.logs |= o.logs;
        if let Some(b) = o.example {
            if self.example.as_ref().is_none_or(|a| b.0 > a.0) {
                self.example = Some(b);
            }
        }
    }
}

/// Per-chunk fold.
#[derive(Debug, Default)]
pub(crate) struct Partial {
    records: u64,
    malformed: u64,
    statements: u64,
    /// The classes with their fingerprints, in order of first appearance; `index` finds them by fingerprint.
    classes: Vec<(Box<str>, State)>,
    index: HashMap<Box<str>, usize, foldhash::fast::RandomState>,
    /// The class of each first pass seen ([`first_pass`]): statements of a class differ in literals, which the
    /// first pass already replaced, so most are placed with this one lookup, without the word-level rewrites
    /// or a second lookup by fingerprint. A cache only: cleared when it reaches [`MEMO_MAX`] entries.
    memo: Memo,
    /// The first pass of the current statement (reused).
    buf: Vec<u8>,
    /// The user and host names this partial saw, numbered, and which (class, name) pairs occurred: a hash
    /// lookup per name, where inserting into each class's sorted names compared strings. [`Partial::settle`]
    /// turns them into the classes' [`Names`].
    names: HashMap<Box<[u8]>, usize, foldhash::fast::RandomState>,
    user_pairs: HashSet<(usize, usize), foldhash::fast::RandomState>,
    host_pairs: HashSet<(usize, usize), foldhash::fast::RandomState>,
    /// Whether a name in `names` is not UTF-8.
    invalid_names: bool,
}

/// First passes and the positions of their classes (see [`Partial`]).
type Memo = HashMap<Box<[u8]>, usize, foldhash::fast::RandomState>;

/// Entries of the fingerprint cache of a partial.
const MEMO_MAX: usize = 4096;

/// The number of `name` in `names`, given the next free one when it is new (`invalid` set when it is not
/// UTF-8).
fn name_id(
    names: &mut HashMap<Box<[u8]>, usize, foldhash::fast::RandomState>,
    invalid: &mut bool,
    name: &[u8],
) -> usize {
    if let Some(id) = names.get(name) {
        return *id;
    }
    *invalid |= std::str::from_utf8(name).is_err();
    let id = names.len();
    names.insert(name.into(), id);
    id
}

pub(crate) struct Ctx {
    since: Option<Timestamp>,
    until: Option<Timestamp>,
}

/// The four metrics a class sums, read in one pass over the header: query time and lock time in nanoseconds,
/// rows sent and rows examined.
fn metrics(ev: &Event<'_>) -> (Option<i128>, Option<i128>, Option<u64>, Option<u64>) {
    let raw = ev.metrics().map(|m| {
        // MySQL writes the four first, in this order: read them directly.
        if let Some(v) = m.leading_raw([b"Query_time", b"Lock_time", b"Rows_sent", b"Rows_examined"]) {
            return v.map(Some);
        }
        // The first occurrence of a key counts, even when it is not a number.
        let mut out: [Option<&[u8]>; 4] = [None; 4];
        for (k, v) in m.raw_pairs() {
            let slot = match k {
                b"Query_time" => 0,
                b"Lock_time" => 1,
                b"Rows_sent" => 2,
                b"Rows_examined" => 3,
                _ => continue,
            };
            if let Some(o) = out.get_mut(slot).filter(|o| o.is_none()) {
                *o = Some(v);
            }
            if out.iter().all(Option::is_some) {
                break;
            }
        }
        out
    });
    let [qt, lock, sent, examined] = raw.unwrap_or_default();
    (qt.and_then(time_nanos), lock.and_then(time_nanos), sent.and_then(count), examined.and_then(count))
}

/// A time in seconds as nanoseconds: what [`nanos`] gives for the number [`MetricValue::parse`] reads.
fn time_nanos(v: &[u8]) -> Option<i128> {
    decimal_nanos(v).or_else(|| MetricValue::parse(v).as_f64().map(nanos))
}

/// `digits` or `digits.digits`, at most 6 digits before the point and 9 after (`0.546498`), in nanoseconds,
/// read as integers. The value below 10^15 ns, the float path (the nearest double, times 10^9, rounded) errs by
/// less than half a nanosecond and gives the same.
fn decimal_nanos(v: &[u8]) -> Option<i128> {
    let (int, frac) = match v.iter().position(|b| *b == b'.') {
        Some(dot) => (v.get(..dot)?, v.get(dot + 1..)?),
        None => (v, &b"0"[..]),
    };
    if int.len() > 6 || frac.len() > 9 {
        return None;
    }
    const SCALE: [u64; 10] = [1_000_000_000, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
    let scale = SCALE.get(frac.len()).copied()?;
    // Empty or non-digit parts fall to the float path.
    Some(i128::from(parse_u64(int)? * 1_000_000_000 + parse_u64(frac)? * scale))
}

/// A row count: what the float [`MetricValue::parse`] reads gives, floored at zero; up to 15 digits read as an
/// integer (exact as a float too).
fn count(v: &[u8]) -> Option<u64> {
    if let Some(n) = (v.len() <= 15).then(|| parse_u64(v)).flatten() {
        return Some(n);
    }
    MetricValue::parse(v).as_f64().map(|f| f.max(0.0) as u64)
}

impl Partial {
    /// The position of the class of `sql` ([`fingerprint`], with the word-level rewrites done once per distinct
    /// first pass).
    fn class_of(&mut self, sql: &[u8]) -> usize {
        if first_pass(sql, &mut self.buf) == Pass::Final {
            let buf = std::mem::take(&mut self.buf);
            // Nearly always UTF-8: checked by the fast validator, replaced only when not.
            let ci = match std::str::from_utf8(&buf) {
                Ok(fp) => self.class_named(fp),
                Err(_) => self.class_named(&String::from_utf8_lossy(&buf)),
            };
            self.buf = buf;
            return ci;
        }
        if let Some(ci) = self.memo.get(self.buf.as_slice()) {
            return *ci;
        }
        let ci = self.class_named(&rewrite(&self.buf));
        if self.memo.len() >= MEMO_MAX {
            self.memo.clear();
        }
        self.memo.insert(self.buf.as_slice().into(), ci);
        ci
    }

    /// The position of the class with fingerprint `fp`, made when new.
    fn class_named(&mut self, fp: &str) -> usize {
        if let Some(ci) = self.index.get(fp) {
            return *ci;
        }
        let ci = self.classes.len();
        let fp: Box<str> = fp.into();
        self.index.insert(fp.clone(), ci);
        self.classes.push((fp, State::default()));
        ci
    }

    fn event(&mut self, ev: &Event<'_>, ctx: &Ctx) {
        self.records += 1;
        if (ctx.since.is_some() || ctx.until.is_some())
            && !ev.ts.is_some_and(|t| ctx.since.is_none_or(|s| t >= s) && ctx.until.is_none_or(|u| t < u))
        {
            return;
        }
        let admin = matches!(ev.extra, Extra::Slow { admin: true, .. });
        let sql = ev.sql.as_ref().map(|s| s.text());
        let (ci, admin_op) = match (&sql, ev.kind) {
            (Some(text), EventKind::Query) => (self.class_of(text), None),
            (None, EventKind::Command) if admin => {
                let op = String::from_utf8_lossy(ev.op.as_deref().unwrap_or_default()).into_owned();
                let text = format!("administrator command: {op}");
                (self.class_named(&text), Some(text))
            }
            _ => return,
        };
        for (pairs, v) in [(&mut self.user_pairs, &ev.user), (&mut self.host_pairs, &ev.host)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                pairs.insert((ci, name_id(&mut self.names, &mut self.invalid_names, v)));
            }
        }
        let Some((_, st)) = self.classes.get_mut(ci) else { return };
        self.statements += 1;
        st.count += 1;
        let (qt, lock, sent, examined) = metrics(ev);
        if let Some(q) = qt {
            st.qt.push(q);
        }
        if let Some(l) = lock {
            st.lock.push(l);
        }
        st.rows_sent = st.rows_sent.saturating_add(sent.unwrap_or(0));
        st.rows_examined = st.rows_examined.saturating_add(examined.unwrap_or(0));
        if let Some(t) = ev.ts {
            st.first = Some(st.first.map_or(t, |f| f.min(t)));
            st.last = Some(st.last.map_or(t, |l| l.max(t)));
        }
        st.logs |= 1 << ev.log as u8;
        let q = qt.unwrap_or(-1);
        if st.example.as_ref().is_none_or(|(best, _)| q > *best) {
            // Redacted only when it becomes the class's example (the slowest statement so far).
            let example = match (admin_op, &sql) {
                (Some(text), _) => text,
                (None, Some(text)) => String::from_utf8_lossy(&crate::redact::redact_sql(text)).into_owned(),
                (None, None) => String::new(),
            };
            st.example = Some((q, example));
        }
    }

    /// Moves the (class, name) pairs seen into the classes' [`Names`].
    fn settle(&mut self) {
        if self.user_pairs.is_empty() && self.host_pairs.is_empty() {
            return;
        }
        let mut classes = std::mem::take(&mut self.classes);
        let to: Vec<usize> = (0..classes.len()).collect();
        self.names_into(&mut classes, &to);
        self.classes = classes;
    }

    /// Moves the (class, name) pairs seen into the [`Names`] of `classes`, where `to[ci]` is the position of this
    /// partial's class `ci`: per class, the first [`MAX_NAMES`] names in byte order, merged with those kept.
    fn names_into(&mut self, classes: &mut [(Box<str>, State)], to: &[usize]) {
        let mut by_id: Vec<Keyed<'_>> = vec![(0, &[]); self.names.len()];
        for (name, id) in &self.names {
            if let Some(slot) = by_id.get_mut(*id) {
                *slot = (prefix8(name), name);
            }
        }
        for (pairs, users) in
            [(std::mem::take(&mut self.user_pairs), true), (std::mem::take(&mut self.host_pairs), false)]
        {
            // The names of each class, laid out by class in one vector (a counting sort: no comparisons, one
            // allocation).
            let mut starts = vec![0usize; to.len() + 1];
            for (ci, _) in &pairs {
                if let Some(n) = starts.get_mut(ci + 1) {
                    *n += 1;
                }
            }
            for i in 1..starts.len() {
                let before = starts.get(i - 1).copied().unwrap_or(0);
                if let Some(n) = starts.get_mut(i) {
                    *n += before;
                }
            }
            let mut flat: Vec<Keyed<'_>> = vec![(0, &[]); pairs.len()];
            let mut fill = starts.clone();
            for (ci, id) in &pairs {
                if let (Some(at), Some(name)) = (fill.get_mut(*ci), by_id.get(*id)) {
                    if let Some(slot) = flat.get_mut(*at) {
                        *slot = *name;
                    }
                    *at += 1;
                }
            }
            for (range, target) in starts.windows(2).zip(to) {
                let seen = match range {
                    [a, b] => flat.get(*a..*b).unwrap_or_default(),
                    _ => &[],
                };
                if let Some((_, st)) = classes.get_mut(*target).filter(|_| !seen.is_empty()) {
                    let names = if users { &mut st.users } else { &mut st.hosts };
                    names.add_distinct(seen, !self.invalid_names);
                }
            }
        }
        drop(by_id);
        self.names = HashMap::default();
        self.invalid_names = false;
    }
}

impl Fold<Ctx> for Partial {
    fn add(&mut self, item: &Item<'_>, ctx: &Ctx) {
        match item {
            Item::Event(ev) => self.event(ev, ctx),
            Item::Malformed(_) => self.malformed += 1,
            Item::Skipped(_) => {}
        }
    }

    fn merge(&mut self, mut later: Self, _ctx: &Ctx) {
        self.settle();
        self.records += later.records;
        self.malformed += later.malformed;
        self.statements += later.statements;
        // Where each class of `later` is here; its names go straight into these classes, copied only when kept.
        let mut to = Vec::with_capacity(later.classes.len());
        for (fp, st) in std::mem::take(&mut later.classes) {
            match self.index.get(&fp).copied() {
                Some(ci) => {
                    if let Some((_, mine)) = self.classes.get_mut(ci) {
                        mine.merge(st);
                    }
                    to.push(ci);
                }
                None => {
                    to.push(self.classes.len());
                    self.index.insert(fp.clone(), self.classes.len());
                    self.classes.push((fp, st));
                }
            }
        }
        later.names_into(&mut self.classes, &to);
    }
}

/// Runs inputs through the parallel engine into a [`DigestReport`].
pub struct Digest {
    opts: DigestOptions,
    pool: Arc<rayon::ThreadPool>,
    threads: usize,
    acc: Partial,
    inputs: Vec<InputSummary>,
}

impl Digest {
    /// A digest on `opts.threads` threads: the calling thread and a shared pool of workers.
    pub fn new(opts: DigestOptions) -> Result<Self, Error> {
        let (pool, threads) = crate::analyze::worker_pool(opts.threads)?;
        Ok(Digest { opts, pool, threads, acc: Partial::default(), inputs: Vec::new() })
    }

    /// Reads one input. Errors are returned and recorded in the report.
    pub fn add_input(&mut self, input: &Input) -> Result<ReadSummary, Error> {
        let res = input.with_reader(|name, r| self.add_reader(name, r));
        if let Err(e) = &res {
            crate::source::note_failed_input(&mut self.inputs, input, e);
        }
        res
    }

    /// Like [`Digest::add_reader`], with the format of this reader given (`None`: the options' format, else
    /// sniffed), for sources that know it, such as a CloudWatch log group of one log type.
    pub fn add_reader_as<R: Read>(
        &mut self,
        name: &str,
        reader: R,
        format: Option<Format>,
    ) -> Result<ReadSummary, Error> {
        let saved = self.opts.read.format;
        self.opts.read.format = format.or(saved);
        let res = self.add_reader(name, reader);
        self.opts.read.format = saved;
        res
    }

    /// Reads any reader, named `name`.
    pub fn add_reader<R: Read>(&mut self, name: &str, reader: R) -> Result<ReadSummary, Error> {
        let ctx = Ctx { since: self.opts.since, until: self.opts.until };
        let mut part = Partial::default();
        let res = crate::analyze::scan(
            reader,
            &self.opts.read,
            &self.pool,
            self.threads,
            self.opts.min_chunk,
            &ctx,
            |p: Partial| {
                part.merge(p, &ctx);
                ControlFlow::Continue(())
            },
        );
        let read = match &res {
            Ok(s) => *s,
            Err((s, _)) => *s,
        };
        let read = ReadSummary { records: part.records, malformed: part.malformed, ..read };
        self.acc.merge(part, &ctx);
        self.inputs.push(InputSummary {
            file: name.to_string(),
            read,
            error: res.as_ref().err().map(|(_, e)| e.to_string()),
        });
        res.map(|_| read).map_err(|(_, e)| e)
    }

    /// The report, classes by total query time.
    #[must_use]
    pub fn finish(mut self) -> DigestReport {
        self.acc.settle();
        let mut classes: Vec<(i128, Class)> = self
            .acc
            .classes
            .into_iter()
            .map(|(fp, st)| {
                let total = st.qt.total;
                (
                    total,
                    Class {
                        fingerprint: fp.into_string(),
                        count: st.count,
                        query_time: st.qt.metric(),
                        lock_time: st.lock.metric(),
                        rows_sent: st.rows_sent,
                        rows_examined: st.rows_examined,
                        first_seen: st.first,
                        last_seen: st.last,
                        users_more: st.users.more,
                        users: st.users.set.into_iter().collect(),
                        hosts_more: st.hosts.more,
                        hosts: st.hosts.set.into_iter().collect(),
                        logs: LogType::ALL
                            .iter()
                            .filter(|l| st.logs & (1 << **l as u8) != 0)
                            .map(|l| l.as_str().to_string())
                            .collect(),
                        example: st.example.map(|e| e.1).unwrap_or_default(),
                    },
                )
            })
            .collect();
        classes
            .sort_by(|a, b| b.0.cmp(&a.0).then(b.1.count.cmp(&a.1.count)).then(a.1.fingerprint.cmp(&b.1.fingerprint)));
        DigestReport {
            inputs: self.inputs,
            statements: self.acc.statements,
            records: self.acc.records,
            malformed: self.acc.malformed,
            classes: classes.into_iter().map(|c| c.1).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    proptest::proptest! {
        /// Times and row counts read as integers equal what the float path gives (`MetricValue::parse`, then
        /// `nanos` or a floor at zero), on numbers of every length near and past the fast path's limits, signs,
        /// points and text.
        #[test]
        fn integer_metrics_equal_the_float_path(int in "[0-9]{0,8}", frac in proptest::option::of("[0-9]{0,11}"), sign in proptest::option::of("[-+]"), text in proptest::option::of("(Yes|No|x|1e3| )")) {
            let mut v = format!("{}{int}", sign.unwrap_or_default());
            if let Some(f) = frac {
                v = format!("{v}.{f}");
            }
            if let Some(t) = text {
                v.push_str(&t);
            }
            let float = MetricValue::parse(v.as_bytes()).as_f64();
            proptest::prop_assert_eq!(time_nanos(v.as_bytes()), float.map(nanos), "{}", v);
            proptest::prop_assert_eq!(count(v.as_bytes()), float.map(|f| f.max(0.0) as u64), "{}", v);
        }
    }

    proptest::proptest! {
        /// The first pass equals its general path alone (no copy loop) on statements made of SQL pieces: words in both cases,
        /// single and repeated blanks, quotes with escapes, numbers, signs, comments, NUL and non-ASCII bytes.
        #[test]
        fn first_pass_equals_the_model(parts in proptest::collection::vec(proptest::sample::select(vec![
            "SELECT", "from", "T1", "b", "x", "B1", "x1", " ", "  ", "\t", "\n", " \n", "'a\\'b'", "\"q\"", "'", "42",
            "-1", "+.5", ".", "-", "--", "-- c\n", "#c\n", "/*c*/", "/*!1*/", "/", "*", "=", ",", "(", ")", ";", "\0",
            "é", "\u{7f}", "_", "$", "use", "call",
        ]), 0..24)) {
            let sql = parts.concat();
            let mut out = Vec::new();
            if first_pass(sql.as_bytes(), &mut out) == Pass::First {
                let mut want = Vec::new();
                first_pass_with::<false>(sql.as_bytes(), &mut want);
                proptest::prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&want));
            }
        }
    }

    /// The names kept for a class (the first [`MAX_NAMES`] in byte order) and whether there were more do not
    /// depend on how the names were split among partials or in which order they came.
    #[test]
    fn kept_names_do_not_depend_on_the_split() {
        for distinct in [3, MAX_NAMES, MAX_NAMES + 1, 300] {
            let names: Vec<String> = (0..2_000u64)
                .map(|i| format!("10.0.{}.{}", (i * 7919) % 13, (i * 104_729) % distinct as u64))
                .collect();
            let mut one = Names::default();
            names.iter().for_each(|n| one.insert(n));
            let mut all: Vec<&String> = names.iter().collect();
            all.sort();
            all.dedup();
            let first: Vec<&String> = all.iter().copied().take(MAX_NAMES).collect();
            assert_eq!(one.set.iter().collect::<Vec<_>>(), first, "{distinct}");
            assert_eq!(one.more, all.len() > MAX_NAMES, "{distinct}");
            for parts in [2, 3, 17] {
                let mut merged = Names::default();
                for chunk in names.chunks(names.len().div_ceil(parts)).rev() {
                    let mut p = Names::default();
                    chunk.iter().for_each(|n| p.insert(n));
                    merged.merge(p);
                }
                assert_eq!((merged.set.iter().collect::<Vec<_>>(), merged.more), (first.clone(), one.more));
            }
        }
    }

    /// The class found through the memo has the plain fingerprint of every statement, across the cache being
    /// cleared when full: statements of many classes, with literals, lists, comments, `use` and `call`.
    #[test]
    fn memoized_fingerprints_equal_plain_ones() {
        let mut part = Partial::default();
        let shapes = [
            "SELECT * FROM t{c} WHERE id = {n} AND name = 'x{n}'",
            "select a FROM t{c} where b IN ({n}, {n}, 3) /* {n} */",
            "INSERT INTO t{c} (a,b) VALUES ({n},'a'), ({n}, NULL)",
            "SELECT a FROM t{c} ORDER BY a ASC LIMIT {n}, 20",
            "SELECT 1 FROM t{c} UNION SELECT 1 FROM t{c}",
            "use `db{c}`",
            "CALL proc{c}({n})",
        ];
        for i in 0..(3 * MEMO_MAX) {
            let shape = shapes[i % shapes.len()];
            let sql = shape.replace("{c}", &(i % (MEMO_MAX + 7)).to_string()).replace("{n}", &(i * 7919).to_string());
            let ci = part.class_of(sql.as_bytes());
            assert_eq!(&*part.classes[ci].0, fingerprint(sql.as_bytes()), "{sql}");
            assert!(part.memo.len() <= MEMO_MAX);
        }
    }

    /// The names a class keeps through the digest's path (numbered per partial, gathered when partials merge)
    /// are those of the one-by-one model, however the statements are split among partials, with names that are
    /// not UTF-8 (two of which become one name when replaced) and more names than are kept.
    #[test]
    fn names_through_partials_equal_the_model() {
        let ctx = Ctx { since: None, until: None };
        for distinct in [1, 5, MAX_NAMES, MAX_NAMES + 1, MAX_NAMES + 2, 300] {
            for invalid in [false, true] {
                let hosts: Vec<Vec<u8>> = (0..1_500u64)
                    .map(|i| {
                        // Each of the two classes (`i % 2`) sees exactly `distinct` hosts.
                        let mut h = format!("10.0.{}", (i / 2 * 104_729) % distinct as u64).into_bytes();
                        if invalid && i % 5 == 0 {
                            h.push(if i % 2 == 0 { 0xff } else { 0xfe });
                        }
                        h
                    })
                    .collect();
                let log: Vec<u8> = hosts
                    .iter()
                    .enumerate()
                    .flat_map(|(i, h)| {
                        let mut e = format!("# User@Host: u{}[u{}] @  [", i % 3, i % 3).into_bytes();
                        e.extend_from_slice(h);
                        e.extend_from_slice(
                            b"]  Id: 1\n# Query_time: 1  Lock_time: 0 Rows_sent: 0  Rows_examined: 0\n",
                        );
                        e.extend_from_slice(format!("SELECT {i} FROM t{}\n", i % 2).as_bytes());
                        e
                    })
                    .collect();
                let mut model: BTreeMap<String, (Names, Names)> = BTreeMap::new();
                let mut p = crate::format::Parser::new(Format::Slow);
                let items: Vec<Item<'_>> = p.records(&log, crate::event::Position::START, true).collect();
                for item in &items {
                    let Item::Event(ev) = item else { panic!("{item:?}") };
                    let fp = fingerprint(&ev.sql.as_ref().unwrap().text());
                    let (users, hosts) = model.entry(fp).or_default();
                    users.insert(&String::from_utf8_lossy(ev.user.as_deref().unwrap()));
                    hosts.insert(&String::from_utf8_lossy(ev.host.as_deref().unwrap()));
                }
                for parts in [1, 2, 7] {
                    let mut acc = Partial::default();
                    for chunk in items.chunks(items.len().div_ceil(parts)) {
                        let mut part = Partial::default();
                        chunk.iter().for_each(|i| part.add(i, &ctx));
                        acc.merge(part, &ctx);
                    }
                    acc.settle();
                    let got: BTreeMap<String, (Vec<String>, bool, Vec<String>, bool)> = acc
                        .classes
                        .into_iter()
                        .map(|(fp, st)| (fp.into_string(), (st.users.set, st.users.more, st.hosts.set, st.hosts.more)))
                        .collect();
                    let want: BTreeMap<String, (Vec<String>, bool, Vec<String>, bool)> = model
                        .iter()
                        .map(|(fp, (u, h))| (fp.clone(), (u.set.clone(), u.more, h.set.clone(), h.more)))
                        .collect();
                    assert_eq!(got, want, "{distinct} distinct, invalid {invalid}, {parts} parts");
                }
            }
        }
    }

    proptest::proptest! {
        /// The fast bucket is the formula's, on values of every magnitude and next to bucket boundaries.
        #[test]
        fn fast_bucket_equals_the_formula(exp in 0u32..100, mant in 1.0f64..10.0, near in 0u32..1420, delta in -3i128..4) {
            let v = (mant * 10f64.powi(exp as i32)).min(1e30) as i128;
            proptest::prop_assert_eq!(bucket(v), bucket_by_formula(v), "{}", v);
            let edge = BUCKET_BASE.powi(near as i32);
            if edge < 1e30 {
                let w = edge as i128 + delta;
                proptest::prop_assert_eq!(bucket(w), bucket_by_formula(w), "{}", w);
            }
        }
    }

    #[test]
    fn fast_bucket_equals_the_formula_on_every_small_value_and_each_boundary() {
        for v in -5..200_000i128 {
            assert_eq!(bucket(v), bucket_by_formula(v), "{v}");
        }
        for k in 0..1420 {
            let edge = BUCKET_BASE.powi(k);
            for w in [edge.floor() as i128 - 1, edge.floor() as i128, edge.ceil() as i128, edge.ceil() as i128 + 1] {
                assert_eq!(bucket(w), bucket_by_formula(w), "{w}");
            }
        }
    }

    /// Deterministic pseudo-random query times in nanoseconds, spread over six orders of magnitude, with a few
    /// zero and negative ones.
    fn values(n: usize, seed: u64) -> Vec<i128> {
        let mut x = seed | 1;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 97 == 0 {
                    -((x % 1000) as i128)
                } else {
                    (x % 1_000_000_000_000) as i128 / 10i128.pow((x % 6) as u32)
                }
            })
            .collect()
    }

    fn exact_p95(v: &[i128]) -> f64 {
        let mut s = v.to_vec();
        s.sort_unstable();
        let k = ((0.95 * s.len() as f64).ceil() as usize).clamp(1, s.len());
        s[k - 1] as f64 / 1e9
    }

    fn times(v: &[i128]) -> Times {
        let mut t = Times::default();
        for x in v {
            t.push(*x);
        }
        t
    }

    #[test]
    fn percentile_is_exact_up_to_the_limit_and_within_five_percent_beyond() {
        for n in [1, 2, 19, 20, 999, EXACT_TIMES, EXACT_TIMES + 1, 5000, 50_000] {
            let v = values(n, n as u64);
            let m = times(&v).metric();
            let exact = exact_p95(&v);
            let total: i128 = v.iter().sum();
            assert_eq!(m.total, total as f64 / 1e9, "n={n}");
            assert_eq!(m.max, *v.iter().max().unwrap() as f64 / 1e9, "n={n}");
            if n <= EXACT_TIMES {
                assert_eq!(m.p95, exact, "n={n}");
            } else {
                assert!(m.p95 >= exact * 0.999_999 && m.p95 <= exact * 1.05 + 1e-9, "n={n}: {} vs {exact}", m.p95);
                assert!(m.p95 <= m.max, "n={n}");
            }
        }
    }

    #[test]
    fn percentile_does_not_depend_on_how_partials_were_split() {
        for n in [900, 1500, 20_000] {
            let v = values(n, 7);
            let whole = times(&v).metric();
            for parts in [2, 3, 7, 64] {
                let size = n.div_ceil(parts);
                let mut acc = Times::default();
                for chunk in v.chunks(size) {
                    acc.merge(times(chunk));
                }
                assert_eq!(acc.metric(), whole, "n={n}, {parts} parts");
            }
        }
    }
}
