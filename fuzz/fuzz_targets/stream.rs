#![no_main]
//! The streaming reader with tiny blocks and a tiny record limit: sniffing, refills, too-long records.
use std::ops::ControlFlow;

use auditlog_core::{read, Item, ReadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions::default().with_block_size(64).with_max_record(1024);
    let mut items = 0u64;
    if let Ok(s) = read(data, &opts, |i| {
        items += 1;
        if let Item::Event(e) = i {
            let _ = e.into_owned();
        }
        ControlFlow::Continue(())
    }) {
        assert_eq!(s.records + s.malformed + s.skipped, items);
    }
});
