//! One test per item of /work/shared/formats.md §10 ("Edge cases a parser must survive"), with small inputs
//! taken from the sample lines of formats.md where it has them ([V] lines), else constructed to match.
//! Items 11 and 17 are about detectors: for those the tests check what the parser guarantees (exact
//! timestamps so records can be ordered; one event per attempt).

use std::borrow::Cow;
use std::ops::ControlFlow;

use auditlog_core::{
    lossy, read, Dialect, Event, EventKind, Extra, Format, Item, Parser, Position, ReadOptions, Reason, SkipReason,
};

fn items(format: Format, log: &[u8]) -> Vec<Item<'_>> {
    Parser::new(format).records(log, Position::START, true).collect()
}

fn events(format: Format, log: &[u8]) -> Vec<Event<'_>> {
    items(format, log)
        .into_iter()
        .filter_map(|i| match i {
            Item::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// The only event of a one-record input; panics on anything else.
fn one(format: Format, log: &[u8]) -> Event<'_> {
    let all = items(format, log);
    let evs: Vec<Event<'_>> = all
        .iter()
        .filter_map(|i| match i {
            Item::Event(e) => Some(e.clone()),
            Item::Malformed(m) => panic!("malformed {:?}: {}", m.reason, lossy(&m.raw)),
            Item::Skipped(_) => None,
        })
        .collect();
    assert_eq!(evs.len(), 1, "{all:?}");
    evs.into_iter().next().unwrap()
}

fn audit(line: &str) -> Event<'_> {
    one(Format::Audit, line.as_bytes())
}

fn s(b: &Option<Cow<'_, [u8]>>) -> String {
    b.as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_else(|| "<none>".into())
}

fn text(e: &Event<'_>) -> Vec<u8> {
    e.sql.as_ref().map(|s| s.text().into_owned()).unwrap_or_default()
}

