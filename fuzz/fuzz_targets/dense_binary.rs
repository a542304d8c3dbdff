#![no_main]
use libfuzzer_sys::fuzz_target;

// vector and halfvec go through the same code; the first byte picks one.
fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((k, rest)) if k & 1 == 0 => lodestone_fuzz::dense_binary::<f32>(rest),
        Some((_, rest)) => lodestone_fuzz::dense_binary::<half::f16>(rest),
        None => {}
    }
});
