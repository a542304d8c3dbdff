//! Heap TIDs beyond a node's inline slots: its chain of overflow tuples.
//!
//! Locking: a chain's tuples always sit on blocks after their node's block,
//! and whoever changes a node's set of TIDs as a whole (adding a duplicate,
//! or vacuum deciding the node is empty) holds the node's page exclusively
//! while touching the chain. Locks are thus always taken in ascending block
//! order, like everywhere else in the index.
//!
//! A chain read from a damaged index may point anywhere, or back into
//! itself: every hop is checked ([`tuple_at`]) and counted against
//! [`max_hops`], so that a walk ends in an ERROR rather than a crash or a
//! loop that never ends.
//!
//! Adding a TID touches at most the chain's first tuple and two candidate
//! pages for a new one, whatever the chain's length or the index's size: it
//! happens under the node's exclusive page lock, which every scan reaching
//! the node waits on.

use super::alloc::new_data_page;
use crate::am::common::page::{
    add_item, corrupt_at, fits, item, item_mut, max_offset, nblocks, overwrite_item, page_type, tuple_at, Buf, Wal,
    PAGE_DATA,
};
use crate::hnsw::layout::{
    maxalign, NodeLayout, NodeMut, Ref, TidList, TidListMut, FLAG_FREE, KIND_NODE, KIND_TIDS, LINE_POINTER,
    PAGE_TUPLE_SPACE,
};
use pgrx::pg_sys;

/// More hops than any sound chain has: every overflow tuple the index could
/// hold, each visited once.
fn max_hops(index: pg_sys::Relation) -> usize {
    let per_page = PAGE_TUPLE_SPACE / (maxalign(TidList::SIZE) + LINE_POINTER);
    nblocks(index) as usize * per_page
}

/// Walks a chain from `first`, handing each tuple to `visit` (under the
/// lock `exclusive` says) until it returns `false`; ERROR on a damaged
/// chain. Returns whether the walk reached the end.
fn walk(
    index: pg_sys::Relation,
    first: Ref,
    exclusive: bool,
    mut visit: impl FnMut(&Buf, Ref, &TidList) -> bool,
) -> bool {
    let limit = max_hops(index);
    let mut at = first;
    let mut hops = 0;
    while at.is_valid() {
        hops += 1;
        if hops > limit {
            corrupt_at(
                index,
                at.block,
                &format!("the overflow chain from ({},{}) is a cycle", first.block, first.offset),
            );
        }
        let buf = if exclusive { Buf::exclusive(index, at.block) } else { Buf::share(index, at.block) };
        let Some(list) = TidList::parse(tuple_at(index, buf.page(), at, KIND_TIDS)) else {
            corrupt_at(index, at.block, &format!("malformed overflow tuple at item {}", at.offset))
        };
        let next = list.next(); // before `visit`, which may free the tuple
        if !visit(&buf, at, &list) {
            return false;
        }
        at = next;
    }
    true
}

/// Every TID in the chain starting at `first`.
pub fn read_chain(index: pg_sys::Relation, first: Ref) -> Vec<Ref> {
    let mut out = Vec::new();
    walk(index, first, false, |_, _, list| {
        out.extend(list.tids());
        true
    });
    out
}

