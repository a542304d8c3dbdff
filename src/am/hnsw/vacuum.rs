//! `VACUUM`: removing dead rows from the graph and repairing it.
//!
//! 1. **Prune TIDs.** Every node drops the heap TIDs vacuum reports dead. A
//!    node left with none is marked `DELETED`: searches still walk through
//!    it, but no longer return it, and inserts no longer link to it.
//! 2. **Barrier.** Taking `UPDATE_LOCK` exclusively waits for the inserts
//!    that started before the marks; later ones see them.
//! 3. **Repair.** Every live node that links to a deleted one gets a new
//!    list: its live links plus the live links of the deleted ones (two
//!    hops), chosen again with the HNSW heuristic; when that leaves it short,
//!    a search from the entry point adds candidates. The entry point moves
//!    off a deleted node to the highest live one.
//! 4. **Free.** After waiting out in-flight scans (`SCAN_LOCK`), deleted
//!    nodes and their links tuples become `FREE` slots for new insertions,
//!    unless some list could not be repaired (then the next vacuum retries).
//! 5. **Reconnect** (in `amvacuumcleanup`, so on every VACUUM): live nodes no
//!    search can reach are linked back in (see `reconnect.rs`).
//!
//! Inserts and scans keep running throughout; only the two barriers wait.

use super::disk::DiskGraph;
use super::meta::Meta;
use super::page::{
    item, item_mut, max_offset, nblocks, page_type, Buf, PageLock, Wal, PAGE_DATA, SCAN_LOCK, UPDATE_LOCK,
};
use crate::hnsw::layout::{
    Links, LinksMut, Node, NodeLayout, NodeMut, Ref, TidList, TidListMut, FLAG_DELETED, FLAG_FREE, KIND_LINKS,
    KIND_NODE,
};
use crate::hnsw::search::{descend, search_layer, GraphView, HashVisited, Scored, Scratch};
use crate::hnsw::select::select_neighbors;
use crate::hnsw::space::Payload;
use pgrx::pg_sys;
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
    let meta = Meta::read(index);
    let is_dead = |tid: Ref| {
        let mut t = super::page::tid_from_ref(tid);
        // SAFETY: the callback vacuum gave us, with its own state.
        unsafe { callback(&mut t, callback_state) }
    };

    let (deleted, removed, remaining, top) = prune_tids(index, &meta.layout, is_dead);
    // SAFETY: stats is valid.
    unsafe {
        (*stats).tuples_removed += removed as f64;
        (*stats).num_index_tuples = remaining as f64;
    }
    if deleted.is_empty() {
        return stats;
    }

    drop(PageLock::exclusive(index, UPDATE_LOCK));
    let repaired = repair(index, &meta, &deleted);
    if meta.entry.is_some_and(|(entry, _)| deleted.contains(&entry)) {
        // Unless an insert has meanwhile put a new node on top.
        Meta::update(index, |m| {
            if m.entry.is_some_and(|(entry, _)| deleted.contains(&entry)) {
                m.entry = top;
            }
        });
    }
    if repaired {
        drop(PageLock::exclusive(index, SCAN_LOCK));
        drop(PageLock::exclusive(index, UPDATE_LOCK));
        free_slots(index, &meta.layout, &deleted);
    }
    stats
}

fn new_stats() -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: a zeroed result struct, as Postgres expects from an AM.
    unsafe { pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBulkDeleteResult>()).cast() }
}

fn delay() {
    // SAFETY: vacuum's cost-based delay and interrupt check.
    unsafe { pg_sys::vacuum_delay_point() };
}

