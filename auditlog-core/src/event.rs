//! The normalized event model shared by every log format.

use std::borrow::Cow;

use crate::time::Timestamp;

/// Which log a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum LogType {
    /// The advanced audit log (Aurora), the audit plugin log (RDS for MySQL) or MariaDB's server_audit log.
    Audit,
    /// The general query log.
    General,
    /// The slow query log.
    Slow,
    /// The error log.
    Error,
}

impl LogType {
    /// Every log type, in declaration order (`LogType::ALL[t as usize] == t`).
    pub const ALL: [LogType; 4] = [LogType::Audit, LogType::General, LogType::Slow, LogType::Error];

    /// The lower-case name used in every output (`audit`, `general`, `slow`, `error`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            LogType::Audit => "audit",
            LogType::General => "general",
            LogType::Slow => "slow",
            LogType::Error => "error",
        }
    }
}

/// Which writer (server, plugin or version family) produced a record, as far as the record shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Dialect {
    /// Aurora MySQL Advanced Auditing: 16-digit epoch-microsecond timestamps, 10 fields.
    Aurora,
    /// The RDS for MySQL audit plugin (AWS fork of the MariaDB plugin) with its trailing connection-type fields.
    RdsMysql,
    /// MariaDB: server_audit (10 fields, `YYYYMMDD HH:MM:SS`) or MariaDB's error log layout.
    Mariadb,
    /// MySQL 8.0 error log with `[MY-nnnnnn] [Subsystem]`.
    Mysql80,
    /// MySQL 5.7+ layouts with ISO 8601 timestamps (general, slow, error).
    Mysql57,
    /// Legacy layouts with `YYMMDD HH:MM:SS` timestamps (MySQL <= 5.6, MariaDB general and slow logs).
    Legacy,
}

impl Dialect {
    /// The snake-case name used in outputs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Dialect::Aurora => "aurora",
            Dialect::RdsMysql => "rds_mysql",
            Dialect::Mariadb => "mariadb",
            Dialect::Mysql80 => "mysql80",
            Dialect::Mysql57 => "mysql57",
            Dialect::Legacy => "legacy",
        }
    }
}

/// The normalized kind of an event, shared by all formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum EventKind {
    /// A successful login (audit `CONNECT`, `PROXY_CONNECT`; general `Connect user@host`).
    Connect,
    /// A rejected login (audit `FAILED_CONNECT`; general and error log `Access denied for user ...`).
    /// The return code tells 1045/1698 (bad credentials) from 1044 (no access to the database).
    FailedConnect,
    /// End of a session (audit `DISCONNECT`, general `Quit`).
    Disconnect,
    /// `COM_CHANGE_USER` (audit `CHANGEUSER`, general `Change user`).
    ChangeUser,
    /// An SQL statement (audit `QUERY`, general `Query`/`Execute`/`Prepare`/`Init DB`, slow log entries).
    Query,
    /// A table access row of the audit log (`READ`, `WRITE`, `CREATE`, `ALTER`, `DROP`, `RENAME`).
    Table,
    /// Any other protocol command (general `Ping`, `Field List`, ...; slow `# administrator command:`).
    Command,
    /// An error log message.
    Message,
    /// An audit operation this version does not know; the raw word is in [`Event::op`].
    Other,
}

impl EventKind {
    /// Every kind, in declaration order (`EventKind::ALL[k as usize] == k`).
    pub const ALL: [EventKind; 9] = [
        EventKind::Connect,
        EventKind::FailedConnect,
        EventKind::Disconnect,
        EventKind::ChangeUser,
        EventKind::Query,
        EventKind::Table,
        EventKind::Command,
        EventKind::Message,
        EventKind::Other,
    ];

    /// The snake-case name used in outputs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Connect => "connect",
            EventKind::FailedConnect => "failed_connect",
            EventKind::Disconnect => "disconnect",
            EventKind::ChangeUser => "change_user",
            EventKind::Query => "query",
            EventKind::Table => "table",
            EventKind::Command => "command",
            EventKind::Message => "message",
            EventKind::Other => "other",
        }
    }
}

/// Where a record starts: byte offset from the start of its input and 1-based line number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Position {
    /// Byte offset of the first byte of the record.
    pub byte: u64,
    /// Line number (1-based) of the first line of the record.
    pub line: u64,
}

