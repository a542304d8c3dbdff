//! Lloyd's assignment step with bounds, so that most points are not
//! compared with every centroid: each point keeps its few nearest centroids
//! of the last full comparison (its candidates) with a lower bound on the
//! distance to each, and one lower bound for every other centroid. When
//! centroids move, each bound drops by its centroid's move (the others' by
//! the largest move). A point whose own centroid is nearer than every bound
//! stays; one whose own centroid is only nearer than the others' bound is
//! compared with its candidates alone; only the rest with every centroid.
//!
//! Hamerly's bound ("Making k-means even faster", SDM 2010) is the case of
//! one candidate; it drops by the largest move of any centroid, which at a
//! thousand centroids in hundreds of dimensions fails for nearly every
//! point, nearly every iteration. With candidates, the largest move only
//! lowers the bound of the far centroids. The distance to the point's own
//! centroid is recomputed every iteration rather than bounded (one
//! distance per point), which keeps the error exact.
//!
//! The assignment is the exact nearest centroid, up to rounding: the same
//! as plain Lloyd's (checked at every iteration in the tests).

use super::kernels::l2sq;
use super::nearest::{nearest_centroids, Centroids, Nearest};
use super::CHUNK;
use rayon::prelude::*;

/// Candidates per point: 8 × 8 bytes a point.
const CANDIDATES: usize = 8;

/// The full comparison keeps one more than the candidates: its distance
/// bounds every other centroid.
const KEPT: usize = CANDIDATES + 1;

pub struct Bounds {
    /// Each point's centroid.
    pub assign: Vec<u32>,
    /// Distance (not squared) to its centroid, exact.
    pub upper: Vec<f32>,
    /// `CANDIDATES` centroids a point (`u32::MAX` past the last centroid),
    /// its own among them.
    candidates: Vec<u32>,
    /// Lower bounds on the distances to the candidates.
    near: Vec<f32>,
    /// Lower bound on the distance to every centroid not a candidate.
    rest: Vec<f32>,
}

/// What the bounds say of one point.
enum Verdict {
    Stays,
    /// Compared with its candidates; `true` when it moved.
    Local(bool),
    /// Must be compared with every centroid.
    Full,
}

impl Bounds {
    /// Every point against every centroid: the first iteration.
    pub fn new(data: &[f32], dim: usize, centroids: &Centroids) -> Self {
        let n = data.len() / dim;
        let mut b = Bounds {
            assign: vec![u32::MAX; n],
            upper: vec![0.0; n],
            candidates: vec![u32::MAX; n * CANDIDATES],
            near: vec![0.0; n * CANDIDATES],
            rest: vec![0.0; n],
        };
        let all: Vec<u32> = (0..n as u32).collect();
        b.compare_all(data, dim, centroids, &all);
        b
    }

    /// The assignment step after the centroids moved (see [`Bounds::moved`]):
    /// returns how many points changed centroid.
    pub fn assign(&mut self, data: &[f32], dim: usize, centroids: &Centroids) -> usize {
        let gaps = centroids.half_gaps();
        let outcomes: Vec<(usize, Vec<u32>)> = self
            .assign
            .par_chunks_mut(CHUNK)
            .zip(self.upper.par_chunks_mut(CHUNK))
            .zip(self.candidates.par_chunks(CHUNK * CANDIDATES))
            .zip(self.near.par_chunks_mut(CHUNK * CANDIDATES))
            .zip(self.rest.par_chunks(CHUNK))
            .enumerate()
            .map(|(ci, ((((assign, upper), candidates), near), rest))| {
                let (mut moved, mut full) = (0, Vec::new());
                for o in 0..assign.len() {
                    let i = ci * CHUNK + o;
                    let x = &data[i * dim..(i + 1) * dim];
                    let slots = o * CANDIDATES..(o + 1) * CANDIDATES;
                    let verdict = settle(
                        x,
                        centroids,
                        &gaps,
                        &mut assign[o],
                        &mut upper[o],
                        &candidates[slots.clone()],
                        &mut near[slots],
                        rest[o],
                    );
                    match verdict {
                        Verdict::Stays | Verdict::Local(false) => {}
                        Verdict::Local(true) => moved += 1,
                        Verdict::Full => full.push(i as u32),
                    }
                }
                (moved, full)
            })
            .collect();
        let mut moved = 0;
        let mut full = Vec::new();
        for (m, f) in outcomes {
            moved += m;
            full.extend(f);
        }
        moved + self.compare_all(data, dim, centroids, &full)
    }

    /// Compares `points` with every centroid; returns how many moved.
    fn compare_all(&mut self, data: &[f32], dim: usize, centroids: &Centroids, points: &[u32]) -> usize {
        let mut found = vec![Nearest::<KEPT>::default(); points.len()];
        nearest_centroids(data, points, centroids, &mut found);
        let mut moved = 0;
        for (&i, t) in points.iter().zip(&found) {
            let (i, best) = (i as usize, t.best());
            if self.assign[i] != best {
                moved += 1;
                self.assign[i] = best;
            }
            // The kept distance exact, the bounds as the product gave them.
            let x = &data[i * dim..(i + 1) * dim];
            self.upper[i] = l2sq(x, centroids.row(best as usize)).sqrt();
            self.candidates[i * CANDIDATES..(i + 1) * CANDIDATES].copy_from_slice(&t.ids[..CANDIDATES]);
            for (b, &s) in self.near[i * CANDIDATES..(i + 1) * CANDIDATES].iter_mut().zip(&t.scores) {
                *b = s.max(0.0).sqrt();
            }
            self.rest[i] = t.scores[CANDIDATES].max(0.0).sqrt();
        }
        moved
    }

    /// The centroids moved by `drift` (distances): each may now be that
    /// much nearer to any point.
    pub fn moved(&mut self, drift: &[f32]) {
        let largest = drift.iter().copied().fold(0f32, f32::max);
        for (b, &c) in self.near.iter_mut().zip(&self.candidates) {
            if let Some(&d) = drift.get(c as usize) {
                *b -= d;
            }
        }
        for r in &mut self.rest {
            *r -= largest;
        }
    }
}

/// One point's assignment from its bounds (see the module's comment).
#[allow(clippy::too_many_arguments)]
fn settle(
    x: &[f32],
    centroids: &Centroids,
    gaps: &[f32],
    assign: &mut u32,
    upper: &mut f32,
    candidates: &[u32],
    near: &mut [f32],
    rest: f32,
) -> Verdict {
    let own = *assign as usize;
    let u = l2sq(x, centroids.row(own)).sqrt();
    *upper = u;
    if u <= gaps[own] {
        return Verdict::Stays;
    }
    if u > rest {
        return Verdict::Full;
    }
    let beaten = candidates.iter().zip(near.iter()).any(|(&c, &b)| c != u32::MAX && c as usize != own && b < u);
    if !beaten {
        return Verdict::Stays;
    }
    // Every non-candidate is at least `rest` >= u away: the nearest is a
    // candidate (own included). Lowest index among equals, as a full
    // comparison picks.
    let mut best = (own, u);
    for (&c, b) in candidates.iter().zip(near.iter_mut()) {
        if c == u32::MAX {
            continue;
        }
        let d = if c as usize == own { u } else { l2sq(x, centroids.row(c as usize)).sqrt() };
        *b = d;
        if d < best.1 || (d == best.1 && (c as usize) < best.0) {
            best = (c as usize, d);
        }
    }
    *upper = best.1;
    let moved = best.0 != own;
    *assign = best.0 as u32;
    Verdict::Local(moved)
}
