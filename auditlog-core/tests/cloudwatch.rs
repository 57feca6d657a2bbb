//! The CloudWatch Logs source against a local AWS API emulator (moto) on 127.0.0.1: pagination over many pages,
//! throttling, errors. Skips with a message when moto is not installed (fails in CI, where
//! AUDITLOG_REQUIRE_EXTERNAL=1).
#![cfg(feature = "cloudwatch")]

#[path = "support/moto.rs"]
mod moto;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use auditlog_core::analyze::{AnalyzeOptions, Analyzer};
use auditlog_core::cloudwatch::{CloudWatchError, LogKind, Observer, Page, Query, Retry, Stream, StreamFilter, Target};
use auditlog_core::{EventKind, Item, ReadOptions};

/// Counts pages and retries; optionally cancels after some pages.
#[derive(Default)]
struct Counter {
    pages: AtomicU64,
    events: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    cancel_after: Option<u64>,
    cancel: OnceLock<Arc<AtomicBool>>,
}

impl Observer for Counter {
    fn page(&self, page: &Page<'_>) {
        let n = self.pages.fetch_add(1, Ordering::SeqCst) + 1;
        self.events.fetch_add(page.events, Ordering::SeqCst);
        if self.cancel_after.is_some_and(|c| n >= c) {
            if let Some(flag) = self.cancel.get() {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }

    fn retry(&self, retry: &Retry) {
        self.retries.fetch_add(1, Ordering::SeqCst);
        if retry.throttled {
            self.throttled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn audit_lines(instance: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let op = if i % 100 == 7 { "FAILED_CONNECT" } else { "CONNECT" };
            format!(
                "{},{instance},user{},10.0.{}.{},{i},0,{op},,,0",
                1_795_332_515_000_000 + i as u64,
                i % 13,
                i % 7,
                i % 200
            )
        })
        .collect()
}

/// Reads a stream; returns the connection ids seen (the 5th field), in order, and the servers.
fn conn_ids(
    client: &auditlog_core::cloudwatch::Client,
    stream: &Stream,
    q: &Query,
) -> (Vec<u64>, BTreeMap<String, u64>) {
    let mut ids = Vec::new();
    let mut servers = BTreeMap::new();
    let summary = client
        .read(stream, q, &ReadOptions::default(), |item| {
            match item {
                Item::Event(e) => {
                    ids.push(e.conn_id.expect("conn id"));
                    let s = String::from_utf8_lossy(e.server.as_deref().unwrap_or_default()).into_owned();
                    *servers.entry(s).or_insert(0) += 1;
                }
                other => panic!("unexpected item {other:?}"),
            }
            ControlFlow::Continue(())
        })
        .expect("read");
    assert_eq!(summary.malformed, 0);
    (ids, servers)
}

#[test]
fn pagination_over_many_pages_loses_and_duplicates_nothing() {
    let Some(moto) = moto::start("pagination_over_many_pages_loses_and_duplicates_nothing") else { return };
    let counter = Arc::new(Counter::default());
    let client = moto::client(&moto.endpoint, counter.clone());
    let group = "/aws/rds/cluster/pages/audit";
    moto::put_events(&client, group, "pages-instance-1", &audit_lines("pages-instance-1", 12_345));
    moto::put_events(&client, group, "pages-instance-2", &audit_lines("pages-instance-2", 17));

    let streams = client
        .streams(&Target::Cluster("pages".into()), &[], &StreamFilter::default())
        .expect("streams (missing log types are skipped)");
    let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["pages-instance-1", "pages-instance-2"]);
    assert!(streams.iter().all(|s| s.kind == Some(LogKind::Audit)));

    let q = Query { page_size: Some(500), ..Query::default() };
    let (ids, servers) = conn_ids(&client, &streams[0], &q);
    assert_eq!(ids.len(), 12_345, "every event exactly once");
    assert!(ids.iter().copied().eq(0..12_345), "in order, none lost or repeated");
    assert_eq!(servers.into_iter().collect::<Vec<_>>(), [("pages-instance-1".to_string(), 12_345)]);
    assert_eq!(counter.pages.load(Ordering::SeqCst), 25, "12,345 events in pages of 500");
    assert_eq!(counter.events.load(Ordering::SeqCst), 12_345);

    let (ids2, _) = conn_ids(&client, &streams[1], &q);
    assert_eq!(ids2, (0..17).collect::<Vec<u64>>());

    // A stream filter and the parallel engine over the same pages.
    let only = client
        .streams(
            &Target::Cluster("pages".into()),
            &[LogKind::Audit],
            &StreamFilter { names: vec![], prefix: Some("pages-instance-1".into()) },
        )
        .expect("streams");
    assert_eq!(only.len(), 1);
    let mut analyzer =
        Analyzer::new(AnalyzeOptions { threads: 4, min_chunk: 4096, ..AnalyzeOptions::default() }).expect("analyzer");
    let s =
        client.analyze(&mut analyzer, &only[0], &Query { page_size: Some(777), ..Query::default() }).expect("analyze");
    assert_eq!(s.records, 12_345);
    let report = analyzer.finish();
    assert_eq!(report.summary.records, 12_345);
    assert_eq!(report.summary.logins.failed, 124);
}

#[test]
fn throttling_is_retried_and_survived() {
    let Some(moto) = moto::start("throttling_is_retried_and_survived") else { return };
    let counter = Arc::new(Counter::default());
    let setup = moto::client(&moto.endpoint, Arc::new(()));
    let group = "/aws/rds/instance/throttled/audit";
    moto::put_events(&setup, group, "db-1", &audit_lines("db-1", 2_500));

    // The first three requests, then every fourth FilterLogEvents request, are throttled.
    let proxy = moto::proxy(
        &moto.endpoint,
        Arc::new(|n: usize, body: &[u8]| {
            let filter = body.windows(9).any(|w| w == b"startTime") || body.windows(5).any(|w| w == b"limit");
            (n < 3 || (filter && n.is_multiple_of(4))).then_some((400, "ThrottlingException"))
        }),
    );
    let client = moto::client(&proxy.endpoint, counter.clone());
    let streams = client
        .streams(&Target::Instance("throttled".into()), &[LogKind::Audit], &StreamFilter::default())
        .expect("streams");
    assert_eq!(streams.len(), 1);
    let (ids, _) = conn_ids(&client, &streams[0], &Query { page_size: Some(100), ..Query::default() });
    assert!(ids.iter().copied().eq(0..2_500), "nothing lost or repeated across throttled pages");
    let injected = proxy.errors.load(Ordering::SeqCst) as u64;
    assert!(injected >= 6, "the proxy throttled {injected} requests");
    assert_eq!(counter.throttled.load(Ordering::SeqCst), injected, "every throttled attempt is told to the observer");

    // Always throttled: the error says so after the configured attempts.
    let always = moto::proxy(&moto.endpoint, Arc::new(|_: usize, _: &[u8]| Some((400, "ThrottlingException"))));
    let client = moto::client(&always.endpoint, Arc::new(()));
    let err = client.streams(&Target::Instance("throttled".into()), &[], &StreamFilter::default()).unwrap_err();
    assert!(matches!(err, CloudWatchError::Throttled { .. }), "{err}");
    assert!(err.to_string().contains("throttled"), "{err}");
    assert_eq!(always.requests.load(Ordering::SeqCst), 10, "max_attempts");
}

#[test]
fn clear_errors_and_cancellation() {
    let Some(moto) = moto::start("clear_errors_and_cancellation") else { return };
    let counter = Arc::new(Counter { cancel_after: Some(3), ..Counter::default() });
    let client = moto::client(&moto.endpoint, counter.clone());

    // No log group of any type.
    let err = client.streams(&Target::Cluster("nope".into()), &[], &StreamFilter::default()).unwrap_err();
    assert!(matches!(&err, CloudWatchError::LogGroupNotFound { groups } if groups.len() == 4), "{err}");
    assert!(err.to_string().contains("/aws/rds/cluster/nope/audit"), "{err}");

    let group = "/aws/rds/cluster/errs/slowquery";
    let entry = "# Time: 2026-11-22T07:28:35.000000Z\n# User@Host: app[app] @  [10.0.0.1]  Id:    16\n\
                 # Query_time: 2.5  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 100\n\
                 SET timestamp=1795332515;\nselect sleep(2.5)\nfrom dual;";
    let entries: Vec<String> = (0..50).map(|_| entry.to_string()).collect();
    moto::put_events(&client, group, "errs-1", &entries);

    // An explicitly requested type that does not exist.
    let err = client.streams(&Target::Cluster("errs".into()), &[LogKind::Audit], &StreamFilter::default()).unwrap_err();
    assert!(matches!(err, CloudWatchError::LogGroupNotFound { .. }), "{err}");
    // A stream name that does not exist.
    let err = client
        .streams(&Target::Cluster("errs".into()), &[], &StreamFilter { names: vec!["errs-9".into()], prefix: None })
        .unwrap_err();
    assert!(matches!(err, CloudWatchError::StreamNotFound { .. }), "{err}");

    // Whole multi-line slow entries, one per event, get the instance as server.
    let streams = client.streams(&Target::Cluster("errs".into()), &[], &StreamFilter::default()).expect("streams");
    assert_eq!(streams.len(), 1);
    let mut n = 0;
    client
        .read(&streams[0], &Query { page_size: Some(100), ..Query::default() }, &ReadOptions::default(), |item| {
            let Item::Event(e) = item else { panic!("not an event") };
            assert_eq!(e.kind, EventKind::Query);
            assert_eq!(e.server.as_deref(), Some(&b"errs-1"[..]));
            assert!(
                e.sql.as_ref().is_some_and(|s| s.text().starts_with(b"select sleep(2.5)\nfrom dual")),
                "{:?}",
                e.sql
            );
            n += 1;
            ControlFlow::Continue(())
        })
        .expect("read");
    assert_eq!(n, 50);

    // Cancelling stops at a page boundary and keeps what was read.
    counter.cancel.set(client.cancel_flag()).ok();
    counter.pages.store(0, Ordering::SeqCst);
    let mut reader = client.open(&streams[0], &Query { page_size: Some(5), ..Query::default() });
    let mut text = String::new();
    std::io::Read::read_to_string(&mut reader, &mut text).expect("read");
    assert!(reader.cancelled());
    assert_eq!(reader.stats().pages, 3);
    assert_eq!(text.matches("# Time:").count(), 15);
    // Cancelled (Ctrl-C) while listing streams: the streams listed so far, and no "not found" verdict on the
    // groups and names that were not looked at.
    let filter = StreamFilter { names: vec!["errs-9".into()], prefix: None };
    let listed = client.streams(&Target::Cluster("nope".into()), &[LogKind::Audit], &filter).expect("cancelled");
    assert!(listed.is_empty());

    // Access denied, from a proxy that refuses FilterLogEvents.
    let denied = moto::proxy(
        &moto.endpoint,
        Arc::new(|_: usize, body: &[u8]| {
            body.windows(14).any(|w| w == b"logStreamNames").then_some((400, "AccessDeniedException"))
        }),
    );
    let client = moto::client(&denied.endpoint, Arc::new(()));
    let mut reader = client.open(&streams[0], &Query::default());
    let err = std::io::Read::read_to_end(&mut reader, &mut Vec::new()).unwrap_err();
    let cw = err.get_ref().and_then(|e| e.downcast_ref::<CloudWatchError>()).expect("a CloudWatch error");
    assert!(matches!(cw, CloudWatchError::AccessDenied { .. }), "{cw}");
    assert!(cw.to_string().contains("logs:FilterLogEvents"), "{cw}");
    let observed = Mutex::new(0);
    let res = client.read(&streams[0], &Query::default(), &ReadOptions::default(), |_| {
        *observed.lock().unwrap() += 1;
        ControlFlow::Continue(())
    });
    let err = res.unwrap_err();
    assert!(matches!(CloudWatchError::find(&err), Some(CloudWatchError::AccessDenied { .. })), "{err}");
    assert!(
        err.to_string().starts_with("cloudwatch:/aws/rds/cluster/errs/slowquery/errs-1")
            && err.to_string().contains(": access denied"),
        "{err}"
    );
}
