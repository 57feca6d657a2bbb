//! Checking a parsed query into a plan, and running it: a per-record stage folded in parallel (filters, row
//! extraction or `stats` groups), then the order-dependent commands (`sort`, `limit`, `dedup`, later filters)
//! applied in input order.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::Ipv4Addr;
use std::ops::ControlFlow;

use super::parse::{AggFn, CmpOp, Command, Expr, GroupKey, Lit, Name, Operand, Pattern};
use super::value::{parse_time, Field, Value};
use super::{Query, QueryError};
use crate::analyze::{Fold, MalformedExample};
use crate::error::Error;
use crate::event::Event;
use crate::format::{Format, Item};
use crate::read::{ReadOptions, ReadSummary};
use crate::source::Input;
use crate::time::Timestamp;

type Row = Vec<Value<'static>>;

/// Where a value comes from: a field of the event (per-record stage) or a column of a row (later commands).
#[derive(Debug, Clone, PartialEq)]
enum Src {
    Event(Field),
    Col(usize),
}

#[derive(Debug)]
enum Operand2 {
    Src(Src),
    Lit(Value<'static>),
}

/// The longest `like /regex/` pattern, in bytes (longer ones would not fit the 1 MiB compiled-size limit).
const MAX_REGEX_LEN: usize = 64 << 10;

#[derive(Debug)]
enum CExpr {
    Or(Vec<CExpr>),
    And(Vec<CExpr>),
    Not(Box<CExpr>),
    Cmp(Operand2, CmpOp, Operand2),
    In(Operand2, Vec<Value<'static>>),
    Regex(Operand2, regex::Regex),
    Substr(Operand2, String),
    Subnet(Operand2, u32, u32),
    Present(Operand2),
}

fn operand_value<'v>(o: &'v Operand2, get: &dyn Fn(&Src) -> Value<'v>) -> Value<'v> {
    match o {
        Operand2::Src(s) => get(s),
        Operand2::Lit(v) => v.clone(),
    }
}

impl CExpr {
    fn eval<'v>(&'v self, get: &dyn Fn(&Src) -> Value<'v>) -> bool {
        match self {
            CExpr::Or(terms) => terms.iter().any(|t| t.eval(get)),
            CExpr::And(terms) => terms.iter().all(|t| t.eval(get)),
            CExpr::Not(a) => !a.eval(get),
            CExpr::Cmp(a, op, b) => {
                let Some(o) = operand_value(a, get).compare(&operand_value(b, get)) else { return false };
                match op {
                    CmpOp::Eq => o == Ordering::Equal,
                    CmpOp::Ne => o != Ordering::Equal,
                    CmpOp::Lt => o == Ordering::Less,
                    CmpOp::Le => o != Ordering::Greater,
                    CmpOp::Gt => o == Ordering::Greater,
                    CmpOp::Ge => o != Ordering::Less,
                }
            }
            CExpr::In(a, list) => {
                let v = operand_value(a, get);
                list.iter().any(|l| v.compare(l) == Some(Ordering::Equal))
            }
            CExpr::Regex(a, re) => {
                let v = operand_value(a, get);
                v.is_present() && re.is_match(&v.text())
            }
            CExpr::Substr(a, s) => {
                let v = operand_value(a, get);
                v.is_present() && v.text().contains(s.as_str())
            }
            CExpr::Subnet(a, net, mask) => {
                let v = operand_value(a, get);
                let t = v.text();
                let t = t.strip_prefix("::ffff:").unwrap_or(&t);
                t.parse::<Ipv4Addr>().is_ok_and(|ip| u32::from(ip) & mask == *net)
            }
            CExpr::Present(a) => operand_value(a, get).is_present(),
        }
    }
}

/// An order-dependent command after the per-record stage.
#[derive(Debug)]
enum Op {
    Filter(CExpr),
    Sort(Vec<(usize, bool)>, Option<usize>),
    Limit(usize),
    Dedup(Vec<usize>),
}

#[derive(Debug)]
enum AggIn {
    Count(Option<Field>),
    Distinct(Field),
    Sum(Field),
    Avg(Field),
    Min(Field),
    Max(Field),
    Pct(Field, f64),
    Earliest(Field),
    Latest(Field),
}

#[derive(Debug)]
enum KeyIn {
    Field(Field),
    Bin(i64),
}

#[derive(Debug)]
pub(crate) struct StatsPlan {
    aggs: Vec<AggIn>,
    keys: Vec<KeyIn>,
}

/// A checked query.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) columns: Vec<String>,
    /// Filters on each event, before anything order-dependent.
    pre: Vec<CExpr>,
    /// Rows mode: the event fields kept per matching record.
    needed: Vec<Field>,
    pub(crate) stats: Option<StatsPlan>,
    post: Vec<Op>,
    /// Output columns as indexes into a row.
    out: Vec<usize>,
}