/// Pass 1: drops dead heap TIDs (inline and in overflow chains), marks
/// emptied nodes deleted. Returns the deleted nodes (new and old), the
/// number of TIDs removed and kept, and the highest live node (a fallback
/// entry point).
fn prune_tids(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    is_dead: impl Fn(Ref) -> bool,
) -> (HashSet<Ref>, usize, usize, Option<(Ref, usize)>) {
    let mut deleted = HashSet::new();
    let (mut removed, mut remaining) = (0usize, 0usize);
    let mut top: Option<(Ref, usize)> = None;
    let mut chained: Vec<Ref> = Vec::new();
    for block in 1..nblocks(index) {
        delay();
        let mut changes: Vec<u16> = Vec::new();
        {
            let buf = Buf::share(index, block);
            let page = buf.page();
            if page_type(page) != PAGE_DATA {
                continue;
            }
            for offset in 1..=max_offset(page) {
                let Some(bytes) = item(page, offset) else { continue };
                let at = Ref { block, offset };
                if let Some(list) = TidList::parse(bytes) {
                    let dead = list.tids().filter(|&t| is_dead(t)).count();
                    removed += dead;
                    remaining += list.count() - dead;
                    if dead > 0 {
                        changes.push(offset);
                    }
                    continue;
                }
                let Some(node) = node_of(bytes, layout) else { continue };
                if node.is_free() {
                    continue;
                }
                if node.is_deleted() {
                    deleted.insert(at);
                    continue;
                }
                let dead = node.tids().filter(|&t| is_dead(t)).count();
                removed += dead;
                remaining += node.ntids() - dead;
                if dead > 0 {
                    changes.push(offset);
                }
                if node.overflow().is_valid() {
                    chained.push(at);
                } else if node.ntids() == dead {
                    deleted.insert(at);
                    continue;
                }
                if top.is_none_or(|(_, l)| node.level() > l) {
                    top = Some((at, node.level()));
                }
            }
        }
        if changes.is_empty() {
            continue;
        }
        // Apply under an exclusive lock, re-reading: an insert may have added
        // a duplicate's TID since we looked.
        let buf = Buf::exclusive(index, block);
        let mut wal = Wal::start(index);
        let page = wal.register(&buf);
        for offset in changes {
            let Some(bytes) = item_mut(page, offset) else { continue };
            if let Some(mut list) = TidListMut::open(bytes) {
                let keep: Vec<Ref> = list.view().tids().filter(|&t| !is_dead(t)).collect();
                list.set(&keep);
                continue;
            }
            let Some(mut node) = NodeMut::open(bytes, layout) else { continue };
            let keep: Vec<Ref> = node.view().tids().filter(|&t| !is_dead(t)).collect();
            if keep.is_empty() && !node.view().overflow().is_valid() {
                node.set_flags(node.view().flags() | FLAG_DELETED);
            }
            node.set_tids(&keep);
        }
        wal.finish();
    }
    // A node with an overflow chain is deleted once the chain is empty too;
    // holding its page keeps duplicates from being added meanwhile.
    for at in chained {
        let buf = Buf::exclusive(index, at.block);
        let Some(node) = item(buf.page(), at.offset).and_then(|b| node_of(b, layout)) else { continue };
        if node.flags() != 0 || node.ntids() > 0 || !super::tids::chain_is_empty(index, node.overflow()) {
            continue;
        }
        let mut wal = Wal::start(index);
        let page = wal.register(&buf);
        if let Some(mut n) = item_mut(page, at.offset).and_then(|b| NodeMut::open(b, layout)) {
            n.set_flags(FLAG_DELETED);
        }
        wal.finish();
        deleted.insert(at);
        if top.is_some_and(|(t, _)| t == at) {
            top = None;
        }
    }
    (deleted, removed, remaining, top)
}

fn node_of<'a>(bytes: &'a [u8], layout: &'a NodeLayout) -> Option<Node<'a>> {
    (bytes.first() == Some(&KIND_NODE)).then(|| Node::parse(bytes, layout)).flatten()
}

/// A node's list at `level`, with where it lives.
struct List {
    at: Ref,
    inline: bool,
    links: Vec<Ref>,
}

/// Reads every list of a live node that points at a deleted node.
fn lists_to_repair(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    node: Ref,
    deleted: &HashSet<Ref>,
) -> Vec<(usize, List)> {
    let mut out = Vec::new();
    let (level, links_ref) = {
        let buf = Buf::share(index, node.block);
        let Some(n) = item(buf.page(), node.offset).and_then(|b| node_of(b, layout)) else {
            return out;
        };
        if n.flags() != 0 {
            return out;
        }
        if layout.links0_inline {
            let links: Vec<Ref> = n.links0().collect();
            if links.iter().any(|l| deleted.contains(l)) {
                out.push((0, List { at: node, inline: true, links }));
            }
        }
        (n.level(), n.links_tuple())
    };
    if layout.needs_links_tuple(level) && links_ref.is_valid() {
        let buf = Buf::share(index, links_ref.block);
        if let Some(l) = item(buf.page(), links_ref.offset).and_then(|b| Links::parse(b, layout)) {
            let from = usize::from(layout.links0_inline);
            for lc in from..=level {
                let links: Vec<Ref> = l.at(lc).collect();
                if links.iter().any(|r| deleted.contains(r)) {
                    out.push((lc, List { at: links_ref, inline: false, links }));
                }
            }
        }
    }
    out
}

