//! The query grammar, parsed with nom on `&str`. Every failure after a command word is a `Failure` that names
//! what was expected and where; nesting is bounded by [`MAX_DEPTH`].

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while, take_while1};
use nom::character::complete::{char, digit1, multispace0};
use nom::combinator::{opt, recognize};
use nom::{IResult, Parser as _};

use super::QueryError;

/// Deepest nesting of parentheses and `not` in a filter expression.
pub const MAX_DEPTH: usize = 64;

/// A parse failure: what was expected, and the remaining input where it was noticed.
#[derive(Debug)]
pub(crate) struct PErr {
    rest: usize,
    expected: String,
}

impl<'a> nom::error::ParseError<&'a str> for PErr {
    fn from_error_kind(input: &'a str, _kind: nom::error::ErrorKind) -> Self {
        PErr { rest: input.len(), expected: String::new() }
    }
    fn append(_input: &'a str, _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type Res<'a, T> = IResult<&'a str, T, PErr>;

fn fail<T>(at: &str, expected: impl Into<String>) -> Res<'_, T> {
    Err(nom::Err::Failure(PErr { rest: at.len(), expected: expected.into() }))
}

/// A name with the byte offset where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Name {
    pub(crate) text: String,
    pub(crate) at: usize,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Field(Name),
    Lit(Lit, usize),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A `like` pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pattern {
    Regex(String, usize),
    Substring(String),
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// The terms of an `or` chain, flat (a left-nested tree as deep as the chain overflowed the stack).
    Or(Vec<Expr>),
    /// The terms of an `and` chain, flat.
    And(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(Operand, CmpOp, Operand),
    In(Operand, Vec<(Lit, usize)>),
    Like(Operand, Pattern),
    Subnet(Operand, String, usize),
    Present(Operand),
}

/// An aggregate function.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AggFn {
    Count(Option<Name>),
    CountDistinct(Name),
    Sum(Name),
    Avg(Name),
    Min(Name),
    Max(Name),
    Pct(Name, f64),
    Earliest(Name),
    Latest(Name),
}

/// One `stats` output column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Agg {
    pub(crate) func: AggFn,
    pub(crate) name: String,
}

/// One `by` key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GroupKey {
    Field(Name, String),
    Bin(i64, String),
}

/// A pipeline command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    Fields(Vec<Name>, usize),
    Display(Vec<Name>, usize),
    Filter(Expr, usize),
    Stats(Vec<Agg>, Vec<GroupKey>, usize),
    Sort(Vec<(Name, bool)>, usize),
    Limit(usize, usize),
    Dedup(Vec<Name>, usize),
}

fn ws(i: &str) -> Res<'_, &str> {
    multispace0(i)
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '@'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '@' || c == '.'
}

fn raw_ident(i: &str) -> Res<'_, &str> {
    recognize((take_while1(is_ident_start), take_while(is_ident))).parse(i)
}

/// A keyword: case-insensitive, not followed by an identifier character.
fn kw<'a>(word: &'static str) -> impl FnMut(&'a str) -> Res<'a, &'a str> {
    move |i: &'a str| {
        let (rest, w) = tag_no_case(word).parse(i)?;
        if rest.starts_with(is_ident) {
            return Err(nom::Err::Error(PErr { rest: i.len(), expected: String::new() }));
        }
        Ok((rest, w))
    }
}

struct P<'q> {
    src: &'q str,
}

impl<'q> P<'q> {
    fn at(&self, i: &str) -> usize {
        self.src.len() - i.len()
    }

