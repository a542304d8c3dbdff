//! Keeping every node reachable.
//!
//! HNSW prunes neighbour lists with a heuristic that can drop a node's last
//! incoming link; under churn (inserts, updates, deletes) a few nodes end
//! up that no search can reach, so their rows are silently never returned.
//! A VACUUM that removed rows (or finished an interrupted one's work)
//! therefore walks layer 0 from the entry point, and links each live node
//! it did not reach from its nearest reachable neighbours (the nearest one
//! keeps the link whatever the heuristic says), as if the node were
//! inserted again. Only layer-0 links count: a scan descends through the
//! upper levels to one point and walks layer 0 from there (iterative
//! rounds too), so a node linked only on an upper level is a row no
//! unbounded scan returns. A node missed only because a concurrent insert changed a
//! list mid-walk gets a few extra links, which is harmless.
//!
//! The walk records the link each node was first reached by: a tree from
//! the entry point. A forced link gives up only a link outside that tree,
//! and goes to the nearest host whose list has one (or room), so linking a
//! node back in never strands another (as the in-memory build's
//! reconnection, `memgraph/reconnect.rs`).
//!
//! The walk keeps four bits per item of the index (live, upper level,
//! reached, still to expand) and the tree (four bytes per item), within
//! `maintenance_work_mem`, and reads each reached node once:
//! it sweeps the to-expand bits in block order until a sweep finds none.

use super::disk::{DiskGraph, Seen};
use super::insert::{link_back, link_back_sparing, linked_by_a_neighbor, BackLink};
use super::meta::Meta;
use crate::am::common::page::{item, max_offset, page_type, pages, Buf, PageLock, PAGE_DATA, UPDATE_LOCK};
use crate::hnsw::layout::{Links, Node, NodeLayout, Ref, KIND_NODE};
use crate::hnsw::search::{descend, search_layer, HashVisited, Scored, Scratch};
use crate::hnsw::space::Payload;
use pgrx::pg_sys;

fn delay() {
    // SAFETY: vacuum's cost-based delay and interrupt check.
    unsafe { pg_sys::vacuum_delay_point() };
}

/// Rounds of walking and relinking, at most.
const ROUNDS: usize = 4;

/// Links every unreachable live node back into the graph. Returns how many
/// nodes were reconnected, `None` when the walk would not fit into
/// `maintenance_work_mem` (it then does nothing, with a WARNING).
pub fn reconnect(index: pg_sys::Relation) -> Option<usize> {
    let meta = Meta::read(index);
    let layout = meta.layout;
    let mut slots = Slots::census(index, &layout)?;
    let entry = match meta.entry {
        Some((entry, _)) => entry,
        None => match give_entry(index, slots.top) {
            Some(entry) => entry,
            None => return Some(0),
        },
    };
    let mut fixed = 0;
    // A forced link displaces another, which can leave its target out in
    // turn: go again while a round fixed something (in practice one more).
    for _round in 0..ROUNDS {
        let before = fixed;
        slots.walk(index, &layout, entry);
        for w in 0..slots.live.len() {
            let mut word = slots.live[w] & !slots.reached[w];
            while word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                // relinking an earlier node may have made this one reachable:
                // another forced link would only displace a needed one
                if get(&slots.reached, i) {
                    continue;
                }
                delay();
                if let Some(host) = relink(index, &meta, slots.at(i), &slots) {
                    fixed += 1;
                    slots.mark_from(index, &layout, i, slots.bit(host));
                }
            }
        }
        // A scan's descent ends on a node of level 1 or more, then walks
        // layer 0 from there: each such node must lead back to the entry
        // point on layer 0, or the scan sees only the piece it landed in.
        let forward = fixed - before;
        slots.reaching(index, &layout, entry);
        for w in 0..slots.live.len() {
            let mut word = slots.upper[w] & slots.live[w] & !slots.frontier[w];
            while word != 0 {
                delay();
                if link_out(index, &meta, slots.at(w * 64 + word.trailing_zeros() as usize), &slots) {
                    fixed += 1;
                }
                word &= word - 1;
            }
        }
        pgrx::debug1!(
            "hnsw reconnect: round {_round}: {forward} unreachable nodes, {} dead ends",
            fixed - before - forward
        );
        if fixed == before {
            break;
        }
    }
    Some(fixed)
}

