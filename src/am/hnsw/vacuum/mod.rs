//! `VACUUM`: removing dead rows from the graph and repairing it.
//!
//! 1. **Prune TIDs** (`prune.rs`). Every node drops the heap TIDs vacuum reports dead. A
//!    node left with none is marked `DELETED` (under its page's exclusive
//!    lock, which is also where the set of deleted nodes comes from: an
//!    insert may have added a duplicate's TID since the share-locked look).
//!    Searches still walk through a deleted node, but no longer return it,
//!    and inserts no longer link to it. Before the first mark the meta page
//!    gets `FLAG_REPAIR_PENDING`.
//! 2. **Barrier.** Taking `UPDATE_LOCK` exclusively waits for the inserts
//!    that started before the marks; later ones see them.
//! 3. **Repair** (`repair.rs`). Every live node that links to a deleted one gets a new
//!    list: its live links plus the live links of the deleted ones (two
//!    hops), chosen again with the HNSW heuristic; when that leaves it short,
//!    a search from the entry point adds candidates. The entry point moves
//!    off a deleted node to the highest node live after every pass.
//! 4. **Free** (`free.rs`). After waiting out in-flight scans (`SCAN_LOCK`), deleted
//!    nodes become `FREE` slots for new insertions, unless some list could
//!    not be repaired (then the next vacuum retries). Each node is freed
//!    with its links tuple in one WAL record; its overflow chain is first
//!    unlinked a tuple at a time, so a crash never orphans a tuple.
//! 5. **Finish** (in `amvacuumcleanup`), only when this VACUUM removed
//!    something or the meta page says an earlier one did not finish: deleted
//!    nodes still there (a VACUUM killed midway) are repaired and freed, and
//!    live nodes no search can reach are linked back in (`reconnect.rs`);
//!    then the flag is cleared.
//!
//! Inserts and scans keep running throughout; only the two barriers wait.
//! This file holds the entry points, the order of the passes, the entry
//! point's move and the statistics.

mod free;
mod prune;
mod repair;

use super::meta::{Meta, FLAG_REPAIR_PENDING};
use crate::am::common::page::{data_pages, item, max_offset, nblocks, PageLock, SCAN_LOCK, UPDATE_LOCK};
use crate::hnsw::layout::{Node, NodeLayout, Ref, TidList, KIND_NODE};
use free::free_slots;
use pgrx::pg_sys;
use prune::prune_tids;
use repair::repair;
use std::collections::HashSet;

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
    let is_dead = |tid: Ref| {
        let mut t = crate::am::common::page::tid_from_ref(tid);
        // SAFETY: the callback vacuum gave us, with its own state.
        unsafe { callback(&mut t, callback_state) }
    };
    let done = vacuum_graph(index, is_dead);
    // SAFETY: stats is valid.
    unsafe {
        (*stats).tuples_removed += done.removed as f64;
        (*stats).num_index_tuples = done.remaining as f64;
    }
    stats
}

/// What [`vacuum_graph`] did.
struct Done {
    removed: usize,
    remaining: usize,
    /// Every list pointing at a deleted node was repaired and every deleted
    /// node freed.
    complete: bool,
}

/// Passes 1 to 4 with `is_dead` telling the dead heap TIDs (none, to finish
/// the work of an interrupted VACUUM).
fn vacuum_graph(index: pg_sys::Relation, is_dead: impl Fn(Ref) -> bool) -> Done {
    let meta = Meta::read(index);
    let pruned = prune_tids(index, &meta.layout, is_dead);
    let mut done = Done { removed: pruned.removed, remaining: pruned.remaining, complete: true };
    if pruned.deleted.is_empty() {
        // A live graph left without an entry point (by a VACUUM before this
        // was fixed) gets one.
        if meta.entry.is_none() && pruned.top.is_some() {
            move_entry(index, &meta.layout, &pruned.deleted, pruned.top);
        }
        return done;
    }
    drop(PageLock::exclusive(index, UPDATE_LOCK));
    let repaired = repair(index, &meta, &pruned.deleted);
    move_entry(index, &meta.layout, &pruned.deleted, pruned.top);
    if repaired {
        drop(PageLock::exclusive(index, SCAN_LOCK));
        drop(PageLock::exclusive(index, UPDATE_LOCK));
        free_slots(index, &meta.layout, &pruned.deleted);
    }
    done.complete = repaired;
    done
}