/// Pass 3: rewrites every list that points at a deleted node. Returns
/// whether all of them were rewritten.
fn repair(index: pg_sys::Relation, meta: &Meta, deleted: &HashSet<Ref>) -> bool {
    let layout = &meta.layout;
    let mut complete = true;
    for block in 1..nblocks(index) {
        delay();
        let nodes: Vec<Ref> = {
            let buf = Buf::share(index, block);
            let page = buf.page();
            if page_type(page) != PAGE_DATA {
                continue;
            }
            (1..=max_offset(page))
                .filter(|&o| item(page, o).and_then(|b| node_of(b, layout)).is_some_and(|n| n.flags() == 0))
                .map(|offset| Ref { block, offset })
                .collect()
        };
        for node in nodes {
            for (level, list) in lists_to_repair(index, layout, node, deleted) {
                complete &= repair_list(index, meta, deleted, node, level, list);
            }
        }
    }
    complete
}

fn repair_list(
    index: pg_sys::Relation,
    meta: &Meta,
    deleted: &HashSet<Ref>,
    node: Ref,
    level: usize,
    mut list: List,
) -> bool {
    let layout = &meta.layout;
    let codes = super::codes::load(index, meta);
    let Some(payload) = payload_of_node(index, layout, node, codes.as_ref()) else {
        return true;
    };
    for _attempt in 0..16 {
        let mut graph =
            DiskGraph::new(index, meta.space, *layout, Some(payload.clone()), true).with_codes(codes.clone());
        let mut candidates: Vec<u64> = Vec::new();
        let mut scratch = Vec::new();
        for &l in &list.links {
            if deleted.contains(&l) {
                scratch.clear();
                graph.neighbors(l.pack(), level, &mut scratch);
                candidates.extend(scratch.iter().copied());
            } else {
                candidates.push(l.pack());
            }
        }
        candidates.retain(|&c| c != node.pack() && !deleted.contains(&Ref::unpack(c)));
        candidates.sort_unstable();
        candidates.dedup();
        let mut scored = score(&mut graph, &candidates);
        if scored.len() < layout.capacity(level) / 2 {
            scored.extend(search_candidates(&mut graph, meta, level, node, deleted));
            scored.sort();
            scored.dedup_by_key(|s| s.id);
        }
        let space = meta.space;
        let payload_of = |g: &DiskGraph, id: u64| g.seen.get(&id).and_then(|s| s.payload.clone()).unwrap_or_default();
        // Filled up to capacity like the lists an insertion writes: a list
        // cut down to its diverse links alone loses the short links that
        // searches walk through.
        let kept = select_neighbors(
            &scored,
            layout.capacity(level),
            true,
            |c| payload_of(&graph, c) == payload,
            |a, b| space.distance(payload_of(&graph, a).as_bytes(), payload_of(&graph, b).as_bytes()),
        );
        let new_links: Vec<Ref> = kept.iter().map(|s| Ref::unpack(s.id)).collect();

        let buf = Buf::exclusive(index, list.at.block);
        let mut wal = Wal::start(index);
        let page = wal.register(&buf);
        let Some(bytes) = item_mut(page, list.at.offset) else {
            wal.abort();
            return true;
        };
        let written = if list.inline {
            match NodeMut::open(bytes, layout) {
                Some(mut n) if n.view().flags() == 0 && n.view().links0().eq(list.links.iter().copied()) => {
                    n.set_links0(&new_links);
                    true
                }
                _ => false,
            }
        } else {
            let same =
                Links::parse(bytes, layout).is_some_and(|l| !l.is_free() && l.at(level).eq(list.links.iter().copied()));
            match LinksMut::open(bytes, layout) {
                Some(mut l) if same => {
                    l.set(level, &new_links);
                    true
                }
                _ => false,
            }
        };
        if written {
            wal.finish();
            drop(buf);
            // Links go both ways, as an insertion makes them: each new
            // neighbour is offered a link back to this node.
            graph.seen.insert(node.pack(), super::disk::Seen::with_payload(payload.clone()));
            for s in &kept {
                let target = Ref::unpack(s.id);
                if !list.links.contains(&target) {
                    super::insert::link_back(index, layout, &mut graph, target, node, s.distance, level, false);
                }
            }
            return true;
        }
        wal.abort();
        drop(buf);
        // The list changed under us: read it again and retry.
        match lists_to_repair(index, layout, node, deleted).into_iter().find(|(l, _)| *l == level) {
            Some((_, fresh)) => list = fresh,
            None => return true,
        }
    }
    false
}

fn score(graph: &mut DiskGraph, ids: &[u64]) -> Vec<Scored<u64>> {
    let mut distances = Vec::with_capacity(ids.len());
    graph.distances(ids, &mut distances);
    let mut scored: Vec<Scored<u64>> = ids
        .iter()
        .zip(distances)
        .filter_map(|(&id, d)| d.map(|distance| Scored { id, distance }))
        .filter(|s| graph.seen.get(&s.id).is_some_and(|n| !n.deleted))
        .collect();
    scored.sort();
    scored
}

