//! Realistic synthetic logs for benchmarks and the `gen` tool: Aurora-dialect audit logs with quoted SQL and
//! escapes, TABLE rows, rdsadmin noise, failed-login bursts and DCL at realistic rates, and general, slow and
//! error logs in MySQL 8.0 layouts. Deterministic for a given seed.

use std::io::{self, Write};

/// Which log to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Aurora Advanced Auditing.
    Audit,
    /// MySQL 8.0 general log.
    General,
    /// MySQL 8.0 slow log.
    Slow,
    /// MySQL 8.0 error log.
    Error,
}

/// xorshift64*: fast, deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const USERS: [&str; 8] = ["app", "app", "app", "report", "etl", "svc_api", "svc_api", "admin"];
const TABLES: [&str; 6] = ["orders", "customers", "order_items", "stock", "payments", "sessions"];

/// Writes about `bytes` bytes of `kind` log to `out`. Returns the bytes written.
pub fn generate(kind: Kind, bytes: u64, seed: u64, out: &mut dyn Write) -> io::Result<u64> {
    let mut r = Rng(seed | 1);
    let mut written = 0u64;
    let mut us: u64 = 1_732_000_000_000_000;
    let mut qid: u64 = 40_000_000;
    let mut line = String::with_capacity(512);
    let mut burst_left = 0u32;
    let mut burst_host = 0u64;
    while written < bytes {
        line.clear();
        us += 50 + r.below(400);
        qid += 1;
        let conn = 10_000 + r.below(400);
        let user = USERS[r.below(USERS.len() as u64) as usize];
        let host = format!("10.0.{}.{}", r.below(8), 10 + r.below(40));
        let table = TABLES[r.below(TABLES.len() as u64) as usize];
        // Roughly one brute force per 2 million records.
        if burst_left == 0 && r.below(2_000_000) == 0 {
            burst_left = 20 + r.below(30) as u32;
            burst_host = r.below(250);
        }
        let attack = burst_left > 0;
        if attack {
            burst_left -= 1;
        }
        match kind {
            Kind::Audit => {
                use std::fmt::Write as _;
                let ts = us;
                let srv = "aurora-prod-instance-1";
                let k = r.below(1000);
                let _ = if attack {
                    writeln!(line, "{ts},{srv},root,203.0.113.{burst_host},{conn},0,FAILED_CONNECT,,,1045")
                } else if k < 10 {
                    writeln!(line, "{ts},{srv},{user},{host},{conn},0,CONNECT,shop,,0")
                } else if k < 20 {
                    writeln!(line, "{ts},{srv},{user},{host},{conn},0,DISCONNECT,shop,,0")
                } else if k == 20 && r.below(100) == 0 {
                    // A typo now and then: about one failed login in 100,000 records.
                    writeln!(line, "{ts},{srv},{user},{host},{conn},0,FAILED_CONNECT,,,1045")
                } else if k < 120 {
                    writeln!(line, "{ts},{srv},rdsadmin,localhost,7,{qid},QUERY,,'SELECT @@aurora_version',0")
                } else if k < 400 {
                    writeln!(line, "{ts},{srv},{user},{host},{conn},{qid},READ,shop,{table},")
                } else if k < 500 {
                    writeln!(line, "{ts},{srv},{user},{host},{conn},{qid},WRITE,shop,{table},0")
                } else if k == 500 && r.below(20) == 0 {
                    // DCL: grants, and account changes that carry a password for the redaction to find.
                    let n = r.below(1_000_000);
                    match r.below(4) {
                        0 => writeln!(line, "{ts},{srv},admin,{host},{conn},{qid},QUERY,,'GRANT SELECT, INSERT ON shop.* TO \\'etl\\'@\\'10.0.%\\'',0"),
                        1 => writeln!(line, "{ts},{srv},admin,{host},{conn},{qid},QUERY,,'CREATE USER \\'svc_{n}\\'@\\'10.0.%\\' IDENTIFIED BY \\'Gen-Secret-{n}\\'',0"),
                        2 => writeln!(line, "{ts},{srv},admin,{host},{conn},{qid},QUERY,,'ALTER USER \\'app\\'@\\'%\\' IDENTIFIED BY \\'Gen-Secret-{n}\\'',0"),
                        _ => writeln!(line, "{ts},{srv},admin,{host},{conn},{qid},QUERY,,'SET PASSWORD FOR \\'report\\'@\\'%\\' = \\'Gen-Secret-{n}\\'',0"),
                    }
                } else if k < 700 {
                    let id = r.below(1_000_000);
                    writeln!(line, "{ts},{srv},{user},{host},{conn},{qid},QUERY,shop,'SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = {id} AND c.note <> \\'O\\\\\\'Brien, Ltd\\'',0")
                } else if k < 850 {
                    let id = r.below(1_000_000);
                    writeln!(line, "{ts},{srv},{user},{host},{conn},{qid},QUERY,shop,'INSERT INTO order_items (order_id, sku, qty, note) VALUES ({id}, \\'SKU-{}\\', {}, \\'gift, \"wrapped\"\\')',0", r.below(9999), 1 + r.below(5))
                } else {
                    let id = r.below(1_000_000);
                    writeln!(line, "{ts},{srv},{user},{host},{conn},{qid},QUERY,shop,'UPDATE stock SET qty = qty - 1 WHERE sku = \\'SKU-{id}\\'\\n  AND qty > 0',0")
                };
            }
            Kind::General => {
                use std::fmt::Write as _;
                let ts = iso(us);
                let k = r.below(100);
                let _ = if attack {
                    writeln!(line, "{ts}\t{conn} Connect\troot@203.0.113.{burst_host} on  using SSL/TLS\n{ts}\t{conn} Connect\tAccess denied for user 'root'@'203.0.113.{burst_host}' (using password: YES)")
                } else if k < 3 {
                    writeln!(line, "{ts}\t{conn} Connect\t{user}@{host} on shop using SSL/TLS")
                } else if k < 6 {
                    writeln!(line, "{ts}\t{conn} Quit\t")
                } else if k < 30 {
                    writeln!(
                        line,
                        "{ts}\t{conn} Query\tSELECT o.id, o.total\nFROM orders o\nWHERE o.id = {}",
                        r.below(1_000_000)
                    )
                } else {
                    writeln!(
                        line,
                        "{ts}\t{conn} Query\tUPDATE stock SET qty = qty - 1 WHERE sku = 'SKU-{}'",
                        r.below(9999)
                    )
                };
            }
            Kind::Slow => {
                use std::fmt::Write as _;
                let ts = iso(us);
                let qt = r.below(3_000_000);
                let _ = write!(
                    line,
                    "# Time: {ts}\n# User@Host: {user}[{user}] @  [{host}]  Id: {conn}\n# Query_time: {}.{:06}  Lock_time: 0.000{:03} Rows_sent: {}  Rows_examined: {}\n",
                    qt / 1_000_000,
                    qt % 1_000_000,
                    r.below(1000),
                    r.below(100),
                    r.below(100_000),
                );
                if r.below(4) == 0 {
                    line.push_str("use shop;\n");
                }
                let _ = writeln!(line, "SET timestamp={};", us / 1_000_000);
                slow_statement(&mut r, &mut line);
                line.push('\n');
            }
            Kind::Error => {
                use std::fmt::Write as _;
                let ts = iso(us);
                let _ = if attack || r.below(10) == 0 {
                    writeln!(line, "{ts} {conn} [Note] [MY-010926] [Server] Access denied for user 'root'@'203.0.113.{burst_host}' (using password: YES)")
                } else {
                    writeln!(line, "{ts} {conn} [Note] [MY-010914] [Server] Aborted connection {conn} to db: 'shop' user: '{user}' host: '{host}' (Got an error reading communication packets). (sql_connect.cc:815)")
                };
            }
        }
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(written)
}

/// One statement of a slow log: a mix of shapes (joins, IN and VALUES lists, LIMIT with offsets, comments,
/// quoted strings with escapes, NULL, multi-line text) over 60 tables, about a thousand fingerprint classes.
fn slow_statement(r: &mut Rng, line: &mut String) {
    use std::fmt::Write as _;
    const COLS: [&str; 6] = ["id", "status", "created_at", "customer_id", "total", "note"];
    let t = format!("{}_{}", TABLES[r.below(TABLES.len() as u64) as usize], r.below(10));
    let col = COLS[r.below(COLS.len() as u64) as usize];
    let id = r.below(1_000_000);
    let _ = match r.below(16) {
        0..=3 => write!(line, "SELECT * FROM {t} WHERE {col} = {id};"),
        4 => write!(
            line,
            "SELECT c.id, c.name, SUM(o.total) FROM customers c JOIN {t} o ON o.customer_id = c.id\nWHERE c.id IN ({}) GROUP BY c.id ORDER BY c.id ASC;",
            (0..1 + r.below(8)).map(|_| r.below(1000).to_string()).collect::<Vec<_>>().join(", ")
        ),
        5 => write!(line, "/* app:checkout */ SELECT {col}, COUNT(*) FROM {t} WHERE note LIKE 'O\\'Brien%' GROUP BY {col} LIMIT {}, {};", r.below(500), 10 + r.below(90)),
        6..=7 => write!(
            line,
            "INSERT INTO {t} ({col}, note, total) VALUES {};",
            (0..1 + r.below(4)).map(|_| format!("({id}, 'gift, \\\"wrapped\\\"', {}.{:02})", r.below(999), r.below(100))).collect::<Vec<_>>().join(", ")
        ),
        8..=9 => write!(line, "UPDATE {t} SET {col} = {col} + 1, updated_at = NOW() WHERE id = {id} AND deleted_at IS NULL;"),
        10 => write!(line, "DELETE FROM {t} WHERE created_at < '2024-0{}-01 00:00:00' LIMIT 1000;", 1 + r.below(9)),
        11 => write!(line, "SELECT id FROM {t} WHERE {col} IS NOT NULL AND status IN ('new', 'paid') ORDER BY id DESC LIMIT {} OFFSET {};", 10 + r.below(40), r.below(10_000)),
        12 => write!(line, "SELECT /*+ MAX_EXECUTION_TIME(1000) */ {col} FROM {t}\n  WHERE id BETWEEN {id} AND {}\n  ORDER BY {col} ASC;", id + r.below(100)),
        13 => write!(line, "SELECT a.{col} FROM {t} a WHERE a.id = {id} UNION SELECT b.{col} FROM archive_{t} b WHERE b.id = {id};"),
        14 => write!(line, "REPLACE INTO {t} SET id = {id}, note = 'x', total = NULL;"),
        _ => write!(line, "CALL refresh_{t}({id}, 'batch-{}');", r.below(100)),
    };
}

/// RFC 3339 UTC with microseconds, for the MySQL 8.0 layouts.
fn iso(us: u64) -> String {
    auditlog_core::Timestamp::from_epoch_micros(i64::try_from(us).unwrap_or(0)).to_rfc3339()
}

/// About `bytes` bytes of `kind` log in memory.
#[must_use]
pub fn generate_vec(kind: Kind, bytes: u64, seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(usize::try_from(bytes).unwrap_or(0) + 4096);
    let _ = generate(kind, bytes, seed, &mut v);
    v
}
