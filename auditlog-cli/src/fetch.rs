//! `auditlog fetch`: the raw records of CloudWatch Logs, to standard output or one file per instance and type.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cloudwatch::CloudWatchArgs;

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Only events at or after this time: RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]` (UTC) or an age such as `2h`.
    /// Compared with the CloudWatch event time.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Write DIR/INSTANCE/TYPE.log files (new files only: existing ones are never overwritten) instead of
    /// standard output.
    #[arg(long, short = 'O', value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// No progress line and no summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub cloudwatch: CloudWatchArgs,
}

#[cfg(feature = "cloudwatch")]
pub fn fetch(args: &FetchArgs) -> Result<ExitCode> {
    imp::fetch(args)
}

#[cfg(not(feature = "cloudwatch"))]
pub fn fetch(args: &FetchArgs) -> Result<ExitCode> {
    crate::cloudwatch::open(&args.cloudwatch, None, None, args.quiet, true)?;
    Ok(ExitCode::from(2))
}

#[cfg(feature = "cloudwatch")]
mod imp {
    use std::fs::{self, File, OpenOptions};
    use std::io::{self, BufWriter, Read, Write};
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    use anyhow::{bail, Context as _, Result};

    use super::FetchArgs;
    use crate::cloudwatch::{self, Stream};
    use crate::output::sanitize::sanitize;
    use crate::timearg;

    /// A file-name-safe version of a stream or group part.
    fn safe(name: &str) -> String {
        let s: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
        if s.is_empty() || s.starts_with('.') {
            format!("_{s}")
        } else {
            s
        }
    }

    /// DIR/INSTANCE/TYPE.log, the type being the last part of the group name.
    fn file_for(dir: &Path, stream: &Stream) -> PathBuf {
        let kind = stream.kind.map(|k| k.as_str().to_string()).unwrap_or_else(|| {
            let last = stream.group.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
            safe(last)
        });
        dir.join(safe(&stream.name)).join(format!("{kind}.log"))
    }

    /// Copies a reader to a writer; returns the bytes copied.
    fn copy(mut r: impl Read, w: &mut impl Write) -> io::Result<u64> {
        let mut buf = vec![0u8; 64 << 10];
        let mut n = 0u64;
        loop {
            let k = match r.read(&mut buf) {
                Ok(0) => return Ok(n),
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            w.write_all(buf.get(..k).unwrap_or_default())?;
            n += k as u64;
        }
    }

    pub fn fetch(args: &FetchArgs) -> Result<ExitCode> {
        let now = chrono::Utc::now();
        let time = |flag: &str, v: &Option<String>| {
            v.as_deref().map(|s| timearg::parse_time(s, now)).transpose().map_err(|e| anyhow::anyhow!("{flag}: {e}"))
        };
        let since = time("--since", &args.since)?;
        let until = time("--until", &args.until)?;
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                bail!("--since ({s}) must be before --until ({u})");
            }
        }
        let src = cloudwatch::open(&args.cloudwatch, since, until, args.quiet, true)?;
        let mut failed = 0u64;
        let stdout = io::stdout();
        let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
        for stream in &src.streams {
            if src.interrupted() {
                break;
            }
            let reader = src.client().open(stream, &src.query);
            let res = match &args.output_dir {
                None => copy(reader, &mut out).map(|_| ()).with_context(|| stream.input_name()),
                Some(dir) => {
                    let path = file_for(dir, stream);
                    write_file(&path, reader)
                }
            };
            if let Err(e) = res {
                // A closed pipe ends the whole command quietly (see main).
                if e.chain()
                    .any(|c| c.downcast_ref::<io::Error>().is_some_and(|c| c.kind() == io::ErrorKind::BrokenPipe))
                {
                    return Err(e);
                }
                failed += 1;
                eprintln!("auditlog: {}", sanitize(format!("{e:#}").as_bytes()));
            }
        }
        out.flush().context("writing output")?;
        src.finish();
        if src.interrupted() {
            return Ok(ExitCode::from(130));
        }
        Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
    }

    /// Writes one stream to a new file; a stream with no events leaves no file.
    fn write_file(path: &Path, mut reader: impl Read) -> Result<()> {
        // Read the first bytes before creating the file, so empty streams leave nothing behind.
        let mut first = vec![0u8; 64 << 10];
        let n = loop {
            match reader.read(&mut first) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).with_context(|| path.display().to_string()),
            }
        };
        if n == 0 {
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let f: File = OpenOptions::new().write(true).create_new(true).open(path).with_context(|| {
            format!("creating {} (existing files are not overwritten: choose another --output-dir)", path.display())
        })?;
        let mut w = BufWriter::new(f);
        w.write_all(first.get(..n).unwrap_or_default()).with_context(|| format!("writing {}", path.display()))?;
        copy(reader, &mut w).with_context(|| format!("writing {}", path.display()))?;
        w.flush().with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn file_names_are_safe() {
            let s = Stream { group: "/aws/rds/cluster/c/audit".into(), name: "../x/y".into(), kind: None };
            assert_eq!(file_for(Path::new("d"), &s), Path::new("d/_.._x_y/audit.log"));
        }
    }
}
