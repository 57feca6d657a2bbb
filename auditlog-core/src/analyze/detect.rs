//! The detectors, run over facts sorted by time across all inputs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use super::{
    AnalyzeOptions, Baseline, BurstOptions, Count, DclFact, Detector, Evidence, Finding, Ident, Idents, InputSummary,
    Login, Logins, MalformedExample, Origin, Partial, Pattern, Report, Severity, Summary,
};
use crate::event::LogType;
use crate::time::Timestamp;

/// The same attempt or statement in two logs of one server lies at most this far apart.
const SAME_RECORD_US: i64 = 2_000_000;
/// Evidence records listed per finding.
const EVIDENCE: usize = 10;

/// One login attempt, counted once across the logs that recorded it.
struct Attempt<'a> {
    login: &'a Login,
    /// The records of the attempt (indices into `all`), the first one `login`.
    group: Group,
    all: &'a [Login],
    idents: &'a Idents,
}

impl<'a> Attempt<'a> {
    fn user(&self) -> &'a str {
        self.idents.get(self.login.user).unwrap_or("")
    }
    fn host(&self) -> &'a str {
        self.idents.get(self.login.host).unwrap_or("")
    }
    fn failed(&self) -> bool {
        !self.login.ok && !self.login.db_denied
    }
    fn origins(&self) -> impl Iterator<Item = Origin> + '_ {
        self.group.members().filter_map(|i| self.all.get(i)).map(|l| l.origin)
    }
}

fn conn_compatible(a: Option<u64>, b: Option<u64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

/// How many waiting groups a record looks at under one key before it starts a group of its own: bounds the work
/// per record when floods of look-alike records arrive within [`SAME_RECORD_US`].
const PAIR_SCAN: usize = 64;

/// The log types records can come from; a group holds at most one record of each.
const LOGS: [LogType; 4] = [LogType::Audit, LogType::General, LogType::Slow, LogType::Error];

/// The records of one event written to several logs: indices into the records, in the order they joined; at
/// most one per log type, so a group needs no allocation of its own.
#[derive(Clone, Copy)]
struct Group([u32; 4]);

impl Group {
    const NONE: u32 = u32::MAX;

    fn new(first: usize) -> Self {
        Group([u32::try_from(first).unwrap_or(Self::NONE), Self::NONE, Self::NONE, Self::NONE])
    }
    fn members(self) -> impl Iterator<Item = usize> {
        self.0.into_iter().take_while(|i| *i != Self::NONE).map(|i| i as usize)
    }
    fn first(self) -> usize {
        self.0[0] as usize
    }
    fn push(&mut self, i: usize) {
        if let Some(slot) = self.0.iter_mut().find(|s| **s == Self::NONE) {
            *slot = u32::try_from(i).unwrap_or(Self::NONE);
        }
    }
}

/// Groups records that are the same event written to several logs (audit, general, error or slow log of one
/// server): a record joins the earliest group under one of its keys that started at most [`SAME_RECORD_US`]
/// before it, has no record of its log yet and is `compatible`; otherwise it starts a group. Records must come in
/// time order. Each key keeps, per log, a queue of the groups still missing that log, so the work per record is
/// bounded (amortized constant) whatever the rate of records. Only logs that occur among the records get
/// queues, and queues whose groups are all too old to be joined are dropped as time moves on, so the memory
/// beyond one small group per record is bounded by the records of one [`SAME_RECORD_US`] window.
fn pair_across_logs<'a, T, K: std::hash::Hash + Eq + Clone>(
    items: &'a [T],
    ts: impl Fn(&T) -> i64,
    log: impl Fn(&T) -> LogType,
    keys: impl Fn(&'a T) -> Vec<K>,
    compatible: impl Fn(&T, &T) -> bool,
) -> Vec<Group> {
    let present: Vec<LogType> = LOGS.into_iter().filter(|l| items.iter().any(|x| log(x) == *l)).collect();
    let mut groups: Vec<Group> = Vec::with_capacity(items.len());
    let mut queues: HashMap<(K, LogType), std::collections::VecDeque<usize>> = HashMap::new();
    if present.len() < 2 {
        // One log type only: every record is an event of its own.
        groups.extend((0..items.len()).map(Group::new));
        return groups;
    }
    let has_log = |g: Group, l: LogType| g.members().any(|i| items.get(i).is_some_and(|x| log(x) == l));
    let first_ts = |g: Group| items.get(g.first()).map(&ts);
    let mut next_sweep = 0;
    for (idx, item) in items.iter().enumerate() {
        let (t, l) = (ts(item), log(item));
        if idx >= next_sweep {
            // Queues whose newest group is too old hold only groups no record can join any more.
            queues.retain(|_, q| {
                q.back()
                    .and_then(|g| groups.get(*g))
                    .and_then(|g| first_ts(*g))
                    .is_some_and(|f| t - f <= SAME_RECORD_US)
            });
            next_sweep = idx + queues.len().max(4096);
        }
        let ks = keys(item);
        let mut joined = None;
        'keys: for k in &ks {
            let Some(q) = queues.get_mut(&(k.clone(), l)) else { continue };
            while let Some(&g) = q.front() {
                let group = groups.get(g).copied();
                let old = group.and_then(first_ts).is_none_or(|f| t - f > SAME_RECORD_US);
                if old || group.is_some_and(|g| has_log(g, l)) {
                    q.pop_front();
                } else {
                    break;
                }
            }
            for (i, &g) in q.iter().enumerate().take(PAIR_SCAN) {
                let Some(group) = groups.get(g).copied() else { continue };
                if let Some(first) = items.get(group.first()) {
                    if !has_log(group, l) && compatible(first, item) {
                        joined = Some(g);
                        q.remove(i);
                        break 'keys;
                    }
                }
            }
        }
        match joined.and_then(|g| groups.get_mut(g)) {
            Some(group) => group.push(idx),
            None => {
                let g = groups.len();
                groups.push(Group::new(idx));
                for k in &ks {
                    for other in present.iter().copied().filter(|o| *o != l) {
                        queues.entry((k.clone(), other)).or_default().push_back(g);
                    }
                }
            }
        }
    }
    groups
}

