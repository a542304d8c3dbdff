//! Choosing a node's neighbours from candidates (HNSW paper, algorithm 4).
//!
//! Candidates are taken closest first; one is kept only if it is closer to
//! the node than to every neighbour already kept. That keeps links pointing
//! in different directions instead of into one dense cluster, which is what
//! lets a greedy search cross between clusters. (Filling the rest of the
//! list with the candidates the rule turned away, the paper's "keep pruned
//! connections", measured worse: recall@10 0.86 against 0.95 at the same
//! `ef` on clustered data, and more distances per hop.)
//!
//! One exception: a candidate holding the very same vector as the node is
//! always kept. Under the rule, copies of one vector "cover" each other, so
//! each copy would keep a single link to another and the copies would fall
//! out of reach of every search.

use super::search::Scored;

/// Selects at most `capacity` neighbours from `candidates` (sorted by distance
/// to the node, closest first). `distance(a, b)` is the distance between two
/// candidates; `same_as_node(c)` tells whether a candidate holds exactly the
/// node's vector. Returns the kept candidates, closest first.
pub fn select_neighbors<Id: Copy + PartialEq>(
    candidates: &[Scored<Id>],
    capacity: usize,
    mut same_as_node: impl FnMut(Id) -> bool,
    mut distance: impl FnMut(Id, Id) -> f32,
) -> Vec<Scored<Id>> {
    let mut kept: Vec<Scored<Id>> = Vec::with_capacity(capacity);
    for &c in candidates {
        if kept.len() >= capacity {
            break;
        }
        if kept.iter().any(|k| k.id == c.id) {
            continue;
        }
        if same_as_node(c.id) || kept.iter().all(|k| distance(c.id, k.id) > c.distance) {
            kept.push(c);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(points: &[(u32, f32)]) -> Vec<Scored<u32>> {
        points.iter().map(|&(id, distance)| Scored { id, distance }).collect()
    }

    /// Points on a line; distances are |x - y|.
    fn line(a: u32, b: u32) -> f32 {
        (a as f32 - b as f32).abs()
    }

    #[test]
    fn prefers_diverse_neighbours() {
        // The node sits at 0; candidates at 1, 2, 3 and -4 (stored as 104).
        let pos = |id: u32| if id == 104 { -4.0 } else { id as f32 };
        let d = |a: u32, b: u32| (pos(a) - pos(b)).abs();
        let candidates = scored(&[(1, 1.0), (2, 2.0), (3, 3.0), (104, 4.0)]);
        let kept = select_neighbors(&candidates, 2, |_| false, d);
        // 2 and 3 are closer to 1 than to the node; -4 is on the other side.
        assert_eq!(kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 104]);
        let kept = select_neighbors(&candidates, 4, |_| false, d);
        assert_eq!(kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 104]);
    }

    #[test]
    fn copies_of_the_node_are_always_kept() {
        // Three copies of the node (ids 10, 11, 12) at distance 0, then 5.
        let d = |a: u32, b: u32| if a >= 10 && b >= 10 { 0.0 } else { line(a % 10, b % 10) };
        let candidates = scored(&[(10, 0.0), (11, 0.0), (12, 0.0), (5, 5.0)]);
        let kept = select_neighbors(&candidates, 3, |id| id >= 10, d);
        assert_eq!(kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![10, 11, 12]);
        let without = select_neighbors(&candidates, 3, |_| false, d);
        assert_eq!(without.iter().map(|s| s.id).collect::<Vec<_>>(), vec![10]);
    }

    #[test]
    fn respects_capacity_and_repeats() {
        let candidates = scored(&[(1, 1.0), (1, 1.0), (5, 5.0), (9, 9.0)]);
        let kept = select_neighbors(&candidates, 2, |_| false, |a, b| line(a, b) + 100.0);
        assert_eq!(kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 5]);
    }
}
