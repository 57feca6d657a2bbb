//! Hostile inputs through the library: NUL bytes, invalid UTF-8, CRLF line ends, a truncated `.gz`, empty and
//! unreadable files, a folder with a mix of formats, binary garbage, a record far over the size limit, and
//! the accounting rule (events, malformed records and skipped lines cover every byte) on the corpus and on
//! every kept fuzz input.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use auditlog_core::source::{expand, Input};
use auditlog_core::{
    read, sniff, ErrorKind, Event, EventKind, Format, Item, Parser, Position, ReadOptions, ReadSummary, Reason,
};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn owned(i: Item<'_>) -> Item<'static> {
    match i {
        Item::Event(e) => Item::Event(e.into_owned()),
        Item::Malformed(m) => Item::Malformed(m.into_owned()),
        Item::Skipped(s) => Item::Skipped(s),
    }
}

fn one_pass(format: Format, buf: &[u8]) -> Vec<Item<'_>> {
    Parser::new(format).records(buf, Position::START, true).collect()
}

fn read_all<R: std::io::Read>(
    r: R,
    opts: &ReadOptions,
) -> (Vec<Item<'static>>, Result<ReadSummary, auditlog_core::Error>) {
    let mut out = Vec::new();
    let res = read(r, opts, |i| {
        out.push(owned(i));
        ControlFlow::Continue(())
    });
    (out, res)
}

fn events<'a>(items: &'a [Item<'a>]) -> Vec<&'a Event<'a>> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// The accounting rule: items start where the previous one ended; malformed records and skipped lines span
/// exactly their length; an event is its raw bytes plus at most its line end; together they reach the end.
/// Returns (events, malformed, skipped) byte totals.
fn assert_covers(name: &str, buf: &[u8], items: &[Item<'_>]) -> (usize, usize, usize) {
    let mut at = 0usize;
    let mut line = 1u64;
    let mut totals = (0, 0, 0);
    for it in items {
        let pos = it.pos();
        assert_eq!((pos.byte, pos.line), (at as u64, line), "{name}: gap or overlap before {it:?}");
        let len = match it {
            Item::Malformed(m) => {
                totals.1 += m.len as usize;
                m.len as usize
            }
            Item::Skipped(s) => {
                totals.2 += s.len as usize;
                s.len as usize
            }
            Item::Event(e) => {
                let raw_end = at + e.raw.len();
                assert_eq!(buf.get(at..raw_end), Some(&e.raw[..]), "{name}:{}: raw is not the input", pos.line);
                let rest = &buf[raw_end..];
                // Its line end: `\n`, `\r\n`, or a lone `\r` ending the input.
                let eol = [&b"\r\n"[..], b"\n"].iter().find(|t| rest.starts_with(t)).map_or(0, |t| t.len());
                let eol = if rest == b"\r" { 1 } else { eol };
                totals.0 += e.raw.len() + eol;
                e.raw.len() + eol
            }
        };
        assert!(len > 0, "{name}: empty item {it:?}");
        let span = &buf[at..at + len];
        line += span.iter().filter(|b| **b == b'\n').count() as u64;
        at += len;
    }
    assert_eq!(at, buf.len(), "{name}: {} bytes at the end are in no item", buf.len() - at);
    totals
}

// ---------------------------------------------------------------------------------------------------------
// Accounting

#[test]
fn accounting_covers_every_byte_of_the_corpus_in_every_format() {
    let mut files = 0;
    for input in expand(&[repo("corpus")]).unwrap() {
        let Input::File(p) = input else { continue };
        let buf = std::fs::read(&p).unwrap();
        // Every file read as every format: whatever the parser makes of it, no byte goes missing.
        for format in Format::ALL {
            let items = one_pass(format, &buf);
            let (e, m, s) = assert_covers(&format!("{} as {format}", p.display()), &buf, &items);
            assert_eq!(e + m + s, buf.len());
        }
        files += 1;
    }
    assert!(files >= 15, "corpus not found");
}

#[test]
fn accounting_covers_every_byte_of_every_kept_fuzz_input() {
    let mut n = 0;
    for dir in ["fuzz/regressions", "fuzz/corpus", "fuzz/seeds"] {
        let Ok(targets) = std::fs::read_dir(repo(dir)) else { continue };
        for t in targets.filter_map(Result::ok) {
            let Ok(files) = std::fs::read_dir(t.path()) else { continue };
            for f in files.filter_map(Result::ok) {
                // A fuzzer running on the local corpus replaces files as it minimises them.
                let buf = match std::fs::read(f.path()) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => panic!("{}: {e}", f.path().display()),
                };
                for format in Format::ALL {
                    let items = one_pass(format, &buf);
                    assert_covers(&format!("{} as {format}", f.path().display()), &buf, &items);
                }
                n += 1;
            }
        }
    }
    assert!(n > 0, "no fuzz inputs kept in the repository");
}

// ---------------------------------------------------------------------------------------------------------
// Bytes that are not clean text

#[test]
fn nul_bytes_are_reported_or_kept_never_lost() {
    let log = b"20240101 10:00:00,srv,u\0ser,10.0.0.1,1,0,CONNECT,,,0\n\
                20240101 10:00:01,srv,u,10.0.0.1,1,2,QUERY,db,'SELECT \0 1',0\n\
                \0\0\0\0\n\
                20240101 10:00:02,srv,u,10.0.0.1,1,0,DISCONNECT,,,0\n";
    let items = one_pass(Format::Audit, log);
    assert_covers("nul", log, &items);
    let evs = events(&items);
    assert_eq!(evs.len(), 3, "{items:?}");
    assert_eq!(evs[0].user.as_deref(), Some(&b"u\0ser"[..]));
    assert_eq!(evs[1].sql.as_ref().unwrap().text().as_ref(), b"SELECT \0 1");
    assert!(matches!(&items[2], Item::Malformed(m) if m.pos.line == 3), "{:?}", items[2]);
    // The streaming reader sniffs through the NULs and agrees with one pass.
    let (streamed, res) = read_all(&log[..], &ReadOptions::default().with_block_size(64));
    assert_eq!(res.unwrap().format, Some(Format::Audit));
    assert_eq!(streamed, items.into_iter().map(owned).collect::<Vec<_>>());
}

#[test]
fn invalid_utf8_is_kept_as_bytes_and_replaced_in_json() {
    let log = b"2024-01-01T10:00:00.000001Z\t   12 Connect\t\xff\xfe@10.0.0.\xc3 on db using TCP/IP\n\
                2024-01-01T10:00:00.000002Z\t   12 Query\tSELECT '\xe2\x82' FROM \x80t\n";
    let items = one_pass(Format::General, log);
    assert_covers("utf8", log, &items);
    let evs = events(&items);
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0].kind, EventKind::Connect);
    assert_eq!(evs[0].user.as_deref(), Some(&b"\xff\xfe"[..]));
    assert_eq!(evs[0].host.as_deref(), Some(&b"10.0.0.\xc3"[..]));
    let json = serde_json::to_value(evs[1]).unwrap();
    assert_eq!(json["sql"], "SELECT '\u{fffd}' FROM \u{fffd}t");
    let json = serde_json::to_value(evs[0]).unwrap();
    assert_eq!(json["user"], "\u{fffd}\u{fffd}");
}

