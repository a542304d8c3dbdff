//! What the access methods share: buffers, pages and WAL ([`page`]), the
//! heap scan of a build, and naming a relation (and its access method).

pub mod page;

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
