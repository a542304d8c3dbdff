//! From an index's catalog entries to its [`Space`], and from a column's
//! datum to the payload the index stores.
//!
//! The element type comes from the column type (recognised by its input
//! function), the metric from the operator class's support function 1
//! (and function 2, the norm, which marks cosine), the dimension count from
//! the column's typmod. The index then computes distances itself, on page
//! bytes, instead of calling the SQL distance function through fmgr for
//! every pair.

use crate::format::{Error, SqlState};
use crate::hnsw::space::{Element, Metric, Payload, Space, SPARSE_MAX_NNZ};
use crate::types::bit::bit_parts;
use crate::types::raise;
use crate::types::sparse_datum::SparseArg;
use crate::types::varlena::DenseRef;
use pgrx::pg_sys;
use std::ffi::CStr;

/// Most dimensions an index accepts with a quantizer, for `vector` and
/// `halfvec` alike (the types' own limit).
pub const QUANTIZED_MAX_DIMS: i32 = 16000;

/// Largest dimension counts an index accepts, as pgvector: 2000 floats,
/// 4000 halves, 64000 bits (all 8000 bytes of payload).
pub const VECTOR_MAX_DIMS: i32 = 2000;
pub const HALFVEC_MAX_DIMS: i32 = 4000;
pub const BIT_MAX_DIMS: i32 = 64000;
/// `sparsevec` has no dimension limit of its own in an index (its type's is
/// 1,000,000,000), but at most 1000 non-zeros.
pub const SPARSEVEC_MAX_DIMS: i32 = 1_000_000_000;