/// What makes two login records the same attempt.
#[derive(Clone, PartialEq, Eq, Hash)]
enum LoginKey {
    /// Outcome, refused-database, user, host.
    Host(bool, bool, Ident, Ident),
    /// Outcome, refused-database, user, connection id: the error log names the matched account for 1044
    /// (`'u'@'10.0.0.%'`), so with equal connection ids the host may differ.
    Conn(bool, bool, Ident, u64),
}

/// Merges records of the same login attempt from different logs (audit, general, error of one server): same
/// outcome, user, host (or connection id) and compatible connection ids, at most 2 s apart, each log at most
/// once per attempt.
fn dedupe<'a>(logins: &'a [Login], idents: &'a Idents) -> Vec<Attempt<'a>> {
    let groups = pair_across_logs(
        logins,
        |l| l.ts.epoch_micros(),
        |l| l.origin.log,
        |l| {
            let mut k = vec![LoginKey::Host(l.ok, l.db_denied, l.user, l.host)];
            if let Some(c) = l.conn_id {
                k.push(LoginKey::Conn(l.ok, l.db_denied, l.user, c));
            }
            k
        },
        |a, b| conn_compatible(a.conn_id, b.conn_id),
    );
    groups
        .into_iter()
        .filter_map(|group| Some(Attempt { login: logins.get(group.first())?, group, all: logins, idents }))
        .collect()
}

fn evidence(origins: impl Iterator<Item = Origin>, names: &[String]) -> (Vec<Evidence>, u64, Vec<LogType>) {
    // In the order gathered (time order of the records), each once.
    let mut seen = std::collections::HashSet::new();
    let all: Vec<Origin> = origins.filter(|o| seen.insert(*o)).collect();
    let mut logs: Vec<LogType> = all.iter().map(|o| o.log).collect();
    logs.sort();
    logs.dedup();
    let total = all.len() as u64;
    let ev = all
        .iter()
        .take(EVIDENCE)
        .map(|o| Evidence {
            file: names.get(o.input as usize).cloned().unwrap_or_default(),
            line: o.pos.line,
            log: o.log,
        })
        .collect();
    (ev, total, logs)
}

/// "0.3 s", "42 s", "5.0 min".
fn span(us: i64) -> String {
    if us == 0 {
        return "the same second".into();
    }
    let s = us as f64 / 1e6;
    if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.1} min", s / 60.0)
    }
}

