//! CloudWatch Logs as an input (cargo feature `cloudwatch`).
//!
//! RDS and Aurora publish their logs to CloudWatch Logs: one log group per database and log type
//! (`/aws/rds/cluster/NAME/audit`, `/aws/rds/instance/ID/slowquery`, ...) and one log stream per DB instance.
//! Every CloudWatch event holds one whole record: one audit line, one multi-line slow-log entry, one general or
//! error log line (sometimes with its continuation lines).
//!
//! A [`Client`] finds the streams of a [`Target`] ([`Client::streams`]) and opens each one as a [`StreamReader`]:
//! a plain [`std::io::Read`] that pages through `FilterLogEvents` to the end and yields the messages joined by
//! line ends, exactly as the log file on the instance would read. That text goes through the same parsers
//! ([`Client::read`], which also names the instance in each event's `server` field when the record does not) and
//! the same parallel engine ([`Client::analyze`]) as files.
//!
//! Credentials, region and profile come from the standard AWS chain (environment, profile files, SSO, web
//! identity, container and instance metadata); [`ConnectOptions`] overrides them. Throttling and transient
//! errors are retried with exponential backoff by the SDK's standard retry strategy; every retried attempt is
//! told to the [`Observer`], as is every page read, so a program can show progress. The library prints nothing.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use std::sync::Arc;
//! use auditlog_core::cloudwatch::{Client, ConnectOptions, LogKind, Query, StreamFilter, Target};
//! use auditlog_core::{EventKind, Item, ReadOptions};
//!
//! let client = Client::connect(&ConnectOptions::default(), Arc::new(()))?;
//! let target = Target::Cluster("prod-aurora".into());
//! for stream in client.streams(&target, &[LogKind::Audit], &StreamFilter::default())? {
//!     client.read(&stream, &Query::default(), &ReadOptions::default(), |item| {
//!         if let Item::Event(ev) = item {
//!             if ev.kind == EventKind::FailedConnect {
//!                 println!("{:?} {:?} {:?}", ev.server, ev.user, ev.host);
//!             }
//!         }
//!         ControlFlow::Continue(())
//!     })?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::io::Read;
use std::ops::ControlFlow;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

pub use aws_sdk_cloudwatchlogs as sdk;
use aws_sdk_cloudwatchlogs::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_cloudwatchlogs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};

use crate::analyze::Analyzer;
use crate::error::{Error, ErrorKind};
use crate::format::{Format, Item};
use crate::read::{ReadOptions, ReadSummary};
use crate::time::Timestamp;

/// The log types RDS and Aurora publish: the last part of the log group name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogKind {
    /// `audit`: the audit log.
    Audit,
    /// `error`: the error log.
    Error,
    /// `general`: the general query log.
    General,
    /// `slowquery`: the slow query log.
    SlowQuery,
}

impl LogKind {
    /// Every log type, in the order they are read.
    pub const ALL: [LogKind; 4] = [LogKind::Audit, LogKind::Error, LogKind::General, LogKind::SlowQuery];

    /// The log group suffix: `audit`, `error`, `general` or `slowquery`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            LogKind::Audit => "audit",
            LogKind::Error => "error",
            LogKind::General => "general",
            LogKind::SlowQuery => "slowquery",
        }
    }

    /// The log format of this type.
    #[must_use]
    pub const fn format(self) -> Format {
        match self {
            LogKind::Audit => Format::Audit,
            LogKind::Error => Format::Error,
            LogKind::General => Format::General,
            LogKind::SlowQuery => Format::Slow,
        }
    }

    /// The type named by the last part of a log group name, if it is one of the four.
    ///
    /// ```
    /// use auditlog_core::cloudwatch::LogKind;
    /// assert_eq!(LogKind::from_group("/aws/rds/cluster/prod/slowquery"), Some(LogKind::SlowQuery));
    /// assert_eq!(LogKind::from_group("/my/app"), None);
    /// ```
    #[must_use]
    pub fn from_group(group: &str) -> Option<LogKind> {
        group.rsplit('/').next().and_then(|last| last.parse().ok())
    }
}

