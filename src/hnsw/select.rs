//! Choosing a node's neighbours from candidates (HNSW paper, algorithm 4).
//!
//! Candidates are taken closest first; one is kept only if it is closer to
//! the node than to every neighbour already kept. That keeps links pointing
//! in different directions instead of into one dense cluster, which is what
//! lets a greedy search cross between clusters. The candidates the rule
//! turned away then fill the list up to capacity ("keep pruned
//! connections"): more in-links per node, so fewer nodes end up unreachable
//! after pruning, at the cost of a few extra distance computations per hop.

use super::search::Scored;

/// Selects at most `capacity` neighbours from `candidates` (sorted by distance
/// to the node, closest first). `distance(a, b)` is the distance between two
/// candidates. Returns the kept candidates, closest first.
pub fn select_neighbors<Id: Copy + PartialEq>(
    candidates: &[Scored<Id>],
    capacity: usize,
    keep_pruned: bool,
    mut distance: impl FnMut(Id, Id) -> f32,
) -> Vec<Scored<Id>> {
    let mut kept: Vec<Scored<Id>> = Vec::with_capacity(capacity);
    let mut pruned: Vec<Scored<Id>> = Vec::new();
    for &c in candidates {
        if kept.len() >= capacity {
            break;
        }
        if kept.iter().any(|k| k.id == c.id) {
            continue;
        }
        let diverse = kept.iter().all(|k| distance(c.id, k.id) > c.distance);
        if diverse {
            kept.push(c);
        } else if keep_pruned {
            pruned.push(c);
        }
    }
    if keep_pruned {
        for c in pruned {
            if kept.len() >= capacity {
                break;
            }
            kept.push(c);
        }
        kept.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(points: &[(u32, f32)]) -> Vec<Scored<u32>> {
        points
            .iter()
            .map(|&(id, distance)| Scored { id, distance })
            .collect()
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
        let kept = select_neighbors(&candidates, 2, false, d);
        // 2 and 3 are closer to 1 than to the node; -4 is on the other side.
        assert_eq!(kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 104]);
    }

    #[test]
    fn keep_pruned_fills_the_list() {
        let candidates = scored(&[(1, 1.0), (2, 2.0), (3, 3.0)]);
        let kept = select_neighbors(&candidates, 3, true, line);
        assert_eq!(kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 2, 3]);
        let kept = select_neighbors(&candidates, 3, false, line);
        assert_eq!(kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn respects_capacity_and_duplicates() {
        let candidates = scored(&[(1, 1.0), (1, 1.0), (5, 5.0), (9, 9.0)]);
        let kept = select_neighbors(&candidates, 2, true, |a, b| line(a, b) + 100.0);
        assert_eq!(kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 5]);
    }
}
