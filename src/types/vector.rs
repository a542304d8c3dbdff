//! The `vector` type: up to 16000 `real`s, pgvector's layout and behaviour.
//!
//! Every function here is declared by hand in `sql/vector.sql` (hence
//! `sql = false`), with the same names and signatures as pgvector's, so a
//! schema, a dump or a driver written for pgvector sees no difference.

use super::array::array_to_f32;
use super::varlena::{DenseOut, DenseRef};
use super::{raise, typmod_in, OrRaise, RawDatum};
use crate::distance::dense as kernel;
use crate::format::dense::{self as fmt, DenseElement};
use crate::format::Error;
use pgrx::prelude::*;
use std::ffi::{CStr, CString};

pub type VectorArg<'a> = DenseRef<'a, f32>;
pub type Vector = DenseOut<f32>;

const NAME: &str = <f32 as DenseElement>::TYPE_NAME;
const MAX_DIM: usize = <f32 as DenseElement>::MAX_DIM;

fn check_same_dims(a: &VectorArg, b: &VectorArg) {
    if a.dim() != b.dim() {
        raise(Error::different_dims(NAME, a.dim(), b.dim()));
    }
}

/// Overflow to infinity after arithmetic is an error, as in pgvector.
fn check_overflow(values: &[f32]) {
    if values.iter().any(|v| v.is_infinite()) {
        raise(Error::float_overflow());
    }
}

