//! # auditlog-core
//!
//! Zero-copy parsers for the logs of Amazon Aurora MySQL, RDS for MySQL and MariaDB: the audit log (Aurora
//! Advanced Auditing, the RDS audit plugin, MariaDB server_audit), the general query log, the slow query log
//! and the error log. Every record becomes one normalized [`Event`] that borrows from the input, or a
//! [`Malformed`] report with its position and reason; blank lines, start-up banners and download truncation
//! markers are [`Skipped`]. Nothing is lost silently and no input makes the parsers panic.
//!
//! The library prints nothing and never exits: the `auditlog` command-line tool is a thin layer over it.
//!
//! ```
//! use std::ops::ControlFlow;
//! use auditlog_core::{read, EventKind, Item, ReadOptions};
//!
//! let log = b"1703817810076091,aurora-mysql-instance-1,rdsadmin,localhost,223170,0,CONNECT,,,0
//! 1703817811000001,aurora-mysql-instance-1,admin,203.0.113.7,223171,0,FAILED_CONNECT,,,1045
//! 1703817811000002,aurora-mysql-instance-1,admin,203.0.113.7,223172,0,FAILED_CONNECT,,,1045
//! ";
//! let mut failed = 0;
//! let summary = read(&log[..], &ReadOptions::default(), |item| {
//!     if let Item::Event(ev) = item {
//!         if ev.kind == EventKind::FailedConnect {
//!             failed += 1;
//!         }
//!     }
//!     ControlFlow::Continue(())
//! })?;
//! assert_eq!(summary.format, Some(auditlog_core::Format::Audit));
//! assert_eq!(summary.malformed, 0);
//! assert_eq!(failed, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For a buffer already in memory, [`Parser::records`] iterates items directly; for files, folders and
//! standard input, see [`source`].
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]
#![doc(test(attr(deny(warnings))))]

pub mod analyze;
pub mod chunk;
#[cfg(feature = "cloudwatch")]
pub mod cloudwatch;
pub mod digest;
mod error;
mod event;
pub mod format;
pub mod query;
mod read;
pub mod redact;
pub mod source;
mod time;

pub use error::{Error, ErrorKind, Malformed, Reason};
pub use event::{
    lossy, unescape_audit, Dialect, Escaping, Event, EventKind, Extra, LogType, MetricValue, Position, SlowMetrics, Sql,
};
pub use format::{sniff, Format, Item, Parser, Records, SkipReason, Skipped};
pub use read::{read, ReadOptions, ReadSummary};
pub use time::Timestamp;

#[cfg(feature = "serde")]
mod ser;
