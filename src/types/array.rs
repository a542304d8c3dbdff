//! Casts from Postgres arrays (`integer[]`, `real[]`, `double precision[]`,
//! `numeric[]`) to lodestone's types, with pgvector's checks and messages.

use super::{raise, RawDatum};
use crate::format::{Error, SqlState};
use pgrx::pg_sys;

/// The elements of a one-dimensional numeric array as `f32`s, converted the
/// way C casts them (`(float) int4`, `(float) float8`) and `numeric` through
/// `numeric_float4`. Errors as pgvector's `array_to_*` functions: more than
/// one dimension, nulls, or an element type other than the four above.
///
/// Dimension counts are the caller's to check, between the null check and the
/// conversion, so `check_dims` runs at that point.
pub fn array_to_f32(array: RawDatum, check_dims: impl FnOnce(usize)) -> Vec<f32> {
    // SAFETY: the SQL declarations only route arrays here; detoasting gives a
    // plain ArrayType whose header fields we read and which Postgres's own
    // functions deconstruct.
    unsafe {
        let arr = super::varlena::detoast(array.0).as_ptr().cast::<pg_sys::ArrayType>();
        if (*arr).ndim > 1 {
            raise(Error::new(SqlState::DataException, "array must be 1-D"));
        }
        if (*arr).dataoffset != 0 && pg_sys::array_contains_nulls(arr) {
            raise(Error::new(SqlState::NullValueNotAllowed, "array must not contain nulls"));
        }
        let elemtype = (*arr).elemtype;
        let (mut typlen, mut typbyval, mut typalign) = (0i16, false, 0 as std::ffi::c_char);
        pg_sys::get_typlenbyvalalign(elemtype, &mut typlen, &mut typbyval, &mut typalign);
        let mut elems: *mut pg_sys::Datum = std::ptr::null_mut();
        let mut count: std::ffi::c_int = 0;
        pg_sys::deconstruct_array(
            arr,
            elemtype,
            typlen.into(),
            typbyval,
            typalign,
            &mut elems,
            std::ptr::null_mut(),
            &mut count,
        );
        let datums = std::slice::from_raw_parts(elems, usize::try_from(count).unwrap_or(0));
        check_dims(datums.len());
        let values = match elemtype {
            pg_sys::INT4OID => datums.iter().map(|d| d.value() as i32 as f32).collect(),
            pg_sys::FLOAT8OID => datums.iter().map(|d| f64::from_bits(d.value() as u64) as f32).collect(),
            pg_sys::FLOAT4OID => datums.iter().map(|d| f32::from_bits(d.value() as u32)).collect(),
            pg_sys::NUMERICOID => datums
                .iter()
                .map(|d| pgrx::direct_function_call::<f32>(pg_sys::numeric_float4, &[Some(*d)]).unwrap_or(f32::NAN))
                .collect(),
            _ => raise(Error::new(SqlState::DataException, "unsupported array type")),
        };
        pg_sys::pfree(elems.cast());
        values
    }
}
