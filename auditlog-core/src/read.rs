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
    /// skipped to the next line end. Memory use is bounded by about this plus a few blocks of
    /// [`ReadOptions::block_size`] (the parallel engine reads one while up to four are parsed or wait to be
    /// merged).
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
    /// The block size the parallel engine (analysis, queries, digests) reads with: large enough that a block
    /// splits into a few chunks per thread, small enough that the blocks being read and parsed at once stay a
    /// small part of the memory.
    pub const ENGINE_BLOCK_SIZE: usize = 4 << 20;

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
    let Some(mut sc) = Scanner::new(reader, opts)? else {
        return Ok(ReadSummary { format: opts.format, ..ReadSummary::default() });
    };
    let mut counts = ReadSummary::default();
    let mut count = |item: &Item<'_>| match item {
        Item::Event(_) => counts.records += 1,
        Item::Malformed(_) => counts.malformed += 1,
        Item::Skipped(_) => counts.skipped += 1,
    };
    let format = sc.format();
    while let Some(piece) = sc.next_piece()? {
        match piece {
            Piece::Block { data, start } => {
                let mut parser = Parser::new(format);
                let mut stopped = false;
                for item in parser.records(&data, start, true) {
                    count(&item);
                    if sink(item).is_break() {
                        stopped = true;
                        break;
                    }
                }
                // The block's lines count as read even when the sink stopped inside it.
                sc.block_lines(memchr::memchr_iter(b'\n', &data).count() as u64);
                if stopped {
                    return Ok(sc.summary(counts));
                }
                sc.recycle(data);
            }
            Piece::Items(items) => {
                for item in items {
                    count(&item);
                    if sink(item).is_break() {
                        return Ok(sc.summary(counts));
                    }
                }
            }
        }
    }
    Ok(sc.summary(counts))
}

/// Reads until `buf` holds at least `want` bytes or the input ends (true). Reads into the spare capacity
/// (`read_to_end` through `take`), so the buffer is never zeroed first. On error, what was read stays in `buf`.
fn fill<R: Read>(r: &mut R, buf: &mut Vec<u8>, want: usize, summary: &mut ReadSummary) -> Result<bool, Error> {
    let Some(need) = want.checked_sub(buf.len()).filter(|n| *n > 0) else { return Ok(false) };
    buf.reserve(need);
    let old = buf.len();
    let res = r.by_ref().take(need as u64).read_to_end(buf);
    summary.bytes += (buf.len() - old) as u64;
    match res {
        Ok(n) => Ok(n < need),
        Err(e) => Err(e.into()),
    }
}

/// A unit of work handed out by the [`Scanner`].
pub(crate) enum Piece {
    /// Whole records starting at a chunk boundary (or the input start): parse with a fresh [`Parser`], in one
    /// go or split further with [`crate::chunk::split`]. Say how many lines it held with [`Scanner::block_lines`]
    /// before asking for the next piece, and give the buffer back with [`Scanner::recycle`].
    Block {
        /// The bytes.
        data: Vec<u8>,
        /// Where they start in the input.
        start: Position,
    },
    /// Items already parsed sequentially: the rare stretch without a chunk boundary within the record-size
    /// limit (a giant record, or a log without boundaries), including [`Reason::TooLong`] reports.
    Items(Vec<Item<'static>>),
}

/// Cuts an input into [`Piece`]s of whole records, in bounded memory. Used by [`read`] and by the parallel
/// analysis, so both see exactly the same records. Blocks are handed out as owned buffers, so the caller can
/// parse one while the scanner reads the next; spent buffers come back through [`Scanner::recycle`] and
/// are reused.
pub(crate) struct Scanner<'r> {
    r: Box<dyn Read + 'r>,
    opts: ReadOptions,
    format: Format,
    /// The bytes read and not yet handed out, starting at `pos`.
    buf: Vec<u8>,
    /// Buffers given back, for reuse.
    spare: Vec<Vec<u8>>,
    eof: bool,
    pos: Position,
    /// True from handing out a block until the caller says how many lines it held.
    awaiting_lines: bool,
    /// Line ends handed out so far.
    newlines: u64,
    /// State for sequential stretches; `None` when the buffer starts at a boundary.
    fallback: Option<Parser>,
    summary: ReadSummary,
    /// The last byte read so far (a final line without a line end still counts as a line).
    last_byte: Option<u8>,
    /// A read error met after some data: the complete lines before it are handed out first, then it is returned.
    pending: Option<Error>,
}

