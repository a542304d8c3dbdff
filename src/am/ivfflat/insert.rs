//! `aminsert`: a row goes into its nearest center's list.
//!
//! Lock order: the list's directory entry (shared, released; the centers
//! come from the backend's copy, `directory_cache.rs`); then the list's
//! pages from the entry's insert page (exclusive, one at a time), the first
//! with room taking the row (after a VACUUM that is the first page it freed
//! space on, as pgvector); at the chain's end a new page is linked while the
//! old one is still locked (so one insert at a time extends a list); then
//! the directory entry's insert page is updated (exclusive) if it is still
//! the one this insert started from. Every change is one GenericXLog record.

use super::directory_cache::{visit_centers, ListAt};
use super::layout::{self, item_bytes, Meta, INVALID_BLOCK};
use crate::am::common::corrupt;
use crate::am::common::page::{self, ref_from_tid, Buf, Wal};
use crate::am::hnsw::support::RowContext;
use pgrx::prelude::*;

/// `aminsert`
#[pgrx::pg_guard]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _check_unique: pg_sys::IndexUniqueCheck::Type,
    _unchanged: bool,
    _info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: one indexed column; Postgres passes its value, null flag and TID.
    let (value, null, tid) = unsafe { (*values, *isnull, &*heap_tid) };
    if null {
        return false;
    }
    // The detoasted value and the directory read are freed when the row is
    // done, not with the statement (an INSERT ... SELECT of a million rows).
    RowContext::new(c"ivfflat insert").run(|| {
        let meta = Meta::read(index);
        // SAFETY: a non-null value of the indexed column (detoasted by payload_of).
        let Some(payload) = (unsafe { crate::am::hnsw::support::payload_of(&meta.space, value) }) else {
            return;
        };
        let mut best: Option<(f32, ListAt)> = None;
        visit_centers(index, &meta, |_, at, center| {
            let d = meta.space.distance(center, payload.as_bytes());
            if best.is_none_or(|(b, _)| super::assign::nearer(d, b)) {
                best = Some((d, at));
            }
        });
        let Some((_, at)) = best else { return };
        let bytes = item_bytes(ref_from_tid(tid).pack(), payload.as_bytes());
        append(index, &at.head(index), &bytes);
    });
    false
}

/// Appends an item to the list whose directory entry is `entry`.
pub fn append(index: pg_sys::Relation, entry: &layout::EntryHead, bytes: &[u8]) {
    let original = entry.insert;
    let mut block = original;
    let mut hops = 0u32;
    let mut buf = loop {
        // Read the size here: a concurrent insert may just have linked a
        // page it added at the end. A chain longer than the index is a
        // cycle: corrupt, not a hang.
        let nblocks = page::nblocks(index);
        if block == INVALID_BLOCK || block >= nblocks || hops > nblocks {
            corrupt(index, "list chain");
        }
        let b = Buf::exclusive(index, block);
        if page::page_type(b.page()) != layout::PAGE_LIST {
            corrupt(index, "list page");
        }
        if page::fits(b.page(), bytes.len()) {
            let mut wal = Wal::start(index);
            let p = wal.register(&b);
            if page::add_item(p, bytes).is_none() {
                wal.abort();
                corrupt(index, "list page (no room for an item that fits)");
            }
            wal.finish();
            drop(b);
            if block != original {
                update_insert_page(index, entry, Some(original), block);
            }
            return;
        }
        let next = layout::next_block(b.page());
        if next == INVALID_BLOCK {
            break b;
        }
        block = next;
        hops += 1;
    };
    let new = Buf::extend(index);
    let mut wal = Wal::start(index);
    let np = wal.register_new(&new);
    layout::init_list_page(np);
    if page::add_item(np, bytes).is_none() {
        wal.abort();
        pgrx::error!("failed to add index item to \"{}\"", crate::am::common::relation_name(index));
    }
    let op = wal.register(&buf);
    layout::set_next_block(op, new.block());
    wal.finish();
    let new_block = new.block();
    drop(new);
    buf.unlock();
    drop(buf);
    update_insert_page(index, entry, Some(original), new_block);
}

/// Points the directory entry's insert page at `block`. An insert passes
/// the page it started from (`original`) and changes nothing if another
/// insert or a VACUUM changed it since (pgvector's rule: a VACUUM's earlier
/// page with free space is not overwritten); VACUUM passes `None`. A hint:
/// inserts follow the chain from it.
pub fn update_insert_page(index: pg_sys::Relation, entry: &layout::EntryHead, original: Option<u32>, block: u32) {
    let dir = Buf::exclusive(index, entry.block);
    let mut wal = Wal::start(index);
    let p = wal.register(&dir);
    match page::item_mut(p, entry.offset) {
        Some(e) if e.len() >= layout::ENTRY_HEADER => {
            let (_, insert) = layout::entry_pages(e);
            if insert != block && original.is_none_or(|o| o == insert) {
                e[4..8].copy_from_slice(&block.to_ne_bytes());
                wal.finish();
            } else {
                wal.abort();
            }
        }
        _ => {
            wal.abort();
            corrupt(index, "directory entry");
        }
    }
}
