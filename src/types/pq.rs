//! The `pq` type: product-quantized vectors, their codebooks, training, and
//! asymmetric distances from a `vector` query.
//!
//! A datum is a varlena of
//!
//! ```text
//! header | int32 codebook id | uint16 codes (m) | uint16 unused (0) | m × uint8
//! ```
//!
//! (native byte order; 8 + m bytes after the header, a 1-byte header when
//! short, so 384 dimensions in 48 subvectors take 57 bytes against 1,544 for
//! the `vector`).
//!
//! Codebooks live in `lodestone.pq_codebooks` (registered with
//! `pg_extension_config_dump` once it has a row, so dumps keep them:
//! [`super::pq_dump`]), one row per trained
//! codebook, its centroids in the versioned byte format of
//! [`crate::quant::codec`]. Rows are immutable by contract; a backend
//! caches decoded codebooks by id, and a statement trigger on the table
//! sends a relcache invalidation on UPDATE, DELETE or TRUNCATE, which every
//! backend's relcache callback turns into dropping its cache.
//!
//! Distance functions keep the query's ADC table in `fn_extra`, keyed by the
//! codebook id and the query's values, so a sequential scan builds it once.
//!
//! Training reads the column through SPI (reservoir-sampled, seeded, so the
//! same table gives the same codebook), then runs k-means in the pure core
//! on the build threads of [`crate::pool`] (as many as
//! `max_parallel_maintenance_workers + 1`, cancellable); no Postgres call
//! happens on those threads.

use super::vector::{Vector, VectorArg};
use super::{raise, OrRaise, RawDatum};
use crate::format::pq as pqvalue;
use crate::pool::run_cancellable;
use crate::quant::pq::{self as pqcore, AdcTable, Pq};
use crate::quant::rng::Rng;
use crate::quant::{Metric, Quantizer};
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::datum::FromDatum;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgMemoryContexts, PgSqlErrorCode};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::rc::Rc;

/// Seed of training (sampling and k-means): fixed, so that training the same
/// rows twice gives the same codebook.
const TRAIN_SEED: u64 = 0x005e_ed0f_10de;
/// Bytes after the varlena header before the codes.
const FIXED: usize = 8;
const VARHDRSZ: usize = 4;

fn fail(code: PgSqlErrorCode, message: String) -> ! {
    ErrorReport::new(code, message, "lodestone").report(PgLogLevel::ERROR);
    unreachable!("ereport(ERROR) returned")
}

// ---------------------------------------------------------------- datum

/// A `pq` argument, detoasted (short headers are read in place), valid for
/// the call.
pub struct PqRef<'a> {
    pub codebook: i32,
    pub codes: &'a [u8],
}

impl<'a> PqRef<'a> {
    /// # Safety
    /// `datum` must be a non-null datum of type `pq`.
    unsafe fn from_datum(datum: pg_sys::Datum) -> Self {
        // SAFETY: the caller guarantees a varlena; pg_detoast_datum_packed
        // returns it unchanged unless compressed or external, else a copy in
        // the current context that lives for the call. VARSIZE_ANY_EXHDR and
        // VARDATA_ANY read 1- and 4-byte headers alike.
        let bytes: &'a [u8] = unsafe {
            let ptr = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
            let len = pgrx::varlena::varsize_any_exhdr(ptr);
            std::slice::from_raw_parts(pgrx::varlena::vardata_any(ptr).cast::<u8>(), len)
        };
        let corrupt = || fail(PgSqlErrorCode::ERRCODE_DATA_CORRUPTED, "corrupt pq value".into());
        if bytes.len() < FIXED {
            corrupt();
        }
        let codebook = i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let m = usize::from(u16::from_ne_bytes([bytes[4], bytes[5]]));
        if bytes.len() != FIXED + m {
            corrupt();
        }
        PqRef { codebook, codes: &bytes[FIXED..] }
    }
}

/// A fresh `pq` datum, palloc'ed in the current context.
fn pq_datum(codebook: i32, codes: &[u8]) -> RawDatum {
    let size = VARHDRSZ + FIXED + codes.len();
    // SAFETY: palloc0 returns `size` writable bytes (or raises an ERROR); we
    // set the 4-byte varlena length and fill the rest within bounds.
    unsafe {
        let ptr = pg_sys::palloc0(size).cast::<u8>();
        pgrx::varlena::set_varsize_4b(ptr.cast(), size as i32);
        let body = std::slice::from_raw_parts_mut(ptr.add(VARHDRSZ), FIXED + codes.len());
        body[0..4].copy_from_slice(&codebook.to_ne_bytes());
        body[4..6].copy_from_slice(&(codes.len() as u16).to_ne_bytes());
        body[FIXED..].copy_from_slice(codes);
        RawDatum(pg_sys::Datum::from(ptr))
    }
}

