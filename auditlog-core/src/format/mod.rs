//! Log formats: detection and the record parsers.
//!
//! A [`Parser`] turns bytes into [`Item`]s: parsed [`Event`]s, [`Malformed`] records and [`Skipped`] lines.
//! Every byte of the input belongs to exactly one item. Parsing is incremental: [`Parser::records`] parses
//! what is complete in a buffer and, unless told the input ended, leaves a trailing partial record for the
//! next call, so inputs of any size stream through a bounded buffer (see [`crate::read`]).

pub(crate) mod audit;
pub(crate) mod common;
pub(crate) mod errorlog;
pub(crate) mod general;
pub(crate) mod slow;
mod sniff;

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Malformed, Reason};
use crate::event::{Event, Position};

pub use sniff::sniff;

/// The four log families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Format {
    /// Audit log (Aurora Advanced Auditing, RDS for MySQL audit plugin, MariaDB server_audit).
    Audit,
    /// General query log.
    General,
    /// Slow query log.
    Slow,
    /// Error log.
    Error,
}

impl Format {
    /// All formats, in sniffing tie-break order.
    pub const ALL: [Format; 4] = [Format::Audit, Format::Slow, Format::General, Format::Error];

    /// The name used on the command line and in outputs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Audit => "audit",
            Format::General => "general",
            Format::Slow => "slow",
            Format::Error => "error",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "audit" => Ok(Format::Audit),
            "general" => Ok(Format::General),
            "slow" | "slowquery" | "slow_query" => Ok(Format::Slow),
            "error" => Ok(Format::Error),
            _ => Err(Error::new(ErrorKind::InvalidArgument(format!(
                "unknown format `{s}`: expected audit, general, slow or error"
            )))),
        }
    }
}

/// Why lines were skipped rather than parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// An empty (or whitespace-only) line, e.g. between `download-db-log-file-portion` pages.
    Blank,
    /// A server start-up banner line (`... started with:`, `Tcp port: ...`, `Time  Id Command  Argument`).
    Banner,
    /// The ` [Your log message was truncated]` line `download-db-log-file-portion` inserts.
    TruncationMarker,
}

/// A line that carries no record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// Where the line starts.
    pub pos: Position,
    /// Its length in bytes, line end included.
    pub len: u64,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// One unit of parser output.
// Events are large but short-lived and never stored in bulk; boxing them would allocate per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    /// A parsed record.
    Event(Event<'a>),
    /// A record that could not be parsed.
    Malformed(Malformed<'a>),
    /// A line that is no record (blank, banner, truncation marker).
    Skipped(Skipped),
}

impl Item<'_> {
    /// Where the item starts.
    #[must_use]
    pub fn pos(&self) -> Position {
        match self {
            Item::Event(e) => e.pos,
            Item::Malformed(m) => m.pos,
            Item::Skipped(s) => s.pos,
        }
    }
}

/// A line of the buffer: its text without the line end, and where the next line starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    pub(crate) start: usize,
    /// The text without `\n` and without a trailing `\r`.
    pub(crate) text: &'a [u8],
    /// Offset of the next line (past the `\n`), or the buffer end for a final line without `\n`.
    pub(crate) next: usize,
}

/// What is at an offset of the buffer.
pub(crate) enum Peek<'a> {
    Line(Line<'a>),
    /// A partial line at the end of a buffer that is not the end of the input.
    Incomplete,
    /// The end of the input.
    End,
}

/// The parsing position inside one buffer.
pub(crate) struct Cursor<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) at: usize,
    pub(crate) line: u64,
    pub(crate) base: u64,
    pub(crate) eof: bool,
}

impl<'a> Cursor<'a> {
    pub(crate) fn peek(&self, at: usize) -> Peek<'a> {
        let Some(rest) = self.buf.get(at..).filter(|r| !r.is_empty()) else {
            return if self.eof { Peek::End } else { Peek::Incomplete };
        };
        match memchr::memchr(b'\n', rest) {
            Some(nl) => {
                let text = rest.get(..nl).unwrap_or_default();
                Peek::Line(Line { start: at, text: common::strip_cr(text), next: at + nl + 1 })
            }
            None if self.eof => Peek::Line(Line { start: at, text: common::strip_cr(rest), next: self.buf.len() }),
            None => Peek::Incomplete,
        }
    }

    pub(crate) fn pos(&self) -> Position {
        Position { byte: self.base + self.at as u64, line: self.line }
    }

    /// The bytes from the cursor to `end`.
    pub(crate) fn slice(&self, end: usize) -> &'a [u8] {
        self.buf.get(self.at..end).unwrap_or_default()
    }

    /// Moves the cursor to `end`, which is `lines` lines further.
    pub(crate) fn advance(&mut self, end: usize, lines: u64) {
        self.at = end;
        self.line += lines;
    }

    /// Emits the line at the cursor as skipped and moves past it.
    pub(crate) fn skip(&mut self, l: Line<'a>, reason: SkipReason) -> Item<'a> {
        let pos = self.pos();
        self.advance(l.next, 1);
        Item::Skipped(Skipped { pos, len: (l.next - l.start) as u64, reason })
    }

    /// Emits the bytes from the cursor to `end` (spanning `lines` lines) as malformed.
    pub(crate) fn malformed(&mut self, end: usize, lines: u64, reason: Reason) -> Item<'a> {
        let pos = self.pos();
        let raw = self.slice(end);
        self.advance(end, lines);
        Item::Malformed(Malformed { pos, reason, raw: raw.into(), len: raw.len() as u64 })
    }
}