const DEFAULT_COLUMNS: [&str; 9] = ["ts", "log", "kind", "user", "host", "conn_id", "db", "sql", "message"];

struct Compiler<'s> {
    src: &'s str,
    /// Rows mode: fields kept per row, by name as written.
    needed: Vec<(String, Field)>,
    /// Stats mode: the column names after `stats`.
    stat_cols: Option<Vec<String>>,
}

impl Compiler<'_> {
    fn err(&self, at: usize, expected: impl Into<String>) -> QueryError {
        QueryError::at(self.src, at, expected)
    }

    fn event_field(&self, n: &Name) -> Result<Field, QueryError> {
        Field::from_name(&n.text).ok_or_else(|| self.err(n.at, format!("a field name ({})", Field::NAMES)))
    }

    /// A column of the rows the later commands see.
    fn col(&mut self, n: &Name) -> Result<usize, QueryError> {
        if let Some(cols) = &self.stat_cols {
            return cols
                .iter()
                .position(|c| *c == n.text)
                .ok_or_else(|| self.err(n.at, format!("a column of the stats result ({})", cols.join(", "))));
        }
        let f = self.event_field(n)?;
        if let Some(i) = self.needed.iter().position(|(_, g)| *g == f) {
            return Ok(i);
        }
        self.needed.push((n.text.clone(), f));
        Ok(self.needed.len() - 1)
    }

    fn src(&mut self, n: &Name, per_event: bool) -> Result<Src, QueryError> {
        if per_event {
            Ok(Src::Event(self.event_field(n)?))
        } else {
            Ok(Src::Col(self.col(n)?))
        }
    }

    fn lit(l: &Lit) -> Value<'static> {
        match l {
            Lit::Str(s) => Value::Str(s.clone().into()),
            Lit::Int(n) => Value::Int(*n),
            Lit::Float(f) => Value::Float(*f),
            Lit::Bool(b) => Value::Bool(*b),
            Lit::Null => Value::Null,
        }
    }

    fn operand(&mut self, o: &Operand, per_event: bool) -> Result<Operand2, QueryError> {
        Ok(match o {
            Operand::Field(n) => Operand2::Src(self.src(n, per_event)?),
            Operand::Lit(l, _) => Operand2::Lit(Self::lit(l)),
        })
    }

    /// Time literals compared with `ts` are checked and converted once.
    fn time_lit(&self, field: &Operand, lit: &Operand) -> Result<Option<Value<'static>>, QueryError> {
        let is_ts = matches!(field, Operand::Field(n) if Field::from_name(&n.text) == Some(Field::Ts) && self.stat_cols.is_none());
        match lit {
            Operand::Lit(Lit::Str(s), at) if is_ts => match parse_time(s) {
                Some(t) => Ok(Some(Value::Time(t))),
                None => Err(self.err(*at, "a time such as \"2024-06-15T10:00:00Z\" or \"2024-06-15 10:00\"")),
            },
            _ => Ok(None),
        }
    }

    fn expr(&mut self, e: &Expr, per_event: bool) -> Result<CExpr, QueryError> {
        Ok(match e {
            Expr::Or(terms) => CExpr::Or(terms.iter().map(|t| self.expr(t, per_event)).collect::<Result<_, _>>()?),
            Expr::And(terms) => CExpr::And(terms.iter().map(|t| self.expr(t, per_event)).collect::<Result<_, _>>()?),
            Expr::Not(a) => CExpr::Not(Box::new(self.expr(a, per_event)?)),
            Expr::Cmp(a, op, b) => {
                let mut l = self.operand(a, per_event)?;
                let mut r = self.operand(b, per_event)?;
                if let Some(t) = self.time_lit(a, b)? {
                    r = Operand2::Lit(t);
                }
                if let Some(t) = self.time_lit(b, a)? {
                    l = Operand2::Lit(t);
                }
                CExpr::Cmp(l, *op, r)
            }
            Expr::In(a, list) => {
                let mut vals = Vec::new();
                for (l, at) in list {
                    match self.time_lit(a, &Operand::Lit(l.clone(), *at))? {
                        Some(t) => vals.push(t),
                        None => vals.push(Self::lit(l)),
                    }
                }
                CExpr::In(self.operand(a, per_event)?, vals)
            }
            Expr::Like(a, Pattern::Substring(s)) => CExpr::Substr(self.operand(a, per_event)?, s.clone()),
            Expr::Like(a, Pattern::Regex(re, at)) => {
                let o = self.operand(a, per_event)?;
                // Checked before parsing: the regex parser needs about 100 bytes per pattern byte, so a 5 MB
                // pattern took 500 MB before the compiled-size limit refused it.
                if re.len() > MAX_REGEX_LEN {
                    return Err(self.err(
                        *at,
                        format!("a regular expression of at most {MAX_REGEX_LEN} bytes (this one has {})", re.len()),
                    ));
                }
                let re = regex::RegexBuilder::new(re)
                    .size_limit(1 << 20)
                    .dfa_size_limit(1 << 20)
                    .nest_limit(64)
                    .build()
                    .map_err(|e| {
                        let msg = e.to_string();
                        let last = msg.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
                        self.err(*at, format!("a valid regular expression ({last})"))
                    })?;
                CExpr::Regex(o, re)
            }
            Expr::Subnet(a, s, at) => {
                let o = self.operand(a, per_event)?;
                let bad = || self.err(*at, "an IPv4 subnet such as \"10.0.0.0/8\"");
                let (ip, bits) = s.split_once('/').ok_or_else(bad)?;
                let ip: Ipv4Addr = ip.trim().parse().map_err(|_| bad())?;
                let bits: u32 = bits.trim().parse().ok().filter(|b| *b <= 32).ok_or_else(bad)?;
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                CExpr::Subnet(o, u32::from(ip) & mask, mask)
            }
            Expr::Present(a) => CExpr::Present(self.operand(a, per_event)?),
        })
    }
}

