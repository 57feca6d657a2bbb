//! The logins of an analysis, successful or failed, in bounded memory.
//!
//! Logins are the facts that grow with the records: an application that connects per request logs a successful
//! one each time, and an attacker decides how many failed ones the log holds (a brute force writes one per
//! guess). The detectors need each of them, not a count: the same login in the audit and the general log is
//! matched by time, a burst is found in the failures' times, and a success right after a burst of failures makes
//! the burst critical. So they are kept, but only up to a memory budget: past it, the logins in memory are
//! sorted by time and written to an unnamed temporary file (a *run*), and the detectors later read all runs
//! merged back in time order. Memory stays at the budget whatever the input size; the disk holds 48 bytes per
//! login.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;

use super::{Ident, Login, Origin};
use crate::event::{LogType, Position};
use crate::time::Timestamp;

/// Bytes of one login on disk.
const RECORD: usize = 48;
/// Runs merged at once: when this many are on disk, they are merged into one, so reading them back needs at
/// most this many read buffers.
const MAX_RUNS: usize = 32;
/// Read buffer per run while merging.
const RUN_BUFFER: usize = 64 << 10;

/// Where and how much: the memory budget of [`LoginStore`] and the folder of its temporary files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpillOptions {
    /// Logins kept in memory before the oldest are written to disk.
    pub(crate) in_memory: usize,
    /// Folder of the temporary files (`None`: the system's, `TMPDIR` on Unix).
    pub(crate) dir: Option<PathBuf>,
}

/// The logins of one kind (successful, or failed and refused) read so far: the latest in memory, the others in
/// sorted runs on disk.
#[derive(Debug, Default)]
pub(crate) struct LoginStore {
    mem: Vec<Login>,
    runs: Vec<Run>,
    /// Logins per log type, to know whether several logs may hold the same login.
    per_log: [u64; 4],
    /// The first failure to write a temporary file (the logins then stay in memory: nothing is lost).
    pub(crate) write_error: Option<String>,
}

#[derive(Debug)]
struct Run {
    file: File,
    len: u64,
}

/// The order the detectors read logins in: time, then input and position (unique per record).
fn key(l: &Login) -> (Timestamp, Origin) {
    (l.ts, l.origin)
}

impl LoginStore {
    pub(crate) fn push(&mut self, l: Login) {
        if let Some(n) = self.per_log.get_mut(l.origin.log as usize) {
            *n += 1;
        }
        self.mem.push(l);
    }

    /// Takes in the logins of a later partial, with `id` mapping its name ids to ours (only partials that never
    /// spilled are merged: the engine's block partials).
    pub(crate) fn absorb(&mut self, later: LoginStore, id: impl Fn(Ident) -> Ident) {
        self.mem.reserve(later.mem.len());
        for l in later.mem {
            self.push(Login { user: id(l.user), host: id(l.host), ..l });
        }
        if self.write_error.is_none() {
            self.write_error = later.write_error;
        }
    }

    /// The log types that hold logins.
    pub(crate) fn logs(&self) -> Vec<LogType> {
        LogType::ALL.into_iter().filter(|l| self.per_log.get(*l as usize).is_some_and(|n| *n > 0)).collect()
    }

    /// Writes the logins in memory to disk when they are more than the budget allows. On failure they stay in
    /// memory (nothing is lost) and the error, naming the logins as `what`, is kept for the report.
    pub(crate) fn spill_if_full(&mut self, o: &SpillOptions, what: &str) {
        if self.mem.len() <= o.in_memory || self.write_error.is_some() {
            return;
        }
        if let Err(e) = self.spill(o) {
            self.write_error = Some(format!("cannot write {what} to a temporary file (kept in memory): {e}"));
        }
    }

