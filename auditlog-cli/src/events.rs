//! `auditlog events`.

use std::io::{self, BufWriter, IsTerminal, LineWriter, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use auditlog_core::{Format, Item, ReadSummary};

use crate::cli::EventsArgs;
use crate::inputs::resolve;
use crate::output;
use crate::output::sanitize::sanitize;

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

pub fn events(args: &EventsArgs) -> Result<ExitCode> {
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