#[test]
fn crlf_line_ends_give_the_fields_of_lf_line_ends() {
    let logs: [(Format, &str); 4] = [
        (
            Format::Audit,
            "20240101 10:00:00,srv,u,10.0.0.1,1,0,CONNECT,db,,0,SSL\n20240101 10:00:01,srv,u,10.0.0.1,1,2,QUERY,db,'SELECT 1',0,,\n",
        ),
        (
            Format::General,
            "2024-01-01T10:00:00.000001Z\t   12 Connect\tu@h on db using TCP/IP\n2024-01-01T10:00:00.000002Z\t   12 Connect\tAccess denied for user 'u'@'h' (using password: YES)\n2024-01-01T10:00:01.000000Z\t   13 Quit\t\n",
        ),
        (
            Format::Slow,
            "# Time: 2024-01-01T10:00:00.000001Z\n# User@Host: u[u] @ h []  Id: 5\n# Query_time: 1.5  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 2\nuse db;\nSET timestamp=1704103200;\nSELECT 1;\n",
        ),
        (
            Format::Error,
            "2024-01-01T10:00:00.000001Z 7 [Note] [MY-010926] [Server] Access denied for user 'u'@'h' (using password: YES)\n2024-01-01T10:00:01.000001Z 0 [Warning] [MY-010055] [Server] one line\n",
        ),
    ];
    for (format, lf) in logs {
        let crlf = lf.replace('\n', "\r\n");
        assert_eq!(sniff(crlf.as_bytes()), Some(format), "{format}");
        let a = one_pass(format, lf.as_bytes());
        let b = one_pass(format, crlf.as_bytes());
        assert_covers("crlf", crlf.as_bytes(), &b);
        let (ea, eb) = (events(&a), events(&b));
        assert_eq!(ea.len(), eb.len(), "{format}");
        assert!(b.iter().all(|i| !matches!(i, Item::Malformed(_))), "{format}: {b:?}");
        for (x, y) in ea.iter().zip(&eb) {
            // Everything but the raw bytes (which keep the CR) and the offsets is the same.
            let strip = |e: &Event<'_>| {
                let mut v = serde_json::to_value(e).unwrap();
                v.as_object_mut().unwrap().remove("offset");
                v
            };
            assert_eq!(strip(x), strip(y), "{format}");
        }
    }
}