/// Adds `tid` to the live node at `node` holding a copy of the vector: in
/// an inline slot if one is free, else in its overflow chain. `false` when
/// the node is no longer live (vacuum got to it first).
///
/// New overflow tuples go at the head of the chain, so the head is the only
/// one that can have room left by additions; room vacuum makes further down
/// is not looked for (that would be a walk of the whole chain under the
/// node's lock). Every TID stays in the chain, so scans find it.
pub fn add_duplicate(index: pg_sys::Relation, layout: &NodeLayout, node: Ref, tid: Ref) -> bool {
    let buf = Buf::exclusive(index, node.block);
    let first = {
        let Some(n) = crate::hnsw::layout::Node::parse(tuple_at(index, buf.page(), node, KIND_NODE), layout) else {
            corrupt_at(index, node.block, &format!("malformed node at item {}", node.offset))
        };
        if n.flags() != 0 {
            return false;
        }
        if n.ntids() < layout.max_tids {
            let mut tids: Vec<Ref> = n.tids().collect();
            tids.push(tid);
            let mut wal = Wal::start(index);
            let page = wal.register(&buf);
            if let Some(mut n) = item_mut(page, node.offset).and_then(|b| NodeMut::open(b, layout)) {
                n.set_tids(&tids);
            }
            wal.finish();
            return true;
        }
        n.overflow()
    };
    if first.is_valid() {
        if first.block <= node.block {
            corrupt_at(index, node.block, &format!("the overflow chain of item {} goes backwards", node.offset));
        }
        let chain = Buf::exclusive(index, first.block);
        let Some(list) = TidList::parse(tuple_at(index, chain.page(), first, KIND_TIDS)) else {
            corrupt_at(index, first.block, &format!("malformed overflow tuple at item {}", first.offset))
        };
        if list.count() < crate::hnsw::layout::OVERFLOW_TIDS {
            let mut wal = Wal::start(index);
            let page = wal.register(&chain);
            if let Some(mut l) = item_mut(page, first.offset).and_then(TidListMut::open) {
                l.push(tid);
            }
            wal.finish();
            return true;
        }
    }
    // A new tuple at the head of the chain, on a later page.
    let Some(chain) = page_for_overflow(index, node.block, first) else {
        // No room where we looked: the row goes into a new node instead.
        return false;
    };
    let target = chain.block();
    let mut wal = Wal::start(index);
    let node_page = wal.register(&buf);
    let chain_page = wal.register(&chain);
    let mut bytes = vec![0u8; TidList::SIZE];
    let mut list = TidListMut::init(&mut bytes, first);
    list.push(tid);
    let Some(offset) = put_overflow(chain_page, &bytes) else {
        wal.abort();
        return false;
    };
    if let Some(mut n) = item_mut(node_page, node.offset).and_then(|b| NodeMut::open(b, layout)) {
        n.set_overflow(Ref { block: target, offset });
    }
    wal.finish();
    true
}

/// An exclusively locked data page after `node_block` with room for an
/// overflow tuple, looked for in a bounded number of places: the page of
/// the chain's current head (where the last one went), the index's last
/// page, else a new page. `None` when the new page filled meanwhile.
fn page_for_overflow(index: pg_sys::Relation, node_block: u32, head: Ref) -> Option<Buf> {
    let has_room = |buf: &Buf| {
        let page = buf.page();
        page_type(page) == PAGE_DATA && (fits(page, TidList::SIZE) || has_free_overflow(page))
    };
    let last = nblocks(index) - 1;
    let mut tried = None;
    for block in [head.is_valid().then_some(head.block), Some(last)].into_iter().flatten() {
        if block <= node_block || tried == Some(block) {
            continue;
        }
        tried = Some(block);
        let buf = Buf::exclusive(index, block);
        if has_room(&buf) {
            return Some(buf);
        }
    }
    let buf = Buf::exclusive(index, new_data_page(index));
    has_room(&buf).then_some(buf)
}

/// Whether the page holds a freed overflow tuple [`put_overflow`] can reuse.
fn has_free_overflow(page: pg_sys::Page) -> bool {
    (1..=max_offset(page)).any(|offset| {
        item(page, offset)
            .is_some_and(|b| b.first() == Some(&KIND_TIDS) && b.len() >= TidList::SIZE && b[1] & FLAG_FREE != 0)
    })
}

/// Puts an overflow tuple on a page, reusing a freed one.
pub fn put_overflow(page: pg_sys::Page, tuple: &[u8]) -> Option<u16> {
    for offset in 1..=max_offset(page) {
        let Some(bytes) = item(page, offset) else { continue };
        if bytes.first() == Some(&KIND_TIDS)
            && bytes.len() >= tuple.len()
            && bytes[1] & FLAG_FREE != 0
            && overwrite_item(page, offset, tuple)
        {
            return Some(offset);
        }
    }
    add_item(page, tuple)
}

/// Whether every tuple of the chain from `first` is empty. The caller
/// holds the node's page exclusively, so no TID can be added meanwhile.
pub fn chain_is_empty(index: pg_sys::Relation, first: Ref) -> bool {
    walk(index, first, false, |_, _, list| list.count() == 0)
}