impl fmt::Display for LogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogKind {
    type Err = CloudWatchError;

    /// `audit`, `error`, `general`, `slowquery` (or `slow`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "audit" => Ok(LogKind::Audit),
            "error" => Ok(LogKind::Error),
            "general" => Ok(LogKind::General),
            "slowquery" | "slow" => Ok(LogKind::SlowQuery),
            _ => Err(CloudWatchError::InvalidArgument(format!(
                "unknown log type `{s}`: use audit, error, general or slowquery"
            ))),
        }
    }
}

/// Which log groups to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An Aurora cluster: `/aws/rds/cluster/NAME/TYPE`.
    Cluster(String),
    /// An RDS DB instance: `/aws/rds/instance/ID/TYPE`.
    Instance(String),
    /// One log group, named in full. Its type (and so the format) comes from its last part when that is one of
    /// the four; otherwise the format is detected from the content.
    LogGroup(String),
}

impl Target {
    /// The log group of one log type.
    ///
    /// ```
    /// use auditlog_core::cloudwatch::{LogKind, Target};
    /// assert_eq!(Target::Cluster("prod".into()).log_group(LogKind::Audit), "/aws/rds/cluster/prod/audit");
    /// assert_eq!(Target::Instance("db1".into()).log_group(LogKind::SlowQuery), "/aws/rds/instance/db1/slowquery");
    /// ```
    #[must_use]
    pub fn log_group(&self, kind: LogKind) -> String {
        match self {
            Target::Cluster(n) => format!("/aws/rds/cluster/{n}/{kind}"),
            Target::Instance(n) => format!("/aws/rds/instance/{n}/{kind}"),
            Target::LogGroup(g) => g.clone(),
        }
    }
}

/// Which log streams (DB instances) to read; empty means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamFilter {
    /// Exact stream names.
    pub names: Vec<String>,
    /// A stream name prefix.
    pub prefix: Option<String>,
}

impl StreamFilter {
    fn matches(&self, name: &str) -> bool {
        (self.names.is_empty() || self.names.iter().any(|n| n == name))
            && self.prefix.as_deref().is_none_or(|p| name.starts_with(p))
    }
}

/// How to reach the service. Every `None` falls back to the standard AWS configuration chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// The region (else `AWS_REGION`, the profile's region, instance metadata).
    pub region: Option<String>,
    /// The profile in the shared config and credentials files (else `AWS_PROFILE`, `default`).
    pub profile: Option<String>,
    /// Another endpoint, e.g. a VPC endpoint or a local emulator (`http://127.0.0.1:5000`).
    pub endpoint_url: Option<String>,
    /// Attempts per request, retries included (default 10).
    pub max_attempts: Option<u32>,
    /// First retry delay; it doubles up to `max_backoff`, with jitter (default 1 s).
    pub initial_backoff: Option<Duration>,
    /// Longest retry delay (default 20 s).
    pub max_backoff: Option<Duration>,
    /// Time limit of one attempt (default 120 s).
    pub attempt_timeout: Option<Duration>,
}

/// What to read from each stream: the `FilterLogEvents` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Events at or after this time, in milliseconds since the epoch (`startTime`).
    pub start_ms: Option<i64>,
    /// Events at or before this time, in milliseconds since the epoch (`endTime`).
    pub end_ms: Option<i64>,
    /// A CloudWatch filter pattern, passed through (`filterPattern`).
    pub filter_pattern: Option<String>,
    /// Events per page (`limit`, 1 to 10,000; default the service's, 10,000).
    pub page_size: Option<i32>,
}

impl Query {
    /// The API time range for events between `since` (inclusive) and `until` (exclusive), widened by one minute
    /// on each side: the CloudWatch timestamp of an event can differ a little from the time in its record (RDS
    /// audit events carry whole seconds), so the exact bounds are applied to the parsed records afterwards.
    ///
    /// ```
    /// use auditlog_core::cloudwatch::Query;
    /// use auditlog_core::Timestamp;
    /// let q = Query::default().with_times(Some(Timestamp::from_epoch_micros(1_700_000_000_000_000)), None);
    /// assert_eq!((q.start_ms, q.end_ms), (Some(1_699_999_940_000), None));
    /// ```
    #[must_use]
    pub fn with_times(mut self, since: Option<Timestamp>, until: Option<Timestamp>) -> Self {
        const SLACK_MS: i64 = 60_000;
        self.start_ms = since.map(|t| (t.epoch_micros().div_euclid(1000) - SLACK_MS).max(0));
        self.end_ms = until.map(|t| t.epoch_micros().div_euclid(1000).saturating_add(SLACK_MS));
        self
    }
}

