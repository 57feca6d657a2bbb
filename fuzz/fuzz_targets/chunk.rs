#![no_main]
//! The record splitter (`chunk::split`, `split_at`, `last_boundary`): chunked parsing equals one pass, for
//! every format. Byte 0 picks the format, bytes 1..9 the cut candidates, the rest is the log.
use auditlog_core::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some(format) = Format::ALL.get(usize::from(sel % 4)).copied() else { return };
    let (seed, log) = rest.split_at(rest.len().min(8));
    auditlog_fuzz::check_chunks(format, log, seed);
});
