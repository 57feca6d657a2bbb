//! Event writers: JSON Lines, CSV and an aligned table.

pub mod sanitize;

use std::borrow::Cow;
use std::io::{self, Write};

use auditlog_core::Event;
use serde::Serialize;

use self::sanitize::sanitize;
use crate::cli::Output;

/// Writes events in one output shape.
pub trait EventWriter {
    /// Writes one event read from `file`.
    fn write(&mut self, ev: &Event<'_>, file: &str) -> io::Result<()>;
    /// Flushes what is buffered.
    fn finish(&mut self) -> io::Result<()>;
}

/// Makes the writer for `output`. `tty` says whether stdout is a terminal (CSV is then sanitized too, and JSON
/// escapes the characters it would otherwise write raw: DEL, C1 controls, bidi and zero-width characters).
pub fn writer<'w>(output: Output, out: Box<dyn Write + 'w>, tty: bool) -> Box<dyn EventWriter + 'w> {
    match output {
        Output::Jsonl => Box::new(Jsonl { out, tty, line: Vec::new() }),
        Output::Csv => Box::new(Csv { out: csv::Writer::from_writer(out), header: false, tty }),
        Output::Table => Box::new(Table { out, header: false }),
    }
}

#[derive(Serialize)]
struct JsonEvent<'e, 'a> {
    #[serde(flatten)]
    event: &'e Event<'a>,
    file: &'e str,
}

struct Jsonl<'w> {
    out: Box<dyn Write + 'w>,
    tty: bool,
    /// The line being written: serialized into memory and written in one call (serde_json writes many small
    /// pieces, each a dynamic call into the buffered writer otherwise).
    line: Vec<u8>,
}

impl EventWriter for Jsonl<'_> {
    fn write(&mut self, ev: &Event<'_>, file: &str) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, &JsonEvent { event: ev, file })?;
        if self.tty {
            let text = String::from_utf8_lossy(&self.line);
            self.out.write_all(sanitize::json_for_terminal(&text).as_bytes())?;
            return self.out.write_all(b"\n");
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn text(b: Option<&[u8]>) -> Cow<'_, str> {
    b.map_or(Cow::Borrowed(""), String::from_utf8_lossy)
}

/// The redacted SQL, or for error-log events the (redacted) message.
fn statement<'e>(ev: &'e Event<'_>) -> Option<Cow<'e, [u8]>> {
    match (&ev.sql, &ev.message) {
        (Some(q), _) => Some(q.redacted()),
        (None, Some(m)) => Some(auditlog_core::redact::redact_sql(m)),
        (None, None) => None,
    }
}

const CSV_HEADER: [&str; 18] = [
    "ts",
    "log",
    "dialect",
    "kind",
    "op",
    "server",
    "user",
    "host",
    "conn_id",
    "query_id",
    "db",
    "object",
    "sql",
    "message",
    "retcode",
    "truncated",
    "file",
    "line",
];

struct Csv<'w> {
    out: csv::Writer<Box<dyn Write + 'w>>,
    header: bool,
    tty: bool,
}

impl EventWriter for Csv<'_> {
    fn write(&mut self, ev: &Event<'_>, file: &str) -> io::Result<()> {
        if !self.header {
            self.out.write_record(CSV_HEADER)?;
            self.header = true;
        }
        let tty = self.tty;
        let f = |b: Option<&[u8]>| -> String {
            match b {
                None => String::new(),
                Some(b) if tty => sanitize(b).into_owned(),
                Some(b) => String::from_utf8_lossy(b).into_owned(),
            }
        };
        let num = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        let sql = ev.sql.as_ref().map(|q| q.redacted());
        let msg = ev.message.as_deref().map(auditlog_core::redact::redact_sql);
        let rec = [
            ev.ts.map(|t| t.to_rfc3339()).unwrap_or_default(),
            ev.log.as_str().to_string(),
            ev.dialect.as_str().to_string(),
            ev.kind.as_str().to_string(),
            f(ev.op.as_deref()),
            f(ev.server.as_deref()),
            f(ev.user.as_deref()),
            f(ev.host.as_deref()),
            num(ev.conn_id),
            num(ev.query_id),
            f(ev.db.as_deref()),
            f(ev.object.as_deref()),
            f(sql.as_deref()),
            f(msg.as_deref()),
            ev.retcode.map(|r| r.to_string()).unwrap_or_default(),
            ev.truncated.to_string(),
            if tty { sanitize(file.as_bytes()).into_owned() } else { file.to_string() },
            ev.pos.line.to_string(),
        ];
        self.out.write_record(&rec)?;
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Columns of the table: (title, width); the last one takes the rest of the line.
const COLUMNS: [(&str, usize); 8] =
    [("TIME (UTC)", 27), ("LOG", 7), ("KIND", 14), ("USER", 16), ("HOST", 18), ("CONN", 9), ("RC", 5), ("DB", 12)];
const LAST_WIDTH: usize = 100;

struct Table<'w> {
    out: Box<dyn Write + 'w>,
    header: bool,
}

/// Pads or cuts `s` to exactly `w` display characters (cut ends in `…`).
fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        format!("{s}{}", " ".repeat(w - n))
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

impl EventWriter for Table<'_> {
    fn write(&mut self, ev: &Event<'_>, file: &str) -> io::Result<()> {
        let _ = file;
        if !self.header {
            let mut line = String::new();
            for (t, w) in COLUMNS {
                line.push_str(&fit(t, w));
                line.push(' ');
            }
            line.push_str("SQL / MESSAGE");
            writeln!(self.out, "{line}")?;
            self.header = true;
        }
        let s = |b: Option<&[u8]>| -> String { b.map(|b| sanitize(b).into_owned()).unwrap_or_else(|| "-".into()) };
        let stmt = statement(ev);
        let what = match (&stmt, &ev.object, &ev.op) {
            (Some(q), _, _) => sanitize(q).into_owned(),
            (None, Some(o), _) => s(Some(o)),
            (None, None, Some(op)) => s(Some(op)),
            _ => String::new(),
        };
        let cells = [
            ev.ts.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into()),
            ev.log.as_str().to_string(),
            ev.kind.as_str().to_string(),
            s(ev.user.as_deref()),
            s(ev.host.as_deref()),
            ev.conn_id.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            ev.retcode.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            s(ev.db.as_deref()),
        ];
        let mut line = String::new();
        for ((_, w), c) in COLUMNS.iter().zip(cells.iter()) {
            line.push_str(&fit(c, *w));
            line.push(' ');
        }
        let what = fit(&what, LAST_WIDTH);
        line.push_str(what.trim_end());
        let _ = text(None);
        writeln!(self.out, "{line}")
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
