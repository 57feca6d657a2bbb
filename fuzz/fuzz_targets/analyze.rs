#![no_main]
//! The whole analysis pipeline (`analyze::Analyzer`): no panic, and 2 or 6 threads with small blocks give the
//! report of 1 thread. Byte 0 picks the format (or sniffing), learning and the block size; the rest is the log.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, log)) = data.split_first() else { return };
    let _ = auditlog_fuzz::check_analyze(cfg, log);
});
