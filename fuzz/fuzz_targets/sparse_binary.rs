#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lodestone_fuzz::sparse_binary(data));
