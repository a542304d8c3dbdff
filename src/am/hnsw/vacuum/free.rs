//! Pass 4 of VACUUM: deleted nodes become free slots (see `mod.rs` for the
//! passes).

use super::node_of;
use crate::am::common::corrupt;
use crate::am::common::page::{item, item_mut, Buf, Wal};
use crate::am::hnsw::meta::Meta;
use crate::hnsw::layout::{Links, NodeLayout, NodeMut, Ref, TidList, FLAG_DELETED, FLAG_FREE, KIND_LINKS};
use pgrx::pg_sys;
use std::collections::HashSet;

/// Pass 4: turns deleted nodes (and their links tuples and overflow
/// chains) into free slots and points the insert hint at the first page
/// with one.
pub(super) fn free_slots(index: pg_sys::Relation, layout: &NodeLayout, deleted: &HashSet<Ref>) {
    let mut nodes: Vec<Ref> = deleted.iter().copied().collect();
    nodes.sort();
    let mut first_block = u32::MAX;
    for at in nodes {
        delay();
        if free_node(index, layout, at) {
            first_block = first_block.min(at.block);
        }
    }
    if first_block != u32::MAX {
        Meta::update(index, |m| m.insert_block = m.insert_block.min(first_block));
    }
}

/// Most overflow tuples a chain can have (every tuple of a full index).
const MAX_CHAIN: usize = 1 << 26;

/// Frees one deleted node. Every WAL record leaves a consistent index: the
/// chain is unlinked from the node a tuple at a time (node and tuple in one
/// record), then the node and its links tuple are freed together. A crash
/// in between leaves a deleted node with a shorter chain, which the next
/// VACUUM frees; no tuple is ever left that nothing points at.
fn free_node(index: pg_sys::Relation, layout: &NodeLayout, at: Ref) -> bool {
    for _hop in 0..MAX_CHAIN {
        let (overflow, links) = {
            let buf = Buf::share(index, at.block);
            let Some(n) = item(buf.page(), at.offset).and_then(|b| node_of(b, layout)) else { return false };
            if n.flags() != FLAG_DELETED {
                return false;
            }
            (n.overflow(), n.links_tuple())
        };
        // The other page of this step: the chain's first tuple, else the
        // links tuple. Locked in block order, as everywhere in the index.
        let other = if overflow.is_valid() { overflow } else { links };
        let mut blocks = vec![at.block];
        if other.is_valid() && other.block != at.block {
            blocks.push(other.block);
        }
        blocks.sort_unstable();
        let bufs: Vec<Buf> = blocks.iter().map(|&b| Buf::exclusive(index, b)).collect();
        let mut wal = Wal::start(index);
        let pages: Vec<pg_sys::Page> = bufs.iter().map(|b| wal.register(b)).collect();
        let page_of = |block: u32| pages[blocks.iter().position(|&b| b == block).unwrap_or(0)];
        let Some(mut node) = item_mut(page_of(at.block), at.offset).and_then(|b| NodeMut::open(b, layout)) else {
            wal.abort();
            return false;
        };
        if node.view().flags() != FLAG_DELETED
            || node.view().overflow() != overflow
            || node.view().links_tuple() != links
        {
            wal.abort();
            continue; // changed since we looked: look again
        }
        if overflow.is_valid() {
            let Some(list) = item(page_of(overflow.block), overflow.offset).and_then(TidList::parse) else {
                corrupt(index, "overflow chain");
            };
            node.set_overflow(list.next());
            remove_item(page_of(overflow.block), overflow.offset);
            wal.finish();
            continue;
        }
        node.set_tids(&[]);
        node.set_links_tuple(Ref::INVALID);
        node.set_flags(FLAG_DELETED | FLAG_FREE);
        if links.is_valid() {
            let bytes = item(page_of(links.block), links.offset).filter(|b| b.first() == Some(&KIND_LINKS));
            if bytes.and_then(|b| Links::parse(b, layout)).is_none() {
                corrupt(index, "links tuple");
            }
            remove_item(page_of(links.block), links.offset);
        }
        wal.finish();
        return true;
    }
    corrupt(index, "overflow chain")
}

/// Removes a freed links or overflow tuple from its page, so that its space
/// counts as the page's free space for every later tuple (a tuple left in
/// place, marked free, could only be reused by one of its own kind and size
/// that happened to be placed on that page: after deleting every row and
/// inserting them again, the index grew by the links tuples new levels did
/// not fit into). The line pointer stays, unused, so no other tuple moves.
/// Nothing of the page may be held across this call: its tuples' bytes move.
fn remove_item(page: pg_sys::Page, offset: u16) {
    // SAFETY: `page` is a GenericXLog copy we registered and `offset` one of
    // its normal items (checked by the caller); the function only compacts
    // tuple data within the page and marks the line pointer unused.
    unsafe { pg_sys::PageIndexTupleDeleteNoCompact(page, offset) };
}

fn delay() {
    // SAFETY: vacuum's cost-based delay and interrupt check.
    unsafe { pg_sys::vacuum_delay_point() };
}
