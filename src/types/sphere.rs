//! Threshold search: "every row closer than r to q".
//!
//! `sphere(q, r)` is a composite value (`sphere_vector`: a center and a
//! `double precision` radius), and `v <<->> sphere(q, r)`
//! holds when `v <-> q < r`; likewise `<<#>>` for `<#>`, `<<=>>` for `<=>`
//! and `<<+>>` for `<+>`. The operators are in the hnsw operator classes
//! (strategy 2), so an index scan answers them: it walks outward from the
//! center and stops once a whole round finds nothing inside the sphere
//! (`src/am/hnsw/scan.rs`); the executor rechecks every row it returns.
//! The same operator evaluated on a row gives the exact answer, so a
//! sequential scan and an index scan agree.
//!
//! `halfvec` and `sparsevec` columns take the same `sphere_vector` (a second `sphere()` for
//! halfvec would make an untyped literal ambiguous): its center is rounded
//! to half precision first, as a `vector` literal compared with a `halfvec`
//! is (the implicit cast), so `v <<->> sphere(q, r)` holds exactly when
//! `v <-> q::halfvec < r`; for `sparsevec` the center's non-zeros are
//! its elements (the implicit cast), exactly.

use super::sparse_datum::SparseArg;
use super::varlena::DenseRef;
use super::{raise, RawDatum};
use crate::distance::dense;
use crate::distance::half as half_kernel;
use crate::distance::sparse::{self as sparse_kernel, SparseRef};
use crate::format::Error;
use half::f16;
use pgrx::prelude::*;

/// The center (a datum of the element type) and the radius of a sphere
/// datum; `None` when either field is NULL.
///
/// # Safety
/// `datum` must be a non-null value of a sphere composite type.
pub unsafe fn sphere_parts(datum: pg_sys::Datum) -> Option<(pg_sys::Datum, f64)> {
    // SAFETY: a composite datum is a varlena HeapTupleHeader (detoasted
    // here); its first field is the center, its second a float8.
    unsafe {
        let tuple = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()).cast::<pg_sys::HeapTupleHeaderData>();
        let mut null = false;
        let center = pg_sys::GetAttributeByNum(tuple, 1, &mut null);
        if null {
            return None;
        }
        let radius = pg_sys::GetAttributeByNum(tuple, 2, &mut null);
        if null {
            return None;
        }
        Some((center, f64::from_bits(radius.value() as u64)))
    }
}

/// The operator's arguments: the row's value (a datum of the column's type)
/// and the sphere's center (a `vector`) and radius; `None` when the sphere's
/// center or radius is NULL (the operator is then NULL).
///
/// # Safety
/// `fcinfo` must be a call of one of the STRICT two-argument threshold
/// functions: a vector-like value and a `sphere_vector`.
unsafe fn arguments<'a>(fcinfo: pg_sys::FunctionCallInfo) -> Option<(pg_sys::Datum, DenseRef<'a, f32>, f64)> {
    // SAFETY: forwarded from the caller: two non-null arguments, the second
    // a sphere_vector whose center is a `vector`.
    unsafe {
        let args = (*fcinfo).args.as_slice(2);
        let (center, radius) = sphere_parts(args[1].value)?;
        Some((args[0].value, DenseRef::<f32>::from_datum(center), radius))
    }
}

/// `inside(value, center)` as the operator's result, or NULL for a NULL
/// sphere.
fn answer(
    fcinfo: pg_sys::FunctionCallInfo,
    inside: impl FnOnce(pg_sys::Datum, DenseRef<f32>, f64) -> bool,
) -> RawDatum {
    // SAFETY: every caller is one of the threshold functions (see `arguments`).
    match unsafe { arguments(fcinfo) } {
        Some((value, center, radius)) => RawDatum(pg_sys::Datum::from(inside(value, center, radius))),
        None => {
            // SAFETY: a function may set its own result NULL.
            unsafe { (*fcinfo).isnull = true };
            RawDatum(pg_sys::Datum::from(0usize))
        }
    }
}

/// Whether a `vector` lies strictly inside a sphere under `distance`.
fn within(fcinfo: pg_sys::FunctionCallInfo, distance: fn(&[f32], &[f32]) -> f64) -> RawDatum {
    answer(fcinfo, |value, center, radius| {
        // SAFETY: the first argument of the vector threshold functions is a `vector`.
        let value = unsafe { DenseRef::<f32>::from_datum(value) };
        if value.dim() != center.dim() {
            raise(Error::different_dims("vector", value.dim(), center.dim()));
        }
        distance(value.as_slice(), center.as_slice()) < radius
    })
}

