//! `sparsevec` datums as Postgres stores them (pgvector's `SparseVector`):
//!
//! ```text
//! int32 varlena header | int32 dim | int32 nnz | int32 unused (0)
//! | nnz × int32 index (0-based, ascending) | nnz × float4 value
//! ```
//!
//! [`SparseArg`] borrows a detoasted argument for one call; [`SparseOut`] is
//! a fresh `palloc`ed result.

use crate::distance::sparse::SparseRef;
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::{Datum, FromDatum};
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// The fixed part of a sparse datum.
#[repr(C)]
struct SparseHeader {
    vl_len: i32,
    dim: i32,
    nnz: i32,
    unused: i32,
}

const HEADER: usize = std::mem::size_of::<SparseHeader>();

/// A `sparsevec` passed into a function, detoasted, valid for the call.
pub struct SparseArg<'a> {
    ptr: NonNull<SparseHeader>,
    _life: PhantomData<&'a [f32]>,
}

impl<'a> SparseArg<'a> {
    /// # Safety
    /// `datum` must be a non-null `sparsevec` datum.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> Self {
        // SAFETY: forwarded from the caller.
        let ptr = unsafe { super::varlena::detoast(datum) }.cast::<SparseHeader>();
        SparseArg { ptr, _life: PhantomData }
    }

    fn header(&self) -> &SparseHeader {
        // SAFETY: `ptr` is a detoasted sparsevec datum, at least 16 bytes.
        unsafe { self.ptr.as_ref() }
    }

    #[inline]
    pub fn dim(&self) -> i32 {
        self.header().dim
    }

    /// Number of stored (non-zero) elements. Input functions never build a
    /// negative count.
    #[inline]
    pub fn nnz(&self) -> usize {
        usize::try_from(self.header().nnz).unwrap_or(0)
    }

    #[inline]
    pub fn indices(&self) -> &'a [i32] {
        // SAFETY: `nnz` int32 indices follow the 16-byte header; the datum is
        // 4-byte aligned (typalign int) and was built with this size.
        unsafe {
            let data = self.ptr.as_ptr().cast::<u8>().add(HEADER).cast::<i32>();
            std::slice::from_raw_parts(data, self.nnz())
        }
    }

    #[inline]
    pub fn values(&self) -> &'a [f32] {
        // SAFETY: `nnz` float4 values follow the indices (pgvector's
        // SPARSEVEC_VALUES), 4-byte aligned like them.
        unsafe {
            let data = self.ptr.as_ptr().cast::<u8>().add(HEADER + 4 * self.nnz()).cast::<f32>();
            std::slice::from_raw_parts(data, self.nnz())
        }
    }

    /// The indices and values, for the kernels.
    #[inline]
    pub fn view(&self) -> SparseRef<'a> {
        SparseRef::new(self.indices(), self.values())
    }

    /// The datum itself, to return an argument unchanged.
    pub fn into_datum(self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

/// A `sparsevec` built for returning, `palloc`ed in the current context.
pub struct SparseOut {
    ptr: NonNull<SparseHeader>,
}

impl SparseOut {
    /// A value of `dim` dimensions with room for `nnz` elements, zeroed.
    /// `dim` and `nnz` must already be checked.
    pub fn zeroed(dim: i32, nnz: usize) -> Self {
        let size = HEADER + 8 * nnz;
        // SAFETY: palloc0 returns zeroed, MAXALIGNed memory of `size` bytes or
        // raises an ERROR; we then set the varlena length, dim and nnz.
        unsafe {
            let ptr = pg_sys::palloc0(size).cast::<SparseHeader>();
            pgrx::varlena::set_varsize_4b(ptr.cast(), size as i32);
            (*ptr).dim = dim;
            (*ptr).nnz = nnz as i32;
            SparseOut { ptr: NonNull::new_unchecked(ptr) }
        }
    }

    pub fn from_parts(dim: i32, indices: &[i32], values: &[f32]) -> Self {
        let mut out = Self::zeroed(dim, indices.len());
        let (idx, vals) = out.parts_mut();
        idx.copy_from_slice(indices);
        vals.copy_from_slice(values);
        out
    }

    /// The index and value arrays, to fill in.
    pub fn parts_mut(&mut self) -> (&mut [i32], &mut [f32]) {
        // SAFETY: we allocated HEADER + nnz indices + nnz values and own them;
        // the two slices do not overlap.
        unsafe {
            let nnz = usize::try_from((*self.ptr.as_ptr()).nnz).unwrap_or(0);
            let base = self.ptr.as_ptr().cast::<u8>().add(HEADER);
            (
                std::slice::from_raw_parts_mut(base.cast::<i32>(), nnz),
                std::slice::from_raw_parts_mut(base.add(4 * nnz).cast::<f32>(), nnz),
            )
        }
    }

    pub fn into_datum(self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

// SAFETY (for the impls below): a `SparseArg` is only ever built from a datum
// of the SQL type `sparsevec`, which is how every function using it is declared.
impl FromDatum for SparseArg<'_> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        // SAFETY: Postgres passes a non-null datum of the declared type.
        (!is_null).then(|| unsafe { Self::from_datum(datum) })
    }
}

// SAFETY: unboxes through FromDatum above, for arguments declared sparsevec.
unsafe impl<'fcx> ArgAbi<'fcx> for SparseArg<'fcx> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: forwarded from pgrx's contract for ArgAbi.
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

// SAFETY: returns a palloced sparsevec from functions declared to return one.
unsafe impl BoxRet for SparseOut {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: the datum is a palloced value of the returned type.
        unsafe { fcinfo.return_raw_datum(self.into_datum()) }
    }
}

const SQL_NAME: &str = "sparsevec";

// SAFETY: both map to the SQL type `sparsevec`, which they hold.
unsafe impl SqlTranslatable for SparseArg<'_> {
    const TYPE_IDENT: &'static str = "lodestone::sparsevec";
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal(SQL_NAME));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal(SQL_NAME)));
}

// SAFETY: the SQL name is the type `sql/sparsevec.sql` declares, whose datums
// are what `SparseOut` returns.
unsafe impl SqlTranslatable for SparseOut {
    const TYPE_IDENT: &'static str = "lodestone::sparsevec";
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal(SQL_NAME));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal(SQL_NAME)));
}