fn cmd_at(c: &Command) -> usize {
    match c {
        Command::Fields(_, at)
        | Command::Display(_, at)
        | Command::Filter(_, at)
        | Command::Stats(_, _, at)
        | Command::Sort(_, at)
        | Command::Limit(_, at)
        | Command::Dedup(_, at) => *at,
    }
}

pub(crate) fn compile(src: &str, cmds: Vec<Command>) -> Result<Plan, QueryError> {
    let mut c = Compiler { src, needed: Vec::new(), stat_cols: None };
    let stats_at = cmds.iter().position(|c| matches!(c, Command::Stats(..)));
    if let Some(s) = stats_at {
        if let Some(second) = cmds.iter().skip(s + 1).find(|c| matches!(c, Command::Stats(..))) {
            return Err(c.err(cmd_at(second), "one 'stats' per query (a second one is not supported)"));
        }
    }
    let mut pre = Vec::new();
    let mut post = Vec::new();
    let mut projection: Option<Vec<Name>> = None;
    let mut displayed = false;
    let mut per_event = true;
    let mut stats = None;
    for cmd in &cmds {
        match cmd {
            Command::Fields(names, _) | Command::Display(names, _) => {
                let is_display = matches!(cmd, Command::Display(..));
                // Before `stats`, a projection changes nothing of the result.
                if stats_at.is_some() && c.stat_cols.is_none() {
                    for n in names {
                        c.event_field(n)?;
                    }
                    continue;
                }
                if is_display || !displayed {
                    projection = Some(names.clone());
                    displayed |= is_display;
                }
            }
            Command::Filter(e, _) => {
                if per_event {
                    pre.push(c.expr(e, true)?);
                } else {
                    post.push(Op::Filter(c.expr(e, false)?));
                }
            }
            Command::Stats(aggs, by, _) => {
                let mut plan = StatsPlan { aggs: Vec::new(), keys: Vec::new() };
                let mut cols = Vec::new();
                for k in by {
                    match k {
                        GroupKey::Field(n, col) => {
                            plan.keys.push(KeyIn::Field(c.event_field(n)?));
                            cols.push(col.clone());
                        }
                        GroupKey::Bin(us, col) => {
                            plan.keys.push(KeyIn::Bin(*us));
                            cols.push(col.clone());
                        }
                    }
                }
                for a in aggs {
                    let f = |n: &Name| c.event_field(n);
                    plan.aggs.push(match &a.func {
                        AggFn::Count(None) => AggIn::Count(None),
                        AggFn::Count(Some(n)) => AggIn::Count(Some(f(n)?)),
                        AggFn::CountDistinct(n) => AggIn::Distinct(f(n)?),
                        AggFn::Sum(n) => AggIn::Sum(f(n)?),
                        AggFn::Avg(n) => AggIn::Avg(f(n)?),
                        AggFn::Min(n) => AggIn::Min(f(n)?),
                        AggFn::Max(n) => AggIn::Max(f(n)?),
                        AggFn::Pct(n, p) => AggIn::Pct(f(n)?, *p),
                        AggFn::Earliest(n) => AggIn::Earliest(f(n)?),
                        AggFn::Latest(n) => AggIn::Latest(f(n)?),
                    });
                    cols.push(a.name.clone());
                }
                c.stat_cols = Some(cols);
                stats = Some(plan);
                per_event = false;
            }
            Command::Sort(_, at) | Command::Limit(_, at) | Command::Dedup(_, at)
                if stats_at.is_some() && stats.is_none() =>
            {
                return Err(c.err(*at, "'stats' before sort/limit/dedup (they are supported after 'stats' only)"));
            }
            Command::Sort(keys, _) => {
                per_event = false;
                let mut ks = Vec::new();
                for (n, desc) in keys {
                    ks.push((c.col(n)?, *desc));
                }
                post.push(Op::Sort(ks, None));
            }
            Command::Limit(n, _) => {
                per_event = false;
                if let Some(Op::Sort(_, lim)) = post.last_mut() {
                    *lim = Some(*n);
                }
                post.push(Op::Limit(*n));
            }
            Command::Dedup(names, _) => {
                per_event = false;
                let mut ks = Vec::new();
                for n in names {
                    ks.push(c.col(n)?);
                }
                post.push(Op::Dedup(ks));
            }
        }
    }
    let (columns, out) = match (&c.stat_cols, projection) {
        (Some(cols), None) => (cols.clone(), (0..cols.len()).collect()),
        (_, Some(names)) => {
            let mut out = Vec::new();
            for n in &names {
                out.push(c.col(n)?);
            }
            (names.into_iter().map(|n| n.text).collect(), out)
        }
        (None, None) => {
            let mut out = Vec::new();
            for name in DEFAULT_COLUMNS {
                out.push(c.col(&Name { text: name.to_string(), at: 0 })?);
            }
            (DEFAULT_COLUMNS.iter().map(|s| s.to_string()).collect(), out)
        }
    };
    Ok(Plan { columns, pre, needed: c.needed.into_iter().map(|(_, f)| f).collect(), stats, post, out })
}

