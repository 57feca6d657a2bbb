//! `--cloudwatch` inputs and `auditlog fetch` end to end, against a local AWS API emulator (moto) on 127.0.0.1.
//! The corpus logs are put into Aurora-style log groups, one CloudWatch event per record; reading them back must
//! give the same analysis as reading the files. Skips with a message when moto is not installed (fails in CI,
//! where AUDITLOG_REQUIRE_EXTERNAL=1).
#![cfg(feature = "cloudwatch")]

#[path = "../../auditlog-core/tests/support/moto.rs"]
mod moto;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use assert_cmd::Command;
use auditlog_core::Format;
use serde_json::Value;

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus").join(rel)
}

/// (log type, stream, corpus files, format)
const LAYOUT: &[(&str, &str, &[&str], Format)] = &[
    (
        "audit",
        "aurora-prod-instance-1",
        &[
            "aurora/audit.log.0.2026-11-22-07-28.0",
            "aurora/audit.log.1.2026-11-22-07-28.0",
            "aurora/audit.log.2.2026-11-22-07-28.0",
            "aurora/audit.log.3.2026-11-22-07-28.0",
        ],
        Format::Audit,
    ),
    ("audit", "rds-db-2", &["rds-mysql8/server_audit.log"], Format::Audit),
    ("audit", "maria-3", &["mariadb/server_audit.log"], Format::Audit),
    ("slowquery", "aurora-prod-instance-1", &["mysql8/slow.log"], Format::Slow),
    ("slowquery", "maria-3", &["mariadb/slow.log"], Format::Slow),
    ("general", "aurora-prod-instance-1", &["mysql8/general.log"], Format::General),
    ("general", "maria-3", &["mariadb/general.log"], Format::General),
    ("error", "aurora-prod-instance-1", &["mysql8/error.log"], Format::Error),
    ("error", "rds-db-2", &["mysql57/error.log"], Format::Error),
    ("error", "maria-3", &["mariadb/error.log"], Format::Error),
];

/// Puts the corpus into cluster `prod`; returns the files.
fn populate(endpoint: &str) -> Vec<PathBuf> {
    let client = moto::client(endpoint, Arc::new(()));
    let mut files = Vec::new();
    for (kind, stream, paths, format) in LAYOUT {
        let mut msgs = Vec::new();
        for p in *paths {
            let path = corpus(p);
            msgs.extend(moto::records(&std::fs::read(&path).unwrap(), *format));
            files.push(path);
        }
        moto::put_events(&client, &format!("/aws/rds/cluster/prod/{kind}"), stream, &msgs);
    }
    files
}

/// `auditlog ARGS --endpoint-url ENDPOINT --region us-east-1` with dummy credentials.
fn auditlog(endpoint: &str, args: &[&str]) -> Command {
    let mut c = Command::cargo_bin("auditlog").unwrap();
    for (k, v) in moto::dummy_aws_env() {
        c.env(k, v);
    }
    c.args(args).args(["--endpoint-url", endpoint, "--region", "us-east-1"]);
    c.timeout(Duration::from_secs(300));
    c
}

fn json(out: &std::process::Output) -> Value {
    let code = out.status.code().unwrap();
    assert!(code == 0 || code == 1, "exit {code}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What must be equal between a read of files and a read of CloudWatch: every finding without its evidence
/// positions (file and line differ), and the counts.
fn comparable(r: &Value) -> (Vec<String>, Value) {
    let mut findings: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut f = f.clone();
            let ev = f.as_object_mut().unwrap().remove("evidence").unwrap();
            let logs: Vec<&str> = ev.as_array().unwrap().iter().map(|e| e["log"].as_str().unwrap()).collect();
            f["evidence_logs"] = logs.len().into();
            f.to_string()
        })
        .collect();
    findings.sort();
    let s = &r["summary"];
    let mut counts = serde_json::Map::new();
    for k in [
        "records",
        "malformed",
        "filtered_out",
        "without_time",
        "per_log",
        "logins",
        "top_users",
        "top_hosts",
        "top_databases",
        "top_operations",
        "first_event",
        "last_event",
    ] {
        counts.insert(k.to_string(), s[k].clone());
    }
    (findings, Value::Object(counts))
}

