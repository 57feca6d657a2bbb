//! End-to-end throughput in bytes per second, with 1 and 2 threads: the record splitter, `analyze` on inputs
//! that stress each detector, `query` with a filter and a stats, and `digest`.

use std::ops::ControlFlow;
use std::time::Duration;

use auditlog_benches::{generate_vec, Kind};
use auditlog_core::analyze::{AnalyzeOptions, Analyzer, Baseline};
use auditlog_core::digest::{Digest, DigestOptions};
use auditlog_core::query::{Query, QueryOptions, Runner};
use auditlog_core::{chunk, Format};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SIZE: u64 = 64 << 20;

/// Audit logs that give each detector work: the generator's mix (bursts, DCL, logins), a login-heavy log for the
/// unusual-host detector with a baseline (also run with most logins on disk), and a log where every 20th record
/// is a failed login.
fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mix = generate_vec(Kind::Audit, SIZE, 42);
    let mut logins = Vec::with_capacity(SIZE as usize);
    let mut failures = Vec::with_capacity(SIZE as usize);
    let mut i = 0u64;
    while (logins.len() as u64) < SIZE {
        i += 1;
        let ts = 1_732_000_000_000_000 + i * 200;
        let host = format!("10.{}.{}.{}", i % 7, (i / 7) % 250, (i / 1750) % 250);
        logins.extend_from_slice(format!("{ts},db-1,user{},{host},{i},0,CONNECT,shop,,0\n", i % 500).as_bytes());
        let rec = if i.is_multiple_of(20) {
            format!("{ts},db-1,root,203.0.113.{},{i},0,FAILED_CONNECT,,,1045\n", i % 50)
        } else {
            format!("{ts},db-1,app,10.0.0.5,{i},{i},QUERY,shop,'SELECT a, b FROM t WHERE id = {i}',0\n")
        };
        failures.extend_from_slice(rec.as_bytes());
    }
    vec![("mix", mix), ("logins", logins), ("failed_logins", failures)]
}

fn analyze(c: &mut Criterion) {
    let mut g = c.benchmark_group("analyze");
    let mut baseline = Baseline::default();
    for u in 0..250 {
        baseline.add(&format!("user{u}"), "10.0.0.1");
    }
    // `logins_on_disk`: the login-heavy log (about a million successful logins) with 16,384 of them in
    // memory, the rest written to temporary files and merged back.
    let runs = inputs().into_iter().flat_map(|(name, data)| {
        let on_disk = (name == "logins").then(|| ("logins_on_disk", data.clone(), 1 << 14));
        std::iter::once((name, data, AnalyzeOptions::default().logins_in_memory)).chain(on_disk)
    });
    for (name, data, in_memory) in runs {
        g.throughput(Throughput::Bytes(data.len() as u64));
        for threads in [1, 2] {
            g.bench_with_input(BenchmarkId::new(name, format!("{threads}t")), &data, |b, data| {
                b.iter(|| {
                    let opts = AnalyzeOptions {
                        threads,
                        baseline: name.starts_with("logins").then(|| baseline.clone()),
                        logins_in_memory: in_memory,
                        ..AnalyzeOptions::default()
                    };
                    let mut a = Analyzer::new(opts).expect("pool");
                    a.add_reader("bench", &data[..]).expect("read");
                    black_box(a.finish().findings.len())
                })
            });
        }
    }
    g.finish();
}

fn splitter(c: &mut Criterion) {
    let mut g = c.benchmark_group("chunk");
    for (format, kind) in [(Format::Audit, Kind::Audit), (Format::General, Kind::General), (Format::Slow, Kind::Slow)] {
        let data = generate_vec(kind, SIZE, 7);
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_with_input(BenchmarkId::new("split_64", format.as_str()), &data, |b, data| {
            b.iter(|| black_box(chunk::split(format, data, 64).len()))
        });
        g.bench_with_input(BenchmarkId::new("last_boundary", format.as_str()), &data, |b, data| {
            b.iter(|| black_box(chunk::last_boundary(format, data, usize::MAX)))
        });
    }
    g.finish();
}

fn query_and_digest(c: &mut Criterion) {
    let audit = generate_vec(Kind::Audit, SIZE, 42);
    let slow = generate_vec(Kind::Slow, SIZE, 42);
    let mut g = c.benchmark_group("query");
    g.throughput(Throughput::Bytes(audit.len() as u64));
    let q = Query::parse(
        r#"filter kind = "failed_connect" or host like /^10\.0\.1\./ | stats count(*) as n by host, bin(5m)"#,
    )
    .expect("query");
    for threads in [1, 2] {
        g.bench_with_input(BenchmarkId::new("filter_stats", format!("{threads}t")), &audit, |b, data| {
            b.iter(|| {
                let mut rows = 0u64;
                let opts = QueryOptions { threads, ..QueryOptions::default() };
                let mut r = Runner::new(&q, opts, |_| {
                    rows += 1;
                    ControlFlow::Continue(())
                })
                .expect("runner");
                r.add_reader("bench", &data[..]).expect("read");
                black_box(r.finish().rows)
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("digest");
    g.throughput(Throughput::Bytes(slow.len() as u64));
    for threads in [1, 2] {
        g.bench_with_input(BenchmarkId::new("slow", format!("{threads}t")), &slow, |b, data| {
            b.iter(|| {
                let mut d = Digest::new(DigestOptions { threads, ..DigestOptions::default() }).expect("pool");
                d.add_reader("bench", &data[..]).expect("read");
                black_box(d.finish().classes.len())
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = splitter, analyze, query_and_digest
}
criterion_main!(benches);
