//! What the access methods share: buffers, pages and WAL ([`page`]), the
//! heap scan of a build, and naming a relation (and its access method).

pub mod page;

/// The callbacks that differ between lodestone's access methods; everything
/// else in their `IndexAmRoutine` is the same (see [`ordered_am_routine`]).
pub struct AmCallbacks {
    pub amsupport: u16,
    pub ambuild: pg_sys::ambuild_function,
    pub ambuildempty: pg_sys::ambuildempty_function,
    pub aminsert: pg_sys::aminsert_function,
    pub ambulkdelete: pg_sys::ambulkdelete_function,
    pub amvacuumcleanup: pg_sys::amvacuumcleanup_function,
    pub amcostestimate: pg_sys::amcostestimate_function,
    pub amoptions: pg_sys::amoptions_function,
    pub ambuildphasename: pg_sys::ambuildphasename_function,
    pub amvalidate: pg_sys::amvalidate_function,
    pub ambeginscan: pg_sys::ambeginscan_function,
    pub amrescan: pg_sys::amrescan_function,
    pub amgettuple: pg_sys::amgettuple_function,
    pub amendscan: pg_sys::amendscan_function,
}

/// The handler's result for an index that answers `ORDER BY col <op> value`
/// one tuple at a time (hnsw, ivfflat), filled as pgvector fills it for
/// Postgres 15: no bitmap scans, no multi-column keys, no parallel scans,
/// parallel bulk-delete in VACUUM.
pub fn ordered_am_routine(callbacks: AmCallbacks) -> crate::types::RawDatum {
    // SAFETY: makeNode of the routine struct; Postgres copies it into the
    // relcache.
    unsafe {
        let am = pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexAmRoutine>()).cast::<pg_sys::IndexAmRoutine>();
        let r = &mut *am;
        r.type_ = pg_sys::NodeTag::T_IndexAmRoutine;
        r.amstrategies = 0;
        r.amsupport = callbacks.amsupport;
        r.amoptsprocnum = 0;
        r.amcanorder = false;
        r.amcanorderbyop = true;
        r.amcanbackward = false;
        r.amcanunique = false;
        r.amcanmulticol = false;
        r.amoptionalkey = true;
        r.amsearcharray = false;
        r.amsearchnulls = false;
        r.amstorage = false;
        r.amclusterable = false;
        r.ampredlocks = false;
        r.amcanparallel = false;
        r.amcaninclude = false;
        r.amusemaintenanceworkmem = false;
        r.amparallelvacuumoptions = pg_sys::VACUUM_OPTION_PARALLEL_BULKDEL as u8;
        r.amkeytype = pg_sys::InvalidOid;

        r.ambuild = callbacks.ambuild;
        r.ambuildempty = callbacks.ambuildempty;
        r.aminsert = callbacks.aminsert;
        r.ambulkdelete = callbacks.ambulkdelete;
        r.amvacuumcleanup = callbacks.amvacuumcleanup;
        r.amcanreturn = None;
        r.amcostestimate = callbacks.amcostestimate;
        r.amoptions = callbacks.amoptions;
        r.amproperty = None;
        r.ambuildphasename = callbacks.ambuildphasename;
        r.amvalidate = callbacks.amvalidate;
        r.amadjustmembers = None;
        r.ambeginscan = callbacks.ambeginscan;
        r.amrescan = callbacks.amrescan;
        r.amgettuple = callbacks.amgettuple;
        r.amgetbitmap = None;
        r.amendscan = callbacks.amendscan;
        r.ammarkpos = None;
        r.amrestrpos = None;
        r.amestimateparallelscan = None;
        r.aminitparallelscan = None;
        r.amparallelrescan = None;
        crate::types::RawDatum(pg_sys::Datum::from(am))
    }
}

use pgrx::pg_sys;

/// The relation's name, for messages.
pub fn relation_name(rel: pg_sys::Relation) -> String {
    // SAFETY: reads the name of an open relation.
    unsafe { std::ffi::CStr::from_ptr((*(*rel).rd_rel).relname.data.as_ptr()).to_string_lossy().into_owned() }
}

/// The name of the access method of the index `rel` (`hnsw`, `ivfflat`,
/// `btree`, ...), from `pg_am`: how an introspection function tells that it
/// was handed an index of its own kind. (Comparing the routine's function
/// addresses instead fails when two copies of the library are loaded.)
pub fn access_method_name(rel: pg_sys::Relation) -> Option<String> {
    // SAFETY: reads the `relam` of an open relation; get_am_name looks it up
    // in the syscache and returns a palloc'd copy of the name, or NULL.
    unsafe {
        let name = pg_sys::get_am_name((*(*rel).rd_rel).relam);
        (!name.is_null()).then(|| std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}

/// Postgres's `table_index_build_scan`: calls `callback` for every row the
/// index should hold (for a partial index, only the rows its predicate
/// keeps) and returns the number of rows in the table. That number, not the
/// callbacks, is `IndexBuildResult.heap_tuples`: CREATE INDEX stores it as
/// the table's `reltuples`, and a partial index seeing 2% of the rows must
/// not tell the planner the table has 2% of its rows. (pgrx's
/// `IndexBuildHeapScan` drops it.)
///
/// # Safety
/// As `table_index_build_scan`: open relations, the index's `IndexInfo`,
/// and a callback that takes `state`.
pub unsafe fn index_build_heap_scan<T>(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    info: *mut pg_sys::IndexInfo,
    callback: pg_sys::IndexBuildCallback,
    state: *mut T,
) -> f64 {
    let mut rows = 0.0;
    // SAFETY: forwarded from the caller; the table AM of an open heap has
    // index_build_range_scan. The FFI guard turns a Postgres ERROR inside
    // the scan into a Rust panic so that our frames unwind.
    unsafe {
        let scan = (*(*heap).rd_tableam).index_build_range_scan;
        let Some(scan) = scan else {
            pgrx::error!("table access method cannot build indexes");
        };
        pg_sys::ffi::pg_guard_ffi_boundary(|| {
            rows = scan(
                heap,
                index,
                info,
                true,
                false,
                true,
                0,
                pg_sys::InvalidBlockNumber,
                callback,
                state.cast(),
                std::ptr::null_mut(),
            );
        });
    }
    rows
}

/// Reports a page that is not what the index expects.
pub fn corrupt(index: pg_sys::Relation, what: &str) -> ! {
    // SAFETY: reads the name of an open relation.
    let name = unsafe { std::ffi::CStr::from_ptr((*(*index).rd_rel).relname.data.as_ptr()) };
    pgrx::ereport!(
        ERROR,
        pgrx::PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
        format!("index \"{}\" has a corrupt {what}", name.to_string_lossy()),
        "REINDEX the index to rebuild it."
    );
}

/// `amrescan`'s first duty in every access method: copy the new scan keys
/// and ORDER BY keys into the descriptor.
///
/// # Safety
/// `amrescan`'s arguments: a scan descriptor with room for its keys and
/// `nkeys`/`norderbys` valid keys behind the (maybe null) pointers.
pub unsafe fn copy_scan_keys(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if !keys.is_null() && (*scan).numberOfKeys > 0 {
            std::ptr::copy(keys, (*scan).keyData, nkeys as usize);
        }
        if !orderbys.is_null() && (*scan).numberOfOrderBys > 0 {
            std::ptr::copy(orderbys, (*scan).orderByData, norderbys as usize);
        }
    }
}