/// [`within`] for a `halfvec` value: the sphere's center rounded to halves
/// (an out-of-range value is the cast's error).
fn within_half(fcinfo: pg_sys::FunctionCallInfo, distance: fn(&[f16], &[f16]) -> f64) -> RawDatum {
    answer(fcinfo, |value, center, radius| {
        // SAFETY: the first argument of the halfvec threshold functions is a `halfvec`.
        let value = unsafe { DenseRef::<f16>::from_datum(value) };
        if value.dim() != center.dim() {
            raise(Error::different_dims("halfvec", value.dim(), center.dim()));
        }
        distance(value.as_slice(), &halves(center.as_slice())) < radius
    })
}

/// A `vector` as halves, as its cast to `halfvec` rounds it.
pub fn halves(values: &[f32]) -> Vec<f16> {
    values.iter().map(|&x| crate::format::half::from_f32_checked(x).unwrap_or_else(|e| raise(e))).collect()
}

/// A dense center as a sparse vector's indices and values (its non-zeros,
/// as the implicit `vector` to `sparsevec` cast keeps them).
pub fn sparse_parts(values: &[f32]) -> (Vec<i32>, Vec<f32>) {
    values.iter().enumerate().filter(|(_, &v)| v != 0.0).map(|(i, &v)| (i as i32, v)).unzip()
}

/// [`within`] for a `sparsevec` value: the center's non-zeros.
fn within_sparse(fcinfo: pg_sys::FunctionCallInfo, distance: fn(SparseRef, SparseRef) -> f64) -> RawDatum {
    answer(fcinfo, |value, center, radius| {
        // SAFETY: the first argument of the sparsevec threshold functions is a `sparsevec`.
        let value = unsafe { SparseArg::from_datum(value) };
        if value.dim() as usize != center.dim() {
            raise(Error::different_dims("sparsevec", value.dim() as usize, center.dim()));
        }
        let (indices, values) = sparse_parts(center.as_slice());
        distance(SparseRef::new(value.indices(), value.values()), SparseRef::new(&indices, &values)) < radius
    })
}

fn sparse_l2(a: SparseRef, b: SparseRef) -> f64 {
    f64::from(sparse_kernel::l2_squared(a, b)).sqrt()
}
fn sparse_negative_ip(a: SparseRef, b: SparseRef) -> f64 {
    -f64::from(sparse_kernel::dot(a, b))
}
fn sparse_l1(a: SparseRef, b: SparseRef) -> f64 {
    f64::from(sparse_kernel::l1(a, b))
}

#[pg_extern(sql = false)]
fn sparsevec_l2_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within_sparse(fcinfo, sparse_l2)
}

#[pg_extern(sql = false)]
fn sparsevec_ip_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within_sparse(fcinfo, sparse_negative_ip)
}

#[pg_extern(sql = false)]
fn sparsevec_cosine_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within_sparse(fcinfo, sparse_kernel::cosine_distance)
}

#[pg_extern(sql = false)]
fn sparsevec_l1_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within_sparse(fcinfo, sparse_l1)
}

fn half_l2(a: &[f16], b: &[f16]) -> f64 {
    half_kernel::l2_squared(a, b).sqrt()
}
fn half_negative_ip(a: &[f16], b: &[f16]) -> f64 {
    -half_kernel::dot(a, b)
}

#[pg_extern(sql = false)]
fn halfvec_l2_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within_half(fcinfo, half_l2)
}

#[pg_extern(sql = false)]
fn halfvec_ip_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within_half(fcinfo, half_negative_ip)
}

#[pg_extern(sql = false)]
fn halfvec_cosine_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within_half(fcinfo, half_kernel::cosine_distance)
}

#[pg_extern(sql = false)]
fn halfvec_l1_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within_half(fcinfo, half_kernel::l1)
}

fn l2(a: &[f32], b: &[f32]) -> f64 {
    dense::l2_squared(a, b).sqrt()
}
fn negative_ip(a: &[f32], b: &[f32]) -> f64 {
    -dense::dot(a, b)
}

#[pg_extern(sql = false)]
fn vector_l2_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within(fcinfo, l2)
}

#[pg_extern(sql = false)]
fn vector_ip_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within(fcinfo, negative_ip)
}

#[pg_extern(sql = false)]
fn vector_cosine_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within(fcinfo, dense::cosine_distance)
}

#[pg_extern(sql = false)]
fn vector_l1_within(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    within(fcinfo, dense::l1)
}
