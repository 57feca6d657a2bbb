//! Queries on the corpus: parallel == sequential, real answers, typed errors, bounded nesting.

use std::path::{Path, PathBuf};

use auditlog_core::query::{Query, QueryOptions, Runner, Value};
use auditlog_core::ReadOptions;

fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let mut out = Vec::new();
    for d in ["aurora", "mariadb", "mysql57", "mysql8", "rds-mysql8"] {
        let Ok(rd) = std::fs::read_dir(root.join(d)) else { continue };
        let mut v: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension().is_some_and(|e| {
                        e == "log" || e.to_str().is_some_and(|s| s.chars().all(|c| c.is_ascii_digit()))
                    })
            })
            .collect();
        v.sort();
        out.extend(v);
    }
    out
}

fn run(q: &str, opts: QueryOptions) -> Vec<Vec<Value<'static>>> {
    let q = Query::parse(q).unwrap();
    let mut rows = Vec::new();
    {
        let mut r = Runner::new(&q, opts, |row| {
            rows.push(row);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        for f in corpus_files() {
            let _ = r.add_reader(&f.display().to_string(), std::fs::File::open(&f).unwrap());
        }
        r.finish();
    }
    rows
}

const QUERIES: &[&str] = &[
    "filter kind = 'failed_connect' | stats count(*) as failures by host, bin(5m)",
    "filter sql like /(?i)^\\s*(grant|revoke)/ | fields ts, user, host, sql",
    "filter ispresent(user) | stats count(*) as n, count_distinct(host) as hosts, earliest(ts) as first, latest(host) as last_host by user | sort n desc",
    "filter log = 'slow' | stats sum(metrics.Query_time) as total, avg(metrics.Query_time) as avg, pct(metrics.Query_time, 95) as p95, max(metrics.Rows_examined) as rows, min(ts) as first by user",
    "filter isIpv4InSubnet(host, '127.0.0.0/8') and not kind in ['query', 'table'] | dedup user, host | limit 50",
    "fields ts, conn_id, user | sort conn_id desc, ts | limit 7",
    "stats count(*) as events by conn_id | sort events desc | limit 10",
];

#[test]
fn results_are_identical_with_any_number_of_threads_and_block_size() {
    for q in QUERIES {
        let base = run(q, QueryOptions { threads: 1, ..QueryOptions::default() });
        assert!(!base.is_empty(), "{q} gave no rows on the corpus");
        for (threads, block, min_chunk) in [(2, 4096, 64), (3, 300, 1), (4, 1 << 16, 512), (8, 2048, 64)] {
            let opts = QueryOptions {
                threads,
                min_chunk,
                read: ReadOptions::default().with_block_size(block),
                ..QueryOptions::default()
            };
            assert_eq!(run(q, opts), base, "{q} with {threads} threads, block {block}");
        }
    }
}

#[test]
fn failed_logins_per_host_agree_with_the_events() {
    // Count failed logins per host by reading every event, and compare with the query.
    let mut want = std::collections::BTreeMap::new();
    for f in corpus_files() {
        let _ = auditlog_core::source::Input::File(f).read(&ReadOptions::default(), |i| {
            if let auditlog_core::Item::Event(e) = i {
                if e.kind == auditlog_core::EventKind::FailedConnect {
                    let h = e.host.as_deref().map(|h| String::from_utf8_lossy(h).into_owned());
                    *want.entry(h).or_insert(0i64) += 1;
                }
            }
            std::ops::ControlFlow::Continue(())
        });
    }
    let rows = run("filter kind = 'failed_connect' | stats count(*) as n by host", QueryOptions::default());
    let got: std::collections::BTreeMap<Option<String>, i64> = rows
        .into_iter()
        .map(|r| {
            let h = match &r[0] {
                Value::Str(s) => Some(s.to_string()),
                _ => None,
            };
            let Value::Int(n) = r[1] else { panic!("count is not an integer") };
            (h, n)
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

#[test]
fn sql_is_redacted_in_results() {
    let rows = run("filter sql like /(?i)identified by/ | fields sql, @message", QueryOptions::default());
    assert!(!rows.is_empty());
    for r in rows {
        for v in r {
            let t = v.to_string();
            assert!(!t.contains("S3cret") && !t.to_lowercase().contains("identified by 'p"), "{t}");
        }
    }
}

#[test]
fn errors_point_at_the_column_and_say_what_was_expected() {
    let e = Query::parse("filter | stats count(*)").unwrap_err();
    assert_eq!(e.to_string(), "line 1, column 8: expected a field name or '(' after 'filter', found '|'");
    let e = Query::parse("fields user | sort usr").unwrap_err();
    assert_eq!((e.line(), e.column()), (1, 20));
    assert!(e.expected().starts_with("a field name ("));
    let e = Query::parse("stats count(*) as n by host | sort m").unwrap_err();
    assert_eq!(e.expected(), "a column of the stats result (host, n)");
    let e = Query::parse("filter ts > 'yesterday'").unwrap_err();
    assert!(e.expected().starts_with("a time such as"));
    let e = Query::parse("filter host like /(/").unwrap_err();
    assert!(e.expected().starts_with("a valid regular expression"));
    let e = Query::parse("filter isIpv4InSubnet(host, '10.0.0.0/33')").unwrap_err();
    assert_eq!(e.column(), 29);
    let e = Query::parse("limit 0").unwrap_err();
    assert_eq!(e.expected(), "a positive number after 'limit'");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("filter {}user = 'a'{}", "(".repeat(100_000), ")".repeat(100_000));
    let e = Query::parse(&deep).unwrap_err();
    assert!(e.expected().contains("nested"), "{e}");
    let nots = format!("filter {}user = 'a'", "not ".repeat(100_000));
    assert!(Query::parse(&nots).is_err());
    let ok = format!("filter {}user = 'a'{}", "(".repeat(10), ")".repeat(10));
    assert!(Query::parse(&ok).is_ok());
}

#[test]
fn arbitrary_queries_never_panic() {
    let alphabet = [
        "filter", "stats", "(", ")", "'", "\"", "/", "|", "=", "in", "[", "]", "by", "bin(", "5m", "count(*)", ",",
        "not", "and", " ", "like", "\u{202e}", "\\", "pct(", "-1",
    ];
    let mut seed = 7u64;
    for _ in 0..5000 {
        let mut q = String::new();
        for _ in 0..(seed % 12) {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            q.push_str(alphabet[(seed >> 33) as usize % alphabet.len()]);
        }
        let _ = Query::parse(&q);
    }
}