impl Position {
    /// The position of the first byte of an input.
    pub const START: Position = Position { byte: 0, line: 1 };
}

/// How the SQL text of a record is escaped in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// Written as is (general, slow and error logs).
    Raw,
    /// The audit plugin's backslash escapes inside a single-quoted field: `\'`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`.
    AuditQuoted,
}

/// SQL text as it appears in the log, unescaped lazily on request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sql<'a> {
    raw: Cow<'a, [u8]>,
    escaping: Escaping,
}

impl<'a> Sql<'a> {
    /// Wraps raw SQL bytes as written in the log.
    #[must_use]
    pub fn new(raw: impl Into<Cow<'a, [u8]>>, escaping: Escaping) -> Self {
        Sql { raw: raw.into(), escaping }
    }

    /// The bytes as written in the log (still escaped for audit records).
    #[must_use]
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// How the raw bytes are escaped.
    #[must_use]
    pub fn escaping(&self) -> Escaping {
        self.escaping
    }

    /// The SQL text with the log's escapes undone. Borrows when nothing needed undoing.
    ///
    /// ```
    /// use auditlog_core::{Escaping, Sql};
    /// let sql = Sql::new(&br"SELECT \'a,b\'\nFROM t"[..], Escaping::AuditQuoted);
    /// assert_eq!(&*sql.text(), b"SELECT 'a,b'\nFROM t");
    /// ```
    #[must_use]
    pub fn text(&self) -> Cow<'_, [u8]> {
        match self.escaping {
            Escaping::Raw => Cow::Borrowed(&self.raw),
            Escaping::AuditQuoted => unescape_audit(&self.raw),
        }
    }

    /// The unescaped text with secrets (passwords in `IDENTIFIED BY '...'`, `PASSWORD('...')`, ...) replaced
    /// by `'<redacted>'`. This is what every output of auditlog shows.
    ///
    /// ```
    /// use auditlog_core::{Escaping, Sql};
    /// let sql = Sql::new(&br"CREATE USER \'u\'@\'%\' IDENTIFIED BY \'S3cret\'"[..], Escaping::AuditQuoted);
    /// assert_eq!(&*sql.redacted(), &b"CREATE USER 'u'@'%' IDENTIFIED BY '<redacted>'"[..]);
    /// ```
    #[must_use]
    pub fn redacted(&self) -> Cow<'_, [u8]> {
        match self.text() {
            Cow::Borrowed(b) => crate::redact::redact_sql(b),
            Cow::Owned(o) => Cow::Owned(crate::redact::redact_sql(&o).into_owned()),
        }
    }

    /// Copies the borrowed bytes so the value no longer borrows from the input.
    #[must_use]
    pub fn into_owned(self) -> Sql<'static> {
        Sql { raw: Cow::Owned(self.raw.into_owned()), escaping: self.escaping }
    }
}

/// Undoes the audit plugin's escapes: `\'`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, `\0`; any other `\x` keeps both
/// bytes, a lone trailing backslash is kept.
#[must_use]
pub fn unescape_audit(raw: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'\\', raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(raw.get(..first).unwrap_or_default());
    let mut it = raw.get(first..).unwrap_or_default().iter().copied();
    while let Some(b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next() {
            Some(b'\'') => out.push(b'\''),
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b'b') => out.push(0x08),
            Some(b'f') => out.push(0x0c),
            Some(b'0') => out.push(0),
            Some(other) => {
                out.push(b'\\');
                out.push(other);
            }
            None => out.push(b'\\'),
        }
    }
    Cow::Owned(out)
}

/// Escapes `text` as the audit plugin does, the inverse of [`unescape_audit`] for the bytes it unescapes.
fn escape_audit(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 8);
    for &b in text {
        let esc = match b {
            b'\'' => b'\'',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0 => b'0',
            _ => {
                out.push(b);
                continue;
            }
        };
        out.push(b'\\');
        out.push(esc);
    }
    out
}

/// Where `part` is in `whole`: by address when it borrows from it (the parsers' events), else as the only
/// occurrence of its bytes (an event made owned). `None` when it is not there or not only once.
fn find_within(whole: &[u8], part: &[u8]) -> Option<usize> {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    if p >= w && p + part.len() <= w + whole.len() {
        return Some(p - w);
    }
    let at = memchr::memmem::find(whole, part)?;
    let again = whole.get(at + 1..).and_then(|rest| memchr::memmem::find(rest, part));
    again.is_none().then_some(at)
}