/// One log stream of one log group: one DB instance's log of one type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stream {
    /// The log group.
    pub group: String,
    /// The log stream: the DB instance identifier.
    pub name: String,
    /// The log type, when the group name tells it.
    pub kind: Option<LogKind>,
}

impl Stream {
    /// The format of its records, when the log type is known.
    #[must_use]
    pub fn format(&self) -> Option<Format> {
        self.kind.map(LogKind::format)
    }

    /// The name used for this input in messages and in the `file` field: `cloudwatch:GROUP/STREAM`.
    #[must_use]
    pub fn input_name(&self) -> String {
        format!("cloudwatch:{}/{}", self.group, self.name)
    }
}

/// One page read from a stream, as told to the [`Observer`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Page<'a> {
    /// The stream read.
    pub stream: &'a Stream,
    /// Events in this page.
    pub events: u64,
    /// Bytes of text this page added (messages and line ends).
    pub bytes: u64,
    /// The CloudWatch time of the last event in the page, in milliseconds since the epoch.
    pub last_timestamp_ms: Option<i64>,
    /// Totals of the stream so far.
    pub stats: StreamStats,
}

/// A failed attempt that the SDK may retry, as told to the [`Observer`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retry {
    /// What went wrong: `throttled`, `HTTP 503`, `connection or timeout error`.
    pub reason: String,
    /// True for throttling (the account's request quota).
    pub throttled: bool,
}

/// Receives progress and retry notices. Both methods default to doing nothing; `()` is an observer that
/// ignores everything.
pub trait Observer: Send + Sync {
    /// After every page read.
    fn page(&self, page: &Page<'_>) {
        let _ = page;
    }

    /// After every attempt that failed with throttling or a transient error. The SDK retries it with backoff
    /// unless it was the last attempt, in which case the error is returned.
    fn retry(&self, retry: &Retry) {
        let _ = retry;
    }
}

impl Observer for () {}

/// Why talking to CloudWatch Logs failed. Each message says what to do about it.
#[derive(Debug)]
#[non_exhaustive]
pub enum CloudWatchError {
    /// No region configured.
    MissingRegion,
    /// No credentials found, or the service did not accept them.
    Credentials(String),
    /// The credentials are not allowed to do `action`.
    AccessDenied {
        /// The API action, e.g. `logs:FilterLogEvents`.
        action: &'static str,
        /// The log group.
        group: String,
        /// The service's message.
        message: String,
    },
    /// The log group does not exist (in this region and account).
    LogGroupNotFound {
        /// The log groups looked for.
        groups: Vec<String>,
    },
    /// None of the requested log streams exists.
    StreamNotFound {
        /// The log groups searched.
        groups: Vec<String>,
        /// The filter that matched nothing.
        filter: StreamFilter,
    },
    /// Still throttled after every retry.
    Throttled {
        /// The API action.
        action: &'static str,
        /// The service's message.
        message: String,
    },
    /// The endpoint could not be reached, or an attempt timed out, after every retry.
    Connect {
        /// The API action.
        action: &'static str,
        /// What failed.
        message: String,
    },
    /// Any other error returned by the service.
    Service {
        /// The API action.
        action: &'static str,
        /// The error code, e.g. `InvalidParameterException`.
        code: String,
        /// The service's message.
        message: String,
    },
    /// An invalid option.
    InvalidArgument(String),
    /// Called from inside an asynchronous (tokio) runtime, where this blocking API cannot wait.
    InsideRuntime,
    /// The internal runtime could not start.
    Runtime(std::io::Error),
}

