//! Replays every fuzz input kept in the repository (`fuzz/regressions/TARGET/*` and, when present,
//! `fuzz/corpus/TARGET/*`) through the same invariant checks the fuzz targets run, so crashes found by fuzzing
//! stay fixed and `cargo test` exercises the fuzz corpus on the stable toolchain.

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

use std::path::{Path, PathBuf};

use auditlog_core::Format;

/// Every kept input of a fuzz target: its regressions, its corpus (when present) and its seeds.
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut all = Vec::new();
    for dir in ["regressions", "corpus", "seeds"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        let mut files: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        all.extend(files);
    }
    all
}

/// The bytes of a kept input; `None` for one that vanished since the folder was listed (a fuzzer running on
/// the local corpus replaces its files as it minimises them).
fn load(f: &Path) -> Option<Vec<u8>> {
    match std::fs::read(f) {
        Ok(d) => Some(d),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("{}: {e}", f.display()),
    }
}

fn replay(target: &str, format: Option<Format>) -> usize {
    let mut n = 0;
    for f in inputs(target) {
        let Some(data) = load(&f) else { continue };
        match format {
            Some(fmt) => {
                checks::check(fmt, &data);
                if let Some(&b) = data.first() {
                    checks::check_split(fmt, &data, b as usize * data.len() / 256);
                }
                for cut in [1, data.len() / 2, data.len().saturating_sub(1)] {
                    checks::check_split(fmt, &data, cut);
                }
            }
            None => {
                let _ = auditlog_core::sniff(&data);
            }
        }
        n += 1;
    }
    n
}

#[test]
fn parse_audit_inputs() {
    replay("parse_audit", Some(Format::Audit));
}

#[test]
fn parse_general_inputs() {
    replay("parse_general", Some(Format::General));
}

#[test]
fn parse_slow_inputs() {
    replay("parse_slow", Some(Format::Slow));
}

#[test]
fn parse_error_inputs() {
    replay("parse_error", Some(Format::Error));
}

#[test]
fn sniff_inputs() {
    replay("sniff", None);
}

/// The `chunk` target: byte 0 picks the format, bytes 1..9 the cut candidates, the rest is the log.
fn replay_chunk(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let format = Format::ALL[usize::from(sel % 4)];
    let (seed, log) = rest.split_at(rest.len().min(8));
    checks::check_chunks(format, log, seed);
}

/// The bytes of each kept input of `target`, which must have some (inputs a running fuzzer removed meanwhile
/// are skipped).
fn kept(target: &str) -> impl Iterator<Item = Vec<u8>> {
    let files = inputs(target);
    assert!(!files.is_empty(), "no kept inputs for the {target} target");
    files.into_iter().filter_map(|f| load(&f))
}

#[test]
fn chunk_inputs() {
    for data in kept("chunk") {
        replay_chunk(&data);
    }
}

/// The `analyze` target: byte 0 picks format, learning and block size; the rest is the log.
#[test]
fn analyze_inputs() {
    for data in kept("analyze") {
        if let Some((&cfg, log)) = data.split_first() {
            let _ = checks::check_analyze(cfg, log);
        }
    }
}

/// The `digest` target: byte 0 picks format, threads and block size; the rest is the log.
#[test]
fn digest_inputs() {
    for data in kept("digest") {
        if let Some((&cfg, log)) = data.split_first() {
            checks::check_digest(cfg, log);
        }
    }
}

/// The `stream` target's inputs through the streaming reader with tiny blocks and record limit.
#[test]
fn stream_inputs() {
    for f in inputs("stream") {
        let Some(data) = load(&f) else { continue };
        checks::check_stream(&data);
    }
}

/// The `query` target: the input as lossy UTF-8 is a query; when it parses, 6 threads with small blocks give
/// the rows of 1 thread over the fixed logs.
#[test]
fn query_inputs() {
    for data in kept("query") {
        checks::check_query(&String::from_utf8_lossy(&data));
    }
}

/// Found by reading the parser for the hostile-query tests (too deep for the fuzzer's short inputs): `a or b or
/// ...` was a left-nested tree as deep as the chain, so compiling, running and dropping a chain of some
/// 100,000 terms overflowed the stack. Chains are flat now.
#[test]
fn regression_query_long_or_chain_is_flat() {
    for op in [" or ", " and "] {
        let terms: Vec<String> = (0..100_000).map(|k| format!("conn_id = {k}")).collect();
        checks::check_query(&format!("filter {} | stats count(*) as n by user", terms.join(op)));
    }
}

