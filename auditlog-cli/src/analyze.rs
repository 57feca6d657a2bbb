//! `auditlog analyze` and `auditlog baseline`.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use auditlog_core::analyze::{AnalyzeOptions, Baseline, BurstOptions, Report, Severity};

use crate::cli::{AnalyzeArgs, BaselineArgs, ColorChoice, FailOn, InputArgs, ReportFormat};
use crate::inputs::{duration_us, interrupted, resolve, run_inputs};
use crate::output::sanitize::sanitize;
use crate::{config, report};

fn malformed_to_stderr(report: &Report, args: &InputArgs) {
    if args.quiet {
        return;
    }
    let sm = &report.summary;
    let too_long = auditlog_core::Reason::TooLong.to_string();
    for m in sm.malformed_examples.iter().take(usize::try_from(args.max_reports).unwrap_or(usize::MAX)) {
        let text: String = m.text.chars().take(80).collect();
        let hint = if m.reason == too_long {
            format!(" (over the limit of {} bytes: raise --max-record-size to read it)", args.max_record_size)
        } else {
            String::new()
        };
        eprintln!(
            "auditlog: {}:{}: malformed record: {}{hint}: {}",
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

pub fn analyze(args: &AnalyzeArgs) -> Result<ExitCode> {
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
        read: r.opts.clone().with_block_size(auditlog_core::ReadOptions::ENGINE_BLOCK_SIZE),
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
    if interrupted(&r) {
        eprintln!("auditlog: interrupted: the report covers only what was read before Ctrl-C");
        return Ok(ExitCode::from(130));
    }
    for w in &report.summary.warnings {
        eprintln!("auditlog: {}", sanitize(w.as_bytes()));
    }
    if failed > 0 || !report.summary.warnings.is_empty() {
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

pub fn baseline(args: &BaselineArgs) -> Result<ExitCode> {
    let r = resolve(&args.input)?;
    let opts = AnalyzeOptions {
        read: r.opts.clone().with_block_size(auditlog_core::ReadOptions::ENGINE_BLOCK_SIZE),
        threads: args.threads.unwrap_or(0),
        since: r.since,
        until: r.until,
        ..AnalyzeOptions::default()
    };
    let (analyzer, failed) = run_inputs(&r, opts, args.input.quiet)?;
    let b = analyzer.baseline().context("learning the baseline")?;
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
    if interrupted(&r) {
        eprintln!("auditlog: interrupted: the baseline covers only what was read before Ctrl-C");
        return Ok(ExitCode::from(130));
    }
    Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