impl fmt::Display for CloudWatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloudWatchError::MissingRegion => {
                f.write_str("no AWS region configured: pass --region, set AWS_REGION, or set a region in the profile")
            }
            CloudWatchError::Credentials(m) => write!(
                f,
                "no usable AWS credentials ({m}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, \
                 or run `aws sso login` / `aws configure`"
            ),
            CloudWatchError::AccessDenied { action, group, message } => write!(
                f,
                "access denied to {group} ({message}): the credentials need the IAM permissions \
                 logs:DescribeLogStreams and logs:FilterLogEvents on this log group (missing: {action})"
            ),
            CloudWatchError::LogGroupNotFound { groups } => write!(
                f,
                "log group {} not found in this account and region: check the cluster or instance name, \
                 --region, and that the database publishes this log type to CloudWatch Logs",
                groups.join(", ")
            ),
            CloudWatchError::StreamNotFound { groups, filter } => {
                let mut want: Vec<String> = filter.names.clone();
                if let Some(p) = &filter.prefix {
                    want.push(format!("{p}*"));
                }
                write!(
                    f,
                    "no log stream {} in {}: log streams are named after the DB instances",
                    want.join(", "),
                    groups.join(", ")
                )
            }
            CloudWatchError::Throttled { action, message } => write!(
                f,
                "{action} still throttled after all retries ({message}): the account's request quota is shared \
                 with other tools; try again later or read fewer streams or a shorter time range"
            ),
            CloudWatchError::Connect { action, message } => write!(
                f,
                "{action}: cannot reach CloudWatch Logs ({message}): check the network, --region and --endpoint-url"
            ),
            CloudWatchError::Service { action, code, message } => write!(f, "{action}: {code}: {message}"),
            CloudWatchError::InvalidArgument(m) => f.write_str(m),
            CloudWatchError::InsideRuntime => f.write_str(
                "the CloudWatch reader blocks and cannot be used from inside an async runtime; \
                 call it from a plain thread (e.g. tokio::task::spawn_blocking)",
            ),
            CloudWatchError::Runtime(e) => write!(f, "cannot start the I/O runtime: {e}"),
        }
    }
}

impl std::error::Error for CloudWatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CloudWatchError::Runtime(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CloudWatchError> for Error {
    fn from(e: CloudWatchError) -> Self {
        Error::new(ErrorKind::Io(std::io::Error::other(e)))
    }
}

impl CloudWatchError {
    /// The CloudWatch error inside a crate [`Error`] returned by [`Client::read`] or [`Client::analyze`], if it
    /// is one.
    #[must_use]
    pub fn find(err: &Error) -> Option<&CloudWatchError> {
        match err.kind() {
            ErrorKind::Io(io) => io.get_ref().and_then(|e| e.downcast_ref::<CloudWatchError>()),
            _ => None,
        }
    }
}

/// Turns an SDK error into a [`CloudWatchError`].
fn classify<E, R>(err: SdkError<E, R>, action: &'static str, group: &str) -> CloudWatchError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    let detail = |e: &dyn std::error::Error| {
        let mut s = e.to_string();
        let mut src = e.source();
        while let Some(c) = src {
            s.push_str(": ");
            s.push_str(&c.to_string());
            src = c.source();
        }
        s
    };
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().unwrap_or("unknown").to_string();
            let message = e.message().unwrap_or_default().to_string();
            match code.as_str() {
                "ResourceNotFoundException" => CloudWatchError::LogGroupNotFound { groups: vec![group.to_string()] },
                "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
                    CloudWatchError::AccessDenied { action, group: group.to_string(), message }
                }
                "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "InvalidSignatureException"
                | "ExpiredTokenException"
                | "ExpiredToken"
                | "IncompleteSignature"
                | "MissingAuthenticationToken" => CloudWatchError::Credentials(format!("{code}: {message}")),
                "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "LimitExceededException" => CloudWatchError::Throttled { action, message },
                _ => CloudWatchError::Service { action, code, message },
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            CloudWatchError::Connect { action, message: detail(&err) }
        }
        SdkError::ConstructionFailure(_) => {
            let message = detail(&err);
            if message.contains("region") || message.contains("endpoint") {
                CloudWatchError::MissingRegion
            } else if message.contains("credential") || message.contains("identity") {
                CloudWatchError::Credentials(message)
            } else {
                CloudWatchError::Service { action, code: "ClientError".into(), message }
            }
        }
        _ => CloudWatchError::Service { action, code: "ClientError".into(), message: detail(&err) },
    }
}