impl<'r> Scanner<'r> {
    /// Opens `reader` (gzip detected by magic bytes) and sniffs the format unless given. `None` for an empty
    /// input.
    pub(crate) fn new<R: Read + 'r>(reader: R, opts: &ReadOptions) -> Result<Option<Self>, Error> {
        let mut br = BufReader::with_capacity(64 << 10, reader);
        let gz = br.fill_buf().map_err(|e| Error::from(e).with_pos(Position::START))?.starts_with(&[0x1f, 0x8b]);
        let mut r: Box<dyn Read + 'r> = if gz { Box::new(Gz::new(br)) } else { Box::new(br) };
        let mut summary = ReadSummary::default();
        let mut buf = Vec::with_capacity(opts.block_size.max(SNIFF_BYTES));
        // The first read is SNIFF_BYTES whatever the block size (later reads fill up to a block), so the bytes
        // sniffed, and a read error met before the format is known, do not depend on the block size.
        let (eof, pending) = match fill(&mut r, &mut buf, SNIFF_BYTES, &mut summary) {
            Ok(eof) => (eof, None),
            Err(e) => (true, Some(broken_off(e, &mut buf, Position::START, &summary))),
        };
        if buf.is_empty() {
            if let Some(e) = pending {
                return Err(e);
            }
            if eof {
                return Ok(None);
            }
        }
        let format = match opts.format {
            Some(f) => f,
            None => sniff(buf.get(..SNIFF_BYTES.min(buf.len())).unwrap_or_default())
                .ok_or_else(|| Error::new(ErrorKind::UnknownFormat))?,
        };
        summary.format = Some(format);
        let last_byte = buf.last().copied();
        Ok(Some(Scanner {
            r,
            opts: opts.clone(),
            format,
            buf,
            spare: Vec::new(),
            eof,
            pos: Position::START,
            awaiting_lines: false,
            newlines: 0,
            fallback: None,
            last_byte,
            summary,
            pending,
        }))
    }

    /// Reads until the buffer holds `want` bytes or the input ends (true). A read error ends the input too: it
    /// is kept and returned by [`Scanner::next_piece`] once the complete lines read before it are handed out.
    fn refill(&mut self, want: usize) -> Result<bool, Error> {
        if self.pending.is_some() {
            return Ok(true);
        }
        let eof = match fill(&mut self.r, &mut self.buf, want, &mut self.summary) {
            Ok(eof) => eof,
            Err(e) => {
                self.pending = Some(broken_off(e, &mut self.buf, self.pos, &self.summary));
                true
            }
        };
        if let Some(b) = self.buf.last() {
            self.last_byte = Some(*b);
        }
        Ok(eof)
    }

    pub(crate) fn format(&self) -> Format {
        self.format
    }

    /// The byte and line counts read so far, with the item counts the caller kept.
    pub(crate) fn summary(&self, counts: ReadSummary) -> ReadSummary {
        let mut s = self.summary;
        s.records = counts.records;
        s.malformed = counts.malformed;
        s.skipped = counts.skipped;
        // Lines handed out, and those read but not handed out (an early stop).
        s.lines = self.newlines + memchr::memchr_iter(b'\n', &self.buf).count() as u64;
        // A final line without a line end still counts as a line.
        if self.eof && self.last_byte.is_some_and(|b| b != b'\n') {
            s.lines += 1;
        }
        s
    }

    /// Hands out the first `n` bytes as a block; the rest moves to a (reused) buffer of its own.
    fn hand_out(&mut self, n: usize) -> Piece {
        let start = self.pos;
        let mut next = self.spare.pop().unwrap_or_default();
        next.clear();
        next.reserve(self.opts.block_size.max(self.buf.len().saturating_sub(n)));
        next.extend_from_slice(self.buf.get(n..).unwrap_or_default());
        let mut data = std::mem::replace(&mut self.buf, next);
        data.truncate(n);
        self.pos.byte += n as u64;
        self.awaiting_lines = true;
        self.fallback = None;
        Piece::Block { data, start }
    }

    /// Says how many line ends the block handed out last held: the caller counts them while splitting or
    /// parsing it, so they are counted once. Must come before the next [`Scanner::next_piece`].
    pub(crate) fn block_lines(&mut self, lines: u64) {
        if self.awaiting_lines {
            self.pos.line += lines;
            self.newlines += lines;
            self.awaiting_lines = false;
        }
    }

    /// Takes back the buffer of a block handed out, for reuse.
    pub(crate) fn recycle(&mut self, mut data: Vec<u8>) {
        // Keep a buffer or two of the usual size; one grown by a giant record is let go.
        if self.spare.len() < 2 && data.capacity() <= 2 * self.opts.block_size.max(SNIFF_BYTES) {
            data.clear();
            self.spare.push(data);
        }
    }

    /// The next piece, or `None` at the end of the input.
    pub(crate) fn next_piece(&mut self) -> Result<Option<Piece>, Error> {
        debug_assert!(!self.awaiting_lines, "block_lines must follow every block");
        loop {
            if self.buf.is_empty() && self.eof {
                return match self.pending.take() {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            }
            if !self.eof && self.buf.len() < self.opts.block_size {
                self.eof = self.refill(self.opts.block_size)?;
                continue;
            }
            if self.fallback.is_none() {
                if self.eof {
                    let n = self.buf.len();
                    return Ok(Some(self.hand_out(n)));
                }
                if let Some(cut) = crate::chunk::last_boundary(self.format, &self.buf, usize::MAX) {
                    return Ok(Some(self.hand_out(cut)));
                }
                if self.buf.len() < self.opts.max_record {
                    // No boundary yet: read more, growing geometrically so rescans stay linear. By four: the
                    // buffers left behind by growing sum to a third of the last one, which matters with an
                    // allocator that returns freed memory to the system only after a while (mimalloc's CLI build:
                    // a 200 MB line took 146 MB by doubling, 95 MB so).
                    let want =
                        (self.buf.len() * 4).max(self.buf.len() + self.opts.block_size).min(self.opts.max_record);
                    self.eof = self.refill(want)?;
                    continue;
                }
            }
            return self.sequential().map(Some);
        }
    }

    /// Parses sequentially what is complete in the buffer; reports and skips a record over the limit.
    fn sequential(&mut self) -> Result<Piece, Error> {
        let parser = self.fallback.get_or_insert_with(|| Parser::new(self.format));
        let (items, consumed, next) = {
            let mut recs = parser.records(&self.buf, self.pos, self.eof);
            let items: Vec<Item<'static>> = (&mut recs).map(into_owned).collect();
            (items, recs.consumed(), recs.position())
        };
        self.newlines += memchr::memchr_iter(b'\n', self.buf.get(..consumed).unwrap_or_default()).count() as u64;
        self.buf.drain(..consumed);
        self.pos = next;
        if consumed > 0 || self.eof {
            self.after_sequential();
            return Ok(Piece::Items(items));
        }
        if self.buf.len() < self.opts.max_record {
            let want = (self.buf.len() * 4).max(self.buf.len() + self.opts.block_size).min(self.opts.max_record);
            self.eof = self.refill(want)?;
            return Ok(Piece::Items(items));
        }
        // One record longer than the limit: report it and drop bytes up to the next line end.
        let pos = self.pos;
        let snippet = self.buf.get(..256.min(self.buf.len())).unwrap_or_default().to_vec();
        let mut len = 0u64;
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf) {
                len += nl as u64 + 1;
                self.newlines += 1;
                self.buf.drain(..=nl);
                break;
            }
            len += self.buf.len() as u64;
            self.buf.clear();
            if self.refill(self.opts.block_size)? {
                self.eof = true;
                // The last read may still have brought the rest of the line: only stop on an empty buffer.
                if self.buf.is_empty() {
                    break;
                }
            }
        }
        self.pos = Position { byte: pos.byte + len, line: pos.line + 1 };
        // The parser state of the skipped record is meaningless now: start afresh.
        self.fallback = None;
        self.after_sequential();
        Ok(Piece::Items(vec![Item::Malformed(Malformed {
            pos,
            reason: Reason::TooLong,
            raw: Cow::Owned(snippet),
            len,
        })]))
    }

    /// Leaves sequential mode once the buffer starts at a chunk boundary again.
    fn after_sequential(&mut self) {
        let first = self.buf.get(..memchr::memchr(b'\n', &self.buf).unwrap_or(self.buf.len())).unwrap_or_default();
        if self.fallback.is_some()
            && crate::chunk::is_boundary(self.format, first)
            && memchr::memchr(b'\n', &self.buf).is_some()
        {
            self.fallback = None;
        }
    }
}