#[test]
fn binary_garbage_is_no_log_and_forced_formats_report_it_all_as_malformed() {
    // Deterministic pseudo-random bytes (xorshift), with a few newlines.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let garbage: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let (items, res) = read_all(&garbage[..], &ReadOptions::default());
    assert!(items.is_empty());
    assert!(matches!(res.unwrap_err().kind(), ErrorKind::UnknownFormat));
    for format in Format::ALL {
        let opts = ReadOptions::default().with_format(Some(format)).with_block_size(4096).with_max_record(1 << 16);
        let (items, res) = read_all(&garbage[..], &opts);
        let s = res.unwrap();
        assert_eq!(s.bytes, garbage.len() as u64);
        assert_eq!(s.records + s.malformed + s.skipped, items.len() as u64);
        assert!(s.malformed > 0, "{format}: garbage must be reported");
        assert!(s.records * 100 < s.malformed.max(1) * 5, "{format}: {} records out of garbage", s.records);
        let one = one_pass(format, &garbage);
        assert_covers(&format!("garbage as {format}"), &garbage, &one);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Files

#[test]
fn empty_input_is_no_error_and_has_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.log");
    std::fs::write(&p, b"").unwrap();
    let mut n = 0;
    let s = Input::File(p).read(&ReadOptions::default(), |_| {
        n += 1;
        ControlFlow::Continue(())
    });
    let s = s.unwrap();
    assert_eq!((n, s.bytes, s.lines, s.format), (0, 0, 0, None));
    // An empty gzip member too.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"").unwrap();
    let (items, res) = read_all(&gz.finish().unwrap()[..], &ReadOptions::default());
    assert!(items.is_empty());
    assert_eq!(res.unwrap().bytes, 0);
}

#[test]
fn unreadable_inputs_are_errors_that_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A missing file.
    let missing = dir.path().join("missing.log");
    let e = Input::File(missing.clone()).read(&ReadOptions::default(), |_| ControlFlow::Continue(())).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Io(_)));
    assert_eq!(e.path(), Some(missing.as_path()));
    assert!(e.to_string().starts_with(&missing.display().to_string()), "{e}");
    // A file that opens but cannot be read: /proc/self/mem fails with EIO at offset 0, also for root (where
    // chmod 000 would not stop reading).
    let mem = PathBuf::from("/proc/self/mem");
    if mem.exists() {
        let e = Input::File(mem.clone()).read(&ReadOptions::default(), |_| ControlFlow::Continue(())).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Io(_)), "{e}");
        assert!(e.to_string().starts_with("/proc/self/mem:1: "), "{e}");
    }
    // A folder given where a file is read.
    let e = Input::File(dir.path().to_path_buf()).read(&ReadOptions::default(), |_| ControlFlow::Continue(()));
    let e = e.unwrap_err();
    assert!(e.to_string().contains(&dir.path().display().to_string()), "{e}");
}

#[test]
fn truncated_gz_reports_the_records_before_the_cut_then_an_error() {
    let mut log = String::new();
    for i in 0..5000 {
        log.push_str(&format!("20240101 10:00:00,srv,user{i},10.0.{}.{},{i},0,CONNECT,,,0\n", i / 250, i % 250));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(log.as_bytes()).unwrap();
    let full = gz.finish().unwrap();
    let cut = &full[..full.len() / 2];
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("server_audit.log.1.gz");
    std::fs::write(&p, cut).unwrap();
    let mut users = Vec::new();
    let res = Input::File(p.clone()).read(&ReadOptions::default().with_block_size(4096), |i| {
        if let Item::Event(e) = i {
            users.push(String::from_utf8(e.user.unwrap().into_owned()).unwrap());
        }
        ControlFlow::Continue(())
    });
    let e = res.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Io(_)), "{e}");
    assert_eq!(e.path(), Some(p.as_path()));
    assert!(users.len() > 100 && users.len() < 5000, "{} records before the cut", users.len());
    // Exactly the first records, in order, none invented from the partial line at the cut.
    for (i, u) in users.iter().enumerate() {
        assert_eq!(u, &format!("user{i}"));
    }
}

