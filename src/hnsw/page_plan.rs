//! Where a built graph goes on pages, decided before any page is written.
//!
//! Nodes fill pages in breadth-first order from the entry point, each page
//! as many as fit, so that neighbours tend to share pages. A links tuple
//! goes on its node's page when the page has room left (reading it then
//! costs no extra page), else, with the overflow TID tuples, on pages after
//! the node pages. Only sizes and positions are planned here; the shell
//! writes the bytes where the plan says.

use super::layout::{maxalign, NodeLayout, Ref, TidList, LINE_POINTER, OVERFLOW_TIDS, PAGE_TUPLE_SPACE};
use super::memgraph::MemGraph;
use std::collections::VecDeque;
use std::ops::Range;

/// Nodes in breadth-first order from the entry point over layer 0, then any
/// node the walk did not reach; merged duplicates are left out.
pub fn breadth_first(graph: &MemGraph) -> Vec<u32> {
    let n = graph.len();
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    let mut queue = VecDeque::new();
    if let Some((entry, _)) = graph.entry() {
        seen[entry as usize] = true;
        queue.push_back(entry);
    }
    let mut next_unseen = 0usize;
    loop {
        while let Some(id) = queue.pop_front() {
            if graph.node(id).merged {
                continue;
            }
            order.push(id);
            for l in graph.links(id, 0).iter().map(|l| l.id) {
                if !seen[l as usize] {
                    seen[l as usize] = true;
                    queue.push_back(l);
                }
            }
        }
        while next_unseen < n && seen[next_unseen] {
            next_unseen += 1;
        }
        if next_unseen == n {
            break;
        }
        seen[next_unseen] = true;
        queue.push_back(next_unseen as u32);
    }
    order
}

/// What a node needs on pages.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Bytes of its node tuple.
    pub node_bytes: usize,
    pub level: usize,
    /// Heap TIDs it holds (those past the layout's inline slots overflow).
    pub tids: usize,
}

/// A tuple placed after a page's nodes or on the pages after the nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    /// The links tuple of a node.
    Links(u32),
    /// An overflow tuple: a node's TIDs from this position, and the next
    /// tuple of its chain.
    Tids(u32, usize, Ref),
}

/// Where every tuple of a built graph goes. Block 0 is the meta page; node
/// page `i` is block `1 + i`; the extra pages follow the node pages.
pub struct PagePlan {
    /// The nodes of each node page, as positions in the order.
    pub node_pages: Vec<Range<usize>>,
    /// The tuples that follow the nodes on each node page.
    pub tails: Vec<Vec<Extra>>,
    /// The pages after the node pages, with their tuples.
    pub extra_pages: Vec<Vec<Extra>>,
    /// By node id: its node tuple, its links tuple and the first tuple of its
    /// overflow chain (`Ref::INVALID` where it has none).
    pub nodes: Vec<Ref>,
    pub links: Vec<Ref>,
    pub overflow: Vec<Ref>,
}

/// Room a tuple of `size` bytes takes on a page.
fn room(size: usize) -> usize {
    maxalign(size) + LINE_POINTER
}

impl PagePlan {
    /// Plans the `n` nodes of a graph (ids below `n`) written in `order`.
    pub fn new(order: &[u32], n: usize, layout: &NodeLayout, shape: impl Fn(u32) -> Shape) -> PagePlan {
        let mut node_pages: Vec<Range<usize>> = Vec::new();
        let mut tails: Vec<Tail> = Vec::new();
        let mut page_of = vec![0usize; order.len()];
        let mut nodes = vec![Ref::INVALID; n];
        for (position, &id) in order.iter().enumerate() {
            let need = room(shape(id).node_bytes);
            if tails.last().is_none_or(|t| t.used + need > PAGE_TUPLE_SPACE) {
                node_pages.push(position..position);
                tails.push(Tail { used: 0, next_offset: 1, tuples: Vec::new() });
            }
            let page = node_pages.len() - 1;
            let tail = &mut tails[page];
            nodes[id as usize] = Ref { block: 1 + page as u32, offset: tail.next_offset };
            tail.used += need;
            tail.next_offset += 1;
            node_pages[page].end = position + 1;
            page_of[position] = page;
        }

        let mut extra = ExtraPages::new(1 + node_pages.len() as u32);
        let mut links = vec![Ref::INVALID; n];
        let mut overflow = vec![Ref::INVALID; n];
        for (position, &id) in order.iter().enumerate() {
            let Shape { level, tids, .. } = shape(id);
            if layout.needs_links_tuple(level) {
                let size = layout.links_size(level);
                let page = page_of[position];
                links[id as usize] = match tails[page].place(size, Extra::Links(id)) {
                    Some(offset) => Ref { block: 1 + page as u32, offset },
                    None => extra.place(size, Extra::Links(id)),
                };
            }
            if tids > layout.max_tids {
                // Chained back to front: each tuple points at the one placed before it.
                let mut next = Ref::INVALID;
                for start in (layout.max_tids..tids).step_by(OVERFLOW_TIDS) {
                    next = extra.place(TidList::SIZE, Extra::Tids(id, start, next));
                }
                overflow[id as usize] = next;
            }
        }
        PagePlan {
            node_pages,
            tails: tails.into_iter().map(|t| t.tuples).collect(),
            extra_pages: extra.pages,
            nodes,
            links,
            overflow,
        }
    }

