//! The in-memory graph of an index build, filled by many threads at once.
//!
//! Payloads are written once before the build starts and only read
//! afterwards, so reading them needs no lock. Neighbour lists live in flat
//! arrays of atomic words ([`Lists`]): a search reads a list without a lock
//! and with one or two cache misses, which matters because reading lists
//! and payloads is most of a build's time. Writers take the node's spin lock;
//! an insertion holds at most one node lock at a time (rewriting one list),
//! so threads never deadlock. A node whose level tops the graph's takes the
//! entry-point lock for its whole insertion, as hnswlib does: rare, and it
//! keeps the top of the graph consistent.
//!
//! An insertion's distances are most of a build's time, and most of their
//! cost is reading payloads from memory (at 384 dimensions a payload is 24
//! cache lines, nearly always a miss). A graph of `vector` payloads can
//! measure them on half-precision copies instead ([`MemGraph::measure_in_halves`]):
//! half the bytes to read, and the graph built is as good (the rounding,
//! 2⁻¹¹ of each element, is far below the gaps between neighbours that the
//! heuristic compares). The pages still get the exact vectors, and scans
//! measure those.
//!
//! Nothing here touches Postgres: the build runs on rayon threads.

use super::level::{level_for_index, MAX_LEVEL};
use super::lists::{advise_huge, huge_vec, Lists};
pub use super::params::GraphParams;
use super::search::{descend, search_layer, EpochVisited, GraphView, Scored, Scratch};
use super::select::{offer, select_links, Link};
use super::space::{words_as_bytes, Element, Space};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// What one node holds besides its payload and links.
#[derive(Debug, Default)]
pub struct NodeState {
    /// Heap TIDs (packed) of the rows with this vector.
    pub tids: Vec<u64>,
    /// The vector was identical to another node's and its TID went there.
    pub merged: bool,
}

/// One payload per node, packed in 4-byte words, and the space that
/// measures them.
struct Payloads {
    space: Space,
    words: Vec<u32>,
    /// Words per payload.
    stride: usize,
}

impl Payloads {
    #[inline]
    fn get(&self, id: u32) -> &[u8] {
        let start = id as usize * self.stride;
        let bytes = words_as_bytes(&self.words[start..start + self.stride]);
        &bytes[..bytes.len().min(self.space.payload_len())]
    }

    #[inline]
    fn distance_to(&self, query: &[u8], id: u32) -> f32 {
        self.space.distance(query, self.get(id))
    }
}

/// The fewest dimensions for which [`MemGraph::measure_in_halves`] measures
/// on halves: below it a payload is a few cache lines either way, and
/// rounding weighs more in few dimensions.
pub const HALVES_MIN_DIMS: usize = 64;

/// The graph of a build.
pub struct MemGraph {
    pub space: Space,
    pub params: GraphParams,
    /// The nodes' payloads, as the pages get them.
    payloads: Payloads,
    /// What insertions measure, when not `payloads`: half-precision copies.
    halves: Option<Payloads>,
    levels: Vec<u8>,
    lists: Lists,
    nodes: Vec<Mutex<NodeState>>,
    entry: Mutex<Option<(u32, usize)>>,
    /// Distances computed by insertions: searching, and choosing links.
    search_distances: AtomicUsize,
    link_distances: AtomicUsize,
}

/// The build stopped because it was asked to.
#[derive(Debug, PartialEq, Eq)]
pub struct Cancelled;

