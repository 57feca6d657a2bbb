//! serde serialization of events: the JSON schema of `auditlog events --output jsonl`.
//!
//! Text fields are bytes in the log; they are written as strings with invalid UTF-8 replaced by U+FFFD.
//! `sql` is unescaped and **redacted** (see [`crate::redact`]); so is `message`. Absent values are `null`.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::event::{Event, Extra, MetricValue, SlowMetrics};

fn text<'s>(b: &'s Option<Cow<'_, [u8]>>) -> Option<Cow<'s, str>> {
    b.as_deref().map(String::from_utf8_lossy)
}

struct Metrics<'m, 'a>(&'m SlowMetrics<'a>);

impl Serialize for Metrics<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.0.iter() {
            let k = String::from_utf8_lossy(k);
            match v {
                MetricValue::Int(n) => m.serialize_entry(&k, &n)?,
                MetricValue::Float(f) => m.serialize_entry(&k, &f)?,
                MetricValue::Bool(b) => m.serialize_entry(&k, &b)?,
                MetricValue::Text(t) => m.serialize_entry(&k, &String::from_utf8_lossy(t))?,
            }
        }
        m.end()
    }
}

impl Serialize for Event<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("ts", &self.ts.map(|t| t.to_rfc3339()))?;
        m.serialize_entry("log", self.log.as_str())?;
        m.serialize_entry("dialect", self.dialect.as_str())?;
        m.serialize_entry("kind", self.kind.as_str())?;
        m.serialize_entry("op", &text(&self.op))?;
        m.serialize_entry("server", &text(&self.server))?;
        m.serialize_entry("user", &text(&self.user))?;
        m.serialize_entry("host", &text(&self.host))?;
        m.serialize_entry("conn_id", &self.conn_id)?;
        m.serialize_entry("query_id", &self.query_id)?;
        m.serialize_entry("db", &text(&self.db))?;
        m.serialize_entry("object", &text(&self.object))?;
        let sql = self.sql.as_ref().map(|q| String::from_utf8_lossy(&q.redacted()).into_owned());
        m.serialize_entry("sql", &sql)?;
        let msg = self.message.as_deref().map(|b| String::from_utf8_lossy(&crate::redact::redact_sql(b)).into_owned());
        m.serialize_entry("message", &msg)?;
        m.serialize_entry("retcode", &self.retcode)?;
        m.serialize_entry("truncated", &self.truncated)?;
        match &self.extra {
            Extra::Error { level, code, subsystem, .. } => {
                m.serialize_entry("level", &text(level))?;
                m.serialize_entry("code", &text(code))?;
                m.serialize_entry("subsystem", &text(subsystem))?;
            }
            Extra::Slow { metrics, .. } => m.serialize_entry("metrics", &Metrics(metrics))?,
            Extra::Audit { conn_type, .. } => m.serialize_entry("conn_type", &text(conn_type))?,
            Extra::None => {}
        }
        m.serialize_entry("line", &self.pos.line)?;
        m.serialize_entry("offset", &self.pos.byte)?;
        m.end()
    }
}

impl Serialize for crate::time::Timestamp {
    /// RFC 3339 in UTC with microseconds.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}
