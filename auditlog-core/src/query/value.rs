//! Field names, values and how they compare.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use crate::event::{Event, Extra, MetricValue};
use crate::time::Timestamp;

/// An event field a query can name: the keys of the event's JSON, plus `@timestamp`, `@message` and
/// `metrics.<Name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `ts` or `@timestamp`.
    Ts,
    /// `log`.
    Log,
    /// `dialect`.
    Dialect,
    /// `kind`.
    Kind,
    /// `op`.
    Op,
    /// `server`.
    Server,
    /// `user`.
    User,
    /// `host`.
    Host,
    /// `conn_id`.
    ConnId,
    /// `query_id`.
    QueryId,
    /// `db`.
    Db,
    /// `object`.
    Object,
    /// `sql` (redacted).
    Sql,
    /// `message` (redacted).
    Message,
    /// `retcode`.
    Retcode,
    /// `truncated`.
    Truncated,
    /// `level` (error log).
    Level,
    /// `code` (error log).
    Code,
    /// `subsystem` (error log).
    Subsystem,
    /// `conn_type` (audit).
    ConnType,
    /// `file`: the input name.
    File,
    /// `line`.
    Line,
    /// `offset`.
    Offset,
    /// `@message`: the raw record, redacted.
    Raw,
    /// `metrics.<Name>`: a slow-log metric.
    Metric(Box<str>),
}

impl Field {
    /// The field a name refers to, if any.
    ///
    /// ```
    /// use auditlog_core::query::Field;
    /// assert_eq!(Field::from_name("@timestamp"), Some(Field::Ts));
    /// assert_eq!(Field::from_name("metrics.Query_time"), Some(Field::Metric("Query_time".into())));
    /// assert_eq!(Field::from_name("usr"), None);
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "ts" | "@timestamp" => Field::Ts,
            "log" => Field::Log,
            "dialect" => Field::Dialect,
            "kind" => Field::Kind,
            "op" => Field::Op,
            "server" => Field::Server,
            "user" => Field::User,
            "host" => Field::Host,
            "conn_id" => Field::ConnId,
            "query_id" => Field::QueryId,
            "db" => Field::Db,
            "object" => Field::Object,
            "sql" => Field::Sql,
            "message" => Field::Message,
            "retcode" => Field::Retcode,
            "truncated" => Field::Truncated,
            "level" => Field::Level,
            "code" => Field::Code,
            "subsystem" => Field::Subsystem,
            "conn_type" => Field::ConnType,
            "file" => Field::File,
            "line" => Field::Line,
            "offset" => Field::Offset,
            "@message" => Field::Raw,
            _ => {
                let m = name.strip_prefix("metrics.")?;
                if m.is_empty() {
                    return None;
                }
                Field::Metric(m.into())
            }
        })
    }

    /// The names a query can use, for error messages.
    pub(crate) const NAMES: &'static str = "ts (@timestamp), log, dialect, kind, op, server, user, host, conn_id, \
        query_id, db, object, sql, message, retcode, truncated, level, code, subsystem, conn_type, file, line, \
        offset, @message, metrics.<Name>";

    /// The value of this field in `ev`, read from input `file`. Borrows where it can.
    #[must_use]
    pub fn get<'e>(&self, ev: &'e Event<'_>, file: &'e str) -> Value<'e> {
        fn text<'e>(b: Option<&'e Cow<'_, [u8]>>) -> Value<'e> {
            b.map_or(Value::Null, |b| Value::Str(String::from_utf8_lossy(b)))
        }
        fn owned_text<'e>(b: Cow<'e, [u8]>) -> Value<'e> {
            Value::Str(match b {
                Cow::Borrowed(b) => String::from_utf8_lossy(b),
                Cow::Owned(o) => Cow::Owned(String::from_utf8_lossy(&o).into_owned()),
            })
        }
        let int = |n: Option<u64>| n.map_or(Value::Null, |n| Value::Int(i64::try_from(n).unwrap_or(i64::MAX)));
        match self {
            Field::Ts => ev.ts.map_or(Value::Null, Value::Time),
            Field::Log => Value::Str(Cow::Borrowed(ev.log.as_str())),
            Field::Dialect => Value::Str(Cow::Borrowed(ev.dialect.as_str())),
            Field::Kind => Value::Str(Cow::Borrowed(ev.kind.as_str())),
            Field::Op => text(ev.op.as_ref()),
            Field::Server => text(ev.server.as_ref()),
            Field::User => text(ev.user.as_ref()),
            Field::Host => text(ev.host.as_ref()),
            Field::ConnId => int(ev.conn_id),
            Field::QueryId => int(ev.query_id),
            Field::Db => text(ev.db.as_ref()),
            Field::Object => text(ev.object.as_ref()),
            Field::Sql => ev.sql.as_ref().map_or(Value::Null, |q| owned_text(q.redacted())),
            Field::Message => ev.message.as_deref().map_or(Value::Null, |m| owned_text(crate::redact::redact_sql(m))),
            Field::Retcode => ev.retcode.map_or(Value::Null, Value::Int),
            Field::Truncated => Value::Bool(ev.truncated),
            Field::Level | Field::Code | Field::Subsystem => match &ev.extra {
                Extra::Error { level, code, subsystem, .. } => text(match self {
                    Field::Level => level.as_ref(),
                    Field::Code => code.as_ref(),
                    _ => subsystem.as_ref(),
                }),
                _ => Value::Null,
            },
            Field::ConnType => match &ev.extra {
                Extra::Audit { conn_type, .. } => text(conn_type.as_ref()),
                _ => Value::Null,
            },
            Field::File => Value::Str(Cow::Borrowed(file)),
            Field::Line => int(Some(ev.pos.line)),
            Field::Offset => int(Some(ev.pos.byte)),
            Field::Raw => {
                fn line(r: &[u8]) -> &[u8] {
                    let r = r.strip_suffix(b"\n").unwrap_or(r);
                    r.strip_suffix(b"\r").unwrap_or(r)
                }
                owned_text(match ev.raw_redacted() {
                    Cow::Borrowed(r) => Cow::Borrowed(line(r)),
                    Cow::Owned(r) => Cow::Owned(line(&r).to_vec()),
                })
            }
            Field::Metric(name) => match ev.metrics().and_then(|m| m.get(name)) {
                None => Value::Null,
                Some(MetricValue::Int(n)) => int(Some(n)),
                Some(MetricValue::Float(f)) => Value::Float(f),
                Some(MetricValue::Bool(b)) => Value::Bool(b),
                Some(MetricValue::Text(t)) => Value::Str(Cow::Owned(String::from_utf8_lossy(t).into_owned())),
            },
        }
    }
}

