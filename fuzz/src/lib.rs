//! Shared invariants for the fuzz targets.

use auditlog_core::{Format, Item, Parser, Position};

/// Parses `data` in one go and checks the invariants every parser keeps: items come in input order and tile it
/// (a malformed record or skipped line ends exactly where the next item starts; an event's raw bytes are the
/// input at its position and only its line end follows before the next item), they reach the end of the
/// input (events + malformed records + skipped lines cover every byte), and everything is consumed.
/// Redaction and unescaping run on every SQL text.
pub fn check(format: Format, data: &[u8]) {
    let mut parser = Parser::new(format);
    let mut it = parser.records(data, Position::START, true);
    // (start, end) of the previous item, its line end included
    let mut prev: Option<(u64, u64)> = None;
    for item in &mut it {
        let pos = item.pos();
        if let Some((start, end)) = prev {
            assert!(pos.byte > start, "items advance");
            assert_eq!(pos.byte, end, "no gap or overlap between items");
        } else {
            assert_eq!(pos.byte, 0, "the first item starts the input");
        }
        prev = Some(match &item {
            Item::Event(e) => {
                if let Some(q) = &e.sql {
                    let _ = q.redacted();
                }
                let rest = data.get(pos.byte as usize..).unwrap_or_default();
                assert!(rest.starts_with(&e.raw), "raw is the record's bytes");
                // Accounting: only the record's line end lies between its bytes and the next item.
                let after = rest.get(e.raw.len()..).unwrap_or_default();
                let eol = if after.starts_with(b"\r\n") {
                    2
                } else if after.starts_with(b"\n") || after == b"\r" {
                    1
                } else {
                    0
                };
                (pos.byte, pos.byte + (e.raw.len() + eol) as u64)
            }
            Item::Malformed(m) => (pos.byte, pos.byte + m.len),
            Item::Skipped(s) => (pos.byte, pos.byte + s.len),
        });
    }
    assert_eq!(it.consumed(), data.len(), "everything is consumed at end of input");
    if let Some((_, end)) = prev {
        assert_eq!(end, data.len() as u64, "the items cover every byte");
    }
}

/// Parses `data` cut in two at `cut` through the incremental interface and checks the items equal one pass.
pub fn check_split(format: Format, data: &[u8], cut: usize) {
    let whole: Vec<String> = {
        let mut p = Parser::new(format);
        p.records(data, Position::START, true).map(|i| format!("{:?}", i)).collect()
    };
    let cut = cut.min(data.len());
    let mut p = Parser::new(format);
    let mut got: Vec<String> = Vec::new();
    let (consumed, pos) = {
        let mut it = p.records(&data[..cut], Position::START, false);
        for i in &mut it {
            got.push(format!("{:?}", i));
        }
        (it.consumed(), it.position())
    };
    for i in p.records(&data[consumed..], pos, true) {
        got.push(format!("{:?}", i));
    }
    assert_eq!(whole, got, "split parsing equals one pass");
}

/// The items of one pass over `data`, as comparable strings.
fn one_pass(format: Format, data: &[u8]) -> Vec<String> {
    Parser::new(format).records(data, Position::START, true).map(|i| format!("{i:?}")).collect()
}

/// The items of `data` parsed range by range, each with a fresh parser that starts at the range's position.
fn by_ranges(format: Format, data: &[u8], ranges: &[std::ops::Range<usize>]) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = 1u64;
    let mut expect_start = 0usize;
    for r in ranges {
        assert_eq!(r.start, expect_start, "ranges are contiguous");
        assert!(r.end > r.start, "ranges are not empty");
        expect_start = r.end;
        let part = data.get(r.clone()).expect("range inside the input");
        let start = Position { byte: r.start as u64, line };
        out.extend(Parser::new(format).records(part, start, true).map(|i| format!("{i:?}")));
        line += part.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    assert_eq!(expect_start, data.len(), "ranges cover the input");
    out
}

