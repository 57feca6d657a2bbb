//! The text report of `analyze`: summary, then findings by severity. Every value that comes from a log is
//! sanitized for the terminal; colour only when enabled.

use std::io::{self, Write};

use auditlog_core::analyze::{Finding, Report, Severity};
use owo_colors::{OwoColorize, Style};

use crate::output::sanitize::sanitize;

fn s(text: &str) -> String {
    sanitize(text.as_bytes()).into_owned()
}

struct Paint {
    on: bool,
}

impl Paint {
    fn style(&self, text: &str, style: Style) -> String {
        if self.on {
            text.style(style).to_string()
        } else {
            text.to_string()
        }
    }
    fn severity(&self, sev: Severity) -> String {
        let label = format!("{:<8}", sev.as_str().to_uppercase());
        let st = match sev {
            Severity::Critical => Style::new().red().bold().reversed(),
            Severity::High => Style::new().red().bold(),
            Severity::Medium => Style::new().yellow(),
            Severity::Low => Style::new().blue(),
        };
        self.style(&label, st)
    }
    fn dim(&self, text: &str) -> String {
        self.style(text, Style::new().dimmed())
    }
    fn bold(&self, text: &str) -> String {
        self.style(text, Style::new().bold())
    }
}

fn counts(list: &[auditlog_core::analyze::Count]) -> String {
    if list.is_empty() {
        return "-".into();
    }
    list.iter().map(|c| format!("{} ({})", s(&c.name), c.count)).collect::<Vec<_>>().join(", ")
}

fn finding(w: &mut dyn Write, f: &Finding, p: &Paint) -> io::Result<()> {
    writeln!(
        w,
        "{} {}  {}  {}",
        p.severity(f.severity),
        p.dim(&format!("{:<18}", f.detector.as_str())),
        f.first_seen,
        p.bold(&s(&f.title))
    )?;
    let pad = " ".repeat(9);
    if let Some(st) = &f.statement {
        writeln!(w, "{pad}{}", s(st))?;
    }
    let mut facts = Vec::new();
    if let Some(pt) = f.pattern {
        facts.push(format!("pattern {}", pt.as_str()));
    }
    if f.users.len() > 1 {
        facts.push(format!("users {}", f.users.iter().map(|u| s(u)).collect::<Vec<_>>().join(", ")));
    }
    if f.hosts.len() > 1 {
        facts.push(format!("hosts {}", f.hosts.iter().map(|h| s(h)).collect::<Vec<_>>().join(", ")));
    }
    if f.last_seen != f.first_seen {
        facts.push(format!("until {}", f.last_seen));
    }
    facts.push(format!("count {}", f.count));
    if let Some(rc) = f.retcode {
        facts.push(format!("retcode {rc}"));
    }
    facts.push(format!("logs {}", f.logs.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")));
    writeln!(w, "{pad}{}", p.dim(&facts.join(" · ")))?;
    if !f.reasons.is_empty() {
        writeln!(w, "{pad}{}", p.dim(&format!("why: {}", s(&f.reasons.join("; ")))))?;
    }
    let ev: Vec<String> = f.evidence.iter().map(|e| format!("{}:{}", s(&e.file), e.line)).collect();
    let more = if f.evidence_total > f.evidence.len() as u64 {
        format!(" and {} more", f.evidence_total - f.evidence.len() as u64)
    } else {
        String::new()
    };
    writeln!(w, "{pad}{}", p.dim(&format!("evidence: {}{more}", ev.join(", "))))
}

/// Writes the report for people.
pub fn text(w: &mut dyn Write, r: &Report, color: bool) -> io::Result<()> {
    let p = Paint { on: color };
    let sm = &r.summary;
    writeln!(w, "{}", p.bold("Summary"))?;
    let per: Vec<String> = sm
        .per_log
        .iter()
        .map(|(log, kinds)| {
            let inner: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
            format!("  {log:<8} {}", inner.join(", "))
        })
        .collect();
    writeln!(
        w,
        "  {} inputs, {} bytes: {} records, {} malformed, {} skipped lines{}",
        sm.inputs.len(),
        sm.bytes,
        sm.records,
        sm.malformed,
        sm.skipped_lines,
        if sm.filtered_out > 0 { format!(", {} outside --since/--until", sm.filtered_out) } else { String::new() }
    )?;
    for line in per {
        writeln!(w, "{line}")?;
    }
    match (sm.first_event, sm.last_event) {
        (Some(a), Some(b)) => writeln!(w, "  time span {a} .. {b}")?,
        _ => writeln!(w, "  time span: no timestamped events")?,
    }
    writeln!(
        w,
        "  logins: {} successful, {} failed, {} refused for the database (1044)",
        sm.logins.successful, sm.logins.failed, sm.logins.database_denied
    )?;
    writeln!(w, "  top users: {}", counts(&sm.top_users))?;
    writeln!(w, "  top hosts: {}", counts(&sm.top_hosts))?;
    writeln!(w, "  top databases: {}", counts(&sm.top_databases))?;
    writeln!(w, "  top operations: {}", counts(&sm.top_operations))?;
    let mode = match (sm.unusual_host_mode.as_str(), sm.learned_until) {
        ("learned", Some(t)) => format!("learned from logins before {t}"),
        ("baseline", _) => "from the baseline file".to_string(),
        _ => "off (give --baseline FILE or --learn DURATION)".to_string(),
    };
    writeln!(
        w,
        "  detectors: bursts of {}+ failed logins in {} s (spray: {}+ users, distributed: {}+ hosts); unusual hosts {mode}",
        sm.burst.threshold,
        sm.burst.window_us / 1_000_000,
        sm.burst.spray_users,
        sm.burst.distributed_hosts
    )?;
    writeln!(w)?;
    let by = |sev: Severity| r.findings.iter().filter(|f| f.severity == sev).count();
    writeln!(
        w,
        "{} ({}: {} critical, {} high, {} medium, {} low)",
        p.bold("Findings"),
        r.findings.len(),
        by(Severity::Critical),
        by(Severity::High),
        by(Severity::Medium),
        by(Severity::Low)
    )?;
    if r.findings.is_empty() {
        writeln!(w, "  none")?;
    }
    for f in &r.findings {
        finding(w, f, &p)?;
    }
    Ok(())
}
