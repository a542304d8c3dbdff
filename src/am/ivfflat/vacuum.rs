//! `ambulkdelete`, `amvacuumcleanup`.
//!
//! Each list is walked along its chain, one page locked at a time
//! (exclusively, so concurrent inserts into that page wait), and the items
//! of dead rows are removed with one GenericXLog record per page. Pages
//! stay in their chain; the list's insert page in the directory becomes the
//! first page that lost items, so inserts refill freed space before
//! extending the index (pgvector does the same).

use super::layout::{self, Meta, INVALID_BLOCK};
use crate::am::common::corrupt;
use crate::am::common::page::{self, tid_from_ref, Buf, Wal};
use crate::hnsw::layout::Ref;
use pgrx::pg_sys;

fn new_stats() -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: a zeroed result struct, as Postgres expects from an AM.
    unsafe { pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBulkDeleteResult>()).cast() }
}

/// Visits every list page; `visit` returns the offsets to delete. Each
/// list's insert page becomes the first page that lost items.
fn walk(index: pg_sys::Relation, mut visit: impl FnMut(pg_sys::Page) -> Vec<u16>) {
    let meta = Meta::read(index);
    let entries = layout::read_directory(index, &meta);
    for entry in &entries {
        let mut block = entry.start;
        let mut hops = 0u32;
        let mut first_freed = None;
        while block != INVALID_BLOCK {
            // SAFETY: vacuum's cost-based delay and interrupt check.
            unsafe { pg_sys::vacuum_delay_point() };
            let nblocks = page::nblocks(index);
            if block >= nblocks || hops > nblocks {
                corrupt(index, "list chain");
            }
            let buf = Buf::exclusive(index, block);
            if page::page_type(buf.page()) != layout::PAGE_LIST {
                corrupt(index, "list page");
            }
            let mut dead = visit(buf.page());
            let next = layout::next_block(buf.page());
            if !dead.is_empty() {
                let mut wal = Wal::start(index);
                let p = wal.register(&buf);
                dead.sort_unstable();
                // SAFETY: the offsets are normal items of this page, sorted.
                unsafe { pg_sys::PageIndexMultiDelete(p, dead.as_mut_ptr(), dead.len() as i32) };
                wal.finish();
                first_freed.get_or_insert(block);
            }
            drop(buf);
            block = next;
            hops += 1;
        }
        if let Some(freed) = first_freed {
            super::insert::update_insert_page(index, &entry.head(), None, freed);
        }
    }
}

/// `ambulkdelete`
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambulkdelete(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut std::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: vacuum passes its info and (maybe null) stats.
    let index = unsafe { (*info).index };
    let stats = if stats.is_null() { new_stats() } else { stats };
    let Some(callback) = callback else {
        return stats;
    };
    let (mut removed, mut kept) = (0u64, 0u64);
    walk(index, |p| {
        let mut dead = Vec::new();
        for offset in 1..=page::max_offset(p) {
            let Some(bytes) = page::item(p, offset) else { continue };
            if bytes.len() < layout::ITEM_HEADER {
                corrupt(index, "list item");
            }
            let tid = u64::from_ne_bytes(bytes[..8].try_into().unwrap_or_default());
            let mut t = tid_from_ref(Ref::unpack(tid));
            // SAFETY: the callback vacuum gave us, with its own state.
            if unsafe { callback(&mut t, callback_state) } {
                dead.push(offset);
            } else {
                kept += 1;
            }
        }
        removed += dead.len() as u64;
        dead
    });
    // SAFETY: stats is valid.
    unsafe {
        (*stats).tuples_removed += removed as f64;
        (*stats).num_index_tuples = kept as f64;
    }
    stats
}

/// `amvacuumcleanup`: the page count for the statistics of `ambulkdelete`.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amvacuumcleanup(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: vacuum passes its info and (maybe null) stats.
    unsafe {
        if (*info).analyze_only {
            return stats;
        }
        // No ambulkdelete ran, so nothing changed: pgvector returns NULL
        // too, rather than reading the whole index for a count.
        if stats.is_null() {
            return stats;
        }
        let index = (*info).index;
        (*stats).num_pages = page::nblocks(index);
        stats
    }
}
