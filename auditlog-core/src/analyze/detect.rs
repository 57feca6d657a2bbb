//! The detectors, run over facts sorted by time across all inputs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::IpAddr;

use super::logins::LoginStore;
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

/// Distinct names, without an allocation for the first (most bursts try one user, most users are tried from
/// one host).
#[derive(Default)]
struct Names<'a> {
    first: Option<&'a str>,
    more: HashSet<&'a str>,
}

impl<'a> Names<'a> {
    fn add(&mut self, n: &'a str) {
        match self.first {
            None => self.first = Some(n),
            Some(f) if f == n => {}
            Some(_) => {
                self.more.insert(n);
            }
        }
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    fn sorted(self) -> BTreeSet<&'a str> {
        self.first.into_iter().chain(self.more).collect()
    }
}

/// The failed attempts under one key (a host, or a user) whose consecutive gaps are at most the window, followed
/// as they arrive in time order: what a burst finding needs (times, count, names, evidence), not the attempts.
struct Session<'a> {
    first: Timestamp,
    last: Timestamp,
    count: u64,
    /// The times of the latest attempts, at most `threshold - 1`, until some window has held `threshold`.
    recent: VecDeque<i64>,
    /// Some window of the session has held `threshold` attempts: it is a burst.
    qualified: bool,
    /// The users tried from the host, or the hosts (not empty) that tried the user.
    names: Names<'a>,
    gathered: Gathered,
}

impl<'a> Session<'a> {
    fn new(first: Timestamp) -> Self {
        Session {
            first,
            last: first,
            count: 0,
            recent: VecDeque::new(),
            qualified: false,
            names: Names::default(),
            gathered: Gathered::default(),
        }
    }

    /// Whether an attempt at `t` (or later) comes more than a window after the last one: it cannot continue the
    /// session.
    fn ended_by(&self, t: Timestamp, o: &BurstOptions) -> bool {
        t.epoch_micros() - self.last.epoch_micros() > o.window_us
    }

    fn add(&mut self, m: &Members<Login>, name: Option<&'a str>, o: &BurstOptions) {
        self.count += 1;
        self.last = m.first.ts;
        if let Some(n) = name {
            self.names.add(n);
        }
        m.iter().for_each(|l| self.gathered.add(l.origin));
        if self.qualified {
            return;
        }
        // Times never decrease, so `threshold` attempts fit in a window exactly when this one and the
        // `threshold - 1` before it do.
        let before = o.threshold.max(1) - 1;
        let t = m.first.ts.epoch_micros();
        if self.recent.len() >= before && self.recent.front().is_none_or(|f| t - f <= o.window_us) {
            self.qualified = true;
            self.recent = VecDeque::new();
        } else {
            if self.recent.len() >= before {
                self.recent.pop_front();
            }
            self.recent.push_back(t);
        }
    }
}

/// Which key a [`Session`] follows.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Host,
    User,
}

/// Finds the bursts among failed attempts given in time order: per host (brute force or password spray), then
/// per user (distributed). Only the sessions of hosts and users with an attempt within the last window are
/// kept, so memory grows with the hosts and users active at once and with the bursts found, not with the
/// attempts.
struct BurstFinder<'a, 'o> {
    o: &'o BurstOptions,
    by_host: HashMap<&'a str, Session<'a>>,
    by_user: HashMap<&'a str, Session<'a>>,
    bursts: Vec<Burst<'a>>,
    pushed: usize,
    next_sweep: usize,
}

impl<'a, 'o> BurstFinder<'a, 'o> {
    fn new(o: &'o BurstOptions) -> Self {
        BurstFinder {
            o,
            by_host: HashMap::new(),
            by_user: HashMap::new(),
            bursts: Vec::new(),
            pushed: 0,
            next_sweep: 0,
        }
    }

    /// The next failed attempt (at or after the previous one).
    fn push(&mut self, m: &Members<Login>, idents: &'a Idents) {
        let name = |id| idents.get(id).unwrap_or("");
        let (user, host) = (name(m.first.user), name(m.first.host));
        if self.pushed >= self.next_sweep {
            self.sweep(m.first.ts);
            self.next_sweep = self.pushed + (self.by_host.len() + self.by_user.len()).max(4096);
        }
        self.pushed += 1;
        if !host.is_empty() {
            follow(&mut self.by_host, &mut self.bursts, Side::Host, host, Some(user), m, self.o);
        }
        let host = (!host.is_empty()).then_some(host);
        follow(&mut self.by_user, &mut self.bursts, Side::User, user, host, m, self.o);
    }

