//! `auditlog`: the command-line front end of `auditlog-core`. Argument parsing and output only.

/// mimalloc instead of the system allocator: blocks are parsed on worker threads and their partial results
/// merged and freed on the reading thread, which glibc's per-thread arenas handle poorly.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod analyze;
mod cli;
mod cloudwatch;
mod config;
mod digest;
mod events;
mod fetch;
mod inputs;
mod output;
mod query;
mod report;
mod timearg;

use std::io;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser as _;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`auditlog events big.log | head`) is a normal way to stop.
            if err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("auditlog: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Events(args) => events::events(&args),
        Command::Analyze(args) => analyze::analyze(&args),
        Command::Baseline(args) => analyze::baseline(&args),
        Command::Fetch(args) => fetch::fetch(&args),
        Command::Query(args) => query::query(&args),
        Command::Digest(args) => digest::digest(&args),
    }
}
