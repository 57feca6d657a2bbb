//! `auditlog`: the command-line front end of `auditlog-core`. Argument parsing and output only.

mod cli;
mod config;
mod output;
mod report;
mod timearg;

use std::io::{self, BufWriter, IsTerminal, LineWriter, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use auditlog_core::source::{expand, Input};
use auditlog_core::{Format, Item, ReadOptions, ReadSummary, Timestamp};
use clap::Parser as _;

use auditlog_core::analyze::{AnalyzeOptions, Analyzer, Baseline, BurstOptions, Report, Severity};

use crate::cli::{
    AnalyzeArgs, BaselineArgs, Cli, ColorChoice, Command, EventsArgs, FailOn, FormatArg, InputArgs, ReportFormat,
};
use crate::output::sanitize::sanitize;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`auditlog events big.log | head`) is a normal way to stop.
            if err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("auditlog: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Events(args) => events(&args),
        Command::Analyze(args) => analyze(&args),
        Command::Baseline(args) => baseline(&args),
    }
}

/// Inputs and filters, validated.
struct Resolved {
    /// Each input, and whether it was found inside a folder (then content that is no log is skipped with a
    /// note instead of being an error).
    inputs: Vec<(Input, bool)>,
    opts: ReadOptions,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
}

fn resolve(args: &InputArgs) -> Result<Resolved> {
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

/// Counts for the summary line.
#[derive(Default)]
struct Totals {
    read: ReadSummary,
    per_format: [u64; 4],
    inputs: u64,
    failed_inputs: u64,
    not_logs: u64,
    shown: u64,
}

impl Totals {
    fn add(&mut self, s: ReadSummary) {
        if let Some(f) = s.format {
            let i = Format::ALL.iter().position(|x| *x == f).unwrap_or(0);
            if let Some(c) = self.per_format.get_mut(i) {
                *c += s.records;
            }
        }
        self.read += s;
    }

    fn line(&self) -> String {
        let per: Vec<String> =
            Format::ALL.iter().zip(self.per_format).filter(|(_, n)| *n > 0).map(|(f, n)| format!("{f} {n}")).collect();
        let per = if per.is_empty() { String::new() } else { format!(" ({})", per.join(", ")) };
        let failed =
            if self.failed_inputs > 0 { format!(", {} unreadable", self.failed_inputs) } else { String::new() };
        format!(
            "auditlog: {} input{}{failed}, {} records{per}, {} malformed, {} skipped lines, {} events shown, {} bytes",
            self.inputs,
            if self.inputs == 1 { "" } else { "s" },
            self.read.records,
            self.read.malformed,
            self.read.skipped,
            self.shown,
            self.read.bytes
        )
    }
}

fn events(args: &EventsArgs) -> Result<ExitCode> {
    let r = resolve(&args.input)?;
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    let out: Box<dyn Write> = if tty {
        Box::new(LineWriter::new(stdout.lock()))
    } else {
        Box::new(BufWriter::with_capacity(1 << 16, stdout.lock()))
    };
    let mut w = output::writer(args.output, out, tty);
    let mut totals = Totals::default();
    let quiet = args.input.quiet;
    let mut reported = 0u64;
    for (input, found_in_folder) in &r.inputs {
        let name = input.name();
        totals.inputs += 1;
        let mut write_err: Option<io::Error> = None;
        let mut strict_hit = None;
        let res = input.read(&r.opts, |item| {
            match item {
                Item::Event(ev) => {
                    let keep = match (r.since, r.until, ev.ts) {
                        (None, None, _) => true,
                        (_, _, None) => false,
                        (s, u, Some(t)) => s.is_none_or(|s| t >= s) && u.is_none_or(|u| t < u),
                    };
                    if keep {
                        totals.shown += 1;
                        if let Err(e) = w.write(&ev, &name) {
                            write_err = Some(e);
                            return ControlFlow::Break(());
                        }
                    }
                }
                Item::Malformed(m) => {
                    if args.input.strict {
                        strict_hit = Some(m.into_owned());
                        return ControlFlow::Break(());
                    }
                    if !quiet && reported < args.input.max_reports {
                        reported += 1;
                        let snippet: Vec<u8> = m.raw.iter().copied().take(80).collect();
                        eprintln!(
                            "auditlog: {}:{}: malformed record: {}: {}{}",
                            sanitize(name.as_bytes()),
                            m.pos.line,
                            m.reason,
                            sanitize(&snippet),
                            if m.raw.len() > 80 { "…" } else { "" }
                        );
                    }
                }
                Item::Skipped(_) => {}
            }
            ControlFlow::Continue(())
        });
        if let Some(e) = write_err {
            return Err(e).context("writing output");
        }
        match res {
            Ok(s) => totals.add(s),
            Err(e) if *found_in_folder && matches!(e.kind(), auditlog_core::ErrorKind::UnknownFormat) => {
                totals.not_logs += 1;
                if !quiet {
                    eprintln!("auditlog: skipping {}: not a log this tool reads", sanitize(name.as_bytes()));
                }
            }
            Err(e) => {
                totals.failed_inputs += 1;
                eprintln!("auditlog: {}", sanitize(e.to_string().as_bytes()));
            }
        }
        if let Some(m) = strict_hit {
            w.finish().context("writing output")?;
            eprintln!(
                "auditlog: {}:{}: malformed record (--strict): {}: {}",
                sanitize(name.as_bytes()),
                m.pos.line,
                m.reason,
                sanitize(m.raw.get(..m.raw.len().min(80)).unwrap_or_default())
            );
            return Ok(ExitCode::from(2));
        }
    }
    w.finish().context("writing output")?;
    if !quiet {
        if totals.read.malformed > reported && reported >= args.input.max_reports {
            eprintln!(
                "auditlog: {} more malformed records not described (raise --max-reports to see them)",
                totals.read.malformed - reported
            );
        }
        eprintln!("{}", totals.line());
    }
    Ok(if totals.failed_inputs > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// A `--window`/`--learn` style duration in microseconds.
fn duration_us(flag: &str, v: &str) -> Result<i64> {
    let d = timearg::parse_duration(v).ok_or_else(|| {
        anyhow::anyhow!("{flag}: invalid duration `{v}`: use a number and a unit, like 90s, 5m, 2h, 7d")
    })?;
    i64::try_from(d.as_micros()).map_err(|_| anyhow::anyhow!("{flag}: duration `{v}` is too long"))
}

/// Reads every input into an analyzer; returns it with the number of inputs that failed.
fn run_inputs(r: &Resolved, opts: AnalyzeOptions, quiet: bool) -> Result<(Analyzer, u64)> {
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

fn malformed_to_stderr(report: &Report, args: &InputArgs) {
    if args.quiet {
        return;
    }
    let sm = &report.summary;
    for m in sm.malformed_examples.iter().take(usize::try_from(args.max_reports).unwrap_or(usize::MAX)) {
        let text: String = m.text.chars().take(80).collect();
        eprintln!(
            "auditlog: {}:{}: malformed record: {}: {}",
            sanitize(m.file.as_bytes()),
            m.line,
            m.reason,
            sanitize(text.as_bytes())
        );
    }
    let shown = sm.malformed_examples.len().min(usize::try_from(args.max_reports).unwrap_or(usize::MAX)) as u64;
    if sm.malformed > shown {
        eprintln!(
            "auditlog: {} more malformed records not described (raise --max-reports to see them)",
            sm.malformed - shown
        );
    }
}

fn analyze(args: &AnalyzeArgs) -> Result<ExitCode> {
    let r = resolve(&args.input)?;
    let cfg = match &args.config {
        Some(p) => config::load(p)?,
        None => config::Config::default(),
    };
    let d = BurstOptions::default();
    let window = args.window.as_deref().or(cfg.burst.window.as_deref());
    let burst = BurstOptions {
        window_us: window.map(|w| duration_us("--window", w)).transpose()?.unwrap_or(d.window_us),
        threshold: args.threshold.or(cfg.burst.threshold).unwrap_or(d.threshold),
        spray_users: args.spray_users.or(cfg.burst.spray_users).unwrap_or(d.spray_users),
        distributed_hosts: args.distributed_hosts.or(cfg.burst.distributed_hosts).unwrap_or(d.distributed_hosts),
    };
    if burst.window_us <= 0 || burst.threshold == 0 {
        bail!("--window and --threshold must be greater than zero");
    }
    let baseline_path =
        args.baseline.clone().or(if args.learn.is_none() { cfg.unusual_host.baseline.clone() } else { None });
    let baseline = match &baseline_path {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading baseline {}", p.display()))?;
            let b: Baseline = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a baseline file (make one with `auditlog baseline`)", p.display()))?;
            Some(b)
        }
        None => None,
    };
    let learn = if baseline.is_some() { None } else { args.learn.as_deref().or(cfg.unusual_host.learn.as_deref()) };
    let learn_us = learn.map(|l| duration_us("--learn", l)).transpose()?;
    let fail_on = args.fail_on.or(cfg.analyze.fail_on).unwrap_or(FailOn::High);
    let opts = AnalyzeOptions {
        read: r.opts.clone().with_block_size(8 << 20),
        threads: args.threads.or(cfg.analyze.threads).unwrap_or(0),
        since: r.since,
        until: r.until,
        burst,
        baseline,
        learn_us,
        malformed_examples: usize::try_from(args.input.max_reports).unwrap_or(usize::MAX).max(1),
        ..AnalyzeOptions::default()
    };
    let (analyzer, failed) = run_inputs(&r, opts, args.input.quiet)?;
    let report = analyzer.finish();
    if args.input.strict {
        if let Some(m) = report.summary.malformed_examples.first() {
            eprintln!(
                "auditlog: {}:{}: malformed record (--strict): {}: {}",
                sanitize(m.file.as_bytes()),
                m.line,
                m.reason,
                sanitize(m.text.chars().take(80).collect::<String>().as_bytes())
            );
            return Ok(ExitCode::from(2));
        }
    }
    malformed_to_stderr(&report, &args.input);
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    let mut out = BufWriter::new(stdout.lock());
    match args.output {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report).context("writing output")?;
            writeln!(out).context("writing output")?;
        }
        ReportFormat::Text => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let color = match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => tty && !no_color,
            };
            report::text(&mut out, &report, color).context("writing output")?;
        }
    }
    out.flush().context("writing output")?;
    if failed > 0 {
        return Ok(ExitCode::from(2));
    }
    let threshold = match fail_on {
        FailOn::Low => Some(Severity::Low),
        FailOn::Medium => Some(Severity::Medium),
        FailOn::High => Some(Severity::High),
        FailOn::Critical => Some(Severity::Critical),
        FailOn::Never => None,
    };
    let hit = threshold.is_some_and(|t| report.findings.iter().any(|f| f.severity >= t));
    Ok(if hit { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn baseline(args: &BaselineArgs) -> Result<ExitCode> {
    let r = resolve(&args.input)?;
    let opts = AnalyzeOptions {
        read: r.opts.clone().with_block_size(8 << 20),
        threads: args.threads.unwrap_or(0),
        since: r.since,
        until: r.until,
        ..AnalyzeOptions::default()
    };
    let (analyzer, failed) = run_inputs(&r, opts, args.input.quiet)?;
    let b = analyzer.baseline();
    let json = serde_json::to_string_pretty(&b)?;
    if args.output_file.as_os_str() == "-" {
        let mut out = io::stdout().lock();
        writeln!(out, "{json}").context("writing output")?;
    } else {
        std::fs::write(&args.output_file, format!("{json}\n"))
            .with_context(|| format!("writing {}", args.output_file.display()))?;
    }
    if !args.input.quiet {
        let hosts: usize = b.users.values().map(|h| h.len()).sum();
        eprintln!(
            "auditlog: baseline of {} users and {hosts} user-host pairs written to {}",
            b.users.len(),
            if args.output_file.as_os_str() == "-" {
                "standard output".to_string()
            } else {
                args.output_file.display().to_string()
            }
        );
    }
    Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