impl MemGraph {
    /// A graph over `payloads` (one payload of `space.payload_len()` bytes per
    /// node, packed in 4-byte words; variable payloads each padded to the
    /// longest) with one heap TID per node. The graph keeps `payloads` as
    /// they are: a copy would double a build's largest allocation while both
    /// are alive. Collect them in memory advised for huge pages
    /// ([`super::lists::advise_huge`]) for the build's speed.
    pub fn new(space: Space, params: GraphParams, payloads: Vec<u32>, tids: &[u64]) -> Self {
        // Variable payloads come padded to the longest of them.
        let stride = match (space.is_variable(), tids.len()) {
            (true, n) if n > 0 => payloads.len() / n,
            _ => space.payload_len().div_ceil(4),
        };
        assert_eq!(payloads.len(), stride * tids.len(), "one payload per TID");
        // Searches read payloads all over this array: on huge pages where
        // the kernel offers them (the pages already touched are collapsed
        // into huge ones in the background, if at all).
        advise_huge(&payloads);
        assert!(stride * 4 <= space.payload_len().div_ceil(4) * 4, "payloads longer than the space's");
        let levels: Vec<u8> =
            (0..tids.len()).map(|i| level_for_index(i as u64, params.seed, params.m, MAX_LEVEL) as u8).collect();
        let lists = Lists::new(&params, &levels);
        let nodes = tids.iter().map(|&tid| Mutex::new(NodeState { tids: vec![tid], merged: false })).collect();
        MemGraph {
            space,
            params,
            payloads: Payloads { space, words: payloads, stride },
            halves: None,
            levels,
            lists,
            nodes,
            entry: Mutex::new(None),
            search_distances: AtomicUsize::new(0),
            link_distances: AtomicUsize::new(0),
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes a graph of `nodes` nodes takes besides its payloads while
    /// `threads` threads build it, at most (a build's budget check): the
    /// neighbour lists (the levels above 0 at their expected count, 1 in
    /// `m - 1` nodes, doubled), the levels, the node states with one heap
    /// TID each, and every inserting thread's visited marks and known
    /// distances, one entry per node each.
    pub fn overhead_bytes(params: &GraphParams, nodes: usize, threads: usize) -> usize {
        let (cap0, cap) = (params.capacity(0), params.capacity(1));
        let layer0 = (2 + 2 * cap0) * 4;
        let upper = ((1 + 2 * cap) * 4 * 2).div_ceil(params.m.max(2) - 1) + 4;
        // One TID's Vec: the smallest allocation malloc makes (32 bytes).
        let state = std::mem::size_of::<Mutex<NodeState>>() + 32 + 1;
        let per_thread = std::mem::size_of::<u16>() + std::mem::size_of::<(u32, f32)>();
        nodes * (layer0 + upper + state + per_thread * threads.max(1))
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn payload(&self, id: u32) -> &[u8] {
        self.payloads.get(id)
    }

    /// Bytes [`MemGraph::measure_in_halves`] would add for `nodes` nodes of
    /// `space`, or `None` when it would not measure on halves.
    pub fn halves_bytes(space: &Space, nodes: usize) -> Option<usize> {
        let eligible = space.element == Element::F32 && !space.is_variable() && space.dims >= HALVES_MIN_DIMS;
        eligible.then(|| nodes * (space.dims * 2).div_ceil(4) * 4)
    }

    /// From now on insertions measure distances on half-precision copies of
    /// the payloads (see the module's documentation); returns whether it
    /// does (only `vector` payloads of [`HALVES_MIN_DIMS`] or more
    /// dimensions). Call it before the build.
    ///
    /// All copies are scaled by one power of two that brings the largest
    /// element near 2¹⁴: halves then neither overflow (their largest is
    /// 65,504) nor lose small elements to subnormals, and every distance is
    /// scaled alike (by its square for L2 and inner products), which keeps
    /// their order, all a build compares.
    pub fn measure_in_halves(&mut self) -> bool {
        use half::slice::HalfFloatSliceExt;
        use rayon::prelude::*;
        if Self::halves_bytes(&self.space, self.len()).is_none() || self.is_empty() {
            return false;
        }
        let (dims, from) = (self.space.dims, &self.payloads);
        let elements = |id: usize| {
            words_as_bytes(&from.words[id * from.stride..(id + 1) * from.stride])[..dims * 4]
                .chunks_exact(4)
                .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        let largest = (0..self.len())
            .into_par_iter()
            .map(|id| elements(id).fold(0.0f32, |m, x| m.max(x.abs())))
            .reduce(|| 0.0, f32::max);
        // In f64: the scale of a tiny largest element is beyond f32's range.
        let scale = if largest > 0.0 { 2f64.powi(14 - f64::from(largest).log2().floor() as i32) } else { 1.0 };
        let stride = (dims * 2).div_ceil(4);
        let mut words = huge_vec(self.len() * stride, |_| 0u32);
        words.par_chunks_mut(stride).enumerate().for_each_init(
            || (vec![0f32; dims], vec![half::f16::ZERO; stride * 2]),
            |(scaled, halves), (id, out)| {
                for (s, x) in scaled.iter_mut().zip(elements(id)) {
                    *s = (f64::from(x) * scale) as f32;
                }
                halves[..dims].convert_from_f32_slice(scaled);
                for (w, pair) in out.iter_mut().zip(halves.chunks_exact(2)) {
                    // Two halves to a word, in memory order.
                    let (lo, hi) = (pair[0].to_bits().to_ne_bytes(), pair[1].to_bits().to_ne_bytes());
                    *w = u32::from_ne_bytes([lo[0], lo[1], hi[0], hi[1]]);
                }
            },
        );
        let space = Space::new(Element::F16, self.space.metric, dims);
        self.halves = Some(Payloads { space, words, stride });
        true
    }

    /// Whether two nodes hold the same vector. The halves are compared
    /// first: they are in cache when the caller has just measured them, and
    /// differ wherever the vectors do, nearly always in their first bytes.
    fn same_payload(&self, a: u32, b: u32) -> bool {
        self.halves.as_ref().is_none_or(|h| h.get(a) == h.get(b)) && self.payload(a) == self.payload(b)
    }

    /// What insertions measure: the halves, or the payloads themselves.
    fn measured(&self) -> &Payloads {
        self.halves.as_ref().unwrap_or(&self.payloads)
    }

    pub fn level(&self, id: u32) -> usize {
        usize::from(self.levels[id as usize])
    }

    /// The entry point and its level, once any node is in.
    pub fn entry(&self) -> Option<(u32, usize)> {
        *lock(&self.entry)
    }

    /// A node's TIDs and whether it was merged into another.
    pub fn node(&self, id: u32) -> MutexGuard<'_, NodeState> {
        lock(&self.nodes[id as usize])
    }

    /// A node's links at `level` (at most its own level), closest first.
    pub fn links(&self, id: u32, level: usize) -> Vec<Link<u32>> {
        self.lists.lock(id).get(level)
    }

    /// Rewrites a node's list at `level` (at most its own level) with `edit`.
    pub fn edit_links<R>(&self, id: u32, level: usize, edit: impl FnOnce(&mut Vec<Link<u32>>) -> R) -> R {
        let locked = self.lists.lock(id);
        let mut links = locked.get(level);
        let out = edit(&mut links);
        locked.set(level, &links);
        out
    }

    /// The distance between two nodes as insertions measure it.
    pub fn distance(&self, a: u32, b: u32) -> f32 {
        let measured = self.measured();
        measured.space.distance(measured.get(a), measured.get(b))
    }

    /// Distances the insertions so far computed while searching and while
    /// choosing links (the cost of a build, for measurements).
    pub fn build_distances(&self) -> (usize, usize) {
        (self.search_distances.load(Ordering::Relaxed), self.link_distances.load(Ordering::Relaxed))
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
        self.reconnect_until(cancel)?;
        Ok(())
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

        inserter.known.clear();
        let points = self.measured();
        let mut view =
            MemView { graph: self, points, query: points.get(id), computed: 0, known: Some(&mut inserter.known) };
        let start = Scored { id: entry, distance: view.distance_to(entry) };
        let mut best = descend(&mut view, start, top, level.min(top), &mut inserter.scratch);
        let mut entries = vec![best];
        let mut chosen: Vec<Vec<Link<u32>>> = vec![Vec::new(); level + 1];
        let mut pairs = 0;
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
                self.search_distances.fetch_add(view.computed, Ordering::Relaxed);
                return;
            }
            chosen[lc] = select_links(
                &found,
                self.params.capacity(lc),
                |c| self.same_payload(c, id),
                |a, b| {
                    pairs += 1;
                    self.distance(a, b)
                },
            );
            best = found.first().copied().unwrap_or(best);
            entries = found;
        }
        let _ = best;

        {
            let me = self.lists.lock(id);
            for (lc, list) in chosen.iter().enumerate() {
                me.set(lc, list);
            }
        }
        let searched = view.computed;
        for (lc, list) in chosen.iter().enumerate() {
            for neighbor in list {
                pairs += self.link_back(neighbor.id, id, neighbor.distance, lc, &inserter.known);
            }
        }
        self.search_distances.fetch_add(searched, Ordering::Relaxed);
        self.link_distances.fetch_add(pairs, Ordering::Relaxed);
        if let Some(mut guard) = entry_guard {
            *guard = Some((id, level));
        }
    }

    /// Adds this node's TID to an identical node found by the search (a node
    /// holds any number of them). `found` is sorted, closest first.
    fn try_merge(&self, id: u32, found: &[Scored<u32>]) -> bool {
        for candidate in found.iter().take_while(|s| s.distance <= 0.0) {
            if candidate.id == id || !self.same_payload(candidate.id, id) {
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

    /// Offers `node` a link to `new` at `level`: the list keeps it if the
    /// heuristic does (see [`offer`]). Returns the distances it computed.
    /// Distances from `new` come from `known` when its search measured them.
    fn link_back(&self, node: u32, new: u32, distance: f32, level: usize, known: &KnownDistances) -> usize {
        if level > self.level(node) {
            return 0;
        }
        let capacity = self.params.capacity(level);
        let same = self.same_payload(new, node);
        let mut computed = 0;
        self.edit_links(node, level, |links| {
            offer(links, Scored { id: new, distance }, capacity, same, |a, b| {
                let other = if a == new { b } else { a };
                if let Some(d) = (a == new || b == new).then(|| known.get(other)).flatten() {
                    return d;
                }
                computed += 1;
                self.distance(a, b)
            });
        });
        computed
    }
}

/// Per-thread scratch space for insertions.
pub struct Inserter {
    visited: EpochVisited,
    scratch: Scratch<u32>,
    known: KnownDistances,
}

impl Inserter {
    pub fn new(nodes: usize) -> Self {
        Inserter { visited: EpochVisited::new(nodes), scratch: Scratch::default(), known: KnownDistances::new(nodes) }
    }
}

/// The distances from the node being inserted that its searches computed,
/// by node. Offering the node to a neighbour's list compares it with that
/// neighbour's links, which are mostly nodes the search already measured:
/// looking them up here saves recomputing them.
struct KnownDistances {
    /// Per node: the epoch it was recorded in, and its distance (side by
    /// side: one cache line per lookup).
    entries: Vec<(u32, f32)>,
    epoch: u32,
}

impl KnownDistances {
    fn new(n: usize) -> Self {
        KnownDistances { entries: vec![(0, 0.0); n], epoch: 1 }
    }

    /// Forgets everything (for the next insertion).
    fn clear(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.entries.fill((0, 0.0));
            self.epoch = 1;
        }
    }

    #[inline]
    fn record(&mut self, id: u32, distance: f32) {
        self.entries[id as usize] = (self.epoch, distance);
    }

    #[inline]
    fn get(&self, id: u32) -> Option<f32> {
        let (epoch, distance) = self.entries[id as usize];
        (epoch == self.epoch).then_some(distance)
    }
}

/// The graph seen from one query payload.
struct MemView<'a> {
    graph: &'a MemGraph,
    /// The payloads measured, and the query among their kind.
    points: &'a Payloads,
    query: &'a [u8],
    /// Distances computed, for measurements.
    computed: usize,
    /// Where to note every distance computed (when inserting).
    known: Option<&'a mut KnownDistances>,
}

impl MemView<'_> {
    fn distance_to(&mut self, id: u32) -> f32 {
        let distance = self.points.distance_to(self.query, id);
        if let Some(known) = self.known.as_deref_mut() {
            known.record(id, distance);
        }
        distance
    }
}

impl GraphView for MemView<'_> {
    type Id = u32;

