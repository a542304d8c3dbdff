//! The in-memory graph of an index build, filled by many threads at once.
//!
//! Each node's links and heap TIDs sit behind their own mutex; payloads are
//! written once before the build starts and only read afterwards, so reading
//! them needs no lock. An insertion holds at most one node lock at a time
//! (copying a neighbour list, or rewriting one), so threads never deadlock.
//! A node whose level tops the graph's takes the entry-point lock for its
//! whole insertion, as hnswlib does: rare, and it keeps the top of the graph
//! consistent.
//!
//! Nothing here touches Postgres: the build runs on rayon threads.

use super::level::{level_for_index, MAX_LEVEL};
use super::search::{descend, search_layer, EpochVisited, GraphView, Scored, Scratch};
use super::select::{offer, select_links, select_neighbors, Link};
use super::space::{words_as_bytes, Space};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Parameters of a graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphParams {
    /// Links per node on levels above 0; level 0 has `2 m`.
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
    /// Seed of the level assignment.
    pub seed: u64,
    /// Fill neighbour lists up to capacity with candidates the heuristic
    /// turned away.
    pub keep_pruned: bool,
}

impl GraphParams {
    /// Link capacity at `level`.
    pub fn capacity(&self, level: usize) -> usize {
        if level == 0 {
            2 * self.m
        } else {
            self.m
        }
    }
}

/// What one node holds besides its payload.
#[derive(Debug, Default)]
pub struct NodeState {
    /// `links[l]`: neighbours at level `l`, for `l` in `0..=level`, closest
    /// first.
    pub links: Vec<Vec<Link<u32>>>,
    /// Heap TIDs (packed) of the rows with this vector.
    pub tids: Vec<u64>,
    /// The vector was identical to another node's and its TID went there.
    pub merged: bool,
}

/// The graph of a build.
pub struct MemGraph {
    pub space: Space,
    pub params: GraphParams,
    payloads: Vec<u32>,
    stride: usize,
    levels: Vec<u8>,
    nodes: Vec<Mutex<NodeState>>,
    entry: Mutex<Option<(u32, usize)>>,
}

/// The build stopped because it was asked to.
#[derive(Debug, PartialEq, Eq)]
pub struct Cancelled;

impl MemGraph {
    /// A graph over `payloads` (one payload of `space.payload_len()` bytes per
    /// node, packed in 4-byte words) with one heap TID per node.
    pub fn new(space: Space, params: GraphParams, payloads: Vec<u32>, tids: &[u64]) -> Self {
        let stride = space.payload_len().div_ceil(4);
        assert_eq!(payloads.len(), stride * tids.len(), "one payload per TID");
        let levels: Vec<u8> =
            (0..tids.len()).map(|i| level_for_index(i as u64, params.seed, params.m, MAX_LEVEL) as u8).collect();
        let nodes = tids
            .iter()
            .zip(&levels)
            .map(|(&tid, &level)| {
                Mutex::new(NodeState { links: vec![Vec::new(); level as usize + 1], tids: vec![tid], merged: false })
            })
            .collect();
        MemGraph { space, params, payloads, stride, levels, nodes, entry: Mutex::new(None) }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn payload(&self, id: u32) -> &[u8] {
        let start = id as usize * self.stride;
        &words_as_bytes(&self.payloads[start..start + self.stride])[..self.space.payload_len()]
    }

    pub fn level(&self, id: u32) -> usize {
        usize::from(self.levels[id as usize])
    }

    /// The entry point and its level, once any node is in.
    pub fn entry(&self) -> Option<(u32, usize)> {
        *lock(&self.entry)
    }

    /// A node's state (links, TIDs). For use after the build.
    pub fn node(&self, id: u32) -> MutexGuard<'_, NodeState> {
        lock(&self.nodes[id as usize])
    }

    pub fn distance(&self, a: u32, b: u32) -> f32 {
        self.space.distance(self.payload(a), self.payload(b))
    }