/// A value as a map key, ordered by [`Value::total_cmp`].
#[derive(Debug, Clone, PartialEq)]
struct K(Value<'static>);

impl Eq for K {}

impl PartialOrd for K {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for K {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// An exact, associative sum: integers as integers, decimals in fixed point (1e-9), so the result does not
/// depend on how records were split between threads.
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    ints: i128,
    nanos: i128,
    decimal: bool,
    n: u64,
}

impl Sum {
    fn add(&mut self, v: &Value<'_>) {
        match v {
            Value::Int(i) => self.ints = self.ints.saturating_add(i128::from(*i)),
            Value::Null | Value::Time(_) | Value::Bool(_) => return,
            other => {
                let Some(f) = other.as_f64() else { return };
                let scaled = (f * 1e9).round();
                if !scaled.is_finite() || scaled.abs() > 1e36 {
                    return;
                }
                self.nanos = self.nanos.saturating_add(scaled as i128);
                self.decimal = true;
            }
        }
        self.n += 1;
    }

    fn merge(&mut self, o: Sum) {
        self.ints = self.ints.saturating_add(o.ints);
        self.nanos = self.nanos.saturating_add(o.nanos);
        self.decimal |= o.decimal;
        self.n += o.n;
    }

    fn total(&self) -> Value<'static> {
        if self.n == 0 {
            return Value::Null;
        }
        if self.decimal {
            Value::Float(self.ints as f64 + self.nanos as f64 / 1e9)
        } else {
            Value::Int(i64::try_from(self.ints).unwrap_or(if self.ints < 0 { i64::MIN } else { i64::MAX }))
        }
    }

    fn avg(&self) -> Value<'static> {
        if self.n == 0 {
            return Value::Null;
        }
        Value::Float((self.ints as f64 + self.nanos as f64 / 1e9) / self.n as f64)
    }
}