    /// Pages of nodes (with the tuples that fit after them).
    pub fn node_page_count(&self) -> u32 {
        self.node_pages.len() as u32
    }

    /// The first block after the planned pages.
    pub fn end_block(&self) -> u32 {
        1 + self.node_page_count() + self.extra_pages.len() as u32
    }
}

/// What is left of a node page for links tuples.
struct Tail {
    used: usize,
    next_offset: u16,
    tuples: Vec<Extra>,
}

impl Tail {
    /// Reserves room for a tuple of `size` bytes if the page has it; its
    /// offset.
    fn place(&mut self, size: usize, tuple: Extra) -> Option<u16> {
        let need = room(size);
        if self.used + need > PAGE_TUPLE_SPACE {
            return None;
        }
        self.used += need;
        self.tuples.push(tuple);
        self.next_offset += 1;
        Some(self.next_offset - 1)
    }
}

/// Packs tuples onto pages from `first_block` on, in order.
struct ExtraPages {
    first_block: u32,
    pages: Vec<Vec<Extra>>,
    used: usize,
}

impl ExtraPages {
    fn new(first_block: u32) -> Self {
        ExtraPages { first_block, pages: Vec::new(), used: PAGE_TUPLE_SPACE }
    }

    /// Reserves room for a tuple of `size` bytes; its TID.
    fn place(&mut self, size: usize, tuple: Extra) -> Ref {
        let need = room(size);
        if self.used + need > PAGE_TUPLE_SPACE {
            self.pages.push(Vec::new());
            self.used = 0;
        }
        self.used += need;
        let page = self.pages.len() - 1;
        self.pages[page].push(tuple);
        Ref { block: self.first_block + page as u32, offset: self.pages[page].len() as u16 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hnsw::level::splitmix64;
    use crate::hnsw::memgraph::GraphParams;
    use crate::hnsw::space::{Element, Metric, Space};
    use std::collections::HashSet;

    /// Random shapes: node sizes of a variable layout, levels up to 4, TIDs
    /// up to a few overflow tuples' worth.
    fn shapes(n: usize, seed: u64, layout: &NodeLayout) -> Vec<Shape> {
        (0..n as u64)
            .map(|i| {
                let r = splitmix64(seed ^ i.wrapping_mul(0x9e37_79b9));
                let level = [0, 0, 0, 0, 0, 0, 1, 1, 2, 4][(r % 10) as usize];
                let tids = if r >> 8 & 15 == 0 { 1 + (r >> 16) as usize % (3 * OVERFLOW_TIDS) } else { 1 };
                let node_bytes = layout.node_size_for(1 + (r >> 32) as usize % layout.payload_len);
                Shape { node_bytes, level, tids }
            })
            .collect()
    }

    /// The room the tuples of a page take.
    fn used(tuples: &[Extra], layout: &NodeLayout, shapes: &[Shape]) -> usize {
        tuples
            .iter()
            .map(|t| match *t {
                Extra::Links(id) => room(layout.links_size(shapes[id as usize].level)),
                Extra::Tids(..) => room(TidList::SIZE),
            })
            .sum()
    }

    #[test]
    fn every_tuple_has_one_place_and_every_page_holds_its_tuples() {
        for (dims, m) in [(3, 4), (128, 16), (384, 16), (1536, 32)] {
            let layout = NodeLayout::choose_variable(dims * 4, m).unwrap();
            for seed in 0..8u64 {
                let n = 1 + splitmix64(seed) as usize % 3000;
                let shapes = shapes(n, seed, &layout);
                // Any order of the ids, as breadth-first gives.
                let mut order: Vec<u32> = (0..n as u32).collect();
                order.sort_by_key(|&id| splitmix64(seed.wrapping_add(u64::from(id))));
                let plan = PagePlan::new(&order, n, &layout, |id| shapes[id as usize]);

                // Node pages cover the order in sequence, and each holds its
                // nodes and tail within a page.
                let mut next = 0;
                for (page, range) in plan.node_pages.iter().enumerate() {
                    assert_eq!(range.start, next);
                    assert!(range.end > range.start);
                    next = range.end;
                    let nodes: usize =
                        order[range.clone()].iter().map(|&id| room(shapes[id as usize].node_bytes)).sum();
                    assert!(nodes + used(&plan.tails[page], &layout, &shapes) <= PAGE_TUPLE_SPACE);
                    for (i, &id) in order[range.clone()].iter().enumerate() {
                        assert_eq!(plan.nodes[id as usize], Ref { block: 1 + page as u32, offset: 1 + i as u16 });
                    }
                    for (i, t) in plan.tails[page].iter().enumerate() {
                        let Extra::Links(id) = *t else { panic!("only links tuples follow nodes") };
                        let offset = (range.len() + 1 + i) as u16;
                        assert_eq!(plan.links[id as usize], Ref { block: 1 + page as u32, offset });
                    }
                }
                assert_eq!(next, n);
                for tuples in &plan.extra_pages {
                    assert!(!tuples.is_empty());
                    assert!(used(tuples, &layout, &shapes) <= PAGE_TUPLE_SPACE);
                }

                // Links tuples exactly where the layout needs them, each once.
                let mut places = HashSet::new();
                for (id, s) in shapes.iter().enumerate() {
                    assert_eq!(plan.links[id].is_valid(), layout.needs_links_tuple(s.level), "node {id}");
                    let at = plan.links[id];
                    if at.is_valid() {
                        assert!(places.insert(at));
                        assert!(at.block < plan.end_block());
                        if at.block > plan.node_page_count() {
                            let page = (at.block - 1 - plan.node_page_count()) as usize;
                            assert_eq!(plan.extra_pages[page][usize::from(at.offset) - 1], Extra::Links(id as u32));
                        }
                    }
                }
                // Overflow chains hold every TID past the inline ones, once.
                for (id, s) in shapes.iter().enumerate() {
                    let (mut at, mut expected) = (plan.overflow[id], Vec::new());
                    expected.extend((layout.max_tids..s.tids).step_by(OVERFLOW_TIDS).rev());
                    let mut starts = Vec::new();
                    while at.is_valid() {
                        assert!(places.insert(at));
                        let page = (at.block - 1 - plan.node_page_count()) as usize;
                        let Extra::Tids(owner, start, next) = plan.extra_pages[page][usize::from(at.offset) - 1] else {
                            panic!("not an overflow tuple");
                        };
                        assert_eq!(owner as usize, id);
                        starts.push(start);
                        at = next;
                    }
                    assert_eq!(starts, expected, "node {id}");
                }
            }
        }
    }

    #[test]
    fn a_page_is_full_before_the_next_is_started() {
        let layout = NodeLayout::choose(128 * 4, 16).unwrap();
        let shape = Shape { node_bytes: layout.node_size(), level: 0, tids: 1 };
        let n = 10 * layout.nodes_per_page() + 3;
        let order: Vec<u32> = (0..n as u32).collect();
        let plan = PagePlan::new(&order, n, &layout, |_| shape);
        assert_eq!(plan.node_page_count() as usize, 11);
        assert!(plan.node_pages[..10].iter().all(|r| r.len() == layout.nodes_per_page()));
        assert!(plan.extra_pages.is_empty());
    }

    #[test]
    fn breadth_first_orders_every_node_once_from_the_entry() {
        let space = Space::new(Element::F32, Metric::L2, 8);
        let n = 500usize;
        let words: Vec<u32> = (0..n * 8).map(|i| (splitmix64(i as u64) as f32 / u64::MAX as f32).to_bits()).collect();
        let tids: Vec<u64> = (0..n as u64).collect();
        let graph = MemGraph::new(space, GraphParams { m: 8, ef_construction: 32, seed: 7 }, words, &tids);
        let cancel = std::sync::atomic::AtomicBool::new(false);
        graph.build_parallel(&std::sync::atomic::AtomicUsize::new(0), &cancel).unwrap();
        let order = breadth_first(&graph);
        assert_eq!(order.first().copied(), graph.entry().map(|(id, _)| id));
        let mut sorted = order.clone();
        sorted.sort_unstable();
        let live: Vec<u32> = (0..n as u32).filter(|&id| !graph.node(id).merged).collect();
        assert_eq!(sorted, live);
    }
}
