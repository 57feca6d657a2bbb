//! `auditlog query`.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use auditlog_core::query::{Query, QueryOptions, Runner, Value};

use crate::cli::{QueryArgs, QueryOutput};
use crate::inputs::resolve;
use crate::output::sanitize::sanitize;

/// Fits text to `w` characters (cut with `…`).
fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        format!("{s:<w$}")
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn cell(v: &Value<'_>, tty: bool) -> String {
    let s = v.to_string();
    if tty {
        sanitize(s.as_bytes()).into_owned()
    } else {
        s
    }
}

/// A long line cut to about 100 characters around `col` (0-based, in characters), and `col` in the cut text.
fn around(line: &str, col: usize) -> (String, usize) {
    let n = line.chars().count();
    if n <= 100 {
        return (line.to_string(), col);
    }
    let start = col.saturating_sub(60).min(n);
    let end = col.saturating_add(40).min(n);
    let mut s = String::new();
    if start > 0 {
        s.push('…');
    }
    s.extend(line.chars().skip(start).take(end.saturating_sub(start)));
    if end < n {
        s.push('…');
    }
    (s, col - start + usize::from(start > 0))
}

pub fn query(args: &QueryArgs) -> Result<ExitCode> {
    // `@FILE`: the query is in a file (a query never starts with `@`; an argument is limited to 128 KiB).
    let text = match args.query.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read the query from {path}"))?,
        None => args.query.clone(),
    };
    let q = match Query::parse(&text) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("auditlog: query: {}", sanitize(e.to_string().as_bytes()));
            if let Some(line) = text.lines().nth(e.line().saturating_sub(1)) {
                let (shown, caret) = around(line, e.column().saturating_sub(1));
                eprintln!("  {}", sanitize(shown.as_bytes()));
                eprintln!("  {}^", " ".repeat(caret));
            }
            return Ok(ExitCode::from(2));
        }
    };
    let r = resolve(&args.input)?;
    let opts = QueryOptions {
        read: r.opts.clone().with_block_size(auditlog_core::ReadOptions::ENGINE_BLOCK_SIZE),
        threads: args.threads.unwrap_or(0),
        since: r.since,
        until: r.until,
        malformed_examples: usize::try_from(args.input.max_reports).unwrap_or(usize::MAX),
        ..QueryOptions::default()
    };
    let cols: Vec<String> = q.columns().to_vec();
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut write_err: Option<io::Error> = None;
    let mut table: Vec<Vec<String>> = Vec::new();
    let mut json_rows: Vec<String> = Vec::new();
    let mut failed = 0u64;
    let summary = {
        // Keys in column order (a serde_json map would sort them).
        let to_obj = |row: &[Value<'static>]| -> String {
            let mut o = String::from("{");
            for (i, (c, v)) in cols.iter().zip(row).enumerate() {
                if i > 0 {
                    o.push(',');
                }
                o.push_str(&serde_json::to_string(c).unwrap_or_default());
                o.push(':');
                o.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()));
            }
            o.push('}');
            o
        };
        let mut header = false;
        let mut runner = Runner::new(&q, opts, |row| {
            let res = match args.output {
                QueryOutput::Table => {
                    table.push(row.iter().map(|v| cell(v, tty)).collect());
                    Ok(())
                }
                QueryOutput::Json => {
                    json_rows.push(to_obj(&row));
                    Ok(())
                }
                QueryOutput::Jsonl => writeln!(out, "{}", to_obj(&row)),
                QueryOutput::Csv => {
                    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(&mut out);
                    let mut r = Ok(());
                    if !header {
                        header = true;
                        r = w.write_record(&cols).map_err(io::Error::from);
                    }
                    r.and_then(|_| w.write_record(row.iter().map(|v| cell(v, tty))).map_err(io::Error::from))
                        .and_then(|_| w.flush())
                }
            };
            match res {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    write_err = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
        for (input, found_in_folder) in &r.inputs {
            if runner.is_done() {
                break;
            }
            if let Err(e) = runner.add_input(input) {
                if *found_in_folder && matches!(e.kind(), auditlog_core::ErrorKind::UnknownFormat) {
                    if !args.input.quiet {
                        eprintln!(
                            "auditlog: skipping {}: not a log this tool reads",
                            sanitize(input.name().as_bytes())
                        );
                    }
                } else {
                    failed += 1;
                    eprintln!("auditlog: {}", sanitize(e.to_string().as_bytes()));
                }
            }
        }
        failed += crate::inputs::each_cloudwatch_reader(&r, |name, reader, format| {
            if runner.is_done() {
                return true;
            }
            match runner.add_reader_as(name, reader, format) {
                Ok(_) => true,
                Err(e) => {
                    eprintln!("auditlog: {name}: {}", sanitize(e.to_string().as_bytes()));
                    false
                }
            }
        });
        runner.finish()
    };
    if let Some(e) = write_err {
        return Err(e).context("writing output");
    }
    match args.output {
        QueryOutput::Table => {
            let widths: Vec<usize> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    table
                        .iter()
                        .map(|r| r.get(i).map_or(0, |s| s.chars().count()))
                        .max()
                        .unwrap_or(0)
                        .max(c.chars().count())
                        .min(60)
                })
                .collect();
            let line = |cells: Vec<String>| -> String {
                cells.iter().zip(&widths).map(|(c, w)| fit(c, *w)).collect::<Vec<_>>().join("  ").trim_end().to_string()
            };
            writeln!(out, "{}", line(cols.iter().map(|c| sanitize(c.as_bytes()).into_owned()).collect()))
                .context("writing output")?;
            for r in table {
                writeln!(out, "{}", line(r)).context("writing output")?;
            }
        }
        QueryOutput::Json => {
            writeln!(out, "[{}]", json_rows.join(",\n ")).context("writing output")?;
        }
        QueryOutput::Jsonl | QueryOutput::Csv => {}
    }
    out.flush().context("writing output")?;
    if !args.input.quiet {
        for m in &summary.malformed_examples {
            eprintln!(
                "auditlog: {}:{}: malformed record: {}: {}",
                sanitize(m.file.as_bytes()),
                m.line,
                m.reason,
                sanitize(m.text.chars().take(80).collect::<String>().as_bytes())
            );
        }
        eprintln!(
            "auditlog: {} records, {} malformed, {} matched, {} rows",
            summary.records, summary.malformed, summary.matched, summary.rows
        );
    }
    if args.input.strict && summary.malformed > 0 {
        return Ok(ExitCode::from(2));
    }
    Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::around;

    #[test]
    fn long_error_lines_are_cut_around_the_column() {
        assert_eq!(around("filter = 1", 7), ("filter = 1".to_string(), 7));
        let line = format!("{}X{}", "a".repeat(1000), "b".repeat(1000));
        let (shown, caret) = around(&line, 1000);
        assert_eq!(shown.chars().count(), 102);
        assert_eq!(shown.chars().nth(caret), Some('X'));
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        let (shown, caret) = around(&line, 2001);
        assert_eq!((shown.chars().count(), caret), (61, 61));
    }
}