    /// Writes the logins in memory as a run; merges the runs into one when there are [`MAX_RUNS`]. A failure
    /// leaves every login where it was (in memory, or in the runs, read from their start again).
    fn spill(&mut self, o: &SpillOptions) -> io::Result<()> {
        self.mem.sort_unstable_by_key(key);
        let run = write_run(o, self.mem.iter().copied())?;
        self.mem.clear();
        self.runs.push(run);
        if self.runs.len() >= MAX_RUNS {
            // Merged through second handles of the files, so the runs stay whole if the merge fails.
            let copies = self.runs.iter().map(Run::try_clone).collect::<io::Result<Vec<_>>>()?;
            let mut merged = Merge::new(copies, Vec::new());
            let res = write_run(o, &mut merged);
            match (res, merged.error.take()) {
                (Ok(run), None) => self.runs = vec![run],
                (Err(e), _) | (Ok(_), Some(e)) => {
                    for r in &mut self.runs {
                        r.file.rewind()?;
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// All logins in time order. A run that cannot be read back is given up from that point (the others and the
    /// logins in memory still come) and the result's `read_error` says so.
    pub(crate) fn into_sorted(mut self) -> Sorted {
        self.mem.sort_unstable_by_key(key);
        let write_error = self.write_error.take();
        Sorted { merge: Merge::new(std::mem::take(&mut self.runs), std::mem::take(&mut self.mem)), write_error }
    }
}

impl Run {
    /// A second handle of the same file (sharing its position).
    fn try_clone(&self) -> io::Result<Run> {
        Ok(Run { file: self.file.try_clone()?, len: self.len })
    }
}

fn write_run(o: &SpillOptions, logins: impl Iterator<Item = Login>) -> io::Result<Run> {
    let file = match &o.dir {
        Some(d) => tempfile::tempfile_in(d)?,
        None => tempfile::tempfile()?,
    };
    let mut w = BufWriter::with_capacity(RUN_BUFFER, file);
    let mut len = 0;
    for l in logins {
        w.write_all(&encode(&l))?;
        len += 1;
    }
    let mut file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.rewind()?;
    Ok(Run { file, len })
}

fn encode(l: &Login) -> [u8; RECORD] {
    let mut b = [0u8; RECORD];
    let flags = (l.origin.log as u8)
        | (u8::from(l.ok) << 2)
        | (u8::from(l.db_denied) << 3)
        | (u8::from(l.conn_id.is_some()) << 4);
    let parts: [&[u8]; 8] = [
        &l.ts.epoch_micros().to_le_bytes(),
        &l.conn_id.unwrap_or(0).to_le_bytes(),
        &l.origin.pos.byte.to_le_bytes(),
        &l.origin.pos.line.to_le_bytes(),
        &l.origin.input.to_le_bytes(),
        &l.user.0.to_le_bytes(),
        &l.host.0.to_le_bytes(),
        &[flags],
    ];
    let mut at = 0;
    for p in parts {
        if let Some(dst) = b.get_mut(at..at + p.len()) {
            dst.copy_from_slice(p);
        }
        at += p.len();
    }
    b
}

fn decode(b: &[u8; RECORD]) -> Login {
    let u64_at = |at: usize| b.get(at..at + 8).and_then(|s| s.try_into().ok()).map_or(0, u64::from_le_bytes);
    let u32_at = |at: usize| b.get(at..at + 4).and_then(|s| s.try_into().ok()).map_or(0, u32::from_le_bytes);
    let flags = b.get(44).copied().unwrap_or(0);
    Login {
        ts: Timestamp::from_epoch_micros(u64_at(0) as i64),
        ok: flags & 4 != 0,
        db_denied: flags & 8 != 0,
        user: Ident(u32_at(36)),
        host: Ident(u32_at(40)),
        conn_id: (flags & 16 != 0).then(|| u64_at(8)),
        origin: Origin {
            input: u32_at(32),
            pos: Position { byte: u64_at(16), line: u64_at(24) },
            log: LogType::ALL.get(usize::from(flags & 3)).copied().unwrap_or(LogType::Audit),
        },
    }
}

/// Reads the logins of a run in order.
struct RunReader {
    r: BufReader<File>,
    left: u64,
}

impl RunReader {
    fn next(&mut self) -> io::Result<Option<Login>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut b = [0u8; RECORD];
        self.r.read_exact(&mut b)?;
        self.left -= 1;
        Ok(Some(decode(&b)))
    }
}

/// A k-way merge of sorted runs and the sorted logins still in memory. A run that fails to read is given up
/// from there, and the first such error kept.
struct Merge {
    runs: Vec<RunReader>,
    mem: std::vec::IntoIter<Login>,
    /// The next login of each source (runs, then memory at index `runs.len()`), smallest key first.
    heads: BinaryHeap<Reverse<((Timestamp, Origin), usize)>>,
    next: Vec<Option<Login>>,
    error: Option<io::Error>,
}

impl Merge {
    fn new(runs: Vec<Run>, mem: Vec<Login>) -> Merge {
        let runs: Vec<RunReader> = runs
            .into_iter()
            .map(|r| RunReader { r: BufReader::with_capacity(RUN_BUFFER, r.file), left: r.len })
            .collect();
        let n = runs.len();
        let mut m =
            Merge { runs, mem: mem.into_iter(), heads: BinaryHeap::new(), next: vec![None; n + 1], error: None };
        for i in 0..=n {
            m.refill(i);
        }
        m
    }

    fn refill(&mut self, i: usize) {
        let l = match self.runs.get_mut(i) {
            Some(r) => r.next().unwrap_or_else(|e| {
                self.error.get_or_insert(e);
                None
            }),
            None => self.mem.next(),
        };
        if let Some(l) = l {
            self.heads.push(Reverse((key(&l), i)));
        }
        if let Some(slot) = self.next.get_mut(i) {
            *slot = l;
        }
    }
}

impl Iterator for Merge {
    type Item = Login;

    fn next(&mut self) -> Option<Login> {
        let Reverse((_, i)) = self.heads.pop()?;
        let l = self.next.get_mut(i).and_then(Option::take)?;
        self.refill(i);
        Some(l)
    }
}

/// The logins of a [`LoginStore`] in time order.
pub(crate) struct Sorted {
    merge: Merge,
    /// Logins that could not be written to disk and stayed in memory: all are here.
    pub(crate) write_error: Option<String>,
}

impl Sorted {
    /// Logins that could not be read back from disk (some are missing), once the logins were read; `what` names
    /// them.
    pub(crate) fn read_error(&self, what: &str) -> Option<String> {
        self.merge
            .error
            .as_ref()
            .map(|e| format!("cannot read {what} back from a temporary file ({e}): the report misses some of them"))
    }
}

impl Iterator for Sorted {
    type Item = Login;

    fn next(&mut self) -> Option<Login> {
        self.merge.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(i: u64) -> Login {
        Login {
            // Out of order, with equal times.
            ts: Timestamp::from_epoch_micros(((i * 7919) % 1000) as i64),
            ok: true,
            db_denied: i.is_multiple_of(5),
            user: Ident((i % 3) as u32),
            host: if i.is_multiple_of(4) { Ident::NONE } else { Ident((i % 11) as u32) },
            conn_id: i.is_multiple_of(2).then_some(i * 1_000_003),
            origin: Origin {
                input: (i % 2) as u32,
                pos: Position { byte: i * 100, line: i + 1 },
                log: LogType::ALL[(i % 4) as usize],
            },
        }
    }

    #[test]
    fn encoding_round_trips() {
        for i in 0..100 {
            let l = login(i);
            assert_eq!(decode(&encode(&l)), l);
        }
    }

    #[test]
    fn spilled_logins_come_back_sorted_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let all: Vec<Login> = (0..5000).map(login).collect();
        let mut expected = all.clone();
        expected.sort_by_key(key);
        // Budgets from "every merge spills" (and runs are merged MAX_RUNS at a time) to "never spills".
        for in_memory in [0, 7, 100, 10_000] {
            let o = SpillOptions { in_memory, dir: Some(dir.path().to_path_buf()) };
            let mut acc = LoginStore::default();
            for chunk in all.chunks(13) {
                let mut part = LoginStore::default();
                chunk.iter().for_each(|l| part.push(*l));
                acc.absorb(part, |i| i);
                acc.spill_if_full(&o, "logins");
                assert!(acc.runs.len() < MAX_RUNS);
            }
            assert_eq!(acc.write_error, None);
            assert_eq!(acc.per_log.iter().sum::<u64>(), 5000);
            assert_eq!(acc.logs().len(), 4);
            let sorted = acc.into_sorted();
            assert_eq!((sorted.write_error.clone(), sorted.read_error("logins")), (None, None));
            let got: Vec<Login> = sorted.collect();
            assert_eq!(got, expected, "budget {in_memory}");
        }
    }

    #[test]
    fn a_run_that_cannot_be_read_back_loses_only_its_rest_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let o = SpillOptions { in_memory: 99, dir: Some(dir.path().to_path_buf()) };
        let mut acc = LoginStore::default();
        for i in 0..350 {
            acc.push(login(i));
            acc.spill_if_full(&o, "logins");
        }
        // Three runs of 100 on disk, 50 in memory; the second run loses all but its first 30 logins.
        assert_eq!((acc.runs.len(), acc.mem.len()), (3, 50));
        acc.runs[1].file.set_len(30 * RECORD as u64).unwrap();
        let mut sorted = acc.into_sorted();
        let got = sorted.by_ref().count();
        assert_eq!(got, 350 - 70);
        let err = sorted.read_error("logins").expect("the lost logins are reported");
        assert!(err.contains("misses some"), "{err}");
    }

    #[test]
    fn an_unwritable_folder_keeps_the_logins_in_memory_and_says_why() {
        let o = SpillOptions { in_memory: 1, dir: Some("/nonexistent/auditlog-spill".into()) };
        let mut acc = LoginStore::default();
        for i in 0..10 {
            acc.push(login(i));
            acc.spill_if_full(&o, "logins");
        }
        assert!(acc.write_error.as_deref().is_some_and(|e| e.contains("kept in memory")), "{:?}", acc.write_error);
        let sorted = acc.into_sorted();
        assert!(sorted.write_error.is_some() && sorted.read_error("logins").is_none());
        assert_eq!(sorted.count(), 10);
    }
}
