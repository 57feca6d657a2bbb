//! Findings: what the detectors report.

use crate::event::LogType;
use crate::time::Timestamp;

use super::dcl::Category;

/// How urgent a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Should be reviewed.
    Medium,
    /// Likely an attack or a dangerous change.
    High,
    /// An attack that seems to have succeeded.
    Critical,
}

impl Severity {
    /// The lower-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(crate::Error::new(crate::ErrorKind::InvalidArgument(format!(
                "unknown severity `{s}`: expected low, medium, high or critical"
            )))),
        }
    }
}

/// Which detector produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Detector {
    /// Bursts of failed logins.
    FailedLoginBurst,
    /// Account and privilege changes.
    DclChange,
    /// Successful logins from hosts outside the user's baseline.
    UnusualHost,
}

impl Detector {
    /// The snake-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Detector::FailedLoginBurst => "failed_login_burst",
            Detector::DclChange => "dcl_change",
            Detector::UnusualHost => "unusual_host",
        }
    }
}

/// The shape of a failed-login burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Pattern {
    /// One client host trying one or few users.
    BruteForce,
    /// One client host trying many distinct users.
    PasswordSpray,
    /// One user tried from many hosts.
    Distributed,
}

impl Pattern {
    /// The snake-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Pattern::BruteForce => "brute_force",
            Pattern::PasswordSpray => "password_spray",
            Pattern::Distributed => "distributed",
        }
    }
}

/// A record that supports a finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Evidence {
    /// The input name (`-` for standard input).
    pub file: String,
    /// 1-based line where the record starts.
    pub line: u64,
    /// Which log it is.
    pub log: LogType,
}

/// One finding. Fields that do not apply to its detector are `None` or empty.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Finding {
    /// The detector.
    pub detector: Detector,
    /// The severity.
    pub severity: Severity,
    /// One line for people.
    pub title: String,
    /// The user (burst of one user, DCL executor, unusual login).
    pub user: Option<String>,
    /// All users involved (bursts).
    pub users: Vec<String>,
    /// The client host.
    pub host: Option<String>,
    /// All hosts involved (distributed bursts).
    pub hosts: Vec<String>,
    /// First record of the finding.
    pub first_seen: Timestamp,
    /// Last record of the finding.
    pub last_seen: Timestamp,
    /// How many records (failed logins, logins, statements) it covers, each counted once across logs.
    pub count: u64,
    /// Bursts: the pattern.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub pattern: Option<Pattern>,
    /// Bursts: a successful login from the same host or for a tried user followed within the window.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub followed_by_success: Option<bool>,
    /// Bursts: when that successful login happened.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub success_at: Option<Timestamp>,
    /// DCL: the statement, secrets redacted.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub statement: Option<String>,
    /// DCL: the category.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub category: Option<Category>,
    /// DCL: the return code (non-zero: the server refused the statement).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub retcode: Option<i64>,
    /// DCL: the server refused the statement.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub refused: Option<bool>,
    /// Unusual host: the address is public (not private, loopback or link-local).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub public_address: Option<bool>,
    /// Why the severity is what it is.
    pub reasons: Vec<String>,
    /// The logs the records were found in.
    pub logs: Vec<LogType>,
    /// Supporting records (the first few; `evidence_total` counts all).
    pub evidence: Vec<Evidence>,
    /// How many supporting records there are in all.
    pub evidence_total: u64,
}

impl Finding {
    /// A finding with the common fields set and the detector-specific ones empty.
    pub(crate) fn new(
        detector: Detector,
        severity: Severity,
        title: String,
        first_seen: Timestamp,
        last_seen: Timestamp,
        count: u64,
    ) -> Self {
        Finding {
            detector,
            severity,
            title,
            user: None,
            users: Vec::new(),
            host: None,
            hosts: Vec::new(),
            first_seen,
            last_seen,
            count,
            pattern: None,
            followed_by_success: None,
            success_at: None,
            statement: None,
            category: None,
            retcode: None,
            refused: None,
            public_address: None,
            reasons: Vec::new(),
            logs: Vec::new(),
            evidence: Vec::new(),
            evidence_total: 0,
        }
    }
}
