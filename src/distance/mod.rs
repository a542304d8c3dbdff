//! Distance kernels. Pure code: slices in, numbers out, no Postgres.
//!
//! Every kernel is checked against an `f64` (or bit-by-bit) reference by a
//! property test in its module and benchmarked in `benches/kernels.rs`.

pub mod bit;
pub mod dense;
pub mod half;
pub mod sparse;
#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
mod x86_half;
