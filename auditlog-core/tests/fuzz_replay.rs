//! Replays every fuzz input kept in the repository (`fuzz/regressions/TARGET/*` and, when present,
//! `fuzz/corpus/TARGET/*`) through the same invariant checks the fuzz targets run, so crashes found by fuzzing
//! stay fixed and `cargo test` exercises the fuzz corpus on the stable toolchain.

#[path = "../../fuzz/src/lib.rs"]
mod checks;

use std::path::Path;

use auditlog_core::Format;

fn replay(target: &str, format: Option<Format>) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut n = 0;
    for dir in ["regressions", "corpus"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        let mut files: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
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
