//! Command-line inputs resolved into library inputs and options, shared by every command that reads logs.

use std::io::{self, IsTerminal, Read};

use anyhow::{bail, Result};
use auditlog_core::analyze::{AnalyzeOptions, Analyzer};
use auditlog_core::source::{expand, Input};
use auditlog_core::{Format, ReadOptions, Timestamp};

use crate::cli::{FormatArg, InputArgs};
use crate::output::sanitize::sanitize;
use crate::timearg;

/// Inputs and filters, validated.
pub struct Resolved {
    /// Each input, and whether it was found inside a folder (then content that is no log is skipped with a
    /// note instead of being an error).
    pub inputs: Vec<(Input, bool)>,
    pub opts: ReadOptions,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// CloudWatch Logs streams to read after the files (`--cloudwatch`).
    pub cloudwatch: Option<crate::cloudwatch::Source>,
}

pub fn resolve(args: &InputArgs) -> Result<Resolved> {
    let cloudwatch = args.cloudwatch.requested();
    let paths = if args.paths.is_empty() {
        if cloudwatch {
            Vec::new()
        } else if io::stdin().is_terminal() {
            bail!("no input: give log files or folders, or pipe a log into standard input (use `-` to read it explicitly)");
        } else {
            vec!["-".into()]
        }
    } else {
        args.paths.clone()
    };
    let mut inputs = Vec::new();
    for p in &paths {
        let found_in_folder = p.is_dir();
        inputs.extend(expand(std::slice::from_ref(p))?.into_iter().map(|i| (i, found_in_folder)));
    }
    let format = args.format.map(|f| match f {
        FormatArg::Audit => Format::Audit,
        FormatArg::General => Format::General,
        FormatArg::Slow => Format::Slow,
        FormatArg::Error => Format::Error,
    });
    let now = chrono::Utc::now();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<Timestamp>> {
        v.as_deref().map(|s| timearg::parse_time(s, now)).transpose().map_err(|e| anyhow::anyhow!("{flag}: {e}"))
    };
    let since = time("--since", &args.since)?;
    let until = time("--until", &args.until)?;
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            bail!("--since ({s}) must be before --until ({u})");
        }
    }
    let opts = ReadOptions::default().with_format(format).with_max_record(args.max_record_size);
    let cloudwatch = if cloudwatch {
        Some(crate::cloudwatch::open(&args.cloudwatch, since, until, args.quiet, false)?)
    } else {
        None
    };
    Ok(Resolved { inputs, opts, since, until, cloudwatch })
}

/// A `--window`/`--learn` style duration in microseconds.
pub fn duration_us(flag: &str, v: &str) -> Result<i64> {
    let d = timearg::parse_duration(v).ok_or_else(|| {
        anyhow::anyhow!("{flag}: invalid duration `{v}`: use a number and a unit, like 90s, 5m, 2h, 7d")
    })?;
    i64::try_from(d.as_micros()).map_err(|_| anyhow::anyhow!("{flag}: duration `{v}` is too long"))
}

/// Reads every input into an analyzer; returns it with the number of inputs that failed.
pub fn run_inputs(r: &Resolved, opts: AnalyzeOptions, quiet: bool) -> Result<(Analyzer, u64)> {
    let mut analyzer = Analyzer::new(opts)?;
    let mut failed = 0;
    for (input, found_in_folder) in &r.inputs {
        if let Err(e) = analyzer.add_input(input) {
            if *found_in_folder && matches!(e.kind(), auditlog_core::ErrorKind::UnknownFormat) {
                if !quiet {
                    eprintln!("auditlog: skipping {}: not a log this tool reads", sanitize(input.name().as_bytes()));
                }
            } else {
                failed += 1;
                eprintln!("auditlog: {}", sanitize(e.to_string().as_bytes()));
            }
        }
    }
    failed += run_cloudwatch(r, &mut analyzer);
    Ok((analyzer, failed))
}

/// Calls `f` with every CloudWatch Logs stream of `r` (`--cloudwatch`) as a reader: the input name
/// (`cloudwatch:GROUP/STREAM`), the reader (it pages through FilterLogEvents as it is read) and the format of its
/// log type. `f` returns false to count the stream as failed. Stops at Ctrl-C, then clears the progress line and
/// prints the totals. Returns how many streams failed. Every command that reads logs calls this after its files.
#[cfg(feature = "cloudwatch")]
pub fn each_cloudwatch_reader(r: &Resolved, mut f: impl FnMut(&str, &mut dyn Read, Option<Format>) -> bool) -> u64 {
    let Some(cw) = &r.cloudwatch else { return 0 };
    let mut failed = 0;
    for stream in &cw.streams {
        if cw.interrupted() {
            break;
        }
        let mut reader = cw.client().open(stream, &cw.query);
        if !f(&stream.input_name(), &mut reader, stream.format()) {
            failed += 1;
        }
    }
    cw.finish();
    failed
}

#[cfg(not(feature = "cloudwatch"))]
pub fn each_cloudwatch_reader(_r: &Resolved, _f: impl FnMut(&str, &mut dyn Read, Option<Format>) -> bool) -> u64 {
    0
}

/// Reads the CloudWatch streams of `r` into the analyzer; returns how many failed.
fn run_cloudwatch(r: &Resolved, analyzer: &mut Analyzer) -> u64 {
    each_cloudwatch_reader(r, |name, reader, format| match analyzer.add_reader_as(name, reader, format) {
        Ok(_) => true,
        Err(e) => {
            let e = if e.path().is_none() { e.with_path(name) } else { e };
            eprintln!("auditlog: {}", sanitize(e.to_string().as_bytes()));
            false
        }
    })
}

/// True when Ctrl-C stopped reading CloudWatch Logs (the results cover what was read; exit with 130).
pub fn interrupted(r: &Resolved) -> bool {
    r.cloudwatch.as_ref().is_some_and(|c| c.interrupted())
}