    fn name<'a>(&self, i: &'a str, expected: &str) -> Res<'a, Name> {
        let (i, _) = ws(i)?;
        let at = self.at(i);
        if let Some(body) = i.strip_prefix('`') {
            let Some(end) = body.find('`') else { return fail(i, "a closing '`'") };
            let text = body.get(..end).unwrap_or_default().to_string();
            return Ok((body.get(end + 1..).unwrap_or_default(), Name { text, at }));
        }
        match raw_ident(i) {
            Ok((rest, t)) => Ok((rest, Name { text: t.to_string(), at })),
            Err(_) => fail(i, expected),
        }
    }

    fn names<'a>(&self, mut i: &'a str, after: &str) -> Res<'a, Vec<Name>> {
        let mut out = Vec::new();
        loop {
            let (r, n) = self.name(i, &format!("a field name after {after}"))?;
            out.push(n);
            let (r, _) = ws(r)?;
            match char::<&str, PErr>(',').parse(r) {
                Ok((r, _)) => i = r,
                Err(_) => return Ok((r, out)),
            }
        }
    }

    fn string<'a>(&self, i: &'a str) -> Res<'a, String> {
        let Some(q) = i.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            return Err(nom::Err::Error(PErr { rest: i.len(), expected: String::new() }));
        };
        let mut out = String::new();
        let mut it = i.char_indices().skip(1);
        while let Some((k, c)) = it.next() {
            if c == q {
                return Ok((i.get(k + 1..).unwrap_or_default(), out));
            }
            if c == '\\' {
                match it.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, e)) => out.push(e),
                    None => break,
                }
            } else {
                out.push(c);
            }
        }
        fail(i, format!("a closing {q} to end this string"))
    }

    fn number<'a>(&self, i: &'a str) -> Res<'a, Lit> {
        let (rest, t) = recognize((opt(char('-')), digit1, opt((char('.'), digit1)))).parse(i)?;
        if rest.starts_with(is_ident) {
            return Err(nom::Err::Error(PErr { rest: i.len(), expected: String::new() }));
        }
        if let Ok(n) = t.parse::<i64>() {
            return Ok((rest, Lit::Int(n)));
        }
        match t.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok((rest, Lit::Float(f))),
            _ => fail(i, "a number that fits in 64 bits"),
        }
    }

    fn literal<'a>(&self, i: &'a str) -> Res<'a, Lit> {
        if let Ok((r, s)) = self.string(i) {
            return Ok((r, Lit::Str(s)));
        }
        if let Ok((r, n)) = self.number(i) {
            return Ok((r, n));
        }
        if let Ok((r, _)) = kw("true").parse(i) {
            return Ok((r, Lit::Bool(true)));
        }
        if let Ok((r, _)) = kw("false").parse(i) {
            return Ok((r, Lit::Bool(false)));
        }
        if let Ok((r, _)) = kw("null").parse(i) {
            return Ok((r, Lit::Null));
        }
        // A quoted string that never ends is a hard error, not "no literal".
        if i.starts_with(['"', '\'']) {
            self.string(i)?;
        }
        Err(nom::Err::Error(PErr { rest: i.len(), expected: String::new() }))
    }

    fn operand<'a>(&self, i: &'a str, expected: &str) -> Res<'a, Operand> {
        let (i, _) = ws(i)?;
        let at = self.at(i);
        match self.literal(i) {
            Ok((r, l)) => return Ok((r, Operand::Lit(l, at))),
            Err(nom::Err::Failure(e)) => return Err(nom::Err::Failure(e)),
            Err(_) => {}
        }
        let (r, n) = self.name(i, expected)?;
        Ok((r, Operand::Field(n)))
    }

    fn or_expr<'a>(&self, i: &'a str, depth: usize) -> Res<'a, Expr> {
        let (mut i, first) = self.and_expr(i, depth)?;
        let mut terms = vec![first];
        loop {
            let (r, _) = ws(i)?;
            match kw("or").parse(r) {
                Ok((r, _)) => {
                    let (r, right) = self.and_expr(r, depth)?;
                    terms.push(right);
                    i = r;
                }
                Err(_) => {
                    let single = if terms.len() == 1 { terms.pop() } else { None };
                    return Ok((i, single.unwrap_or(Expr::Or(terms))));
                }
            }
        }
    }

    fn and_expr<'a>(&self, i: &'a str, depth: usize) -> Res<'a, Expr> {
        let (mut i, first) = self.unary(i, depth, "'or'")?;
        let mut terms = vec![first];
        loop {
            let (r, _) = ws(i)?;
            match kw("and").parse(r) {
                Ok((r, _)) => {
                    let (r, right) = self.unary(r, depth, "'and'")?;
                    terms.push(right);
                    i = r;
                }
                Err(_) => {
                    let single = if terms.len() == 1 { terms.pop() } else { None };
                    return Ok((i, single.unwrap_or(Expr::And(terms))));
                }
            }
        }
    }

    fn unary<'a>(&self, i: &'a str, depth: usize, after: &str) -> Res<'a, Expr> {
        let (i, _) = ws(i)?;
        if depth >= MAX_DEPTH {
            return fail(i, format!("at most {MAX_DEPTH} nested parentheses or 'not'"));
        }
        if let Ok((r, _)) = kw("not").parse(i) {
            let (r, e) = self.unary(r, depth + 1, "'not'")?;
            return Ok((r, Expr::Not(Box::new(e))));
        }
        if let Ok((r, _)) = char::<&str, PErr>('(').parse(i) {
            let (r, e) = self.or_expr(r, depth + 1)?;
            let (r, _) = ws(r)?;
            return match char::<&str, PErr>(')').parse(r) {
                Ok((r, _)) => Ok((r, e)),
                Err(_) => fail(r, "')' or 'and'/'or'"),
            };
        }
        let lower = i.get(..i.find(|c: char| !is_ident(c)).unwrap_or(i.len())).unwrap_or_default().to_ascii_lowercase();
        let after_name = i.get(lower.len()..).unwrap_or_default().trim_start();
        if after_name.starts_with('(') {
            if lower == "isipv4insubnet" {
                return self.subnet(i);
            }
            if lower == "ispresent" {
                let (r, _) = (take_while1(is_ident), ws, char('(')).parse(i)?;
                let (r, o) = self.operand(r, "a field name in ispresent(...)")?;
                let (r, _) = ws(r)?;
                let Ok((r, _)) = char::<&str, PErr>(')').parse(r) else { return fail(r, "')'") };
                return Ok((r, Expr::Present(o)));
            }
        }
        self.comparison(i, after)
    }

    fn subnet<'a>(&self, i: &'a str) -> Res<'a, Expr> {
        let (r, _) = (take_while1(is_ident), ws, char('(')).parse(i)?;
        let (r, o) = self.operand(r, "a field name in isIpv4InSubnet(field, \"a.b.c.d/n\")")?;
        let (r, _) = ws(r)?;
        let Ok((r, _)) = char::<&str, PErr>(',').parse(r) else { return fail(r, "',' and a subnet string") };
        let (r, _) = ws(r)?;
        let at = self.at(r);
        let Ok((r, s)) = self.string(r) else { return fail(r, "a subnet string such as \"10.0.0.0/8\"") };
        let (r, _) = ws(r)?;
        let Ok((r, _)) = char::<&str, PErr>(')').parse(r) else { return fail(r, "')'") };
        Ok((r, Expr::Subnet(o, s, at)))
    }

    fn comparison<'a>(&self, i: &'a str, after: &str) -> Res<'a, Expr> {
        let (r, left) = self.operand(i, &format!("a field name or '(' after {after}"))?;
        let (r, _) = ws(r)?;
        let op = alt((tag("<="), tag(">="), tag("!="), tag("<>"), tag("=~"), tag("="), tag("<"), tag(">")))
            .parse(r)
            .map_err(|e: nom::Err<PErr>| e)
            .map(|(r, o): (&str, &str)| (r, o.to_string()));
        if let Ok((r, op)) = op {
            if op == "=~" {
                return self.like_rhs(r, left, false);
            }
            let cmp = match op.as_str() {
                "=" => CmpOp::Eq,
                "!=" | "<>" => CmpOp::Ne,
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Le,
                ">" => CmpOp::Gt,
                _ => CmpOp::Ge,
            };
            let (r, right) = self.operand(r, &format!("a value or field name after '{op}'"))?;
            return Ok((r, Expr::Cmp(left, cmp, right)));
        }
        let (r2, negated) = match kw("not").parse(r) {
            Ok((r2, _)) => (ws(r2)?.0, true),
            Err(_) => (r, false),
        };
        if let Ok((r3, _)) = kw("like").parse(r2) {
            return self.like_rhs(r3, left, negated);
        }
        if let Ok((r3, _)) = kw("in").parse(r2) {
            let (r3, list) = self.list(r3)?;
            let e = Expr::In(left, list);
            return Ok((r3, if negated { Expr::Not(Box::new(e)) } else { e }));
        }
        if let Operand::Field(_) = left {
            // A bare field, as in `filter truncated`: true when the value is true, non-zero or non-empty.
            if !negated {
                return Ok((r, Expr::Cmp(left, CmpOp::Eq, Operand::Lit(Lit::Bool(true), 0))));
            }
        }
        fail(r2, "a comparison ('=', '!=', '<', '<=', '>', '>='), 'like', 'in' or 'not like'/'not in'")
    }

    fn like_rhs<'a>(&self, i: &'a str, left: Operand, negated: bool) -> Res<'a, Expr> {
        let (i, _) = ws(i)?;
        let at = self.at(i);
        let pat = if let Some(body) = i.strip_prefix('/') {
            let mut out = String::new();
            let mut end = None;
            let mut it = body.char_indices();
            while let Some((k, c)) = it.next() {
                match c {
                    '/' => {
                        end = Some(k);
                        break;
                    }
                    '\\' => match it.next() {
                        Some((_, '/')) => out.push('/'),
                        Some((_, e)) => {
                            out.push('\\');
                            out.push(e);
                        }
                        None => break,
                    },
                    c => out.push(c),
                }
            }
            let Some(end) = end else { return fail(i, "a closing '/' to end the regular expression") };
            (body.get(end + 1..).unwrap_or_default(), Pattern::Regex(out, at))
        } else {
            match self.string(i) {
                Ok((r, s)) => (r, Pattern::Substring(s)),
                Err(nom::Err::Failure(e)) => return Err(nom::Err::Failure(e)),
                Err(_) => return fail(i, "/regex/ or \"substring\" after 'like'"),
            }
        };
        let e = Expr::Like(left, pat.1);
        Ok((pat.0, if negated { Expr::Not(Box::new(e)) } else { e }))
    }

    fn list<'a>(&self, i: &'a str) -> Res<'a, Vec<(Lit, usize)>> {
        let (i, _) = ws(i)?;
        let Ok((mut i, _)) = char::<&str, PErr>('[').parse(i) else {
            return fail(i, "'[' to start the list after 'in'");
        };
        let mut out = Vec::new();
        loop {
            let (r, _) = ws(i)?;
            if out.is_empty() {
                if let Ok((r, _)) = char::<&str, PErr>(']').parse(r) {
                    return Ok((r, out));
                }
            }
            let at = self.at(r);
            let (r, l) = match self.literal(r) {
                Ok(x) => x,
                Err(nom::Err::Failure(e)) => return Err(nom::Err::Failure(e)),
                Err(_) => return fail(r, "a value (\"text\" or a number) in the list"),
            };
            out.push((l, at));
            let (r, _) = ws(r)?;
            if let Ok((r, _)) = char::<&str, PErr>(',').parse(r) {
                i = r;
                continue;
            }
            return match char::<&str, PErr>(']').parse(r) {
                Ok((r, _)) => Ok((r, out)),
                Err(_) => fail(r, "',' or ']'"),
            };
        }
    }

    fn stats<'a>(&self, mut i: &'a str) -> Res<'a, (Vec<Agg>, Vec<GroupKey>)> {
        let mut aggs = Vec::new();
        loop {
            let (r, _) = ws(i)?;
            let start = r;
            let (r, fname) = match raw_ident(r) {
                Ok(x) => x,
                Err(_) => {
                    return fail(
                        r,
                        "an aggregate function (count, count_distinct, sum, avg, min, max, pct, earliest, latest)",
                    )
                }
            };
            let lname = fname.to_ascii_lowercase();
            let (r, _) = ws(r)?;
            let Ok((r, _)) = char::<&str, PErr>('(').parse(r) else { return fail(r, format!("'(' after '{fname}'")) };
            let (r, _) = ws(r)?;
            let (r, func) =
                if lname == "count" && r.starts_with('*') {
                    (r.get(1..).unwrap_or_default(), AggFn::Count(None))
                } else {
                    let (r, f) = self.name(r, &format!("a field name in {fname}(...)"))?;
                    match lname.as_str() {
                        "count" => (r, AggFn::Count(Some(f))),
                        "count_distinct" => (r, AggFn::CountDistinct(f)),
                        "sum" => (r, AggFn::Sum(f)),
                        "avg" => (r, AggFn::Avg(f)),
                        "min" => (r, AggFn::Min(f)),
                        "max" => (r, AggFn::Max(f)),
                        "earliest" => (r, AggFn::Earliest(f)),
                        "latest" => (r, AggFn::Latest(f)),
                        "pct" | "percentile" => {
                            let (r, _) = ws(r)?;
                            let Ok((r, _)) = char::<&str, PErr>(',').parse(r) else {
                                return fail(r, "',' and a percentile between 0 and 100");
                            };
                            let (r, _) = ws(r)?;
                            let p = match self.number(r) {
                                Ok((r2, Lit::Int(n))) if (0..=100).contains(&n) => (r2, n as f64),
                                Ok((r2, Lit::Float(f))) if (0.0..=100.0).contains(&f) => (r2, f),
                                _ => return fail(r, "a percentile between 0 and 100"),
                            };
                            (p.0, AggFn::Pct(f, p.1))
                        }
                        _ => return fail(
                            start,
                            "an aggregate function (count, count_distinct, sum, avg, min, max, pct, earliest, latest)",
                        ),
                    }
                };
            let (r, _) = ws(r)?;
            let Ok((r, _)) = char::<&str, PErr>(')').parse(r) else { return fail(r, "')'") };
            let written = start.get(..start.len() - r.len()).unwrap_or_default();
            let mut name: String = written.split_whitespace().collect::<Vec<_>>().join(" ");
            let (r, _) = ws(r)?;
            let r = match kw("as").parse(r) {
                Ok((r, _)) => {
                    let (r, n) = self.name(r, "a column name after 'as'")?;
                    name = n.text;
                    r
                }
                Err(_) => r,
            };
            aggs.push(Agg { func, name });
            let (r, _) = ws(r)?;
            if let Ok((r, _)) = char::<&str, PErr>(',').parse(r) {
                i = r;
                continue;
            }
            i = r;
            break;
        }
        let mut by = Vec::new();
        if let Ok((mut r, _)) = kw("by").parse(i) {
            loop {
                let (r2, _) = ws(r)?;
                let is_bin = r2.get(..3).is_some_and(|s| s.eq_ignore_ascii_case("bin"))
                    && r2.get(3..).unwrap_or_default().trim_start().starts_with('(');
                let r3 = if is_bin {
                    let (r3, _) = (take_while1(is_ident), ws, char('(')).parse(r2)?;
                    let (r3, _) = ws(r3)?;
                    let (r3, us) = self.duration(r3)?;
                    let (r3, _) = ws(r3)?;
                    let Ok((r3, _)) = char::<&str, PErr>(')').parse(r3) else { return fail(r3, "')'") };
                    let written = r2.get(..r2.len() - r3.len()).unwrap_or_default().replace(' ', "");
                    let (r3, alias) = self.alias(r3)?;
                    by.push(GroupKey::Bin(us, alias.unwrap_or(written)));
                    r3
                } else {
                    let (r3, n) = self.name(r2, "a field name or bin(...) after 'by'")?;
                    let (r3, alias) = self.alias(r3)?;
                    let col = alias.unwrap_or_else(|| n.text.clone());
                    by.push(GroupKey::Field(n, col));
                    r3
                };
                let (r4, _) = ws(r3)?;
                if let Ok((r4, _)) = char::<&str, PErr>(',').parse(r4) {
                    r = r4;
                    continue;
                }
                i = r3;
                break;
            }
        }
        Ok((i, (aggs, by)))
    }

    fn alias<'a>(&self, i: &'a str) -> Res<'a, Option<String>> {
        let (r, _) = ws(i)?;
        match kw("as").parse(r) {
            Ok((r, _)) => {
                let (r, n) = self.name(r, "a column name after 'as'")?;
                Ok((r, Some(n.text)))
            }
            Err(_) => Ok((i, None)),
        }
    }

    /// `5m`: a positive number and a unit (ms, s, m, h, d), in microseconds.
    fn duration<'a>(&self, i: &'a str) -> Res<'a, i64> {
        let expected = "a period such as 30s, 5m, 1h (units ms, s, m, h, d)";
        let Ok((r, n)) = digit1::<&str, PErr>(i) else { return fail(i, expected) };
        let Ok((r, unit)) = take_while1::<_, &str, PErr>(|c: char| c.is_ascii_alphabetic()).parse(r) else {
            return fail(r, expected);
        };
        let mult: i64 = match unit {
            "ms" => 1_000,
            "s" | "sec" => 1_000_000,
            "m" | "min" => 60_000_000,
            "h" | "hr" => 3_600_000_000,
            "d" => 86_400_000_000,
            _ => return fail(i, expected),
        };
        match n.parse::<i64>().ok().and_then(|n| n.checked_mul(mult)).filter(|v| *v > 0) {
            Some(us) => Ok((r, us)),
            None => fail(i, expected),
        }
    }

    fn command<'a>(&self, i: &'a str) -> Res<'a, Command> {
        let (i, _) = ws(i)?;
        let at = self.at(i);
        let (r, word) = match raw_ident(i) {
            Ok(x) => x,
            Err(_) => return fail(i, "a command (fields, display, filter, stats, sort, limit, dedup)"),
        };
        match word.to_ascii_lowercase().as_str() {
            "fields" => {
                let (r, n) = self.names(r, "'fields'")?;
                Ok((r, Command::Fields(n, at)))
            }
            "display" => {
                let (r, n) = self.names(r, "'display'")?;
                Ok((r, Command::Display(n, at)))
            }
            "filter" => {
                let (r, e) = self.or_expr(r, 0).map_err(|e| match e {
                    nom::Err::Failure(mut f)
                        if f.expected.ends_with("after 'or'") && f.rest == r.trim_start().len() =>
                    {
                        f.expected = "a field name or '(' after 'filter'".into();
                        nom::Err::Failure(f)
                    }
                    e => e,
                })?;
                Ok((r, Command::Filter(e, at)))
            }
            "stats" => {
                let (r, (a, b)) = self.stats(r)?;
                Ok((r, Command::Stats(a, b, at)))
            }
            "sort" => {
                let mut keys = Vec::new();
                let mut r = r;
                loop {
                    let (r2, n) = self.name(r, "a field name after 'sort'")?;
                    let (r3, _) = ws(r2)?;
                    let (r3, desc) = if let Ok((r4, _)) = kw("desc").parse(r3) {
                        (r4, true)
                    } else if let Ok((r4, _)) = kw("asc").parse(r3) {
                        (r4, false)
                    } else {
                        (r2, false)
                    };
                    keys.push((n, desc));
                    let (r4, _) = ws(r3)?;
                    if let Ok((r4, _)) = char::<&str, PErr>(',').parse(r4) {
                        r = r4;
                        continue;
                    }
                    return Ok((r3, Command::Sort(keys, at)));
                }
            }
            "limit" => {
                let (r, _) = ws(r)?;
                match digit1::<&str, PErr>(r) {
                    Ok((r2, d)) => match d.parse::<usize>() {
                        Ok(n) if n > 0 => Ok((r2, Command::Limit(n, at))),
                        _ => fail(r, "a positive number after 'limit'"),
                    },
                    Err(_) => fail(r, "a positive number after 'limit'"),
                }
            }
            "dedup" => {
                let (r, n) = self.names(r, "'dedup'")?;
                Ok((r, Command::Dedup(n, at)))
            }
            _ => fail(i, "a command (fields, display, filter, stats, sort, limit, dedup)"),
        }
    }

    fn query(&self) -> Result<Vec<Command>, PErr> {
        let mut out = Vec::new();
        let mut i = self.src;
        loop {
            let (r, c) = self.command(i).map_err(unwrap_err)?;
            out.push(c);
            let (r, _) = ws(r).map_err(unwrap_err)?;
            if r.is_empty() {
                return Ok(out);
            }
            match char::<&str, PErr>('|').parse(r) {
                Ok((r, _)) => i = r,
                Err(_) => {
                    return Err(PErr {
                        rest: r.len(),
                        expected: "'|' and the next command, or the end of the query".into(),
                    })
                }
            }
        }
    }
}

