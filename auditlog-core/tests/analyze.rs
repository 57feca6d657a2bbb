//! Analysis over the corpus and generated inputs: the scenario's attacks are found with the right hosts, users
//! and counts, decoys and the trickle are not, and the parallel result equals the one-thread result.

use std::path::{Path, PathBuf};

use auditlog_core::analyze::{
    statement_key, AnalyzeOptions, Analyzer, Baseline, Detector, Finding, Pattern, Report, Severity,
};
use auditlog_core::source::{expand, Input};
use auditlog_core::{ErrorKind, ReadOptions, Timestamp};
use proptest::prelude::*;
use serde_json::Value;

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus").join(rel)
}

/// Analyses the log files of the given corpus folders (skipping the scenario's JSON and text metadata).
fn analyze_paths(paths: &[PathBuf], opts: AnalyzeOptions) -> Report {
    let mut a = Analyzer::new(opts).unwrap();
    for input in expand(paths).unwrap() {
        if let Err(e) = a.add_input(&input) {
            assert!(matches!(e.kind(), ErrorKind::UnknownFormat), "{}: {e}", input.name());
        }
    }
    a.finish()
}

fn scenario() -> Value {
    serde_json::from_str(&std::fs::read_to_string(corpus("mariadb/scenario.json")).unwrap()).unwrap()
}

fn phase<'a>(sc: &'a Value, name: &str) -> &'a Value {
    sc["phases"].as_array().unwrap().iter().find(|p| p["phase"].as_str().unwrap().starts_with(name)).unwrap()
}

fn bursts(r: &Report) -> Vec<&Finding> {
    r.findings.iter().filter(|f| f.detector == Detector::FailedLoginBurst).collect()
}

fn json(r: &Report) -> String {
    serde_json::to_string(r).unwrap()
}

#[test]
fn scenario_attacks_are_found_with_hosts_users_and_counts() {
    let sc = scenario();
    // The same scenario in every dialect the corpus holds.
    for dir in ["mariadb", "aurora", "rds-mysql8", "mysql8"] {
        let r = analyze_paths(&[corpus(dir)], AnalyzeOptions::default());
        let b = bursts(&r);
        let brute = phase(&sc, "b_");
        let host = brute["source_host"].as_str().unwrap();
        let user = brute["users"][0].as_str().unwrap();
        let attempts = brute["attempts"].as_array().unwrap();
        let wrong = attempts.iter().filter(|a| !a["password_correct"].as_bool().unwrap()).count() as u64;
        let bf =
            b.iter().find(|f| f.host.as_deref() == Some(host)).unwrap_or_else(|| panic!("{dir}: no burst from {host}"));
        assert_eq!(bf.pattern, Some(Pattern::BruteForce), "{dir}");
        assert_eq!(bf.users, [user], "{dir}");
        assert_eq!(bf.count, wrong, "{dir}: each failed login counted once across logs");
        assert_eq!(bf.followed_by_success, Some(true), "{dir}: the brute force ended with a successful login");
        assert_eq!(bf.severity, Severity::Critical, "{dir}");

        let spray = phase(&sc, "c_");
        let host = spray["source_host"].as_str().unwrap();
        let mut users: Vec<String> =
            spray["users"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_string()).collect();
        users.sort();
        let sp = b.iter().find(|f| f.host.as_deref() == Some(host)).unwrap_or_else(|| panic!("{dir}: no spray"));
        assert_eq!(sp.pattern, Some(Pattern::PasswordSpray), "{dir}");
        assert_eq!(sp.users, users, "{dir}");
        assert_eq!(sp.count, users.len() as u64, "{dir}");
        assert_eq!(sp.followed_by_success, Some(false), "{dir}");

        let trickle = phase(&sc, "d_");
        let host = trickle["source_host"].as_str().unwrap();
        assert!(b.iter().all(|f| f.host.as_deref() != Some(host)), "{dir}: the slow trickle is not a burst");
        assert_eq!(b.len(), 2, "{dir}: only the brute force and the spray: {b:#?}");
        // 1044 (database refused) is not a failed login.
        let denied = phase(&sc, "h_");
        let duser = denied["users"][0].as_str().unwrap();
        assert!(r.summary.logins.database_denied >= 1, "{dir}");
        assert!(b.iter().all(|f| !f.users.iter().any(|u| u == duser)
            || f.host.as_deref() == Some(trickle["source_host"].as_str().unwrap())));
    }
}