/// A read error in the middle of an input: drops the incomplete line at the end of `buf` (its bytes are not
/// trustworthy, and the error names it) and locates the error at that line.
fn broken_off(e: Error, buf: &mut Vec<u8>, buf_start: Position, read_so_far: &ReadSummary) -> Error {
    buf.truncate(memchr::memrchr(b'\n', buf).map_or(0, |i| i + 1));
    let line = buf_start.line + memchr::memchr_iter(b'\n', buf).count() as u64;
    e.with_pos(Position { byte: read_so_far.bytes, line })
}

/// Bytes the gzip decoder writes per call. flate2 drops what it decoded in the call that meets corrupt data, so
/// this bounds the good text lost before a corrupt point; and as the decoder always gets a buffer of this size,
/// where the readable part ends does not depend on the sizes the caller reads (block size, threads).
const GZ_CHUNK: usize = 8 << 10;

/// A gzip decoder whose errors say what happened and what to do: the stream is cut short or corrupt. It
/// decodes into a buffer of its own of [`GZ_CHUNK`] bytes and serves reads from it.
struct Gz<R> {
    dec: flate2::bufread::MultiGzDecoder<R>,
    buf: Box<[u8]>,
    /// The decoded bytes not yet read are `buf[start..end]`.
    start: usize,
    end: usize,
}