/// An index with live nodes but no entry point (which a VACUUM before this
/// was fixed could leave) gets its highest live node as entry point.
fn give_entry(index: pg_sys::Relation, top: Option<(Ref, usize)>) -> Option<Ref> {
    let _lock = PageLock::exclusive(index, UPDATE_LOCK);
    if let Some((entry, _)) = Meta::read(index).entry {
        return Some(entry); // an insert got there first
    }
    let top = top?;
    Meta::update(index, |m| m.entry = Some(top));
    Some(top.0)
}

/// One bit per item of the index (as it was when counted) for each of four
/// sets, and the walk's tree; items added later are not tracked.
struct Slots {
    /// The bit of each block's first item; `start[nblocks]` is the total.
    start: Vec<usize>,
    live: Vec<u64>,
    /// Nodes of level 1 or more: where a scan's descent can end.
    upper: Vec<u64>,
    reached: Vec<u64>,
    frontier: Vec<u64>,
    /// The item each reached item was first reached from ([`NO_PARENT`]
    /// for the entry point and what was not reached): a tree from the entry
    /// point, so giving up any other link keeps every reached node reached.
    parent: Vec<u32>,
    /// The highest live node.
    top: Option<(Ref, usize)>,
}

const NO_PARENT: u32 = u32::MAX;