/// Tells the observer about attempts that failed in a way the SDK retries.
struct RetryNotices(Arc<dyn Observer>);

impl fmt::Debug for RetryNotices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetryNotices")
    }
}

impl Intercept for RetryNotices {
    fn name(&self) -> &'static str {
        "auditlog-retry-notices"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let notice = match context.response() {
            Some(resp) => {
                let status = resp.status().as_u16();
                let body = resp.body().bytes().unwrap_or_default();
                let header = resp.headers().get("x-amzn-errortype").unwrap_or_default();
                let throttled = status == 429
                    || ["Throttling", "TooManyRequests", "RequestLimitExceeded"]
                        .iter()
                        .any(|w| header.contains(w) || memchr::memmem::find(body, w.as_bytes()).is_some());
                if throttled {
                    Some(Retry { reason: "throttled".into(), throttled: true })
                } else if status >= 500 {
                    Some(Retry { reason: format!("HTTP {status}"), throttled: false })
                } else {
                    None
                }
            }
            None if matches!(context.output_or_error(), Some(Err(_))) => {
                Some(Retry { reason: "connection or timeout error".into(), throttled: false })
            }
            None => None,
        };
        if let Some(n) = notice {
            self.0.retry(&n);
        }
        Ok(())
    }
}

/// A connection to CloudWatch Logs, with its own small I/O runtime. Its methods block.
pub struct Client {
    rt: tokio::runtime::Runtime,
    sdk: sdk::Client,
    observer: Arc<dyn Observer>,
    cancel: Arc<AtomicBool>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("sdk", &self.sdk).finish_non_exhaustive()
    }
}