#[test]
fn analyze_over_cloudwatch_equals_analyze_over_files_and_fetch_keeps_them() {
    let Some(moto) = moto::start("analyze_over_cloudwatch_equals_analyze_over_files_and_fetch_keeps_them") else {
        return;
    };
    let files = populate(&moto.endpoint);
    let ep = moto.endpoint.as_str();

    let from_files = json(
        &Command::cargo_bin("auditlog").unwrap().arg("analyze").args(&files).args(["-o", "json"]).output().unwrap(),
    );
    let out = auditlog(ep, &["analyze", "--cloudwatch", "--cluster", "prod", "--page-size", "50", "-o", "json"])
        .output()
        .unwrap();
    let from_cw = json(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains('\r'), "no progress line when stderr is not a terminal: {stderr}");
    assert!(stderr.contains("auditlog: cloudwatch: "), "a summary line: {stderr}");
    let (ff, fc) = comparable(&from_files);
    let (cf, cc) = comparable(&from_cw);
    assert!(!ff.is_empty());
    assert_eq!(fc, cc, "same counts");
    assert_eq!(ff, cf, "same findings");
    assert_eq!(from_cw["summary"]["inputs"].as_array().unwrap().len(), LAYOUT.len());
    assert!(from_cw["summary"]["inputs"][0]["file"].as_str().unwrap().starts_with("cloudwatch:/aws/rds/cluster/prod/"));

    // Two log types and one instance.
    let r = json(
        &auditlog(ep, &["analyze", "--cluster", "prod", "--log-type", "audit", "--log-type", "error"])
            .args(["--stream", "rds-db-2", "-o", "json"])
            .output()
            .unwrap(),
    );
    let names: Vec<&str> =
        r["summary"]["inputs"].as_array().unwrap().iter().map(|i| i["file"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["cloudwatch:/aws/rds/cluster/prod/audit/rds-db-2", "cloudwatch:/aws/rds/cluster/prod/error/rds-db-2"]
    );

    // events: the stream name is the server of records that carry none; audit records keep their own.
    let out =
        auditlog(ep, &["events", "--cluster", "prod", "--stream-prefix", "maria", "-o", "jsonl"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut per_log = std::collections::BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let log = e["log"].as_str().unwrap().to_string();
        if log != "audit" {
            assert_eq!(e["server"], "maria-3", "{line}");
        } else {
            assert_ne!(e["server"], Value::Null);
        }
        assert!(e["file"].as_str().unwrap().ends_with("/maria-3"), "{line}");
        *per_log.entry(log).or_insert(0) += 1;
    }
    assert_eq!(per_log.len(), 4, "{per_log:?}");

    // fetch to stdout: the raw records, as in the file (less blank lines).
    let out = auditlog(
        ep,
        &["fetch", "--cluster", "prod", "--log-type", "audit", "--stream", "rds-db-2", "--page-size", "10"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = std::fs::read(corpus("rds-mysql8/server_audit.log")).unwrap();
    let want: String = moto::records(&file, Format::Audit).iter().map(|r| format!("{r}\n")).collect();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);

    // fetch to files, one per instance and type, then analyze them offline: the same again.
    let dir = tempfile::tempdir().unwrap();
    let dir_s = dir.path().to_str().unwrap();
    let out = auditlog(ep, &["fetch", "--cluster", "prod", "-O", dir_s]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for (kind, stream, _, _) in LAYOUT {
        assert!(dir.path().join(stream).join(format!("{kind}.log")).is_file(), "{stream}/{kind}.log");
    }
    let out = auditlog(ep, &["fetch", "--cluster", "prod", "-O", dir_s]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "existing evidence files are never overwritten");
    let offline = json(
        &Command::cargo_bin("auditlog").unwrap().arg("analyze").arg(dir.path()).args(["-o", "json"]).output().unwrap(),
    );
    let (of, oc) = comparable(&offline);
    assert_eq!((of, oc), (cf, cc));
}

#[test]
fn throttling_is_reported_and_survived() {
    let Some(moto) = moto::start("throttling_is_reported_and_survived") else { return };
    populate(&moto.endpoint);
    let expected = json(
        &auditlog(&moto.endpoint, &["analyze", "--cluster", "prod", "--log-type", "audit", "-o", "json"])
            .output()
            .unwrap(),
    );
    let proxy = moto::proxy(
        &moto.endpoint,
        Arc::new(|n: usize, _: &[u8]| (n < 2 || n % 5 == 3).then_some((400, "ThrottlingException"))),
    );
    let out = auditlog(
        &proxy.endpoint,
        &["analyze", "--cluster", "prod", "--log-type", "audit", "--page-size", "40", "--retry-backoff-ms", "5"],
    )
    .args(["-o", "json"])
    .output()
    .unwrap();
    let got = json(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("throttled") && stderr.contains("retrying with backoff"), "{stderr}");
    assert!(proxy.errors.load(std::sync::atomic::Ordering::SeqCst) >= 5);
    assert_eq!(comparable(&got), comparable(&expected));
}

#[test]
fn clear_errors() {
    // Missing credentials: found out before any request (nothing is contacted).
    let home = tempfile::tempdir().unwrap();
    let mut c = Command::cargo_bin("auditlog").unwrap();
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ] {
        c.env_remove(k);
    }
    c.env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    let out = c
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
        .args(["events", "--cluster", "prod", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no usable AWS credentials") && stderr.contains("--profile"), "{stderr}");

    // Flags that need each other.
    let out = Command::cargo_bin("auditlog").unwrap().args(["events", "--cloudwatch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cluster NAME"));

    let Some(moto) = moto::start("clear_errors") else { return };
    let out = auditlog(&moto.endpoint, &["analyze", "--cluster", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/aws/rds/cluster/nope/audit") && stderr.contains("not found"), "{stderr}");

    let out = auditlog(&moto.endpoint, &["fetch", "--db-instance", "db9", "--log-type", "slowquery"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/aws/rds/instance/db9/slowquery"));

    // Access denied on FilterLogEvents.
    populate(&moto.endpoint);
    let proxy = moto::proxy(
        &moto.endpoint,
        Arc::new(|_: usize, body: &[u8]| {
            body.windows(14).any(|w| w == b"logStreamNames").then_some((400, "AccessDeniedException"))
        }),
    );
    let out = auditlog(&proxy.endpoint, &["events", "--cluster", "prod", "--log-type", "error"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("access denied") && stderr.contains("logs:FilterLogEvents"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_with_what_was_read() {
    let Some(moto) = moto::start("ctrl_c_stops_cleanly_with_what_was_read") else { return };
    populate(&moto.endpoint);
    let total = {
        let out = auditlog(&moto.endpoint, &["events", "--cluster", "prod", "-q"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    // Slow it down: every request waits (through a proxy that forwards after a pause).
    let proxy = moto::proxy(
        &moto.endpoint,
        Arc::new(|_: usize, _: &[u8]| {
            std::thread::sleep(Duration::from_millis(20));
            None
        }),
    );
    let bin = assert_cmd::cargo::cargo_bin("auditlog");
    let mut cmd = std::process::Command::new(bin);
    for (k, v) in moto::dummy_aws_env() {
        cmd.env(k, v);
    }
    let mut child = cmd
        .args(["events", "--cluster", "prod", "--page-size", "1", "--endpoint-url", &proxy.endpoint])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first events are out (output to a pipe is flushed in blocks of 64 KiB), so reading has
    // surely begun and the handler is in place.
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match std::io::Read::read(&mut stdout, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    all.extend_from_slice(&buf[..n]);
                    let _ = tx.send(());
                }
            }
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(120)).expect("first events within 2 minutes");
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = reader.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let shown = String::from_utf8_lossy(&stdout).lines().count();
    assert!(shown > 0 && shown < total, "{shown} of {total} events before Ctrl-C");
    assert!(stderr.contains(&format!("{shown} events shown")), "the summary counts what was shown: {stderr}");
}

#[test]
fn query_and_digest_read_cloudwatch_too() {
    let Some(moto) = moto::start("query_and_digest_read_cloudwatch_too") else {
        return;
    };
    let files = populate(&moto.endpoint);
    let ep = moto.endpoint.as_str();
    let q = r#"filter kind = "failed_connect" | stats count(*) as n by user, host | sort n desc, user, host"#;
    let from_files =
        Command::cargo_bin("auditlog").unwrap().args(["query", "-q", q, "-o", "json"]).args(&files).output().unwrap();
    let from_cw =
        auditlog(ep, &["query", "-q", q, "-o", "json", "--cluster", "prod", "--page-size", "70"]).output().unwrap();
    assert!(from_cw.status.success(), "{}", String::from_utf8_lossy(&from_cw.stderr));
    let (a, b) = (json(&from_files), json(&from_cw));
    assert!(!a.as_array().unwrap().is_empty());
    assert_eq!(a, b, "the same rows from CloudWatch as from the files");

    let slow: Vec<PathBuf> = files.iter().filter(|p| p.to_string_lossy().ends_with("slow.log")).cloned().collect();
    let from_files = Command::cargo_bin("auditlog")
        .unwrap()
        .args(["digest", "-q", "-o", "json", "--limit", "0"])
        .args(&slow)
        .output()
        .unwrap();
    let from_cw =
        auditlog(ep, &["digest", "-q", "-o", "json", "--limit", "0", "--cluster", "prod", "--log-type", "slowquery"])
            .output()
            .unwrap();
    assert!(from_cw.status.success(), "{}", String::from_utf8_lossy(&from_cw.stderr));
    let classes = |v: &Value| -> Vec<(String, u64)> {
        v["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["fingerprint"].as_str().unwrap().to_string(), c["count"].as_u64().unwrap()))
            .collect()
    };
    let (a, b) = (classes(&json(&from_files)), classes(&json(&from_cw)));
    assert!(!a.is_empty());
    assert_eq!(a, b, "the same classes and counts");
}