#[test]
fn every_dcl_statement_is_reported_once_and_decoys_are_not() {
    let sc = scenario();
    let expected: Vec<String> = sc["all_dcl_statements_in_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let s = s.as_str().or_else(|| s["statement"].as_str()).unwrap();
            statement_key(&auditlog_core::redact::redact_sql(s.as_bytes()))
        })
        .collect();
    assert!(expected.len() >= 20);
    for dir in ["mariadb", "mysql8"] {
        let r = analyze_paths(&[corpus(dir)], AnalyzeOptions::default());
        let dcl: Vec<&Finding> = r.findings.iter().filter(|f| f.detector == Detector::DclChange).collect();
        let mut got: Vec<String> =
            dcl.iter().map(|f| statement_key(f.statement.as_deref().unwrap().as_bytes())).collect();
        for e in &expected {
            let n = got.iter().filter(|g| *g == e).count();
            assert!(n >= 1, "{dir}: missing {e}");
        }
        got.sort();
        let mut want = expected.clone();
        want.sort();
        // The refused GRANT is among the scenario's statements too; nothing else is reported.
        assert_eq!(got, want, "{dir}: exactly the scenario's DCL, each once");
        for f in &dcl {
            let st = f.statement.as_deref().unwrap();
            assert!(!st.contains("S3cret") && !st.contains("pw-2026"), "{dir}: secret in {st}");
        }
        // Only the audit log records return codes (the derived MySQL 8.0 general and slow logs have none).
        let refused: Vec<&&Finding> = dcl.iter().filter(|f| f.refused == Some(true)).collect();
        if dir == "mariadb" {
            assert_eq!(refused.len(), 1, "{dir}");
            assert_ne!(refused[0].retcode, Some(0));
        }
        let high = dcl
            .iter()
            .find(|f| f.statement.as_deref().unwrap().contains("*.* TO 'ops'@'%' WITH GRANT OPTION"))
            .unwrap();
        assert_eq!(high.severity, Severity::High);
        let medium = dcl
            .iter()
            .find(|f| f.statement.as_deref() == Some("GRANT SELECT ON shop.* TO 'report'@'127.0.0.%'"))
            .unwrap();
        assert_eq!(medium.severity, Severity::Medium);
    }
}

#[test]
fn unusual_host_from_a_baseline_of_the_early_period() {
    let sc = scenario();
    let newhost = phase(&sc, "g_");
    let (user, host) = (newhost["users"][0].as_str().unwrap(), newhost["source_host"].as_str().unwrap());
    // Learn a baseline from everything before the trickle ends (phase d), then analyse everything.
    let until: Timestamp = {
        let t = phase(&sc, "e_")["started_utc"].as_str().unwrap();
        let dt = chrono::DateTime::parse_from_rfc3339(t).unwrap();
        // MariaDB writes whole seconds: learn up to the second before phase e.
        Timestamp::from_epoch_micros((dt.timestamp() - 1) * 1_000_000)
    };
    let mut a = Analyzer::new(AnalyzeOptions { until: Some(until), ..AnalyzeOptions::default() }).unwrap();
    for i in expand(&[corpus("mariadb")]).unwrap() {
        let _ = a.add_input(&i);
    }
    let baseline: Baseline = a.baseline().unwrap();
    assert!(baseline.users.contains_key(user));
    assert!(!baseline.contains(user, host));
    let r =
        analyze_paths(&[corpus("mariadb")], AnalyzeOptions { baseline: Some(baseline), ..AnalyzeOptions::default() });
    let u: Vec<&Finding> = r.findings.iter().filter(|f| f.detector == Detector::UnusualHost).collect();
    let hit = u.iter().find(|f| f.user.as_deref() == Some(user)).expect("the new host login is flagged");
    assert_eq!(hit.host.as_deref(), Some(host));
    assert_eq!(hit.count, 1);
    assert_eq!(hit.severity, Severity::Medium, "a loopback address is not public");
    // Logins of known users from their usual hosts are not flagged.
    assert!(u.iter().all(|f| !(f.user.as_deref() == Some("app") && f.host.as_deref() == Some("127.0.0.10"))));
}

#[test]
fn learn_mode_flags_the_new_host_too() {
    let r =
        analyze_paths(&[corpus("mariadb")], AnalyzeOptions { learn_us: Some(35_000_000), ..AnalyzeOptions::default() });
    assert_eq!(r.summary.unusual_host_mode, "learned");
    assert!(r.findings.iter().any(|f| f.detector == Detector::UnusualHost
        && f.user.as_deref() == Some("report")
        && f.host.as_deref() == Some("127.0.0.99")));
}

