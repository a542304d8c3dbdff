//! Index options (`WITH (m = 16, ef_construction = 64)`) and the `hnsw.*`
//! settings, with pgvector's names, defaults, ranges and descriptions.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::{pg_sys, PostgresGucEnum};
use std::ffi::CStr;

pub const DEFAULT_M: i32 = 16;
pub const MIN_M: i32 = 2;
pub const MAX_M: i32 = 100;
pub const DEFAULT_EF_CONSTRUCTION: i32 = 64;
pub const MIN_EF_CONSTRUCTION: i32 = 4;
pub const MAX_EF_CONSTRUCTION: i32 = 1000;

/// `hnsw.iterative_scan`
#[derive(Clone, Copy, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum IterativeScan {
    #[name = c"off"]
    Off,
    #[name = c"relaxed_order"]
    RelaxedOrder,
    #[name = c"strict_order"]
    StrictOrder,
}

/// `lodestone.build_distances` (lodestone only): what an index build
/// measures while it links the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum BuildDistances {
    /// Half-precision copies of `vector` payloads of 64 dimensions or more,
    /// when they fit in `maintenance_work_mem` beside the graph.
    #[name = c"half"]
    Half,
    /// The vectors themselves.
    #[name = c"exact"]
    Exact,
}

pub static EF_SEARCH: GucSetting<i32> = GucSetting::<i32>::new(40);
pub static ITERATIVE_SCAN: GucSetting<IterativeScan> = GucSetting::<IterativeScan>::new(IterativeScan::Off);
pub static MAX_SCAN_TUPLES: GucSetting<i32> = GucSetting::<i32>::new(20000);
pub static SCAN_MEM_MULTIPLIER: GucSetting<f64> = GucSetting::<f64>::new(1.0);
/// `lodestone.rerank_factor` (lodestone only): with a quantizer, how many
/// candidates are re-ranked with exact distances per batch, as a multiple of
/// `hnsw.ef_search`.
pub static RERANK_FACTOR: GucSetting<f64> = GucSetting::<f64>::new(1.0);
pub static BUILD_DISTANCES: GucSetting<BuildDistances> = GucSetting::<BuildDistances>::new(BuildDistances::Half);

/// `quantizer` index option values (the order is the stored enum value).
pub const QUANTIZER_NONE: i32 = 0;
pub const QUANTIZER_SQ8: i32 = 1;
pub const QUANTIZER_PQ: i32 = 2;
pub const QUANTIZER_BQ: i32 = 3;
/// Most PQ subvectors (as many as dimensions, at most).
pub const MAX_PQ_SUBVECTORS: i32 = 16000;

/// The reloption kind Postgres assigned us, set once in `_PG_init`.
static RELOPT_KIND: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The parsed `WITH (...)` options, as Postgres stores them in `rd_options`.
#[repr(C)]
pub struct RawOptions {
    vl_len: i32,
    m: i32,
    ef_construction: i32,
    quantizer: i32,
    pq_subvectors: i32,
}

/// Registers the reloptions and GUCs. Called from `_PG_init`.
pub fn init() {
    // SAFETY: reloption registration happens once per backend at load time,
    // with static strings; Postgres copies what it keeps.
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        RELOPT_KIND.store(kind, std::sync::atomic::Ordering::Relaxed);
        pg_sys::add_int_reloption(
            kind,
            c"m".as_ptr(),
            c"Max number of connections".as_ptr(),
            DEFAULT_M,
            MIN_M,
            MAX_M,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        pg_sys::add_int_reloption(
            kind,
            c"ef_construction".as_ptr(),
            c"Size of the dynamic candidate list for construction".as_ptr(),
            DEFAULT_EF_CONSTRUCTION,
            MIN_EF_CONSTRUCTION,
            MAX_EF_CONSTRUCTION,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        // The members array must outlive the backend: leaked once, here.
        let members: &'static mut [pg_sys::relopt_enum_elt_def] = Box::leak(Box::new([
            pg_sys::relopt_enum_elt_def { string_val: c"none".as_ptr(), symbol_val: QUANTIZER_NONE },
            pg_sys::relopt_enum_elt_def { string_val: c"sq8".as_ptr(), symbol_val: QUANTIZER_SQ8 },
            pg_sys::relopt_enum_elt_def { string_val: c"pq".as_ptr(), symbol_val: QUANTIZER_PQ },
            pg_sys::relopt_enum_elt_def { string_val: c"bq".as_ptr(), symbol_val: QUANTIZER_BQ },
            pg_sys::relopt_enum_elt_def { string_val: std::ptr::null(), symbol_val: 0 },
        ]));
        pg_sys::add_enum_reloption(
            kind,
            c"quantizer".as_ptr(),
            c"Compressed codes on index pages: none, sq8, pq or bq (lodestone only)".as_ptr(),
            members.as_mut_ptr(),
            QUANTIZER_NONE,
            c"Valid values are \"none\", \"sq8\", \"pq\" and \"bq\".".as_ptr(),
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        pg_sys::add_int_reloption(
            kind,
            c"pq_subvectors".as_ptr(),
            c"Subvectors of a pq quantizer, dividing the dimensions (0: about one per 8 dimensions)".as_ptr(),
            0,
            0,
            MAX_PQ_SUBVECTORS,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
    }

    GucRegistry::define_int_guc(
        c"hnsw.ef_search",
        c"Sets the size of the dynamic candidate list for search",
        c"Valid range is 1..1000.",
        &EF_SEARCH,
        1,
        1000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"hnsw.iterative_scan",
        c"Sets the mode for iterative scans",
        c"",
        &ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"hnsw.max_scan_tuples",
        c"Sets the max number of tuples to visit for iterative scans",
        c"",
        &MAX_SCAN_TUPLES,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"hnsw.scan_mem_multiplier",
        c"Sets the multiple of work_mem to use for iterative scans",
        c"",
        &SCAN_MEM_MULTIPLIER,
        1.0,
        1000.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"lodestone.rerank_factor",
        c"Sets how many candidates a quantized hnsw scan re-ranks exactly, as a multiple of hnsw.ef_search",
        c"Valid range is 0.01..100. lodestone only.",
        &RERANK_FACTOR,
        0.01,
        100.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"lodestone.build_distances",
        c"Sets what an hnsw index build measures while linking: half-precision copies of the vectors, or the vectors",
        c"half (the default) applies to vector columns of 64 or more dimensions when the copies fit in maintenance_work_mem beside the graph; the index stores exact vectors either way. lodestone only.",
        &BUILD_DISTANCES,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: marks the prefix so that misspelt hnsw.* settings warn.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"hnsw".as_ptr()) };
}

