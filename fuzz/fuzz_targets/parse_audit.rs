#![no_main]
use auditlog_core::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    auditlog_fuzz::check(Format::Audit, data);
    if let Some(&b) = data.first() {
        auditlog_fuzz::check_split(Format::Audit, data, b as usize * data.len() / 256);
    }
});
