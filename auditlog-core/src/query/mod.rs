//! Ad-hoc queries in a compatible subset of the CloudWatch Logs Insights query language, run on the same
//! parallel engine as [`crate::analyze`]: the result with any number of threads is identical to one thread.
//!
//! A query is commands separated by `|`:
//!
//! - `fields a, b` and `display a, b`: the columns shown (the last `display`, else the last `fields`);
//! - `filter` with `=`, `!=`, `<`, `<=`, `>`, `>=`, `and`, `or`, `not`, parentheses, `in [...]`,
//!   `like /regex/`, `like "substring"`, `=~ /regex/`, `isIpv4InSubnet(host, "10.0.0.0/8")`, `ispresent(f)`;
//! - `stats` with `count(*)`, `count(f)`, `count_distinct(f)`, `sum`, `avg`, `min`, `max`, `pct(f, N)`,
//!   `earliest(f)`, `latest(f)`, each optionally `as name`, grouped `by` fields and `bin(5m)` (ms, s, m, h, d);
//! - `sort f [asc|desc], ...` (ascending by default; nulls last), `limit N`, `dedup f, ...`.
//!
//! Field names are the keys of an event's JSON (`ts`, `log`, `kind`, `user`, `host`, `conn_id`, `sql`, ...;
//! see the README), `@timestamp` is `ts`, `@message` the raw record (redacted), `metrics.Query_time` a slow-log
//! metric. Time values compare with strings such as `"2024-06-15T10:00:00Z"` or `"2024-06-15 10:00"`.
//!
//! Memory: `stats` keeps one state per group, not per record, except `pct` (the group's values, for an exact
//! percentile) and `count_distinct` (the group's distinct values). `sort` keeps the rows it sorts (only the
//! best `N` when a `limit N` follows it directly); `dedup` keeps the distinct keys. Everything else streams.
//!
//! ```
//! use auditlog_core::query::{Query, QueryOptions, Value};
//! let log = b"1703817811000001,db-1,admin,203.0.113.7,1,0,FAILED_CONNECT,,,1045
//! 1703817812000002,db-1,admin,203.0.113.7,2,0,FAILED_CONNECT,,,1045
//! 1703817813000003,db-1,app,10.0.0.5,3,0,CONNECT,,,0
//! ";
//! let q = Query::parse("filter kind = 'failed_connect' | stats count(*) as n by host")?;
//! let rows = q.run_bytes("audit.log", log, &QueryOptions::default())?;
//! assert_eq!(q.columns(), ["host", "n"]);
//! assert_eq!(rows, vec![vec![Value::Str("203.0.113.7".into()), Value::Int(2)]]);
//!
//! let err = Query::parse("filter = 1").unwrap_err();
//! assert_eq!(err.to_string(), "line 1, column 8: expected a field name or '(' after 'filter', found '='");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod exec;
mod parse;
mod value;

use std::fmt;

pub use self::exec::{QueryOptions, QuerySummary, Runner};
pub use self::parse::MAX_DEPTH;
pub use self::value::{Field, Value};

/// A query that does not parse or does not make sense: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    line: usize,
    column: usize,
    expected: String,
    found: Option<String>,
}

impl QueryError {
    pub(crate) fn at(src: &str, byte: usize, expected: impl Into<String>) -> Self {
        let byte = byte.min(src.len());
        let before = src.get(..byte).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
        let rest = src.get(byte..).unwrap_or_default();
        let tok: String = match rest.chars().next() {
            None => String::new(),
            Some(c) if c.is_alphanumeric() || c == '_' || c == '@' => {
                rest.chars().take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '@' | '.')).take(30).collect()
            }
            Some(c) => c.to_string(),
        };
        QueryError { line, column, expected: expected.into(), found: (!tok.is_empty()).then_some(tok) }
    }

    /// The 1-based line of the problem.
    #[must_use]
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column (in characters) of the problem.
    #[must_use]
    pub fn column(&self) -> usize {
        self.column
    }

    /// What was expected there.
    #[must_use]
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// The text found instead (a word or one character), `None` at the end of the query.
    #[must_use]
    pub fn found(&self) -> Option<&str> {
        self.found.as_deref()
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: expected {}", self.line, self.column, self.expected)?;
        match &self.found {
            Some(t) => write!(f, ", found '{}'", t.escape_debug()),
            None => Ok(()),
        }
    }
}

