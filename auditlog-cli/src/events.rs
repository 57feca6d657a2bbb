//! `auditlog events`.

use std::io::{self, BufWriter, IsTerminal, LineWriter, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use auditlog_core::source::Input;
use auditlog_core::{Format, Item, ReadSummary};

use crate::cli::EventsArgs;
use crate::cloudwatch::Stream;
use crate::inputs::{interrupted, resolve, Resolved};
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

/// One input: a file (or standard input) or a CloudWatch Logs stream.
enum Src<'a> {
    File(&'a Input),
    Cloud(&'a Stream),
}

impl Src<'_> {
    fn name(&self) -> String {
        match self {
            Src::File(i) => i.name(),
            #[cfg(feature = "cloudwatch")]
            Src::Cloud(s) => s.input_name(),
            #[cfg(not(feature = "cloudwatch"))]
            Src::Cloud(s) => match **s {},
        }
    }
}

/// Reads one CloudWatch stream; events get the stream name (the DB instance) as `server` when they have none.
#[cfg(feature = "cloudwatch")]
fn cloud_read<F>(r: &Resolved, stream: &Stream, sink: F) -> Result<ReadSummary, auditlog_core::Error>
where
    F: FnMut(Item<'_>) -> ControlFlow<()>,
{
    match &r.cloudwatch {
        Some(c) => c.client().read(stream, &c.query, &r.opts, sink),
        None => Ok(ReadSummary::default()),
    }
}

#[cfg(not(feature = "cloudwatch"))]
fn cloud_read<F>(_r: &Resolved, stream: &Stream, _sink: F) -> Result<ReadSummary, auditlog_core::Error>
where
    F: FnMut(Item<'_>) -> ControlFlow<()>,
{
    match *stream {}
}

/// What to do about a malformed record, where there is something to do.
fn what_to_do(m: &auditlog_core::Malformed<'_>, max_record_size: usize) -> String {
    match m.reason {
        auditlog_core::Reason::TooLong => {
            format!(" ({} bytes, over the limit of {max_record_size}: raise --max-record-size to read it)", m.len)
        }
        _ => String::new(),
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
    let streams = r.cloudwatch.as_ref().map(|c| c.streams.as_slice()).unwrap_or_default();
    let sources =
        r.inputs.iter().map(|(i, f)| (Src::File(i), *f)).chain(streams.iter().map(|s| (Src::Cloud(s), false)));
    for (src, found_in_folder) in sources {
        if interrupted(&r) {
            break;
        }
        let name = src.name();
        let found_in_folder = &found_in_folder;
        totals.inputs += 1;
        let mut write_err: Option<io::Error> = None;
        let mut strict_hit = None;
        let sink = |item: Item<'_>| {
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
                        eprintln!(
                            "auditlog: {}:{}: malformed record: {}{}: {}{}",
                            sanitize(name.as_bytes()),
                            m.pos.line,
                            m.reason,
                            what_to_do(&m, args.input.max_record_size),
                            sanitize(&m.redacted_head(80)),
                            if m.raw.len() > 80 { "…" } else { "" }
                        );
                    }
                }
                Item::Skipped(_) => {}
            }
            ControlFlow::Continue(())
        };
        let res = match src {
            Src::File(input) => input.read(&r.opts, sink),
            Src::Cloud(stream) => cloud_read(&r, stream, sink),
        };
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
                "auditlog: {}:{}: malformed record (--strict): {}{}: {}",
                sanitize(name.as_bytes()),
                m.pos.line,
                m.reason,
                what_to_do(&m, args.input.max_record_size),
                sanitize(&m.redacted_head(80))
            );
            return Ok(ExitCode::from(2));
        }
    }
    w.finish().context("writing output")?;
    if let Some(c) = &r.cloudwatch {
        c.finish();
    }
    if !quiet {
        if totals.read.malformed > reported && reported >= args.input.max_reports {
            eprintln!(
                "auditlog: {} more malformed records not described (raise --max-reports to see them)",
                totals.read.malformed - reported
            );
        }
        eprintln!("{}", totals.line());
    }
    if interrupted(&r) {
        eprintln!("auditlog: interrupted: the events above are what was read before Ctrl-C");
        return Ok(ExitCode::from(130));
    }
    Ok(if totals.failed_inputs > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