fn func_name(oid: pg_sys::Oid) -> Option<String> {
    if oid == pg_sys::InvalidOid {
        return None;
    }
    // SAFETY: get_func_name returns a palloc'd copy of the name or null.
    unsafe {
        let name = pg_sys::get_func_name(oid);
        (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}

fn element_of(typid: pg_sys::Oid) -> Option<Element> {
    let (mut input, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
    // SAFETY: getTypeInputInfo looks the type up in the syscache.
    unsafe { pg_sys::getTypeInputInfo(typid, &mut input, &mut ioparam) };
    match func_name(input)?.as_str() {
        "vector_in" => Some(Element::F32),
        "halfvec_in" => Some(Element::F16),
        // Not varbit: an index needs one length (pgvector refuses it too).
        "bit_in" => Some(Element::Bit),
        "sparsevec_in" => Some(Element::Sparse),
        _ => None,
    }
}

fn metric_of(index: pg_sys::Relation) -> Option<Metric> {
    // SAFETY: index_getprocid reads the opclass's support functions of an
    // open index (InvalidOid when absent).
    let (distance, norm) = unsafe { (pg_sys::index_getprocid(index, 1, 1), pg_sys::index_getprocid(index, 1, 2)) };
    let name = func_name(distance)?;
    let metric = match name.as_str() {
        "vector_l2_squared_distance" | "halfvec_l2_squared_distance" | "sparsevec_l2_squared_distance" => Metric::L2,
        "vector_negative_inner_product" | "halfvec_negative_inner_product" | "sparsevec_negative_inner_product"
            if norm != pg_sys::InvalidOid =>
        {
            Metric::Cosine
        }
        "vector_negative_inner_product" | "halfvec_negative_inner_product" | "sparsevec_negative_inner_product" => {
            Metric::InnerProduct
        }
        "l1_distance" => Metric::L1,
        "hamming_distance" => Metric::Hamming,
        "jaccard_distance" => Metric::Jaccard,
        _ => return None,
    };
    Some(metric)
}

/// The index's space, checked as pgvector checks it when building.
pub fn space_of(index: pg_sys::Relation) -> Space {
    // SAFETY: an index relation has a tuple descriptor with one attribute.
    let (typid, typmod) = unsafe {
        let attr = (*(*index).rd_att).attrs.as_slice(1)[0];
        (attr.atttypid, attr.atttypmod)
    };
    let unsupported = || Error::new(SqlState::DataException, "type not supported for hnsw index");
    let Some(element) = element_of(typid) else {
        raise_code(pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, unsupported().message)
    };
    if typmod < 0 {
        raise(Error::new(SqlState::InvalidParameterValue, "column does not have dimensions"));
    }
    // With a quantizer nodes hold codes, not vectors: the types' own limit.
    let quantized = super::options::Options::of(index).quantizer.is_some();
    let max = match element {
        Element::F32 | Element::F16 if quantized => QUANTIZED_MAX_DIMS,
        Element::F32 => VECTOR_MAX_DIMS,
        Element::F16 => HALFVEC_MAX_DIMS,
        Element::Bit => BIT_MAX_DIMS,
        Element::Sparse => SPARSEVEC_MAX_DIMS,
    };
    if typmod > max {
        raise(Error::new(
            SqlState::ProgramLimitExceeded,
            format!("column cannot have more than {max} dimensions for hnsw index"),
        ));
    }
    let Some(metric) = metric_of(index).filter(|&m| Space::new(element, m, 0).is_valid()) else {
        raise_code(
            pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "operator class not supported by lodestone's hnsw index".into(),
        )
    };
    Space::new(element, metric, typmod as usize)
}

fn raise_code(code: pgrx::PgSqlErrorCode, message: String) -> ! {
    pgrx::ereport!(ERROR, code, message);
}

/// The payload of a column value, or `None` when it is not indexed (a zero
/// vector under cosine). Dimension mismatches raise pgvector's error.
///
/// # Safety
/// `datum` must be a non-null value of the index's column type.
pub unsafe fn payload_of(space: &Space, datum: pg_sys::Datum) -> Option<Payload> {
    match space.element {
        Element::F32 => {
            // SAFETY: forwarded from the caller: a `vector` datum.
            let v = unsafe { DenseRef::<f32>::from_datum(datum) };
            if v.dim() != space.dims {
                raise(Error::expected_dims(space.dims as i32, v.dim()));
            }
            space.payload_from_f32(v.as_slice())
        }
        Element::F16 => {
            // SAFETY: forwarded from the caller: a `halfvec` datum.
            let v = unsafe { DenseRef::<half::f16>::from_datum(datum) };
            if v.dim() != space.dims {
                raise(Error::expected_dims(space.dims as i32, v.dim()));
            }
            space.payload_from_f16(v.as_slice())
        }
        Element::Bit => {
            // SAFETY: forwarded from the caller: a `bit` or `varbit` datum.
            let (bits, bytes) = unsafe { bit_parts(datum) };
            if bits != space.dims {
                // bit(n) holds exactly n bits; this is a defence only.
                raise(Error::different_bit_lengths(space.dims, bits));
            }
            Some(space.payload_from_bits(bytes))
        }
        Element::Sparse => {
            // SAFETY: forwarded from the caller: a `sparsevec` datum.
            let v = unsafe { SparseArg::from_datum(datum) };
            if v.nnz() > SPARSE_MAX_NNZ {
                raise(Error::new(
                    SqlState::ProgramLimitExceeded,
                    format!("sparsevec cannot have more than {SPARSE_MAX_NNZ} non-zero elements for hnsw index"),
                ));
            }
            if v.dim() as usize != space.dims {
                raise(Error::expected_dims(space.dims as i32, v.dim() as usize));
            }
            space.payload_from_sparse(v.indices(), v.values())
        }
    }
}

/// pgvector's operator classes for `halfvec`, `bit` and `sparsevec` name a
/// support function 3, `hnsw_<type>_support(internal)`, through which its C
/// code learns the element type. lodestone's index reads the element type
/// from the column instead and never calls these; they exist so that the
/// operator classes, and the catalog, are pgvector's. Each returns the code
/// of its element type.
#[pgrx::pg_extern(sql = false)]
fn hnsw_halfvec_support(_fcinfo: pg_sys::FunctionCallInfo) -> crate::types::RawDatum {
    crate::types::RawDatum(pg_sys::Datum::from(2usize))
}

/// See [`hnsw_halfvec_support`].
#[pgrx::pg_extern(sql = false)]
fn hnsw_bit_support(_fcinfo: pg_sys::FunctionCallInfo) -> crate::types::RawDatum {
    crate::types::RawDatum(pg_sys::Datum::from(3usize))
}

/// See [`hnsw_halfvec_support`].
#[pgrx::pg_extern(sql = false)]
fn hnsw_sparsevec_support(_fcinfo: pg_sys::FunctionCallInfo) -> crate::types::RawDatum {
    crate::types::RawDatum(pg_sys::Datum::from(4usize))
}

/// A memory context for the work on one row, emptied after it: a TOASTed
/// or short-header value is detoasted into a palloc'd copy, and page reads
/// allocate too; in the caller's context these would live until the
/// statement ends (6 KB a row for 1536 dimensions: gigabytes for a
/// million-row `CREATE INDEX` or `INSERT ... SELECT`). pgvector does the
/// same in its build callback and `aminsert`.
pub struct RowContext(pg_sys::MemoryContext);

impl RowContext {
    /// A child of the current context (so it goes with it, error or not).
    pub fn new(name: &'static CStr) -> RowContext {
        // SAFETY: creates a memory context under the current one; the name
        // is a static string, as Postgres requires.
        RowContext(unsafe {
            pg_sys::AllocSetContextCreateExtended(
                pg_sys::CurrentMemoryContext,
                name.as_ptr(),
                pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
            )
        })
    }

    /// Runs `f` in this context, then frees everything `f` allocated in it.
    /// `f`'s result must not point into Postgres memory. On an ERROR the
    /// context is left to its parent (and the error's cleanup restores the
    /// current context).
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the context is alive (a child of the context we were
        // created in, which outlives us); we switch back before resetting.
        let previous = unsafe { pg_sys::MemoryContextSwitchTo(self.0) };
        let result = f();
        // SAFETY: as above; nothing of `result` lives in the context.
        unsafe {
            pg_sys::MemoryContextSwitchTo(previous);
            pg_sys::MemoryContextReset(self.0);
        }
        result
    }
}

impl Drop for RowContext {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return; // freed with its parent by the error's cleanup
        }
        // SAFETY: the context is not current (`run` switched back) and is
        // deleted once.
        unsafe { pg_sys::MemoryContextDelete(self.0) };
    }
}
