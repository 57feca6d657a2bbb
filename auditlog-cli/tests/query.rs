//! `auditlog query` and `auditlog digest` end to end over the corpus.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus").join(rel)
}

fn auditlog() -> Command {
    Command::cargo_bin("auditlog").unwrap()
}

fn rows(args: &[&str]) -> Vec<Value> {
    let out = auditlog().arg("query").args(args).args(["-o", "jsonl", "-q"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn events(path: &Path) -> Vec<Value> {
    let out = auditlog().args(["events", "-q"]).arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn failed_logins_per_host_match_the_events() {
    let f = corpus("mariadb/server_audit.log");
    let got = rows(&[
        r#"filter kind = "failed_connect" and retcode = 1045 | stats count(*) as failures by host | sort failures desc"#,
        f.to_str().unwrap(),
    ]);
    // The same count done by hand over `auditlog events`.
    let mut want = std::collections::BTreeMap::<String, u64>::new();
    for e in events(&f) {
        if e["kind"] == "failed_connect" && e["retcode"] == 1045 {
            *want.entry(e["host"].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    assert_eq!(got.len(), want.len());
    for r in &got {
        assert_eq!(r["failures"].as_u64(), want.get(r["host"].as_str().unwrap()).copied(), "{r}");
    }
    let counts: Vec<u64> = got.iter().map(|r| r["failures"].as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "sorted desc");
}

#[test]
fn output_formats_and_threads_agree() {
    let q = r#"filter kind = "connect" | stats count(*) as logins by user, host | sort logins desc, user"#;
    let dir = corpus("mariadb");
    let run = |fmt: &str, threads: &str| {
        auditlog().args(["query", "-q", q, "-o", fmt, "--threads", threads]).arg(&dir).output().unwrap().stdout
    };
    for fmt in ["jsonl", "csv", "json", "table"] {
        assert_eq!(run(fmt, "1"), run(fmt, "2"), "{fmt}");
    }
    let json: Value = serde_json::from_slice(&run("json", "1")).unwrap();
    let jsonl: Vec<Value> =
        String::from_utf8(run("jsonl", "1")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(json.as_array().unwrap(), &jsonl);
    let csv = String::from_utf8(run("csv", "1")).unwrap();
    assert_eq!(csv.lines().next(), Some("user,host,logins"));
    assert_eq!(csv.lines().count(), jsonl.len() + 1);
}

#[test]
fn query_errors_point_at_the_column() {
    auditlog()
        .args(["query", "filter kind = | limit 3"])
        .arg(corpus("mariadb/server_audit.log"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("column"))
        .stderr(predicate::str::contains("^"));
    let deep = format!("filter {}kind = \"query\"{}", "(".repeat(5000), ")".repeat(5000));
    auditlog().args(["query", &deep]).arg(corpus("mariadb/server_audit.log")).assert().code(2);
}

#[test]
fn query_output_is_redacted_and_sanitized() {
    let out = auditlog()
        .args(["query", "-q", "filter sql like /IDENTIFIED BY/ | fields sql", "-o", "table"])
        .arg(corpus("mariadb/general.log"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("<redacted>"), "{text}");
    for secret in ["S3cret-Pa55", "App-pw-2026", "Dba-pw-2026"] {
        assert!(!text.contains(secret));
    }
}

#[test]
fn digest_groups_slow_log_statements() {
    let f = corpus("mysql8/slow.log");
    let out = auditlog().args(["digest", "-o", "json", "-q", "--limit", "0"]).arg(&f).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    let classes = d["classes"].as_array().or_else(|| d.as_array()).expect("a list of classes");
    let total: u64 = classes.iter().map(|c| c["count"].as_u64().unwrap()).sum();
    let n = events(&f).iter().filter(|e| e["kind"] == "query" || e["kind"] == "command").count() as u64;
    assert_eq!(total, n, "every statement in one class");
    assert_eq!(d["statements"].as_u64(), Some(n));
    let limited = auditlog().args(["digest", "-o", "json", "-q", "--limit", "3"]).arg(&f).output().unwrap();
    let limited: Value = serde_json::from_slice(&limited.stdout).unwrap();
    assert_eq!(limited["classes"].as_array().unwrap().len(), 3);
    let times: Vec<f64> = classes.iter().map(|c| c["query_time"]["total"].as_f64().unwrap_or(0.0)).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "sorted by total time");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("S3cret-Pa55"));
}
