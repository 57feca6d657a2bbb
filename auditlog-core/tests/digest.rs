//! The digest against `pt-query-digest --output json` on the corpus and the peer slow logs, and parallel ==
//! sequential.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use auditlog_core::digest::{fingerprint, Digest, DigestOptions};
use auditlog_core::{Format, ReadOptions};

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus").join(rel)
}

fn peers() -> Option<PathBuf> {
    let p = std::env::var_os("AUDITLOG_PEERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers"));
    p.is_dir().then_some(p)
}

fn digest(path: &Path, opts: DigestOptions) -> auditlog_core::digest::DigestReport {
    let mut d = Digest::new(opts).unwrap();
    d.add_reader(&path.display().to_string(), std::fs::File::open(path).unwrap()).unwrap();
    d.finish()
}

fn slow_opts() -> DigestOptions {
    DigestOptions {
        read: ReadOptions::default().with_format(Some(Format::Slow)),
        threads: 1,
        ..DigestOptions::default()
    }
}

fn ours(path: &Path) -> BTreeMap<String, u64> {
    digest(path, slow_opts()).classes.into_iter().map(|c| (c.fingerprint, c.count)).collect()
}

fn pt(path: &Path) -> Option<BTreeMap<String, u64>> {
    let out = Command::new("pt-query-digest")
        .args(["--output", "json", "--limit", "100%", "--no-report", "--report"])
        .arg(path)
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let mut m = BTreeMap::new();
    for c in v["classes"].as_array()? {
        let fp = c["fingerprint"].as_str()?.to_string();
        *m.entry(fp).or_insert(0) += c["query_count"].as_u64()?;
    }
    Some(m)
}

fn pt_available() -> bool {
    let ok = Command::new("pt-query-digest").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("AUDITLOG_REQUIRE_EXTERNAL").is_none(),
            "pt-query-digest is required (AUDITLOG_REQUIRE_EXTERNAL is set) but not installed"
        );
        eprintln!("skipping: pt-query-digest is not installed (Debian package percona-toolkit)");
    }
    ok
}

/// Slow logs among the peers: files whose name says slow and whose content is a slow log.
fn peer_slow_logs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
            if !name.contains("slow") || name.ends_with(".json") || name.ends_with(".gz") || name.ends_with(".go") {
                continue;
            }
            let Ok(bytes) = std::fs::read(&p) else { continue };
            if auditlog_core::sniff(&bytes[..bytes.len().min(64 << 10)]) == Some(Format::Slow) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The deliberate differences from pt-query-digest (file name, pt's fingerprint or ours, reason). The README
/// lists them too.
const DELIBERATE: &[(&str, &str, &str)] = &[
    (
        "mysql_slow_query_logs.log",
        "select sleep(?);",
        "pt keeps a `;` left after its parser splits two statements on one line; we strip trailing `;`",
    ),
    ("mysql_slow_query_logs.log", "select sleep(?)", "the same statement, counted in one class"),
    (
        "slow017.txt",
        "select * from mytbl",
        "a query with no `# Query_time` header: pt drops it, we keep it (with no time)",
    ),
    ("slow017.log", "show /*!? global */ status", "an entry with no `# Query_time` header: pt drops it, we keep it"),
    ("slow041.txt", "administrator command: Quit", "two Quit commands in one entry: we count the entry once"),
    (
        "slow046.txt",
        "from `a tbl`, `t",
        "pt reads `-1` inside a back-quoted name as a negative number; we keep the `-`",
    ),
    ("slow056.txt", "", "pt makes an empty class of a header-only entry; we report no statement"),
    ("slow056.txt", "update t set b = b ", "pt turns `+ 1` into `? ?`; we keep the operator `+`"),
    (
        "slow021.log",
        "select sleep(?) from n",
        "pt keeps `use test;` in the statement on the same line; we keep the database apart",
    ),
    ("slow023.log", "", "pt reads a `# User@Host` line glued to a query as the query; we read the entries"),
];

fn deliberate(file: &Path, fp: &str) -> Option<&'static str> {
    let name = file.file_name()?.to_str()?;
    DELIBERATE.iter().find(|(f, p, _)| *f == name && (p.is_empty() || fp.contains(p))).map(|d| d.2)
}

fn compare(files: &[PathBuf]) -> (usize, usize, Vec<String>) {
    let (mut agree, mut total) = (0, 0);
    let mut problems = Vec::new();
    for f in files {
        let Some(theirs) = pt(f) else {
            // Samples pt-query-digest itself cannot read as a slow log (its report fixtures).
            eprintln!("{}: pt-query-digest gave no JSON; not compared", f.display());
            continue;
        };
        let mine = ours(f);
        total += theirs.len();
        let mut bad = Vec::new();
        for (fp, n) in &theirs {
            match mine.get(fp) {
                Some(m) if m == n => agree += 1,
                _ if deliberate(f, fp).is_some() => {}
                other => bad.push(format!("  pt {n} vs ours {other:?}: {fp:?}")),
            }
        }
        for (fp, n) in &mine {
            if !theirs.contains_key(fp) && deliberate(f, fp).is_none() {
                bad.push(format!("  only ours ({n}): {fp:?}"));
            }
        }
        eprintln!("{}: {} pt classes, {} ours, {} mismatches", f.display(), theirs.len(), mine.len(), bad.len());
        if !bad.is_empty() {
            problems.push(format!("{}:\n{}", f.display(), bad.join("\n")));
        }
    }
    (agree, total, problems)
}

