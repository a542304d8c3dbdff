//! The parameters that shape a graph: links per node and beam width while
//! inserting (the index's `m` and `ef_construction`), and the level seed.

/// Parameters of a graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphParams {
    /// Links per node on levels above 0; level 0 has `2 m`.
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
    /// Seed of the level assignment.
    pub seed: u64,
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
