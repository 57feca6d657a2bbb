//! CloudWatch Logs inputs: the `--cloudwatch` flags of every reading command, the progress line, retry notices
//! and Ctrl-C. The reading itself is `auditlog_core::cloudwatch`.

use clap::ValueEnum;

/// `--log-type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogTypeArg {
    Audit,
    Error,
    General,
    #[value(alias = "slow")]
    Slowquery,
}

const HEADING: &str = "CloudWatch Logs";

/// Flags that read from CloudWatch Logs instead of (or besides) files.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CloudWatchArgs {
    /// Read from CloudWatch Logs (implied by --cluster, --db-instance and --log-group).
    #[arg(help_heading = HEADING, long)]
    pub cloudwatch: bool,

    /// Aurora cluster: log groups /aws/rds/cluster/NAME/TYPE.
    #[arg(help_heading = HEADING, long, value_name = "NAME", conflicts_with_all = ["db_instance", "log_group"])]
    pub cluster: Option<String>,

    /// RDS DB instance: log groups /aws/rds/instance/ID/TYPE.
    #[arg(help_heading = HEADING, long, value_name = "ID", conflicts_with = "log_group")]
    pub db_instance: Option<String>,

    /// One log group, named in full.
    #[arg(help_heading = HEADING, long, value_name = "GROUP")]
    pub log_group: Option<String>,

    /// Log type to read (repeatable; default: every one of the four that exists).
    #[arg(help_heading = HEADING, long, value_enum, value_name = "TYPE")]
    pub log_type: Vec<LogTypeArg>,

    /// Only this log stream (DB instance); repeatable.
    #[arg(help_heading = HEADING, long, value_name = "NAME")]
    pub stream: Vec<String>,

    /// Only log streams (DB instances) whose name starts with this.
    #[arg(help_heading = HEADING, long, value_name = "PREFIX")]
    pub stream_prefix: Option<String>,

    /// A CloudWatch Logs filter pattern, passed to the service (e.g. '"FAILED_CONNECT"').
    #[arg(help_heading = HEADING, long, value_name = "PATTERN")]
    pub filter_pattern: Option<String>,

    /// AWS region (default: AWS_REGION or the profile's).
    #[arg(help_heading = HEADING, long, value_name = "REGION")]
    pub region: Option<String>,

    /// AWS profile from the shared config files (default: AWS_PROFILE or `default`).
    #[arg(help_heading = HEADING, long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Another CloudWatch Logs endpoint (VPC endpoint, local emulator).
    #[arg(help_heading = HEADING, long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Events per FilterLogEvents page, 1 to 10000 (default: the service's, 10000).
    #[arg(help_heading = HEADING, long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub page_size: Option<i32>,

    /// Attempts per request when throttled or on transient errors (default 10).
    #[arg(help_heading = HEADING, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: Option<u32>,

    /// First retry delay in milliseconds; it doubles with every retry (default 1000).
    #[arg(help_heading = HEADING, long, value_name = "MS", hide = true)]
    pub retry_backoff_ms: Option<u64>,
}

impl CloudWatchArgs {
    /// True when any flag asks for CloudWatch.
    pub fn requested(&self) -> bool {
        self.cloudwatch || self.cluster.is_some() || self.db_instance.is_some() || self.log_group.is_some()
    }
}

#[cfg(feature = "cloudwatch")]
pub use self::imp::*;

