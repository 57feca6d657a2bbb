#![no_main]
//! The digest (`digest::Digest`): no panic, and 2 or 6 threads with small blocks give the classes of 1 thread.
//! Byte 0 picks the format (or sniffing), the thread count and the block size; the rest is the log.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, log)) = data.split_first() else { return };
    auditlog_fuzz::check_digest(cfg, log);
});