    /// Ends the sessions whose last attempt is more than a window before `now`: no later attempt can continue
    /// them. (Amortized: the sweep runs after as many attempts as there are sessions.)
    fn sweep(&mut self, now: Timestamp) {
        let (o, bursts) = (self.o, &mut self.bursts);
        for (side, map) in [(Side::Host, &mut self.by_host), (Side::User, &mut self.by_user)] {
            map.retain(|key, s| {
                if !s.ended_by(now, o) {
                    return true;
                }
                let s = std::mem::replace(s, Session::new(s.first));
                close(bursts, side, key, s, o);
                false
            });
        }
    }

    /// The bursts: per host, by host name, then per user, by user name; each key's in time order.
    fn finish(mut self) -> Vec<Burst<'a>> {
        let o = self.o;
        for (side, map) in [(Side::Host, self.by_host), (Side::User, self.by_user)] {
            for (key, s) in map {
                close(&mut self.bursts, side, key, s, o);
            }
        }
        self.bursts.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        self.bursts
    }
}

/// Adds an attempt to the session of `key`, ending it first (a burst or not) when the attempt comes more than a
/// window after its last one.
fn follow<'a>(
    map: &mut HashMap<&'a str, Session<'a>>,
    bursts: &mut Vec<Burst<'a>>,
    side: Side,
    key: &'a str,
    name: Option<&'a str>,
    m: &Members<Login>,
    o: &BurstOptions,
) {
    let t = m.first.ts;
    let s = map.entry(key).or_insert_with(|| Session::new(t));
    if s.ended_by(t, o) {
        let ended = std::mem::replace(s, Session::new(t));
        close(bursts, side, key, ended, o);
    }
    s.add(m, name, o);
}

/// Keeps an ended session that is a burst: some window held the threshold, and for a user, enough hosts tried it.
fn close<'a>(bursts: &mut Vec<Burst<'a>>, side: Side, key: &'a str, s: Session<'a>, o: &BurstOptions) {
    if !s.qualified {
        return;
    }
    let kind = match side {
        Side::Host => BurstKind::Host(key, s.names.sorted()),
        Side::User if s.names.len() >= o.distributed_hosts.max(2) => BurstKind::Distributed(key, s.names.sorted()),
        Side::User => return,
    };
    bursts.push(Burst { kind, first: s.first, last: s.last, count: s.count, gathered: s.gathered, hit: None });
}

/// A burst of failed logins: from one host (brute force or password spray) or for one user from many hosts
/// (distributed), and the first successful login that matches it, once the successes were read.
struct Burst<'a> {
    kind: BurstKind<'a>,
    first: Timestamp,
    last: Timestamp,
    /// Failed attempts.
    count: u64,
    /// Their records.
    gathered: Gathered,
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

impl<'a> Burst<'a> {
    /// The time range a success must fall in to follow the burst: from its first failure to a window after its
    /// last.
    fn range(&self, o: &BurstOptions) -> (Timestamp, Timestamp) {
        (self.first, Timestamp::from_epoch_micros(self.last.epoch_micros().saturating_add(o.window_us)))
    }