#[cfg(feature = "cloudwatch")]
mod imp {
    use std::io::{self, IsTerminal, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use anyhow::{bail, Result};
    pub use auditlog_core::cloudwatch::Stream;
    use auditlog_core::cloudwatch::{
        Client, ConnectOptions, LogKind, Observer, Page, Query, Retry, StreamFilter, Target,
    };
    use auditlog_core::Timestamp;

    use super::{CloudWatchArgs, LogTypeArg};
    use crate::output::sanitize::sanitize;

    /// Totals across streams, for the progress line.
    #[derive(Debug, Default)]
    struct Totals {
        events: u64,
        bytes: u64,
        pages: u64,
        retries: u64,
        throttled: u64,
        last_ts_ms: Option<i64>,
        last_draw: Option<Instant>,
        drawn: bool,
    }

    /// Draws the progress line (on a terminal) and says when requests are retried.
    #[derive(Debug)]
    pub struct Progress {
        totals: Mutex<Totals>,
        start: Instant,
        tty: bool,
        quiet: bool,
    }

    impl Progress {
        fn new(quiet: bool) -> Self {
            Progress {
                totals: Mutex::new(Totals::default()),
                start: Instant::now(),
                tty: !quiet && io::stderr().is_terminal(),
                quiet,
            }
        }

        fn clear(&self, t: &mut Totals) {
            if t.drawn {
                let _ = write!(io::stderr().lock(), "\r\x1b[2K");
                t.drawn = false;
            }
        }

        fn draw(&self, t: &mut Totals, stream: &Stream) {
            let now = Instant::now();
            if t.last_draw.is_some_and(|d| now.duration_since(d) < Duration::from_millis(100)) {
                return;
            }
            t.last_draw = Some(now);
            let secs = self.start.elapsed().as_secs_f64().max(0.001);
            let at = t
                .last_ts_ms
                .map(|ms| Timestamp::from_epoch_micros(ms.saturating_mul(1000)).to_rfc3339())
                .map(|s| s.get(..19).unwrap_or(&s).replace('T', " "))
                .unwrap_or_else(|| "-".into());
            let line = format!(
                "cloudwatch: {} events, {:.1} MB, {:.0} events/s, at {at}, {}/{}",
                t.events,
                t.bytes as f64 / 1e6,
                t.events as f64 / secs,
                stream.group,
                stream.name
            );
            let line: String = sanitize(line.as_bytes()).chars().take(150).collect();
            let _ = write!(io::stderr().lock(), "\r\x1b[2K{line}");
            t.drawn = true;
        }

        /// Clears the progress line and prints the totals.
        pub fn finish(&self, streams: usize) {
            let Ok(mut t) = self.totals.lock() else { return };
            self.clear(&mut t);
            if self.quiet {
                return;
            }
            let retries = if t.retries > 0 {
                format!(
                    ", {} retried request{} ({} throttled)",
                    t.retries,
                    if t.retries == 1 { "" } else { "s" },
                    t.throttled
                )
            } else {
                String::new()
            };
            eprintln!(
                "auditlog: cloudwatch: {} events, {} bytes, {} pages from {streams} stream{} in {:.1}s{retries}",
                t.events,
                t.bytes,
                t.pages,
                if streams == 1 { "" } else { "s" },
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    impl Observer for Progress {
        fn page(&self, page: &Page<'_>) {
            let Ok(mut t) = self.totals.lock() else { return };
            t.events += page.events;
            t.bytes += page.bytes;
            t.pages += 1;
            if page.last_timestamp_ms.is_some() {
                t.last_ts_ms = page.last_timestamp_ms;
            }
            if self.tty {
                self.draw(&mut t, page.stream);
            }
        }

        fn retry(&self, retry: &Retry) {
            let Ok(mut t) = self.totals.lock() else { return };
            t.retries += 1;
            if retry.throttled {
                t.throttled += 1;
            }
            if self.quiet {
                return;
            }
            self.clear(&mut t);
            let what = if retry.throttled {
                "throttled (the account's FilterLogEvents quota is about 5 requests per second)".to_string()
            } else {
                retry.reason.clone()
            };
            eprintln!("auditlog: cloudwatch: request {what}; retrying with backoff");
        }
    }

    /// The streams to read and how, with the client that reads them.
    pub struct Source {
        client: Client,
        pub streams: Vec<Stream>,
        pub query: Query,
        progress: Arc<Progress>,
        interrupted: Arc<AtomicBool>,
    }

    /// The kinds named by `--log-type`.
    fn kinds(args: &CloudWatchArgs) -> Vec<LogKind> {
        args.log_type
            .iter()
            .map(|k| match k {
                LogTypeArg::Audit => LogKind::Audit,
                LogTypeArg::Error => LogKind::Error,
                LogTypeArg::General => LogKind::General,
                LogTypeArg::Slowquery => LogKind::SlowQuery,
            })
            .collect()
    }

    /// Connects and lists the streams. `exact` keeps the time range as given (for `fetch`); otherwise it is
    /// widened and the exact bounds are applied to the parsed records.
    pub fn open(
        args: &CloudWatchArgs,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        quiet: bool,
        exact: bool,
    ) -> Result<Source> {
        let target = match (&args.cluster, &args.db_instance, &args.log_group) {
            (Some(c), _, _) => Target::Cluster(c.clone()),
            (_, Some(i), _) => Target::Instance(i.clone()),
            (_, _, Some(g)) => {
                if !args.log_type.is_empty() {
                    bail!("--log-type goes with --cluster or --db-instance; --log-group names one group in full");
                }
                Target::LogGroup(g.clone())
            }
            _ => bail!("--cloudwatch needs --cluster NAME, --db-instance ID or --log-group GROUP"),
        };
        let progress = Arc::new(Progress::new(quiet));
        let opts = ConnectOptions {
            region: args.region.clone(),
            profile: args.profile.clone(),
            endpoint_url: args.endpoint_url.clone(),
            max_attempts: args.max_attempts,
            initial_backoff: args.retry_backoff_ms.map(Duration::from_millis),
            ..ConnectOptions::default()
        };
        let client = Client::connect(&opts, progress.clone())?;
        // Before listing the streams, which pages through DescribeLogStreams and stops when cancelled.
        let interrupted = Arc::new(AtomicBool::new(false));
        install_ctrl_c(client.cancel_flag(), interrupted.clone());
        let filter = StreamFilter { names: args.stream.clone(), prefix: args.stream_prefix.clone() };
        let streams = client.streams(&target, &kinds(args), &filter)?;
        let mut query = if exact {
            Query {
                start_ms: since.map(|t| t.epoch_micros().div_euclid(1000)),
                // `--until` is exclusive, the API's endTime inclusive.
                end_ms: until.map(|t| (t.epoch_micros() + 999).div_euclid(1000) - 1),
                ..Query::default()
            }
        } else {
            Query::default().with_times(since, until)
        };
        query.filter_pattern = args.filter_pattern.clone();
        query.page_size = args.page_size;
        if streams.is_empty() && !quiet && !interrupted.load(Ordering::SeqCst) {
            eprintln!("auditlog: cloudwatch: the log groups have no log streams");
        }
        Ok(Source { client, streams, query, progress, interrupted })
    }

    /// First Ctrl-C: stop reading after the request in flight, keep what was read. Second: exit at once.
    fn install_ctrl_c(cancel: Arc<AtomicBool>, interrupted: Arc<AtomicBool>) {
        let res = ctrlc::set_handler(move || {
            if interrupted.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            cancel.store(true, Ordering::SeqCst);
            eprintln!("\nauditlog: interrupted: stopping after what was read so far (Ctrl-C again to quit now)");
        });
        if let Err(e) = res {
            eprintln!("auditlog: cannot handle Ctrl-C ({e}); it will stop the program at once");
        }
    }

    impl Source {
        pub fn client(&self) -> &Client {
            &self.client
        }

        /// True after Ctrl-C.
        pub fn interrupted(&self) -> bool {
            self.interrupted.load(Ordering::SeqCst) || self.client.is_cancelled()
        }

        /// Clears the progress line and prints the totals.
        pub fn finish(&self) {
            self.progress.finish(self.streams.len());
        }
    }
}

#[cfg(not(feature = "cloudwatch"))]
pub use self::stub::*;

#[cfg(not(feature = "cloudwatch"))]
mod stub {
    //! Built without the `cloudwatch` feature: the flags exist and say so.
    use anyhow::{bail, Result};
    use auditlog_core::Timestamp;

    use super::CloudWatchArgs;

    /// No stream can exist.
    #[derive(Debug, Clone)]
    pub enum Stream {}

    pub struct Source {
        pub streams: Vec<Stream>,
    }

    pub fn open(
        _args: &CloudWatchArgs,
        _since: Option<Timestamp>,
        _until: Option<Timestamp>,
        _quiet: bool,
        _exact: bool,
    ) -> Result<Source> {
        bail!("this auditlog was built without CloudWatch support (cargo feature `cloudwatch`)")
    }

    impl Source {
        pub fn interrupted(&self) -> bool {
            false
        }

        pub fn finish(&self) {}
    }
}
