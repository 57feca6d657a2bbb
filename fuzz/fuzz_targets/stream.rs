#![no_main]
//! The streaming reader with tiny blocks and a tiny record limit: sniffing, refills, too-long records.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| auditlog_fuzz::check_stream(data));
