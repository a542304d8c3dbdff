//! The `halfvec` type: up to 16000 IEEE binary16 values, pgvector's layout
//! and behaviour.
//!
//! Every function here is declared by hand in `sql/halfvec.sql` (hence
//! `sql = false`) under pgvector's SQL names; the Rust names are pgvector's
//! C symbols, so `l2_distance(halfvec, halfvec)` is `halfvec_l2_distance`.

use super::aggregate;
use super::array::array_to_f32;
use super::varlena::{DenseOut, DenseRef};
use super::vector::{compare, subvector_range, Vector, VectorArg};
use super::{raise, typmod_in, OrRaise, RawDatum};
use crate::distance::half as kernel;
use crate::format::dense::{self as fmt, DenseElement};
use crate::format::half::{check_element, from_f32_checked, from_f64_checked};
use crate::format::Error;
use half::f16;
use pgrx::prelude::*;
use std::ffi::{CStr, CString};

pub type HalfvecArg<'a> = DenseRef<'a, f16>;
pub type Halfvec = DenseOut<f16>;

const NAME: &str = <f16 as DenseElement>::TYPE_NAME;
const MAX_DIM: usize = <f16 as DenseElement>::MAX_DIM;

fn check_same_dims(a: &HalfvecArg, b: &HalfvecArg) {
    if a.dim() != b.dim() {
        raise(Error::different_dims(NAME, a.dim(), b.dim()));
    }
}

/// Overflow to infinity after arithmetic is an error, as in pgvector.
fn check_overflow(values: &[f16]) {
    if values.iter().any(|v| v.is_infinite()) {
        raise(Error::float_overflow());
    }
}

/// Rounds a float result to half, as pgvector's `Float4ToHalfUnchecked`.
#[inline]
fn to_half(x: f32) -> f16 {
    f16::from_f32(x)
}