/// The record splitter: `chunk::split` into 1..=8 chunks, `chunk::split_at` at candidate offsets taken from
/// `seed`, and `chunk::last_boundary` all give ranges whose separate parses equal one pass over `data`.
pub fn check_chunks(format: Format, data: &[u8], seed: &[u8]) {
    use auditlog_core::chunk::{is_boundary, last_boundary, split, split_at};
    let whole = one_pass(format, data);
    if data.is_empty() {
        assert!(split(format, data, 3).iter().all(|r| r.is_empty()));
        return;
    }
    let n = seed.first().map_or(2, |b| usize::from(b % 8) + 1);
    let ranges = split(format, data, n);
    assert!(ranges.len() <= n, "at most n chunks");
    assert_eq!(by_ranges(format, data, &ranges), whole, "split into {n} equals one pass");
    let cands: Vec<usize> = seed
        .chunks(2)
        .map(|c| {
            let v = usize::from(c.first().copied().unwrap_or(0)) << 8 | usize::from(c.get(1).copied().unwrap_or(0));
            v * data.len() / 65536
        })
        .collect();
    let ranges = split_at(format, data, &cands);
    assert_eq!(by_ranges(format, data, &ranges), whole, "split_at {cands:?} equals one pass");
    for r in ranges.iter().skip(1) {
        let rest = data.get(r.start..).unwrap_or_default();
        let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
        assert!(is_boundary(format, line), "split_at cuts at a boundary");
    }
    let limit = seed.get(1).map_or(usize::MAX, |b| if *b == 0 { usize::MAX } else { usize::from(*b) * 16 });
    if let Some(b) = last_boundary(format, data, limit) {
        assert!(b > 0 && b < data.len(), "last_boundary is inside the input");
        assert_eq!(data.get(b - 1), Some(&b'\n'), "last_boundary is a line start");
        // Everything before it is complete records: parse it as a finished input, then the rest afresh.
        assert_eq!(by_ranges(format, data, &[0..b, b..data.len()]), whole, "last_boundary {b} equals one pass");
    }
}

/// The whole analysis: the report with 2 or 6 threads, small blocks and tiny chunks (and, for half the inputs,
/// logins, successful and failed, written to temporary files past the first) equals the report of 1 thread
/// reading the input in one block. `cfg` picks the block size, the format (or sniffing) and detector settings.
pub fn check_analyze(cfg: u8, data: &[u8]) -> auditlog_core::analyze::Report {
    use auditlog_core::analyze::{AnalyzeOptions, Analyzer, BurstOptions};
    use auditlog_core::ReadOptions;
    let format = match cfg & 7 {
        0 => Some(Format::Audit),
        1 => Some(Format::General),
        2 => Some(Format::Slow),
        3 => Some(Format::Error),
        _ => None,
    };
    let base = AnalyzeOptions {
        read: ReadOptions::default().with_format(format),
        burst: BurstOptions { window_us: 5_000_000, threshold: 2, spray_users: 2, distributed_hosts: 2 },
        learn_us: if cfg & 8 != 0 { Some(1_000_000) } else { None },
        ..AnalyzeOptions::default()
    };
    let run = |opts: AnalyzeOptions| {
        let mut a = Analyzer::new(opts).expect("analyzer");
        let res = a.add_reader("fuzz", data).map_err(|e| e.to_string());
        (res, a.finish())
    };
    let (res1, one) = run(AnalyzeOptions { threads: 1, ..base.clone() });
    let block = 64 + usize::from(cfg >> 4) * 37;
    // 2 workers fold whole blocks; 6 (more than blocks in flight) also cut each block in two.
    let threads = if cfg & 16 == 0 { 2 } else { 6 };
    let logins_in_memory = if cfg & 32 == 0 { base.logins_in_memory } else { 1 };
    let (res2, two) = run(AnalyzeOptions {
        threads,
        read: base.read.clone().with_block_size(block),
        min_chunk: 1,
        logins_in_memory,
        ..base.clone()
    });
    assert_eq!(res1, res2, "same read result with {threads} threads and block size {block}");
    assert_eq!(format!("{one:?}"), format!("{two:?}"), "same report with {threads} threads and block size {block}");
    if let Ok(s) = res1 {
        assert_eq!(s.bytes, data.len() as u64, "every byte read");
        assert_eq!(one.summary.records, s.records);
    }
    one
}

