//! `avg` over dense vectors. The transition state is pgvector's: a
//! `double precision[]` holding the count followed by the running sums, so
//! partial aggregates from parallel workers combine with `vector_combine`.
//!
//! When Postgres calls the transition function as an aggregate, the state
//! belongs to the aggregate's memory context and is updated in place (as
//! Postgres's own `float8_accum` does) instead of being copied per row.

use super::{raise, RawDatum};
use crate::format::dense::{check_dim, check_expected_dim};
use crate::format::Error;
use pgrx::array::RawArray;
use pgrx::prelude::*;
use pgrx::IntoDatum;

/// The state's values, after pgvector's `CheckStateArray` checks.
fn state_array(state: RawDatum, caller: &str) -> RawArray {
    // SAFETY: the SQL declarations pass a float8[] here; we check its shape
    // before reading its data.
    unsafe {
        let ptr = super::varlena::detoast(state.0).cast::<pg_sys::ArrayType>();
        let array = RawArray::from_ptr(ptr);
        let ok =
            array.dims().len() == 1 && array.dims()[0] >= 1 && !array.any_nulls() && array.oid() == pg_sys::FLOAT8OID;
        if !ok {
            pgrx::error!("{caller}: expected state array");
        }
        array
    }
}

fn values_mut(array: &mut RawArray) -> &mut [f64] {
    // SAFETY: checked by `state_array`: a one-dimensional float8 array with
    // no nulls, whose data we may read (and write when we own it).
    unsafe { &mut *array.data::<f64>().as_ptr() }
}

fn new_state(values: &[f64]) -> RawDatum {
    match values.to_vec().into_datum() {
        Some(datum) => RawDatum(datum),
        None => pgrx::error!("could not build aggregate state"),
    }
}

fn add_checked(sum: f64, x: f64) -> f64 {
    let v = sum + x;
    if v.is_infinite() {
        raise(Error::float_overflow());
    }
    v
}

/// The transition function: count one more value and add it to the sums.
///
/// `fcinfo` is the transition function's own call info, which Postgres
/// guarantees valid for the call; it is only handed back to Postgres.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn accum<E: Copy>(
    fcinfo: pg_sys::FunctionCallInfo,
    state: RawDatum,
    x: &[E],
    widen: impl Fn(E) -> f64,
    caller: &str,
) -> RawDatum {
    let mut array = state_array(state, caller);
    let sums = values_mut(&mut array);
    let dim = sums.len() - 1;
    if dim == 0 {
        let mut fresh = Vec::with_capacity(x.len() + 1);
        fresh.push(sums[0] + 1.0);
        fresh.extend(x.iter().map(|&v| widen(v)));
        return new_state(&fresh);
    }
    check_expected_dim(dim as i32, x.len()).unwrap_or_else(|e| raise(e));
    // SAFETY: AggCheckCallContext only inspects fcinfo->context.
    let in_aggregate = unsafe { pg_sys::AggCheckCallContext(fcinfo, std::ptr::null_mut()) } != 0;
    if in_aggregate && dim == sums.len() - 1 {
        sums[0] += 1.0;
        for (s, &v) in sums[1..].iter_mut().zip(x) {
            *s = add_checked(*s, widen(v));
        }
        return RawDatum(pg_sys::Datum::from(array.into_ptr().as_ptr()));
    }
    let mut fresh = Vec::with_capacity(dim + 1);
    fresh.push(sums[0] + 1.0);
    fresh.extend(sums[1..=dim].iter().zip(x).map(|(&s, &v)| add_checked(s, widen(v))));
    new_state(&fresh)
}

/// The combine function for partial aggregates. A state with no sums yet
/// (a worker that saw no rows) takes the other's, whatever the counts say:
/// pgvector decides by the dimensions since 0.8.6 (two empty states gave
/// "vector must have at least 1 dimension" before, pgvector issue #1012).
pub fn combine(a: RawDatum, b: RawDatum, type_name: &str, max_dim: usize) -> RawDatum {
    let mut a = state_array(a, "vector_combine");
    let mut b = state_array(b, "vector_combine");
    let (sa, sb) = (values_mut(&mut a), values_mut(&mut b));
    let (da, db) = (sa.len() - 1, sb.len() - 1);
    let check = |dim: usize| check_dim(dim, type_name, max_dim).unwrap_or_else(|e| raise(e));
    let mut out = Vec::with_capacity(da.max(db) + 1);
    out.push(sa[0] + sb[0]);
    match (da, db) {
        (0, 0) => {}
        (0, _) => {
            check(db);
            out.extend_from_slice(&sb[1..]);
        }
        (_, 0) => {
            check(da);
            out.extend_from_slice(&sa[1..]);
        }
        _ => {
            check(da);
            check_expected_dim(da as i32, db).unwrap_or_else(|e| raise(e));
            out.extend(sa[1..].iter().zip(&sb[1..]).map(|(&x, &y)| add_checked(x, y)));
        }
    }
    new_state(&out)
}

/// The final function: the means, or `None` (SQL NULL) for no rows.
pub fn average(state: RawDatum, type_name: &str, max_dim: usize, caller: &str) -> Option<Vec<f64>> {
    let mut array = state_array(state, caller);
    let sums = values_mut(&mut array);
    let n = sums[0];
    if n == 0.0 {
        return None;
    }
    let dim = sums.len() - 1;
    check_dim(dim, type_name, max_dim).unwrap_or_else(|e| raise(e));
    Some(sums[1..=dim].iter().map(|&s| s / n).collect())
}
