//! The detectors, run over facts sorted by time across all inputs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::IpAddr;

use super::accepted::Accepted;
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
    /// The records of the attempt, the first one `login`.
    members: Members<&'a Login>,
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
        self.members.iter().map(|l| l.origin)
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

/// A record that one server may write to several of its logs (audit, general, error or slow log).
trait Pairable {
    /// What two records of one event share.
    type Key: std::hash::Hash + Eq + Clone;
    fn time_us(&self) -> i64;
    fn log(&self) -> LogType;
    fn keys(&self) -> [Option<Self::Key>; 2];
    /// Whether `later` may be a record of the same event as this one.
    fn compatible(&self, later: &Self) -> bool;
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

/// Records of the same login attempt: same outcome, user, host (or connection id) and compatible connection
/// ids.
impl Pairable for Login {
    type Key = LoginKey;
    fn time_us(&self) -> i64 {
        self.ts.epoch_micros()
    }
    fn log(&self) -> LogType {
        self.origin.log
    }
    fn keys(&self) -> [Option<LoginKey>; 2] {
        let (ok, denied, user) = (self.ok, self.db_denied, self.user);
        [Some(LoginKey::Host(ok, denied, user, self.host)), self.conn_id.map(|c| LoginKey::Conn(ok, denied, user, c))]
    }
    fn compatible(&self, later: &Self) -> bool {
        conn_compatible(self.conn_id, later.conn_id)
    }
}

impl Pairable for &Login {
    type Key = LoginKey;
    fn time_us(&self) -> i64 {
        (*self).time_us()
    }
    fn log(&self) -> LogType {
        (*self).log()
    }
    fn keys(&self) -> [Option<LoginKey>; 2] {
        (*self).keys()
    }
    fn compatible(&self, later: &Self) -> bool {
        (*self).compatible(later)
    }
}

/// Records of the same DCL statement: the same statement text and compatible connection ids.
impl<'a> Pairable for &'a DclFact {
    type Key = &'a str;
    fn time_us(&self) -> i64 {
        self.ts.epoch_micros()
    }
    fn log(&self) -> LogType {
        self.origin.log
    }
    fn keys(&self) -> [Option<&'a str>; 2] {
        [Some(&*self.key), None]
    }
    fn compatible(&self, later: &Self) -> bool {
        conn_compatible(self.conn_id, later.conn_id)
    }
}

/// The records of one event written to several logs, in the order they joined: at most one per log type, so a
/// group needs no allocation of its own.
#[derive(Clone, Copy)]
struct Members<T> {
    first: T,
    more: [Option<T>; 3],
}

impl<T> Members<T> {
    fn new(first: T) -> Self {
        Members { first, more: [None, None, None] }
    }
    fn iter(&self) -> impl Iterator<Item = &T> {
        std::iter::once(&self.first).chain(self.more.iter().map_while(Option::as_ref))
    }
    fn push(&mut self, t: T) {
        if let Some(slot) = self.more.iter_mut().find(|s| s.is_none()) {
            *slot = Some(t);
        }
    }
}

/// A group that records may still join.
struct Live<T> {
    first_us: i64,
    /// The log types of its records, one bit each.
    logs: u8,
    members: Members<T>,
}

fn bit(l: LogType) -> u8 {
    1 << (l as u8)
}

/// Groups records that are the same event written to several logs: a record joins the earliest group under one
/// of its keys that started at most [`SAME_RECORD_US`] before it, has no record of its log yet and is
/// `compatible`; otherwise it starts a group. Records are pushed in time order; groups come out in the order
/// they started, as soon as no later record can join them, so memory is bounded by the records of one
/// [`SAME_RECORD_US`] window whatever the number of records. Each key keeps, per log, a queue of the groups
/// still missing that log, so the work per record is bounded (amortized constant) whatever their rate; queues
/// whose groups are all too old to be joined are dropped as time moves on.
struct Pairer<T: Pairable> {
    /// The log types records come from: with fewer than two, every record is an event of its own.
    present: Vec<LogType>,
    live: VecDeque<Live<T>>,
    /// The number of groups that started before `live[0]`: groups are numbered from 0 in the queues.
    done: usize,
    queues: HashMap<(T::Key, LogType), VecDeque<usize>>,
    pushed: usize,
    next_sweep: usize,
}

impl<T: Pairable> Pairer<T> {
    fn new(present: Vec<LogType>) -> Self {
        Pairer { present, live: VecDeque::new(), done: 0, queues: HashMap::new(), pushed: 0, next_sweep: 0 }
    }

