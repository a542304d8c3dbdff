//! Dense vector datums as Postgres stores them, shared by `vector` (f32
//! elements) and `halfvec` (f16 elements):
//!
//! ```text
//! int32 varlena header | int16 dim | int16 unused (0) | dim × element
//! ```
//!
//! This is pgvector's on-disk layout, so a table written by pgvector reads
//! back under lodestone byte for byte. [`DenseRef`] borrows a detoasted
//! argument for one call; [`DenseOut`] is a fresh `palloc`ed result.

use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::{Datum, FromDatum};
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// The fixed part of a dense datum.
#[repr(C)]
pub struct DenseHeader {
    vl_len: i32,
    pub dim: i16,
    pub unused: i16,
}

const HEADER: usize = std::mem::size_of::<DenseHeader>();

/// Detoasts a varlena datum unless it already is a plain 4-byte-header one
/// (the common case for values read from a heap page), saving an FFI call.
///
/// # Safety
/// `datum` must point at a valid varlena.
pub unsafe fn detoast(datum: pg_sys::Datum) -> NonNull<pg_sys::varlena> {
    let ptr = datum.cast_mut_ptr::<pg_sys::varlena>();
    // SAFETY: the caller guarantees `ptr` is a varlena, whose first byte
    // tells whether it is compressed, external or short.
    let plain = unsafe { pgrx::varlena::varatt_is_4b_u(ptr) };
    let ptr = if plain {
        ptr
    } else {
        // SAFETY: as above; Postgres allocates the copy in the current context.
        unsafe { pg_sys::pg_detoast_datum(ptr) }
    };
    NonNull::new(ptr).unwrap_or_else(|| pgrx::error!("lodestone: null varlena"))
}

/// A dense value passed into a function, detoasted, valid for the call.
pub struct DenseRef<'a, E> {
    ptr: NonNull<DenseHeader>,
    _life: PhantomData<&'a [E]>,
}

impl<'a, E: Copy> DenseRef<'a, E> {
    /// # Safety
    /// `datum` must be a non-null datum of the dense type whose elements are `E`.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> Self {
        // SAFETY: forwarded from the caller.
        let ptr = unsafe { detoast(datum) }.cast::<DenseHeader>();
        DenseRef { ptr, _life: PhantomData }
    }

    #[inline]
    pub fn dim(&self) -> usize {
        // SAFETY: `ptr` is a detoasted dense datum; `dim` is its third field.
        // A datum never has a negative dim (input functions refuse it).
        usize::try_from(unsafe { self.ptr.as_ref() }.dim).unwrap_or(0)
    }

    #[inline]
    pub fn as_slice(&self) -> &'a [E] {
        // SAFETY: the elements follow the 8-byte header; the datum is at least
        // 4-byte aligned (typalign int) so `E` (f32 or u16) is aligned, and its
        // size was checked when the value was built.
        unsafe {
            let data = self.ptr.as_ptr().cast::<u8>().add(HEADER).cast::<E>();
            std::slice::from_raw_parts(data, self.dim())
        }
    }

    /// The datum itself, to return an argument unchanged.
    pub fn into_datum(self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

/// A dense value built for returning, `palloc`ed in the current context.
pub struct DenseOut<E> {
    ptr: NonNull<DenseHeader>,
    _elem: PhantomData<E>,
}

impl<E: Copy> DenseOut<E> {
    /// A zeroed value with `dim` elements. `dim` must already be checked
    /// against the type's maximum.
    pub fn zeroed(dim: usize) -> Self {
        let size = HEADER + dim * std::mem::size_of::<E>();
        // SAFETY: palloc0 returns zeroed, MAXALIGNed memory of `size` bytes or
        // raises an ERROR; we then set the varlena length and dim.
        unsafe {
            let ptr = pg_sys::palloc0(size).cast::<DenseHeader>();
            pgrx::varlena::set_varsize_4b(ptr.cast(), size as i32);
            (*ptr).dim = dim as i16;
            DenseOut { ptr: NonNull::new_unchecked(ptr), _elem: PhantomData }
        }
    }

    pub fn from_slice(values: &[E]) -> Self {
        let mut out = Self::zeroed(values.len());
        out.as_mut_slice().copy_from_slice(values);
        out
    }

    /// Builds a value of `dim` elements from a function of the index.
    pub fn from_fn(dim: usize, mut f: impl FnMut(usize) -> E) -> Self {
        let mut out = Self::zeroed(dim);
        for (i, x) in out.as_mut_slice().iter_mut().enumerate() {
            *x = f(i);
        }
        out
    }

    pub fn as_mut_slice(&mut self) -> &mut [E] {
        // SAFETY: we allocated HEADER + dim elements and own them.
        unsafe {
            let dim = usize::try_from((*self.ptr.as_ptr()).dim).unwrap_or(0);
            let data = self.ptr.as_ptr().cast::<u8>().add(HEADER).cast::<E>();
            std::slice::from_raw_parts_mut(data, dim)
        }
    }

    pub fn into_datum(self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

/// The SQL type a dense element belongs to, for pgrx's signature metadata.
pub trait SqlElement {
    const SQL_NAME: &'static str;
    const TYPE_IDENT: &'static str;
}

impl SqlElement for f32 {
    const SQL_NAME: &'static str = "vector";
    const TYPE_IDENT: &'static str = "lodestone::vector";
}

impl SqlElement for half::f16 {
    const SQL_NAME: &'static str = "halfvec";
    const TYPE_IDENT: &'static str = "lodestone::halfvec";
}

// SAFETY (for the impls below): a `DenseRef<E>` is only ever built from a datum
// of the SQL type `E::SQL_NAME`, which is how every function using it is declared.
impl<'a, E: Copy> FromDatum for DenseRef<'a, E> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        // SAFETY: Postgres passes a non-null datum of the declared type.
        (!is_null).then(|| unsafe { Self::from_datum(datum) })
    }
}

// SAFETY: a `DenseRef` is read from the datum of a strict function's
// argument of its declared type, as `from_datum` requires.
unsafe impl<'fcx, E: Copy> ArgAbi<'fcx> for DenseRef<'fcx, E> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: forwarded from pgrx's contract for ArgAbi.
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

// SAFETY: `into_datum` yields a palloc'd varlena of the function's declared
// return type.
unsafe impl<E: Copy> BoxRet for DenseOut<E> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: the datum is a palloced value of the returned type.
        unsafe { fcinfo.return_raw_datum(self.into_datum()) }
    }
}

// SAFETY: `E::SQL_NAME` is the SQL type whose datums `DenseRef` reads.
unsafe impl<'a, E: SqlElement> SqlTranslatable for DenseRef<'a, E> {
    const TYPE_IDENT: &'static str = E::TYPE_IDENT;
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal(E::SQL_NAME));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal(E::SQL_NAME)));
}

// SAFETY: `E::SQL_NAME` is the SQL type whose datums `DenseOut` builds.
unsafe impl<E: SqlElement> SqlTranslatable for DenseOut<E> {
    const TYPE_IDENT: &'static str = E::TYPE_IDENT;
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal(E::SQL_NAME));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal(E::SQL_NAME)));
}