    /// Inserts every node using the calling rayon pool, counting finished
    /// insertions in `progress` and stopping early when `cancel` is set.
    pub fn build_parallel(&self, progress: &AtomicUsize, cancel: &AtomicBool) -> Result<(), Cancelled> {
        if self.is_empty() {
            return Ok(());
        }
        // The first node must be in before anyone can search.
        self.insert(0, &mut Inserter::new(self.len()));
        progress.fetch_add(1, Ordering::Relaxed);
        // Threads take the next node from a shared counter, so the graph
        // grows in input order whatever the number of threads.
        let next = AtomicUsize::new(1);
        let worker = || {
            let mut inserter = Inserter::new(self.len());
            loop {
                if cancel.load(Ordering::Relaxed) {
                    return;
                }
                let id = next.fetch_add(1, Ordering::Relaxed);
                if id >= self.len() {
                    return;
                }
                self.insert(id as u32, &mut inserter);
                progress.fetch_add(1, Ordering::Relaxed);
            }
        };
        rayon::broadcast(|_| worker());
        if cancel.load(Ordering::Relaxed) {
            return Err(Cancelled);
        }
        self.reconnect();
        Ok(())
    }

    /// Links every node that no walk from the entry point reaches from its
    /// nearest reachable node; returns how many were linked. Pruning with
    /// the heuristic can take a node's last incoming link away (a few in
    /// 100,000), and a node no search reaches is a row no query returns.
    pub fn reconnect(&self) -> usize {
        let Some((entry, _)) = self.entry() else { return 0 };
        let mut linked = 0;
        // A forced link displaces another, which can strand its target in
        // turn: walk again until nothing is left out (in practice twice).
        for _ in 0..8 {
            let mut reached = vec![false; self.len()];
            self.mark_reachable(entry, &mut reached);
            let mut fixed = 0;
            for id in 0..self.len() as u32 {
                if reached[id as usize] || self.node(id).merged {
                    continue;
                }
                let found = search(self, self.payload(id), self.params.ef_construction, self.params.ef_construction);
                let host = found.iter().find(|s| s.id != id && reached[s.id as usize] && !self.node(s.id).merged);
                if let Some(host) = host {
                    self.force_link(host.id, id, host.distance);
                    fixed += 1;
                }
                self.mark_reachable(id, &mut reached);
            }
            linked += fixed;
            if fixed == 0 {
                break;
            }
        }
        linked
    }

    /// Marks every node reachable from `from` over links on any level.
    fn mark_reachable(&self, from: u32, reached: &mut [bool]) {
        reached[from as usize] = true;
        let mut stack = vec![from];
        while let Some(id) = stack.pop() {
            let state = self.node(id);
            for l in state.links.iter().flatten() {
                if !reached[l.id as usize] {
                    reached[l.id as usize] = true;
                    stack.push(l.id);
                }
            }
        }
    }

    /// Puts `new` in `node`'s layer-0 list whatever the heuristic says, in
    /// place of the farthest link the heuristic would give up first.
    fn force_link(&self, node: u32, new: u32, distance: f32) {
        let capacity = self.params.capacity(0);
        let mut state = self.node(node);
        let links = &mut state.links[0];
        if links.iter().any(|l| l.id == new) {
            return;
        }
        if links.len() >= capacity {
            let victim = links.iter().rposition(|l| !l.diverse).unwrap_or(links.len() - 1);
            links.remove(victim);
        }
        let pos = links.partition_point(|l| l.distance <= distance);
        links.insert(pos, Link { id: new, distance, diverse: true });
    }

    /// Inserts node `id` (HNSW paper, algorithm 1).
    pub fn insert(&self, id: u32, inserter: &mut Inserter) {
        let level = self.level(id);
        let mut entry_guard = lock(&self.entry);
        let Some((entry, top)) = *entry_guard else {
            *entry_guard = Some((id, level));
            return;
        };
        // Keep the entry lock only when this node may become the new top.
        let entry_guard = if level > top {
            Some(entry_guard)
        } else {
            drop(entry_guard);
            None
        };

        let mut view = MemView { graph: self, query: self.payload(id), computed: 0 };
        let start = Scored { id: entry, distance: view.distance_to(entry) };
        let mut best = descend(&mut view, start, top, level.min(top), &mut inserter.scratch);
        let mut entries = vec![best];
        let mut chosen: Vec<Vec<Link<u32>>> = vec![Vec::new(); level + 1];
        for lc in (0..=level.min(top)).rev() {
            inserter.visited.clear();
            let found = search_layer(
                &mut view,
                &entries,
                self.params.ef_construction,
                lc,
                &mut inserter.visited,
                &mut inserter.scratch,
                None,
            );
            if lc == 0 && self.try_merge(id, &found) {
                return;
            }
            let me = self.payload(id);
            chosen[lc] = if self.params.keep_pruned {
                select_links(&found, self.params.capacity(lc), |c| self.payload(c) == me, |a, b| self.distance(a, b))
            } else {
                let kept = select_neighbors(
                    &found,
                    self.params.capacity(lc),
                    false,
                    |c| self.payload(c) == me,
                    |a, b| self.distance(a, b),
                );
                kept.into_iter().map(|s| Link { id: s.id, distance: s.distance, diverse: true }).collect()
            };
            best = found.first().copied().unwrap_or(best);
            entries = found;
        }
        let _ = best;

        {
            let mut me = lock(&self.nodes[id as usize]);
            for (lc, list) in chosen.iter().enumerate() {
                me.links[lc] = list.clone();
            }
        }
        for (lc, list) in chosen.iter().enumerate() {
            for neighbor in list {
                self.link_back(neighbor.id, id, neighbor.distance, lc);
            }
        }
        if let Some(mut guard) = entry_guard {
            *guard = Some((id, level));
        }
    }