    fn neighbors(&mut self, id: u32, level: usize, out: &mut Vec<u32>) {
        if level <= self.graph.level(id) {
            self.graph.lists.read_ids(id, level, out);
        }
    }

    fn prefetch_neighbors(&mut self, id: u32, level: usize) {
        if level <= self.graph.level(id) {
            self.graph.lists.prefetch(id, level);
        }
    }

    fn distances(&mut self, ids: &[u32], out: &mut Vec<Option<f32>>) {
        self.computed += ids.len();
        // The payloads are scattered over the whole graph: ask for the next
        // one while computing with this one, so the memory latency overlaps.
        if let Some(&first) = ids.first() {
            prefetch(self.points.get(first));
        }
        for (i, &id) in ids.iter().enumerate() {
            if let Some(&next) = ids.get(i + 1) {
                prefetch(self.points.get(next));
            }
            out.push(Some(self.distance_to(id)));
        }
    }
}

/// Variable payloads, packed back to back and ending at `ends`, each padded
/// with zeros to the longest (the layout [`MemGraph`] reads), in place: a
/// padded copy would hold the payloads twice.
///
/// Payload `i` moves from `start_i` to `i × longest`, never to the left, and
/// what it overwrites lies past its own end: payloads after it, which were
/// moved already (the loop runs from the last).
pub fn pad_to_longest(words: &mut Vec<u32>, ends: &[usize]) {
    let starts: Vec<usize> = std::iter::once(0).chain(ends.iter().copied()).take(ends.len()).collect();
    let longest = starts.iter().zip(ends).map(|(start, &end)| end - start).max().unwrap_or(0);
    words.reserve_exact((longest * ends.len()).saturating_sub(words.len()));
    words.resize(longest * ends.len(), 0);
    for (i, (&start, &end)) in starts.iter().zip(ends).enumerate().rev() {
        let to = i * longest;
        words.copy_within(start..end, to);
        words[to + end - start..to + longest].fill(0);
    }
}

