//! Pass 3 of VACUUM: every list that points at a deleted node is chosen
//! again from its live links and theirs (see `mod.rs` for the passes).

use super::node_of;
use crate::am::common::page::{data_pages, item, item_mut, max_offset, Buf, Wal};
use crate::am::hnsw::codes;
use crate::am::hnsw::disk::{DiskGraph, Seen};
use crate::am::hnsw::insert::{link_back, BackLink};
use crate::am::hnsw::meta::Meta;
use crate::hnsw::layout::{Links, LinksMut, NodeLayout, NodeMut, Ref};
use crate::hnsw::search::{descend, search_layer, GraphView, HashVisited, Scored, Scratch};
use crate::hnsw::select::select_neighbors;
use crate::hnsw::space::Payload;
use pgrx::pg_sys;
use std::collections::HashSet;

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
pub(super) fn repair(index: pg_sys::Relation, meta: &Meta, deleted: &HashSet<Ref>) -> bool {
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
    let codes = codes::load(index, meta);
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
            graph.seen.insert(node.pack(), Seen::with_payload(payload.clone()));
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
    codes: Option<&codes::Codes>,
) -> Option<Payload> {
    let buf = Buf::share(index, node.block);
    let n = item(buf.page(), node.offset).and_then(|b| node_of(b, layout))?;
    Some(match codes {
        Some(c) => c.decode(n.payload()),
        None => Payload::from_bytes(n.payload()),
    })
}
