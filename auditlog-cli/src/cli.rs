//! Command-line arguments (clap derive). Validation into library types happens in `main.rs`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Find failed-login bursts, privilege changes and unusual logins in Aurora MySQL, RDS for MySQL and MariaDB logs.
#[derive(Debug, Parser)]
#[command(name = "auditlog", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the normalized events of audit, general, slow and error logs.
    ///
    /// Reads files, folders (recursively, rotated files in order), gzip files and standard input (`-`, or no
    /// path with a pipe). The format of each input is detected from its content unless --format is given.
    /// Malformed records are reported on stderr with file, line and reason; a one-line summary follows.
    Events(EventsArgs),
}

/// Where events go and in which shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// One JSON object per line (for programs).
    Jsonl,
    /// Comma-separated values with a header row (for spreadsheets).
    Csv,
    /// Aligned columns for people; every field sanitized for the terminal.
    Table,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Audit,
    General,
    Slow,
    Error,
}

#[derive(Debug, clap::Args)]
pub struct InputArgs {
    /// Log files, folders or `-` for standard input. Without any, standard input is read when it is not a terminal.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The log format of every input, instead of detecting it from the content.
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<FormatArg>,

    /// Only events at or after this time: RFC 3339 (`2024-06-15T10:00:00Z`), `YYYY-MM-DD[ HH:MM[:SS]]` (UTC),
    /// or an age such as `90m`, `2h`, `7d` before now. Events without a time are dropped when a bound is given.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Stop at the first malformed record with exit code 2.
    #[arg(long)]
    pub strict: bool,

    /// Records longer than this many bytes are reported as malformed and skipped (bounds memory).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_record_size: usize,

    /// How many malformed records to describe on stderr (all are counted in the summary).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_reports: u64,

    /// No summary line and no malformed-record reports on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Output shape.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Jsonl)]
    pub output: Output,
}
