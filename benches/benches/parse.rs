//! Parser throughput: bytes per second for each log format, parsed with `Parser::records` over an in-memory
//! buffer (no I/O), and through the streaming `read` path.

use std::ops::ControlFlow;

use auditlog_core::{read, Format, Item, Parser, Position, ReadOptions};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// About `target` bytes of log built by repeating a few realistic records with varying ids and times.
fn synth(format: Format, target: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(target + 4096);
    let mut i: u64 = 0;
    while out.len() < target {
        i += 1;
        let us = 1_703_817_810_000_000u64 + i * 137;
        let rec = match format {
            Format::Audit => match i % 5 {
                0 => format!("{us},aurora-prod-instance-1,app,10.0.{}.{},{},0,CONNECT,shop,,0\n", i % 7, i % 250, 1000 + i % 50),
                1 => format!("{us},aurora-prod-instance-1,app,10.0.3.17,{},{},QUERY,shop,'INSERT INTO orders (id, customer, note) VALUES ({i}, \\'O\\\\\\'Brien\\', \\'a, b, c\\')',0\n", 1000 + i % 50, 5_000_000 + i),
                2 => format!("{us},aurora-prod-instance-1,app,10.0.3.17,{},{},READ,shop,orders,\n", 1000 + i % 50, 5_000_000 + i),
                3 => format!("{us},aurora-prod-instance-1,admin,203.0.113.{},{},0,FAILED_CONNECT,,,1045\n", i % 200, 2000 + i % 50),
                _ => format!("{us},aurora-prod-instance-1,rdsadmin,localhost,{},{},QUERY,,'SELECT @@aurora_version',0\n", 7, 9_000_000 + i),
            },
            Format::General => match i % 4 {
                0 => format!("2024-01-03T08:00:{:02}.{:06}Z\t{} Connect\tapp@10.0.3.17 on shop using TCP/IP\n", i % 60, i % 1_000_000, 200 + i % 50),
                1 => format!("2024-01-03T08:00:{:02}.{:06}Z\t{} Query\tSELECT id, name FROM customers\n  WHERE id = {i}\n  ORDER BY name\n", i % 60, i % 1_000_000, 200 + i % 50),
                2 => format!("2024-01-03T08:00:{:02}.{:06}Z\t{} Query\tUPDATE stock SET qty = qty - 1 WHERE sku = 'A-{i}'\n", i % 60, i % 1_000_000, 200 + i % 50),
                _ => format!("2024-01-03T08:00:{:02}.{:06}Z\t{} Quit\t\n", i % 60, i % 1_000_000, 200 + i % 50),
            },
            Format::Slow => format!(
                "# Time: 2023-11-30T07:22:{:02}.{:06}Z\n# User@Host: admin[admin] @  [10.0.3.{}]  Id:  {}\n# Query_time: 2.000{:03}  Lock_time: 0.000000 Rows_sent: 1  Rows_examined: {}\nuse shop;\nSET timestamp=1701328930;\nSELECT c.id, c.name, SUM(o.total)\nFROM customers c JOIN orders o ON o.customer = c.id\nWHERE c.id > {i} GROUP BY c.id;\n",
                i % 60, i % 1_000_000, i % 250, 7000 + i % 100, i % 1000, i % 5000
            ),
            Format::Error => match i % 3 {
                0 => format!("2023-11-28T09:13:{:02}.{:06}Z {} [Note] [MY-010926] [Server] Access denied for user 'root'@'10.0.0.{}' (using password: YES)\n", i % 60, i % 1_000_000, 60000 + i, i % 250),
                1 => format!("2023-11-28T09:13:{:02}.{:06}Z 0 [Warning] [MY-010068] [Server] CA certificate ca.pem is self signed. (mysqld.cc:5965)\n", i % 60, i % 1_000_000),
                _ => format!("2023-11-28T09:13:{:02}.{:06}Z {} [Note] [MY-010914] [Server] Aborted connection {} to db: 'shop' user: 'app' host: '10.0.3.17' (Got an error reading communication packets).\n", i % 60, i % 1_000_000, 70000 + i, 70000 + i),
            },
        };
        out.extend_from_slice(rec.as_bytes());
    }
    out
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