impl std::error::Error for QueryError {}

/// A parsed and checked query, ready to run any number of times.
#[derive(Debug)]
pub struct Query {
    pub(crate) plan: exec::Plan,
}

impl Query {
    /// Parses and checks a query: unknown fields, bad regular expressions, subnets and times are errors with
    /// their position.
    ///
    /// ```
    /// use auditlog_core::query::Query;
    /// let err = Query::parse("fields user\n| stats count(*) by bin(5x)").unwrap_err();
    /// assert_eq!((err.line(), err.column()), (2, 25));
    /// assert!(err.expected().starts_with("a period such as 30s"));
    /// ```
    pub fn parse(src: &str) -> Result<Query, QueryError> {
        let cmds = parse::parse(src)?;
        Ok(Query { plan: exec::compile(src, cmds)? })
    }

    /// The output column names.
    #[must_use]
    pub fn columns(&self) -> &[String] {
        &self.plan.columns
    }

    /// True when the query aggregates with `stats`.
    #[must_use]
    pub fn is_stats(&self) -> bool {
        self.plan.stats.is_some()
    }

    /// Runs the query over one input in memory and returns the rows.
    pub fn run_bytes(
        &self,
        name: &str,
        input: &[u8],
        opts: &QueryOptions,
    ) -> Result<Vec<Vec<Value<'static>>>, crate::Error> {
        let mut rows = Vec::new();
        {
            let mut runner = Runner::new(self, opts.clone(), |r| {
                rows.push(r);
                std::ops::ControlFlow::Continue(())
            })?;
            runner.add_reader(name, input)?;
            runner.finish();
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 100,000-term `or` chain compiles, runs and drops without overflowing the stack (it was a tree as deep
    /// as the chain).
    #[test]
    fn a_long_or_chain_runs() {
        let log = b"1703817811000001,db-1,admin,203.0.113.7,1,0,FAILED_CONNECT,,,1045
1703817813000003,db-1,app,10.0.0.5,99999,0,CONNECT,,,0
1703817813000004,db-1,app,10.0.0.5,100000,0,CONNECT,,,0
";
        let terms: Vec<String> = (0..100_000).map(|k| format!("conn_id = {k}")).collect();
        let q = Query::parse(&format!("filter {} | stats count(*) as n", terms.join(" or "))).unwrap();
        let rows = q.run_bytes("audit.log", log, &QueryOptions::default()).unwrap();
        assert_eq!(rows, vec![vec![Value::Int(2)]]);
        let q = Query::parse(&format!("filter {} | stats count(*) as n", terms.join(" and "))).unwrap();
        assert!(q.run_bytes("audit.log", log, &QueryOptions::default()).unwrap().is_empty(), "no event matches");
    }

    /// A 5 MB regular expression is refused before the regex parser (which took 500 MB on it) sees it; a long
    /// one within the limit still works.
    #[test]
    fn an_enormous_regex_is_refused_quickly() {
        let big = "x".repeat(5 << 20);
        let t = std::time::Instant::now();
        let e = Query::parse(&format!("filter sql like /{big}/")).unwrap_err();
        assert!(t.elapsed().as_secs() < 5, "took {:?}", t.elapsed());
        assert_eq!((e.line(), e.column()), (1, 17));
        assert_eq!(e.expected(), format!("a regular expression of at most 65536 bytes (this one has {})", 5 << 20));
        let log = b"1703817813000003,db-1,app,10.0.0.5,3,1,QUERY,shop,'SELECT 1',0\n";
        let q = Query::parse(&format!("filter sql like /{}|SELECT/ | fields conn_id", "y".repeat(2000))).unwrap();
        assert_eq!(q.run_bytes("audit.log", &log[..], &QueryOptions::default()).unwrap(), vec![vec![Value::Int(3)]]);
    }
}
