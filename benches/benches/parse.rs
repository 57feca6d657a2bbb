//! Parser throughput: bytes per second for each log format, parsed with `Parser::records` over an in-memory
//! buffer (no I/O), and through the streaming `read` path.

use std::ops::ControlFlow;

use auditlog_benches::{generate_vec, Kind};
use auditlog_core::{read, Format, Item, Parser, Position, ReadOptions};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn synth(format: Format, target: usize) -> Vec<u8> {
    let kind = match format {
        Format::Audit => Kind::Audit,
        Format::General => Kind::General,
        Format::Slow => Kind::Slow,
        Format::Error => Kind::Error,
    };
    generate_vec(kind, target as u64, 42)
}

fn parsers(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for format in Format::ALL {
        let data = synth(format, 8 << 20);
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_with_input(BenchmarkId::new("records", format.as_str()), &data, |b, data| {
            b.iter(|| {
                let mut parser = Parser::new(format);
                let mut n = 0u64;
                for item in parser.records(data, Position::START, true) {
                    if let Item::Event(e) = item {
                        n += e.conn_id.unwrap_or(0);
                    }
                }
                black_box(n)
            })
        });
        g.bench_with_input(BenchmarkId::new("read_stream", format.as_str()), &data, |b, data| {
            let opts = ReadOptions::default().with_format(Some(format));
            b.iter(|| {
                let mut n = 0u64;
                let s = read(&data[..], &opts, |item| {
                    if let Item::Event(e) = item {
                        n += e.conn_id.unwrap_or(0);
                    }
                    ControlFlow::Continue(())
                });
                black_box((n, s.map(|s| s.records).unwrap_or(0)))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(3));
    targets = parsers
}
criterion_main!(benches);