#[derive(Debug)]
enum AggState {
    Count(u64),
    Distinct(BTreeSet<K>),
    Sum(Sum),
    Avg(Sum),
    Min(Option<K>),
    Max(Option<K>),
    Pct(Vec<f64>),
    Earliest(Option<(Timestamp, Value<'static>)>),
    Latest(Option<(Timestamp, Value<'static>)>),
}

impl AggState {
    fn new(a: &AggIn) -> Self {
        match a {
            AggIn::Count(_) => AggState::Count(0),
            AggIn::Distinct(_) => AggState::Distinct(BTreeSet::new()),
            AggIn::Sum(_) => AggState::Sum(Sum::default()),
            AggIn::Avg(_) => AggState::Avg(Sum::default()),
            AggIn::Min(_) => AggState::Min(None),
            AggIn::Max(_) => AggState::Max(None),
            AggIn::Pct(..) => AggState::Pct(Vec::new()),
            AggIn::Earliest(_) => AggState::Earliest(None),
            AggIn::Latest(_) => AggState::Latest(None),
        }
    }

    fn add(&mut self, a: &AggIn, ev: &Event<'_>, file: &str) {
        match (self, a) {
            (AggState::Count(n), AggIn::Count(None)) => *n += 1,
            (AggState::Count(n), AggIn::Count(Some(f))) => *n += u64::from(f.get(ev, file).is_present()),
            (AggState::Distinct(s), AggIn::Distinct(f)) => {
                let v = f.get(ev, file);
                if v.is_present() {
                    s.insert(K(v.into_owned()));
                }
            }
            (AggState::Sum(s) | AggState::Avg(s), AggIn::Sum(f) | AggIn::Avg(f)) => s.add(&f.get(ev, file)),
            (AggState::Min(m), AggIn::Min(f)) => {
                let v = f.get(ev, file);
                if v.is_present() && m.as_ref().is_none_or(|m| v.total_cmp(&m.0) == Ordering::Less) {
                    *m = Some(K(v.into_owned()));
                }
            }
            (AggState::Max(m), AggIn::Max(f)) => {
                let v = f.get(ev, file);
                if v.is_present() && m.as_ref().is_none_or(|m| v.total_cmp(&m.0) == Ordering::Greater) {
                    *m = Some(K(v.into_owned()));
                }
            }
            (AggState::Pct(vs), AggIn::Pct(f, _)) => {
                if let Some(x) = f.get(ev, file).as_f64() {
                    vs.push(x);
                }
            }
            (AggState::Earliest(e), AggIn::Earliest(f)) => {
                if let Some(t) = ev.ts {
                    if e.as_ref().is_none_or(|(et, _)| t < *et) {
                        *e = Some((t, f.get(ev, file).into_owned()));
                    }
                }
            }
            (AggState::Latest(l), AggIn::Latest(f)) => {
                if let Some(t) = ev.ts {
                    if l.as_ref().is_none_or(|(lt, _)| t >= *lt) {
                        *l = Some((t, f.get(ev, file).into_owned()));
                    }
                }
            }
            _ => {}
        }
    }

    fn merge(&mut self, later: AggState) {
        match (self, later) {
            (AggState::Count(a), AggState::Count(b)) => *a += b,
            (AggState::Distinct(a), AggState::Distinct(b)) => a.extend(b),
            (AggState::Sum(a), AggState::Sum(b)) | (AggState::Avg(a), AggState::Avg(b)) => a.merge(b),
            (AggState::Min(a), AggState::Min(Some(b))) if a.as_ref().is_none_or(|a| b < *a) => *a = Some(b),
            (AggState::Max(a), AggState::Max(Some(b))) if a.as_ref().is_none_or(|a| b > *a) => *a = Some(b),
            (AggState::Pct(a), AggState::Pct(b)) => a.extend(b),
            (AggState::Earliest(a), AggState::Earliest(Some(b))) if a.as_ref().is_none_or(|(t, _)| b.0 < *t) => {
                *a = Some(b)
            }
            (AggState::Latest(a), AggState::Latest(Some(b))) if a.as_ref().is_none_or(|(t, _)| b.0 >= *t) => {
                *a = Some(b)
            }
            _ => {}
        }
    }

    fn result(self, a: &AggIn) -> Value<'static> {
        match self {
            AggState::Count(n) => Value::Int(i64::try_from(n).unwrap_or(i64::MAX)),
            AggState::Distinct(s) => Value::Int(i64::try_from(s.len()).unwrap_or(i64::MAX)),
            AggState::Sum(s) => s.total(),
            AggState::Avg(s) => s.avg(),
            AggState::Min(m) | AggState::Max(m) => m.map_or(Value::Null, |k| k.0),
            AggState::Pct(mut vs) => {
                let AggIn::Pct(_, p) = a else { return Value::Null };
                vs.sort_by(f64::total_cmp);
                nearest_rank(&vs, *p).map_or(Value::Null, Value::Float)
            }
            AggState::Earliest(e) | AggState::Latest(e) => e.map_or(Value::Null, |(_, v)| v),
        }
    }
}

/// The nearest-rank percentile of sorted values.
pub(crate) fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let k = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(k.clamp(1, sorted.len()) - 1).copied()
}

/// What the per-record stage folds for one stretch of records.
#[derive(Debug, Default)]
pub(crate) struct Partial {
    records: u64,
    malformed: u64,
    skipped: u64,
    matched: u64,
    rows: Vec<Row>,
    groups: BTreeMap<Vec<K>, Vec<AggState>>,
    examples: Vec<(u64, String, String)>,
}

/// The context of one input's fold.
pub(crate) struct Ctx<'p> {
    plan: &'p Plan,
    file: &'p str,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    examples: usize,
}

impl Partial {
    fn event(&mut self, ev: &Event<'_>, ctx: &Ctx<'_>) {
        self.records += 1;
        if ctx.since.is_some() || ctx.until.is_some() {
            let keep = ev.ts.is_some_and(|t| ctx.since.is_none_or(|s| t >= s) && ctx.until.is_none_or(|u| t < u));
            if !keep {
                return;
            }
        }
        let file = ctx.file;
        let get = |s: &Src| match s {
            Src::Event(f) => f.get(ev, file),
            Src::Col(_) => Value::Null,
        };
        if !ctx.plan.pre.iter().all(|e| e.eval(&get)) {
            return;
        }
        self.matched += 1;
        match &ctx.plan.stats {
            None => self.rows.push(ctx.plan.needed.iter().map(|f| f.get(ev, file).into_owned()).collect()),
            Some(sp) => {
                let key: Vec<K> = sp
                    .keys
                    .iter()
                    .map(|k| match k {
                        KeyIn::Field(f) => K(f.get(ev, file).into_owned()),
                        KeyIn::Bin(us) => K(ev.ts.map_or(Value::Null, |t| {
                            let m = t.epoch_micros();
                            Value::Time(Timestamp::from_epoch_micros(m - m.rem_euclid(*us)))
                        })),
                    })
                    .collect();
                let states = self.groups.entry(key).or_insert_with(|| sp.aggs.iter().map(AggState::new).collect());
                for (st, a) in states.iter_mut().zip(&sp.aggs) {
                    st.add(a, ev, file);
                }
            }
        }
    }
}

impl Fold<Ctx<'_>> for Partial {
    fn add(&mut self, item: &Item<'_>, ctx: &Ctx<'_>) {
        match item {
            Item::Event(ev) => self.event(ev, ctx),
            Item::Malformed(m) => {
                self.malformed += 1;
                if self.examples.len() < ctx.examples {
                    let t = String::from_utf8_lossy(&m.redacted_head(160)).into_owned();
                    self.examples.push((m.pos.line, m.reason.to_string(), t));
                }
            }
            Item::Skipped(_) => self.skipped += 1,
        }
    }