fn new_stats() -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: a zeroed result struct, as Postgres expects from an AM.
    unsafe { pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBulkDeleteResult>()).cast() }
}

/// Moves the entry point off a deleted node (or into an index left without
/// one) onto `top`, the highest node live after pass 1; if pass 1 found
/// none, onto the highest live node now (inserts may have added some).
/// Under `UPDATE_LOCK` exclusively: no insert reads or moves the entry
/// meanwhile.
fn move_entry(index: pg_sys::Relation, layout: &NodeLayout, deleted: &HashSet<Ref>, top: Option<(Ref, usize)>) {
    let _lock = PageLock::exclusive(index, UPDATE_LOCK);
    let entry = Meta::read(index).entry;
    if entry.is_some_and(|(e, _)| !deleted.contains(&e)) {
        return; // still live, or an insert has put a new node on top
    }
    let top = top.or_else(|| highest_live(index, layout));
    if top != entry {
        Meta::update(index, |m| m.entry = top);
    }
}

/// The highest live node of the index, by a scan of every page.
fn highest_live(index: pg_sys::Relation, layout: &NodeLayout) -> Option<(Ref, usize)> {
    let mut top: Option<(Ref, usize)> = None;
    for (block, buf) in data_pages(index) {
        let page = buf.page();
        for offset in 1..=max_offset(page) {
            let Some(node) = item(page, offset).and_then(|b| node_of(b, layout)) else { continue };
            if node.flags() == 0 && top.is_none_or(|(_, l)| node.level() > l) {
                top = Some((Ref { block, offset }, node.level()));
            }
        }
    }
    top
}

pub(super) fn node_of<'a>(bytes: &'a [u8], layout: &'a NodeLayout) -> Option<Node<'a>> {
    (bytes.first() == Some(&KIND_NODE)).then(|| Node::parse(bytes, layout)).flatten()
}

/// `amvacuumcleanup`: finishes the graph's repair when this VACUUM (or an
/// interrupted earlier one) deleted something, and fills in statistics.
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
        let index = (*info).index;
        let removed = !stats.is_null() && (*stats).tuples_removed > 0.0;
        let stats = if stats.is_null() {
            let stats = new_stats();
            let layout = Meta::read(index).layout;
            (*stats).num_index_tuples = count_tids(index, &layout) as f64;
            stats
        } else {
            stats
        };
        finish(index, removed);
        (*stats).num_pages = nblocks(index);
        stats
    }
}

/// Passes 3 to 5 for what an interrupted VACUUM left, then reconnection;
/// nothing (not even a look at the graph) when no rows were removed and
/// nothing was left pending: an insert-only VACUUM costs no graph walk.
fn finish(index: pg_sys::Relation, removed: bool) {
    let pending = Meta::has_flag(index, FLAG_REPAIR_PENDING);
    if !pending && !removed {
        return;
    }
    let complete = if pending { vacuum_graph(index, |_| false).complete } else { true };
    let reconnected = super::reconnect::reconnect(index);
    if pending && complete && reconnected.is_some() {
        Meta::set_flag(index, FLAG_REPAIR_PENDING, false);
    }
}

fn count_tids(index: pg_sys::Relation, layout: &NodeLayout) -> usize {
    let mut n = 0;
    for (_, buf) in data_pages(index) {
        let page = buf.page();
        for offset in 1..=max_offset(page) {
            let Some(bytes) = item(page, offset) else { continue };
            if let Some(list) = TidList::parse(bytes) {
                n += list.count();
            } else if let Some(node) = node_of(bytes, layout) {
                if node.flags() == 0 {
                    n += node.ntids();
                }
            }
        }
    }
    n
}