/// A typed slow-log metric value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue<'a> {
    /// An unsigned integer (`Rows_sent: 12`).
    Int(u64),
    /// A decimal number (`Query_time: 0.110489`).
    Float(f64),
    /// `Yes` / `No`.
    Bool(bool),
    /// Anything else, as written (`Schema: shop`, `InnoDB_trx_id: 2552F3B37`, `Start: 2019-...Z`).
    Text(&'a [u8]),
}

impl<'a> MetricValue<'a> {
    /// Types a raw value: integer, decimal, Yes/No, else text.
    #[must_use]
    pub fn parse(v: &'a [u8]) -> Self {
        if let Some(n) = crate::format::common::parse_u64(v) {
            return MetricValue::Int(n);
        }
        match v {
            b"Yes" | b"YES" | b"yes" => return MetricValue::Bool(true),
            b"No" | b"NO" | b"no" => return MetricValue::Bool(false),
            _ => {}
        }
        if let Some(f) = plain_decimal(v) {
            return MetricValue::Float(f);
        }
        let looks_decimal = !v.is_empty()
            && v.iter().all(|b| b.is_ascii_digit() || *b == b'.' || *b == b'-')
            && v.iter().any(u8::is_ascii_digit);
        if looks_decimal {
            if let Some(f) = std::str::from_utf8(v).ok().and_then(|s| s.parse::<f64>().ok()) {
                return MetricValue::Float(f);
            }
        }
        MetricValue::Text(v)
    }

    /// The value as a float when it is numeric.
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetricValue::Int(n) => Some(n as f64),
            MetricValue::Float(f) => Some(f),
            _ => None,
        }
    }
}

/// `digits.digits` with at most 15 digits, as the nearest `f64`, without the general float parser: the digits
/// make an integer below 2^53 and the power of ten (up to 10^15) is exact too, so one division, correctly
/// rounded by IEEE 754, gives exactly what `str::parse::<f64>` gives (Clinger's fast path). Query and lock
/// times are written so (`0.000568`).
fn plain_decimal(v: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let dot = v.iter().position(|b| *b == b'.')?;
    let (int, frac) = (v.get(..dot)?, v.get(dot + 1..)?);
    if int.is_empty() || frac.is_empty() || int.len() + frac.len() > 15 {
        return None;
    }
    let mut m = 0u64;
    for b in int.iter().chain(frac) {
        if !b.is_ascii_digit() {
            return None;
        }
        m = m * 10 + u64::from(b - b'0');
    }
    Some(m as f64 / POW10.get(frac.len())?)
}

/// The `Key: value` metrics of a slow-log entry, read lazily from its header lines without allocating.
///
/// ```
/// use auditlog_core::{MetricValue, SlowMetrics};
/// let m = SlowMetrics::new(&b"# Query_time: 0.110489  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 12\n# Schema:   QC_hit: No\n"[..]);
/// assert_eq!(m.get("Query_time"), Some(MetricValue::Float(0.110489)));
/// assert_eq!(m.get("Rows_examined"), Some(MetricValue::Int(12)));
/// assert_eq!(m.get("Schema"), Some(MetricValue::Text(b"")));
/// assert_eq!(m.get("QC_hit"), Some(MetricValue::Bool(false)));
/// assert_eq!(m.iter().count(), 6);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlowMetrics<'a> {
    header: Cow<'a, [u8]>,
}

impl<'a> SlowMetrics<'a> {
    /// Wraps the metric header lines of one entry (the lines after `# User@Host:`).
    #[must_use]
    pub fn new(header: impl Into<Cow<'a, [u8]>>) -> Self {
        SlowMetrics { header: header.into() }
    }

    /// The header bytes the metrics are read from.
    #[must_use]
    pub fn raw(&self) -> &[u8] {
        &self.header
    }