    fn merge(&mut self, later: Self, ctx: &Ctx<'_>) {
        self.records += later.records;
        self.malformed += later.malformed;
        self.skipped += later.skipped;
        self.matched += later.matched;
        self.rows.extend(later.rows);
        for (k, states) in later.groups {
            match self.groups.get_mut(&k) {
                Some(mine) => {
                    for (a, b) in mine.iter_mut().zip(states) {
                        a.merge(b);
                    }
                }
                None => {
                    self.groups.insert(k, states);
                }
            }
        }
        let room = ctx.examples.saturating_sub(self.examples.len());
        self.examples.extend(later.examples.into_iter().take(room));
    }
}

/// The state of one order-dependent command while rows flow through it.
enum OpState<'p> {
    Filter(&'p CExpr),
    Sort { keys: &'p [(usize, bool)], limit: Option<usize>, buf: Vec<Row> },
    Limit { n: usize, seen: usize },
    Dedup { cols: &'p [usize], seen: BTreeSet<Vec<K>> },
}

fn row_cmp(keys: &[(usize, bool)], a: &Row, b: &Row) -> Ordering {
    for (i, desc) in keys {
        let (x, y) = (a.get(*i).unwrap_or(&Value::Null), b.get(*i).unwrap_or(&Value::Null));
        // Nulls last in both directions.
        let o = match (x.is_present(), y.is_present()) {
            (false, false) => Ordering::Equal,
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (true, true) if *desc => y.total_cmp(x),
            (true, true) => x.total_cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

type Sink<'s> = Box<dyn FnMut(Row) -> ControlFlow<()> + 's>;

fn push(ops: &mut [OpState<'_>], out: &[usize], row: Row, sink: &mut Sink<'_>) -> ControlFlow<()> {
    let Some((first, rest)) = ops.split_first_mut() else {
        let projected = out.iter().map(|i| row.get(*i).cloned().unwrap_or(Value::Null)).collect();
        return sink(projected);
    };
    match first {
        OpState::Filter(e) => {
            let keep = e.eval(&|s: &Src| match s {
                Src::Col(i) => row.get(*i).cloned().unwrap_or(Value::Null),
                Src::Event(_) => Value::Null,
            });
            if keep {
                push(rest, out, row, sink)
            } else {
                ControlFlow::Continue(())
            }
        }
        OpState::Sort { keys, limit, buf } => {
            buf.push(row);
            if let Some(n) = *limit {
                if buf.len() >= n.saturating_mul(2).max(1024) {
                    buf.sort_by(|a, b| row_cmp(keys, a, b));
                    buf.truncate(n);
                }
            }
            ControlFlow::Continue(())
        }
        OpState::Limit { n, seen } => {
            if *seen >= *n {
                return ControlFlow::Break(());
            }
            *seen += 1;
            let r = push(rest, out, row, sink);
            if *seen >= *n {
                ControlFlow::Break(())
            } else {
                r
            }
        }
        OpState::Dedup { cols, seen } => {
            let key: Vec<K> = cols.iter().map(|i| K(row.get(*i).cloned().unwrap_or(Value::Null))).collect();
            if seen.insert(key) {
                push(rest, out, row, sink)
            } else {
                ControlFlow::Continue(())
            }
        }
    }
}

/// Flushes the sorts, in pipeline order.
fn flush(ops: &mut [OpState<'_>], out: &[usize], sink: &mut Sink<'_>) {
    for i in 0..ops.len() {
        let Some((head, rest)) = ops.split_at_mut_checked(i + 1) else { return };
        let Some(OpState::Sort { keys, limit, buf }) = head.last_mut() else { continue };
        let mut rows = std::mem::take(buf);
        rows.sort_by(|a, b| row_cmp(keys, a, b));
        if let Some(n) = *limit {
            rows.truncate(n);
        }
        for r in rows {
            if push(rest, out, r, sink).is_break() {
                break;
            }
        }
    }
}

/// How a query runs.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Format, record-size limit and read block size.
    pub read: ReadOptions,
    /// Threads of work: the calling thread and `threads - 1` pool workers; 0 means one per core. The result
    /// is the same with any number.
    pub threads: usize,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// Only events before this time.
    pub until: Option<Timestamp>,
    /// Smallest chunk worth a parallel task, in bytes.
    pub min_chunk: usize,
    /// How many malformed records to keep as examples.
    pub malformed_examples: usize,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            read: ReadOptions::default().with_block_size(ReadOptions::ENGINE_BLOCK_SIZE),
            threads: 0,
            since: None,
            until: None,
            min_chunk: 256 << 10,
            malformed_examples: 20,
        }
    }
}

/// What a run read.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct QuerySummary {
    /// Per input: name, counts, and the error that stopped it, if any.
    pub inputs: Vec<crate::analyze::InputSummary>,
    /// Records parsed.
    pub records: u64,
    /// Records reported as malformed.
    pub malformed: u64,
    /// Lines skipped.
    pub skipped: u64,
    /// Records that passed `--since`/`--until` and the filters before any order-dependent command.
    pub matched: u64,
    /// Rows written.
    pub rows: u64,
    /// The first malformed records.
    pub malformed_examples: Vec<MalformedExample>,
}

/// Runs a [`Query`] over inputs, writing rows to a sink as soon as they are final (at the end for `stats` and
/// `sort`). Rows are in input order unless sorted; `stats` groups come in key order.
pub struct Runner<'q, 's> {
    plan: &'q Plan,
    opts: QueryOptions,
    pool: std::sync::Arc<rayon::ThreadPool>,
    threads: usize,
    ops: Vec<OpState<'q>>,
    groups: BTreeMap<Vec<K>, Vec<AggState>>,
    sink: Sink<'s>,
    stopped: bool,
    summary: QuerySummary,
}

impl<'q, 's> Runner<'q, 's> {
    /// A runner on `opts.threads` threads: the calling thread and a shared pool of workers. `sink` receives each output row (the values of
    /// [`Query::columns`]); returning `Break` stops the run.
    pub fn new(
        query: &'q Query,
        opts: QueryOptions,
        sink: impl FnMut(Vec<Value<'static>>) -> ControlFlow<()> + 's,
    ) -> Result<Self, Error> {
        let (pool, threads) = crate::analyze::worker_pool(opts.threads)?;
        let plan = &query.plan;
        let ops = plan
            .post
            .iter()
            .map(|op| match op {
                Op::Filter(e) => OpState::Filter(e),
                Op::Sort(keys, limit) => OpState::Sort { keys, limit: *limit, buf: Vec::new() },
                Op::Limit(n) => OpState::Limit { n: *n, seen: 0 },
                Op::Dedup(cols) => OpState::Dedup { cols, seen: BTreeSet::new() },
            })
            .collect();
        Ok(Runner {
            plan,
            opts,
            pool,
            threads,
            ops,
            groups: BTreeMap::new(),
            sink: Box::new(sink),
            stopped: false,
            summary: QuerySummary::default(),
        })
    }

    /// True once the output needs no more input (a `limit` was reached, or the sink said stop).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.stopped
    }

    /// Reads one input (a file or standard input). Errors are returned and recorded in the summary.
    pub fn add_input(&mut self, input: &Input) -> Result<ReadSummary, Error> {
        let res = input.with_reader(|name, r| self.add_reader(name, r));
        if let Err(e) = &res {
            crate::source::note_failed_input(&mut self.summary.inputs, input, e);
        }
        res
    }

    /// Like [`Runner::add_reader`], with the format of this reader given (`None`: the options' format, else
    /// sniffed), for sources that know it, such as a CloudWatch log group of one log type.
    pub fn add_reader_as<R: Read>(
        &mut self,
        name: &str,
        reader: R,
        format: Option<Format>,
    ) -> Result<ReadSummary, Error> {
        let saved = self.opts.read.format;
        self.opts.read.format = format.or(saved);
        let res = self.add_reader(name, reader);
        self.opts.read.format = saved;
        res
    }

    /// Reads any reader, named `name` in the `file` field.
    pub fn add_reader<R: Read>(&mut self, name: &str, reader: R) -> Result<ReadSummary, Error> {
        if self.stopped {
            return Ok(ReadSummary::default());
        }
        let ctx = Ctx {
            plan: self.plan,
            file: name,
            since: self.opts.since,
            until: self.opts.until,
            examples: self.opts.malformed_examples,
        };
        let mut acc = Partial::default();
        let ops = &mut self.ops;
        let groups = &mut self.groups;
        let sink = &mut self.sink;
        let stopped = &mut self.stopped;
        let out = &self.plan.out;
        let rows_out = &mut self.summary.rows;
        let stats = self.plan.stats.is_some();
        let res = crate::analyze::scan(
            reader,
            &self.opts.read,
            &self.pool,
            self.threads,
            self.opts.min_chunk,
            &ctx,
            |mut p: Partial| {
                let rows = std::mem::take(&mut p.rows);
                let part_groups = std::mem::take(&mut p.groups);
                acc.merge(p, &ctx);
                if stats {
                    for (k, states) in part_groups {
                        match groups.get_mut(&k) {
                            Some(mine) => {
                                for (a, b) in mine.iter_mut().zip(states) {
                                    a.merge(b);
                                }
                            }
                            None => {
                                groups.insert(k, states);
                            }
                        }
                    }
                    return ControlFlow::Continue(());
                }
                for r in rows {
                    let mut counted = |row: Row| {
                        *rows_out += 1;
                        sink(row)
                    };
                    let mut boxed: Sink<'_> = Box::new(&mut counted);
                    if push(ops, out, r, &mut boxed).is_break() {
                        *stopped = true;
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            },
        );
        let read = match &res {
            Ok(s) => *s,
            Err((s, _)) => *s,
        };
        let read = ReadSummary { records: acc.records, malformed: acc.malformed, skipped: acc.skipped, ..read };
        let s = &mut self.summary;
        s.records += acc.records;
        s.malformed += acc.malformed;
        s.skipped += acc.skipped;
        s.matched += acc.matched;
        for (line, reason, text) in acc.examples {
            if s.malformed_examples.len() < self.opts.malformed_examples {
                s.malformed_examples.push(MalformedExample { file: name.to_string(), line, reason, text });
            }
        }
        s.inputs.push(crate::analyze::InputSummary {
            file: name.to_string(),
            read,
            error: res.as_ref().err().map(|(_, e)| e.to_string()),
        });
        res.map(|_| read).map_err(|(_, e)| e)
    }

    /// Writes the rows that wait for the end of the input (`stats`, `sort`) and returns the summary.
    pub fn finish(mut self) -> QuerySummary {
        let mut rows = 0u64;
        {
            let sink = &mut self.sink;
            let mut counted = |row: Row| {
                rows += 1;
                sink(row)
            };
            let mut boxed: Sink<'_> = Box::new(&mut counted);
            let out = &self.plan.out;
            if let Some(sp) = &self.plan.stats {
                for (k, states) in std::mem::take(&mut self.groups) {
                    let mut row: Row = k.into_iter().map(|k| k.0).collect();
                    row.extend(states.into_iter().zip(&sp.aggs).map(|(s, a)| s.result(a)));
                    if push(&mut self.ops, out, row, &mut boxed).is_break() {
                        break;
                    }
                }
            }
            flush(&mut self.ops, out, &mut boxed);
        }
        self.summary.rows += rows;
        self.summary
    }
}