// ---------------------------------------------------------------- I/O

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_in(input: &CStr, _oid: pg_sys::Oid, typmod: i32) -> Vector {
    Vector::from_slice(&fmt::parse_text::<f32>(input, typmod).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_out(v: VectorArg) -> CString {
    // The text is digits, signs, brackets and commas: never an interior NUL.
    CString::new(fmt::to_text(v.as_slice())).unwrap_or_default()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_typmod_in(mods: RawDatum) -> i32 {
    typmod_in(mods, NAME, MAX_DIM as i64)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_recv(buf: RawDatum, _oid: pg_sys::Oid, typmod: i32) -> Vector {
    let values = super::recv_with(buf, |bytes| fmt::decode_binary::<f32>(bytes, typmod));
    Vector::from_slice(&values)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_send(v: VectorArg) -> Vec<u8> {
    fmt::encode_binary(v.as_slice())
}

// ---------------------------------------------------------------- casts

/// `vector(n)` coercion: checks the dimension count.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector(v: VectorArg, typmod: i32, _explicit: bool) -> RawDatum {
    fmt::check_expected_dim(typmod, v.dim()).or_raise();
    RawDatum(v.into_datum())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn array_to_vector(array: RawDatum, typmod: i32, _explicit: bool) -> Vector {
    let values = array_to_f32(array, |dim| {
        fmt::check_dim(dim, NAME, MAX_DIM).or_raise();
        fmt::check_expected_dim(typmod, dim).or_raise();
    });
    for &v in &values {
        fmt::check_finite(v, NAME).or_raise();
    }
    Vector::from_slice(&values)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_to_float4(v: VectorArg, _typmod: i32, _explicit: bool) -> Vec<f32> {
    v.as_slice().to_vec()
}

// ---------------------------------------------------------------- distances

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn l2_distance(a: VectorArg, b: VectorArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::l2_squared(a.as_slice(), b.as_slice()).sqrt()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_l2_squared_distance(a: VectorArg, b: VectorArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::l2_squared(a.as_slice(), b.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn inner_product(a: VectorArg, b: VectorArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::dot(a.as_slice(), b.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_negative_inner_product(a: VectorArg, b: VectorArg) -> f64 {
    check_same_dims(&a, &b);
    -kernel::dot(a.as_slice(), b.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn cosine_distance(a: VectorArg, b: VectorArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::cosine_distance(a.as_slice(), b.as_slice())
}

/// Angular distance of unit vectors, for spherical k-means (pgvector's
/// ivfflat support function; kept for signature compatibility).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_spherical_distance(a: VectorArg, b: VectorArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::dot(a.as_slice(), b.as_slice()).clamp(-1.0, 1.0).acos() / std::f64::consts::PI
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn l1_distance(a: VectorArg, b: VectorArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::l1(a.as_slice(), b.as_slice())
}

// ---------------------------------------------------------------- functions

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_dims(v: VectorArg) -> i32 {
    v.dim() as i32
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_norm(v: VectorArg) -> f64 {
    kernel::norm(v.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn l2_normalize(v: VectorArg) -> Vector {
    let x = v.as_slice();
    let norm = kernel::norm(x);
    if norm > 0.0 {
        let mut out = Vector::from_fn(x.len(), |i| (f64::from(x[i]) / norm) as f32);
        // Dividing a denormal-heavy vector by its tiny norm can overflow.
        check_overflow(out.as_mut_slice());
        out
    } else {
        Vector::zeroed(x.len())
    }
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn subvector(v: VectorArg, start: i32, count: i32) -> Vector {
    let x = v.as_slice();
    let range = subvector_range(x.len(), start, count, NAME).or_raise();
    Vector::from_slice(&x[range])
}

/// pgvector's `subvector` arithmetic: 1-based `start`, clipped to the value,
/// and at least one element left.
pub fn subvector_range(
    dim: usize,
    start: i32,
    count: i32,
    type_name: &str,
) -> crate::format::Result<std::ops::Range<usize>> {
    let dim = dim as i64;
    let (start, count) = (i64::from(start), i64::from(count));
    if count < 1 {
        return Err(Error::too_few_dims(type_name));
    }
    let end = if start > dim - count { dim + 1 } else { start + count };
    let start = if start < 1 {
        1
    } else if start > dim {
        return Err(Error::too_few_dims(type_name));
    } else {
        start
    };
    let len = end - start;
    if len < 1 {
        return Err(Error::too_few_dims(type_name));
    }
    Ok((start - 1) as usize..(end - 1) as usize)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn binary_quantize(v: VectorArg) -> RawDatum {
    RawDatum(super::bit::varbit_from_fn(v.dim(), |i| v.as_slice()[i] > 0.0))
}

// ---------------------------------------------------------------- arithmetic

fn elementwise(a: VectorArg, b: VectorArg, op: impl Fn(f32, f32) -> f32) -> Vector {
    check_same_dims(&a, &b);
    let (x, y) = (a.as_slice(), b.as_slice());
    let mut out = Vector::from_fn(x.len(), |i| op(x[i], y[i]));
    check_overflow(out.as_mut_slice());
    out
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_add(a: VectorArg, b: VectorArg) -> Vector {
    elementwise(a, b, |x, y| x + y)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_sub(a: VectorArg, b: VectorArg) -> Vector {
    elementwise(a, b, |x, y| x - y)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_mul(a: VectorArg, b: VectorArg) -> Vector {
    check_same_dims(&a, &b);
    let (x, y) = (a.as_slice(), b.as_slice());
    let mut out = Vector::from_fn(x.len(), |i| x[i] * y[i]);
    // One pass, element by element, as pgvector: whichever of overflow and
    // underflow comes first is reported.
    for (i, &r) in out.as_mut_slice().iter().enumerate() {
        if r.is_infinite() {
            raise(Error::float_overflow());
        }
        if r == 0.0 && !(x[i] == 0.0 || y[i] == 0.0) {
            raise(Error::float_underflow());
        }
    }
    out
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_concat(a: VectorArg, b: VectorArg) -> Vector {
    let dim = a.dim() + b.dim();
    fmt::check_dim(dim, NAME, MAX_DIM).or_raise();
    let mut out = Vector::zeroed(dim);
    let r = out.as_mut_slice();
    r[..a.dim()].copy_from_slice(a.as_slice());
    r[a.dim()..].copy_from_slice(b.as_slice());
    out
}

// ---------------------------------------------------------------- comparison

/// Element by element, then shorter first: the order of Postgres arrays.
pub fn compare<T: PartialOrd>(a: &[T], b: &[T]) -> i32 {
    for (x, y) in a.iter().zip(b) {
        if x < y {
            return -1;
        }
        if x > y {
            return 1;
        }
    }
    (a.len() as i64 - b.len() as i64).signum() as i32
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_cmp(a: VectorArg, b: VectorArg) -> i32 {
    compare(a.as_slice(), b.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_lt(a: VectorArg, b: VectorArg) -> bool {
    compare(a.as_slice(), b.as_slice()) < 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_le(a: VectorArg, b: VectorArg) -> bool {
    compare(a.as_slice(), b.as_slice()) <= 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_eq(a: VectorArg, b: VectorArg) -> bool {
    compare(a.as_slice(), b.as_slice()) == 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_ne(a: VectorArg, b: VectorArg) -> bool {
    compare(a.as_slice(), b.as_slice()) != 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_ge(a: VectorArg, b: VectorArg) -> bool {
    compare(a.as_slice(), b.as_slice()) >= 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_gt(a: VectorArg, b: VectorArg) -> bool {
    compare(a.as_slice(), b.as_slice()) > 0
}

// ---------------------------------------------------------------- aggregates

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_accum(state: RawDatum, v: VectorArg, fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    super::aggregate::accum(fcinfo, state, v.as_slice(), f64::from, "vector_accum")
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_combine(a: RawDatum, b: RawDatum) -> RawDatum {
    super::aggregate::combine(a, b, NAME, MAX_DIM)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_avg(state: RawDatum) -> Option<Vector> {
    let means = super::aggregate::average(state, NAME, MAX_DIM, "vector_avg")?;
    let values: Vec<f32> = means.iter().map(|&m| m as f32).collect();
    for &v in &values {
        fmt::check_finite(v, NAME).or_raise();
    }
    Some(Vector::from_slice(&values))
}