fn set(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

fn get(bits: &[u64], i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

impl Slots {
    /// Reads every page once, noting its live (not deleted, not free)
    /// nodes.
    fn census(index: pg_sys::Relation, layout: &NodeLayout) -> Option<Slots> {
        // SAFETY: reads a GUC of this backend.
        let budget = unsafe { pg_sys::maintenance_work_mem } as usize * 1024;
        let mut slots = Slots {
            start: vec![0],
            live: Vec::new(),
            upper: Vec::new(),
            reached: Vec::new(),
            frontier: Vec::new(),
            parent: Vec::new(),
            top: None,
        };
        let mut total = 0usize;
        // Every page, data or not, gets its `start`.
        for (block, buf) in pages(index) {
            let page = buf.page();
            let count = if page_type(page) == PAGE_DATA { usize::from(max_offset(page)) } else { 0 };
            slots.start.push(total);
            total += count;
            slots.live.resize(total.div_ceil(64), 0);
            slots.upper.resize(total.div_ceil(64), 0);
            for offset in 1..=count as u16 {
                let Some(bytes) = item(page, offset) else { continue };
                if bytes.first() != Some(&KIND_NODE) {
                    continue;
                }
                let Some(node) = Node::parse(bytes, layout).filter(|n| n.flags() == 0) else { continue };
                set(&mut slots.live, total - count + usize::from(offset) - 1);
                if node.level() > 0 {
                    set(&mut slots.upper, total - count + usize::from(offset) - 1);
                }
                if slots.top.is_none_or(|(_, l)| node.level() > l) {
                    slots.top = Some((Ref { block, offset }, node.level()));
                }
            }
            let bytes = slots.start.len() * 8 + slots.live.len() * 8 * 4 + total * 4;
            if bytes > budget {
                pgrx::warning!(
                    "hnsw index: not checking that every node is reachable: it needs more than maintenance_work_mem ({} kB)",
                    budget / 1024
                );
                return None;
            }
        }
        slots.start.push(total);
        slots.reached = vec![0; slots.live.len()];
        slots.frontier = vec![0; slots.live.len()];
        slots.parent = vec![NO_PARENT; total];
        Some(slots)
    }

    /// The bit of `r`, if it was counted.
    fn bit(&self, r: Ref) -> Option<usize> {
        let block = r.block as usize;
        if r.offset == 0 || block + 1 >= self.start.len() {
            return None;
        }
        let i = self.start[block] + usize::from(r.offset) - 1;
        (i < self.start[block + 1]).then_some(i)
    }

    fn at(&self, i: usize) -> Ref {
        let block = self.start.partition_point(|&s| s <= i) - 1;
        Ref { block: block as u32, offset: (i - self.start[block] + 1) as u16 }
    }

    /// Marks everything reachable from `entry` on layer 0.
    fn walk(&mut self, index: pg_sys::Relation, layout: &NodeLayout, entry: Ref) {
        self.reached.iter_mut().for_each(|w| *w = 0);
        self.frontier.iter_mut().for_each(|w| *w = 0);
        self.parent.iter_mut().for_each(|p| *p = NO_PARENT);
        if let Some(first) = self.bit(entry) {
            self.mark_from(index, layout, first, None);
        }
    }

    /// Marks `first` reached (from `via`, when a link from there was just
    /// made) and everything reachable from it on layer 0 (what `reached`
    /// already holds is not expanded again).
    fn mark_from(&mut self, index: pg_sys::Relation, layout: &NodeLayout, first: usize, via: Option<usize>) {
        set(&mut self.reached, first);
        self.parent[first] = via.map_or(NO_PARENT, |v| v as u32);
        set(&mut self.frontier, first);
        let mut links = Vec::new();
        loop {
            let mut expanded = false;
            let mut w = 0;
            while w < self.frontier.len() {
                let word = self.frontier[w];
                if word == 0 {
                    w += 1;
                    continue;
                }
                let i = w * 64 + word.trailing_zeros() as usize;
                self.frontier[w] &= word - 1;
                expanded = true;
                delay();
                links.clear();
                layer0_links(index, layout, self.at(i), &mut links);
                for &l in &links {
                    if let Some(j) = self.bit(l) {
                        if !get(&self.reached, j) {
                            set(&mut self.reached, j);
                            set(&mut self.frontier, j);
                            self.parent[j] = i as u32;
                        }
                    }
                }
            }
            if !expanded {
                return;
            }
        }
    }
}

impl Slots {
    /// Whether `node`'s layer-0 list may give up its link to `target`: it
    /// is not the link `target` was reached by. A node added after the
    /// census is not in the tree; for it, the insert path's check.
    fn spare(&self, index: pg_sys::Relation, layout: &NodeLayout, node: Ref, target: Ref) -> bool {
        match self.bit(target) {
            Some(t) => self.bit(node).is_none_or(|n| self.parent[t] != n as u32),
            None => linked_by_a_neighbor(index, layout, target, 0),
        }
    }

    /// Whether `host`'s layer-0 list can take a forced link without giving
    /// up a link some node was reached by.
    fn has_room(&self, index: pg_sys::Relation, layout: &NodeLayout, host: Ref) -> bool {
        let mut links = Vec::new();
        layer0_links(index, layout, host, &mut links);
        links.len() < layout.capacity(0) || links.iter().any(|&l| self.spare(index, layout, host, l))
    }

    /// Leaves in `frontier` the live nodes from which a layer-0 walk
    /// reaches `entry` (the walk is over, so the bits are free): sweeps
    /// the index until a sweep adds none, about as many sweeps as layer 0
    /// is wide in hops.
    fn reaching(&mut self, index: pg_sys::Relation, layout: &NodeLayout, entry: Ref) {
        self.frontier.iter_mut().for_each(|w| *w = 0);
        let Some(first) = self.bit(entry) else { return };
        set(&mut self.frontier, first);
        let mut links = Vec::new();
        loop {
            let mut changed = false;
            for w in 0..self.live.len() {
                let mut word = self.live[w] & !self.frontier[w];
                while word != 0 {
                    let i = w * 64 + word.trailing_zeros() as usize;
                    word &= word - 1;
                    delay();
                    links.clear();
                    layer0_links(index, layout, self.at(i), &mut links);
                    if links.iter().any(|&l| self.bit(l).is_some_and(|j| get(&self.frontier, j))) {
                        set(&mut self.frontier, i);
                        changed = true;
                    }
                }
            }
            if !changed {
                return;
            }
        }
    }
}

/// Gives `node` (of level 1 or more) a forced layer-0 link to its nearest
/// node that leads back to the entry point, found by a layer-0 search from
/// the entry point (the entry point itself if none is found).
fn link_out(index: pg_sys::Relation, meta: &Meta, node: Ref, slots: &Slots) -> bool {
    let _lock = PageLock::share(index, UPDATE_LOCK);
    let layout = meta.layout;
    let codes = super::codes::load(index, meta);
    let payload = {
        let buf = Buf::share(index, node.block);
        let Some(n) = item(buf.page(), node.offset).and_then(|b| Node::parse(b, &layout)) else { return false };
        if n.flags() != 0 {
            return false;
        }
        match &codes {
            Some(c) => c.decode(n.payload()),
            None => Payload::from_bytes(n.payload()),
        }
    };
    let Some((entry, _)) = Meta::read(index).entry else { return false };
    if entry == node {
        return false;
    }
    let mut graph = DiskGraph::new(index, meta.space, layout, Some(payload.clone()), true).with_codes(codes);
    let Some(d) = graph.distance(entry) else { return false };
    let start = Scored { id: entry.pack(), distance: d };
    let mut scratch = Scratch::default();
    let mut visited = HashVisited::with_capacity(meta.ef_construction * 8);
    let found = search_layer(&mut graph, &[start], meta.ef_construction, 0, &mut visited, &mut scratch, None);
    let leads_back = |s: &Scored<u64>| slots.bit(Ref::unpack(s.id)).is_some_and(|j| get(&slots.frontier, j));
    let host = found
        .iter()
        .copied()
        .find(|s| s.id != node.pack() && graph.seen.get(&s.id).is_some_and(|n| !n.deleted) && leads_back(s))
        .unwrap_or(start);
    graph.seen.insert(node.pack(), Seen::with_payload(payload));
    let link = BackLink { node, new: Ref::unpack(host.id), distance: host.distance, level: 0, force: true };
    link_back_sparing(index, &layout, &mut graph, link, &|n, t| slots.spare(index, &layout, n, t));
    true
}

/// A node's layer-0 links: what a scan follows once its descent is over.
fn layer0_links(index: pg_sys::Relation, layout: &NodeLayout, at: Ref, out: &mut Vec<Ref>) {
    let links_ref = {
        let buf = Buf::share(index, at.block);
        let Some(node) = item(buf.page(), at.offset).and_then(|b| Node::parse(b, layout)) else { return };
        if node.is_free() {
            return;
        }
        if layout.links0_inline {
            out.extend(node.links0());
            return;
        }
        node.links_tuple()
    };
    if links_ref.is_valid() {
        let buf = Buf::share(index, links_ref.block);
        if let Some(links) = item(buf.page(), links_ref.offset).and_then(|b| Links::parse(b, layout)) {
            out.extend(links.at(0));
        }
    }
}

/// Offers links to `node` from its nearest live nodes on each of its levels,
/// on layer 0 the first forced; returns the node that took that forced link.
fn relink(index: pg_sys::Relation, meta: &Meta, node: Ref, slots: &Slots) -> Option<Ref> {
    let _lock = PageLock::share(index, UPDATE_LOCK);
    let layout = meta.layout;
    let codes = super::codes::load(index, meta);
    let (payload, level) = {
        let buf = Buf::share(index, node.block);
        let n = item(buf.page(), node.offset).and_then(|b| Node::parse(b, &layout))?;
        if n.flags() != 0 {
            return None;
        }
        let payload = match &codes {
            Some(c) => c.decode(n.payload()),
            None => Payload::from_bytes(n.payload()),
        };
        (payload, n.level())
    };
    let (entry, top) = Meta::read(index).entry?;
    let mut graph = DiskGraph::new(index, meta.space, layout, Some(payload.clone()), true).with_codes(codes);
    let d = graph.distance(entry)?;
    let mut scratch = Scratch::default();
    let best = descend(&mut graph, Scored { id: entry.pack(), distance: d }, top, level.min(top), &mut scratch);
    let mut entries = vec![best];
    let mut host = None;
    for lc in (0..=level.min(top)).rev() {
        if lc == 0 {
            // On layer 0 the search starts over from the entry point: the
            // descent can land in the very piece of layer 0 the walk did not
            // reach, whose nodes would link `node` without making it
            // reachable. From the entry, every node found is reachable.
            entries = vec![Scored { id: entry.pack(), distance: d }];
        }
        let mut visited = HashVisited::with_capacity(meta.ef_construction * 8);
        let found = search_layer(&mut graph, &entries, meta.ef_construction, lc, &mut visited, &mut scratch, None);
        let mut nearest: Vec<Scored<u64>> = found
            .iter()
            .copied()
            .filter(|s| s.id != node.pack() && graph.seen.get(&s.id).is_some_and(|n| !n.deleted))
            .take(if lc == 0 { 8 } else { 3 })
            .collect();
        if lc == 0 {
            // The forced link goes to the nearest host that can take it
            // without giving up a link some node was reached by (under
            // inner product the nearest is the same hub for many nodes;
            // among duplicates at m = 2 every near list is full of links
            // each copy needs): else it strands another node, which a later
            // relink forces back into the same list, round after round.
            nearest.sort_by_key(|s| !slots.has_room(index, &layout, Ref::unpack(s.id)));
            nearest.truncate(3);
        }
        graph.seen.insert(node.pack(), Seen::with_payload(payload.clone()));
        for (i, s) in nearest.iter().enumerate() {
            let link = BackLink { node: Ref::unpack(s.id), new: node, distance: s.distance, level: lc, force: i == 0 };
            if lc == 0 {
                link_back_sparing(index, &layout, &mut graph, link, &|n, t| slots.spare(index, &layout, n, t));
                host = host.or(Some(link.node));
            } else {
                link_back(index, &layout, &mut graph, link);
            }
        }
        entries = found;
    }
    host
}