    /// Every metric in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], MetricValue<'_>)> + '_ {
        self.header.split(|&b| b == b'\n').flat_map(metric_pairs)
    }

    /// The value of the first metric named `key` (case-sensitive, as written: `Query_time`, `Rows_sent`).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<MetricValue<'_>> {
        metric_in(&self.header, key)
    }

    /// The metrics with their values as written, in order, without typing them.
    pub(crate) fn raw_pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        metric_raw_pairs_in(&self.header)
    }

    /// The values of `keys` when the first line names exactly them, in that order, each `Key: value` with one
    /// space, the pairs apart by spaces or TABs: MySQL's own `# Query_time: 1.5  Lock_time: 0 Rows_sent: 1
    /// Rows_examined: 5`, read without tokenizing. Then they are also the first occurrences
    /// [`SlowMetrics::raw_pairs`] would give; `None` for any other layout.
    #[inline(always)]
    pub(crate) fn leading_raw<const N: usize>(&self, keys: [&[u8]; N]) -> Option<[&[u8]; N]> {
        let mut rest = self.header.strip_prefix(b"# ")?;
        let mut out = [&[][..]; N];
        for (slot, key) in out.iter_mut().zip(keys) {
            // Compared byte by byte: a call to memcmp costs more than these few bytes.
            let (k, after_key) = rest.split_at_checked(key.len())?;
            if !k.iter().zip(key).all(|(a, b)| a == b) {
                return None;
            }
            rest = after_key.strip_prefix(b": ")?;
            // The value ends at a blank or the line end; where its first CR is, if any.
            let mut end = 0;
            let mut cr = None;
            while let Some(&b) = rest.get(end) {
                match b {
                    b' ' | b'\t' | b'\n' => break,
                    b'\r' => {
                        cr.get_or_insert(end);
                    }
                    _ => {}
                }
                end += 1;
            }
            let (mut v, after) = rest.split_at(end);
            if let Some(c) = cr {
                // The tokenizer drops a CR at the end of the line only; any other is not MySQL's layout.
                let line_end = matches!(after.first(), None | Some(b'\n'));
                if !line_end || c + 1 != end {
                    return None;
                }
                v = v.get(..c).unwrap_or_default();
            }
            if v.is_empty() || v.ends_with(b":") {
                return None;
            }
            *slot = v;
            rest = after.get(after.iter().take_while(|b| matches!(b, b' ' | b'\t')).count()..)?;
        }
        Some(out)
    }

    /// Copies the borrowed bytes.
    #[must_use]
    pub fn into_owned(self) -> SlowMetrics<'static> {
        SlowMetrics { header: Cow::Owned(self.header.into_owned()) }
    }
}

/// The first metric `key` in metric header lines, borrowing from them.
pub(crate) fn metric_in<'a>(header: &'a [u8], key: &str) -> Option<MetricValue<'a>> {
    metric_raw_in(header, key).map(MetricValue::parse)
}

/// Every metric of the header lines with its value as written.
pub(crate) fn metric_raw_pairs_in(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    // Usually one line (`# Query_time: ...`): lines found with memchr rather than tested byte by byte.
    let mut rest = Some(header);
    std::iter::from_fn(move || {
        let r = rest?;
        let (line, next) = match memchr::memchr(b'\n', r) {
            Some(i) => (r.get(..i).unwrap_or_default(), r.get(i + 1..)),
            None => (r, None),
        };
        rest = next;
        Some(line)
    })
    .flat_map(metric_raw_pairs)
}

/// The raw value of the first metric `key` in metric header lines (`Schema: 2024` is a name, not a number).
pub(crate) fn metric_raw_in<'a>(header: &'a [u8], key: &str) -> Option<&'a [u8]> {
    metric_raw_pairs_in(header).find(|(k, _)| *k == key.as_bytes()).map(|(_, v)| v)
}

/// Splits one `# Key: value  Key2: value2` line into typed pairs; see [`metric_raw_pairs`].
fn metric_pairs(line: &[u8]) -> impl Iterator<Item = (&[u8], MetricValue<'_>)> {
    metric_raw_pairs(line).map(|(k, v)| (k, MetricValue::parse(v)))
}

/// Splits one `# Key: value  Key2: value2` line into pairs. Lines that are not metric lines
/// (`# Time:`, `# User@Host:`, `# explain:`, `# No InnoDB statistics ...`) give nothing.
fn metric_raw_pairs(line: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let body = line.strip_prefix(b"#").unwrap_or_default();
    let lead = body.trim_ascii_start();
    let skip =
        [&b"Time:"[..], b"User@Host:", b"explain:", b"administrator command:"].iter().any(|p| lead.starts_with(p));
    let mut toks = Tokens(if skip { &[] } else { body }).peekable();
    // Lazily, without collecting: the digest and the parser look up a few keys per record.
    std::iter::from_fn(move || {
        while let Some(t) = toks.next() {
            let Some(key) = t.strip_suffix(b":") else { continue };
            if key.is_empty() || !key.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
                continue;
            }
            let value = match toks.peek() {
                Some(v) if !v.ends_with(b":") => toks.next().unwrap_or_default(),
                _ => &[][..],
            };
            return Some((key, value));
        }
        None
    })
}