    /// Adds this node's TID to an identical node found by the search (a node
    /// holds any number of them). `found` is sorted, closest first.
    fn try_merge(&self, id: u32, found: &[Scored<u32>]) -> bool {
        let me = self.payload(id);
        for candidate in found.iter().take_while(|s| s.distance <= 0.0) {
            if candidate.id == id || self.payload(candidate.id) != me {
                continue;
            }
            let tid = lock(&self.nodes[id as usize]).tids[0];
            let mut other = lock(&self.nodes[candidate.id as usize]);
            if other.merged {
                continue;
            }
            other.tids.push(tid);
            drop(other);
            let mut mine = lock(&self.nodes[id as usize]);
            mine.merged = true;
            mine.tids.clear();
            return true;
        }
        false
    }

    /// Adds `new` to `node`'s links at `level`, pruning with the heuristic
    /// when the list is full.
    fn link_back(&self, node: u32, new: u32, distance: f32, level: usize) {
        let capacity = self.params.capacity(level);
        let mut state = lock(&self.nodes[node as usize]);
        let Some(links) = state.links.get_mut(level) else {
            return;
        };
        let same = self.payload(new) == self.payload(node);
        if self.params.keep_pruned {
            offer(links, Scored { id: new, distance }, capacity, same, |a, b| self.distance(a, b));
            return;
        }
        if links.iter().any(|l| l.id == new) {
            return;
        }
        if links.len() < capacity {
            links.push(Link { id: new, distance, diverse: true });
            return;
        }
        let mut candidates: Vec<Scored<u32>> =
            links.iter().map(|l| Scored { id: l.id, distance: l.distance }).collect();
        candidates.push(Scored { id: new, distance });
        candidates.sort();
        let me = self.payload(node);
        let kept =
            select_neighbors(&candidates, capacity, false, |c| self.payload(c) == me, |a, b| self.distance(a, b));
        *links = kept.into_iter().map(|s| Link { id: s.id, distance: s.distance, diverse: true }).collect();
    }
}

/// Per-thread scratch space for insertions.
pub struct Inserter {
    visited: EpochVisited,
    scratch: Scratch<u32>,
}

impl Inserter {
    pub fn new(nodes: usize) -> Self {
        Inserter { visited: EpochVisited::new(nodes), scratch: Scratch::default() }
    }
}

/// The graph seen from one query payload.
struct MemView<'a> {
    graph: &'a MemGraph,
    query: &'a [u8],
    /// Distances computed, for measurements.
    computed: usize,
}

impl MemView<'_> {
    fn distance_to(&self, id: u32) -> f32 {
        self.graph.space.distance(self.query, self.graph.payload(id))
    }
}

impl GraphView for MemView<'_> {
    type Id = u32;

    fn neighbors(&mut self, id: u32, level: usize, out: &mut Vec<u32>) {
        let state = lock(&self.graph.nodes[id as usize]);
        if let Some(links) = state.links.get(level) {
            out.extend(links.iter().map(|l| l.id));
        }
    }

    fn distances(&mut self, ids: &[u32], out: &mut Vec<Option<f32>>) {
        self.computed += ids.len();
        out.extend(ids.iter().map(|&id| Some(self.distance_to(id))));
    }
}

