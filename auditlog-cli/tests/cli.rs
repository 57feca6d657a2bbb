//! End-to-end tests of the `auditlog` binary over the committed corpus and small crafted inputs.

use std::io::Write;
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

/// Runs `auditlog events ARGS` and returns the parsed JSON Lines.
fn events_json(args: &[&str]) -> Vec<Value> {
    let out = auditlog().arg("events").args(args).output().unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

#[test]
fn jsonl_has_the_documented_keys_and_nulls() {
    let f = corpus("mariadb/server_audit.log");
    let evs = events_json(&[f.to_str().unwrap()]);
    assert!(evs.len() > 100);
    for k in [
        "ts", "log", "kind", "op", "server", "user", "host", "conn_id", "query_id", "db", "object", "sql", "retcode",
        "file", "line",
    ] {
        assert!(evs.iter().all(|e| e.get(k).is_some()), "key {k} missing");
    }
    // Timestamps are RFC 3339 UTC with microseconds.
    let ts = s(&evs[0], "ts");
    assert_eq!(ts.len(), 27, "{ts}");
    assert!(ts.ends_with('Z'));
    // An audit CONNECT has no SQL: null, not an empty string.
    let connect = evs.iter().find(|e| s(e, "kind") == "connect").unwrap();
    assert!(connect["sql"].is_null());
    assert_eq!(s(connect, "log"), "audit");
}

#[test]
fn failed_logins_come_out_of_audit_general_and_error_logs() {
    for (file, log) in
        [("mariadb/server_audit.log", "audit"), ("mariadb/general.log", "general"), ("mariadb/error.log", "error")]
    {
        let f = corpus(file);
        let evs = events_json(&[f.to_str().unwrap()]);
        let failed: Vec<&Value> = evs.iter().filter(|e| s(e, "kind") == "failed_connect").collect();
        assert!(!failed.is_empty(), "{file}: no failed_connect");
        assert!(failed.iter().all(|e| s(e, "log") == log));
        // The brute force of the scenario: admin from 127.0.0.20.
        let brute = failed.iter().filter(|e| s(e, "user") == "admin" && s(e, "host") == "127.0.0.20").count();
        assert!(brute >= 8, "{file}: {brute} failed logins of admin from 127.0.0.20");
    }
}

#[test]
fn stdin_gzip_and_folders_give_the_same_events() {
    let f = corpus("mariadb/general.log");
    let direct = events_json(&[f.to_str().unwrap()]);
    let strip = |v: Vec<Value>| -> Vec<Value> {
        v.into_iter()
            .map(|mut e| {
                e.as_object_mut().unwrap().remove("file");
                e
            })
            .collect()
    };
    let data = std::fs::read(&f).unwrap();
    let out = auditlog().args(["events", "-"]).write_stdin(data.clone()).output().unwrap();
    assert!(out.status.success());
    let piped: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(strip(direct.clone()), strip(piped));

    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("general");
    std::fs::create_dir(&sub).unwrap();
    let gz = sub.join("mysql-general.log.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all(&data).unwrap();
    enc.finish().unwrap();
    let from_dir = events_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(strip(direct), strip(from_dir.clone()));
    assert!(s(&from_dir[0], "file").ends_with("mysql-general.log.gz"));
}

/// Every command and output shape, on the corpus's general log (passwords in clear) and on logs with a secret in
/// an audit record (escaped inside the quoted SQL field), in a general-log `SET PASSWORD FOR` and in malformed
/// records: no secret is repeated, on stdout or stderr. `@message` (the raw record) repeated the first two until
/// the SQL was put back into the record redacted.
#[test]
fn secrets_never_appear_in_any_output() {
    let clear = ["App-pw-2026", "Report-pw-2026", "Adm1n-2026!", "Dba-pw-2026"];
    let raw = std::fs::read_to_string(corpus("mariadb/general.log")).unwrap();
    assert!(clear.iter().any(|c| raw.contains(c)), "the corpus general log holds passwords in clear");
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    std::fs::write(
        &audit,
        "1703817810076091,db-1,admin,10.0.0.5,7,11,QUERY,,'CREATE USER \\'bob\\' IDENTIFIED BY \\'Aud-pw-2026\\'',0\n\
         170381781x,db-1,admin,10.0.0.5,7,12,QUERY,,'SET PASSWORD FOR bob = \\'Mal-pw-2026\\'',0\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("general.log"),
        "2024-06-15T10:00:00.000000Z\t    5 Query\tSET PASSWORD FOR bob = 'Gen-pw-2026'\n",
    )
    .unwrap();
    let secrets: Vec<&str> = clear.iter().copied().chain(["Aud-pw-2026", "Mal-pw-2026", "Gen-pw-2026"]).collect();
    let fields = "fields ts, user, sql, message, @message";
    let mut runs: Vec<Vec<&str>> = Vec::new();
    for out in ["jsonl", "csv", "table"] {
        runs.push(vec!["events", "-o", out]);
    }
    for out in ["text", "json"] {
        runs.push(vec!["analyze", "--fail-on", "never", "-o", out]);
    }
    for out in ["table", "jsonl", "csv", "json"] {
        runs.push(vec!["query", fields, "-o", out]);
    }
    runs.push(vec!["query", "stats count(*) as n by sql, @message"]);
    for out in ["table", "json"] {
        runs.push(vec!["digest", "-o", out]);
    }
    let mut redacted = 0;
    for args in &runs {
        let o = auditlog().args(args).arg(corpus("mariadb")).arg(dir.path()).output().unwrap();
        assert!(matches!(o.status.code(), Some(0)), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        for (stream, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            for c in &secrets {
                assert!(!text.contains(c), "{args:?} repeats secret {c} on {stream}");
            }
            redacted += text.matches("<redacted>").count();
        }
    }
    assert!(redacted >= runs.len() * 3, "only {redacted} redactions shown in {} runs", runs.len());
    let o = auditlog().args(["events", "--strict"]).arg(&audit).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("audit.log:2: malformed record (--strict)") && err.contains("SET PASSWORD <redacted>"),
        "{err}"
    );
    assert!(!err.contains("Mal-pw-2026"), "{err}");
}

#[test]
fn table_sanitizes_terminal_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("audit.log");
    std::fs::write(&f, "1703817810074458,i,evil\x1b[2J,10.0.0.1,1,2,QUERY,,'SELECT \x1b]0;pwned\x07 \u{202e}1',0\n")
        .unwrap();
    let o = auditlog().args(["events", "-o", "table"]).arg(&f).output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(!text.contains('\x1b') && !text.contains('\x07') && !text.contains('\u{202e}'));
    assert!(text.contains("evil\\x1b[2J"));
    assert!(text.contains("\\u{202e}1"));
}

#[test]
fn malformed_records_are_reported_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("audit.log");
    std::fs::write(
        &f,
        "20240101 10:00:00,s,u,h,1,0,CONNECT,,,0\nthis is not an audit record\n\n20240101 10:00:01,s,u,h,1,0,DISCONNECT,,,0\n",
    )
    .unwrap();
    auditlog()
        .args(["events", "--format", "audit"])
        .arg(&f)
        .assert()
        .success()
        .stderr(predicate::str::contains("audit.log:2: malformed record: no valid timestamp"))
        .stderr(predicate::str::contains("2 records (audit 2), 1 malformed, 1 skipped lines"));
    auditlog()
        .args(["events", "--strict", "--format", "audit"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("audit.log:2: malformed record (--strict)"));
}

#[test]
fn since_and_until_filter_by_time() {
    let f = corpus("mariadb/server_audit.log");
    let all = events_json(&[f.to_str().unwrap()]);
    let mut times: Vec<String> = all.iter().map(|e| s(e, "ts")).collect();
    times.sort();
    let mid = times[times.len() / 2].clone();
    let after = events_json(&[f.to_str().unwrap(), "--since", &mid]);
    let before = events_json(&[f.to_str().unwrap(), "--until", &mid]);
    assert_eq!(after.len() + before.len(), all.len());
    assert!(after.iter().all(|e| s(e, "ts") >= mid));
    assert!(before.iter().all(|e| s(e, "ts") < mid));
    auditlog()
        .args(["events", "--since", "yesterday"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--since"));
}

#[test]
fn download_portion_output_with_blank_lines_and_truncation_marker() {
    let log = "20240615 10:32:00,ip-10-0-0-6,baduser,203.0.113.7,44,0,FAILED_CONNECT,,,1045,SSL\n\n20240615 10:32:01,ip-10-0-0-6,app,10.0.0.5,45,7,QUERY,shop,'SELECT 1, 2\n [Your log message was truncated]\n20240615 10:32:02,ip-10-0-0-6,app,10.0.0.5,45,0,DISCONNECT,,,0,TCP/IP\n\n";
    let out = auditlog().args(["events", "-"]).write_stdin(log).output().unwrap();
    assert!(out.status.success());
    let evs: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(evs.len(), 3);
    assert_eq!(evs[1]["truncated"], Value::Bool(true));
    assert_eq!(s(&evs[1], "sql"), "SELECT 1, 2");
    assert_eq!(evs[2]["line"], 5);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("3 records (audit 3), 0 malformed, 3 skipped lines"), "{err}");
}

#[test]
fn unknown_content_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    std::fs::write(&f, "hello\nworld\n").unwrap();
    auditlog()
        .arg("events")
        .arg(&f)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("notes.txt: cannot tell which log format this is"))
        .stderr(predicate::str::contains("--format"));
    auditlog()
        .args(["events", "/nonexistent/file.log"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/file.log"));
}

#[test]
fn csv_has_a_header_and_one_row_per_event() {
    let f = corpus("mariadb/slow.log");
    let n = events_json(&[f.to_str().unwrap()]).len();
    let o = auditlog().args(["events", "-o", "csv"]).arg(&f).output().unwrap();
    let mut rdr = csv::Reader::from_reader(&o.stdout[..]);
    assert_eq!(rdr.headers().unwrap().get(0), Some("ts"));
    assert_eq!(rdr.records().count(), n);
}

#[test]
fn closed_pipe_is_not_an_error() {
    // `auditlog events | head -1`: the reader closes early; exit code 0 and no error message.
    let f = corpus("mariadb/server_audit.log");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("auditlog"))
        .arg("events")
        .arg(&f)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Broken pipe"));
}
