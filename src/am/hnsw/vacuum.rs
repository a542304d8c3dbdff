//! `VACUUM`: removing dead rows from the graph and repairing it.
//!
//! 1. **Prune TIDs.** Every node drops the heap TIDs vacuum reports dead. A
//!    node left with none is marked `DELETED` (under its page's exclusive
//!    lock, which is also where the set of deleted nodes comes from: an
//!    insert may have added a duplicate's TID since the share-locked look).
//!    Searches still walk through a deleted node, but no longer return it,
//!    and inserts no longer link to it. Before the first mark the meta page
//!    gets `FLAG_REPAIR_PENDING`.
//! 2. **Barrier.** Taking `UPDATE_LOCK` exclusively waits for the inserts
//!    that started before the marks; later ones see them.
//! 3. **Repair.** Every live node that links to a deleted one gets a new
//!    list: its live links plus the live links of the deleted ones (two
//!    hops), chosen again with the HNSW heuristic; when that leaves it short,
//!    a search from the entry point adds candidates. The entry point moves
//!    off a deleted node to the highest node live after every pass.
//! 4. **Free.** After waiting out in-flight scans (`SCAN_LOCK`), deleted
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

use super::disk::DiskGraph;
use super::insert::{link_back, BackLink};
use super::meta::{Meta, FLAG_REPAIR_PENDING};
use crate::am::common::corrupt;
use crate::am::common::page::{
    data_pages, item, item_mut, max_offset, nblocks, Buf, PageLock, Wal, SCAN_LOCK, UPDATE_LOCK,
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

fn delay() {
    // SAFETY: vacuum's cost-based delay and interrupt check.
    unsafe { pg_sys::vacuum_delay_point() };
}

/// What pass 1 found.
#[derive(Default)]
struct Pruned {
    /// Nodes marked deleted, by this pass or an earlier (unfinished) one.
    deleted: HashSet<Ref>,
    removed: usize,
    remaining: usize,
    /// The highest node live after the pass: the entry point's successor.
    top: Option<(Ref, usize)>,
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
fn prune_tids(index: pg_sys::Relation, layout: &NodeLayout, is_dead: impl Fn(Ref) -> bool) -> Pruned {
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
            node.ntids() == 0 && super::tids::chain_is_empty(index, node.overflow())
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
        if node.ntids() > 0 || !super::tids::chain_is_empty(index, node.overflow()) {
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
pub(super) fn highest_live(index: pg_sys::Relation, layout: &NodeLayout) -> Option<(Ref, usize)> {
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
    for (block, buf) in data_pages(index) {
        let nodes: Vec<Ref> = {
            let page = buf.page();
            (1..=max_offset(page))
                .filter(|&o| item(page, o).and_then(|b| node_of(b, layout)).is_some_and(|n| n.flags() == 0))
                .map(|offset| Ref { block, offset })
                .collect()
        };
        drop(buf);
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
                    let link = BackLink { node: target, new: node, distance: s.distance, level, force: false };
                    link_back(index, layout, &mut graph, link);
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

/// Pass 4: turns deleted nodes (and their links tuples and overflow
/// chains) into free slots and points the insert hint at the first page
/// with one.
fn free_slots(index: pg_sys::Relation, layout: &NodeLayout, deleted: &HashSet<Ref>) {
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