/// The words of a line separated by spaces and TABs (empty words skipped).
struct Tokens<'a>(&'a [u8]);

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let sep = |b: &u8| *b == b' ' || *b == b'\t';
        let start = self.0.iter().position(|b| !sep(b))?;
        let rest = self.0.get(start..).unwrap_or_default();
        let len = rest.iter().position(sep).unwrap_or(rest.len());
        let (tok, after) = rest.split_at_checked(len).unwrap_or((rest, &[]));
        self.0 = after;
        Some(tok)
    }
}

/// Fields only some formats have.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Extra<'a> {
    /// Nothing beyond the common fields.
    #[default]
    None,
    /// Audit log extras.
    Audit {
        /// The trailing connection type of RDS for MySQL connection rows (`TCP/IP`, `SOCKET`, `SSL`, ...).
        conn_type: Option<Cow<'a, [u8]>>,
        /// The client port MariaDB 12+ appends to the host (`host:port`).
        port: Option<u16>,
    },
    /// Slow log extras.
    Slow {
        /// Typed `Key: value` metrics from the header lines.
        metrics: SlowMetrics<'a>,
        /// The statement start from `SET timestamp=N;` (epoch seconds), when present.
        set_timestamp: Option<i64>,
        /// True for `# administrator command: X;` entries.
        admin: bool,
    },
    /// Error log extras.
    Error {
        /// `System`, `ERROR`, `Warning`, `Note`, ... as written inside the brackets.
        level: Option<Cow<'a, [u8]>>,
        /// The 8.0 error code, a string such as `MY-010926`.
        code: Option<Cow<'a, [u8]>>,
        /// The 8.0 subsystem (`Server`, `InnoDB`, `Repl`, ...).
        subsystem: Option<Cow<'a, [u8]>>,
        /// Aurora's trailing source location, e.g. `mysqld.cc:5965`.
        source_location: Option<Cow<'a, [u8]>>,
    },
}

/// One normalized log record. Byte fields borrow from the input; [`Event::into_owned`] detaches them.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// When it happened, in UTC with microseconds; `None` when the record carries no usable time.
    pub ts: Option<Timestamp>,
    /// Which log it came from.
    pub log: LogType,
    /// Which writer produced it.
    pub dialect: Dialect,
    /// The normalized kind.
    pub kind: EventKind,
    /// The raw operation or command word (`FAILED_CONNECT`, `Query`, `Init DB`, admin command name).
    pub op: Option<Cow<'a, [u8]>>,
    /// Server host or instance name (audit logs; CloudWatch stream names).
    pub server: Option<Cow<'a, [u8]>>,
    /// The user name (attacker-controlled on failed logins).
    pub user: Option<Cow<'a, [u8]>>,
    /// The client host name or address.
    pub host: Option<Cow<'a, [u8]>>,
    /// Connection (thread) id.
    pub conn_id: Option<u64>,
    /// Audit query id.
    pub query_id: Option<u64>,
    /// Current database.
    pub db: Option<Cow<'a, [u8]>>,
    /// The table of an audit TABLE row, or the proxy account of `PROXY_CONNECT`.
    pub object: Option<Cow<'a, [u8]>>,
    /// SQL text, raw; see [`Sql::text`] and [`Sql::redacted`].
    pub sql: Option<Sql<'a>>,
    /// The error log message text (continuation lines included).
    pub message: Option<Cow<'a, [u8]>>,
    /// Return code or errno: audit retcode, slow-log `Errno`/`Last_errno`, derived 1045/1044 for failed logins.
    pub retcode: Option<i64>,
    /// The record was cut short: an unterminated quoted SQL field, or a download truncation marker follows it.
    pub truncated: bool,
    /// Format-specific fields.
    pub extra: Extra<'a>,
    /// Where the record starts.
    pub pos: Position,
    /// The whole record as written, up to the line end that ends it (the CR of a CRLF kept).
    pub raw: Cow<'a, [u8]>,
}

