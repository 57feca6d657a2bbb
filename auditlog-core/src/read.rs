//! Streaming: reads any `Read` (gzip transparently) through a bounded buffer and hands every item to a sink.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;

use crate::error::{Error, ErrorKind, Malformed, Reason};
use crate::event::Position;
use crate::format::{sniff, Format, Item, Parser};

/// Reading options.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The format, or `None` to sniff it from the first 64 KiB.
    pub format: Option<Format>,
    /// The largest record kept in memory, in bytes; longer ones are reported as [`Reason::TooLong`] and
    /// skipped to the next line end. Memory use is bounded by about this plus [`ReadOptions::block_size`].
    pub max_record: usize,
    /// How many bytes are read at a time.
    pub block_size: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { format: None, max_record: 64 << 20, block_size: 1 << 20 }
    }
}

impl ReadOptions {
    /// Sets the format instead of sniffing it.
    #[must_use]
    pub fn with_format(mut self, format: Option<Format>) -> Self {
        self.format = format;
        self
    }

    /// Sets the maximum record size.
    #[must_use]
    pub fn with_max_record(mut self, bytes: usize) -> Self {
        self.max_record = bytes.max(1024);
        self
    }

    /// Sets the read block size.
    #[must_use]
    pub fn with_block_size(mut self, bytes: usize) -> Self {
        self.block_size = bytes.max(64);
        self
    }
}

/// What one read saw. Every byte of the input is in exactly one event, malformed record or skipped line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReadSummary {
    /// The format used (given or sniffed); `None` for an empty input.
    pub format: Option<Format>,
    /// Bytes read (after gzip decompression).
    pub bytes: u64,
    /// Records parsed into events.
    pub records: u64,
    /// Records reported as malformed.
    pub malformed: u64,
    /// Lines skipped (blank, banner, truncation marker).
    pub skipped: u64,
    /// Lines in the input.
    pub lines: u64,
}

impl std::ops::AddAssign for ReadSummary {
    fn add_assign(&mut self, o: Self) {
        self.format = self.format.or(o.format);
        self.bytes += o.bytes;
        self.records += o.records;
        self.malformed += o.malformed;
        self.skipped += o.skipped;
        self.lines += o.lines;
    }
}

const SNIFF_BYTES: usize = 64 << 10;

/// Reads `reader` to the end (or until `sink` breaks), parsing with the given or sniffed format. gzip input is
/// recognised by its magic bytes and decompressed on the fly.
///
/// ```
/// use std::ops::ControlFlow;
/// use auditlog_core::{read, Item, ReadOptions};
/// let log = &b"20240615 10:32:00,ip-10-0-0-6,baduser,203.0.113.7,44,0,FAILED_CONNECT,,,1045,SSL\n\ngarbage\n"[..];
/// let mut users = Vec::new();
/// let summary = read(log, &ReadOptions::default(), |item| {
///     if let Item::Event(e) = item {
///         users.push(e.user.map(|u| u.into_owned()));
///     }
///     ControlFlow::Continue(())
/// })?;
/// assert_eq!(users, [Some(b"baduser".to_vec())]);
/// assert_eq!((summary.records, summary.malformed, summary.skipped), (1, 1, 1));
/// # Ok::<(), auditlog_core::Error>(())
/// ```
pub fn read<R, F>(reader: R, opts: &ReadOptions, mut sink: F) -> Result<ReadSummary, Error>
where
    R: Read,
    F: FnMut(Item<'_>) -> ControlFlow<()>,
{
    let mut br = BufReader::with_capacity(64 << 10, reader);
    let gz = br.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    if gz {
        read_plain(flate2::bufread::MultiGzDecoder::new(br), opts, &mut sink)
    } else {
        read_plain(br, opts, &mut sink)
    }
}

/// Reads until `buf` holds at least `want` bytes or the input ends. Returns true at end of input.
fn fill<R: Read>(r: &mut R, buf: &mut Vec<u8>, want: usize, summary: &mut ReadSummary) -> Result<bool, Error> {
    while buf.len() < want {
        let old = buf.len();
        buf.resize(want, 0);
        let n = loop {
            match r.read(buf.get_mut(old..).unwrap_or_default()) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    buf.truncate(old);
                    return Err(e.into());
                }
            }
        };
        buf.truncate(old + n);
        summary.bytes += n as u64;
        summary.lines += memchr::memchr_iter(b'\n', buf.get(old..).unwrap_or_default()).count() as u64;
        if n == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

fn read_plain<R: Read>(
    mut r: R,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(Item<'_>) -> ControlFlow<()>,
) -> Result<ReadSummary, Error> {
    let mut summary = ReadSummary::default();
    let mut buf: Vec<u8> = Vec::with_capacity(opts.block_size.max(SNIFF_BYTES));
    let mut eof = fill(&mut r, &mut buf, opts.block_size.max(SNIFF_BYTES), &mut summary)?;
    if buf.is_empty() && eof {
        summary.format = opts.format;
        return Ok(summary);
    }
    let format = match opts.format {
        Some(f) => f,
        None => sniff(buf.get(..SNIFF_BYTES.min(buf.len())).unwrap_or_default())
            .ok_or_else(|| Error::new(ErrorKind::UnknownFormat))?,
    };
    summary.format = Some(format);
    let mut parser = Parser::new(format);
    let mut pos = Position::START;
    let mut last_line_ended = true;
    loop {
        let (consumed, next) = {
            let mut recs = parser.records(&buf, pos, eof);
            for item in &mut recs {
                match &item {
                    Item::Event(_) => summary.records += 1,
                    Item::Malformed(_) => summary.malformed += 1,
                    Item::Skipped(_) => summary.skipped += 1,
                }
                if sink(item).is_break() {
                    return Ok(summary);
                }
            }
            (recs.consumed(), recs.position())
        };
        if eof {
            last_line_ended = buf.ends_with(b"\n") || buf.is_empty();
            break;
        }
        buf.drain(..consumed);
        pos = next;
        if consumed == 0 && buf.len() >= opts.max_record {
            // One record longer than the limit: report it and drop bytes up to the next line end.
            let snippet = buf.get(..256.min(buf.len())).unwrap_or_default().to_vec();
            let mut len = 0u64;
            loop {
                if let Some(nl) = memchr::memchr(b'\n', &buf) {
                    len += nl as u64 + 1;
                    buf.drain(..=nl);
                    break;
                }
                len += buf.len() as u64;
                buf.clear();
                if fill(&mut r, &mut buf, opts.block_size, &mut summary)? {
                    eof = true;
                    if buf.is_empty() {
                        break;
                    }
                }
            }
            summary.malformed += 1;
            let m = Malformed { pos, reason: Reason::TooLong, raw: Cow::Owned(snippet), len };
            if sink(Item::Malformed(m)).is_break() {
                return Ok(summary);
            }
            pos = Position { byte: pos.byte + len, line: pos.line + 1 };
            if eof && buf.is_empty() {
                break;
            }
            continue;
        }
        // Read at least a block; when a record did not fit, grow geometrically so rescans stay linear.
        let want = buf.len() + opts.block_size.max(if consumed == 0 { buf.len() } else { 0 });
        let cap = opts.max_record.max(buf.len() + opts.block_size);
        eof = fill(&mut r, &mut buf, want.min(cap), &mut summary)?;
    }
    // A final line without a line end still counts as a line.
    if !last_line_ended {
        summary.lines += 1;
    }
    Ok(summary)
}