/// `amoptions`: parses and validates `WITH (...)`.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amoptions(reloptions: pg_sys::Datum, validate: bool) -> *mut pg_sys::bytea {
    let table = [
        parse_elt(c"m", std::mem::offset_of!(RawOptions, m)),
        parse_elt(c"ef_construction", std::mem::offset_of!(RawOptions, ef_construction)),
        pg_sys::relopt_parse_elt {
            optname: c"quantizer".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_ENUM,
            offset: std::mem::offset_of!(RawOptions, quantizer) as i32,
        },
        parse_elt(c"pq_subvectors", std::mem::offset_of!(RawOptions, pq_subvectors)),
    ];
    // SAFETY: build_reloptions fills a RawOptions-sized struct at the offsets
    // of the table, which match RawOptions's fields.
    unsafe {
        pg_sys::build_reloptions(
            reloptions,
            validate,
            RELOPT_KIND.load(std::sync::atomic::Ordering::Relaxed),
            std::mem::size_of::<RawOptions>(),
            table.as_ptr(),
            table.len() as i32,
        )
        .cast()
    }
}

fn parse_elt(name: &'static CStr, offset: usize) -> pg_sys::relopt_parse_elt {
    pg_sys::relopt_parse_elt {
        optname: name.as_ptr(),
        opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
        offset: offset as i32,
    }
}

/// The options of an index (defaults where none were given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub m: usize,
    pub ef_construction: usize,
    /// `None` for full precision.
    pub quantizer: Option<crate::quant::Kind>,
    /// 0 for the default.
    pub pq_subvectors: usize,
}

impl Options {
    pub fn of(index: pg_sys::Relation) -> Options {
        // SAFETY: rd_options is null or the struct amoptions built.
        unsafe {
            let raw = (*index).rd_options.cast::<RawOptions>();
            if raw.is_null() {
                return Options {
                    m: DEFAULT_M as usize,
                    ef_construction: DEFAULT_EF_CONSTRUCTION as usize,
                    quantizer: None,
                    pq_subvectors: 0,
                };
            }
            Options {
                m: (*raw).m as usize,
                ef_construction: (*raw).ef_construction as usize,
                quantizer: quantizer_kind((*raw).quantizer),
                pq_subvectors: (*raw).pq_subvectors.max(0) as usize,
            }
        }
    }
}

/// The quantizer of a stored `quantizer` option value.
pub fn quantizer_kind(value: i32) -> Option<crate::quant::Kind> {
    match value {
        QUANTIZER_SQ8 => Some(crate::quant::Kind::Sq8),
        QUANTIZER_PQ => Some(crate::quant::Kind::Pq),
        QUANTIZER_BQ => Some(crate::quant::Kind::Bq),
        _ => None,
    }
}

/// Candidates a quantized scan re-ranks per batch:
/// `ceil(ef_search × lodestone.rerank_factor)`, at least 1.
pub fn rerank_candidates() -> usize {
    ((ef_search() as f64 * RERANK_FACTOR.get()).ceil() as usize).max(1)
}

/// `hnsw.ef_search` now.
pub fn ef_search() -> usize {
    EF_SEARCH.get().max(1) as usize
}

pub fn iterative_scan() -> IterativeScan {
    ITERATIVE_SCAN.get()
}

pub fn max_scan_tuples() -> usize {
    MAX_SCAN_TUPLES.get().max(1) as usize
}

/// Memory an iterative scan may use, in bytes: `work_mem × hnsw.scan_mem_multiplier`.
pub fn scan_memory_limit() -> usize {
    // SAFETY: reads an int GUC of the current backend.
    let work_mem_kb = unsafe { pg_sys::work_mem } as f64;
    (work_mem_kb * 1024.0 * SCAN_MEM_MULTIPLIER.get()) as usize
}
