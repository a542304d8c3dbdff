//! The `sparsevec` type: up to 1,000,000,000 dimensions and 16,000 non-zero
//! `real`s, pgvector's layout and behaviour.
//!
//! Every function here is declared by hand in `sql/sparsevec.sql` (hence
//! `sql = false`) under pgvector's SQL names; the Rust names are pgvector's
//! C symbols, so `l2_distance(sparsevec, sparsevec)` is
//! `sparsevec_l2_distance`.

use super::array::array_to_f32;
use super::halfvec::{Halfvec, HalfvecArg};
use super::sparse_datum::{SparseArg, SparseOut};
use super::vector::{Vector, VectorArg};
use super::{raise, typmod_in, OrRaise, RawDatum};
use crate::distance::sparse as kernel;
use crate::format::dense::{self as dense_fmt, check_expected_dim, DenseElement};
use crate::format::half::from_f32_checked;
use crate::format::sparse::{self as fmt, check_element, TYPE_NAME as NAME};
use crate::format::Error;
use pgrx::prelude::*;
use std::ffi::{CStr, CString};

fn check_same_dims(a: &SparseArg, b: &SparseArg) {
    if a.dim() != b.dim() {
        raise(Error::new(
            crate::format::SqlState::DataException,
            format!("different {NAME} dimensions {} and {}", a.dim(), b.dim()),
        ));
    }
}