/// Found by the hostile-query tests: a 5 MB `like /regex/` took 500 MB in the regex parser before the
/// compiled-size limit refused it; patterns over 64 KiB are refused first now.
#[test]
fn regression_query_enormous_regex_is_refused_first() {
    let q = format!("filter sql like /{}/", "x".repeat(5 << 20));
    let e = auditlog_core::query::Query::parse(&q).unwrap_err();
    assert!(e.expected().starts_with("a regular expression of at most 65536 bytes"), "{e}");
    checks::check_query(&q);
}

/// Found by `chunk`: a slow-log `# Time:` line with a valid time that is also a start-up banner
/// (`... , Version: ... started with:`) was a chunk boundary, but the parser skips it as a banner, so the chunk
/// after it lost the time that later entries inherit. Banner lines are no boundaries now (slow and general).
#[test]
fn regression_banner_time_line_is_no_boundary() {
    let slow = b"# Time: 071015 21:43:52\n# User@Host: a[a] @ h []\nSELECT 1;\n# Time: 071015 21:43:53 x, Version: 5 started with:\n# User@Host: b[b] @ h []\nSELECT 2;\n";
    for n in 0..=slow.len() {
        let mut seed = vec![0u8; 8];
        seed[0] = (n % 8) as u8;
        seed[2..4].copy_from_slice(&((n * 65536 / slow.len()) as u16).to_be_bytes());
        checks::check_chunks(Format::Slow, slow, &seed);
    }
}

/// Found by the accounting check (over the `chunk` corpus): a slow-log event's raw bytes were trimmed of all
/// trailing whitespace, so the blanks before its line end belonged to no item.
#[test]
fn regression_slow_trailing_blanks_are_accounted() {
    let data = b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @ h []\nSELECT 1;  \t\r\n# Time: \n";
    checks::check(Format::Slow, data);
    for cut in 0..data.len() {
        checks::check_split(Format::Slow, data, cut);
    }
}

/// Found by `parse_audit`: a truncation marker padded with tabs right after a buffer cut was taken for a
/// normal line by the look-ahead, so the record before it was reported differently in split and one-pass
/// parsing.
#[test]
fn regression_split_marker_with_tabs() {
    let data = b"\xff\n\t [Your log message was truncated]\t\n";
    checks::check(Format::Audit, data);
    for cut in 0..data.len() {
        checks::check_split(Format::Audit, data, cut);
    }
}

/// Found by `parse_audit`: a truncation marker led by carriage returns (`\r\r [Your log message was
/// truncated]`) cut by a buffer boundary was not recognised by the look-ahead (it skipped only spaces and TABs),
/// so the record before it was `BadTimestamp` in split parsing and `Truncated` in one pass.
#[test]
fn regression_split_marker_after_carriage_returns() {
    let data = b"\xff\n\r\r [Your log message was truncated]";
    checks::check(Format::Audit, data);
    for cut in 0..data.len() {
        checks::check_split(Format::Audit, data, cut);
    }
}

/// Found by `digest`: a gzip stream that turns corrupt was read up to line 23 in 1137-byte blocks but only to
/// line 19 in the default 1 MiB block, as flate2 drops what it decoded in the read that fails. The decoder now
/// writes into a fixed buffer of its own, so the lines read do not depend on the block size (or threads).
#[test]
fn regression_gzip_error_line_by_block_size() {
    replay_digest("gzip-error-line-by-block-size");
}

/// Found by `digest`: gzip text that no format matches, turning corrupt after the first 64 KiB, was an unknown
/// format with 545-byte blocks but a gzip error with 1 MiB blocks, as the first read filled a whole block before
/// sniffing. The first read is now the sniffed 64 KiB whatever the block size.
#[test]
fn regression_gzip_error_or_unknown_format_by_block_size() {
    replay_digest("gzip-error-or-unknown-format-by-block-size");
}

/// Replays `fuzz/regressions/digest/NAME`: its first byte is the target's configuration, the rest the log.
fn replay_digest(name: &str) {
    let data =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/digest").join(name)).unwrap();
    let (&cfg, log) = data.split_first().unwrap();
    checks::check_digest(cfg, log);
}