    fn push(&mut self, item: T, emit: &mut impl FnMut(Members<T>)) {
        if self.present.len() < 2 {
            emit(Members::new(item));
            return;
        }
        let (t, l) = (item.time_us(), item.log());
        // Groups that started too long ago for this record, or any later one, to join.
        while self.live.front().is_some_and(|g| t - g.first_us > SAME_RECORD_US) {
            if let Some(g) = self.live.pop_front() {
                emit(g.members);
            }
            self.done += 1;
        }
        let (live, done) = (&mut self.live, self.done);
        let group = |live: &VecDeque<Live<T>>, g: usize| {
            g.checked_sub(done).and_then(|i| live.get(i)).map(|g| (g.first_us, g.logs))
        };
        if self.pushed >= self.next_sweep {
            // Queues whose newest group is too old hold only groups no record can join any more.
            self.queues
                .retain(|_, q| q.back().and_then(|g| group(live, *g)).is_some_and(|(f, _)| t - f <= SAME_RECORD_US));
            self.next_sweep = self.pushed + self.queues.len().max(4096);
        }
        self.pushed += 1;
        let keys = item.keys();
        let mut joined = None;
        'keys: for k in keys.iter().flatten() {
            let Some(q) = self.queues.get_mut(&(k.clone(), l)) else { continue };
            while let Some(&g) = q.front() {
                if group(live, g).is_none_or(|(f, logs)| t - f > SAME_RECORD_US || logs & bit(l) != 0) {
                    q.pop_front();
                } else {
                    break;
                }
            }
            for (i, &g) in q.iter().enumerate().take(PAIR_SCAN) {
                let Some(candidate) = g.checked_sub(done).and_then(|i| live.get(i)) else { continue };
                if candidate.logs & bit(l) == 0 && candidate.members.first.compatible(&item) {
                    joined = Some(g);
                    q.remove(i);
                    break 'keys;
                }
            }
        }
        match joined.and_then(|g| g.checked_sub(done)).and_then(|i| live.get_mut(i)) {
            Some(g) => {
                g.logs |= bit(l);
                g.members.push(item);
            }
            None => {
                let g = done + live.len();
                for k in keys.iter().flatten() {
                    for other in self.present.iter().copied().filter(|o| *o != l) {
                        self.queues.entry((k.clone(), other)).or_default().push_back(g);
                    }
                }
                live.push_back(Live { first_us: t, logs: bit(l), members: Members::new(item) });
            }
        }
    }

    fn finish(self, emit: &mut impl FnMut(Members<T>)) {
        self.live.into_iter().for_each(|g| emit(g.members));
    }
}

/// The groups of `items` (in time order), in the order they started.
fn pair_all<'a, X>(items: &'a [X]) -> Vec<Members<&'a X>>
where
    &'a X: Pairable,
{
    let present = LogType::ALL.into_iter().filter(|l| items.iter().any(|x| x.log() == *l)).collect();
    let mut p = Pairer::new(present);
    let mut out = Vec::with_capacity(items.len());
    let mut emit = |m| out.push(m);
    for x in items {
        p.push(x, &mut emit);
    }
    p.finish(&mut emit);
    out
}

/// Merges records of the same failed or refused login attempt from different logs (audit, general, error of
/// one server), at most 2 s apart, each log at most once per attempt.
fn dedupe<'a>(logins: &'a [Login], idents: &'a Idents) -> Vec<Attempt<'a>> {
    pair_all(logins).into_iter().map(|members| Attempt { login: members.first, members, idents }).collect()
}