/// A value in a query: a field of an event, a literal or an aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Absent.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A decimal number.
    Float(f64),
    /// Text.
    Str(Cow<'a, str>),
    /// A point in time (UTC, microseconds).
    Time(Timestamp),
}

impl Value<'_> {
    /// Detaches the value from the input.
    #[must_use]
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(n) => Value::Int(n),
            Value::Float(f) => Value::Float(f),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Time(t) => Value::Time(t),
        }
    }

    /// The value as a number, if it is one (or text that reads as one).
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(n) => Some(*n as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        }
    }

    /// True unless null.
    #[must_use]
    pub fn is_present(&self) -> bool {
        !matches!(self, Value::Null)
    }

    pub(crate) fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Time(_) => true,
        }
    }

    /// The value as text for `like` and `in`.
    pub(crate) fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Str(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_string()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Bool(_) => 0,
            Value::Int(_) | Value::Float(_) => 1,
            Value::Time(_) => 2,
            Value::Str(_) => 3,
            Value::Null => 4,
        }
    }

    /// A total order for grouping, sorting, `min`/`max` and `count_distinct`: booleans, numbers (compared by
    /// value), times, text, null last.
    #[must_use]
    pub fn total_cmp(&self, other: &Value<'_>) -> Ordering {
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Int(a), Value::Float(b)) => (*a as f64).total_cmp(b).then(Ordering::Less),
            (Value::Float(a), Value::Int(b)) => a.total_cmp(&(*b as f64)).then(Ordering::Greater),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::Time(a), Value::Time(b)) => a.cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }

    /// How a filter compares two values; `None` when they do not compare (null, or text that is no number or
    /// time against a number or time).
    pub(crate) fn compare(&self, other: &Value<'_>) -> Option<Ordering> {
        match (self, other) {
            (Value::Null, _) | (_, Value::Null) => None,
            (Value::Str(a), Value::Str(b)) => Some(a.as_ref().cmp(b.as_ref())),
            (Value::Time(a), Value::Time(b)) => Some(a.cmp(b)),
            (Value::Time(a), Value::Str(s)) => parse_time(s).map(|b| a.cmp(&b)),
            (Value::Str(s), Value::Time(b)) => parse_time(s).map(|a| a.cmp(b)),
            (Value::Time(a), n @ (Value::Int(_) | Value::Float(_))) => {
                Some((a.epoch_micros() as f64 / 1000.0).total_cmp(&n.as_f64()?))
            }
            (n @ (Value::Int(_) | Value::Float(_)), Value::Time(b)) => {
                Some(n.as_f64()?.total_cmp(&(b.epoch_micros() as f64 / 1000.0)))
            }
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (a, Value::Bool(b)) => Some(a.truthy().cmp(b)),
            (Value::Bool(a), b) => Some(a.cmp(&b.truthy())),
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (a, b) => Some(a.as_f64()?.total_cmp(&b.as_f64()?)),
        }
    }
}

impl fmt::Display for Value<'_> {
    /// Text for tables and CSV: null is empty, times are RFC 3339.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{}", round6(*x)),
            Value::Str(s) => f.write_str(s),
            Value::Time(t) => f.write_str(&t.to_rfc3339()),
        }
    }
}

/// Rounds to six decimals (microseconds for times in seconds), so averages print without float noise.
fn round6(x: f64) -> f64 {
    let r = (x * 1e6).round() / 1e6;
    if r.is_finite() {
        r
    } else {
        x
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Value<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(n) => s.serialize_i64(*n),
            Value::Float(x) => s.serialize_f64(round6(*x)),
            Value::Str(t) => s.serialize_str(t),
            Value::Time(t) => s.serialize_str(&t.to_rfc3339()),
        }
    }
}

/// Reads a time written in a query: RFC 3339 (`2024-06-15T10:00:00Z`, `+02:00` offsets) or
/// `YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]` in UTC.
#[must_use]
pub(crate) fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(Timestamp::from_epoch_micros(t.timestamp_micros()));
    }
    let s = s.strip_suffix('Z').unwrap_or(s);
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(Timestamp::from_epoch_micros(t.and_utc().timestamp_micros()));
        }
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(Timestamp::from_epoch_micros(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros()))
}