impl<R: BufRead> Gz<R> {
    fn new(r: R) -> Self {
        Gz { dec: flate2::bufread::MultiGzDecoder::new(r), buf: vec![0; GZ_CHUNK].into_boxed_slice(), start: 0, end: 0 }
    }
}

impl<R: BufRead> Read for Gz<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.start >= self.end {
            let n = self.dec.read(&mut self.buf).map_err(|e| {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    return e;
                }
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "the gzip data is cut short or corrupt ({e}); the records before this line were read: \
                         download or copy the file again to read the rest"
                    ),
                )
            })?;
            (self.start, self.end) = (0, n);
        }
        // `Read for &[u8]` copies as much as both hold.
        let n = self.buf.get(self.start..self.end).unwrap_or_default().read(out)?;
        self.start += n;
        Ok(n)
    }
}

fn into_owned(item: Item<'_>) -> Item<'static> {
    match item {
        Item::Event(e) => Item::Event(e.into_owned()),
        Item::Malformed(m) => Item::Malformed(m.into_owned()),
        Item::Skipped(s) => Item::Skipped(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_gzip_stream_is_an_error_at_the_line_it_ends_in() {
        use std::io::Write;
        let mut log = String::new();
        for i in 0..3000 {
            log.push_str(&format!("20240101 10:00:00,s,u,h,{i},0,CONNECT,,,0\n"));
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(log.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let mut last_line = 0;
        let err = read(&gz[..gz.len() / 2], &ReadOptions::default().with_block_size(1000), |i| {
            last_line = i.pos().line;
            ControlFlow::Continue(())
        })
        .unwrap_err();
        // The records of every complete line before the cut are handed out first, even when the cut comes
        // before the first block is full (it lost them all).
        let pos = err.position().unwrap();
        assert!(last_line > 100, "records before the cut: {last_line}");
        assert_eq!(pos.line, last_line + 1, "the error names the line that was cut");
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("line {}: the gzip data is cut short or corrupt", pos.line)), "{msg}");
        assert!(msg.contains("download or copy the file again"), "{msg}");
    }

    /// A gzip member holding `text` whose deflate data is followed by an invalid block type (BFINAL=1,
    /// BTYPE=11): deflate decodes most damage into garbage, but this is an error at a known place.
    fn gzip_then_corrupt(text: &[u8]) -> Vec<u8> {
        let mut c = flate2::Compress::new(flate2::Compression::default(), false);
        let mut deflate = Vec::with_capacity(text.len());
        c.compress_vec(text, &mut deflate, flate2::FlushCompress::Sync).unwrap();
        assert_eq!(c.total_in(), text.len() as u64);
        let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        gz.extend_from_slice(&deflate);
        gz.push(0x07);
        gz
    }

    #[test]
    fn a_corrupt_gzip_stream_past_the_sniffed_bytes_gives_one_error_whatever_the_block_size() {
        // Found by the `digest` fuzz target: the first read filled a whole block, so with 1 MiB blocks it met
        // the corrupt data (and, no line being complete, reported it) while 64 KiB blocks sniffed the text first
        // and reported an unknown format. The first read is now SNIFF_BYTES for every block size.
        let text = vec![b'x'; 3 * SNIFF_BYTES];
        let gz = gzip_then_corrupt(&text);
        let run = |block: usize| {
            let err = read(&gz[..], &ReadOptions::default().with_block_size(block), |_| ControlFlow::Continue(()));
            err.unwrap_err().to_string()
        };
        let small = run(545);
        assert!(small.contains("cannot tell which log format"), "{small}");
        for block in [SNIFF_BYTES, SNIFF_BYTES + 1, 1 << 20] {
            assert_eq!(run(block), small, "block size {block}");
        }
    }

    #[test]
    fn a_corrupt_gzip_stream_ends_at_the_same_line_whatever_the_block_size() {
        // Found by the `digest` fuzz target: flate2 drops what it decoded in the read that meets corrupt data,
        // and the reader asked for up to a block at a time, so 1 MiB blocks lost more good lines than small
        // ones (and up to a block of them). The decoder now always writes GZ_CHUNK bytes at a time.
        let mut log = String::new();
        for i in 0..20_000 {
            log.push_str(&format!("20240101 10:00:00,s,u,h,{i},0,CONNECT,,,0\n"));
        }
        let gz = gzip_then_corrupt(log.as_bytes());
        // What a decoder asked for one byte at a time reads before the error: the most flate2 hands out (it
        // still keeps back what it decoded into its window and had not copied out).
        let mut dec = flate2::read::MultiGzDecoder::new(&gz[..]);
        let (mut good, mut byte) = (Vec::new(), [0u8]);
        while let Ok(1) = dec.read(&mut byte) {
            good.push(byte[0]);
        }
        let good_lines = memchr::memchr_iter(b'\n', &good).count() as u64;
        assert!(good_lines > 19_000 && good_lines < 20_000, "{good_lines}");
        let run = |block: usize| {
            let mut records = 0u64;
            let err = read(&gz[..], &ReadOptions::default().with_block_size(block), |_| {
                records += 1;
                ControlFlow::Continue(())
            })
            .unwrap_err();
            (records, err.to_string())
        };
        let small = run(64);
        for block in [1000, 4096, 100_000, 1 << 20] {
            assert_eq!(run(block), small, "block size {block}");
        }
        // At most GZ_CHUNK bytes of good text (and the line they end in) are lost.
        let line_len = log.len() as u64 / 20_000;
        assert!(small.0 + (GZ_CHUNK as u64 / line_len) + 1 >= good_lines, "{} of {good_lines}", small.0);
        assert!(
            small.1.starts_with(&format!("line {}: the gzip data is cut short or corrupt", small.0 + 1)),
            "{}",
            small.1
        );
    }

    #[test]
    fn a_sink_that_stops_early_still_gets_the_lines_and_bytes_read() {
        let log = "20240101 10:00:00,s,u,h,1,0,CONNECT,,,0\n".repeat(50);
        let mut seen = 0;
        let summary = read(log.as_bytes(), &ReadOptions::default(), |_| {
            seen += 1;
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(seen, 1);
        assert_eq!((summary.records, summary.bytes, summary.lines), (1, log.len() as u64, 50));
    }

    #[test]
    fn growth_near_the_record_limit_does_not_panic() {
        // A partial record a little under `max_record` with `block_size` taking it over the limit: growing the
        // buffer must stop at the limit (it used `clamp(len + block, max)`, which panics when min > max). The
        // rest of the long record arrives in the same read as the end of input: it is skipped with the record
        // (it was left behind and reported as a second, BadTimestamp record).
        let mut log = String::new();
        for i in 0..2000 {
            log.push_str(&format!("20240101 10:00:00,s,u,h,{i},0,CONNECT,,,0\n"));
        }
        log.push_str(&format!("20240101 10:00:01,s,u,h,1,2,QUERY,,'{}',0\n", "x".repeat(3000)));
        log.push_str("20240101 10:00:03,s,u,h,1,0,DISCONNECT,,,0\n");
        let opts = ReadOptions::default().with_format(Some(Format::Audit)).with_block_size(1000).with_max_record(1024);
        let mut reasons = Vec::new();
        let summary = read(log.as_bytes(), &opts, |i| {
            if let Item::Malformed(m) = i {
                reasons.push(m.reason);
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(reasons, [Reason::TooLong]);
        assert_eq!((summary.records, summary.lines), (2001, 2002));
    }
}
