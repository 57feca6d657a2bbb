//! Baselines: which client hosts each user logs in from.

use std::collections::{BTreeMap, BTreeSet};

/// The client hosts each user was seen logging in from successfully.
///
/// ```
/// use auditlog_core::analyze::Baseline;
/// let mut b = Baseline::default();
/// b.add("app", "10.0.0.5");
/// assert!(b.contains("app", "10.0.0.5"));
/// assert!(!b.contains("app", "203.0.113.9"));
/// assert!(!b.contains("other", "10.0.0.5"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Baseline {
    /// Format version of the file (1).
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    pub version: u32,
    /// Time of the first login learned from (RFC 3339), for people reading the file.
    #[cfg_attr(feature = "serde", serde(default))]
    pub first_login: Option<String>,
    /// Time of the last login learned from.
    #[cfg_attr(feature = "serde", serde(default))]
    pub last_login: Option<String>,
    /// User name → the client hosts of their successful logins.
    pub users: BTreeMap<String, BTreeSet<String>>,
}

#[cfg(feature = "serde")]
fn one() -> u32 {
    1
}

impl Baseline {
    /// Records that `user` logged in from `host`.
    pub fn add(&mut self, user: &str, host: &str) {
        self.version = 1;
        self.users.entry(user.to_string()).or_default().insert(host.to_string());
    }

    /// Whether `user` is known to log in from `host`.
    #[must_use]
    pub fn contains(&self, user: &str, host: &str) -> bool {
        self.users.get(user).is_some_and(|h| h.contains(host))
    }

    /// Adds everything of `other`.
    pub fn extend(&mut self, other: &Baseline) {
        for (u, hosts) in &other.users {
            for h in hosts {
                self.add(u, h);
            }
        }
    }
}