/// The fixed logs the `query` target runs its queries over: a few audit records and a few slow-log entries
/// (small, so every run is fast, but several 256-byte blocks, so the workers really share them).
pub const QUERY_LOGS: [(&str, &[u8]); 2] = [
    (
        "server_audit.log",
        b"20261122 07:28:35,vm,root,localhost,3,0,CONNECT,,,0
20261122 07:28:35,vm,root,localhost,3,1,WRITE,mysql,db,
20261122 07:28:35,vm,root,localhost,3,1,QUERY,mysql,'CREATE USER \\'app\\'@\\'127.0.0.%\\' IDENTIFIED BY *****',0
20261122 07:28:36,vm,admin,127.0.0.20,11,0,FAILED_CONNECT,,,1045
20261122 07:28:37,vm,admin,127.0.0.21,12,0,FAILED_CONNECT,,,1045
20261122 07:29:35,vm,app,127.0.0.10,4,0,CONNECT,shop,,0
20261122 07:29:35,vm,app,127.0.0.10,4,2,QUERY,shop,'SELECT * FROM orders WHERE id = 7',0
20261122 07:35:35,vm,app,127.0.0.10,4,0,DISCONNECT,shop,,0
20261122 07:36:35,vm,root,localhost,3,0,DISCONNECT,,,0
",
    ),
    (
        "slow.log",
        b"# Time: 2026-11-22T07:28:35.030037Z
# User@Host: root[root] @ localhost []  Id:     3
# Query_time: 0.000626  Lock_time: 0.000160 Rows_sent: 0  Rows_examined: 0
SET timestamp=1795332515;
GRANT ALL PRIVILEGES ON shop.* TO 'app'@'127.0.0.%';
# Time: 2026-11-22T07:28:35.064641Z
# User@Host: app[app] @ localhost []  Id:     4
# Query_time: 0.005271  Lock_time: 0.000069 Rows_sent: 3  Rows_examined: 12
SET timestamp=1795332515;
SELECT * FROM orders WHERE id IN (1, 2, 3);
# Time: 2026-11-22T07:40:35.115098Z
# User@Host: report[report] @ 127.0.0.11 []  Id:     5
# Query_time: 1.500336  Lock_time: 0.000070 Rows_sent: 1  Rows_examined: 100000
SET timestamp=1795333235;
SELECT count(*) FROM orders;
",
    ),
];

/// The query parser and executor: `Query::parse` never panics on `src`; when it parses, the rows (and the
/// per-input results) over [`QUERY_LOGS`] with 6 threads, 256-byte blocks and 1-byte chunks equal 1 thread.
pub fn check_query(src: &str) {
    use auditlog_core::query::{Query, QueryOptions, Runner};
    use auditlog_core::ReadOptions;
    let Ok(q) = Query::parse(src) else { return };
    let run = |opts: QueryOptions| {
        let mut rows = Vec::new();
        let mut results = Vec::new();
        {
            let mut r = Runner::new(&q, opts, |row| {
                rows.push(format!("{row:?}"));
                std::ops::ControlFlow::Continue(())
            })
            .expect("runner");
            for (name, log) in QUERY_LOGS {
                // The counts depend on where a `limit` stopped reading, so only success is compared.
                results.push(r.add_reader(name, log).map(|_| ()).map_err(|e| e.to_string()));
            }
            r.finish();
        }
        (results, rows)
    };
    let one = run(QueryOptions { threads: 1, ..QueryOptions::default() });
    // 6 workers: more than blocks in flight, so blocks are also cut into chunks.
    let two = run(QueryOptions {
        threads: 6,
        min_chunk: 1,
        read: ReadOptions::default().with_block_size(256),
        ..QueryOptions::default()
    });
    assert_eq!(one, two, "6 threads with 256-byte blocks give the rows of 1 thread for {src:?}");
}

/// The digest: the classes with 2 or 6 threads, small blocks and tiny chunks equal those of 1 thread reading
/// the input in one block (users and hosts kept, times, examples). `cfg` picks the format (or sniffing), the
/// block size and the thread count.
pub fn check_digest(cfg: u8, data: &[u8]) {
    use auditlog_core::digest::{Digest, DigestOptions};
    use auditlog_core::ReadOptions;
    let format = match cfg & 3 {
        0 => Some(Format::Slow),
        1 => Some(Format::General),
        2 => Some(Format::Audit),
        _ => None,
    };
    let run = |opts: DigestOptions| {
        let mut d = Digest::new(opts).expect("digest");
        let res = d.add_reader("fuzz", data).map_err(|e| e.to_string());
        (res, format!("{:?}", d.finish().classes))
    };
    let read = ReadOptions::default().with_format(format);
    let one = run(DigestOptions { threads: 1, read: read.clone(), ..DigestOptions::default() });
    let block = 64 + usize::from(cfg >> 3) * 37;
    let threads = if cfg & 4 == 0 { 2 } else { 6 };
    let two =
        run(DigestOptions { threads, min_chunk: 1, read: read.with_block_size(block), ..DigestOptions::default() });
    assert_eq!(one, two, "same digest with {threads} threads and block size {block}");
}

/// The streaming reader with 64-byte blocks and a 1 KiB record limit (sniffing, refills, too-long records): the
/// summary counts exactly the items handed to the sink, and every event can be made owned.
pub fn check_stream(data: &[u8]) {
    let opts = auditlog_core::ReadOptions::default().with_block_size(64).with_max_record(1024);
    let mut items = 0u64;
    if let Ok(s) = auditlog_core::read(data, &opts, |i| {
        items += 1;
        if let Item::Event(e) = i {
            let _ = e.into_owned();
        }
        std::ops::ControlFlow::Continue(())
    }) {
        assert_eq!(s.records + s.malformed + s.skipped, items);
    }
}