#[test]
fn a_folder_with_a_mix_of_formats_reads_each_file_with_its_own_format() {
    let dir = tempfile::tempdir().unwrap();
    let copy = |from: &str, to: &str| {
        let dest = dir.path().join(to);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(repo(from), dest).unwrap();
    };
    copy("corpus/mariadb/server_audit.log", "a/server_audit.log");
    copy("corpus/mysql8/general.log", "a/general.log");
    copy("corpus/mysql8/slow.log", "b/slow.log");
    copy("corpus/mysql57/error.log", "b/error.log");
    copy("corpus/aurora/audit.log.0.2026-11-22-07-28.0", "c/audit.log.0.2026-11-22-07-28.0");
    std::fs::write(dir.path().join("c/notes.txt"), "just some notes\nnot a log\n").unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(repo("corpus/mariadb/error.log")).unwrap()).unwrap();
    std::fs::write(dir.path().join("c/error.log.1.gz"), gz.finish().unwrap()).unwrap();

    let mut seen = Vec::new();
    for input in expand(&[dir.path().to_path_buf()]).unwrap() {
        let name = input.name();
        let res = input.read(&ReadOptions::default(), |_| ControlFlow::Continue(()));
        let base = Path::new(&name).file_name().unwrap().to_string_lossy().into_owned();
        match res {
            Ok(s) => {
                assert_eq!(s.malformed, 0, "{name}");
                assert!(s.records > 0, "{name}");
                seen.push((base, s.format.map(|f| f.to_string()).unwrap_or_default()));
            }
            Err(e) => {
                assert!(matches!(e.kind(), ErrorKind::UnknownFormat), "{name}: {e}");
                assert!(e.to_string().contains("--format"), "says what to do: {e}");
                seen.push((base, "unknown".into()));
            }
        }
    }
    seen.sort();
    let want = [
        ("audit.log.0.2026-11-22-07-28.0", "audit"),
        ("error.log", "error"),
        ("error.log.1.gz", "error"),
        ("general.log", "general"),
        ("notes.txt", "unknown"),
        ("server_audit.log", "audit"),
        ("slow.log", "slow"),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(seen, want);
}

// ---------------------------------------------------------------------------------------------------------
// Size

/// A reader of `n` bytes of `fill` after `head`, without a line end: a giant record without materialising it.
struct Giant {
    head: &'static [u8],
    n: u64,
    at: u64,
}

impl std::io::Read for Giant {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let total = self.head.len() as u64 + self.n;
        let mut k = 0;
        while k < buf.len() && self.at < total {
            buf[k] = self.head.get(self.at as usize).copied().unwrap_or(b'x');
            k += 1;
            self.at += 1;
        }
        Ok(k)
    }
}

#[test]
fn a_record_over_the_limit_is_reported_with_its_line_and_reading_goes_on() {
    // 3 MB without a line end with a 1 MB limit (the CLI test runs 200 MB through the binary).
    let head = b"20240101 10:00:00,srv,u,h,1,0,CONNECT,,,0\n20240101 10:00:01,srv,u,h,1,2,QUERY,db,'SELECT ";
    let giant = Giant { head, n: 3 << 20, at: 0 };
    let tail = &b"'\n20240101 10:00:02,srv,u,h,1,0,DISCONNECT,,,0\n"[..];
    let opts = ReadOptions::default().with_block_size(64 << 10).with_max_record(1 << 20);
    let (items, res) = read_all(std::io::Read::chain(giant, tail), &opts);
    let s = res.unwrap();
    assert_eq!((s.records, s.malformed), (2, 1), "{items:?}");
    let Item::Malformed(m) = &items[1] else { panic!("{:?}", items[1]) };
    assert_eq!(m.reason, Reason::TooLong);
    assert_eq!(m.pos.line, 2);
    let first_line = head.iter().position(|b| *b == b'\n').unwrap() + 1;
    assert_eq!(m.len, (head.len() - first_line + (3 << 20) + 2) as u64);
    assert!(m.raw.len() <= 256, "the report keeps a snippet, not the record");
    let Item::Event(last) = &items[2] else { panic!() };
    assert_eq!((last.pos.line, last.kind), (3, EventKind::Disconnect));
}