fn own(c: Option<Cow<'_, [u8]>>) -> Option<Cow<'static, [u8]>> {
    c.map(|c| Cow::Owned(c.into_owned()))
}

impl<'a> Event<'a> {
    /// An event with only the mandatory fields set.
    #[must_use]
    pub fn new(log: LogType, dialect: Dialect, kind: EventKind, pos: Position, raw: &'a [u8]) -> Self {
        Event {
            ts: None,
            log,
            dialect,
            kind,
            op: None,
            server: None,
            user: None,
            host: None,
            conn_id: None,
            query_id: None,
            db: None,
            object: None,
            sql: None,
            message: None,
            retcode: None,
            truncated: false,
            extra: Extra::None,
            pos,
            raw: Cow::Borrowed(raw),
        }
    }

    /// Copies every borrowed field so the event outlives the input buffer.
    #[must_use]
    pub fn into_owned(self) -> Event<'static> {
        Event {
            ts: self.ts,
            log: self.log,
            dialect: self.dialect,
            kind: self.kind,
            op: own(self.op),
            server: own(self.server),
            user: own(self.user),
            host: own(self.host),
            conn_id: self.conn_id,
            query_id: self.query_id,
            db: own(self.db),
            object: own(self.object),
            sql: self.sql.map(Sql::into_owned),
            message: own(self.message),
            retcode: self.retcode,
            truncated: self.truncated,
            extra: match self.extra {
                Extra::None => Extra::None,
                Extra::Audit { conn_type, port } => Extra::Audit { conn_type: own(conn_type), port },
                Extra::Slow { metrics, set_timestamp, admin } => {
                    Extra::Slow { metrics: metrics.into_owned(), set_timestamp, admin }
                }
                Extra::Error { level, code, subsystem, source_location } => Extra::Error {
                    level: own(level),
                    code: own(code),
                    subsystem: own(subsystem),
                    source_location: own(source_location),
                },
            },
            pos: self.pos,
            raw: Cow::Owned(self.raw.into_owned()),
        }
    }

    /// The slow-log metrics, if this is a slow-log event.
    #[must_use]
    pub fn metrics(&self) -> Option<&SlowMetrics<'a>> {
        match &self.extra {
            Extra::Slow { metrics, .. } => Some(metrics),
            _ => None,
        }
    }

    /// The whole record as written, with its secrets redacted: the SQL and the message are put back in their
    /// place in redacted form (escaped again as the log escapes them), so the rest of the record is unchanged.
    /// When one that holds a secret cannot be found in the record, everything after the first word that may
    /// introduce a secret is cut instead ([`crate::redact::redact_unparsed`]). Borrows when there is no secret.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// use auditlog_core::{read, Item, ReadOptions};
    ///
    /// let log = b"1703817810076091,db-1,admin,10.0.0.5,7,11,QUERY,,'CREATE USER \\'bob\\' IDENTIFIED BY \\'S3cret\\'',0\n";
    /// let mut shown = Vec::new();
    /// read(&log[..], &ReadOptions::default(), |item| {
    ///     if let Item::Event(ev) = item {
    ///         shown = ev.raw_redacted().into_owned();
    ///     }
    ///     ControlFlow::Continue(())
    /// })
    /// .unwrap();
    /// assert_eq!(
    ///     String::from_utf8(shown).unwrap(),
    ///     "1703817810076091,db-1,admin,10.0.0.5,7,11,QUERY,,'CREATE USER \\'bob\\' IDENTIFIED BY \\'<redacted>\\'',0"
    /// );
    /// ```
    #[must_use]
    pub fn raw_redacted(&self) -> Cow<'_, [u8]> {
        let raw: &[u8] = &self.raw;
        // Each field that holds a secret: where its bytes are in the record, and what replaces them.
        let mut edits: Vec<(usize, usize, Vec<u8>)> = Vec::new();
        if let Some(sql) = &self.sql {
            if let Cow::Owned(red) = crate::redact::redact_sql(&sql.text()) {
                let written = match sql.escaping() {
                    Escaping::Raw => red,
                    Escaping::AuditQuoted => escape_audit(&red),
                };
                let Some(at) = find_within(raw, sql.raw()) else {
                    return crate::redact::redact_unparsed(raw);
                };
                edits.push((at, at + sql.raw().len(), written));
            }
        }
        if let Some(msg) = &self.message {
            if let Cow::Owned(red) = crate::redact::redact_sql(msg) {
                let Some(at) = find_within(raw, msg) else {
                    return crate::redact::redact_unparsed(raw);
                };
                edits.push((at, at + msg.len(), red));
            }
        }
        if edits.is_empty() {
            return Cow::Borrowed(raw);
        }
        edits.sort_by_key(|e| e.0);
        let mut out = Vec::with_capacity(raw.len() + 16);
        let mut last = 0;
        for (start, end, written) in edits {
            if start < last {
                return crate::redact::redact_unparsed(raw); // overlapping fields: cannot put both back
            }
            out.extend_from_slice(raw.get(last..start).unwrap_or_default());
            out.extend_from_slice(&written);
            last = end;
        }
        out.extend_from_slice(raw.get(last..).unwrap_or_default());
        Cow::Owned(out)
    }

    /// True for failed logins caused by bad credentials (not 1044, a refused database).
    #[must_use]
    pub fn is_failed_login(&self) -> bool {
        self.kind == EventKind::FailedConnect && self.retcode != Some(1044)
    }
}