fn owned(i: Item<'_>) -> Item<'static> {
    match i {
        Item::Event(e) => Item::Event(e.into_owned()),
        Item::Malformed(m) => Item::Malformed(m.into_owned()),
        Item::Skipped(s) => Item::Skipped(s),
    }
}

/// Every item of the streaming reader with the given options.
fn streamed(log: &[u8], opts: &ReadOptions) -> (Vec<Item<'static>>, auditlog_core::ReadSummary) {
    let mut out = Vec::new();
    let summary = read(log, opts, |i| {
        out.push(owned(i));
        ControlFlow::Continue(())
    })
    .expect("read");
    (out, summary)
}

/// The streaming reader with tiny blocks gives exactly the items of one pass.
fn assert_stream_same(format: Format, log: &[u8]) {
    let one_pass: Vec<Item<'static>> = items(format, log).into_iter().map(owned).collect();
    for block in [64, 65, 100, 1 << 20] {
        let opts = ReadOptions::default().with_format(Some(format)).with_block_size(block);
        let (got, summary) = streamed(log, &opts);
        assert_eq!(got, one_pass, "block size {block}");
        assert_eq!(summary.records + summary.malformed + summary.skipped, one_pass.len() as u64);
        let lines = log.iter().filter(|b| **b == b'\n').count() + usize::from(!log.is_empty() && !log.ends_with(b"\n"));
        assert_eq!(summary.lines, lines as u64, "block size {block}: lines");
    }
}

fn skip_reasons(all: &[Item<'_>]) -> Vec<(u64, SkipReason)> {
    all.iter()
        .filter_map(|i| match i {
            Item::Skipped(s) => Some((s.pos.line, s.reason)),
            _ => None,
        })
        .collect()
}

fn conn_type<'a>(e: &'a Event<'_>) -> Option<&'a [u8]> {
    match &e.extra {
        Extra::Audit { conn_type, .. } => conn_type.as_deref(),
        _ => None,
    }
}

// 1 ---------------------------------------------------------------------------------------------------------

#[test]
fn s10_01_commas_in_quoted_sql() {
    // [V] AWS RDS-connector fixture (formats.md §1.1).
    let e = audit(
        r"1703817810074458,aurora-mysql-instance-1,rdsadmin,localhost,223153,20070830,QUERY,,'SET SESSION wait_timeout=28800,SESSION time_zone=\'+00:00\',SESSION sql_mode=0,SESSION autocommit=1',0",
    );
    assert_eq!(e.kind, EventKind::Query);
    assert_eq!(
        text(&e),
        b"SET SESSION wait_timeout=28800,SESSION time_zone='+00:00',SESSION sql_mode=0,SESSION autocommit=1"
    );
    assert_eq!((e.db.is_none(), e.retcode), (true, Some(0)));
    // INSERT ... VALUES (1, 2, 3) with quotes, double quotes and commas, RDS 8.0 trailing fields.
    let e = audit(
        r#"20240615 10:32:00,ip-10-0-0-6,app,10.0.3.17,44,101,QUERY,shop,'INSERT INTO t VALUES (1, 2, 3), (\'a,b\', "c,d", \'O\\\'Brien\')',0,,"#,
    );
    assert_eq!(text(&e), br#"INSERT INTO t VALUES (1, 2, 3), ('a,b', "c,d", 'O\'Brien')"#);
    assert_eq!((s(&e.db), e.retcode, e.dialect), ("shop".into(), Some(0), Dialect::RdsMysql));
    // A quote followed by a comma inside the text is not the end of the field.
    let e = audit(r"1703817810074459,i,u,h,1,2,QUERY,db,'SELECT \',\' AS c',1064");
    assert_eq!(text(&e), b"SELECT ',' AS c");
    assert_eq!(e.retcode, Some(1064));
}

// 2 ---------------------------------------------------------------------------------------------------------

#[test]
fn s10_02_embedded_newlines() {
    // Modern plugin: `\n` escapes, one line per record (MariaDB commit 3cbfe8c sample).
    let log = "20240101 10:00:00,srv,root,localhost,5,9,QUERY,,'SET PASSWORD \\n# comment\\nFOR u1=<secret>',0\n20240101 10:00:01,srv,root,localhost,5,0,DISCONNECT,,,0\n";
    let evs = events(Format::Audit, log.as_bytes());
    assert_eq!(evs.len(), 2);
    assert_eq!(text(&evs[0]), b"SET PASSWORD \n# comment\nFOR u1=<secret>");
    assert_eq!(evs[0].sql.as_ref().unwrap().raw(), br"SET PASSWORD \n# comment\nFOR u1=<secret>");
    // Aurora v2: newlines turned into spaces [V ethan-hung].
    let e = audit("1603439251360772,database-1-instance-1,admin,1.34.6.81,30,966941,QUERY,world,'CREATE TABLE customers (   C_Id INT,   Name varchar(50),   Address varchar(255),   Phone varchar(20) )',0");
    assert_eq!(
        text(&e),
        b"CREATE TABLE customers (   C_Id INT,   Name varchar(50),   Address varchar(255),   Phone varchar(20) )"
    );
    // General log: raw multi-line SQL [V ethan-hung].
    let log = b"2020-10-23T07:47:31.319556Z   30 Query\tCREATE TABLE customers (\n  C_Id INT,\n  Name varchar(50)\n)\n2020-10-23T07:47:31.400000Z   30 Quit\t\n";
    let evs = events(Format::General, log);
    assert_eq!(evs.len(), 2);
    assert_eq!(text(&evs[0]), b"CREATE TABLE customers (\n  C_Id INT,\n  Name varchar(50)\n)");
    assert_eq!(evs[1].pos.line, 5);
    // Slow log: multi-line statement.
    let log = b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1631807120;\nSELECT a,\n  b\nFROM t;\n";
    assert_eq!(text(&one(Format::Slow, log)), b"SELECT a,\n  b\nFROM t");
    // Error log: continuation line [V elastic/beats 5.7.10].
    let log = b"2016-12-09T12:08:33.335060Z 0 [Note] /usr/local/Cellar/mysql/5.7.10/bin/mysqld: ready for connections.\nVersion: '5.7.10'  socket: '/tmp/mysql.sock'  port: 3306  Homebrew\n";
    let e = one(Format::Error, log);
    assert!(s(&e.message)
        .ends_with("ready for connections.\nVersion: '5.7.10'  socket: '/tmp/mysql.sock'  port: 3306  Homebrew"));
}

// 3 ---------------------------------------------------------------------------------------------------------

#[test]
fn s10_03_commas_and_quotes_in_unquoted_fields() {
    // A mistyped password sent as the user name: commas, quotes and spaces, on FAILED_CONNECT.
    let e = audit("20240615 10:32:00,ip-10-0-0-6,hunter2, or '1'='1,203.0.113.7,44,0,FAILED_CONNECT,,,1045,SSL");
    assert_eq!(s(&e.user), "hunter2, or '1'='1");
    assert_eq!(s(&e.host), "203.0.113.7");
    assert_eq!((e.kind, e.retcode, e.conn_id), (EventKind::FailedConnect, Some(1045), Some(44)));
    assert_eq!(conn_type(&e), Some(&b"SSL"[..]));
    // A user name that itself looks like `,host,1,2,` would be ambiguous; digits-only conn/query ids and an
    // upper-case operation anchor the split at the first match (formats.md §1.2.3).
    let e = audit("1536652826127350,dv-mysql,x,y,10.0.0.9,1,0,FAILED_CONNECT,,,1045");
    assert_eq!((s(&e.user), s(&e.host)), ("x,y".into(), "10.0.0.9".into()));
    // Back-quoted database and a table name with a comma on a TABLE row.
    let e = audit("1603439251354761,database-1-instance-1,admin,1.34.6.81,30,966941,QUERY,`my,db`,'SELECT 1',0");
    assert_eq!(s(&e.db), "`my,db`");
    // General log: the user in `Access denied for user 'a'b'@'h'` is not escaped; split at the last `'@'`.
    let log = b"2018-12-27T11:14:54.687513Z\t   48 Connect\to'brien@172.30.0.3 on  using SSL/TLS\n2018-12-27T11:14:54.687606Z\t   48 Connect\tAccess denied for user 'o'brien'@'172.30.0.3' (using password: YES)\n";
    let e = one(Format::General, log);
    assert_eq!((e.kind, s(&e.user), s(&e.host)), (EventKind::FailedConnect, "o'brien".into(), "172.30.0.3".into()));
    let e = one(
        Format::Error,
        b"2020-10-23T07:13:26.298081Z 34 [Note] Access denied for user 'a'@'b'@'58.182.98.237' (using password: YES)\n",
    );
    assert_eq!((s(&e.user), s(&e.host)), ("a'@'b".into(), "58.182.98.237".into()));
}

// 4 ---------------------------------------------------------------------------------------------------------

#[test]
fn s10_04_empty_fields() {
    // Empty db before a QUERY object.
    let e = audit(r"20230501 10:02:19,ip-10-1-0-50,rdsadmin,localhost,7,585281,QUERY,,'select 1',0,,");
    assert_eq!((e.db, e.object.is_none()), (None, true));
    // Empty retcode on a TABLE row; bare table name as object [V ethan-hung].
    let e = audit("1603439251354761,database-1-instance-1,admin,1.34.6.81,30,966941,CREATE,world,customers,");
    assert_eq!((e.kind, s(&e.object), e.retcode), (EventKind::Table, "customers".into(), None));
    // Empty object and db on CONNECT; empty user and host on a MariaDB DISCONNECT.
    let e = audit("1603442208508100,database-1-instance-1,admin,1.34.6.81,50,0,CONNECT,,,0");
    assert_eq!((e.db, e.object, e.sql.is_none(), e.retcode), (None, None, true, Some(0)));
    let e = audit("20240101 10:00:00,srv,,,12,0,DISCONNECT,,,0");
    assert_eq!((e.user, e.host, e.kind), (None, None, EventKind::Disconnect));
    // Slow log: empty host name before `[ip]`, and `@ localhost []`.
    let log = b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: checkxxx[checkxxx] @  [10.213.15.234]  Id: 1250245\n# Query_time: 0.110489  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1631807120;\nshow slave status;\n# Time: 2021-09-16T15:45:21.000000Z\n# User@Host: root[root] @ localhost []  Id:     3\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSELECT 1;\n";
    let evs = events(Format::Slow, log);
    assert_eq!((s(&evs[0].host), s(&evs[1].host)), ("10.213.15.234".into(), "localhost".into()));
    // General log: empty db in `on  using`.
    let e = one(Format::General, b"2020-10-23T08:36:48.508034Z   50 Connect\tadmin@1.34.6.81 on  using SSL/TLS\n");
    assert_eq!((e.kind, s(&e.user), s(&e.host), e.db), (EventKind::Connect, "admin".into(), "1.34.6.81".into(), None));
}

// 5 ---------------------------------------------------------------------------------------------------------

#[test]
fn s10_05_trailing_empty_fields() {
    let e = audit(
        r"20230501 10:02:19,ip-10-1-0-50,rdsadmin,localhost,7,585281,QUERY,,'select * from information_schema.rds_events_threads_waits_current where (type <> \'BACKGROUND\' or name = \'thread/sql/slave_sql\') and command <> \'Sleep\'',0,,",
    );
    assert_eq!((e.retcode, e.dialect, conn_type(&e)), (Some(0), Dialect::RdsMysql, None));
    assert!(text(&e).ends_with(b"and command <> 'Sleep'"));
    let e = audit("20221201 14:07:05,ip-10-22-1-51,rdsadmin,localhost,821,0,CONNECT,,,0,SOCKET");
    assert_eq!((e.retcode, e.dialect, conn_type(&e)), (Some(0), Dialect::RdsMysql, Some(&b"SOCKET"[..])));
    // The integer form some parsers assume (formats.md §1.4) is kept as written.
    let e = audit("20221201 14:07:05,ip-10-22-1-51,app,10.0.0.5,822,0,CONNECT,,,0,1");
    assert_eq!(conn_type(&e), Some(&b"1"[..]));
    // Older RDS rows: exactly 10 fields.
    let e = audit("20200720 16:38:01,ip-172-27-1-97,admin,10.120.186.117,305231,0,CONNECT,rdslogstest,,0");
    assert_eq!((e.dialect, conn_type(&e), s(&e.db)), (Dialect::Mariadb, None, "rdslogstest".into()));
}

// 6 ---------------------------------------------------------------------------------------------------------

#[test]
fn s10_06_silent_truncation() {
    // query_log_limit cut inside a multi-byte UTF-8 sequence: `é` is C3 A9, only C3 was kept; the closing quote
    // is still written, so the record itself is complete (the parser cannot know the SQL was cut).
    let mut line = b"20240101 10:00:00,HOSTNAME,root,localhost,1,2,QUERY,,'SELECT \\'caf".to_vec();
    line.extend_from_slice(b"\xc3',0,,\n");
    let e = one(Format::Audit, &line);
    assert!(!e.truncated);
    assert_eq!(e.retcode, Some(0));
    assert_eq!(text(&e), b"SELECT 'caf\xc3");
    assert_eq!(lossy(&text(&e)), "SELECT 'caf\u{fffd}");
    // The plugin test's limit 15: `'set global serv'`.
    let e = audit("20240101 10:00:00,HOSTNAME,root,localhost,1,2,QUERY,,'set global serv',0");
    assert_eq!(text(&e), b"set global serv");
    // The download truncation marker: the record before it is flagged, the marker and blanks skipped, and
    // the next record parses; also when the marker arrives in a later read block.
    let log = b"20261122 07:28:35,ip-10-0-1-23,admin,127.0.0.20,19,0,CONNECT,,,0,TCP/IP\n20261122 07:28:35,ip-10-0-1-23,admin,127.0.0.20,19,31,QUERY,,'SELECT CURRENT\n [Your log message was truncated]\n\n20261122 07:28:35,ip-10-0-1-23,alice,127.0.0.21,20,0,FAILED_CONNECT,,,1045,TCP/IP\n";
    let all = items(Format::Audit, log);
    assert_eq!(skip_reasons(&all), [(3, SkipReason::TruncationMarker), (4, SkipReason::Blank)]);
    let evs = events(Format::Audit, log);
    assert_eq!(evs.len(), 3);
    assert!(!evs[0].truncated && evs[1].truncated && !evs[2].truncated);
    assert_eq!(evs[1].sql.as_ref().unwrap().raw(), b"SELECT CURRENT");
    assert_eq!(evs[2].kind, EventKind::FailedConnect);
    assert_stream_same(Format::Audit, log);
    // A complete record before the marker (the cut fell on a line end) is still flagged.
    let log = b"20240101 10:00:00,s,u,h,1,0,CONNECT,,,0\n [Your log message was truncated]\n";
    assert!(events(Format::Audit, log)[0].truncated);
    // A cut record that does not parse at all is reported as Truncated, not dropped.
    let log = b"20240101 10:00:00,s,u,h,1,\n [Your log message was truncated]\n";
    let all = items(Format::Audit, log);
    assert!(matches!(&all[0], Item::Malformed(m) if m.reason == Reason::Truncated && m.pos.line == 1), "{all:?}");
}

// 7 ---------------------------------------------------------------------------------------------------------

#[test]
fn s10_07_non_utf8_bytes() {
    let mut audit_log =
        b"20261122 07:28:35,ip-10-0-1-23,app,127.0.0.10,80,905,QUERY,shop,'INSERT INTO c (name) VALUES (\\'Jos"
            .to_vec();
    audit_log.extend_from_slice(b"\xe9\\'), (\\'\xff\xfe\xfd\\')',0,,\n");
    let e = one(Format::Audit, &audit_log);
    assert_eq!(text(&e), b"INSERT INTO c (name) VALUES ('Jos\xe9'), ('\xff\xfe\xfd')");
    assert_eq!(lossy(&text(&e)), "INSERT INTO c (name) VALUES ('Jos\u{fffd}'), ('\u{fffd}\u{fffd}\u{fffd}')");
    // Non-UTF-8 in a user name too (bytes, not String).
    let e = one(Format::Audit, b"20240615 10:32:00,ip-10-0-0-6,b\xe4d,203.0.113.7,44,0,FAILED_CONNECT,,,1045,SSL\n");
    assert_eq!(e.user.as_deref(), Some(&b"b\xe4d"[..]));
    // General and slow logs.
    let e = one(Format::General, b"2024-01-03T08:00:01.341151Z\t   7 Query\tSELECT 'Jos\xe9'\n");
    assert_eq!(text(&e), b"SELECT 'Jos\xe9'");
    let e = one(Format::Slow, b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSELECT '\xff\x00';\n");
    assert_eq!(text(&e), b"SELECT '\xff\x00'");
    // A NUL byte inside quoted audit SQL does not end the record.
    let e = one(
        Format::Audit,
        b"20261122 07:28:35,ip-10-0-1-23,app,127.0.0.10,80,904,QUERY,shop,'SELECT \\'a\x00b\\' AS nul',0,,\n",
    );
    assert_eq!(text(&e), b"SELECT 'a\x00b' AS nul");
}

// 8 ---------------------------------------------------------------------------------------------------------

#[test]
fn s10_08_truncated_last_line() {
    // Final line without a newline, in every format, through the streaming reader with tiny blocks.
    let audit_log = b"20240101 10:00:00,s,u,h,1,0,CONNECT,,,0\n20240101 10:00:01,s,u,h,1,5,QUERY,,'SELECT 1',0";
    let evs = events(Format::Audit, audit_log);
    assert_eq!((evs.len(), evs[1].retcode, evs[1].truncated), (2, Some(0), false));
    assert_stream_same(Format::Audit, audit_log);
    // Being written: cut inside the quoted SQL.
    let cut = b"20240101 10:00:00,s,u,h,1,0,CONNECT,,,0\n20240101 10:00:01,s,u,h,1,5,QUERY,,'SELECT 1, 'a";
    let evs = events(Format::Audit, cut);
    assert_eq!((evs.len(), evs[1].truncated), (2, true));
    assert_stream_same(Format::Audit, cut);
    let general =
        b"2024-01-03T08:00:01.341151Z\t217720 Query\tSELECT 1\n2024-01-03T08:00:02.341151Z\t217720 Query\tSELECT\n  2";
    assert_eq!(text(&events(Format::General, general)[1]), b"SELECT\n  2");
    assert_stream_same(Format::General, general);
    let slow = b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1631807120;\nSELECT 1";
    assert_eq!(text(&one(Format::Slow, slow)), b"SELECT 1");
    assert_stream_same(Format::Slow, slow);
    let error = b"2019-03-24T13:44:31.085670Z 0 [System] [MY-010116] [Server] starting\n2019-03-24T13:44:32.085670Z 0 [Note] [MY-010931] [Server] ready";
    assert_eq!(s(&events(Format::Error, error)[1].message), "ready");
    assert_stream_same(Format::Error, error);
    // A longer audit input whose lines straddle many 64-byte blocks.
    let mut long = Vec::new();
    for i in 0..50 {
        long.extend_from_slice(
            format!("1703817810{i:06},i,u,10.0.0.{i},{i},{i},QUERY,db,'SELECT {i}, \\'x\\'',0\n").as_bytes(),
        );
    }
    long.pop();
    assert_eq!(events(Format::Audit, &long).len(), 50);
    assert_stream_same(Format::Audit, &long);
}

// 9 ---------------------------------------------------------------------------------------------------------

#[test]
fn s10_09_blank_lines_anywhere() {
    // Audit: leading, between pages, whitespace-only, trailing.
    let log = b"\n20240101 10:00:00,s,u,h,1,0,CONNECT,,,0\n\n  \t\n20240101 10:00:01,s,u,h,1,0,DISCONNECT,,,0\n\n";
    let all = items(Format::Audit, log);
    assert_eq!(
        skip_reasons(&all),
        [(1, SkipReason::Blank), (3, SkipReason::Blank), (4, SkipReason::Blank), (6, SkipReason::Blank)]
    );
    assert_eq!(events(Format::Audit, log).iter().map(|e| e.pos.line).collect::<Vec<_>>(), [2, 5]);
    assert_stream_same(Format::Audit, log);
    // Slow log starting with a blank line (pmm-agent slow003), and blank lines between entries.
    let log = b"\n# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSELECT 1;\n\n\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSELECT 2;\n";
    let all = items(Format::Slow, log);
    assert!(all.iter().all(|i| !matches!(i, Item::Malformed(_))));
    let evs = events(Format::Slow, log);
    assert_eq!((text(&evs[0]), text(&evs[1])), (b"SELECT 1".to_vec(), b"SELECT 2".to_vec()));
    assert_eq!((evs[0].pos.line, evs[1].pos.line), (2, 8));
    assert_stream_same(Format::Slow, log);
    // General and error logs: blank lines between records are skipped and not part of the SQL/message.
    let log = b"\n2024-01-03T08:00:01.341151Z\t7 Query\tSELECT 1\n\n2024-01-03T08:00:02.341151Z\t7 Quit\t\n\n";
    let evs = events(Format::General, log);
    assert_eq!((text(&evs[0]), evs[1].pos.line), (b"SELECT 1".to_vec(), 4));
    assert_stream_same(Format::General, log);
    let log = b"\n2019-03-24T13:44:31.085670Z 0 [System] [MY-010116] [Server] starting\n\n2019-03-24T13:44:32.085670Z 0 [Note] [MY-010931] [Server] ready\n";
    let evs = events(Format::Error, log);
    assert_eq!((s(&evs[0].message), evs[1].pos.line), ("starting".into(), 4));
    assert_stream_same(Format::Error, log);
}

// 10 --------------------------------------------------------------------------------------------------------

const BANNER: &str = "/rdsdbbin/oscar/bin/mysqld, Version: 8.0.28 (Source distribution). started with:\nTcp port: 3306  Unix socket: /tmp/mysql.sock\nTime                 Id Command    Argument\n";
/// Collapsed whitespace (`Time Id Command Argument`, seen in the wild) and Percona's `Tcp port: 0`.
const BANNER_COLLAPSED: &str = "/usr/sbin/mysqld, Version: 5.7.30-33 (Percona Server (GPL), Release 33). started with:\nTcp port: 0  Unix socket: /var/lib/mysql/mysql.sock\nTime Id Command Argument\n";

#[test]
fn s10_10_banners_anywhere_repeated_collapsed() {
    // General log: banners at the start, twice in a row in the middle (ChaosHour: 3 in a row), collapsed.
    let log = format!(
        "{BANNER}2024-01-03T08:00:01.341151Z\t7 Query\tSELECT 1,\n  2\n{BANNER}{BANNER}2024-01-03T08:00:02.341151Z\t7 Query\tSELECT 3\n{BANNER_COLLAPSED}2024-01-03T08:00:03.341151Z\t7 Quit\t\n"
    );
    let all = items(Format::General, log.as_bytes());
    assert!(all.iter().all(|i| !matches!(i, Item::Malformed(_))), "{all:?}");
    let banners = skip_reasons(&all).iter().filter(|(_, r)| *r == SkipReason::Banner).count();
    assert_eq!(banners, 12);
    let evs = events(Format::General, log.as_bytes());
    assert_eq!(evs.len(), 3);
    // The banner ends the multi-line statement before it.
    assert_eq!(text(&evs[0]), b"SELECT 1,\n  2");
    assert_eq!(text(&evs[1]), b"SELECT 3");
    assert_eq!(evs[2].kind, EventKind::Disconnect);
    assert_stream_same(Format::General, log.as_bytes());
    // Slow log: the same, banners inside the sequence of entries.
    let entry = |q: &str| {
        format!("# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1631807120;\n{q};\n")
    };
    let log = format!(
        "{BANNER}{}{BANNER}{BANNER}{}{BANNER_COLLAPSED}{}",
        entry("SELECT 1"),
        entry("SELECT\n 2"),
        entry("SELECT 3")
    );
    let all = items(Format::Slow, log.as_bytes());
    assert!(all.iter().all(|i| !matches!(i, Item::Malformed(_))), "{all:?}");
    assert_eq!(skip_reasons(&all).iter().filter(|(_, r)| *r == SkipReason::Banner).count(), 12);
    let sql: Vec<Vec<u8>> = events(Format::Slow, log.as_bytes()).iter().map(text).collect();
    assert_eq!(sql, [b"SELECT 1".to_vec(), b"SELECT\n 2".to_vec(), b"SELECT 3".to_vec()]);
    assert_stream_same(Format::Slow, log.as_bytes());
    // MariaDB's banner with TABs in the header line (corpus/README.md difference 1).
    let log = b"mariadbd, Version: 10.11.19-MariaDB-0+deb12u1-log (Debian 12). started with:\nTcp port: 33061  Unix socket: /tmp/m.sock\nTime\t\t    Id Command\tArgument\n261122  7:26:24\t     3 Connect\troot@localhost on  using Socket\n";
    let all = items(Format::General, log);
    assert_eq!(skip_reasons(&all).len(), 3);
    assert_eq!(events(Format::General, log)[0].ts.unwrap().to_rfc3339(), "2026-11-22T07:26:24.000000Z");
}

// 11 --------------------------------------------------------------------------------------------------------

#[test]
fn s10_11_out_of_order_records_have_exact_timestamps() {
    // Two Aurora stripes whose records interleave. The parser does not reorder (each input in file order);
    // it gives microsecond-exact UTC timestamps so a detector can merge by time.
    let stripe0 = b"1703817810000001,i,admin,10.0.0.1,1,0,FAILED_CONNECT,,,1045\n1703817810000300,i,admin,10.0.0.1,3,0,FAILED_CONNECT,,,1045\n";
    let stripe1 = b"1703817810000002,i,admin,10.0.0.1,2,0,FAILED_CONNECT,,,1045\n1703817810000299,i,admin,10.0.0.1,4,0,FAILED_CONNECT,,,1045\n";
    let mut all: Vec<Event<'_>> = events(Format::Audit, stripe0);
    all.extend(events(Format::Audit, stripe1));
    assert_eq!(all.iter().map(|e| e.conn_id.unwrap()).collect::<Vec<_>>(), [1, 3, 2, 4]);
    all.sort_by_key(|e| e.ts);
    assert_eq!(all.iter().map(|e| e.conn_id.unwrap()).collect::<Vec<_>>(), [1, 2, 4, 3]);
    assert_eq!(all[0].ts.unwrap().to_rfc3339(), "2023-12-29T02:43:30.000001Z");
    assert_eq!(all[3].ts.unwrap().epoch_micros() - all[2].ts.unwrap().epoch_micros(), 1);
    // RDS: second precision, many rows share a time; the byte position keeps the file order as tiebreak.
    let rds = b"20240615 10:32:00,ip,u,h,9,0,FAILED_CONNECT,,,1045,TCP/IP\n20240615 10:32:00,ip,u,h,8,0,FAILED_CONNECT,,,1045,TCP/IP\n";
    let evs = events(Format::Audit, rds);
    assert_eq!(evs[0].ts, evs[1].ts);
    assert!(evs[0].pos < evs[1].pos);
    // Different zones in one general log (`log_timestamps=SYSTEM`) compare as instants.
    let log = b"2018-09-07T18:45:40.098124+08:00\t257426 Query\tSELECT 1\n2018-09-07T10:45:40.098123Z\t257426 Query\tSELECT 2\n";
    let evs = events(Format::General, log);
    assert!(evs[1].ts < evs[0].ts);
    assert_eq!(evs[0].ts.unwrap().epoch_micros() - evs[1].ts.unwrap().epoch_micros(), 1);
}

// 12 --------------------------------------------------------------------------------------------------------

#[test]
fn s10_12_mixed_timestamp_styles() {
    let log = b"2019-03-24T13:44:31.085670Z 0 [System] [MY-010116] [Server] /usr/sbin/mysqld (mysqld 8.0.15) starting as process 1688\n2019-03-24T21:44:32.000001+08:00 0 [Note] [MY-010931] [Server] ready\n161209 13:08:33 mysqld_safe Starting mysqld daemon\n231128  9:13:22 server_audit: Audit STARTED.\n2023-04-27 14:36:09 14487 [Warning] Access denied for user 'dev'@'1.2.3.4' (using password: YES)\n2021-07-06  7:29:32 0 [Note] InnoDB: x\n";
    let evs = events(Format::Error, log);
    let got: Vec<(String, Dialect)> = evs.iter().map(|e| (e.ts.unwrap().to_rfc3339(), e.dialect)).collect();
    assert_eq!(
        got,
        [
            ("2019-03-24T13:44:31.085670Z".to_string(), Dialect::Mysql80),
            ("2019-03-24T13:44:32.000001Z".to_string(), Dialect::Mysql80),
            ("2016-12-09T13:08:33.000000Z".to_string(), Dialect::Legacy),
            ("2023-11-28T09:13:22.000000Z".to_string(), Dialect::Legacy),
            ("2023-04-27T14:36:09.000000Z".to_string(), Dialect::Mariadb),
            ("2021-07-06T07:29:32.000000Z".to_string(), Dialect::Mariadb),
        ]
    );
    assert_eq!(evs[4].kind, EventKind::FailedConnect);
    // Legacy and ISO general-log lines in one file.
    let log = b"061226 15:42:36\t     11 Connect     root@localhost on  \n\t\t                 11 Init DB     my_webstats\n2018-09-07T18:45:40.098124+08:00\t257426 Quit\t\n";
    let evs = events(Format::General, log);
    assert_eq!(evs[1].ts.unwrap().to_rfc3339(), "2006-12-26T15:42:36.000000Z");
    assert_eq!(evs[2].ts.unwrap().to_rfc3339(), "2018-09-07T10:45:40.098124Z");
    // Slow log: `# Time:` in the legacy and ISO forms.
    let log = b"# Time: 161209 14:37:59\n# User@Host: a[a] @ h []\n# Query_time: 1  Lock_time: 0  Rows_sent: 0  Rows_examined: 0\nSELECT 1;\n# Time: 2021-09-16T15:45:20.188927-02:00\n# User@Host: a[a] @ h []\n# Query_time: 1  Lock_time: 0  Rows_sent: 0  Rows_examined: 0\nSELECT 2;\n";
    let evs = events(Format::Slow, log);
    assert_eq!(evs[0].ts.unwrap().to_rfc3339(), "2016-12-09T14:37:59.000000Z");
    assert_eq!(evs[1].ts.unwrap().to_rfc3339(), "2021-09-16T17:45:20.188927Z");
}

// 13 --------------------------------------------------------------------------------------------------------

#[test]
fn s10_13_hosts() {
    let host = |l: &str| s(&audit(l).host);
    assert_eq!(host("1703817810076091,i,rdsadmin,localhost,1,0,CONNECT,,,0"), "localhost");
    assert_eq!(host("1703817810076091,i,root,ip-10-0-16-79,1,0,CONNECT,,,0"), "ip-10-0-16-79");
    assert_eq!(host("1703817810076091,i,app,apphost,1,0,CONNECT,,,0"), "apphost");
    assert_eq!(host("1703817810076091,i,app,2001:db8::7,1,0,CONNECT,,,0"), "2001:db8::7");
    assert_eq!(host("1703817810076091,i,app,::1,1,0,CONNECT,,,0"), "::1");
    // MariaDB 12 `host:port`.
    let e = audit("20240101 10:00:00,srv,u,10.0.0.1:50514,12,0,CONNECT,db,,0");
    assert_eq!((s(&e.host), e.extra), ("10.0.0.1".into(), Extra::Audit { conn_type: None, port: Some(50514) }));
    let e = audit("20240101 10:00:00,srv,u,apphost:3306,12,0,FAILED_CONNECT,,,1045");
    assert_eq!((s(&e.host), e.retcode), ("apphost".into(), Some(1045)));
    // IPv6 with a port: formats.md says to split on the last `:`, but `2001:db8::1:50514` is also a valid bare
    // address. Design choice of the parser: only a single colon is split, an IPv6 host is kept whole.
    let e = audit("20240101 10:00:00,srv,u,2001:db8::1:50514,12,0,CONNECT,db,,0");
    assert_eq!((s(&e.host), e.extra), ("2001:db8::1:50514".into(), Extra::None));
    // Empty host.
    assert_eq!(audit("20240101 10:00:00,srv,,,12,0,DISCONNECT,,,0").host, None);
    // `%` only inside SQL: it is kept as text.
    assert_eq!(
        text(&audit(r"1703817810076091,i,app,10.0.0.1,1,2,QUERY,,'GRANT SELECT ON *.* TO \'x\'@\'%\'',0")),
        b"GRANT SELECT ON *.* TO 'x'@'%'"
    );
    // IPv6 in the general, slow and error logs.
    let e = one(Format::General, b"2020-10-23T08:36:48.508034Z   50 Connect\tadmin@::1 on  using TCP/IP\n");
    assert_eq!((s(&e.user), s(&e.host)), ("admin".into(), "::1".into()));
    let e = one(Format::General, b"2018-12-27T11:14:54.687513Z\t   48 Connect\troot@2001:db8::5 on  using SSL/TLS\n2018-12-27T11:14:54.687606Z\t   48 Connect\tAccess denied for user 'root'@'2001:db8::5' (using password: NO)\n");
    assert_eq!((e.kind, s(&e.host), e.retcode), (EventKind::FailedConnect, "2001:db8::5".into(), Some(1045)));
    let e = one(Format::Slow, b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @  [2001:db8::9]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSELECT 1;\n");
    assert_eq!(s(&e.host), "2001:db8::9");
    let e = one(Format::Error, b"2022-10-14T09:16:02.430542Z 63707 [Note] [MY-010926] [Server] Access denied for user 'root'@'fe80::1' (using password: YES)\n");
    assert_eq!((s(&e.user), s(&e.host)), ("root".into(), "fe80::1".into()));
}

// 14 --------------------------------------------------------------------------------------------------------

#[test]
fn s10_14_very_long_lines() {
    // A slow-log statement line over 64 KiB (pmm-agent slow015) read with 64-byte blocks.
    let values: String = (0..12_000).map(|i| format!("({i}),")).collect::<String>();
    let stmt = format!("INSERT INTO t VALUES {}", values.trim_end_matches(','));
    assert!(stmt.len() > 64 << 10);
    let log = format!("# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1631807120;\n{stmt};\n# Time: 2021-09-16T15:45:21.000000Z\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSELECT 2;\n");
    let evs = events(Format::Slow, log.as_bytes());
    assert_eq!(evs.len(), 2);
    assert_eq!(text(&evs[0]), stmt.as_bytes());
    assert_stream_same(Format::Slow, log.as_bytes());
    // An escaped audit line of about 2 x query_log_limit.
    let body = "\\'x\\',".repeat(40_000);
    let line = format!(
        "20240101 10:00:00,s,u,h,1,2,QUERY,,'SELECT {body}',0,,\n20240101 10:00:01,s,u,h,1,0,DISCONNECT,,,0,TCP/IP\n"
    );
    let evs = events(Format::Audit, line.as_bytes());
    assert_eq!(evs.len(), 2);
    assert_eq!(text(&evs[0]).len(), "SELECT ".len() + 40_000 * 4);
    assert_stream_same(Format::Audit, line.as_bytes());
}

#[test]
fn s10_14_record_over_max_record_is_too_long_and_reading_goes_on() {
    // Bigger than the 64 KiB the reader takes in first (to sniff): a record that fits in that first buffer is
    // parsed whatever `max_record` says, so the limit is only a memory bound, not a hard record-size cap.
    let big = "x".repeat(100_000);
    let log = format!(
        "20240101 10:00:00,s,u,h,1,0,CONNECT,,,0\n20240101 10:00:01,s,u,h,1,2,QUERY,,'SELECT \\'{big}\\'',0\n20240101 10:00:02,s,u,h,1,3,QUERY,,'SELECT 2',0\n20240101 10:00:03,s,u,h,1,0,DISCONNECT,,,0\n"
    );
    let opts = ReadOptions::default().with_format(Some(Format::Audit)).with_block_size(64).with_max_record(1024);
    let (got, summary) = streamed(log.as_bytes(), &opts);
    let desc: Vec<String> = got
        .iter()
        .map(|i| match i {
            Item::Event(e) => format!("{}@{}", e.kind.as_str(), e.pos.line),
            Item::Malformed(m) => format!("{:?}@{}+{}", m.reason, m.pos.line, m.len),
            Item::Skipped(s) => format!("skip@{}", s.pos.line),
        })
        .collect();
    let long_len = big.len() + "20240101 10:00:01,s,u,h,1,2,QUERY,,'SELECT \\'\\'',0\n".len();
    assert_eq!(
        desc,
        ["connect@1".to_string(), format!("TooLong@2+{long_len}"), "query@3".into(), "disconnect@4".into()]
    );
    let Item::Event(q) = &got[2] else { unreachable!() };
    assert_eq!(text(q), b"SELECT 2");
    assert_eq!(q.pos.byte, 40 + long_len as u64);
    assert_eq!((summary.records, summary.malformed, summary.lines), (3, 1, 4));
    // The same in a slow log: an entry over the limit, the next entry still parsed.
    let log = format!("# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSELECT '{big}';\n# Time: 2021-09-16T15:45:21.000000Z\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSELECT 2;\n");
    let opts = ReadOptions::default().with_format(Some(Format::Slow)).with_block_size(64).with_max_record(1024);
    let (got, summary) = streamed(log.as_bytes(), &opts);
    assert!(got.iter().any(|i| matches!(i, Item::Malformed(m) if m.reason == Reason::TooLong)), "{got:?}");
    let last = got.iter().rev().find_map(|i| match i {
        Item::Event(e) => Some(e),
        _ => None,
    });
    assert_eq!(last.map(text), Some(b"SELECT 2".to_vec()));
    assert_eq!(summary.lines, 8);
}

// 15 --------------------------------------------------------------------------------------------------------

#[test]
fn s10_15_crlf() {
    // General log with CRLF line ends, a raw CR inside SQL and a multi-line statement.
    let log = b"2026-01-01T00:00:00.000001Z\t   41 Connect\tapp@127.0.0.10 on shop using TCP/IP\r\n2026-01-01T00:00:00.000003Z\t   41 Query\tSELECT 'a\rb' AS raw_cr\r\n2026-01-01T00:00:00.000004Z\t   41 Query\tSELECT 2,\r\n  3\r\n2026-01-01T00:00:00.000005Z\t   41 Quit\t\r\n";
    let evs = events(Format::General, log);
    assert_eq!(evs.len(), 4);
    assert_eq!(s(&evs[0].db), "shop");
    assert_eq!(text(&evs[1]), b"SELECT 'a\rb' AS raw_cr");
    // Inside a multi-line statement the CRLF is SQL text, kept as written; only the record's own line end goes.
    assert_eq!(text(&evs[2]), b"SELECT 2,\r\n  3");
    assert_eq!(evs[3].pos.line, 5);
    assert_stream_same(Format::General, log);
    // Slow log with CRLF.
    let log = b"# Time: 2021-09-16T15:45:20.188927Z\r\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\r\n# Query_time: 0.110489  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 12\r\nuse shop;\r\nSET timestamp=1631807120;\r\nSELECT 1;\r\n";
    let e = one(Format::Slow, log);
    assert_eq!((s(&e.user), s(&e.host), e.conn_id, s(&e.db)), ("a".into(), "10.0.0.1".into(), Some(7), "shop".into()));
    assert_eq!(text(&e), b"SELECT 1");
    assert_eq!(e.ts.unwrap().to_rfc3339(), "2021-09-16T15:45:20.188927Z");
    assert_eq!(e.metrics().unwrap().get("Rows_examined"), Some(auditlog_core::MetricValue::Int(12)));
    assert!(matches!(e.extra, Extra::Slow { set_timestamp: Some(1631807120), .. }));
    assert_stream_same(Format::Slow, log);
    // Audit: `\r` escape inside SQL; CRLF line ends do not leak into the last field.
    let log = b"20221201 14:07:05,ip,rdsadmin,localhost,821,0,CONNECT,,,0,SOCKET\r\n1703817810074458,i,u,h,1,2,QUERY,db,'SELECT 1\\r\\nFROM t',0\r\n";
    let evs = events(Format::Audit, log);
    assert_eq!(conn_type(&evs[0]), Some(&b"SOCKET"[..]));
    assert_eq!((text(&evs[1]), evs[1].retcode), (b"SELECT 1\r\nFROM t".to_vec(), Some(0)));
    // Error log.
    let e = one(
        Format::Error,
        b"2023-04-27 14:36:09 14487 [Warning] Access denied for user 'dev'@'1.2.3.4' (using password: YES)\r\n",
    );
    assert_eq!((s(&e.host), e.retcode), ("1.2.3.4".into(), Some(1045)));
    assert!(!s(&e.message).ends_with('\r'));
}

// 16 --------------------------------------------------------------------------------------------------------

#[test]
fn s10_16_query_text_that_looks_like_a_header() {
    // Inside a slow-log statement, a line beginning `# Query_time:` (pmm-agent slow005/slow014) is genuinely
    // ambiguous. Design choice: once the statement has begun, `# Time:`, `# User@Host:` and `# Query_time:`
    // start a new entry; any other `#` line is SQL. Nothing is lost either way: the bytes are in an item.
    let log = b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: a[a] @  [10.0.0.1]  Id: 7\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSELECT '\n# not a header\n# Query_time: 5 inside a string\n';\n";
    let all = items(Format::Slow, log);
    let evs = events(Format::Slow, log);
    assert_eq!(text(&evs[0]), b"SELECT '\n# not a header");
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[1].pos.line, 6);
    let covered: u64 = all.iter().map(|i| i.pos().line).max().unwrap();
    assert_eq!(covered, 6);
    // General log: a continuation line that looks exactly like a record start becomes one (unavoidable).
    let log = b"2024-01-03T08:00:01.341151Z\t7 Query\tSELECT '\n2024-01-03T08:00:01.341151Z\t7 Query\tx'\n";
    assert_eq!(events(Format::General, log).len(), 2);
    // ...but indented or non-command lines stay continuations.
    let log = b"2024-01-03T08:00:01.341151Z\t7 Query\tSELECT '\n  2024 7 Query x\n12345 rows\n'\n";
    assert_eq!(text(&one(Format::General, log)), b"SELECT '\n  2024 7 Query x\n12345 rows\n'");
}

// 17 --------------------------------------------------------------------------------------------------------

#[test]
fn s10_17_double_counting() {
    // Audit: FAILED_CONNECT then DISCONNECT of the same connection is one failed_connect (and one disconnect).
    let log = b"20261122 07:28:35,vm,admin,127.0.0.20,11,0,FAILED_CONNECT,,,1045\n20261122 07:28:35,vm,admin,127.0.0.20,11,0,DISCONNECT,,,0\n";
    let evs = events(Format::Audit, log);
    let kinds: Vec<EventKind> = evs.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::FailedConnect, EventKind::Disconnect]);
    assert_eq!(evs.iter().filter(|e| e.is_failed_login()).count(), 1);
    assert_eq!(evs[0].conn_id, evs[1].conn_id);
    // General log: the attempt line and the denial line are one failed_connect, never a connect; in either
    // order; also MariaDB's legacy layout. The DB denial (1044) is a failed_connect but no failed login.
    let log = b"2018-12-27T11:14:54.687513Z\t   48 Connect\troot@172.30.0.3 on  using SSL/TLS\n2018-12-27T11:14:54.687606Z\t   48 Connect\tAccess denied for user 'root'@'172.30.0.3' (using password: NO)\n\t\t    11 Connect\tAccess denied for user 'admin'@'127.0.0.20' (using password: YES)\n\t\t    11 Connect\tadmin@127.0.0.20 on  using TCP/IP\n\t\t    34 Connect\treport@127.0.0.11 on mysql using TCP/IP\n\t\t    34 Init DB\tAccess denied for user 'report'@'127.0.0.%' to database 'mysql'\n2018-12-27T11:14:55.000000Z\t   49 Connect\tapp@10.0.0.5 on shop using TCP/IP\n";
    let evs = events(Format::General, log);
    let got: Vec<(EventKind, String, String, Option<i64>, u64)> =
        evs.iter().map(|e| (e.kind, s(&e.user), s(&e.host), e.retcode, e.pos.line)).collect();
    assert_eq!(
        got,
        [
            (EventKind::FailedConnect, "root".into(), "172.30.0.3".into(), Some(1045), 1),
            (EventKind::FailedConnect, "admin".into(), "127.0.0.20".into(), Some(1045), 3),
            (EventKind::FailedConnect, "report".into(), "127.0.0.11".into(), Some(1044), 5),
            (EventKind::Connect, "app".into(), "10.0.0.5".into(), None, 7),
        ]
    );
    assert_eq!(evs.iter().filter(|e| e.is_failed_login()).count(), 2);
    // The pair straddling read blocks is still one event.
    assert_stream_same(Format::General, log);
    // Two attempts of different threads are not paired.
    let log = b"2018-12-27T11:14:54.687513Z\t   48 Connect\troot@172.30.0.3 on  using SSL/TLS\n2018-12-27T11:14:54.687606Z\t   47 Connect\tAccess denied for user 'root'@'172.30.0.3' (using password: NO)\n";
    let kinds: Vec<EventKind> = events(Format::General, log).iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Connect, EventKind::FailedConnect]);
    // MySQL 8.0 error log: one Note per attempt, one event.
    let log = b"2022-10-14T09:16:02.430542Z 63707 [Note] [MY-010926] [Server] Access denied for user 'root'@'ip-10-0-16-79' (using password: YES)\n";
    let e = one(Format::Error, log);
    assert_eq!((e.kind, e.conn_id, e.retcode), (EventKind::FailedConnect, Some(63707), Some(1045)));
}

