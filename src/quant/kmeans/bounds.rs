//! Lloyd's assignment step with Hamerly's bounds: each point keeps a lower
//! bound on its distance to every centroid but its own, and is compared with
//! all centroids only when that bound no longer proves its own the nearest.
//! After the first few iterations most centroids barely move and most points
//! skip the comparison; the assignment is still the exact nearest centroid
//! (up to rounding), the same as plain Lloyd's.
//!
//! Hamerly, "Making k-means even faster" (SDM 2010). One change: the distance
//! to the point's own centroid is recomputed every iteration rather than
//! bounded, one distance per point, which keeps the error exact and the
//! test tight.

use super::kernels::l2sq;
use super::nearest_two::{nearest_two, Centroids, NearestTwo};
use super::CHUNK;
use rayon::prelude::*;

pub struct Bounds {
    /// Each point's centroid.
    pub assign: Vec<u32>,
    /// Distance (not squared) to its centroid, exact.
    pub upper: Vec<f32>,
    /// Lower bound on its distance to every other centroid.
    lower: Vec<f32>,
}

impl Bounds {
    /// Every point against every centroid: the first iteration.
    pub fn new(data: &[f32], dim: usize, centroids: &Centroids) -> Self {
        let n = data.len() / dim;
        let mut b = Bounds { assign: vec![u32::MAX; n], upper: vec![0.0; n], lower: vec![0.0; n] };
        let all: Vec<u32> = (0..n as u32).collect();
        b.reassign(data, dim, centroids, &all);
        b
    }

    /// The assignment step after the centroids moved (see [`Bounds::moved`]):
    /// returns how many points changed centroid.
    pub fn assign(&mut self, data: &[f32], dim: usize, centroids: &Centroids) -> usize {
        let gaps = centroids.half_gaps();
        // Exact distance to the own centroid; the points it does not prove
        // nearest, in index order.
        let suspects: Vec<u32> = self
            .upper
            .par_chunks_mut(CHUNK)
            .zip(self.assign.par_chunks(CHUNK))
            .zip(self.lower.par_chunks(CHUNK))
            .enumerate()
            .flat_map_iter(|(ci, ((upper, assign), lower))| {
                let mut out = Vec::new();
                for (o, ((u, &a), &l)) in upper.iter_mut().zip(assign).zip(lower).enumerate() {
                    let i = ci * CHUNK + o;
                    let c = a as usize;
                    *u = l2sq(&data[i * dim..(i + 1) * dim], centroids.row(c)).sqrt();
                    if *u > l.max(gaps[c]) {
                        out.push(i as u32);
                    }
                }
                out
            })
            .collect();
        self.reassign(data, dim, centroids, &suspects)
    }

    /// Compares `points` with every centroid; returns how many moved.
    fn reassign(&mut self, data: &[f32], dim: usize, centroids: &Centroids, points: &[u32]) -> usize {
        let mut found = vec![NearestTwo::default(); points.len()];
        nearest_two(data, points, centroids, &mut found);
        let mut changed = 0;
        for (&i, t) in points.iter().zip(&found) {
            let (i, c) = (i as usize, t.best as usize);
            if self.assign[i] != t.best {
                changed += 1;
                self.assign[i] = t.best;
            }
            // The kept distance exact, the bound as the product gave it.
            self.upper[i] = l2sq(&data[i * dim..(i + 1) * dim], centroids.row(c)).sqrt();
            self.lower[i] = t.d2.max(0.0).sqrt();
        }
        changed
    }

    /// The centroids moved by `drift` (distances): every other centroid may
    /// now be that much nearer. A point's own centroid's drift does not
    /// lower its bound, so it takes the largest drift of the others.
    pub fn moved(&mut self, drift: &[f32]) {
        let (mut first, mut second, mut who) = (0f32, 0f32, usize::MAX);
        for (c, &d) in drift.iter().enumerate() {
            if d > first {
                (second, first, who) = (first, d, c);
            } else if d > second {
                second = d;
            }
        }
        for (l, &a) in self.lower.iter_mut().zip(&self.assign) {
            *l -= if a as usize == who { second } else { first };
        }
    }
}
