//! `auditlog analyze` and `auditlog baseline` end to end.

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

fn report(args: &[&str]) -> (Value, i32) {
    let out = auditlog().arg("analyze").args(args).args(["-o", "json"]).output().unwrap();
    let code = out.status.code().unwrap();
    assert!(code == 0 || code == 1, "{}", String::from_utf8_lossy(&out.stderr));
    (serde_json::from_slice(&out.stdout).unwrap(), code)
}

#[test]
fn json_report_has_the_documented_schema() {
    let (r, code) = report(&[corpus("mariadb").to_str().unwrap()]);
    assert_eq!(code, 1, "high and critical findings exist: exit 1 with the default --fail-on high");
    let summary = &r["summary"];
    for k in [
        "records",
        "malformed",
        "logins",
        "top_users",
        "top_hosts",
        "top_databases",
        "top_operations",
        "first_event",
        "last_event",
        "per_log",
    ] {
        assert!(summary.get(k).is_some(), "summary.{k}");
    }
    let findings = r["findings"].as_array().unwrap();
    for f in findings {
        for k in ["detector", "severity", "user", "users", "host", "first_seen", "last_seen", "count", "evidence"] {
            assert!(f.get(k).is_some(), "finding.{k}: {f}");
        }
        match f["detector"].as_str().unwrap() {
            "failed_login_burst" => assert!(f.get("pattern").is_some() && f.get("followed_by_success").is_some()),
            "dcl_change" => {
                assert!(f.get("statement").is_some() && f.get("category").is_some() && f.get("retcode").is_some())
            }
            "unusual_host" => {}
            d => panic!("unknown detector {d}"),
        }
        let ev = f["evidence"].as_array().unwrap();
        assert!(!ev.is_empty() && ev.iter().all(|e| e["file"].is_string() && e["line"].as_u64().unwrap() > 0));
    }
    // Sorted by severity, highest first.
    let rank = |s: &str| ["critical", "high", "medium", "low"].iter().position(|x| *x == s).unwrap();
    let sev: Vec<usize> = findings.iter().map(|f| rank(f["severity"].as_str().unwrap())).collect();
    assert!(sev.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(findings[0]["severity"], "critical");
    assert_eq!(findings[0]["pattern"], "brute_force");
    assert_eq!(findings[0]["followed_by_success"], true);
}

#[test]
fn threads_do_not_change_the_output() {
    let run = |t: &str, fmt: &str| {
        auditlog()
            .args(["analyze", "--threads", t, "-o", fmt, "--color", "never"])
            .arg(corpus(""))
            .output()
            .unwrap()
            .stdout
    };
    for fmt in ["json", "text"] {
        let one = run("1", fmt);
        assert!(!one.is_empty());
        assert_eq!(one, run("2", fmt), "{fmt}");
        assert_eq!(one, run("4", fmt), "{fmt}");
    }
}

#[test]
fn fail_on_sets_the_exit_code() {
    let dir = corpus("mariadb");
    auditlog().args(["analyze", "-q"]).arg(&dir).assert().code(1);
    auditlog().args(["analyze", "-q", "--fail-on", "never"]).arg(&dir).assert().code(0);
    // Without the brute force and the risky grants only medium findings would be left: use a benign file.
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("audit.log");
    std::fs::write(&f, "1703817810000000,db-1,app,10.0.0.5,1,0,CONNECT,shop,,0\n1703817810000100,db-1,app,10.0.0.5,1,2,QUERY,shop,'SELECT 1',0\n").unwrap();
    auditlog().args(["analyze", "-q"]).arg(&f).assert().code(0).stdout(predicate::str::contains("Findings (0"));
}

#[test]
fn secrets_are_redacted_in_reports() {
    for fmt in ["json", "text"] {
        let out = auditlog().args(["analyze", "-o", fmt, "--color", "never"]).arg(corpus("mariadb")).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        for secret in ["S3cret-Pa55", "App-pw-2026", "Dba-pw-2026", "Adm1n-2026!"] {
            assert!(!text.contains(secret), "{fmt} report repeats {secret}");
        }
        assert!(text.contains("<redacted>"));
    }
}

#[test]
fn colour_only_on_request_or_terminal() {
    let plain = auditlog().args(["analyze"]).arg(corpus("mariadb")).output().unwrap().stdout;
    assert!(!plain.contains(&0x1b), "piped output is plain");
    let forced = auditlog().args(["analyze", "--color", "always"]).arg(corpus("mariadb")).output().unwrap().stdout;
    assert!(forced.contains(&0x1b));
}

#[test]
fn baseline_round_trip_flags_the_new_host() {
    let tmp = tempfile::tempdir().unwrap();
    let b = tmp.path().join("baseline.json");
    // Learn from the period before the DCL phase (the scenario's new host logs in at the end).
    let sc: Value = serde_json::from_str(&std::fs::read_to_string(corpus("mariadb/scenario.json")).unwrap()).unwrap();
    let phase_e =
        sc["phases"].as_array().unwrap().iter().find(|p| p["phase"].as_str().unwrap().starts_with("e_")).unwrap();
    let t = chrono::DateTime::parse_from_rfc3339(phase_e["started_utc"].as_str().unwrap()).unwrap();
    let until = (t - chrono::Duration::seconds(1)).to_rfc3339();
    auditlog()
        .args(["baseline", "--until", &until, "-o"])
        .arg(&b)
        .arg(corpus("mariadb"))
        .assert()
        .success()
        .stderr(predicate::str::contains("baseline of"));
    let base: Value = serde_json::from_str(&std::fs::read_to_string(&b).unwrap()).unwrap();
    assert!(base["users"]["report"].as_array().unwrap().iter().any(|h| h == "127.0.0.11"));
    let (r, _) = report(&["--baseline", b.to_str().unwrap(), corpus("mariadb").to_str().unwrap()]);
    let u: Vec<&Value> = r["findings"].as_array().unwrap().iter().filter(|f| f["detector"] == "unusual_host").collect();
    assert!(u.iter().any(|f| f["user"] == "report" && f["host"] == "127.0.0.99" && f["count"] == 1), "{u:#?}");
    assert_eq!(r["summary"]["unusual_host_mode"], "baseline");
}

#[test]
fn config_file_sets_thresholds_and_flags_override_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("auditlog.toml");
    std::fs::write(&cfg, "[burst]\nthreshold = 10\n").unwrap();
    let (r, _) = report(&["--config", cfg.to_str().unwrap(), corpus("mariadb").to_str().unwrap()]);
    let bursts = r["findings"].as_array().unwrap().iter().filter(|f| f["detector"] == "failed_login_burst").count();
    assert_eq!(bursts, 0, "8 and 6 failed logins are below a threshold of 10");
    let (r, _) = report(&["--config", cfg.to_str().unwrap(), "--threshold", "5", corpus("mariadb").to_str().unwrap()]);
    let bursts = r["findings"].as_array().unwrap().iter().filter(|f| f["detector"] == "failed_login_burst").count();
    assert_eq!(bursts, 2);
    std::fs::write(&cfg, "[burst]\nthreshhold = 10\n").unwrap();
    auditlog()
        .args(["analyze", "--config"])
        .arg(&cfg)
        .arg(corpus("mariadb"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("threshhold"));
}

#[test]
fn text_report_sanitizes_attacker_controlled_names() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("audit.log");
    let mut log = String::new();
    for i in 0..6 {
        log.push_str(&format!("17038178100{i:05},db-1,ev\x1b[31mil,203.0.113.9,{i},0,FAILED_CONNECT,,,1045\n"));
    }
    std::fs::write(&f, log).unwrap();
    let out = auditlog().args(["analyze", "--color", "never"]).arg(&f).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ev\\x1b[31mil"), "{text}");
    assert!(!text.contains('\x1b'));
}

/// 140,000 successful or failed logins: more than the 131,072 of each kept in memory, so the rest go to a
/// temporary file.
fn many_logins(failed: bool) -> String {
    let (kind, code) = if failed { ("FAILED_CONNECT", 1045) } else { ("CONNECT", 0) };
    let mut s = String::with_capacity(140_000 * 64);
    for i in 0..140_000u64 {
        let ts = 1_703_817_810_000_000 + i * 1_000;
        s.push_str(&format!("{ts},db-1,app{},10.0.{}.{},{i},0,{kind},shop,,{code}\n", i % 7, i % 3, i % 5));
    }
    s
}

#[test]
fn logins_past_the_memory_budget_go_to_tmpdir_and_change_nothing() {
    for (failed, what) in [(false, "successful"), (true, "failed")] {
        let log = many_logins(failed);
        let dir = tempfile::tempdir().unwrap();
        let run = |tmp: &Path| {
            let out = auditlog()
                .env("TMPDIR", tmp)
                .args(["analyze", "--learn", "10ms", "--fail-on", "never", "-o", "json", "-"])
                .write_stdin(log.clone())
                .output()
                .unwrap();
            (out.status.code().unwrap(), serde_json::from_slice::<Value>(&out.stdout).unwrap(), out.stderr)
        };
        let (code, r, _) = run(dir.path());
        assert_eq!(code, 0);
        assert_eq!(r["summary"]["logins"][what], 140_000);
        assert_eq!(r["summary"]["warnings"], serde_json::json!([]));
        // Successful: each (user, host) first seen after the learning period is one unusual-host finding. Failed:
        // each of the 15 hosts is a password spray (7 users), each of the 7 users a distributed attack.
        let findings = r["findings"].as_array().unwrap();
        if failed {
            assert_eq!(findings.len(), 22, "{findings:#?}");
            assert!(findings.iter().all(|f| f["detector"] == "failed_login_burst"));
        } else {
            assert!(!findings.is_empty());
        }
        // A temporary folder that does not exist: the logins stay in memory, the report is the same, and the
        // problem is reported with exit code 2.
        let (code, bad, stderr) = run(Path::new("/nonexistent/auditlog-tmp"));
        assert_eq!(code, 2);
        assert_eq!(bad["findings"], r["findings"]);
        assert_eq!(bad["summary"]["logins"], r["summary"]["logins"]);
        let stderr = String::from_utf8_lossy(&stderr);
        let want = format!("cannot write {what} logins to a temporary file (kept in memory)");
        assert!(stderr.contains(&want), "{stderr}");
    }
}
