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
    /// Find failed-login bursts, privilege changes (DCL) and logins from unusual hosts.
    ///
    /// Prints a summary and the findings by severity. Exit code 0 when no finding is at or above --fail-on,
    /// 1 when there is one, 2 on errors. Thresholds come from flags, then the --config file, then defaults.
    Analyze(AnalyzeArgs),
    /// Learn which client hosts each user logs in from, for `analyze --baseline`.
    Baseline(BaselineArgs),
    /// Download the raw records of CloudWatch Logs to standard output or to files.
    ///
    /// Writes each event's message as one record (line end added), so the output reads like the log file on the
    /// instance: keep it as evidence and analyze it offline. With --output-dir, one file per DB instance and log
    /// type: DIR/INSTANCE/TYPE.log.
    Fetch(crate::fetch::FetchArgs),
    /// Run a CloudWatch Logs Insights-style query (`filter`, `stats`, `sort`, ...) over logs.
    ///
    /// Example: auditlog query 'filter kind = "failed_connect" | stats count(*) by host, bin(5m)' logs/
    Query(QueryArgs),
    /// Group statements of slow, general and audit logs by fingerprint, as pt-query-digest does.
    Digest(DigestArgs),
}

/// Report shape of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A report for people (coloured on a terminal).
    Text,
    /// One JSON document `{"summary": {...}, "findings": [...]}`.
    Json,
}

/// When to colour the text report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `--fail-on` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    Low,
    Medium,
    High,
    Critical,
    /// Never exit 1 because of findings.
    Never,
}

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Report shape.
    #[arg(long, short = 'o', value_enum, default_value_t = ReportFormat::Text)]
    pub output: ReportFormat,

    /// Threads of work, the reading thread included (default: one per core). The result is the same with any number.
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,

    /// Failed-login burst window (default 60s).
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,

    /// Failed logins within the window that make a burst (default 5).
    #[arg(long, value_name = "N")]
    pub threshold: Option<usize>,

    /// Distinct users tried from one host that make a password spray (default 3).
    #[arg(long, value_name = "N")]
    pub spray_users: Option<usize>,

    /// Distinct hosts trying one user that make a distributed attack (default 3).
    #[arg(long, value_name = "N")]
    pub distributed_hosts: Option<usize>,

    /// Known client hosts per user (from `auditlog baseline`): logins from other hosts are flagged.
    #[arg(long, value_name = "FILE", conflicts_with = "learn")]
    pub baseline: Option<PathBuf>,

    /// Without a baseline: learn it from the first DURATION of the analysed period (e.g. 1h, 2d).
    #[arg(long, value_name = "DURATION")]
    pub learn: Option<String>,

    /// Exit with code 1 when a finding has at least this severity (default high).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,

    /// A TOML file with defaults for the options above (see README).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Colour the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Where to write the baseline JSON (`-` for standard output).
    #[arg(long = "output-file", short = 'o', value_name = "FILE", default_value = "-")]
    pub output_file: PathBuf,

    /// Threads of work, the reading thread included (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
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

    #[command(flatten)]
    pub cloudwatch: crate::cloudwatch::CloudWatchArgs,
}

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Output shape.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Jsonl)]
    pub output: Output,
}

/// Output shape of `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryOutput {
    /// Aligned columns for people; every field sanitized for the terminal.
    Table,
    /// One JSON object per row.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON array of row objects.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The query, e.g. 'filter user = "admin" | stats count(*) by host', or @FILE to read it from a file. See
    /// README, section `auditlog query`.
    #[arg(value_name = "QUERY")]
    pub query: String,

    #[command(flatten)]
    pub input: InputArgs,

    /// Output shape.
    #[arg(long, short = 'o', value_enum, default_value_t = QueryOutput::Table)]
    pub output: QueryOutput,

    /// Threads of work, the reading thread included (default: one per core). The result is the same with any number.
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
}

/// Output shape of `digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DigestOutput {
    /// A report for people.
    Table,
    /// One JSON document.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct DigestArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Output shape.
    #[arg(long, short = 'o', value_enum, default_value_t = DigestOutput::Table)]
    pub output: DigestOutput,

    /// Show only the first N classes (0: all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,

    /// Threads of work, the reading thread included (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
}
