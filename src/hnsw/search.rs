//! Beam search over one layer of the graph (HNSW paper, algorithm 2),
//! written once for every place a graph lives: the in-memory graph of a
//! build and the pages of an index. Both implement [`GraphView`].

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A node and its distance to the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored<Id> {
    pub id: Id,
    pub distance: f32,
}

impl<Id: Ord> Eq for Scored<Id> {}

impl<Id: Ord> PartialOrd for Scored<Id> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<Id: Ord> Ord for Scored<Id> {
    /// By distance, ties broken by id, so that searches are deterministic.
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance.total_cmp(&other.distance).then_with(|| self.id.cmp(&other.id))
    }
}

/// Read access to a graph for searching.
pub trait GraphView {
    type Id: Copy + Ord + Hash;

    /// Appends the neighbours of `id` at `level` to `out`.
    fn neighbors(&mut self, id: Self::Id, level: usize, out: &mut Vec<Self::Id>);

    /// For each node in `ids`, its distance to the query, or `None` when the
    /// node cannot take part (for example a slot freed by vacuum). Results go
    /// to `out`, one per id, in order.
    fn distances(&mut self, ids: &[Self::Id], out: &mut Vec<Option<f32>>);

    /// Hints that the neighbours of `id` at `level` will be read soon.
    fn prefetch_neighbors(&mut self, _id: Self::Id, _level: usize) {}
}

/// Which nodes a search has already seen.
pub trait Visited<Id> {
    /// Marks `id`; `true` if it was not marked before.
    fn insert(&mut self, id: Id) -> bool;
}

/// A visited set for any ids, by hashing.
#[derive(Default)]
pub struct HashVisited<Id> {
    set: HashSet<Id, BuildHasherDefault<IdHasher>>,
}

impl<Id: Hash + Eq> HashVisited<Id> {
    pub fn with_capacity(n: usize) -> Self {
        HashVisited { set: HashSet::with_capacity_and_hasher(n, Default::default()) }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Empties the set, keeping its table (for the next search to reuse),
    /// with room for at least `n` ids.
    pub fn reset(&mut self, n: usize) {
        self.set.clear();
        self.set.reserve(n);
    }

    /// Bytes the set's table holds, empty or not (`capacity()` is 7/8 of
    /// its buckets, each an id and a control byte).
    pub fn table_bytes(&self) -> usize {
        self.set.capacity().div_ceil(7) * 8 * (std::mem::size_of::<Id>() + 1)
    }
}

impl<Id: Hash + Eq> Visited<Id> for HashVisited<Id> {
    fn insert(&mut self, id: Id) -> bool {
        self.set.insert(id)
    }
}

/// A multiply-shift hasher for integer ids: ids are already well spread,
/// SipHash's resistance to chosen inputs buys nothing here.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 ^= self.0 >> 29;
    }
}

/// A visited set for dense `u32` ids `0..n`, cleared in O(1) by bumping an
/// epoch: the build reuses one per thread for every insertion. Marks are
/// 16 bits, so that the set stays small enough for the CPU's L2 cache (a
/// search checks it for every neighbour); every 65,535 clears it is
/// zeroed.
pub struct EpochVisited {
    marks: Vec<u16>,
    epoch: u16,
}

impl EpochVisited {
    pub fn new(n: usize) -> Self {
        EpochVisited { marks: vec![0; n], epoch: 1 }
    }

    pub fn clear(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }
}

impl Visited<u32> for EpochVisited {
    #[inline]
    fn insert(&mut self, id: u32) -> bool {
        let mark = &mut self.marks[id as usize];
        let fresh = *mark != self.epoch;
        *mark = self.epoch;
        fresh
    }
}

/// Scratch buffers reused across searches, to keep allocation off the hot path.
pub struct Scratch<Id> {
    neighbors: Vec<Id>,
    fresh: Vec<Id>,
    distances: Vec<Option<f32>>,
}

impl<Id> Default for Scratch<Id> {
    fn default() -> Self {
        Scratch { neighbors: Vec::new(), fresh: Vec::new(), distances: Vec::new() }
    }
}