/// Origins in the order gathered, each once: the first [`EVIDENCE`] of them, how many, and their logs.
#[derive(Debug, Default)]
struct Gathered {
    first: Vec<Origin>,
    total: u64,
    /// One bit per log type (no allocation: one is kept per new (user, host)).
    logs: u8,
}

impl Gathered {
    /// Adds an origin not gathered before.
    fn add(&mut self, o: Origin) {
        if self.first.len() < EVIDENCE {
            self.first.push(o);
        }
        self.total += 1;
        self.logs |= bit(o.log);
    }

    fn finish(self, names: &[String]) -> (Vec<Evidence>, u64, Vec<LogType>) {
        let ev = self
            .first
            .iter()
            .map(|o| Evidence {
                file: names.get(o.input as usize).cloned().unwrap_or_default(),
                line: o.pos.line,
                log: o.log,
            })
            .collect();
        (ev, self.total, LogType::ALL.into_iter().filter(|l| self.logs & bit(*l) != 0).collect())
    }
}

fn evidence(origins: impl Iterator<Item = Origin>, names: &[String]) -> (Vec<Evidence>, u64, Vec<LogType>) {
    let mut seen = std::collections::HashSet::new();
    let mut g = Gathered::default();
    origins.filter(|o| seen.insert(*o)).for_each(|o| g.add(o));
    g.finish(names)
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
fn burst_sessions<'s, 'b, 'a>(list: &'s [&'b Attempt<'a>], o: &BurstOptions) -> Vec<&'s [&'b Attempt<'a>]> {
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

/// A burst of failed logins: from one host (brute force or password spray) or for one user from many hosts
/// (distributed), and the first successful login that matches it, once the successes were read.
struct Burst<'b, 'a> {
    attempts: Vec<&'b Attempt<'a>>,
    kind: BurstKind<'a>,
    hit: Option<Hit>,
}

enum BurstKind<'a> {
    /// The host, and the users it tried.
    Host(&'a str, BTreeSet<&'a str>),
    /// The user, and the hosts that tried it.
    Distributed(&'a str, BTreeSet<&'a str>),
}

/// The successful login attempt that followed a burst.
struct Hit {
    login: Login,
    origins: Vec<Origin>,
}

impl Burst<'_, '_> {
    /// The time range a success must fall in to follow the burst: from its first failure to a window after its
    /// last.
    fn range(&self, o: &BurstOptions) -> (Timestamp, Timestamp) {
        let from = self.attempts.first().map_or(Timestamp::from_epoch_micros(0), |a| a.login.ts);
        let last = self.attempts.last().map_or(from, |a| a.login.ts);
        (from, Timestamp::from_epoch_micros(last.epoch_micros().saturating_add(o.window_us)))
    }
}

/// The bursts among the failed attempts (in time order): per host, then per user.
fn find_bursts<'b, 'a>(failed: &[&'b Attempt<'a>], o: &BurstOptions) -> Vec<Burst<'b, 'a>> {
    let mut by_host: BTreeMap<&'a str, Vec<&'b Attempt<'a>>> = BTreeMap::new();
    let mut by_user: BTreeMap<&'a str, Vec<&'b Attempt<'a>>> = BTreeMap::new();
    for a in failed {
        if !a.host().is_empty() {
            by_host.entry(a.host()).or_default().push(a);
        }
        by_user.entry(a.user()).or_default().push(a);
    }
    let mut out = Vec::new();
    for (host, list) in &by_host {
        for s in burst_sessions(list, o) {
            let users = s.iter().map(|a| a.user()).collect();
            out.push(Burst { attempts: s.to_vec(), kind: BurstKind::Host(host, users), hit: None });
        }
    }
    for (user, list) in &by_user {
        for s in burst_sessions(list, o) {
            let hosts: BTreeSet<&str> = s.iter().map(|a| a.host()).filter(|h| !h.is_empty()).collect();
            if hosts.len() >= o.distributed_hosts.max(2) {
                out.push(Burst { attempts: s.to_vec(), kind: BurstKind::Distributed(user, hosts), hit: None });
            }
        }
    }
    out
}