impl Client {
    /// Loads the AWS configuration (region, credentials) and checks that credentials can be found, so a
    /// missing one is reported before anything is read. `observer` receives progress and retry notices.
    pub fn connect(opts: &ConnectOptions, observer: Arc<dyn Observer>) -> Result<Client, CloudWatchError> {
        use aws_config::retry::RetryConfig;
        use aws_config::timeout::TimeoutConfig;
        use aws_config::{BehaviorVersion, Region};
        use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(CloudWatchError::InsideRuntime);
        }
        if opts.max_attempts == Some(0) {
            return Err(CloudWatchError::InvalidArgument("max_attempts must be at least 1".into()));
        }
        let rt =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(CloudWatchError::Runtime)?;
        let http =
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
        let retry = RetryConfig::standard()
            .with_max_attempts(opts.max_attempts.unwrap_or(10))
            .with_initial_backoff(opts.initial_backoff.unwrap_or(Duration::from_secs(1)))
            .with_max_backoff(opts.max_backoff.unwrap_or(Duration::from_secs(20)));
        let timeout = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(opts.attempt_timeout.unwrap_or(Duration::from_secs(120)))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(retry)
            .timeout_config(timeout);
        if let Some(r) = &opts.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(p) = &opts.profile {
            loader = loader.profile_name(p);
        }
        if let Some(u) = &opts.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        let config = rt.block_on(loader.load());
        if config.region().is_none() {
            return Err(CloudWatchError::MissingRegion);
        }
        let Some(creds) = config.credentials_provider() else {
            return Err(CloudWatchError::Credentials("no credentials provider".into()));
        };
        rt.block_on(async {
            use aws_sdk_cloudwatchlogs::config::ProvideCredentials;
            creds.provide_credentials().await
        })
        .map_err(|e| {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(c) = src {
                s.push_str(": ");
                s.push_str(&c.to_string());
                src = c.source();
            }
            CloudWatchError::Credentials(s)
        })?;
        // This client's own retry bucket, where throttling costs nothing: a long read at the account's quota must
        // keep backing off and retrying instead of failing once a shared bucket runs dry. Attempts per request
        // stay bounded by `max_attempts`.
        let partition = sdk::config::retry::RetryPartition::custom("auditlog-cloudwatch")
            .token_bucket(sdk::config::retry::TokenBucket::builder().throttling_retry_cost(0).build())
            .build();
        let conf = sdk::config::Builder::from(&config)
            .retry_partition(partition)
            .interceptor(RetryNotices(Arc::clone(&observer)))
            .build();
        Ok(Client { rt, sdk: sdk::Client::from_conf(conf), observer, cancel: Arc::new(AtomicBool::new(false)) })
    }

    /// The flag that stops reading: once set (e.g. from a Ctrl-C handler), requests in flight are abandoned and
    /// every [`StreamReader`] ends as if its stream had ended, so what was read so far is kept;
    /// [`StreamReader::cancelled`] tells it happened.
    #[must_use]
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// True once the cancel flag is set.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The SDK client, for calls this module does not make.
    #[must_use]
    pub fn sdk(&self) -> &sdk::Client {
        &self.sdk
    }

    /// Runs a future of the SDK on this client's runtime and waits for it.
    pub fn block_on<F: Future>(&self, fut: F) -> Result<F::Output, CloudWatchError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(CloudWatchError::InsideRuntime);
        }
        Ok(self.rt.block_on(fut))
    }

    /// Runs `fut` until it completes or the cancel flag is set (`None`).
    fn block_on_cancellable<F: Future>(&self, fut: F) -> Result<Option<F::Output>, CloudWatchError> {
        let cancel = &self.cancel;
        self.block_on(async {
            let mut fut = std::pin::pin!(fut);
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            std::future::poll_fn(|cx| {
                if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                    return Poll::Ready(Some(v));
                }
                if cancel.load(Ordering::Relaxed) {
                    return Poll::Ready(None);
                }
                // Wake up regularly to look at the flag.
                while tick.poll_tick(cx).is_ready() {}
                Poll::Pending
            })
            .await
        })
    }

    /// The streams of `target` for the log types `kinds` (empty: all four, skipping the log groups that do not
    /// exist) that pass `filter`, by log type then stream name. A log group named explicitly (a kind in `kinds`,
    /// or a [`Target::LogGroup`]) that does not exist is an error, and so is a filter that matches no stream.
    /// Cancelled (see [`Client::cancel_flag`]) while listing, it returns the streams listed so far.
    pub fn streams(
        &self,
        target: &Target,
        kinds: &[LogKind],
        filter: &StreamFilter,
    ) -> Result<Vec<Stream>, CloudWatchError> {
        let groups: Vec<(String, Option<LogKind>, bool)> = match target {
            Target::LogGroup(g) => vec![(g.clone(), LogKind::from_group(g), true)],
            _ if kinds.is_empty() => LogKind::ALL.iter().map(|k| (target.log_group(*k), Some(*k), false)).collect(),
            _ => {
                let mut ks = kinds.to_vec();
                ks.sort();
                ks.dedup();
                ks.iter().map(|k| (target.log_group(*k), Some(*k), true)).collect()
            }
        };
        let mut out = Vec::new();
        let mut found_group = false;
        for (group, kind, required) in &groups {
            match self.streams_in_group(group, filter) {
                Ok(names) => {
                    found_group = true;
                    out.extend(names.into_iter().map(|name| Stream { group: group.clone(), name, kind: *kind }));
                }
                Err(CloudWatchError::LogGroupNotFound { .. }) if !required => {}
                Err(e) => return Err(e),
            }
        }
        // Cancelled while listing: the streams found so far, without judging what was not looked at.
        if self.is_cancelled() {
            return Ok(out);
        }
        if !found_group {
            return Err(CloudWatchError::LogGroupNotFound { groups: groups.into_iter().map(|g| g.0).collect() });
        }
        if out.is_empty() && (!filter.names.is_empty() || filter.prefix.is_some()) {
            return Err(CloudWatchError::StreamNotFound {
                groups: groups.into_iter().map(|g| g.0).collect(),
                filter: filter.clone(),
            });
        }
        Ok(out)
    }

    /// The names of the streams of one log group that pass `filter`, sorted (`DescribeLogStreams`, paginated).
    pub fn streams_in_group(&self, group: &str, filter: &StreamFilter) -> Result<Vec<String>, CloudWatchError> {
        // One exact name, or a prefix, narrows the listing on the service side.
        let prefix = match (&filter.prefix, filter.names.as_slice()) {
            (Some(p), _) => Some(p.clone()),
            (None, [one]) => Some(one.clone()),
            _ => None,
        };
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let req = self
                .sdk
                .describe_log_streams()
                .log_group_name(group)
                .set_log_stream_name_prefix(prefix.clone())
                .set_next_token(token.clone());
            let Some(res) = self.block_on_cancellable(req.send())? else {
                break;
            };
            let page = res.map_err(|e| classify(e, "logs:DescribeLogStreams", group))?;
            names.extend(
                page.log_streams()
                    .iter()
                    .filter_map(|s| s.log_stream_name())
                    .filter(|n| filter.matches(n))
                    .map(String::from),
            );
            match page.next_token() {
                Some(t) if !t.is_empty() && token.as_deref() != Some(t) => token = Some(t.to_string()),
                _ => break,
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Opens one stream for reading: the messages of its events in `query`, in the service's order (time), each
    /// ended by a line end.
    #[must_use]
    pub fn open<'c>(&'c self, stream: &Stream, query: &Query) -> StreamReader<'c> {
        StreamReader {
            client: self,
            stream: stream.clone(),
            query: query.clone(),
            token: None,
            done: false,
            buf: Vec::new(),
            pos: 0,
            last_ids: HashSet::new(),
            stats: StreamStats::default(),
            cancelled: false,
        }
    }

    /// Reads one stream through the parsers (see [`crate::read`]), with the format of its log type unless
    /// `opts` names one. Events without a `server` of their own get the stream name (the DB instance). Errors
    /// name the stream; [`CloudWatchError::find`] recovers a CloudWatch error from them.
    pub fn read<F>(&self, stream: &Stream, query: &Query, opts: &ReadOptions, mut sink: F) -> Result<ReadSummary, Error>
    where
        F: FnMut(Item<'_>) -> ControlFlow<()>,
    {
        let opts = opts.clone().with_format(stream.format().or(opts.format));
        let server = stream.name.as_bytes();
        let reader = self.open(stream, query);
        crate::read::read(reader, &opts, |mut item| {
            if let Item::Event(ev) = &mut item {
                if ev.server.is_none() {
                    // The sink takes items of any lifetime, so the name is copied (network-bound anyway).
                    ev.server = Some(Cow::Owned(server.to_vec()));
                }
            }
            sink(item)
        })
        .map_err(|e| if e.path().is_none() { e.with_path(stream.input_name()) } else { e })
    }

    /// Reads one stream into an analyzer: the same parallel engine as files, with the format of the log type.
    pub fn analyze(&self, analyzer: &mut Analyzer, stream: &Stream, query: &Query) -> Result<ReadSummary, Error> {
        let name = stream.input_name();
        analyzer.add_reader_as(&name, self.open(stream, query), stream.format()).map_err(|e| {
            if e.path().is_none() {
                e.with_path(name)
            } else {
                e
            }
        })
    }
}

