//! Test support shared by the CloudWatch tests of auditlog-core and auditlog-cli: a local `moto` server (the AWS
//! API emulator from PyPI) on 127.0.0.1, and a small HTTP proxy that answers chosen requests with errors.
//! Included with `#[path]`; not every test file uses every item.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running moto server, stopped on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

/// Starts moto, or returns `None` (after saying why) when it is not installed. With
/// `AUDITLOG_REQUIRE_EXTERNAL=1` (CI) a missing moto fails the test instead.
pub fn start(test: &str) -> Option<Moto> {
    let installed = Command::new("python3")
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        let required = std::env::var("AUDITLOG_REQUIRE_EXTERNAL").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{test}: the moto AWS emulator is not installed (pip install 'moto[server]') and \
             AUDITLOG_REQUIRE_EXTERNAL=1 requires it"
        );
        // Straight to stderr, past the test harness's capture, so the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: the moto AWS emulator is not installed (pip install 'moto[server]')"
        );
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let child = Command::new("python3")
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto");
    let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    loop {
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            // Ready once it answers HTTP.
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            if s.write_all(b"GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").is_ok() {
                let mut first = [0u8; 12];
                if s.read_exact(&mut first).is_ok() && first.starts_with(b"HTTP/") {
                    return Some(moto);
                }
            }
        }
        assert!(Instant::now() < deadline, "moto did not start on port {port} within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Dummy credentials and no configuration files or instance metadata, so only 127.0.0.1 is contacted.
pub fn dummy_aws_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_SESSION_TOKEN", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/auditlog-test-aws-config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/auditlog-test-aws-credentials"),
    ]
}

/// What the proxy does with the n-th request (0-based) whose body is given: `Some((status, error type))` answers
/// with that AWS JSON error, `None` forwards it.
pub type Rule = dyn Fn(usize, &[u8]) -> Option<(u16, &'static str)> + Send + Sync;

/// A proxy in front of moto that can answer requests with errors (throttling, access denied).
pub struct Proxy {
    pub endpoint: String,
    pub requests: Arc<AtomicUsize>,
    pub errors: Arc<AtomicUsize>,
}

/// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) applying `rule`.
pub fn proxy(upstream: &str, rule: Arc<Rule>) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let upstream = upstream.trim_start_matches("http://").to_string();
    let requests = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let (rq, er) = (requests.clone(), errors.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (upstream, rule, rq, er) = (upstream.clone(), rule.clone(), rq.clone(), er.clone());
            std::thread::spawn(move || {
                let _ = serve(conn, &upstream, &*rule, &rq, &er);
            });
        }
    });
    Proxy { endpoint, requests, errors }
}

/// Reads one HTTP/1.1 message (head and Content-Length body); `None` at end of connection.
fn read_message(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let end = line == b"\r\n";
        head.extend_from_slice(&line);
        if end {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(Some((head, body)))
}

fn serve(conn: TcpStream, upstream: &str, rule: &Rule, rq: &AtomicUsize, er: &AtomicUsize) -> std::io::Result<()> {
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    while let Some((head, body)) = read_message(&mut r)? {
        let n = rq.fetch_add(1, Ordering::SeqCst);
        if let Some((status, kind)) = rule(n, &body) {
            er.fetch_add(1, Ordering::SeqCst);
            let msg = format!(r#"{{"__type":"{kind}","message":"injected by the test proxy"}}"#);
            let reason = if status == 400 { "Bad Request" } else { "Error" };
            write!(
                w,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: {kind}\r\n\
                 x-amzn-RequestId: test\r\nContent-Length: {}\r\n\r\n{msg}",
                msg.len()
            )?;
            w.flush()?;
            continue;
        }
        let up = TcpStream::connect(upstream)?;
        let mut up_w = up.try_clone()?;
        up_w.write_all(&head)?;
        up_w.write_all(&body)?;
        up_w.flush()?;
        let mut up_r = BufReader::new(up);
        let Some((rhead, rbody)) = read_message(&mut up_r)? else { return Ok(()) };
        w.write_all(&rhead)?;
        w.write_all(&rbody)?;
        w.flush()?;
    }
    Ok(())
}

/// Splits a log into its records as CloudWatch holds them (one audit line, one whole slow entry, one general or
/// error record with its continuation lines), without the final line end; blank lines are dropped (CloudWatch
/// has no empty events).
pub fn records(log: &[u8], format: auditlog_core::Format) -> Vec<String> {
    use auditlog_core::{Item, Parser, Position};
    let mut starts = Vec::new();
    let mut parser = Parser::new(format);
    for item in parser.records(log, Position::START, true) {
        starts.push(match item {
            Item::Event(e) => e.pos.byte,
            Item::Malformed(m) => m.pos.byte,
            Item::Skipped(s) => s.pos.byte,
        } as usize);
    }
    starts.push(log.len());
    starts.sort_unstable();
    starts.dedup();
    let mut out = Vec::new();
    for w in starts.windows(2) {
        let piece = &log[w[0]..w[1]];
        let piece = piece.strip_suffix(b"\n").unwrap_or(piece);
        if piece.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        out.push(String::from_utf8_lossy(piece).into_owned());
    }
    out
}

/// Creates the log group (if needed) and the stream, and puts `messages` as events in order, in batches within
/// the PutLogEvents limits. CloudWatch times are recent (moto, like the service, rejects events older than 14
/// days) and increase by one millisecond per event; the records keep their own times.
pub fn put_events(client: &auditlog_core::cloudwatch::Client, group: &str, stream: &str, messages: &[String]) {
    use auditlog_core::cloudwatch::sdk::types::InputLogEvent;
    let sdk = client.sdk();
    client
        .block_on(async {
            let _ = sdk.create_log_group().log_group_name(group).send().await;
            sdk.create_log_stream().log_group_name(group).log_stream_name(stream).send().await.expect("create stream");
            let base = chrono::Utc::now().timestamp_millis() - 3_600_000;
            let mut batch = Vec::new();
            let mut bytes = 0usize;
            for (i, m) in messages.iter().enumerate() {
                if batch.len() == 10_000 || bytes + m.len() + 26 > 1_000_000 {
                    sdk.put_log_events()
                        .log_group_name(group)
                        .log_stream_name(stream)
                        .set_log_events(Some(std::mem::take(&mut batch)))
                        .send()
                        .await
                        .expect("put events");
                    bytes = 0;
                }
                bytes += m.len() + 26;
                batch.push(InputLogEvent::builder().timestamp(base + i as i64).message(m).build().expect("event"));
            }
            if !batch.is_empty() {
                sdk.put_log_events()
                    .log_group_name(group)
                    .log_stream_name(stream)
                    .set_log_events(Some(batch))
                    .send()
                    .await
                    .expect("put events");
            }
        })
        .expect("runtime");
}

/// A client of the emulator at `endpoint` with fast retries.
pub fn client(
    endpoint: &str,
    observer: std::sync::Arc<dyn auditlog_core::cloudwatch::Observer>,
) -> auditlog_core::cloudwatch::Client {
    for (k, v) in dummy_aws_env() {
        std::env::set_var(k, v);
    }
    let opts = auditlog_core::cloudwatch::ConnectOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.to_string()),
        max_attempts: Some(10),
        initial_backoff: Some(Duration::from_millis(5)),
        max_backoff: Some(Duration::from_millis(50)),
        ..Default::default()
    };
    auditlog_core::cloudwatch::Client::connect(&opts, observer).expect("connect to moto")
}
