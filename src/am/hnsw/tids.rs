//! Heap TIDs beyond a node's inline slots: its chain of overflow tuples.
//!
//! Locking: a chain's tuples always sit on blocks after their node's block,
//! and whoever changes a node's set of TIDs as a whole (adding a duplicate,
//! or vacuum deciding the node is empty) holds the node's page exclusively
//! while touching the chain. Locks are thus always taken in ascending block
//! order, like everywhere else in the index.

use super::insert::find_block;
use super::page::{add_item, item, item_mut, max_offset, overwrite_item, Buf, Wal};
use crate::hnsw::layout::{NodeLayout, NodeMut, Ref, TidList, TidListMut, FLAG_FREE, KIND_TIDS};
use pgrx::pg_sys;

/// Every TID in the chain starting at `first`.
pub fn read_chain(index: pg_sys::Relation, first: Ref) -> Vec<Ref> {
    let mut out = Vec::new();
    let mut at = first;
    let mut hops = 0;
    while at.is_valid() && hops < 1_000_000 {
        let buf = Buf::share(index, at.block);
        let Some(list) = item(buf.page(), at.offset).and_then(TidList::parse) else { break };
        out.extend(list.tids());
        at = list.next();
        hops += 1;
    }
    out
}

/// Adds `tid` to the live node at `node` holding a copy of the vector: in
/// an inline slot if one is free, else in its overflow chain. `false` when
/// the node is no longer live (vacuum got to it first).
pub fn add_duplicate(index: pg_sys::Relation, layout: &NodeLayout, node: Ref, tid: Ref) -> bool {
    let buf = Buf::exclusive(index, node.block);
    let (ntids, first) = {
        let Some(bytes) = item(buf.page(), node.offset) else { return false };
        let Some(n) = crate::hnsw::layout::Node::parse(bytes, layout) else { return false };
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
        (n.ntids(), n.overflow())
    };
    let _ = ntids;
    // A chain tuple with room, after the node's page.
    let mut at = first;
    while at.is_valid() {
        let chain = Buf::exclusive(index, at.block);
        let Some(list) = item(chain.page(), at.offset).and_then(TidList::parse) else { break };
        if list.count() < crate::hnsw::layout::OVERFLOW_TIDS {
            let mut wal = Wal::start(index);
            let page = wal.register(&chain);
            if let Some(mut l) = item_mut(page, at.offset).and_then(TidListMut::open) {
                l.push(tid);
            }
            wal.finish();
            return true;
        }
        at = list.next();
    }
    // A new tuple at the head of the chain, on a later page.
    let target = find_block(index, layout, node.block + 1, TidList::SIZE, false, None);
    let chain = Buf::exclusive(index, target);
    let mut wal = Wal::start(index);
    let node_page = wal.register(&buf);
    let chain_page = wal.register(&chain);
    let mut bytes = vec![0u8; TidList::SIZE];
    let mut list = TidListMut::init(&mut bytes, first);
    list.push(tid);
    let Some(offset) = put_overflow(chain_page, &bytes) else {
        wal.abort();
        // The page filled meanwhile: the row goes into a new node instead.
        return false;
    };
    if let Some(mut n) = item_mut(node_page, node.offset).and_then(|b| NodeMut::open(b, layout)) {
        n.set_overflow(Ref { block: target, offset });
    }
    wal.finish();
    true
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
    let mut at = first;
    while at.is_valid() {
        let buf = Buf::share(index, at.block);
        let Some(list) = item(buf.page(), at.offset).and_then(TidList::parse) else { return true };
        if list.count() > 0 {
            return false;
        }
        at = list.next();
    }
    true
}
