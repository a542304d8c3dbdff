//! Introspection: what an index holds (`lodestone_hnsw_info`) and whether its
//! graph is sound (`lodestone_hnsw_verify`).

use super::meta::Meta;
use crate::am::common::page::{item, max_offset, nblocks, page_type, pages, Buf, PAGE_DATA, PAGE_META};
use crate::hnsw::layout::{Links, Node, NodeLayout, Ref, TidList, KIND_LINKS, KIND_NODE, KIND_TIDS, MAX_TIDS};
use crate::hnsw::level::MAX_LEVEL;
use pgrx::prelude::*;
use std::collections::{HashMap, HashSet, VecDeque};

/// An hnsw index opened for reading, closed when dropped.
struct Opened(pg_sys::Relation);

impl Opened {
    fn new(oid: pg_sys::Oid) -> Opened {
        // SAFETY: index_open raises an ERROR for a missing or non-index OID.
        let rel = unsafe { pg_sys::index_open(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
        let opened = Opened(rel);
        // An index of the access method named hnsw whose meta page is one
        // of ours (the page type and the meta data are checked).
        let our_am = crate::am::common::access_method_name(rel).as_deref() == Some("hnsw");
        let is_ours = our_am && nblocks(rel) > 0 && {
            let buf = Buf::share(rel, 0);
            page_type(buf.page()) == PAGE_META && Meta::from_page(buf.page()).is_some()
        };
        if !is_ours {
            // A user error, not an internal one: the wrong index was named.
            ereport!(
                PgLogLevel::ERROR,
                PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
                format!("\"{}\" is not a lodestone hnsw index", crate::am::common::relation_name(rel))
            );
        }
        opened
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: we opened it with this lock mode.
            unsafe { pg_sys::index_close(self.0, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
        }
    }
}

/// Every tuple of every data page: node tuples and links tuples by TID.
struct Census {
    nodes: HashMap<Ref, NodeInfo>,
    links: HashMap<Ref, Vec<Vec<Ref>>>,
    /// Live overflow tuples: their TID count and next tuple.
    chains: HashMap<Ref, (usize, Ref)>,
    bad_pages: Vec<(u32, String)>,
    bad_tuples: Vec<(Ref, String)>,
}

struct NodeInfo {
    flags: u8,
    level: usize,
    ntids: usize,
    links0: Vec<Ref>,
    links_tuple: Ref,
    overflow: Ref,
}

fn census(index: pg_sys::Relation, layout: &NodeLayout) -> Census {
    let mut c = Census {
        nodes: HashMap::new(),
        links: HashMap::new(),
        chains: HashMap::new(),
        bad_pages: Vec::new(),
        bad_tuples: Vec::new(),
    };
    for (block, buf) in pages(index) {
        let page = buf.page();
        // SAFETY: reads the header of a locked page.
        if unsafe { pg_sys::PageIsNew(page) } {
            continue; // extended but never initialised (a crash mid-extension): unused
        }
        if page_type(page) == super::codes::PAGE_QUANT {
            continue; // the trained quantizer, checked by lodestone_hnsw_verify
        }
        if page_type(page) != PAGE_DATA {
            c.bad_pages.push((block, "not an hnsw data page".into()));
            continue;
        }
        for offset in 1..=max_offset(page) {
            let at = Ref { block, offset };
            let Some(bytes) = item(page, offset) else {
                continue;
            };
            match bytes.first() {
                Some(&KIND_NODE) => match Node::parse(bytes, layout) {
                    Some(n) => {
                        c.nodes.insert(
                            at,
                            NodeInfo {
                                flags: n.flags(),
                                level: n.level(),
                                ntids: n.ntids(),
                                links0: n.links0().collect(),
                                links_tuple: n.links_tuple(),
                                overflow: n.overflow(),
                            },
                        );
                    }
                    None => c.bad_tuples.push((at, "malformed node tuple".into())),
                },
                Some(&KIND_LINKS) => match Links::parse(bytes, layout) {
                    Some(l) if !l.is_free() => {
                        c.links.insert(at, (0..=l.level()).map(|lc| l.at(lc).collect()).collect());
                    }
                    Some(_) => {}
                    None => c.bad_tuples.push((at, "malformed links tuple".into())),
                },
                Some(&KIND_TIDS) => match TidList::parse(bytes) {
                    Some(l) if !l.is_free() => {
                        c.chains.insert(at, (l.count(), l.next()));
                    }
                    Some(_) => {}
                    None => c.bad_tuples.push((at, "malformed overflow tuple".into())),
                },
                _ => c.bad_tuples.push((at, "unknown tuple kind".into())),
            }
        }
    }
    c
}

impl Census {
    /// A node's links at `level`.
    /// Heap TIDs in a node's overflow chain, or `None` when the chain is broken.
    fn chain_tids(&self, first: Ref) -> Option<usize> {
        let (mut n, mut at, mut hops) = (0, first, 0);
        while at.is_valid() {
            let (count, next) = self.chains.get(&at)?;
            n += count;
            at = *next;
            hops += 1;
            if hops > self.chains.len() {
                return None; // a cycle
            }
        }
        Some(n)
    }

    fn links_of(&self, layout: &NodeLayout, node: &NodeInfo, level: usize) -> Vec<Ref> {
        if level == 0 && layout.links0_inline {
            return node.links0.clone();
        }
        self.links.get(&node.links_tuple).and_then(|levels| levels.get(level)).cloned().unwrap_or_default()
    }
}

// pgrx derives the result columns from this signature, so it stays spelled out.
#[allow(clippy::type_complexity)]
#[pg_extern(sql = false)]
fn lodestone_hnsw_info(
    index: pg_sys::Oid,
) -> TableIterator<
    'static,
    (
        name!(nodes, i64),
        name!(heap_tids, i64),
        name!(deleted_nodes, i64),
        name!(free_slots, i64),
        name!(max_level, i32),
        name!(pages, i64),
        name!(bytes, i64),
        name!(nodes_per_page, i32),
        name!(m, i32),
        name!(ef_construction, i32),
        name!(dimensions, i32),
        name!(metric, String),
        name!(quantizer, String),
        name!(code_bytes, i32),
        name!(bytes_per_vector, f64),
    ),
> {
    let opened = Opened::new(index);
    let meta = Meta::read(opened.0);
    let c = census(opened.0, &meta.layout);
    let live = c.nodes.values().filter(|n| n.flags == 0);
    let (mut nodes, mut tids, mut max_level) = (0i64, 0i64, 0usize);
    for n in live {
        nodes += 1;
        tids += (n.ntids + c.chain_tids(n.overflow).unwrap_or(0)) as i64;
        max_level = max_level.max(n.level);
    }
    let deleted = c
        .nodes
        .values()
        .filter(|n| n.flags & crate::hnsw::layout::FLAG_DELETED != 0 && n.flags & crate::hnsw::layout::FLAG_FREE == 0)
        .count();
    let free = c.nodes.values().filter(|n| n.flags & crate::hnsw::layout::FLAG_FREE != 0).count();
    let pages = i64::from(nblocks(opened.0));
    let metric = format!("{:?}", meta.space.metric).to_lowercase();
    // Variable-size nodes: how many a page holds on average.
    let nodes_per_page = if meta.layout.variable {
        let blocks: std::collections::HashSet<u32> = c.nodes.keys().map(|r| r.block).collect();
        (c.nodes.len() / blocks.len().max(1)) as i32
    } else {
        meta.layout.nodes_per_page() as i32
    };
    TableIterator::once((
        nodes,
        tids,
        deleted as i64,
        free as i64,
        max_level as i32,
        pages,
        pages * i64::from(pg_sys::BLCKSZ),
        nodes_per_page,
        meta.layout.m as i32,
        meta.ef_construction as i32,
        meta.space.dims as i32,
        metric,
        meta.quant.map_or("none", |q| crate::hnsw::quantized::kind_name(q.kind)).to_string(),
        meta.layout.payload_len as i32,
        if tids > 0 { (pages * i64::from(pg_sys::BLCKSZ)) as f64 / tids as f64 } else { 0.0 },
    ))
}

#[pg_extern(sql = false)]
fn lodestone_hnsw_verify(
    index: pg_sys::Oid,
) -> TableIterator<'static, (name!(problem, String), name!(block, i64), name!(item, i32), name!(detail, String))> {
    let opened = Opened::new(index);
    let meta = Meta::read(opened.0);
    let layout = meta.layout;
    let c = census(opened.0, &layout);
    let mut problems: Vec<(String, i64, i32, String)> = Vec::new();
    let mut report = |problem: &str, at: Ref, detail: String| {
        problems.push((problem.to_string(), i64::from(at.block), i32::from(at.offset), detail));
    };
    if let Some((block, detail)) = super::codes::check(opened.0, &meta) {
        report("bad quantizer", Ref { block, offset: 0 }, detail);
    }
    for (block, detail) in &c.bad_pages {
        report("bad page", Ref { block: *block, offset: 0 }, detail.clone());
    }
    for (at, detail) in &c.bad_tuples {
        report("bad tuple", *at, detail.clone());
    }

    let is_free = |r: &Ref| c.nodes.get(r).is_none_or(|n| n.flags & crate::hnsw::layout::FLAG_FREE != 0);
    for (at, node) in &c.nodes {
        if node.flags & crate::hnsw::layout::FLAG_FREE != 0 {
            continue;
        }
        if node.level > MAX_LEVEL || node.ntids > MAX_TIDS.min(layout.max_tids) {
            report("bad tuple", *at, format!("level {} with {} heap TIDs", node.level, node.ntids));
        }
        match c.chain_tids(node.overflow) {
            None => report("dangling overflow tuple", *at, "its chain of heap TIDs is broken".into()),
            Some(more) if node.flags == 0 && node.ntids + more == 0 && !node.overflow.is_valid() => {
                report("bad tuple", *at, "live node without heap TIDs".into())
            }
            Some(_) => {}
        }
        if layout.needs_links_tuple(node.level) && !c.links.contains_key(&node.links_tuple) {
            report(
                "dangling links tuple",
                *at,
                format!("links tuple ({},{}) is missing", node.links_tuple.block, node.links_tuple.offset),
            );
        }
        for level in 0..=node.level {
            for target in c.links_of(&layout, node, level) {
                if is_free(&target) {
                    report(
                        "dangling neighbour",
                        *at,
                        format!("level {level} link to ({},{}), which is no node", target.block, target.offset),
                    );
                } else if c.nodes[&target].level < level {
                    report(
                        "dangling neighbour",
                        *at,
                        format!(
                            "level {level} link to ({},{}) of level {}",
                            target.block, target.offset, c.nodes[&target].level
                        ),
                    );
                }
            }
        }
    }

    // Reachability: every live node from the entry point on layer 0, which
    // is all an unbounded iterative scan walks after its descent.
    match meta.entry {
        None => {
            for (at, node) in &c.nodes {
                if node.flags == 0 {
                    report("unreachable node", *at, "the index has no entry point".into());
                }
            }
        }
        Some((entry, level)) => {
            if is_free(&entry) || c.nodes[&entry].level != level {
                report("bad entry point", entry, format!("entry point at level {level} is not a node of that level"));
            } else {
                let mut seen: HashSet<Ref> = HashSet::new();
                let mut queue = VecDeque::from([entry]);
                seen.insert(entry);
                while let Some(at) = queue.pop_front() {
                    pgrx::check_for_interrupts!();
                    for target in c.links_of(&layout, &c.nodes[&at], 0) {
                        if !is_free(&target) && seen.insert(target) {
                            queue.push_back(target);
                        }
                    }
                }
                for (at, node) in &c.nodes {
                    if node.flags == 0 && !seen.contains(at) {
                        report(
                            "unreachable node",
                            *at,
                            format!("level {} node with {} heap TIDs", node.level, node.ntids),
                        );
                    }
                }
                // A scan's descent ends on a node of level 1 or more and
                // walks layer 0 from there: one that does not lead back to
                // the entry point on layer 0 sees only part of the graph.
                let mut into: HashMap<Ref, Vec<Ref>> = HashMap::new();
                for (at, node) in &c.nodes {
                    if node.flags & crate::hnsw::layout::FLAG_FREE == 0 {
                        for target in c.links_of(&layout, node, 0) {
                            into.entry(target).or_default().push(*at);
                        }
                    }
                }
                let mut back: HashSet<Ref> = HashSet::from([entry]);
                let mut queue = VecDeque::from([entry]);
                while let Some(at) = queue.pop_front() {
                    pgrx::check_for_interrupts!();
                    for &from in into.get(&at).into_iter().flatten() {
                        if back.insert(from) {
                            queue.push_back(from);
                        }
                    }
                }
                for (at, node) in &c.nodes {
                    if node.flags == 0 && node.level > 0 && !back.contains(at) {
                        report(
                            // Named like the other: tools that tolerate an
                            // unreachable node between VACUUMs tolerate this.
                            "unreachable node",
                            *at,
                            format!(
                                "level {} node from which layer 0 does not lead to the entry point: a scan whose descent ends here misses rows",
                                node.level
                            ),
                        );
                    }
                }
            }
        }
    }
    problems.sort_by(|a, b| (a.1, a.2, &a.0).cmp(&(b.1, b.2, &b.0)));
    TableIterator::new(problems)
}