/// Splits time-sorted attempts into sessions whose consecutive gaps are at most `window`, keeping those where
/// some window of that length holds at least `threshold` attempts.
fn burst_sessions<'b, 'a>(list: &'b [&'b Attempt<'a>], o: &BurstOptions) -> Vec<&'b [&'b Attempt<'a>]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..=list.len() {
        let gap = match (list.get(i.wrapping_sub(1)), list.get(i)) {
            (Some(p), Some(c)) if i > 0 => c.login.ts.epoch_micros() - p.login.ts.epoch_micros() > o.window_us,
            (_, None) => true,
            _ => false,
        };
        if gap && i > start {
            let s = list.get(start..i).unwrap_or_default();
            // Largest number of attempts in any window.
            let mut best = 0;
            let mut lo = 0;
            for (hi, a) in s.iter().enumerate() {
                while s.get(lo).is_some_and(|l| a.login.ts.epoch_micros() - l.login.ts.epoch_micros() > o.window_us) {
                    lo += 1;
                }
                best = best.max(hi + 1 - lo);
            }
            if best >= o.threshold.max(1) {
                out.push(s);
            }
            start = i;
        } else if gap {
            start = i;
        }
    }
    out
}

fn bursts(attempts: &[Attempt<'_>], o: &BurstOptions, names: &[String]) -> Vec<Finding> {
    let failed: Vec<&Attempt<'_>> = attempts.iter().filter(|a| a.failed()).collect();
    let success: Vec<&Attempt<'_>> = attempts.iter().filter(|a| a.login.ok).collect();
    let mut out = Vec::new();
    // The first successful login matching `pred` from the session's start to a window after its end.
    let first_success = |s: &[&Attempt<'_>], o: &BurstOptions, pred: &dyn Fn(&Attempt<'_>) -> bool| {
        let from = s.first()?.login.ts;
        let to = Timestamp::from_epoch_micros(s.last()?.login.ts.epoch_micros().saturating_add(o.window_us));
        success.iter().find(|x| x.login.ts >= from && x.login.ts <= to && pred(x)).copied()
    };
    let mut by_host: BTreeMap<&str, Vec<&Attempt<'_>>> = BTreeMap::new();
    let mut by_user: BTreeMap<&str, Vec<&Attempt<'_>>> = BTreeMap::new();
    for a in &failed {
        if !a.host().is_empty() {
            by_host.entry(a.host()).or_default().push(a);
        }
        by_user.entry(a.user()).or_default().push(a);
    }
    for (host, list) in &by_host {
        for s in burst_sessions(list, o) {
            let users: BTreeSet<&str> = s.iter().map(|a| a.user()).collect();
            let pattern =
                if users.len() >= o.spray_users.max(2) { Pattern::PasswordSpray } else { Pattern::BruteForce };
            let hit = first_success(s, o, &|x| x.host() == *host || users.contains(x.user()));
            let users: Vec<String> = users.into_iter().map(str::to_string).collect();
            let who = match users.as_slice() {
                [one] => one.clone(),
                many => format!("{} users", many.len()),
            };
            let prefix = if pattern == Pattern::PasswordSpray { "password spray: " } else { "" };
            let mut title =
                format!("{prefix}{} failed logins for {who} from {host} within {}", s.len(), session_span(s));
            if let Some(h) = hit {
                title.push_str(&format!(", then a successful login of {} from {}", h.user(), h.host()));
            }
            let mut f = burst_finding(s, hit, pattern, title, o, names);
            f.user = (users.len() == 1).then(|| users.first().cloned()).flatten();
            f.users = users;
            f.host = Some((*host).to_string());
            f.hosts = vec![(*host).to_string()];
            f.public_address = Some(is_public(host));
            out.push(f);
        }
    }
    for (user, list) in &by_user {
        for s in burst_sessions(list, o) {
            let hosts: BTreeSet<&str> = s.iter().map(|a| a.host()).filter(|h| !h.is_empty()).collect();
            if hosts.len() < o.distributed_hosts.max(2) {
                continue;
            }
            let hit = first_success(s, o, &|x| x.user() == *user);
            let mut title = format!(
                "distributed: {} failed logins for {user} from {} hosts within {}",
                s.len(),
                hosts.len(),
                session_span(s)
            );
            if let Some(h) = hit {
                title.push_str(&format!(", then a successful login from {}", h.host()));
            }
            let mut f = burst_finding(s, hit, Pattern::Distributed, title, o, names);
            f.user = Some((*user).to_string());
            f.users = vec![(*user).to_string()];
            f.public_address = Some(hosts.iter().any(|h| is_public(h)));
            f.hosts = hosts.into_iter().map(str::to_string).collect();
            out.push(f);
        }
    }
    out
}

/// How long a session of attempts lasted, for titles.
fn session_span(s: &[&Attempt<'_>]) -> String {
    match (s.first(), s.last()) {
        (Some(a), Some(b)) => span(b.login.ts.epoch_micros() - a.login.ts.epoch_micros()),
        _ => span(0),
    }
}

/// The fields every burst finding has: times, count, severity (critical when a success followed), evidence
/// (the failures, then the success), reasons.
fn burst_finding(
    s: &[&Attempt<'_>],
    hit: Option<&Attempt<'_>>,
    pattern: Pattern,
    title: String,
    o: &BurstOptions,
    names: &[String],
) -> Finding {
    let t0 = s.first().map_or(Timestamp::from_epoch_micros(0), |a| a.login.ts);
    let t1 = s.last().map_or(t0, |a| a.login.ts);
    let severity = if hit.is_some() { Severity::Critical } else { Severity::High };
    let mut f = Finding::new(Detector::FailedLoginBurst, severity, title, t0, t1, s.len() as u64);
    let origins = s.iter().chain(hit.as_ref()).flat_map(|a| a.origins());
    (f.evidence, f.evidence_total, f.logs) = evidence(origins, names);
    f.pattern = Some(pattern);
    f.followed_by_success = Some(hit.is_some());
    f.success_at = hit.map(|h| h.login.ts);
    f.reasons = vec![format!("{} failed logins within {}", s.len(), span(o.window_us))];
    if hit.is_some() {
        f.reasons.push("a successful login followed the failures".into());
    }
    f
}

/// True for an address on the public internet: not private, loopback, link-local, shared (CGNAT),
/// documentation-free unspecified or unique-local. Host names are not addresses and give false.
#[must_use]
pub(crate) fn is_public(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            let o = a.octets();
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        Ok(IpAddr::V6(a)) => {
            let s = a.segments();
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_public(&v4.to_string());
            }
            !(a.is_loopback() || a.is_unspecified() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80)
        }
        Err(_) => false,
    }
}

/// DCL statements, each once across logs, with the executing account.
fn dcl_findings(
    mut facts: Vec<DclFact>,
    logins: &[Login],
    idents: &Idents,
    known: Option<&Baseline>,
    names: &[String],
) -> Vec<Finding> {
    facts.sort_by_key(|a| (a.ts, a.origin));
    // Who runs a general-log connection: its Connect line.
    let mut sessions: HashMap<(u32, u64), (&str, &str)> = HashMap::new();
    for l in logins.iter().filter(|l| l.ok) {
        if let (Some(c), Some(u), Some(h)) = (l.conn_id, idents.get(l.user), idents.get(l.host)) {
            sessions.insert((l.origin.input, c), (u, h));
        }
    }
    let groups = pair_across_logs(
        &facts,
        |f| f.ts.epoch_micros(),
        |f| f.origin.log,
        |f| vec![f.key.as_ref()],
        |a, b| conn_compatible(a.conn_id, b.conn_id),
    );
    let mut out = Vec::new();
    for group in groups {
        let g: Vec<&DclFact> = group.members().filter_map(|i| facts.get(i)).collect();
        let Some(first) = g.first() else { continue };
        let account = g
            .iter()
            .find_map(|f| Some((f.user.as_deref()?, f.host.as_deref()?)))
            .or_else(|| g.iter().find_map(|f| sessions.get(&(f.origin.input, f.conn_id?)).copied()));
        let (user, host) = account.map_or((None, None), |(u, h)| (Some(u.to_string()), Some(h.to_string())));
        let retcode = g
            .iter()
            .find(|f| f.origin.log == LogType::Audit)
            .and_then(|f| f.retcode)
            .or_else(|| g.iter().find_map(|f| f.retcode));
        let refused = retcode.is_some_and(|r| r != 0);
        let mut reasons = first.dcl.high.clone();
        if let (Some(b), Some(u), Some(h)) = (known, user.as_deref(), host.as_deref()) {
            // Only for users the baseline knows: of a user it has never seen, no host is "usual".
            if b.users.contains_key(u) && !b.contains(u, h) {
                reasons.push(format!("made from a host never seen before for {u}"));
            }
        }
        let severity = if reasons.is_empty() { Severity::Medium } else { Severity::High };
        if refused {
            reasons.push(format!("refused by the server (error {})", retcode.unwrap_or_default()));
        }
        let who = match (&user, &host) {
            (Some(u), Some(h)) => format!(" by {u}@{h}"),
            _ => String::new(),
        };
        let refused_txt = if refused { " (refused)" } else { "" };
        let title = format!("{}{who}{refused_txt}", first.dcl.category.as_str());
        let mut f = Finding::new(Detector::DclChange, severity, title, first.ts, first.ts, 1);
        (f.evidence, f.evidence_total, f.logs) = evidence(g.iter().map(|f| f.origin), names);
        f.users = user.iter().cloned().collect();
        f.user = user;
        f.hosts = host.iter().cloned().collect();
        f.public_address = host.as_deref().map(is_public);
        f.host = host;
        f.statement = Some(first.statement.to_string());
        f.category = Some(first.dcl.category);
        f.retcode = retcode;
        f.refused = Some(refused);
        f.reasons = reasons;
        out.push(f);
    }
    out
}

/// Successful logins from hosts outside the baseline, once per (user, host).
fn unusual(attempts: &[Attempt<'_>], baseline: &Baseline, after: Option<Timestamp>, names: &[String]) -> Vec<Finding> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Attempt<'_>>> = BTreeMap::new();
    for a in attempts.iter().filter(|a| a.login.ok && after.is_none_or(|t| a.login.ts >= t)) {
        let (u, h) = (a.user(), a.host());
        if u.is_empty() || h.is_empty() || baseline.contains(u, h) {
            continue;
        }
        groups.entry((u, h)).or_default().push(a);
    }
    let mut out = Vec::new();
    for ((u, h), list) in groups {
        let (Some(first), Some(last)) = (list.first(), list.last()) else { continue };
        let public = is_public(h);
        let known_user = baseline.users.contains_key(u);
        let mut reasons = vec![if known_user {
            format!("{h} is not among the hosts {u} logs in from")
        } else {
            format!("{u} is not in the baseline: no usual hosts known")
        }];
        if public {
            reasons.push(format!("{h} is a public address"));
        }
        let severity = match (public, known_user) {
            (true, _) => Severity::High,
            (false, true) => Severity::Medium,
            (false, false) => Severity::Low,
        };
        let plural = if list.len() == 1 { "" } else { "s" };
        let title = format!("{u} logged in from a new host {h} ({} login{plural})", list.len());
        let mut f =
            Finding::new(Detector::UnusualHost, severity, title, first.login.ts, last.login.ts, list.len() as u64);
        (f.evidence, f.evidence_total, f.logs) = evidence(list.iter().flat_map(|a| a.origins()), names);
        f.user = Some(u.to_string());
        f.users = vec![u.to_string()];
        f.host = Some(h.to_string());
        f.hosts = vec![h.to_string()];
        f.public_address = Some(public);
        f.reasons = reasons;
        out.push(f);
    }
    out
}

fn top(counter: super::Counter) -> Vec<Count> {
    let mut merged: BTreeMap<String, u64> = BTreeMap::new();
    for (k, v) in counter.into_map() {
        *merged.entry(String::from_utf8_lossy(&k).into_owned()).or_insert(0) += v;
    }
    let mut v: Vec<Count> = merged.into_iter().map(|(name, count)| Count { name, count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    v.truncate(10);
    v
}

/// Takes the logins out of the fold (no copy: they are the largest part of the state), sorted by time.
fn sorted_logins(acc: &mut Partial) -> Vec<Login> {
    let mut logins = std::mem::take(&mut acc.logins);
    // Merging partials grew the list by doubling: give the slack back before the detectors allocate theirs.
    logins.shrink_to_fit();
    logins.sort_by_key(|a| (a.ts, a.origin));
    logins
}

/// Learns which hosts each user logs in from, optionally only before `until`.
fn learn_from(attempts: &[Attempt<'_>], until: Option<Timestamp>) -> Baseline {
    let mut b = Baseline { version: 1, ..Baseline::default() };
    let ok: Vec<&Attempt<'_>> =
        attempts.iter().filter(|a| a.login.ok && until.is_none_or(|t| a.login.ts < t)).collect();
    for a in &ok {
        if !a.user().is_empty() && !a.host().is_empty() {
            b.add(a.user(), a.host());
        }
    }
    b.first_login = ok.first().map(|a| a.login.ts.to_rfc3339());
    b.last_login = ok.last().map(|a| a.login.ts.to_rfc3339());
    b
}

pub(crate) fn learn(mut acc: Partial) -> Baseline {
    let logins = sorted_logins(&mut acc);
    learn_from(&dedupe(&logins, &acc.idents), None)
}

pub(crate) fn run(mut acc: Partial, inputs: Vec<InputSummary>, opts: &AnalyzeOptions) -> Report {
    let names: Vec<String> = inputs.iter().map(|i| i.file.clone()).collect();
    let logins = sorted_logins(&mut acc);
    let idents = std::mem::take(&mut acc.idents);
    let attempts = dedupe(&logins, &idents);
    let o = &opts.burst;
    let mut findings = bursts(&attempts, o, &names);
    // The unusual-host baseline: given, or learned from the first part of the period.
    let start = opts.since.or(acc.first);
    let (baseline, mode, learned_until) = match (&opts.baseline, opts.learn_us, start) {
        (Some(b), _, _) => (Some(b.clone()), "baseline", None),
        (None, Some(d), Some(t0)) => {
            let until = Timestamp::from_epoch_micros(t0.epoch_micros().saturating_add(d));
            (Some(learn_from(&attempts, Some(until))), "learned", Some(until))
        }
        _ => (None, "off", None),
    };
    findings.extend(dcl_findings(acc.dcl, &logins, &idents, baseline.as_ref(), &names));
    if let Some(b) = &baseline {
        findings.extend(unusual(&attempts, b, learned_until, &names));
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.detector.cmp(&b.detector))
            .then_with(|| a.host.cmp(&b.host))
            .then_with(|| a.user.cmp(&b.user))
            .then_with(|| a.title.cmp(&b.title))
    });
    let mut per_log: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for ((log, kind), n) in acc.kinds.iter() {
        per_log.entry(log.as_str().to_string()).or_default().insert(kind.as_str().to_string(), n);
    }
    let logins_count = Logins {
        successful: attempts.iter().filter(|a| a.login.ok).count() as u64,
        failed: attempts.iter().filter(|a| a.failed()).count() as u64,
        database_denied: attempts.iter().filter(|a| !a.login.ok && a.login.db_denied).count() as u64,
    };
    let malformed_examples = acc
        .malformed_examples
        .iter()
        .map(|(i, pos, reason, text)| MalformedExample {
            file: names.get(*i as usize).cloned().unwrap_or_default(),
            line: pos.line,
            reason: reason.clone(),
            text: text.clone(),
        })
        .collect();
    let summary = Summary {
        bytes: inputs.iter().map(|i| i.read.bytes).sum(),
        inputs,
        records: acc.records,
        malformed: acc.malformed,
        skipped_lines: acc.skipped,
        filtered_out: acc.filtered,
        without_time: acc.no_time,
        per_log,
        logins: logins_count,
        top_users: top(acc.users),
        top_hosts: top(acc.hosts),
        top_databases: top(acc.dbs),
        top_operations: top(acc.ops),
        first_event: acc.first,
        last_event: acc.last,
        unusual_host_mode: mode.to_string(),
        learned_until,
        burst: *o,
        malformed_examples,
    };
    Report { summary, findings }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses() {
        for h in ["203.0.113.7", "8.8.8.8", "2001:4860::1"] {
            assert!(is_public(h), "{h}");
        }
        for h in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.10",
            "169.254.0.1",
            "100.64.1.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "localhost",
            "ip-10-0-0-1",
            "%",
        ] {
            assert!(!is_public(h), "{h}");
        }
    }
}