// 18 --------------------------------------------------------------------------------------------------------

#[test]
fn s10_18_internal_users() {
    // rdsadmin@localhost noise is parsed like any other user (filtering is the detectors' job).
    let log = b"1703817810076091,aurora-mysql-instance-1,rdsadmin,localhost,223170,0,CONNECT,,,0\n1703817810076092,aurora-mysql-instance-1,rdsadmin,localhost,223170,20070834,QUERY,,'SELECT @@aurora_version',0\n1703817810076093,aurora-mysql-instance-1,rdsadmin,localhost,223170,20070835,QUERY,,'set local oscar_local_only_replica_host_status=1',0\n";
    let evs = events(Format::Audit, log);
    assert!(evs.iter().all(|e| s(&e.user) == "rdsadmin" && s(&e.host) == "localhost"));
    assert_eq!(text(&evs[1]), b"SELECT @@aurora_version");
    let e = one(Format::General, b"2024-01-03T08:00:01.341151Z\t   12 Connect\trdsadmin@localhost on  using Socket\n");
    assert_eq!((e.kind, s(&e.user), s(&e.host)), (EventKind::Connect, "rdsadmin".into(), "localhost".into()));
    // rdstopmgr in a slow log.
    let e = one(Format::Slow, b"# Time: 2021-09-16T15:45:20.188927Z\n# User@Host: rdstopmgr[rdstopmgr] @ localhost [127.0.0.1]  Id:    52\n# Query_time: 0.000191  Lock_time: 0.000000 Rows_sent: 1  Rows_examined: 0\nSET timestamp=1631807120;\nSELECT 1;\n");
    assert_eq!((s(&e.user), s(&e.host), e.conn_id), ("rdstopmgr".into(), "localhost".into(), Some(52)));
}
