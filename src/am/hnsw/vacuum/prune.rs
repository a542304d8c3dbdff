//! Pass 1 of VACUUM: dropping dead heap TIDs and marking emptied nodes
//! deleted (see `mod.rs` for the passes).

use super::node_of;
use crate::am::common::page::{data_pages, item, item_mut, max_offset, Buf, Wal};
use crate::am::hnsw::meta::{Meta, FLAG_REPAIR_PENDING};
use crate::am::hnsw::tids;
use crate::hnsw::layout::{NodeLayout, NodeMut, Ref, TidList, TidListMut, FLAG_DELETED};
use pgrx::pg_sys;
use std::collections::HashSet;

/// What pass 1 found.
#[derive(Default)]
pub(super) struct Pruned {
    /// Nodes marked deleted, by this pass or an earlier (unfinished) one.
    pub deleted: HashSet<Ref>,
    pub removed: usize,
    pub remaining: usize,
    /// The highest node live after the pass: the entry point's successor.
    pub top: Option<(Ref, usize)>,
}

impl Pruned {
    fn live(&mut self, at: Ref, level: usize) {
        if self.top.is_none_or(|(_, l)| level > l) {
            self.top = Some((at, level));
        }
    }
}

/// Sets the meta page's repair flag once, before the first deletion mark.
struct PendingFlag(bool);

impl PendingFlag {
    fn set(&mut self, index: pg_sys::Relation) {
        if !self.0 {
            Meta::set_flag(index, FLAG_REPAIR_PENDING, true);
            self.0 = true;
        }
    }
}

/// Pass 1: drops dead heap TIDs (inline and in overflow chains), marks
/// emptied nodes deleted.
///
/// A node's fate is decided where its page is held exclusively (or, for a
/// page with nothing to change, where it was read): a node whose TIDs may
/// all be dead is only a candidate until then, because an insert can add a
/// duplicate's TID to it in between. A node with an overflow chain is
/// decided last, once every chain tuple has been pruned.
pub(super) fn prune_tids(index: pg_sys::Relation, layout: &NodeLayout, is_dead: impl Fn(Ref) -> bool) -> Pruned {
    let mut out = Pruned::default();
    let mut flag = PendingFlag(false);
    let mut chained: Vec<(Ref, usize)> = Vec::new();
    for (block, buf) in data_pages(index) {
        let mut changes: Vec<u16> = Vec::new();
        let mut may_delete = false;
        let page = buf.page();
        for offset in 1..=max_offset(page) {
            let Some(bytes) = item(page, offset) else { continue };
            let at = Ref { block, offset };
            if let Some(list) = TidList::parse(bytes) {
                if list.tids().any(&is_dead) {
                    changes.push(offset);
                } else {
                    out.remaining += list.count();
                }
                continue;
            }
            let Some(node) = node_of(bytes, layout) else { continue };
            if node.is_free() {
                continue;
            }
            if node.is_deleted() {
                out.deleted.insert(at);
                continue;
            }
            let dead = node.tids().filter(|&t| is_dead(t)).count();
            let chain = node.overflow().is_valid();
            if dead > 0 || (node.ntids() == 0 && !chain) {
                changes.push(offset);
                may_delete |= dead == node.ntids() && !chain;
                continue;
            }
            out.remaining += node.ntids();
            if chain && node.ntids() == 0 {
                chained.push((at, node.level()));
            } else {
                out.live(at, node.level());
            }
        }
        // Shared lock released before the exclusive one is taken.
        drop(buf);
        if changes.is_empty() {
            continue;
        }
        if may_delete {
            flag.set(index);
        }
        // Apply under an exclusive lock, re-reading.
        let buf = Buf::exclusive(index, block);
        let mut wal = Wal::start(index);
        let page = wal.register(&buf);
        for offset in changes {
            let at = Ref { block, offset };
            let Some(bytes) = item_mut(page, offset) else { continue };
            if let Some(mut list) = TidListMut::open(bytes) {
                let keep: Vec<Ref> = list.view().tids().filter(|&t| !is_dead(t)).collect();
                out.removed += list.view().count() - keep.len();
                out.remaining += keep.len();
                list.set(&keep);
                continue;
            }
            let Some(mut node) = NodeMut::open(bytes, layout) else { continue };
            if node.view().flags() != 0 {
                continue;
            }
            let keep: Vec<Ref> = node.view().tids().filter(|&t| !is_dead(t)).collect();
            out.removed += node.view().ntids() - keep.len();
            out.remaining += keep.len();
            let level = node.view().level();
            if !keep.is_empty() {
                out.live(at, level);
            } else if node.view().overflow().is_valid() || !flag.0 {
                // Decided after the chain (or the flag) is written.
                chained.push((at, level));
            } else {
                node.set_flags(FLAG_DELETED);
                out.deleted.insert(at);
            }
            node.set_tids(&keep);
        }
        wal.finish();
    }
    // A node with an overflow chain is deleted once the chain is empty too;
    // holding its page keeps duplicates from being added meanwhile. The
    // meta page's flag is written first, before any page is held.
    for (at, level) in chained {
        let empty = {
            let buf = Buf::share(index, at.block);
            let Some(node) = item(buf.page(), at.offset).and_then(|b| node_of(b, layout)) else { continue };
            if node.flags() != 0 {
                continue;
            }
            node.ntids() == 0 && tids::chain_is_empty(index, node.overflow())
        };
        if !empty {
            out.live(at, level);
            continue;
        }
        flag.set(index);
        let buf = Buf::exclusive(index, at.block);
        let Some(node) = item(buf.page(), at.offset).and_then(|b| node_of(b, layout)) else { continue };
        if node.flags() != 0 {
            continue;
        }
        if node.ntids() > 0 || !tids::chain_is_empty(index, node.overflow()) {
            out.live(at, level); // a duplicate arrived meanwhile
            continue;
        }
        let mut wal = Wal::start(index);
        let page = wal.register(&buf);
        if let Some(mut n) = item_mut(page, at.offset).and_then(|b| NodeMut::open(b, layout)) {
            n.set_flags(FLAG_DELETED);
        }
        wal.finish();
        out.deleted.insert(at);
    }
    out
}
