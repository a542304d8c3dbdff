//! Distance kernels. Pure code: slices in, numbers out, no Postgres.
//!
//! Every kernel is checked against an `f64` reference by a property test in
//! its module and benchmarked in `benches/kernels.rs`.

pub mod dense;
#[cfg(target_arch = "x86_64")]
mod x86;