/// Locks a mutex, ignoring poisoning: a panic elsewhere aborts the whole
/// build anyway, and the data stays structurally valid.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Searches the built graph for the `k` nearest nodes to `query` with beam
/// width `ef` (for tests and benchmarks of the core).
pub fn search(graph: &MemGraph, query: &[u8], k: usize, ef: usize) -> Vec<Scored<u32>> {
    search_counting(graph, query, k, ef).0
}

/// [`search`], also returning how many distances it computed.
pub fn search_counting(graph: &MemGraph, query: &[u8], k: usize, ef: usize) -> (Vec<Scored<u32>>, usize) {
    let Some((entry, top)) = graph.entry() else { return (Vec::new(), 0) };
    let mut view = MemView { graph, query, computed: 1 };
    let mut scratch = Scratch::default();
    let start = Scored { id: entry, distance: view.distance_to(entry) };
    let best = descend(&mut view, start, top, 0, &mut scratch);
    let mut visited = EpochVisited::new(graph.len());
    let mut found = search_layer(&mut view, &[best], ef.max(k), 0, &mut visited, &mut scratch, None);
    found.truncate(k);
    (found, view.computed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hnsw::space::{Element, Metric};
    use rand::{Rng, SeedableRng};

    /// `n` points around `clusters` random centres in `dims` dimensions.
    pub fn clustered(n: usize, dims: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
        // The same centres for every seed, so that queries drawn with another
        // seed come from the distribution of the data.
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x0ce4_72e5);
        let centres: Vec<Vec<f32>> =
            (0..clusters).map(|_| (0..dims).map(|_| rng.gen_range(-1.0..1.0)).collect()).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n).map(|i| centres[i % clusters].iter().map(|c| c + rng.gen_range(-0.3..0.3)).collect()).collect()
    }

    fn graph_of(space: Space, points: &[Vec<f32>], params: GraphParams) -> MemGraph {
        let mut words = Vec::new();
        for p in points {
            let payload = space.payload_from_f32(p).unwrap();
            words.extend(payload.as_bytes().chunks(4).map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]])));
        }
        let tids: Vec<u64> = (0..points.len() as u64).collect();
        MemGraph::new(space, params, words, &tids)
    }

    fn recall(space: Space, points: &[Vec<f32>], graph: &MemGraph, queries: &[Vec<f32>], k: usize, ef: usize) -> f64 {
        let mut hits = 0;
        for q in queries {
            let qp = space.payload_from_f32(q).unwrap();
            let mut exact: Vec<(f32, usize)> = points
                .iter()
                .enumerate()
                .map(|(i, p)| (space.distance(qp.as_bytes(), space.payload_from_f32(p).unwrap().as_bytes()), i))
                .collect();
            exact.sort_by(|a, b| a.0.total_cmp(&b.0));
            let truth: Vec<u64> = exact[..k].iter().map(|&(_, i)| i as u64).collect();
            let found = search(graph, qp.as_bytes(), k, ef);
            let found_tids: Vec<u64> = found.iter().flat_map(|s| graph.node(s.id).tids.clone()).collect();
            hits += truth.iter().filter(|t| found_tids.contains(t)).count();
        }
        hits as f64 / (queries.len() * k) as f64
    }

    const PARAMS: GraphParams = GraphParams { m: 12, ef_construction: 64, seed: 7, keep_pruned: true };
    const NO_FILL: GraphParams = GraphParams { keep_pruned: false, ..PARAMS };

    #[test]
    fn parallel_build_finds_nearest_neighbours() {
        // Inner product is not a metric: like every HNSW, the graph serves it
        // well on vectors of similar norms, so it gets unit vectors here.
        let unit = |v: Vec<Vec<f32>>| -> Vec<Vec<f32>> {
            v.into_iter()
                .map(|p| {
                    let n = p.iter().map(|x| x * x).sum::<f32>().sqrt();
                    p.iter().map(|x| x / n).collect()
                })
                .collect()
        };
        for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct, Metric::L1] {
            let (mut points, mut queries) = (clustered(3000, 24, 20, 1), clustered(50, 24, 20, 2));
            if metric == Metric::InnerProduct {
                (points, queries) = (unit(points), unit(queries));
            }
            let space = Space::new(Element::F32, metric, 24);
            let graph = graph_of(space, &points, PARAMS);
            let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
            let progress = AtomicUsize::new(0);
            pool.install(|| graph.build_parallel(&progress, &AtomicBool::new(false))).unwrap();
            assert_eq!(progress.load(Ordering::Relaxed), points.len());
            let r = recall(space, &points, &graph, &queries, 10, 200);
            assert!(r >= 0.95, "{metric:?}: recall {r}");
        }
    }

    #[test]
    fn every_node_is_reachable_and_links_respect_capacity() {
        let points = clustered(2000, 16, 10, 3);
        let space = Space::new(Element::F32, Metric::L2, 16);
        let graph = graph_of(space, &points, PARAMS);
        graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
        let (entry, _) = graph.entry().unwrap();
        let mut seen = vec![false; graph.len()];
        let mut stack = vec![entry];
        seen[entry as usize] = true;
        while let Some(n) = stack.pop() {
            let state = graph.node(n);
            for (level, links) in state.links.iter().enumerate() {
                assert!(links.len() <= PARAMS.capacity(level));
                for l in links.iter().map(|l| l.id) {
                    assert!(graph.level(l) >= level, "link to a node without that level");
                    if !seen[l as usize] {
                        seen[l as usize] = true;
                        stack.push(l);
                    }
                }
            }
        }
        let unreachable = seen.iter().filter(|s| !**s).count();
        assert_eq!(unreachable, 0);
    }

    #[test]
    fn unfilled_lists_also_find_nearest_neighbours() {
        let (points, queries) = (clustered(3000, 24, 20, 1), clustered(50, 24, 20, 2));
        let space = Space::new(Element::F32, Metric::L2, 24);
        let graph = graph_of(space, &points, NO_FILL);
        graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
        let r = recall(space, &points, &graph, &queries, 10, 200);
        assert!(r >= 0.95, "recall {r}");
    }

    #[test]
    fn reconnect_links_a_stranded_node() {
        let points = clustered(1000, 16, 10, 6);
        let space = Space::new(Element::F32, Metric::L2, 16);
        let graph = graph_of(space, &points, PARAMS);
        graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
        assert_eq!(graph.reconnect(), 0, "a fresh build leaves no node out");
        // Strand a layer-0 node: no list points at it any more.
        let (entry, _) = graph.entry().unwrap();
        let stranded = (0..graph.len() as u32).find(|&n| n != entry && graph.level(n) == 0).unwrap();
        for n in 0..graph.len() as u32 {
            graph.node(n).links.iter_mut().for_each(|list| list.retain(|l| l.id != stranded));
        }
        let q = graph.payload(stranded).to_vec();
        assert!(search(&graph, &q, 1, 100).first().is_none_or(|s| s.id != stranded));
        assert_eq!(graph.reconnect(), 1);
        assert_eq!(search(&graph, &q, 1, 100).first().map(|s| s.id), Some(stranded));
        assert_eq!(graph.reconnect(), 0);
    }

    #[test]
    fn identical_vectors_share_a_node() {
        let mut points = clustered(200, 8, 4, 4);
        for _ in 0..20 {
            points.push(vec![0.5; 8]);
        }
        let space = Space::new(Element::F32, Metric::L2, 8);
        let graph = graph_of(space, &points, PARAMS);
        graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
        let merged = (0..graph.len() as u32).filter(|&i| graph.node(i).merged).count();
        // Copies inserted at the same moment on two threads may not see each
        // other and stay separate nodes; most are merged, and every TID is
        // found at distance 0 either way.
        assert!(merged >= 15, "only {merged} of 19 copies merged");
        let total_tids: usize = (0..graph.len() as u32).map(|i| graph.node(i).tids.len()).sum();
        assert_eq!(total_tids, points.len());
        let q = space.payload_from_f32(&[0.5; 8]).unwrap();
        let found = search(&graph, q.as_bytes(), 10, 40);
        let tids: usize = found.iter().take_while(|s| s.distance == 0.0).map(|s| graph.node(s.id).tids.len()).sum();
        assert_eq!(tids, 20);
    }

    #[test]
    fn cancel_stops_the_build() {
        let points = clustered(500, 8, 4, 5);
        let space = Space::new(Element::F32, Metric::L2, 8);
        let graph = graph_of(space, &points, PARAMS);
        assert_eq!(graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(true)), Err(Cancelled));
    }
}