#[test]
fn logins_on_disk_give_the_same_baseline_and_report() {
    // Every successful login past the first goes to a temporary file: the baseline and the report (bursts
    // followed by a success, logins matched across the audit, general and error logs, new hosts) are unchanged.
    let dir = tempfile::tempdir().unwrap();
    let learn = |in_memory, temp_dir| {
        let mut a =
            Analyzer::new(AnalyzeOptions { logins_in_memory: in_memory, temp_dir, ..AnalyzeOptions::default() })
                .unwrap();
        for i in expand(&[corpus("mariadb")]).unwrap() {
            let _ = a.add_input(&i);
        }
        a.baseline().unwrap()
    };
    let kept = learn(1 << 17, None);
    assert!(kept.users.len() > 1);
    assert_eq!(learn(0, Some(dir.path().to_path_buf())), kept);
    let opts = |in_memory| AnalyzeOptions {
        logins_in_memory: in_memory,
        temp_dir: Some(dir.path().to_path_buf()),
        learn_us: Some(35_000_000),
        ..AnalyzeOptions::default()
    };
    let base = analyze_paths(&[corpus("mariadb")], opts(1 << 17));
    assert!(base.summary.logins.successful > 10 && base.findings.len() > 3);
    assert!(base.findings.iter().any(|f| f.followed_by_success == Some(true)));
    for in_memory in [0, 1, 5] {
        assert_eq!(json(&analyze_paths(&[corpus("mariadb")], opts(in_memory))), json(&base), "{in_memory}");
    }
    // The temporary files have no name: nothing is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_temporary_folder_that_cannot_be_written_keeps_the_logins_in_memory_and_says_so() {
    let opts = AnalyzeOptions {
        logins_in_memory: 0,
        temp_dir: Some(PathBuf::from("/nonexistent/auditlog-tmp")),
        ..AnalyzeOptions::default()
    };
    let base = analyze_paths(&[corpus("mariadb")], AnalyzeOptions::default());
    let r = analyze_paths(&[corpus("mariadb")], opts);
    assert!(r.summary.warnings.iter().any(|w| w.contains("temporary file")), "{:?}", r.summary.warnings);
    assert_eq!(r.summary.logins, base.summary.logins);
    assert_eq!(r.findings, base.findings);
    // Nothing was lost, so the baseline is learned as usual.
    let learn = |opts| {
        let mut a = Analyzer::new(opts).unwrap();
        for i in expand(&[corpus("mariadb")]).unwrap() {
            let _ = a.add_input(&i);
        }
        a.baseline()
    };
    let unwritable = AnalyzeOptions {
        logins_in_memory: 0,
        temp_dir: Some(PathBuf::from("/nonexistent/auditlog-tmp")),
        ..AnalyzeOptions::default()
    };
    assert_eq!(learn(unwritable).unwrap(), learn(AnalyzeOptions::default()).unwrap());
}

/// A benign workload: logins from usual hosts, queries, a few isolated typos spread out in time.
fn benign(n: usize, seed: u64) -> String {
    let mut s = String::new();
    let mut x = seed;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let t0 = 1_700_000_000_000_000u64;
    for i in 0..n as u64 {
        let t = t0 + i * 250_000 + next() % 1000;
        let user = ["app", "report", "etl"][(next() % 3) as usize];
        let host = match user {
            "app" => "10.0.1.5",
            "report" => "10.0.2.7",
            _ => "10.0.3.9",
        };
        let conn = 1000 + next() % 200;
        match next() % 20 {
            0 => s.push_str(&format!("{t},db-1,{user},{host},{conn},0,CONNECT,shop,,0\n")),
            1 => s.push_str(&format!("{t},db-1,{user},{host},{conn},0,DISCONNECT,shop,,0\n")),
            // One typo every ~20 s at most: never 5 in a minute from one host.
            2 if i % 80 == 0 => s.push_str(&format!("{t},db-1,{user},{host},{conn},0,FAILED_CONNECT,,,1045\n")),
            3 => s.push_str(&format!("{t},db-1,{user},{host},{conn},{i},QUERY,shop,'SHOW GRANTS',0\n")),
            4 => s.push_str(&format!(
                "{t},db-1,{user},{host},{conn},{i},QUERY,shop,'SELECT \\'GRANT ALL ON *.* TO x\\' AS s',0\n"
            )),
            _ => s.push_str(&format!(
                "{t},db-1,{user},{host},{conn},{i},QUERY,shop,'SELECT a, b FROM t WHERE id = {i}',0\n"
            )),
        }
    }
    s
}

/// An attack mixed into benign traffic: a brute force from a public address and a GRANT.
fn attacked(n: usize, seed: u64) -> String {
    let mut s = benign(n, seed);
    let t0 = 1_700_000_000_000_000u64 + (n as u64 / 2) * 250_000;
    for k in 0..7u64 {
        s.push_str(&format!("{},db-1,root,198.51.100.{},{},0,FAILED_CONNECT,,,1045\n", t0 + k * 900_000, 7, 5000 + k));
    }
    s.push_str(&format!("{},db-1,root,198.51.100.7,5100,0,CONNECT,,,0\n", t0 + 7_000_000));
    s.push_str(&format!(
        "{},db-1,root,198.51.100.7,5100,77,QUERY,,'GRANT ALL ON *.* TO \\'x\\'@\\'%\\' IDENTIFIED BY \\'pw\\'',0\n",
        t0 + 8_000_000
    ));
    s
}