// ---------------------------------------------------------------- I/O

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_in(input: &CStr, _oid: pg_sys::Oid, typmod: i32) -> SparseOut {
    let v = fmt::parse_text(input, typmod).or_raise();
    SparseOut::from_parts(v.dim, &v.indices, &v.values)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_out(v: SparseArg) -> CString {
    // The text is digits, signs, braces, colons and commas: never a NUL.
    CString::new(fmt::to_text(v.dim(), v.indices(), v.values())).unwrap_or_default()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_typmod_in(mods: RawDatum) -> i32 {
    typmod_in(mods, NAME, i64::from(fmt::MAX_DIM))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_recv(buf: RawDatum, _oid: pg_sys::Oid, typmod: i32) -> SparseOut {
    let v = super::recv_with(buf, |bytes| fmt::decode_binary(bytes, typmod));
    SparseOut::from_parts(v.dim, &v.indices, &v.values)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_send(v: SparseArg) -> Vec<u8> {
    fmt::encode_binary(v.dim(), v.indices(), v.values())
}

// ---------------------------------------------------------------- casts

/// `sparsevec(n)` coercion: checks the dimension count.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec(v: SparseArg, typmod: i32, _explicit: bool) -> RawDatum {
    check_expected_dim(typmod, v.dim() as usize).or_raise();
    RawDatum(v.into_datum())
}

/// A sparse value from a dense one of `dim` elements, keeping the non-zeros
/// (`-0` included among the zeros), with pgvector's checks.
fn from_dense(dim: usize, typmod: i32, value: impl Fn(usize) -> f32) -> SparseOut {
    fmt::check_dim(dim as i64).or_raise();
    check_expected_dim(typmod, dim).or_raise();
    let nnz = (0..dim).filter(|&i| value(i) != 0.0).count();
    fmt::check_nnz(nnz as i64, dim as i64).or_raise();
    let mut out = SparseOut::zeroed(dim as i32, nnz);
    let (indices, values) = out.parts_mut();
    let nonzero = (0..dim).filter_map(|i| {
        let v = value(i);
        (v != 0.0).then_some((i as i32, v))
    });
    for ((index, v), (di, dv)) in nonzero.zip(indices.iter_mut().zip(values.iter_mut())) {
        *di = index;
        *dv = v;
    }
    out
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_to_sparsevec(v: VectorArg, typmod: i32, _explicit: bool) -> SparseOut {
    let x = v.as_slice();
    from_dense(x.len(), typmod, |i| x[i])
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_to_sparsevec(v: HalfvecArg, typmod: i32, _explicit: bool) -> SparseOut {
    let x = v.as_slice();
    from_dense(x.len(), typmod, |i| x[i].to_f32())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn array_to_sparsevec(array: RawDatum, typmod: i32, _explicit: bool) -> SparseOut {
    let floats = array_to_f32(array, |dim| {
        fmt::check_dim(dim as i64).or_raise();
        check_expected_dim(typmod, dim).or_raise();
    });
    let out = from_dense(floats.len(), typmod, |i| floats[i]);
    // NaN and infinities are non-zeros, kept and then refused.
    for &v in floats.iter().filter(|&&v| v != 0.0) {
        check_element(v).or_raise();
    }
    out
}

/// The dense form of `v`, for a dense type of `E` elements whose dimension
/// limit applies.
fn dense_checked<E: DenseElement>(v: &SparseArg, typmod: i32) -> usize {
    let dim = usize::try_from(v.dim()).unwrap_or(0);
    dense_fmt::check_dim(dim, E::TYPE_NAME, E::MAX_DIM).or_raise();
    check_expected_dim(typmod, dim).or_raise();
    dim
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_to_vector(v: SparseArg, typmod: i32, _explicit: bool) -> Vector {
    let dim = dense_checked::<f32>(&v, typmod);
    let mut out = Vector::zeroed(dim);
    let x = out.as_mut_slice();
    for (&i, &value) in v.indices().iter().zip(v.values()) {
        x[i as usize] = value;
    }
    out
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_to_halfvec(v: SparseArg, typmod: i32, _explicit: bool) -> Halfvec {
    let dim = dense_checked::<half::f16>(&v, typmod);
    let mut out = Halfvec::zeroed(dim);
    let x = out.as_mut_slice();
    for (&i, &value) in v.indices().iter().zip(v.values()) {
        x[i as usize] = from_f32_checked(value).or_raise();
    }
    out
}

// ---------------------------------------------------------------- distances

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_distance(a: SparseArg, b: SparseArg) -> f64 {
    check_same_dims(&a, &b);
    f64::from(kernel::l2_squared(a.view(), b.view())).sqrt()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_squared_distance(a: SparseArg, b: SparseArg) -> f64 {
    check_same_dims(&a, &b);
    f64::from(kernel::l2_squared(a.view(), b.view()))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_inner_product(a: SparseArg, b: SparseArg) -> f64 {
    check_same_dims(&a, &b);
    f64::from(kernel::dot(a.view(), b.view()))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_negative_inner_product(a: SparseArg, b: SparseArg) -> f64 {
    check_same_dims(&a, &b);
    f64::from(-kernel::dot(a.view(), b.view()))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_cosine_distance(a: SparseArg, b: SparseArg) -> f64 {
    check_same_dims(&a, &b);
    kernel::cosine_distance(a.view(), b.view())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l1_distance(a: SparseArg, b: SparseArg) -> f64 {
    check_same_dims(&a, &b);
    f64::from(kernel::l1(a.view(), b.view()))
}

// ---------------------------------------------------------------- functions

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_norm(v: SparseArg) -> f64 {
    kernel::norm(v.values())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_normalize(v: SparseArg) -> SparseOut {
    let (indices, values) = (v.indices(), v.values());
    let norm = kernel::norm(values);
    // The norm is zero only for a value without elements, returned as is.
    if norm == 0.0 {
        return SparseOut::zeroed(v.dim(), 0);
    }
    let mut kept = Vec::with_capacity(values.len());
    for (&i, &x) in indices.iter().zip(values) {
        // double quotient rounded to float, as in C
        let r = (f64::from(x) / norm) as f32;
        if r.is_infinite() {
            raise(Error::float_overflow());
        }
        // A quotient that underflows to zero is dropped.
        if r != 0.0 {
            kept.push((i, r));
        }
    }
    let mut out = SparseOut::zeroed(v.dim(), kept.len());
    let (oi, ov) = out.parts_mut();
    for (k, (i, r)) in kept.into_iter().enumerate() {
        oi[k] = i;
        ov[k] = r;
    }
    out
}

// ---------------------------------------------------------------- comparison

fn cmp(a: &SparseArg, b: &SparseArg) -> i32 {
    kernel::compare(a.dim(), a.view(), b.dim(), b.view())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_cmp(a: SparseArg, b: SparseArg) -> i32 {
    cmp(&a, &b)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_lt(a: SparseArg, b: SparseArg) -> bool {
    cmp(&a, &b) < 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_le(a: SparseArg, b: SparseArg) -> bool {
    cmp(&a, &b) <= 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_eq(a: SparseArg, b: SparseArg) -> bool {
    cmp(&a, &b) == 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_ne(a: SparseArg, b: SparseArg) -> bool {
    cmp(&a, &b) != 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_ge(a: SparseArg, b: SparseArg) -> bool {
    cmp(&a, &b) >= 0
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_gt(a: SparseArg, b: SparseArg) -> bool {
    cmp(&a, &b) > 0
}
