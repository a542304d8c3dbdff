//! Keeping every node reachable.
//!
//! HNSW prunes neighbour lists with a heuristic that can drop a node's last
//! incoming link; under churn (inserts, updates, deletes) a few nodes end
//! up that no search can reach, so their rows are silently never returned.
//! Every VACUUM therefore walks the graph from the entry point, and links
//! each live node it did not reach from its nearest reachable neighbours
//! (the nearest one keeps the link whatever the heuristic says), as if the
//! node were inserted again. A node missed only because a concurrent insert
//! changed a list mid-walk gets a few extra links, which is harmless.

use super::disk::{DiskGraph, Seen};
use super::insert::link_back;
use super::meta::Meta;
use super::page::{item, max_offset, nblocks, page_type, Buf, PageLock, PAGE_DATA, UPDATE_LOCK};
use crate::hnsw::layout::{Links, Node, NodeLayout, Ref, KIND_NODE};
use crate::hnsw::search::{descend, search_layer, HashVisited, Scored, Scratch};
use crate::hnsw::space::Payload;
use pgrx::pg_sys;
use std::collections::{HashSet, VecDeque};

/// Links every unreachable live node back into the graph. Returns how many
/// nodes were reconnected.
pub fn reconnect(index: pg_sys::Relation) -> usize {
    let meta = Meta::read(index);
    let layout = meta.layout;
    let live = live_nodes(index, &layout);
    let Some((entry, _)) = meta.entry else { return 0 };
    let reached = walk(index, &layout, entry);
    let mut fixed = 0;
    for node in live {
        if !reached.contains(&node) {
            pgrx::check_for_interrupts!();
            if relink(index, &meta, node) {
                fixed += 1;
            }
        }
    }
    fixed
}

/// Every live (not deleted, not free) node, in block order.
fn live_nodes(index: pg_sys::Relation, layout: &NodeLayout) -> Vec<Ref> {
    let mut out = Vec::new();
    for block in 1..nblocks(index) {
        // SAFETY: vacuum's cost-based delay and interrupt check.
        unsafe { pg_sys::vacuum_delay_point() };
        let buf = Buf::share(index, block);
        let page = buf.page();
        if page_type(page) != PAGE_DATA {
            continue;
        }
        for offset in 1..=max_offset(page) {
            let Some(bytes) = item(page, offset) else { continue };
            if bytes.first() == Some(&KIND_NODE) && Node::parse(bytes, layout).is_some_and(|n| n.flags() == 0) {
                out.push(Ref { block, offset });
            }
        }
    }
    out
}

/// Breadth-first walk over every level from `entry`.
fn walk(index: pg_sys::Relation, layout: &NodeLayout, entry: Ref) -> HashSet<Ref> {
    let mut reached = HashSet::from([entry]);
    let mut queue = VecDeque::from([entry]);
    let mut links = Vec::new();
    while let Some(at) = queue.pop_front() {
        links.clear();
        all_links(index, layout, at, &mut links);
        for &l in &links {
            if reached.insert(l) {
                queue.push_back(l);
            }
        }
    }
    reached
}

/// A node's links on every level.
fn all_links(index: pg_sys::Relation, layout: &NodeLayout, at: Ref, out: &mut Vec<Ref>) {
    let (level, links_ref) = {
        let buf = Buf::share(index, at.block);
        let Some(node) = item(buf.page(), at.offset).and_then(|b| Node::parse(b, layout)) else { return };
        if node.is_free() {
            return;
        }
        out.extend(node.links0());
        (node.level(), node.links_tuple())
    };
    if layout.needs_links_tuple(level) && links_ref.is_valid() {
        let buf = Buf::share(index, links_ref.block);
        if let Some(links) = item(buf.page(), links_ref.offset).and_then(|b| Links::parse(b, layout)) {
            for lc in 0..=level {
                out.extend(links.at(lc));
            }
        }
    }
}

/// Offers links to `node` from its nearest live nodes on each of its levels,
/// the nearest one forced.
fn relink(index: pg_sys::Relation, meta: &Meta, node: Ref) -> bool {
    let _lock = PageLock::share(index, UPDATE_LOCK);
    let layout = meta.layout;
    let codes = super::codes::load(index, meta);
    let (payload, level) = {
        let buf = Buf::share(index, node.block);
        let Some(n) = item(buf.page(), node.offset).and_then(|b| Node::parse(b, &layout)) else { return false };
        if n.flags() != 0 {
            return false;
        }
        let payload = match &codes {
            Some(c) => c.decode(n.payload()),
            None => Payload::from_bytes(n.payload()),
        };
        (payload, n.level())
    };
    let Some((entry, top)) = Meta::read(index).entry else { return false };
    let mut graph = DiskGraph::new(index, meta.space, layout, Some(payload.clone()), true).with_codes(codes);
    let Some(d) = graph.distance(entry) else { return false };
    let mut scratch = Scratch::default();
    let best = descend(&mut graph, Scored { id: entry.pack(), distance: d }, top, level.min(top), &mut scratch);
    let mut entries = vec![best];
    let mut linked = false;
    for lc in (0..=level.min(top)).rev() {
        let mut visited = HashVisited::with_capacity(meta.ef_construction * 8);
        let found = search_layer(&mut graph, &entries, meta.ef_construction, lc, &mut visited, &mut scratch, None);
        let nearest: Vec<Scored<u64>> = found
            .iter()
            .copied()
            .filter(|s| s.id != node.pack() && graph.seen.get(&s.id).is_some_and(|n| !n.deleted))
            .take(3)
            .collect();
        graph.seen.insert(node.pack(), Seen::with_payload(payload.clone()));
        for (i, s) in nearest.iter().enumerate() {
            link_back(index, &layout, &mut graph, Ref::unpack(s.id), node, s.distance, lc, i == 0);
            linked = true;
        }
        entries = found;
    }
    linked
}