/// Counts of one stream read so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamStats {
    /// `FilterLogEvents` pages read.
    pub pages: u64,
    /// Events read.
    pub events: u64,
    /// Bytes of text produced (messages and line ends).
    pub bytes: u64,
    /// Events the service returned twice (same event id on consecutive pages), dropped.
    pub duplicates: u64,
    /// The CloudWatch time of the last event read, in milliseconds since the epoch.
    pub last_timestamp_ms: Option<i64>,
}

/// One log stream as text: pages through `FilterLogEvents` (following `nextToken` to the end) as it is read.
/// Each event's message becomes one record, followed by a line end unless it has one. Errors are
/// [`std::io::Error`]s wrapping a [`CloudWatchError`].
pub struct StreamReader<'c> {
    client: &'c Client,
    stream: Stream,
    query: Query,
    token: Option<String>,
    done: bool,
    buf: Vec<u8>,
    pos: usize,
    last_ids: HashSet<String>,
    stats: StreamStats,
    cancelled: bool,
}

impl fmt::Debug for StreamReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamReader").field("stream", &self.stream).field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl StreamReader<'_> {
    /// The counts so far.
    #[must_use]
    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// True when reading stopped because the client's cancel flag was set.
    #[must_use]
    pub fn cancelled(&self) -> bool {
        self.cancelled
    }

    /// Reads the next page into the buffer; sets `done` at the end.
    fn next_page(&mut self) -> Result<(), CloudWatchError> {
        if self.client.is_cancelled() {
            self.cancelled = true;
            self.done = true;
            return Ok(());
        }
        let q = &self.query;
        if let Some(n) = q.page_size {
            if !(1..=10_000).contains(&n) {
                return Err(CloudWatchError::InvalidArgument(format!("page size {n}: must be 1 to 10000")));
            }
        }
        let req = self
            .client
            .sdk
            .filter_log_events()
            .log_group_name(&self.stream.group)
            .log_stream_names(&self.stream.name)
            .set_start_time(q.start_ms)
            .set_end_time(q.end_ms)
            .set_filter_pattern(q.filter_pattern.clone())
            .set_limit(q.page_size)
            .set_next_token(self.token.clone());
        let Some(res) = self.client.block_on_cancellable(req.send())? else {
            self.cancelled = true;
            self.done = true;
            return Ok(());
        };
        let page = res.map_err(|e| classify(e, "logs:FilterLogEvents", &self.stream.group))?;
        self.buf.clear();
        self.pos = 0;
        let mut ids = HashSet::with_capacity(page.events().len());
        let (mut events, mut last_ts) = (0u64, None);
        for ev in page.events() {
            if let Some(id) = ev.event_id() {
                if self.last_ids.contains(id) || !ids.insert(id.to_string()) {
                    self.stats.duplicates += 1;
                    continue;
                }
            }
            let msg = ev.message().unwrap_or_default().as_bytes();
            self.buf.extend_from_slice(msg);
            if !msg.ends_with(b"\n") {
                self.buf.push(b'\n');
            }
            events += 1;
            last_ts = ev.timestamp().or(last_ts);
        }
        self.last_ids = ids;
        self.stats.pages += 1;
        self.stats.events += events;
        self.stats.bytes += self.buf.len() as u64;
        self.stats.last_timestamp_ms = last_ts.or(self.stats.last_timestamp_ms);
        match page.next_token() {
            // A token equal to the one just sent would repeat the same page forever.
            Some(t) if !t.is_empty() && self.token.as_deref() != Some(t) => self.token = Some(t.to_string()),
            _ => self.done = true,
        }
        self.client.observer.page(&Page {
            stream: &self.stream,
            events,
            bytes: self.buf.len() as u64,
            last_timestamp_ms: last_ts,
            stats: self.stats,
        });
        Ok(())
    }
}

impl Read for StreamReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.next_page().map_err(std::io::Error::other)?;
        }
        let avail = self.buf.get(self.pos..).unwrap_or_default();
        let n = avail.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_kinds_round_trip() {
        for k in LogKind::ALL {
            assert_eq!(k.as_str().parse::<LogKind>().unwrap(), k);
            assert_eq!(LogKind::from_group(&Target::Cluster("c".into()).log_group(k)), Some(k));
        }
        assert!("slowlog".parse::<LogKind>().is_err());
    }

    #[test]
    fn stream_filter() {
        let f = StreamFilter { names: vec!["a-1".into(), "b-1".into()], prefix: Some("a".into()) };
        assert!(f.matches("a-1"));
        assert!(!f.matches("b-1"));
        assert!(!f.matches("a-2"));
        assert!(StreamFilter::default().matches("anything"));
    }

    #[test]
    fn time_range_is_widened() {
        let q = Query::default().with_times(
            Some(Timestamp::from_epoch_micros(1_000_500_000)),
            Some(Timestamp::from_epoch_micros(2_000_000_999)),
        );
        assert_eq!((q.start_ms, q.end_ms), (Some(1_000_500 - 60_000), Some(2_000_000 + 60_000)));
    }
}
