//! `lodestone_ivfflat_verify(regclass)`: walks an ivfflat index and lists
//! what is wrong with it, one row per problem (no rows when it is sound).
//!
//! It reads every list's chain from the directory, as a scan with every
//! list probed would, and checks what a scan and an insert rely on: each
//! chain stays inside the index, has no cycle and shares no page with
//! another list; each page of a chain is a list page; each item has the
//! size the index's type gives it and a heap TID that can exist; no heap
//! TID is indexed twice; each list's insert page is on its own chain; and
//! no list page is left out of every chain. It only reads, holding the
//! index in `ShareLock` (as amcheck's `bt_index_parent_check`): inserts and
//! VACUUM wait, scans do not, and what it finds is not a race with them. A
//! meta page or directory too damaged to say where the lists are is an
//! ERROR (`XX002`), as for a scan.

use super::info::Opened;
use super::layout::{self, Meta, INVALID_BLOCK};
use crate::am::common::page::{self, Buf};
use crate::hnsw::layout::Ref;
use pgrx::prelude::*;
use std::collections::HashMap;

/// Postgres's `MaxHeapTuplesPerPage` for 8 kB pages (a macro, not in the
/// bindings): (8192 - 24) / (24 + 4).
const MAX_HEAP_TUPLES_PER_PAGE: u16 = 291;

/// One finding: problem, block, item (0 for a whole page), detail.
type Problem = (String, i64, i32, String);

#[pg_extern(sql = false)]
fn lodestone_ivfflat_verify(
    index: pg_sys::Oid,
) -> TableIterator<'static, (name!(problem, String), name!(block, i64), name!(item, i32), name!(detail, String))> {
    let opened = Opened::locked(index, pg_sys::ShareLock as pg_sys::LOCKMODE);
    let rel = opened.0;
    let meta = Meta::read(rel);
    let entries = layout::read_directory(rel, &meta);
    let nblocks = page::nblocks(rel);
    let item_len = layout::ITEM_HEADER + meta.space.payload_len();
    let mut problems: Vec<Problem> = Vec::new();
    let mut report = |problem: &str, block: u32, item: u16, detail: String| {
        problems.push((problem.to_string(), i64::from(block), i32::from(item), detail));
    };
    // The list each page belongs to, and where each heap TID was seen.
    let mut owner: Vec<Option<usize>> = vec![None; nblocks as usize];
    let mut seen: HashMap<u64, Ref> = HashMap::new();
    // The table's size is read after the walk: it only grows meanwhile.
    let mut farthest: Option<(Ref, Ref)> = None;

    for (list, entry) in entries.iter().enumerate() {
        let mut block = entry.start;
        let mut on_chain = false;
        if block == INVALID_BLOCK {
            report("bad directory entry", entry.block, entry.offset, format!("list {list} has no first page"));
        }
        while block != INVALID_BLOCK {
            pgrx::check_for_interrupts!();
            if block >= nblocks {
                report(
                    "bad list chain",
                    entry.block,
                    entry.offset,
                    format!("list {list} links to page {block}, past the end of the index ({nblocks} pages)"),
                );
                break;
            }
            if let Some(other) = owner[block as usize] {
                let detail = if other == list {
                    format!("list {list} comes back to page {block}: its chain is a cycle")
                } else {
                    format!("list {list} links to page {block}, which is on the chain of list {other}")
                };
                report("bad list chain", entry.block, entry.offset, detail);
                break;
            }
            owner[block as usize] = Some(list);
            on_chain |= block == entry.insert;
            let buf = Buf::share(rel, block);
            let p = buf.page();
            if page::page_type(p) != layout::PAGE_LIST {
                report(
                    "bad page",
                    block,
                    0,
                    format!("page of type {:#06x} on the chain of list {list}", page::page_type(p)),
                );
                break;
            }
            for offset in 1..=page::max_offset(p) {
                let Some(bytes) = page::item(p, offset) else { continue };
                if bytes.len() != item_len {
                    report("bad tuple", block, offset, format!("list item of {} bytes, not {item_len}", bytes.len()));
                    continue;
                }
                let tid = u64::from_ne_bytes(bytes[..8].try_into().unwrap_or_default());
                let heap = Ref::unpack(tid);
                if heap.offset == 0 || heap.offset > MAX_HEAP_TUPLES_PER_PAGE {
                    report(
                        "bad tuple",
                        block,
                        offset,
                        format!("heap TID ({},{}) has no such offset", heap.block, heap.offset),
                    );
                } else if farthest.is_none_or(|(f, _)| heap.block > f.block) {
                    farthest = Some((heap, Ref { block, offset }));
                }
                if let Some(first) = seen.insert(tid, Ref { block, offset }) {
                    report(
                        "duplicate heap TID",
                        block,
                        offset,
                        format!(
                            "heap TID ({},{}) is also at ({},{})",
                            heap.block, heap.offset, first.block, first.offset
                        ),
                    );
                }
            }
            block = layout::next_block(p);
        }
        if entry.start != INVALID_BLOCK && !on_chain {
            report(
                "bad directory entry",
                entry.block,
                entry.offset,
                format!("list {list}'s insert page {} is not on its chain", entry.insert),
            );
        }
    }

    if let Some((heap, at)) = farthest {
        let heap_blocks = heap_blocks(index);
        if heap.block >= heap_blocks {
            report(
                "dangling heap TID",
                at.block,
                at.offset,
                format!(
                    "heap TID ({},{}) is past the table's {heap_blocks} pages (the farthest one indexed)",
                    heap.block, heap.offset
                ),
            );
        }
    }

    // A list page reached from no list: its rows are in no scan. (A new page
    // is written and linked in one WAL record, so none is left by a crash.)
    let first_list_page = layout::FIRST_DIR_BLOCK + meta.dir_pages;
    for block in first_list_page..nblocks {
        if owner[block as usize].is_none() {
            pgrx::check_for_interrupts!();
            let buf = Buf::share(rel, block);
            let p = buf.page();
            if page::page_type(p) == layout::PAGE_LIST {
                report(
                    "orphan page",
                    block,
                    0,
                    format!("list page with {} items on no list's chain", page::max_offset(p)),
                );
            }
        }
    }
    drop(opened);
    problems.sort_by(|a, b| (a.1, a.2, &a.0).cmp(&(b.1, b.2, &b.0)));
    TableIterator::new(problems)
}

/// The table's size in pages, for heap TIDs that cannot exist.
fn heap_blocks(index: pg_sys::Oid) -> u32 {
    // SAFETY: the index is open (so its table exists); the table is opened
    // with a lock that readers take and closed before returning.
    unsafe {
        let heap = pg_sys::relation_open(pg_sys::IndexGetRelation(index, false), pg_sys::AccessShareLock as i32);
        let n = pg_sys::RelationGetNumberOfBlocksInFork(heap, pg_sys::ForkNumber::MAIN_FORKNUM);
        pg_sys::relation_close(heap, pg_sys::AccessShareLock as i32);
        n
    }
}