/// Searches `level` from `entries` (already scored, already marked visited or
/// not) and returns up to `ef` nearest nodes found, closest first.
///
/// With `discarded`, every scored node that did not make the result list, or
/// was pushed out of it, is handed over there: an iterative scan resumes
/// from them when the first results run out.
pub fn search_layer<G: GraphView>(
    graph: &mut G,
    entries: &[Scored<G::Id>],
    ef: usize,
    level: usize,
    visited: &mut impl Visited<G::Id>,
    scratch: &mut Scratch<G::Id>,
    mut discarded: Option<&mut Vec<Scored<G::Id>>>,
) -> Vec<Scored<G::Id>> {
    let ef = ef.max(1);
    let mut candidates: BinaryHeap<Reverse<Scored<G::Id>>> = BinaryHeap::with_capacity(ef * 2);
    let mut results: BinaryHeap<Scored<G::Id>> = BinaryHeap::with_capacity(ef + 1);
    for &e in entries {
        visited.insert(e.id);
        candidates.push(Reverse(e));
        results.push(e);
        if results.len() > ef {
            if let (Some(out), Some(far)) = (discarded.as_deref_mut(), results.pop()) {
                out.push(far);
            }
        }
    }

    while let Some(Reverse(current)) = candidates.pop() {
        let furthest = results.peek().map_or(f32::INFINITY, |r| r.distance);
        if results.len() >= ef && current.distance > furthest {
            break;
        }
        // The next candidate's list is likely read next: start loading it
        // while this one's neighbours are measured.
        if let Some(Reverse(next)) = candidates.peek() {
            graph.prefetch_neighbors(next.id, level);
        }
        scratch.neighbors.clear();
        graph.neighbors(current.id, level, &mut scratch.neighbors);
        scratch.fresh.clear();
        for &n in &scratch.neighbors {
            if visited.insert(n) {
                scratch.fresh.push(n);
            }
        }
        if scratch.fresh.is_empty() {
            continue;
        }
        scratch.distances.clear();
        graph.distances(&scratch.fresh, &mut scratch.distances);
        for (&id, &distance) in scratch.fresh.iter().zip(&scratch.distances) {
            let Some(distance) = distance else { continue };
            let scored = Scored { id, distance };
            let furthest = results.peek().map_or(f32::INFINITY, |r| r.distance);
            if results.len() < ef || distance < furthest {
                candidates.push(Reverse(scored));
                results.push(scored);
                if results.len() > ef {
                    let far = results.pop();
                    if let (Some(out), Some(far)) = (discarded.as_deref_mut(), far) {
                        out.push(far);
                    }
                }
            } else if let Some(out) = discarded.as_deref_mut() {
                out.push(scored);
            }
        }
    }
    results.into_sorted_vec()
}

/// Greedy descent through the upper layers: from `entry`, follow the closest
/// neighbour at each level from `top` down to `bottom + 1`, returning the
/// closest node found (the entry point for level `bottom`).
pub fn descend<G: GraphView>(
    graph: &mut G,
    entry: Scored<G::Id>,
    top: usize,
    bottom: usize,
    scratch: &mut Scratch<G::Id>,
) -> Scored<G::Id> {
    let mut best = entry;
    for level in ((bottom + 1)..=top).rev() {
        loop {
            scratch.neighbors.clear();
            graph.neighbors(best.id, level, &mut scratch.neighbors);
            if scratch.neighbors.is_empty() {
                break;
            }
            scratch.distances.clear();
            graph.distances(&scratch.neighbors, &mut scratch.distances);
            let mut improved = false;
            for (&id, &d) in scratch.neighbors.iter().zip(&scratch.distances) {
                if let Some(d) = d {
                    if d < best.distance {
                        best = Scored { id, distance: d };
                        improved = true;
                    }
                }
            }
            if !improved {
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a line, each linked to its two neighbours on every level.
    struct Line {
        query: f32,
        n: u32,
    }

    impl GraphView for Line {
        type Id = u32;
        fn neighbors(&mut self, id: u32, _level: usize, out: &mut Vec<u32>) {
            if id > 0 {
                out.push(id - 1);
            }
            if id + 1 < self.n {
                out.push(id + 1);
            }
        }
        fn distances(&mut self, ids: &[u32], out: &mut Vec<Option<f32>>) {
            out.extend(ids.iter().map(|&i| Some((i as f32 - self.query).abs())));
        }
    }

    #[test]
    fn walks_to_the_nearest_points() {
        let mut g = Line { query: 70.2, n: 100 };
        let mut visited = HashVisited::with_capacity(16);
        let entry = Scored { id: 0, distance: 70.2 };
        let found = search_layer(&mut g, &[entry], 3, 0, &mut visited, &mut Scratch::default(), None);
        assert_eq!(found.iter().map(|s| s.id).collect::<Vec<_>>(), vec![70, 71, 69]);
    }

    #[test]
    fn discarded_holds_everything_else_scored() {
        let mut g = Line { query: 5.0, n: 10 };
        let mut visited = EpochVisited::new(10);
        let mut discarded = Vec::new();
        let entry = Scored { id: 0, distance: 5.0 };
        let found = search_layer(&mut g, &[entry], 2, 0, &mut visited, &mut Scratch::default(), Some(&mut discarded));
        let mut all: Vec<u32> = found.iter().chain(&discarded).map(|s| s.id).collect();
        all.sort();
        all.dedup();
        assert_eq!(found.iter().map(|s| s.id).collect::<Vec<_>>(), vec![5, 4]);
        assert!(all.len() >= 6, "scored nodes are kept: {all:?}");
    }

    #[test]
    fn descend_follows_the_gradient() {
        let mut g = Line { query: 42.0, n: 100 };
        let best = descend(&mut g, Scored { id: 99, distance: 57.0 }, 3, 0, &mut Scratch::default());
        assert_eq!(best.id, 42);
    }

    #[test]
    fn epoch_visited_clears() {
        let mut v = EpochVisited::new(4);
        assert!(v.insert(2));
        assert!(!v.insert(2));
        v.clear();
        assert!(v.insert(2));
    }
}