    /// Host bursts first, by host, then user bursts, by user; then by time.
    fn order_key(&self) -> (Side, &'a str, Timestamp) {
        match self.kind {
            BurstKind::Host(h, _) => (Side::Host, h, self.first),
            BurstKind::Distributed(u, _) => (Side::User, u, self.first),
        }
    }
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
    fn new(bursts: &[Burst<'a>], o: &BurstOptions) -> Self {
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
    fn success(&mut self, m: &Members<Login>, user: &str, host: &str, bursts: &mut [Burst<'_>], o: &BurstOptions) {
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

fn burst_findings(bursts: Vec<Burst<'_>>, idents: &Idents, o: &BurstOptions, names: &[String]) -> Vec<Finding> {
    let name = |id| idents.get(id).unwrap_or("");
    let mut out = Vec::new();
    for b in bursts {
        let took = span(b.last.epoch_micros() - b.first.epoch_micros());
        let hit = b.hit.as_ref().map(|h| (name(h.login.user), name(h.login.host)));
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
                let mut title = format!("{prefix}{} failed logins for {who} from {host} within {took}", b.count);
                if let Some((u, h)) = hit {
                    title.push_str(&format!(", then a successful login of {u} from {h}"));
                }
                let host = (*host).to_string();
                let public = is_public(&host);
                let mut f = burst_finding(b, pattern, title, o, names);
                f.user = (users.len() == 1).then(|| users.first().cloned()).flatten();
                f.users = users;
                f.host = Some(host.clone());
                f.hosts = vec![host];
                f.public_address = Some(public);
                f
            }
            BurstKind::Distributed(user, hosts) => {
                let mut title = format!(
                    "distributed: {} failed logins for {user} from {} hosts within {took}",
                    b.count,
                    hosts.len()
                );
                if let Some((_, h)) = hit {
                    title.push_str(&format!(", then a successful login from {h}"));
                }
                let user = (*user).to_string();
                let public = hosts.iter().any(|h| is_public(h));
                let hosts = hosts.iter().map(|h| (*h).to_string()).collect();
                let mut f = burst_finding(b, Pattern::Distributed, title, o, names);
                f.user = Some(user.clone());
                f.users = vec![user];
                f.public_address = Some(public);
                f.hosts = hosts;
                f
            }
        };
        out.push(f);
    }
    out
}

/// The fields every burst finding has: times, count, severity (critical when a success followed), evidence
/// (the failures, then the success), reasons.
fn burst_finding(b: Burst<'_>, pattern: Pattern, title: String, o: &BurstOptions, names: &[String]) -> Finding {
    let severity = if b.hit.is_some() { Severity::Critical } else { Severity::High };
    let mut f = Finding::new(Detector::FailedLoginBurst, severity, title, b.first, b.last, b.count);
    let mut gathered = b.gathered;
    for origin in b.hit.iter().flat_map(|h| &h.origins) {
        gathered.add(*origin);
    }
    (f.evidence, f.evidence_total, f.logs) = gathered.finish(names);
    f.pattern = Some(pattern);
    f.followed_by_success = Some(b.hit.is_some());
    f.success_at = b.hit.map(|h| h.login.ts);
    f.reasons = vec![format!("{} failed logins within {}", b.count, span(o.window_us))];
    if f.followed_by_success == Some(true) {
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
    accepted: LoginStore,
    idents: &'a Idents,
    bursts: &mut [Burst<'a>],
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
    (out.write_error, out.read_error) = (sorted.write_error.take(), sorted.read_error("successful logins"));
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

/// What one pass over the failed and refused logins gives.
struct Failures<'a> {
    /// Failed attempts (the same attempt in several logs once).
    failed: u64,
    /// Attempts refused the database (errno 1044): not failed logins.
    denied: u64,
    bursts: Vec<Burst<'a>>,
    /// Logins that could not be written to disk (kept in memory: complete).
    write_error: Option<String>,
    /// Logins that could not be read back from disk (some are missing).
    read_error: Option<String>,
}

/// Reads the failed and refused logins once, in time order: the same attempt in several logs once, counted, and
/// the failed ones given to the [`BurstFinder`].
fn read_failures<'a>(refused: LoginStore, idents: &'a Idents, o: &BurstOptions) -> Failures<'a> {
    let mut finder = BurstFinder::new(o);
    let (mut failed, mut denied) = (0, 0);
    let mut pairer = Pairer::new(refused.logs());
    let mut sorted = refused.into_sorted();
    let mut attempt = |m: Members<Login>| {
        if m.first.db_denied {
            denied += 1;
        } else {
            failed += 1;
            finder.push(&m, idents);
        }
    };
    for l in sorted.by_ref() {
        pairer.push(l, &mut attempt);
    }
    pairer.finish(&mut attempt);
    let read_error = sorted.read_error("failed logins");
    Failures { failed, denied, bursts: finder.finish(), write_error: sorted.write_error.take(), read_error }
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
    let idents = std::mem::take(&mut acc.idents);
    let o = &opts.burst;
    let failures = read_failures(std::mem::take(&mut acc.refused), &idents, o);
    let mut bursts = failures.bursts;
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
    let logins_count = Logins { successful: ok.count, failed: failures.failed, database_denied: failures.denied };
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
        warnings: [ok.write_error, ok.read_error, failures.write_error, failures.read_error]
            .into_iter()
            .flatten()
            .collect(),
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