// ---------------------------------------------------------------- I/O

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_in(input: &CStr, _oid: pg_sys::Oid, typmod: i32) -> Halfvec {
    Halfvec::from_slice(&fmt::parse_text::<f16>(input, typmod).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_out(v: HalfvecArg) -> CString {
    // The text is digits, signs, brackets and commas: never an interior NUL.
    CString::new(fmt::to_text(v.as_slice())).unwrap_or_default()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_typmod_in(mods: RawDatum) -> i32 {
    typmod_in(mods, NAME, MAX_DIM as i64)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_recv(buf: RawDatum, _oid: pg_sys::Oid, typmod: i32) -> Halfvec {
    let values = super::recv_with(buf, |bytes| fmt::decode_binary::<f16>(bytes, typmod));
    Halfvec::from_slice(&values)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_send(v: HalfvecArg) -> Vec<u8> {
    fmt::encode_binary(v.as_slice())
}

// ---------------------------------------------------------------- casts

/// `halfvec(n)` coercion: checks the dimension count.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec(v: HalfvecArg, typmod: i32, _explicit: bool) -> RawDatum {
    fmt::check_expected_dim(typmod, v.dim()).or_raise();
    RawDatum(v.into_datum())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn array_to_halfvec(array: RawDatum, typmod: i32, _explicit: bool) -> Halfvec {
    let floats = array_to_f32(array, |dim| {
        fmt::check_dim(dim, NAME, MAX_DIM).or_raise();
        fmt::check_expected_dim(typmod, dim).or_raise();
    });
    // Every element is converted (refusing finite floats beyond ±65504)
    // before any is checked for NaN or infinity, as in pgvector.
    let mut out = Halfvec::from_fn(floats.len(), |i| from_f32_checked(floats[i]).or_raise());
    for &x in out.as_mut_slice().iter() {
        check_element(x).or_raise();
    }
    out
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_to_float4(v: HalfvecArg, _typmod: i32, _explicit: bool) -> Vec<f32> {
    v.as_slice().iter().map(|x| x.to_f32()).collect()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_to_vector(v: HalfvecArg, typmod: i32, _explicit: bool) -> Vector {
    fmt::check_dim(v.dim(), <f32 as DenseElement>::TYPE_NAME, MAX_DIM).or_raise();
    fmt::check_expected_dim(typmod, v.dim()).or_raise();
    let x = v.as_slice();
    Vector::from_fn(x.len(), |i| x[i].to_f32())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_to_halfvec(v: VectorArg, typmod: i32, _explicit: bool) -> Halfvec {
    fmt::check_dim(v.dim(), NAME, MAX_DIM).or_raise();
    fmt::check_expected_dim(typmod, v.dim()).or_raise();
    let x = v.as_slice();
    Halfvec::from_fn(x.len(), |i| from_f32_checked(x[i]).or_raise())
}

// ---------------------------------------------------------------- distances

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_distance(a: HalfvecArg, b: HalfvecArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::l2_squared(a.as_slice(), b.as_slice()).sqrt()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_squared_distance(a: HalfvecArg, b: HalfvecArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::l2_squared(a.as_slice(), b.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_inner_product(a: HalfvecArg, b: HalfvecArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::dot(a.as_slice(), b.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_negative_inner_product(a: HalfvecArg, b: HalfvecArg) -> f64 {
    check_same_dims(&a, &b);
    -kernel::dot(a.as_slice(), b.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_cosine_distance(a: HalfvecArg, b: HalfvecArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::cosine_distance(a.as_slice(), b.as_slice())
}

/// Angular distance of unit vectors, for spherical k-means (pgvector's
/// ivfflat support function; kept for signature compatibility).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_spherical_distance(a: HalfvecArg, b: HalfvecArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::dot(a.as_slice(), b.as_slice()).clamp(-1.0, 1.0).acos() / std::f64::consts::PI
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l1_distance(a: HalfvecArg, b: HalfvecArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::l1(a.as_slice(), b.as_slice())
}

// ---------------------------------------------------------------- functions

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_vector_dims(v: HalfvecArg) -> i32 {
    v.dim() as i32
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_norm(v: HalfvecArg) -> f64 {
    kernel::norm(v.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_normalize(v: HalfvecArg) -> Halfvec {
    let x = v.as_slice();
    let norm = kernel::norm(x);
    if norm > 0.0 {
        // double quotient, rounded to float and then to half, as in C
        let mut out = Halfvec::from_fn(x.len(), |i| to_half((f64::from(x[i].to_f32()) / norm) as f32));
        check_overflow(out.as_mut_slice());
        out
    } else {
        Halfvec::zeroed(x.len())
    }
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_subvector(v: HalfvecArg, start: i32, count: i32) -> Halfvec {
    let x = v.as_slice();
    let range = subvector_range(x.len(), start, count, NAME).or_raise();
    Halfvec::from_slice(&x[range])
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_binary_quantize(v: HalfvecArg) -> RawDatum {
    let x = v.as_slice();
    RawDatum(super::bit::varbit_from_fn(x.len(), |i| x[i].to_f32() > 0.0))
}

// ---------------------------------------------------------------- arithmetic

/// Element by element in float, rounded to half.
fn elementwise(a: HalfvecArg, b: HalfvecArg, op: impl Fn(f32, f32) -> f32) -> Halfvec {
    check_same_dims(&a, &b);
    let (x, y) = (a.as_slice(), b.as_slice());
    let mut out = Halfvec::from_fn(x.len(), |i| to_half(op(x[i].to_f32(), y[i].to_f32())));
    check_overflow(out.as_mut_slice());
    out
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_add(a: HalfvecArg, b: HalfvecArg) -> Halfvec {
    elementwise(a, b, |x, y| x + y)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_sub(a: HalfvecArg, b: HalfvecArg) -> Halfvec {
    elementwise(a, b, |x, y| x - y)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_mul(a: HalfvecArg, b: HalfvecArg) -> Halfvec {
    check_same_dims(&a, &b);
    let (x, y) = (a.as_slice(), b.as_slice());
    let mut out = Halfvec::from_fn(x.len(), |i| to_half(x[i].to_f32() * y[i].to_f32()));
    // One pass, element by element: whichever of overflow and underflow
    // comes first is reported.
    for (i, r) in out.as_mut_slice().iter().enumerate() {
        if r.is_infinite() {
            raise(Error::float_overflow());
        }
        let zero = |h: f16| h.to_bits() & 0x7fff == 0;
        if zero(*r) && !(zero(x[i]) || zero(y[i])) {
            raise(Error::float_underflow());
        }
    }
    out
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_concat(a: HalfvecArg, b: HalfvecArg) -> Halfvec {
    let dim = a.dim() + b.dim();
    fmt::check_dim(dim, NAME, MAX_DIM).or_raise();
    let mut out = Halfvec::zeroed(dim);
    let r = out.as_mut_slice();
    r[..a.dim()].copy_from_slice(a.as_slice());
    r[a.dim()..].copy_from_slice(b.as_slice());
    out
}

// ---------------------------------------------------------------- comparison

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_cmp(a: HalfvecArg, b: HalfvecArg) -> i32 {
    compare(a.as_slice(), b.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_lt(a: HalfvecArg, b: HalfvecArg) -> bool {
    compare(a.as_slice(), b.as_slice()) < 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_le(a: HalfvecArg, b: HalfvecArg) -> bool {
    compare(a.as_slice(), b.as_slice()) <= 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_eq(a: HalfvecArg, b: HalfvecArg) -> bool {
    compare(a.as_slice(), b.as_slice()) == 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_ne(a: HalfvecArg, b: HalfvecArg) -> bool {
    compare(a.as_slice(), b.as_slice()) != 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_ge(a: HalfvecArg, b: HalfvecArg) -> bool {
    compare(a.as_slice(), b.as_slice()) >= 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_gt(a: HalfvecArg, b: HalfvecArg) -> bool {
    compare(a.as_slice(), b.as_slice()) > 0
}

// ---------------------------------------------------------------- aggregates
// `halfvec_combine` is `vector_combine` itself, as in pgvector.

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_accum(state: RawDatum, v: HalfvecArg, fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    aggregate::accum(fcinfo, state, v.as_slice(), |x| f64::from(x.to_f32()), "halfvec_accum")
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_avg(state: RawDatum) -> Option<Halfvec> {
    let means = aggregate::average(state, NAME, MAX_DIM, "halfvec_avg")?;
    Some(Halfvec::from_fn(means.len(), |i| {
        let x = from_f64_checked(means[i]).or_raise();
        check_element(x).or_raise();
        x
    }))
}