/// The bursts a successful login may follow, by the key that matches it: a host burst by its host and by each
/// of its users, a distributed burst by its user. Each list is in the order the bursts start; successes come in
/// time order, so each burst is looked at once, by the first success of its key at or after its start.
#[derive(Default)]
struct Watch<'a> {
    by_host: HashMap<&'a str, Starts>,
    by_user: HashMap<&'a str, Starts>,
}

/// The start and index of bursts, by start, and how many of them successes have looked at.
type Starts = (Vec<(Timestamp, usize)>, usize);

impl<'a> Watch<'a> {
    fn new(bursts: &[Burst<'_, 'a>], o: &BurstOptions) -> Self {
        let mut w = Watch::default();
        for (i, b) in bursts.iter().enumerate() {
            let from = b.range(o).0;
            match &b.kind {
                BurstKind::Host(h, users) => {
                    w.by_host.entry(h).or_default().0.push((from, i));
                    for u in users {
                        w.by_user.entry(u).or_default().0.push((from, i));
                    }
                }
                BurstKind::Distributed(u, _) => w.by_user.entry(u).or_default().0.push((from, i)),
            }
        }
        for (list, _) in w.by_host.values_mut().chain(w.by_user.values_mut()) {
            list.sort_by_key(|(from, i)| (*from, *i));
        }
        w
    }

    /// Gives the successful attempt `m` (of `user` from `host`) to the bursts it follows that have no success
    /// yet.
    fn success(&mut self, m: &Members<Login>, user: &str, host: &str, bursts: &mut [Burst<'_, '_>], o: &BurstOptions) {
        let ts = m.first.ts;
        let lists = [self.by_host.get_mut(host).filter(|_| !host.is_empty()), self.by_user.get_mut(user)];
        for (list, next) in lists.into_iter().flatten() {
            while let Some(&(from, i)) = list.get(*next) {
                if from > ts {
                    break;
                }
                *next += 1;
                if let Some(b) = bursts.get_mut(i) {
                    if b.hit.is_none() && ts <= b.range(o).1 {
                        b.hit = Some(Hit { login: m.first, origins: m.iter().map(|l| l.origin).collect() });
                    }
                }
            }
        }
    }
}

