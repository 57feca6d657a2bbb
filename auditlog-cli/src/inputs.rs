//! Command-line inputs resolved into library inputs and options, shared by every command that reads logs.

use std::io::{self, IsTerminal};

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
}

pub fn resolve(args: &InputArgs) -> Result<Resolved> {
    let paths = if args.paths.is_empty() {
        if io::stdin().is_terminal() {
            bail!("no input: give log files or folders, or pipe a log into standard input (use `-` to read it explicitly)");
        }
        vec!["-".into()]
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
    Ok(Resolved { inputs, opts, since, until })
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
    Ok((analyzer, failed))
}