/// True for a line that is blank (only spaces, tabs or a CR).
pub(crate) fn is_blank(text: &[u8]) -> bool {
    text.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// The truncation marker of `download-db-log-file-portion`.
pub(crate) const TRUNCATION_MARKER: &[u8] = b" [Your log message was truncated]";

pub(crate) fn is_truncation_marker(text: &[u8]) -> bool {
    // Trimmed, a marker starts with `[`: any other first byte rules a line out at once.
    if text.first().is_none_or(|b| *b != b'[' && !b.is_ascii_whitespace()) {
        return false;
    }
    text == TRUNCATION_MARKER || text.trim_ascii() == TRUNCATION_MARKER.trim_ascii()
}

/// A server start-up banner line of the general and slow logs (also written into error logs of some builds).
pub(crate) fn is_banner(text: &[u8]) -> bool {
    // Every banner line ends with a colon (`... started with:`) or begins with a T (`Tcp port:`, `TCP Port:`,
    // `Time`): most lines are ruled out by their two ends.
    if text.last() != Some(&b':') && !matches!(text.first(), Some(b'T' | b't')) {
        return false;
    }
    if text.ends_with(b"started with:") && memchr::memmem::find(text, b", Version: ").is_some() {
        return true;
    }
    // `Tcp port: 3306  Unix socket: ...`; Windows builds write `TCP Port: 3306, Named Pipe: (null)`.
    if text.get(..10).is_some_and(|p| p.eq_ignore_ascii_case(b"Tcp port: ")) {
        return true;
    }
    if let Some(rest) = text.strip_prefix(b"Time") {
        let words: Vec<&[u8]> = rest.split(|b| *b == b' ' || *b == b'\t').filter(|w| !w.is_empty()).collect();
        return words == [&b"Id"[..], b"Command", b"Argument"];
    }
    false
}

#[derive(Debug, Default)]
enum State {
    Audit(audit::State),
    General(general::State),
    Slow(slow::State),
    Error(errorlog::State),
    #[default]
    Unset,
}

/// An incremental parser for one input of one format. It keeps the little state records depend on (the
/// last timestamp of legacy general and slow logs), so feed it the buffers of one input in order.
///
/// ```
/// use auditlog_core::{EventKind, Format, Item, Parser, Position};
/// let log = b"1536652826127350,dv-mysql,alyjak,192.168.169.108,8426327,0,FAILED_CONNECT,,,1045\n";
/// let mut parser = Parser::new(Format::Audit);
/// let items: Vec<Item> = parser.records(log, Position::START, true).collect();
/// let Item::Event(ev) = &items[0] else { panic!() };
/// assert_eq!(ev.kind, EventKind::FailedConnect);
/// assert_eq!(ev.user.as_deref(), Some(&b"alyjak"[..]));
/// assert_eq!(ev.retcode, Some(1045));
/// ```
#[derive(Debug)]
pub struct Parser {
    format: Format,
    state: State,
}

impl Parser {
    /// A parser for `format`.
    #[must_use]
    pub fn new(format: Format) -> Self {
        let state = match format {
            Format::Audit => State::Audit(audit::State),
            Format::General => State::General(general::State::default()),
            Format::Slow => State::Slow(slow::State::default()),
            Format::Error => State::Error(errorlog::State),
        };
        Parser { format, state }
    }

    /// The format this parser reads.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// Parses the records of `buf`, whose first byte is at `start` in the input. With `eof` false the
    /// iterator stops before a record that might continue in the next buffer; [`Records::consumed`] then
    /// tells how many bytes were used.
    #[must_use = "the iterator does nothing unless consumed"]
    pub fn records<'p, 'a>(&'p mut self, buf: &'a [u8], start: Position, eof: bool) -> Records<'p, 'a> {
        Records { parser: self, cur: Cursor { buf, at: 0, line: start.line, base: start.byte, eof } }
    }
}

/// Iterator over the items of one buffer; see [`Parser::records`].
pub struct Records<'p, 'a> {
    parser: &'p mut Parser,
    cur: Cursor<'a>,
}

impl Records<'_, '_> {
    /// Bytes of the buffer consumed so far.
    #[must_use]
    pub fn consumed(&self) -> usize {
        self.cur.at
    }

    /// The input position of the first unconsumed byte.
    #[must_use]
    pub fn position(&self) -> Position {
        self.cur.pos()
    }
}

impl<'a> Iterator for Records<'_, 'a> {
    type Item = Item<'a>;
    fn next(&mut self) -> Option<Item<'a>> {
        match &mut self.parser.state {
            State::Audit(s) => audit::step(s, &mut self.cur),
            State::General(s) => general::step(s, &mut self.cur),
            State::Slow(s) => slow::step(s, &mut self.cur),
            State::Error(s) => errorlog::step(s, &mut self.cur),
            State::Unset => None,
        }
    }
}