/// Hints the CPU to load `bytes` into cache (a no-op where there is no
/// prefetch instruction).
#[inline]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: prefetching is only a hint, valid for any address; SSE is
        // part of every x86-64 CPU.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Locks a mutex, ignoring poisoning: a panic elsewhere aborts the whole
/// build anyway, and the data stays structurally valid.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Searches the built graph for the `k` nearest nodes to `query` (a payload
/// of the graph's space) with beam width `ef`, measuring the exact payloads
/// as a scan of the index does (for tests and benchmarks of the core).
pub fn search(graph: &MemGraph, query: &[u8], k: usize, ef: usize) -> Vec<Scored<u32>> {
    search_counting(graph, query, k, ef).0
}

/// [`search`], also returning how many distances it computed.
pub fn search_counting(graph: &MemGraph, query: &[u8], k: usize, ef: usize) -> (Vec<Scored<u32>>, usize) {
    search_in(graph, &graph.payloads, query, k, ef)
}

/// [`search_counting`] measuring `points` (the payloads or their halves),
/// with `query` of their kind.
fn search_in(graph: &MemGraph, points: &Payloads, query: &[u8], k: usize, ef: usize) -> (Vec<Scored<u32>>, usize) {
    let Some((entry, top)) = graph.entry() else { return (Vec::new(), 0) };
    let mut view = MemView { graph, points, query, computed: 1, known: None };
    let mut scratch = Scratch::default();
    let start = Scored { id: entry, distance: view.distance_to(entry) };
    let best = descend(&mut view, start, top, 0, &mut scratch);
    let mut visited = EpochVisited::new(graph.len());
    let mut found = search_layer(&mut view, &[best], ef.max(k), 0, &mut visited, &mut scratch, None);
    found.truncate(k);
    (found, view.computed)
}

mod reconnect;
#[cfg(test)]
mod tests;