fn burst_findings(bursts: Vec<Burst<'_, '_>>, idents: &Idents, o: &BurstOptions, names: &[String]) -> Vec<Finding> {
    let name = |id| idents.get(id).unwrap_or("");
    let mut out = Vec::new();
    for b in bursts {
        let s = &b.attempts;
        let hit = b.hit.as_ref().map(|h| (h, name(h.login.user), name(h.login.host)));
        let f = match &b.kind {
            BurstKind::Host(host, users) => {
                let pattern =
                    if users.len() >= o.spray_users.max(2) { Pattern::PasswordSpray } else { Pattern::BruteForce };
                let users: Vec<String> = users.iter().map(|u| (*u).to_string()).collect();
                let who = match users.as_slice() {
                    [one] => one.clone(),
                    many => format!("{} users", many.len()),
                };
                let prefix = if pattern == Pattern::PasswordSpray { "password spray: " } else { "" };
                let mut title =
                    format!("{prefix}{} failed logins for {who} from {host} within {}", s.len(), session_span(s));
                if let Some((_, u, h)) = hit {
                    title.push_str(&format!(", then a successful login of {u} from {h}"));
                }
                let mut f = burst_finding(s, b.hit.as_ref(), pattern, title, o, names);
                f.user = (users.len() == 1).then(|| users.first().cloned()).flatten();
                f.users = users;
                f.host = Some((*host).to_string());
                f.hosts = vec![(*host).to_string()];
                f.public_address = Some(is_public(host));
                f
            }
            BurstKind::Distributed(user, hosts) => {
                let mut title = format!(
                    "distributed: {} failed logins for {user} from {} hosts within {}",
                    s.len(),
                    hosts.len(),
                    session_span(s)
                );
                if let Some((_, _, h)) = hit {
                    title.push_str(&format!(", then a successful login from {h}"));
                }
                let mut f = burst_finding(s, b.hit.as_ref(), Pattern::Distributed, title, o, names);
                f.user = Some((*user).to_string());
                f.users = vec![(*user).to_string()];
                f.public_address = Some(hosts.iter().any(|h| is_public(h)));
                f.hosts = hosts.iter().map(|h| (*h).to_string()).collect();
                f
            }
        };
        out.push(f);
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
    hit: Option<&Hit>,
    pattern: Pattern,
    title: String,
    o: &BurstOptions,
    names: &[String],
) -> Finding {
    let t0 = s.first().map_or(Timestamp::from_epoch_micros(0), |a| a.login.ts);
    let t1 = s.last().map_or(t0, |a| a.login.ts);
    let severity = if hit.is_some() { Severity::Critical } else { Severity::High };
    let mut f = Finding::new(Detector::FailedLoginBurst, severity, title, t0, t1, s.len() as u64);
    let origins = s.iter().flat_map(|a| a.origins()).chain(hit.iter().flat_map(|h| h.origins.iter().copied()));
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
    sessions: &HashMap<(u32, u64), (Ident, Ident)>,
    idents: &Idents,
    known: Option<&Baseline>,
    names: &[String],
) -> Vec<Finding> {
    facts.sort_by_key(|a| (a.ts, a.origin));
    let mut out = Vec::new();
    for group in pair_all(&facts) {
        let g: Vec<&DclFact> = group.iter().copied().collect();
        let Some(first) = g.first() else { continue };
        // Who ran a general-log connection: its Connect line.
        let session = |f: &DclFact| {
            let (u, h) = sessions.get(&(f.origin.input, f.conn_id?))?;
            Some((idents.get(*u)?, idents.get(*h)?))
        };
        let account = g
            .iter()
            .find_map(|f| Some((f.user.as_deref()?, f.host.as_deref()?)))
            .or_else(|| g.iter().find_map(|f| session(f)));
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

/// The successful logins of one (user, host) outside the baseline.
struct NewHost {
    first: Timestamp,
    last: Timestamp,
    count: u64,
    gathered: Gathered,
}

/// Successful logins from hosts outside the baseline, once per (user, host).
fn unusual(
    new: HashMap<(Ident, Ident), NewHost>,
    idents: &Idents,
    baseline: &Baseline,
    names: &[String],
) -> Vec<Finding> {
    let named: BTreeMap<(&str, &str), NewHost> =
        new.into_iter().filter_map(|((u, h), n)| Some(((idents.get(u)?, idents.get(h)?), n))).collect();
    let mut out = Vec::new();
    for ((u, h), n) in named {
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
        let plural = if n.count == 1 { "" } else { "s" };
        let title = format!("{u} logged in from a new host {h} ({} login{plural})", n.count);
        let mut f = Finding::new(Detector::UnusualHost, severity, title, n.first, n.last, n.count);
        (f.evidence, f.evidence_total, f.logs) = n.gathered.finish(names);
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

/// What the unusual-host detector compares with: a baseline given, or one learned from the logins before a
/// time, or none.
enum Known<'p> {
    Given(&'p Baseline),
    /// Learned from the logins before this time (`None`: from all, for `auditlog baseline`).
    Learn(Option<Timestamp>),
    Off,
}

/// What one pass over the successful logins gives.
#[derive(Default)]
struct Successes {
    /// Successful attempts (the same login in several logs once).
    count: u64,
    learned: Option<Baseline>,
    /// Per (user, host) outside the baseline, after the learning period.
    new_hosts: HashMap<(Ident, Ident), NewHost>,
    /// The account of each connection (input, connection id) a DCL statement ran on: its last Connect.
    sessions: HashMap<(u32, u64), (Ident, Ident)>,
    /// Logins that could not be written to disk (kept in memory: complete).
    write_error: Option<String>,
    /// Logins that could not be read back from disk (some are missing).
    read_error: Option<String>,
}

/// Reads the successful logins once, in time order: counts the attempts, learns the baseline, gives bursts the
/// success that followed them, gathers logins from new hosts and the accounts of the connections in `conns`.
fn read_successes<'a>(
    accepted: Accepted,
    idents: &'a Idents,
    bursts: &mut [Burst<'_, 'a>],
    o: &BurstOptions,
    known: &Known<'_>,
    conns: &HashSet<(u32, u64)>,
) -> Successes {
    let mut watch = Watch::new(bursts, o);
    let mut out = Successes::default();
    let (mut learned, until) = match known {
        Known::Learn(until) => (Some(Baseline { version: 1, ..Baseline::default() }), *until),
        _ => (None, None),
    };
    let mut learned_span: Option<(Timestamp, Timestamp)> = None;
    let name = |id| idents.get(id).unwrap_or("");
    let mut pairer = Pairer::new(accepted.logs());
    let mut sorted = accepted.into_sorted();
    let mut attempt = |m: Members<Login>| {
        let l = m.first;
        let (u, h) = (name(l.user), name(l.host));
        out.count += 1;
        watch.success(&m, u, h, bursts, o);
        if let Some(b) = learned.as_mut().filter(|_| until.is_none_or(|t| l.ts < t)) {
            if !u.is_empty() && !h.is_empty() {
                b.add(u, h);
            }
            learned_span = Some((learned_span.map_or(l.ts, |s| s.0), l.ts));
            return;
        }
        let baseline = match known {
            Known::Given(b) => Some(*b),
            _ => learned.as_ref(),
        };
        if baseline.is_some_and(|b| !u.is_empty() && !h.is_empty() && !b.contains(u, h)) {
            let n = out.new_hosts.entry((l.user, l.host)).or_insert_with(|| NewHost {
                first: l.ts,
                last: l.ts,
                count: 0,
                gathered: Gathered::default(),
            });
            n.last = l.ts;
            n.count += 1;
            m.iter().for_each(|x| n.gathered.add(x.origin));
        }
    };
    let mut sessions = HashMap::new();
    for l in sorted.by_ref() {
        if let Some(c) = l.conn_id.filter(|c| conns.contains(&(l.origin.input, *c))) {
            if l.user != Ident::NONE && l.host != Ident::NONE {
                sessions.insert((l.origin.input, c), (l.user, l.host));
            }
        }
        pairer.push(l, &mut attempt);
    }
    pairer.finish(&mut attempt);
    if let Some(b) = learned.as_mut() {
        b.first_login = learned_span.map(|s| s.0.to_rfc3339());
        b.last_login = learned_span.map(|s| s.1.to_rfc3339());
    }
    out.learned = learned;
    out.sessions = sessions;
    (out.write_error, out.read_error) = (sorted.write_error.take(), sorted.read_error());
    out
}

/// Severity (highest first), then time, detector, host, user and title.
fn report_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    b.severity
        .cmp(&a.severity)
        .then(a.first_seen.cmp(&b.first_seen))
        .then(a.detector.cmp(&b.detector))
        .then_with(|| a.host.cmp(&b.host))
        .then_with(|| a.user.cmp(&b.user))
        .then_with(|| a.title.cmp(&b.title))
}

/// The findings in [`report_order`], each moved once. The positions are sorted,
/// not the findings: a finding is a few hundred bytes, and a sort moves elements many times (with one finding
/// per new host, sorting 437,500 findings in place took about 0.3 s more).
fn in_report_order(findings: Vec<Finding>) -> Vec<Finding> {
    let mut positions: Vec<usize> = (0..findings.len()).collect();
    positions.sort_by(|&a, &b| match (findings.get(a), findings.get(b)) {
        (Some(x), Some(y)) => report_order(x, y),
        _ => std::cmp::Ordering::Equal,
    });
    // Where each finding goes, then swaps that put one finding in its place each (no second list).
    let mut dest = vec![0; positions.len()];
    for (to, from) in positions.into_iter().enumerate() {
        if let Some(d) = dest.get_mut(from) {
            *d = to;
        }
    }
    let mut findings = findings;
    for i in 0..dest.len() {
        while let Some(&d) = dest.get(i).filter(|d| **d != i && **d < findings.len()) {
            findings.swap(i, d);
            dest.swap(i, d);
        }
    }
    findings
}

/// The failed and refused logins, sorted by time.
fn sorted_refused(acc: &mut Partial) -> Vec<Login> {
    let mut logins = std::mem::take(&mut acc.refused);
    logins.shrink_to_fit();
    logins.sort_unstable_by_key(|a| (a.ts, a.origin));
    logins
}

/// Learns which hosts each user logs in from (for `auditlog baseline`); the error says why some logins could not
/// be read back from disk (logins that could not be written stayed in memory and are all counted).
pub(crate) fn learn(mut acc: Partial) -> (Baseline, Option<String>) {
    let idents = std::mem::take(&mut acc.idents);
    let ok =
        read_successes(acc.accepted, &idents, &mut [], &BurstOptions::default(), &Known::Learn(None), &HashSet::new());
    (ok.learned.unwrap_or_default(), ok.read_error)
}

pub(crate) fn run(mut acc: Partial, inputs: Vec<InputSummary>, opts: &AnalyzeOptions) -> Report {
    let names: Vec<String> = inputs.iter().map(|i| i.file.clone()).collect();
    let refused = sorted_refused(&mut acc);
    let idents = std::mem::take(&mut acc.idents);
    let attempts = dedupe(&refused, &idents);
    let failed: Vec<&Attempt<'_>> = attempts.iter().filter(|a| a.failed()).collect();
    let o = &opts.burst;
    let mut bursts = find_bursts(&failed, o);
    // The unusual-host baseline: given, or learned from the first part of the period.
    let start = opts.since.or(acc.first);
    let (known, mode, learned_until) = match (&opts.baseline, opts.learn_us, start) {
        (Some(b), _, _) => (Known::Given(b), "baseline", None),
        (None, Some(d), Some(t0)) => {
            let until = Timestamp::from_epoch_micros(t0.epoch_micros().saturating_add(d));
            (Known::Learn(Some(until)), "learned", Some(until))
        }
        _ => (Known::Off, "off", None),
    };
    let conns = acc.dcl.iter().filter_map(|f| Some((f.origin.input, f.conn_id?))).collect();
    let ok = read_successes(std::mem::take(&mut acc.accepted), &idents, &mut bursts, o, &known, &conns);
    let baseline = opts.baseline.as_ref().or(ok.learned.as_ref());
    let mut findings = burst_findings(bursts, &idents, o, &names);
    findings.extend(dcl_findings(std::mem::take(&mut acc.dcl), &ok.sessions, &idents, baseline, &names));
    if let Some(b) = baseline {
        findings.extend(unusual(ok.new_hosts, &idents, b, &names));
    }
    let findings = in_report_order(findings);
    let mut per_log: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for ((log, kind), n) in acc.kinds.iter() {
        per_log.entry(log.as_str().to_string()).or_default().insert(kind.as_str().to_string(), n);
    }
    let logins_count = Logins {
        successful: ok.count,
        failed: failed.len() as u64,
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
        warnings: ok.write_error.into_iter().chain(ok.read_error).collect(),
    };
    Report { summary, findings }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Sorting positions and moving each finding into place gives the order a stable sort of the findings
        /// gives (many ties: few severities, times, hosts and titles).
        #[test]
        fn report_order_equals_a_stable_sort(
            keys in proptest::collection::vec((0u8..4, 0i64..3, 0u8..3, 0u8..3, 0u8..2, 0u32..1000), 0..60),
        ) {
            let sev = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];
            let det = [Detector::FailedLoginBurst, Detector::DclChange, Detector::UnusualHost];
            let findings: Vec<Finding> = keys
                .iter()
                .map(|(s, t, d, h, ti, id)| {
                    let title = format!("t{ti}");
                    let ts = Timestamp::from_epoch_micros(*t);
                    let mut f = Finding::new(det[usize::from(*d)], sev[usize::from(*s)], title, ts, ts, 1);
                    f.host = (*h > 0).then(|| format!("h{h}"));
                    // Tells findings that compare equal apart, to check stability.
                    f.count = u64::from(*id);
                    f
                })
                .collect();
            let mut expected = findings.clone();
            expected.sort_by(report_order);
            proptest::prop_assert_eq!(in_report_order(findings), expected);
        }
    }

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