fn unwrap_err(e: nom::Err<PErr>) -> PErr {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => PErr { rest: 0, expected: "more input".into() },
    }
}

/// Parses a whole query.
pub(crate) fn parse(src: &str) -> Result<Vec<Command>, QueryError> {
    let p = P { src };
    p.query().map_err(|e| {
        let at = src.len().saturating_sub(e.rest);
        let expected = if e.expected.is_empty() { "a valid query".to_string() } else { e.expected };
        QueryError::at(src, at, expected)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long `or`/`and` chain is one flat node: as a left-nested tree its depth was the chain's length, and
    /// compiling, evaluating or dropping a chain of a few hundred thousand terms overflowed the stack.
    #[test]
    fn long_and_or_chains_are_flat() {
        let n = 100_000;
        let chain = |op: &str| {
            let terms: Vec<String> = (0..n).map(|k| format!("conn_id = {k}")).collect();
            format!("filter {}", terms.join(op))
        };
        for (op, want) in [(" or ", "or"), (" and ", "and")] {
            let cmds = parse(&chain(op)).unwrap();
            let Some(Command::Filter(e, _)) = cmds.first() else { panic!("not a filter: {cmds:?}") };
            match (e, want) {
                (Expr::Or(t), "or") | (Expr::And(t), "and") => assert_eq!(t.len(), n),
                _ => panic!("not a flat {want}"),
            }
        }
        let mixed = parse("filter a = 1 or b = 2 and c = 3 or not d = 4").unwrap();
        let Some(Command::Filter(Expr::Or(t), _)) = mixed.first() else { panic!("{mixed:?}") };
        assert!(matches!(t.as_slice(), [Expr::Cmp(..), Expr::And(a), Expr::Not(_)] if a.len() == 2));
        let single = parse("filter (a = 1)").unwrap();
        assert!(matches!(single.first(), Some(Command::Filter(Expr::Cmp(..), _))));
    }
}
