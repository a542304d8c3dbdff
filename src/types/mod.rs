//! The Postgres shell of lodestone's types: datums, SQL-callable functions,
//! errors raised with `ereport`. The SQL that declares them is in `sql/`.
//!
//! Parsing, printing and arithmetic live in the pure modules
//! ([`crate::format`], [`crate::distance`]); this layer only moves bytes
//! between Postgres and them.

pub mod aggregate;
pub mod array;
pub mod bit;
pub mod halfvec;
pub mod pq;
pub mod pq_dump;
pub mod sparse_datum;
pub mod sparsevec;
pub mod sphere;
pub mod varlena;
pub mod vector;

use crate::format::{Error, SqlState};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// Raises `err` as a Postgres `ERROR`.
pub fn raise(err: Error) -> ! {
    let code = match err.state {
        SqlState::DataException => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        SqlState::InvalidTextRepresentation => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        SqlState::NumericValueOutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        SqlState::ProgramLimitExceeded => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        SqlState::InvalidParameterValue => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        SqlState::ProtocolViolation => PgSqlErrorCode::ERRCODE_PROTOCOL_VIOLATION,
        SqlState::NullValueNotAllowed => PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        SqlState::InvalidBinaryRepresentation => PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION,
        SqlState::DivisionByZero => PgSqlErrorCode::ERRCODE_DIVISION_BY_ZERO,
    };
    let mut report = ErrorReport::new(code, err.message, "lodestone");
    if let Some(detail) = err.detail {
        report = report.set_detail(detail);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ereport(ERROR) returned")
}

/// `result.or_raise()`: the value, or a Postgres `ERROR`.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for crate::format::Result<T> {
    #[inline]
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => raise(e),
        }
    }
}

/// A datum passed through untouched: `internal` arguments, arrays handled by
/// hand, results built with Postgres's own constructors.
#[derive(Clone, Copy)]
pub struct RawDatum(pub pgrx::pg_sys::Datum);

// SAFETY: a RawDatum is never interpreted by pgrx; each function that takes or
// returns one is declared in `sql/` with the type it really carries.
unsafe impl<'fcx> pgrx::callconv::ArgAbi<'fcx> for RawDatum {
    unsafe fn unbox_arg_unchecked(arg: pgrx::callconv::Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: a Datum can be read from any argument slot.
        unsafe { arg.unbox_arg_using_from_datum::<RawDatum>() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

// SAFETY: see the ArgAbi impl.
impl pgrx::datum::FromDatum for RawDatum {
    unsafe fn from_polymorphic_datum(datum: pgrx::pg_sys::Datum, is_null: bool, _: pgrx::pg_sys::Oid) -> Option<Self> {
        (!is_null).then_some(RawDatum(datum))
    }
}

// SAFETY: the datum was built for the declared return type.
unsafe impl pgrx::callconv::BoxRet for RawDatum {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut pgrx::callconv::FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: forwarded from the caller.
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

pgrx::impl_sql_translatable!(RawDatum, "internal");

/// The shared typmod input function: exactly one modifier, `1..=max`.
pub fn typmod_in(array: RawDatum, type_name: &str, max: i64) -> i32 {
    let mut n: std::ffi::c_int = 0;
    // SAFETY: Postgres passes a cstring[] to a type's typmod_in function;
    // ArrayGetIntegerTypmods validates it and parses each modifier.
    let mods = unsafe {
        let array = varlena::detoast(array.0).as_ptr().cast::<pgrx::pg_sys::ArrayType>();
        let ptr = pgrx::pg_sys::ArrayGetIntegerTypmods(array, &mut n);
        std::slice::from_raw_parts(ptr, usize::try_from(n).unwrap_or(0))
    };
    let invalid = |msg: String| raise(Error::new(SqlState::InvalidParameterValue, msg));
    let [typmod] = mods else { invalid("invalid type modifier".into()) };
    if *typmod < 1 {
        invalid(format!("dimensions for type {type_name} must be at least 1"));
    }
    if i64::from(*typmod) > max {
        invalid(format!("dimensions for type {type_name} cannot exceed {max}"));
    }
    *typmod
}

/// Runs a binary decoder over the unread part of a `receive` function's
/// `StringInfo` and advances its cursor past what the decoder consumed.
pub fn recv_with<T>(buf: RawDatum, decode: impl FnOnce(&[u8]) -> crate::format::Result<(T, usize)>) -> T {
    // SAFETY: a type's receive function gets a StringInfo as its `internal`
    // argument; `data[cursor..len]` is the unread message.
    unsafe {
        let info = buf.0.cast_mut_ptr::<pgrx::pg_sys::StringInfoData>();
        let cursor = usize::try_from((*info).cursor).unwrap_or(0);
        let len = usize::try_from((*info).len).unwrap_or(0);
        let bytes = std::slice::from_raw_parts((*info).data.cast::<u8>().add(cursor), len.saturating_sub(cursor));
        let (value, used) = decode(bytes).or_raise();
        (*info).cursor += used as std::ffi::c_int;
        value
    }
}