fn run(log: &str, threads: usize, block: usize, min_chunk: usize) -> Report {
    run_spilling(log, threads, block, min_chunk, AnalyzeOptions::default().logins_in_memory)
}

fn run_spilling(log: &str, threads: usize, block: usize, min_chunk: usize, logins_in_memory: usize) -> Report {
    let opts = AnalyzeOptions {
        threads,
        read: ReadOptions::default().with_block_size(block),
        min_chunk,
        learn_us: Some(30_000_000),
        logins_in_memory,
        ..AnalyzeOptions::default()
    };
    let mut a = Analyzer::new(opts).unwrap();
    a.add_reader("gen.log", log.as_bytes()).unwrap();
    a.finish()
}

#[test]
fn benign_input_has_no_findings() {
    let r = run(&benign(20_000, 7), 2, 64 << 10, 4096);
    assert_eq!(r.summary.records, 20_000);
    assert!(r.summary.logins.failed > 0, "some isolated typos");
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

#[test]
fn attack_in_generated_traffic_is_found() {
    let r = run(&attacked(20_000, 11), 2, 64 << 10, 4096);
    let b = bursts(&r);
    assert_eq!(b.len(), 1, "{b:#?}");
    assert_eq!((b[0].count, b[0].host.as_deref(), b[0].severity), (7, Some("198.51.100.7"), Severity::Critical));
    assert_eq!(b[0].public_address, Some(true));
    let dcl = r.findings.iter().find(|f| f.detector == Detector::DclChange).unwrap();
    assert_eq!(dcl.statement.as_deref(), Some("GRANT ALL ON *.* TO 'x'@'%' IDENTIFIED BY '<redacted>'"));
    let unusual = r.findings.iter().find(|f| f.detector == Detector::UnusualHost).unwrap();
    assert_eq!((unusual.host.as_deref(), unusual.severity), (Some("198.51.100.7"), Severity::High));
}

#[test]
fn parallel_equals_sequential_on_the_corpus() {
    for dir in ["mariadb", "aurora", "rds-mysql8", "mysql8", "mysql57", "download", "malformed"] {
        let base = analyze_paths(&[corpus(dir)], AnalyzeOptions { threads: 1, ..AnalyzeOptions::default() });
        // The last number: successful logins kept in memory before the rest go to temporary files.
        for (threads, block, min_chunk, in_memory) in [
            (2, 8 << 20, 1, 1 << 17),
            (3, 4096, 64, 1 << 17),
            (4, 300, 1, 0),
            (2, 1 << 16, 512, 1),
            (8, 2048, 64, 3),
            (1, 1 << 20, 1 << 20, 0),
        ] {
            let opts = AnalyzeOptions {
                threads,
                read: ReadOptions::default().with_block_size(block),
                min_chunk,
                logins_in_memory: in_memory,
                ..AnalyzeOptions::default()
            };
            let r = analyze_paths(&[corpus(dir)], opts);
            let what = format!("{dir} with {threads} threads, block {block}, chunk {min_chunk}, {in_memory} in memory");
            assert_eq!(json(&r), json(&base), "{what}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random inputs, random block sizes and chunk sizes: the report is byte-identical to one thread.
    #[test]
    fn parallel_equals_sequential_on_generated_inputs(
        seed in 1u64..u64::MAX,
        n in 200usize..3000,
        threads in 2usize..10,
        block in 64usize..20_000,
        min_chunk in 1usize..4096,
    ) {
        let log = attacked(n, seed);
        let base = run(&log, 1, 1 << 20, 1 << 20);
        let par = run(&log, threads, block, min_chunk);
        prop_assert_eq!(json(&par), json(&base));
        // Successful logins written to temporary files and merged back: the same report.
        let spilled = run_spilling(&log, threads, block, min_chunk, (seed % 50) as usize);
        prop_assert_eq!(json(&spilled), json(&base));
    }
}

#[test]
fn aurora_stripes_are_analysed_in_time_order() {
    // The four stripes interleave; reading them in any order gives the same report.
    let mut files: Vec<PathBuf> = expand(&[corpus("aurora")])
        .unwrap()
        .into_iter()
        .filter_map(|i| match i {
            Input::File(p) => Some(p),
            Input::Stdin => None,
        })
        .collect();
    assert_eq!(files.len(), 4);
    let a = analyze_paths(&files, AnalyzeOptions::default());
    files.reverse();
    let b = analyze_paths(&files, AnalyzeOptions::default());
    let strip = |r: &Report| -> Vec<(Detector, u64, Option<String>, Vec<String>)> {
        r.findings.iter().map(|f| (f.detector, f.count, f.host.clone(), f.users.clone())).collect()
    };
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(a.summary.logins, b.summary.logins);
}
