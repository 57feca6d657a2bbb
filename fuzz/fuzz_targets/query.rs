#![no_main]
//! The query parser and executor (`query::Query`, `query::Runner`): `Query::parse` never panics on any text
//! (the input as lossy UTF-8), and a query that parses gives the same rows with 6 threads and tiny blocks as
//! with 1 thread over a small fixed log (`auditlog_fuzz::QUERY_LOGS`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    auditlog_fuzz::check_query(&String::from_utf8_lossy(data));
});