/// Candidates for a node's list from a search of the graph at `level`.
fn search_candidates(
    graph: &mut DiskGraph,
    meta: &Meta,
    level: usize,
    node: Ref,
    deleted: &HashSet<Ref>,
) -> Vec<Scored<u64>> {
    let Some((entry, top)) = meta.entry else {
        return Vec::new();
    };
    if level > top {
        return Vec::new();
    }
    let Some(d) = graph.distance(entry) else {
        return Vec::new();
    };
    let mut scratch = Scratch::default();
    let best = descend(graph, Scored { id: entry.pack(), distance: d }, top, level, &mut scratch);
    let mut visited = HashVisited::with_capacity(meta.ef_construction * 8);
    let found = search_layer(graph, &[best], meta.ef_construction, level, &mut visited, &mut scratch, None);
    found
        .into_iter()
        .filter(|s| s.id != node.pack() && !deleted.contains(&Ref::unpack(s.id)))
        .filter(|s| graph.seen.get(&s.id).is_some_and(|n| !n.deleted))
        .collect()
}

/// A node's payload (with a quantizer, its decoded code).
fn payload_of_node(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    node: Ref,
    codes: Option<&super::codes::Codes>,
) -> Option<Payload> {
    let buf = Buf::share(index, node.block);
    let n = item(buf.page(), node.offset).and_then(|b| node_of(b, layout))?;
    Some(match codes {
        Some(c) => c.decode(n.payload()),
        None => Payload::from_bytes(n.payload()),
    })
}

/// Pass 4: turns deleted nodes (and their links tuples) into free slots and
/// points the insert hint at the first page with one.
fn free_slots(index: pg_sys::Relation, layout: &NodeLayout, deleted: &HashSet<Ref>) {
    let mut by_block: Vec<Ref> = deleted.iter().copied().collect();
    by_block.sort();
    let mut links_tuples: Vec<Ref> = Vec::new();
    let mut chains: Vec<Ref> = Vec::new();
    let mut first_block = u32::MAX;
    for chunk in by_block.chunk_by(|a, b| a.block == b.block) {
        delay();
        let block = chunk[0].block;
        let buf = Buf::exclusive(index, block);
        let mut wal = Wal::start(index);
        let page = wal.register(&buf);
        for r in chunk {
            let Some(mut node) = item_mut(page, r.offset).and_then(|b| NodeMut::open(b, layout)) else {
                continue;
            };
            if node.view().flags() & FLAG_DELETED == 0 {
                continue;
            }
            if node.view().links_tuple().is_valid() {
                links_tuples.push(node.view().links_tuple());
            }
            if node.view().overflow().is_valid() {
                chains.push(node.view().overflow());
            }
            node.set_overflow(Ref::INVALID);
            node.set_tids(&[]);
            node.set_links_tuple(Ref::INVALID);
            node.set_flags(FLAG_DELETED | FLAG_FREE);
            first_block = first_block.min(block);
        }
        wal.finish();
    }
    links_tuples.sort();
    for chunk in links_tuples.chunk_by(|a, b| a.block == b.block) {
        let buf = Buf::exclusive(index, chunk[0].block);
        let mut wal = Wal::start(index);
        let page = wal.register(&buf);
        for r in chunk {
            if let Some(bytes) = item_mut(page, r.offset) {
                if bytes.first() == Some(&KIND_LINKS) {
                    if let Some(mut l) = LinksMut::open(bytes, layout) {
                        l.set_free();
                    }
                }
            }
        }
        wal.finish();
    }
    for chain in chains {
        super::tids::free_chain(index, chain);
    }
    if first_block != u32::MAX {
        Meta::update(index, |m| m.insert_block = m.insert_block.min(first_block));
    }
}

/// `amvacuumcleanup`: statistics (and a count when no rows were deleted).
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
        let stats = if stats.is_null() {
            let stats = new_stats();
            let layout = Meta::read(index).layout;
            (*stats).num_index_tuples = count_tids(index, &layout) as f64;
            stats
        } else {
            stats
        };
        super::reconnect::reconnect(index);
        (*stats).num_pages = nblocks(index);
        stats
    }
}

fn count_tids(index: pg_sys::Relation, layout: &NodeLayout) -> usize {
    let mut n = 0;
    for block in 1..nblocks(index) {
        delay();
        let buf = Buf::share(index, block);
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