/// Converts bytes to text for display, replacing invalid UTF-8 with U+FFFD.
#[must_use]
pub fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The fast path gives exactly the float the general parser gives, for any split of up to 15 digits
        /// (and declines what it does not handle).
        #[test]
        fn plain_decimals_parse_exactly_like_the_float_parser(int in "[0-9]{1,9}", frac in "[0-9]{1,14}") {
            let text = format!("{int}.{frac}");
            let general: f64 = text.parse().unwrap();
            match plain_decimal(text.as_bytes()) {
                Some(f) => proptest::prop_assert_eq!(f.to_bits(), general.to_bits(), "{}", text),
                None => proptest::prop_assert!(int.len() + frac.len() > 15),
            }
            proptest::prop_assert_eq!(MetricValue::parse(text.as_bytes()), MetricValue::Float(general));
        }
    }

    proptest::proptest! {
        // Lines the direct read answers for are a few percent of those generated.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8192))]

        /// Whenever the direct read of the leading metrics answers, it answers what the tokenizer gives as the
        /// first occurrence of each key: MySQL's four keys in order, with random separators, values (some with
        /// CRs or colons) and line ends, sometimes another key first.
        #[test]
        fn leading_metrics_equal_the_tokenized_first_occurrences(
            parts in proptest::collection::vec(
                (
                    proptest::sample::select(vec![": ", ": ", ": ", ": ", ": ", ": ", ":", ":  ", ":\t"]),
                    proptest::prop_oneof![6 => "[0-9.]{1,4}", 1 => "[0-9.]{0,3}[:\r]", 1 => "[0-9.]{0,2}\r[0-9]"],
                    proptest::sample::select(vec![" ", "  ", " ", "\t", " ", "  ", "", "\r\n", "\n", " \r"]),
                ),
                4,
            ),
            first in proptest::sample::select(vec!["", "", "", "", "", "Thread_id: 3 ", "Query_time: 9 "]),
            lead in proptest::sample::select(vec!["# ", "# ", "# ", "#  ", "#"]),
            tail in "[A-Za-z_:0-9 \n]{0,20}",
        ) {
            let keys: [&[u8]; 4] = [b"Query_time", b"Lock_time", b"Rows_sent", b"Rows_examined"];
            let mut h = format!("{lead}{first}");
            for (k, (c, v, sep)) in keys.iter().zip(&parts) {
                h.push_str(&format!("{}{c}{v}{sep}", String::from_utf8_lossy(k)));
            }
            h.push_str(&tail);
            let m = SlowMetrics::new(h.as_bytes());
            if let Some(fast) = m.leading_raw(keys) {
                for (k, v) in keys.iter().zip(fast) {
                    let first = m.raw_pairs().find(|(key, _)| key == k).map(|(_, v)| v);
                    proptest::prop_assert_eq!(first, Some(v), "{:?} in {:?}", String::from_utf8_lossy(k), h);
                }
            }
        }
    }

    #[test]
    fn leading_metrics_read_mysql_lines_and_decline_others() {
        let keys: [&[u8]; 4] = [b"Query_time", b"Lock_time", b"Rows_sent", b"Rows_examined"];
        let mysql = SlowMetrics::new(
            &b"# Query_time: 0.546498  Lock_time: 0.000568 Rows_sent: 59  Rows_examined: 37931\r\n# Bytes_sent: 5"[..],
        );
        assert_eq!(mysql.leading_raw(keys), Some([&b"0.546498"[..], b"0.000568", b"59", b"37931"]));
        for other in [
            "# Thread_id: 7  Query_time: 1 Lock_time: 0 Rows_sent: 1  Rows_examined: 1",
            "# Query_time: 1 Lock_time: 0 Rows_sent: 1",
            "# Query_time: 1 Lock_time: 0 Rows_sent: 1\n# Rows_examined: 1",
            "# Query_time:  1 Lock_time: 0 Rows_sent: 1  Rows_examined: 1",
        ] {
            assert_eq!(SlowMetrics::new(other.as_bytes()).leading_raw(keys), None, "{other}");
        }
    }

    #[test]
    fn plain_decimal_declines_what_is_not_plain() {
        for v in ["", ".", "1.", ".5", "-1.5", "1.2.3", "1e5", "1.5x", "1234567890.1234567"] {
            assert_eq!(plain_decimal(v.as_bytes()), None, "{v}");
        }
        assert_eq!(plain_decimal(b"0.000568"), Some(0.000568));
    }

    #[test]
    fn all_lists_every_variant_in_declaration_order() {
        // The analysis indexes arrays by `as usize`: ALL must follow the declarations exactly.
        for (i, l) in LogType::ALL.into_iter().enumerate() {
            assert_eq!(l as usize, i);
        }
        for (i, k) in EventKind::ALL.into_iter().enumerate() {
            assert_eq!(k as usize, i);
        }
        // A variant added without its ALL entry fails to compile here.
        match EventKind::Other {
            EventKind::Connect
            | EventKind::FailedConnect
            | EventKind::Disconnect
            | EventKind::ChangeUser
            | EventKind::Query
            | EventKind::Table
            | EventKind::Command
            | EventKind::Message
            | EventKind::Other => {}
        }
    }

    fn audit_query(raw: &'static [u8], sql: &'static [u8]) -> Event<'static> {
        let mut ev = Event::new(LogType::Audit, Dialect::Aurora, EventKind::Query, Position::default(), raw);
        ev.sql = Some(Sql::new(sql, Escaping::AuditQuoted));
        ev
    }

    #[test]
    fn an_owned_event_is_redacted_where_its_sql_is_found_once_and_cut_otherwise() {
        let raw: &'static [u8] = b"1,db,u,h,1,2,QUERY,,'SET PASSWORD = \\'S3cret\\'',0\n";
        let sql = &raw[21..46];
        assert_eq!(sql, b"SET PASSWORD = \\'S3cret\\'");
        let ev = audit_query(raw, sql);
        let want = &b"1,db,u,h,1,2,QUERY,,'SET PASSWORD = \\'<redacted>\\'',0\n"[..];
        assert_eq!(&*ev.raw_redacted(), want, "borrowed: found by address");
        let owned = ev.clone().into_owned();
        assert_eq!(&*owned.raw_redacted(), want, "owned: found as the only occurrence");
        // The SQL's bytes twice in the record (here once more after it): which one is the field is unknown.
        let twice =
            audit_query(b"1,db,u,h,1,2,QUERY,,'SET PASSWORD = \\'S3cret\\'',0 SET PASSWORD = \\'S3cret\\'\n", sql);
        assert_eq!(&*twice.into_owned().raw_redacted(), &b"1,db,u,h,1,2,QUERY,,'SET PASSWORD <redacted>"[..]);
        // No secret: the record as it is, borrowed.
        let plain = audit_query(b"1,db,u,h,1,2,QUERY,,'SELECT \\'a\\'',0\n", b"SELECT \\'a\\'");
        assert!(matches!(plain.raw_redacted(), Cow::Borrowed(_)));
    }

    #[test]
    fn audit_escapes_are_undone_and_redone_exactly() {
        let text = b"a'b\\c\nd\re\tf\x08g\x0ch\0i\"j";
        assert_eq!(&*unescape_audit(&escape_audit(text)), &text[..]);
    }
}
