//! Errors: fatal [`Error`]s that stop reading an input, and [`Malformed`] records that are reported and skipped.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use crate::event::Position;

/// Why a record could not be parsed. Open for additions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The record does not start with a timestamp this format knows.
    BadTimestamp,
    /// A required field is missing or not of its type; names the field.
    BadField(&'static str),
    /// The record does not have the layout of its format at all.
    UnknownLayout,
    /// Lines that belong to no record: continuation lines before the first record of an input.
    Orphan,
    /// A record longer than the configured limit; its bytes were skipped up to the next line end.
    TooLong,
    /// A record cut off by a ` [Your log message was truncated]` download marker that could not be parsed.
    Truncated,
    /// Bytes that are not text (NUL or other control bytes outside quoted SQL).
    Binary,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::BadTimestamp => f.write_str("no valid timestamp at the start of the record"),
            Reason::BadField(name) => write!(f, "missing or invalid field `{name}`"),
            Reason::UnknownLayout => f.write_str("line does not have the layout of this log format"),
            Reason::Orphan => f.write_str("continuation lines without a record start (input begins mid-record)"),
            Reason::TooLong => f.write_str("record exceeds the maximum record size; skipped to the next line"),
            Reason::Truncated => f.write_str("record cut off by a download truncation marker"),
            Reason::Binary => f.write_str("binary data (control bytes) instead of text"),
        }
    }
}

/// A record that could not be parsed: where, why, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed<'a> {
    /// Where the record starts.
    pub pos: Position,
    /// Why it was rejected.
    pub reason: Reason,
    /// The record's bytes (may be shortened for records over the size limit).
    pub raw: Cow<'a, [u8]>,
    /// Total length in bytes of the rejected record.
    pub len: u64,
}

impl Malformed<'_> {
    /// What to show of the record: its first `max` bytes, with everything from the first word that may introduce a
    /// secret on replaced by `<redacted>` ([`crate::redact::redact_unparsed`]: the record could not be parsed,
    /// so nothing says where a secret would end).
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use auditlog_core::{Malformed, Position, Reason};
    /// let raw = &b"2024-06-15 10:00 Query SET PASSWORD = 'S3cret'"[..];
    /// let m = Malformed { pos: Position::default(), reason: Reason::BadTimestamp, raw: Cow::Borrowed(raw), len: 47 };
    /// assert_eq!(&*m.redacted_head(40), b"2024-06-15 10:00 Query SET PASSWORD <redacted>");
    /// assert_eq!(&*m.redacted_head(30), b"2024-06-15 10:00 Query SET PAS");
    /// ```
    #[must_use]
    pub fn redacted_head(&self, max: usize) -> Cow<'_, [u8]> {
        crate::redact::redact_unparsed(self.raw.get(..max.min(self.raw.len())).unwrap_or_default())
    }

    /// Copies the borrowed bytes.
    #[must_use]
    pub fn into_owned(self) -> Malformed<'static> {
        Malformed { pos: self.pos, reason: self.reason, raw: Cow::Owned(self.raw.into_owned()), len: self.len }
    }
}

/// What a fatal error is about.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading failed.
    Io(std::io::Error),
    /// The format could not be recognised from the content; names what was looked at.
    UnknownFormat,
    /// `--strict`: the first malformed record.
    Malformed(Reason),
    /// A value given by the caller (time, format name, ...) is invalid.
    InvalidArgument(String),
}

/// A fatal error, with the input and position it happened at when known.
#[derive(Debug)]
pub struct Error {
    kind: Box<ErrorKind>,
    path: Option<PathBuf>,
    pos: Option<Position>,
}

impl Error {
    /// Makes an error of this kind, without location.
    #[must_use]
    pub fn new(kind: ErrorKind) -> Self {
        Error { kind: Box::new(kind), path: None, pos: None }
    }

    /// Attaches the input path.
    #[must_use]
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Attaches a position.
    #[must_use]
    pub fn with_pos(mut self, pos: Position) -> Self {
        self.pos = Some(pos);
        self
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The input it happened in, if known.
    #[must_use]
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// Where in the input, if known.
    #[must_use]
    pub fn position(&self) -> Option<Position> {
        self.pos
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}", p.display())?;
            if let Some(pos) = self.pos {
                write!(f, ":{}", pos.line)?;
            }
            f.write_str(": ")?;
        } else if let Some(pos) = self.pos {
            write!(f, "line {}: ", pos.line)?;
        }
        match &*self.kind {
            ErrorKind::Io(e) => write!(f, "{e}"),
            ErrorKind::UnknownFormat => f.write_str(
                "cannot tell which log format this is (audit, general, slow or error); name it with --format",
            ),
            ErrorKind::Malformed(r) => write!(f, "malformed record: {r}"),
            ErrorKind::InvalidArgument(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io(e))
    }
}