impl<'a> FromDatum for PqRef<'a> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        // SAFETY: Postgres passes a non-null datum of the declared type `pq`.
        (!is_null).then(|| unsafe { Self::from_datum(datum) })
    }
}

// SAFETY: every function taking a PqRef is declared in sql/pq.sql with a
// `pq` argument in that position.
unsafe impl<'fcx> ArgAbi<'fcx> for PqRef<'fcx> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: forwarded from pgrx's contract for ArgAbi.
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

// SAFETY: metadata only; the SQL is written by hand.
unsafe impl<'a> SqlTranslatable for PqRef<'a> {
    const TYPE_IDENT: &'static str = "lodestone::pq";
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("pq"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal("pq")));
}

// ---------------------------------------------------------------- I/O

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_in(input: &CStr, _oid: pg_sys::Oid, _typmod: i32) -> RawDatum {
    let text = input.to_str().unwrap_or("");
    let v = pqvalue::parse_text(text).or_raise();
    pq_datum(v.codebook, &v.codes)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_out(v: PqRef) -> CString {
    // Digits, brackets, commas and a colon: never an interior NUL.
    CString::new(pqvalue::to_text(v.codebook, v.codes)).unwrap_or_default()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_recv(buf: RawDatum, _oid: pg_sys::Oid, _typmod: i32) -> RawDatum {
    let v = super::recv_with(buf, pqvalue::decode_binary);
    pq_datum(v.codebook, &v.codes)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_send(v: PqRef) -> Vec<u8> {
    pqvalue::encode_binary(v.codebook, v.codes)
}

// ---------------------------------------------------------------- codebooks

/// A codebook as loaded from `lodestone.pq_codebooks`.
pub struct Codebook {
    pub id: i32,
    pub pq: Pq,
}

thread_local! {
    static CACHE: RefCell<HashMap<i32, Rc<Codebook>>> = RefCell::new(HashMap::new());
    /// Set by the relcache callback; the next lookup empties the cache.
    static STALE: Cell<bool> = const { Cell::new(false) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
    static TABLE: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
}

#[pg_guard]
unsafe extern "C-unwind" fn relcache_changed(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    // Only Cells are touched: this may run while a lookup is under way.
    if relid == pg_sys::InvalidOid || relid == TABLE.get() {
        STALE.set(true);
    }
}

/// The codebook `id`, from this backend's cache or the table; an ERROR when
/// there is no such codebook.
pub fn codebook(id: i32) -> Rc<Codebook> {
    if !REGISTERED.get() {
        // SAFETY: registers a callback that lives as long as the library
        // (never unloaded); it only sets thread-local flags.
        unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(relcache_changed), pg_sys::Datum::from(0usize)) };
        REGISTERED.set(true);
    }
    if STALE.replace(false) {
        CACHE.with(|c| c.borrow_mut().clear());
    }
    if let Some(cb) = CACHE.with(|c| c.borrow().get(&id).cloned()) {
        return cb;
    }
    let cb = Rc::new(load(id));
    // An invalidation that arrived while loading leaves the result usable
    // for this call but uncached.
    if !STALE.get() {
        CACHE.with(|c| c.borrow_mut().insert(id, cb.clone()));
    }
    cb
}

fn load(id: i32) -> Codebook {
    type Row = (Option<i32>, Option<i32>, Option<i32>, Option<Vec<u8>>, Option<pg_sys::Oid>);
    let row: Result<Option<Row>, pgrx::spi::Error> = Spi::connect(|client| {
        let table = client.select(
            "SELECT dims, subvectors, bits, codebook, 'lodestone.pq_codebooks'::pg_catalog.regclass::pg_catalog.oid \
             FROM lodestone.pq_codebooks WHERE id = $1",
            Some(1),
            &[id.into()],
        )?;
        if table.is_empty() {
            return Ok(None);
        }
        let t = table.first();
        Ok(Some((t.get(1)?, t.get(2)?, t.get(3)?, t.get(4)?, t.get(5)?)))
    });
    let row = row.unwrap_or_else(|e| error!("lodestone: reading pq codebook {id}: {e}"));
    let Some((Some(dims), Some(m), Some(bits), Some(bytes), Some(table))) = row else {
        fail(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, format!("pq codebook {id} does not exist"));
    };
    TABLE.set(table);
    let corrupt =
        |why: String| fail(PgSqlErrorCode::ERRCODE_DATA_CORRUPTED, format!("pq codebook {id} is corrupt: {why}"));
    let pq = match Quantizer::from_bytes(&bytes) {
        Ok(Quantizer::Pq(pq)) => pq,
        Ok(other) => corrupt(format!("holds a {:?} quantizer", other.kind())),
        Err(e) => corrupt(e.message),
    };
    if (pq.dims() as i64, pq.subvectors() as i64, i64::from(pq.bits()))
        != (i64::from(dims), i64::from(m), i64::from(bits))
    {
        corrupt("its dims, subvectors or bits disagree with its centroids".into());
    }
    Codebook { id, pq }
}

fn check_query_dims(cb: &Codebook, dims: usize) {
    if cb.pq.dims() != dims {
        fail(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("vector has {dims} dimensions but pq codebook {} has {}", cb.id, cb.pq.dims()),
        );
    }
}

// ---------------------------------------------------------------- functions

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_encode(v: VectorArg, codebook_id: i32) -> RawDatum {
    let cb = codebook(codebook_id);
    check_query_dims(&cb, v.dim());
    let mut codes = vec![0u8; cb.pq.subvectors()];
    cb.pq.encode(v.as_slice(), &mut codes);
    pq_datum(codebook_id, &codes)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_decode(v: PqRef) -> Vector {
    let cb = codebook(v.codebook);
    let mut out = Vector::zeroed(cb.pq.dims());
    cb.pq.decode(v.codes, out.as_mut_slice()).or_raise();
    out
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_codebook(v: PqRef) -> i32 {
    v.codebook
}

// ---------------------------------------------------------------- distances

/// What a distance function keeps in `fn_extra` between calls.
struct QueryCache {
    codebook: Rc<Codebook>,
    query: Vec<f32>,
    table: AdcTable,
}

fn as_bytes(values: &[f32]) -> &[u8] {
    // SAFETY: f32 has no padding and every byte of it is initialised; the
    // byte slice covers exactly the same memory for the same lifetime.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) }
}

/// The distance from `query` to `value` by `metric`, through the ADC table
/// cached in this call site's `fn_extra`.
fn adc(fcinfo: pg_sys::FunctionCallInfo, metric: Metric, query: &[f32], value: &PqRef) -> f64 {
    // SAFETY: Postgres passes a valid fcinfo whose flinfo lives as long as
    // fn_mcxt; fn_extra is ours, and only ever holds the Option<QueryCache>
    // allocated here, dropped when fn_mcxt goes away.
    let slot: &mut Option<QueryCache> = unsafe {
        let flinfo = (*fcinfo).flinfo;
        if (*flinfo).fn_extra.is_null() {
            let ptr = PgMemoryContexts::For((*flinfo).fn_mcxt).leak_and_drop_on_delete(None::<QueryCache>);
            (*flinfo).fn_extra = ptr.cast();
        }
        &mut *(*flinfo).fn_extra.cast::<Option<QueryCache>>()
    };
    // Compare the query's bytes (one memcmp) rather than its floats.
    let hit = matches!(slot, Some(c) if c.codebook.id == value.codebook && as_bytes(&c.query) == as_bytes(query));
    if !hit {
        let cb = codebook(value.codebook);
        check_query_dims(&cb, query.len());
        let table = cb.pq.table(query, metric);
        *slot = Some(QueryCache { codebook: cb, query: query.to_vec(), table });
    }
    let Some(cache) = slot.as_ref() else { unreachable!("filled above") };
    cache.codebook.pq.check_codes(value.codes).or_raise();
    let d = f64::from(cache.table.distance(value.codes));
    match metric {
        Metric::L2Squared => d.sqrt(),
        _ => d,
    }
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_l2_distance(a: VectorArg, b: PqRef, fcinfo: pg_sys::FunctionCallInfo) -> f64 {
    adc(fcinfo, Metric::L2Squared, a.as_slice(), &b)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_l2_distance_rev(a: PqRef, b: VectorArg, fcinfo: pg_sys::FunctionCallInfo) -> f64 {
    adc(fcinfo, Metric::L2Squared, b.as_slice(), &a)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_negative_inner_product(a: VectorArg, b: PqRef, fcinfo: pg_sys::FunctionCallInfo) -> f64 {
    adc(fcinfo, Metric::NegativeInnerProduct, a.as_slice(), &b)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_negative_inner_product_rev(a: PqRef, b: VectorArg, fcinfo: pg_sys::FunctionCallInfo) -> f64 {
    adc(fcinfo, Metric::NegativeInnerProduct, b.as_slice(), &a)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_cosine_distance(a: VectorArg, b: PqRef, fcinfo: pg_sys::FunctionCallInfo) -> f64 {
    adc(fcinfo, Metric::Cosine, a.as_slice(), &b)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn pq_cosine_distance_rev(a: PqRef, b: VectorArg, fcinfo: pg_sys::FunctionCallInfo) -> f64 {
    adc(fcinfo, Metric::Cosine, b.as_slice(), &a)
}

// ---------------------------------------------------------------- training

/// `lodestone.pq_train(rel, col, subvectors, bits, sample)`: trains a
/// codebook on up to `sample` vectors of `rel.col` (a uniform, seeded
/// reservoir sample of its non-null values), stores it and returns its id.
#[pg_extern(volatile, strict, sql = false)]
fn pq_train(rel: pg_sys::Oid, col: &CStr, subvectors: i32, bits: i32, sample: i32) -> i32 {
    let invalid = |m: String| fail(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, m);
    if !(pqcore::MIN_BITS as i32..=pqcore::MAX_BITS as i32).contains(&bits) {
        invalid(format!("bits must be between {} and {}, not {bits}", pqcore::MIN_BITS, pqcore::MAX_BITS));
    }
    if subvectors < 1 {
        invalid(format!("subvectors must be at least 1, not {subvectors}"));
    }
    if sample < 1 {
        invalid(format!("sample must be at least 1, not {sample}"));
    }
    let col = col.to_str().unwrap_or_else(|_| invalid("column name is not valid UTF-8".into())).to_owned();
    let (m, bits, cap) = (subvectors as usize, bits as u32, sample as usize);

    // The column must exist and hold vectors (or halfvecs, read as real[]).
    type Found = (Option<String>, Option<String>, Option<String>, Option<String>);
    let found: Result<Found, pgrx::spi::Error> = Spi::connect(|client| {
        let t = client
            .select(
                "SELECT (SELECT t.typname::text FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
                         WHERE a.attrelid = $1 AND a.attname = $2::name AND a.attnum > 0 AND NOT a.attisdropped), \
                        pg_catalog.format('SELECT %I::real[] FROM %s WHERE %I IS NOT NULL', $2, $1::pg_catalog.regclass, $2), \
                        pg_catalog.format('%s.%I', $1::pg_catalog.regclass, $2), \
                        $1::pg_catalog.regclass::text",
                Some(1),
                &[rel.into(), col.clone().into()],
            )?
            .first();
        Ok((t.get(1)?, t.get(2)?, t.get(3)?, t.get(4)?))
    });
    let (typname, query, source, relname) = found.unwrap_or_else(|e| error!("lodestone: pq_train: {e}"));
    let (Some(query), Some(source)) = (query, source) else { error!("lodestone: pq_train: could not build the query") };
    match typname.as_deref() {
        None => fail(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            format!("column \"{col}\" of relation {} does not exist", relname.unwrap_or_default()),
        ),
        Some("vector" | "halfvec") => {}
        Some(other) => {
            fail(PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH, format!("column {source} is of type {other}, not vector"))
        }
    }

    // Fail before reading and training, not when storing the result.
    let may_insert = Spi::get_one::<bool>(
        "SELECT pg_catalog.has_table_privilege('lodestone.pq_codebooks', 'INSERT') \
            AND pg_catalog.has_sequence_privilege('lodestone.pq_codebooks_id_seq', 'USAGE')",
    );
    if !matches!(may_insert, Ok(Some(true))) {
        fail(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "permission denied for table lodestone.pq_codebooks (pq_train stores the codebook there)".into(),
        );
    }

    let (data, dims, rows) = read_sample(&query, cap, m, bits);
    if rows == 0 {
        fail(PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, format!("column {source} has no vectors to train on"));
    }
    pgrx::debug1!("lodestone: pq_train: training {m} subvectors of {bits} bits on {rows} rows");
    // Pure core: k-means on a pool of max_parallel_maintenance_workers + 1
    // threads, no Postgres call in there; cancellable like a build.
    let started = std::time::Instant::now();
    let pq =
        run_cancellable(|cancel| Pq::train_cancellable(&data, dims, m, bits, TRAIN_SEED, cancel), || {}).or_raise();
    pgrx::debug1!("lodestone: pq_train: trained in {:.2} s", started.elapsed().as_secs_f64());
    let bytes = Quantizer::Pq(pq).to_bytes();
    // No row limit (Spi::get_one's is 1): an INSERT … RETURNING stopped
    // after its first row never fires the AFTER STATEMENT trigger that
    // registers the table for pg_dump (pq_dump.rs).
    let args = [
        (dims as i32).into(),
        subvectors.into(),
        (bits as i32).into(),
        source.into(),
        (rows as i32).into(),
        bytes.into(),
    ];
    let id = Spi::connect_mut(|client| {
        client
            .update(
                "INSERT INTO lodestone.pq_codebooks (dims, subvectors, bits, source, sample_rows, codebook) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                None,
                &args,
            )?
            .first()
            .get_one::<i32>()
    });
    match id {
        Ok(Some(id)) => id,
        Ok(None) => error!("lodestone: pq_train: the codebook was not stored"),
        Err(e) => error!("lodestone: pq_train: storing the codebook: {e}"),
    }
}

/// Reservoir-samples up to `cap` vectors from `query`; returns them
/// row-major, their dimensions and how many rows were drawn.
fn read_sample(query: &str, cap: usize, m: usize, bits: u32) -> (Vec<f32>, usize, usize) {
    let mut rng = Rng::new(TRAIN_SEED);
    let mut data: Vec<f32> = Vec::new();
    let mut dims = 0usize;
    let mut seen = 0usize;
    let result: Result<(), pgrx::spi::Error> = Spi::connect(|client| {
        let mut cursor = client.open_cursor(query, &[]);
        let mut batch_cxt = PgMemoryContexts::new("lodestone pq_train batch");
        loop {
            pgrx::check_for_interrupts!();
            let table = cursor.fetch(1000)?;
            if table.is_empty() {
                break;
            }
            // SAFETY: detoasted arrays go to a context reset after each
            // batch, so reading a large table does not pile them up.
            unsafe {
                batch_cxt.switch_to(|_| -> Result<(), pgrx::spi::Error> {
                    for row in table {
                        let Some(v) = row.get::<Vec<f32>>(1)? else { continue };
                        if dims == 0 {
                            dims = v.len();
                            pqcore::check_shape(dims, m, bits).or_raise();
                            data.reserve(cap.min(1 << 16) * dims);
                        } else if v.len() != dims {
                            raise(crate::format::Error::different_dims("vector", dims, v.len()));
                        }
                        if seen < cap {
                            data.extend_from_slice(&v);
                        } else {
                            let j = rng.below(seen + 1);
                            if j < cap {
                                data[j * dims..(j + 1) * dims].copy_from_slice(&v);
                            }
                        }
                        seen += 1;
                    }
                    Ok(())
                })?;
                batch_cxt.reset();
                pg_sys::SPI_freetuptable(pg_sys::SPI_tuptable);
            }
        }
        Ok(())
    });
    result.unwrap_or_else(|e| error!("lodestone: pq_train: reading the sample: {e}"));
    let rows = data.len() / dims.max(1);
    (data, dims.max(1), rows)
}

/// Statement trigger on `lodestone.pq_codebooks` (UPDATE, DELETE,
/// TRUNCATE): makes every backend drop its cached codebooks at commit.
#[pg_extern(sql = false)]
fn pq_codebooks_invalidate(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    // SAFETY: a trigger function's fcinfo->context is its TriggerData (the
    // node tag is checked first); tg_relation is the open relation.
    unsafe {
        let ctx = (*fcinfo).context;
        if ctx.is_null() || (*ctx).type_ != pg_sys::NodeTag::T_TriggerData {
            fail(
                PgSqlErrorCode::ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                "pq_codebooks_invalidate() must be called as a trigger".into(),
            );
        }
        let data = ctx.cast::<pg_sys::TriggerData>();
        pg_sys::CacheInvalidateRelcacheByRelid((*(*data).tg_relation).rd_id);
    }
    RawDatum(pg_sys::Datum::from(0usize))
}
