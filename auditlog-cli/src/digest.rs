//! `auditlog digest`.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use auditlog_core::digest::{Digest, DigestOptions};

use crate::cli::{DigestArgs, DigestOutput};
use crate::inputs::resolve;
use crate::output::sanitize::sanitize;

pub fn digest(args: &DigestArgs) -> Result<ExitCode> {
    let r = resolve(&args.input)?;
    let opts = DigestOptions {
        read: r.opts.clone().with_block_size(auditlog_core::ReadOptions::ENGINE_BLOCK_SIZE),
        threads: args.threads.unwrap_or(0),
        since: r.since,
        until: r.until,
        ..DigestOptions::default()
    };
    let mut d = Digest::new(opts)?;
    let mut failed = 0u64;
    for (input, found_in_folder) in &r.inputs {
        if let Err(e) = d.add_input(input) {
            if *found_in_folder && matches!(e.kind(), auditlog_core::ErrorKind::UnknownFormat) {
                continue;
            }
            failed += 1;
            eprintln!("auditlog: {}", sanitize(e.to_string().as_bytes()));
        }
    }
    failed +=
        crate::inputs::each_cloudwatch_reader(&r, |name, reader, format| match d.add_reader_as(name, reader, format) {
            Ok(_) => true,
            Err(e) => {
                eprintln!("auditlog: {name}: {}", sanitize(e.to_string().as_bytes()));
                false
            }
        });
    let mut report = d.finish();
    let classes = report.classes.len();
    if args.limit > 0 {
        report.classes.truncate(args.limit);
    }
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    let mut out = BufWriter::new(stdout.lock());
    match args.output {
        DigestOutput::Json => {
            serde_json::to_writer_pretty(&mut out, &report).context("writing output")?;
            writeln!(out).context("writing output")?;
        }
        DigestOutput::Table => {
            let t = |s: &str| if tty { sanitize(s.as_bytes()).into_owned() } else { s.to_string() };
            writeln!(out, "# {} statements in {} classes, {} records", report.statements, classes, report.records)
                .context("writing output")?;
            for (i, c) in report.classes.iter().enumerate() {
                let qt = &c.query_time;
                writeln!(
                    out,
                    "\n# {:>3}. count {}  time total {:.6}s avg {:.6}s p95 {:.6}s max {:.6}s  lock total {:.6}s  rows sent {} examined {}",
                    i + 1, c.count, qt.total, qt.avg, qt.p95, qt.max, c.lock_time.total, c.rows_sent, c.rows_examined
                )
                .context("writing output")?;
                let ts = |x: Option<auditlog_core::Timestamp>| x.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
                writeln!(out, "#      first {}  last {}", ts(c.first_seen), ts(c.last_seen))
                    .context("writing output")?;
                let more = |m: bool| if m { ", ..." } else { "" };
                writeln!(
                    out,
                    "#      users {}{}  hosts {}{}",
                    t(&c.users.join(", ")),
                    more(c.users_more),
                    t(&c.hosts.join(", ")),
                    more(c.hosts_more)
                )
                .context("writing output")?;
                writeln!(out, "#      fingerprint {}", t(&c.fingerprint)).context("writing output")?;
                let ex: String = c.example.chars().take(400).collect();
                writeln!(out, "{}", t(&ex)).context("writing output")?;
            }
        }
    }
    out.flush().context("writing output")?;
    Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
