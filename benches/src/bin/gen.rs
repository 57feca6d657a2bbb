//! `gen FORMAT SIZE [SEED]`: writes a realistic synthetic log to stdout, e.g. `gen audit 1G > audit.log`.
//! FORMAT is audit, general, slow or error; SIZE takes K, M and G suffixes (powers of 1024).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use auditlog_benches::{generate, Kind};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: gen audit|general|slow|error SIZE[K|M|G] [SEED]";
    let (Some(kind), Some(size)) = (args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let kind = match kind.as_str() {
        "audit" => Kind::Audit,
        "general" => Kind::General,
        "slow" => Kind::Slow,
        "error" => Kind::Error,
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let (num, mult) = match size.chars().last() {
        Some('K' | 'k') => (&size[..size.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&size[..size.len() - 1], 1 << 20),
        Some('G' | 'g') => (&size[..size.len() - 1], 1 << 30),
        _ => (size.as_str(), 1),
    };
    let Ok(n) = num.parse::<u64>() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(42);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    match generate(kind, n * mult, seed, &mut out).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen: {e}");
            ExitCode::from(2)
        }
    }
}