#[test]
fn classes_and_counts_agree_with_pt_query_digest_on_the_corpus() {
    if !pt_available() {
        return;
    }
    let files = [corpus("mysql8/slow.log"), corpus("mariadb/slow.log")];
    let (agree, total, problems) = compare(&files);
    eprintln!("corpus: {agree}/{total} classes agree");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn classes_and_counts_agree_with_pt_query_digest_on_peer_slow_logs() {
    let Some(root) = peers() else {
        eprintln!("skipping: peer logs not found (set AUDITLOG_PEERS)");
        return;
    };
    if !pt_available() {
        return;
    }
    let files = peer_slow_logs(&root);
    assert!(!files.is_empty(), "no slow logs among the peers");
    let (agree, total, problems) = compare(&files);
    eprintln!("peers: {} files, {agree}/{total} classes agree", files.len());
    assert!(agree * 100 >= total * 95, "only {agree}/{total} classes agree");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn parallel_equals_sequential() {
    for rel in ["mysql8/slow.log", "mariadb/slow.log", "mysql8/general.log", "aurora"] {
        let p = corpus(rel);
        let files: Vec<PathBuf> = if p.is_dir() {
            let mut v: Vec<PathBuf> =
                std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
            v.sort();
            v
        } else {
            vec![p]
        };
        for f in files {
            let base = format!("{:?}", digest(&f, DigestOptions { threads: 1, ..DigestOptions::default() }).classes);
            for (threads, block, min_chunk) in [(2, 4096, 64), (3, 300, 1), (4, 1 << 16, 512), (8, 2048, 64)] {
                let opts = DigestOptions {
                    threads,
                    min_chunk,
                    read: ReadOptions::default().with_block_size(block),
                    ..DigestOptions::default()
                };
                let r = format!("{:?}", digest(&f, opts).classes);
                assert_eq!(r, base, "{} with {threads} threads, block {block}", f.display());
            }
        }
    }
}

/// A class with more users and hosts than are kept: the kept names (the first in byte order) and the `more`
/// flags are the same with any number of threads and block size (they once depended on the split).
#[test]
fn kept_users_and_hosts_do_not_depend_on_threads() {
    let mut log = String::new();
    for i in 0..3_000u32 {
        log.push_str(&format!(
            "# Time: 2024-11-19T07:06:{:02}.{:06}Z\n# User@Host: u{}[u{}] @  [10.1.{}.{}]  Id: {}\n\
             # Query_time: 0.{:06}  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 10\n\
             SET timestamp=1732000000;\nSELECT * FROM t WHERE id = {};\n",
            i % 60,
            i,
            (i * 31) % 97,
            (i * 31) % 97,
            (i * 7) % 5,
            (i * 104_729) % 251,
            i,
            (i * 7919) % 1_000_000,
            i
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("slow.log");
    std::fs::write(&f, log).unwrap();
    let base = digest(&f, DigestOptions { threads: 1, ..DigestOptions::default() });
    let c = &base.classes[0];
    assert_eq!((base.classes.len(), c.count, c.users.len(), c.hosts.len()), (1, 3_000, 64, 64));
    assert!(c.users_more && c.hosts_more);
    assert!(c.hosts.windows(2).all(|w| w[0] < w[1]), "sorted");
    for (threads, block) in [(2, 4096), (3, 700), (8, 2048)] {
        let opts = DigestOptions {
            threads,
            min_chunk: 64,
            read: ReadOptions::default().with_block_size(block),
            ..DigestOptions::default()
        };
        assert_eq!(format!("{:?}", digest(&f, opts).classes), format!("{:?}", base.classes), "{threads} threads");
    }
}

#[test]
fn fingerprint_rules() {
    assert_eq!(
        fingerprint(b"SELECT * FROM t WHERE a = -5 AND b = 'x''y' AND c IS NULL"),
        "select * from t where a = ? and b = ?? and c is ?"
    );
    assert_eq!(
        fingerprint(b"select * from t where id in ( 'a' , 'b' ) and b not in (1)"),
        "select * from t where id in(?+) and b not in(?+)"
    );
    assert_eq!(fingerprint(b"SELECT /*!40001 SQL_NO_CACHE */ * FROM t"), "select /*!? sql_no_cache */ * from t");
    assert_eq!(fingerprint(b"select 1 union select 2"), "select ? /*repeat union*/");
    assert_eq!(fingerprint(b"call p(1, 'a')"), "call p");
    assert_eq!(fingerprint(b"select * from t limit 10 offset 5"), "select * from t limit ?");
}
