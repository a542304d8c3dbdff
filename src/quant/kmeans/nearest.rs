//! The few nearest centroids of many points at once: the step of k-means
//! that costs, since a point whose bounds fail is compared with every
//! centroid.
//!
//! Wide points go through a matrix product, `‖x − c‖² = ‖x‖² + ‖c‖² − 2·x·c`
//! with every `x·c` of a block of points from one `sgemm`: its blocking
//! keeps points and centroids in registers across many pairs, where one
//! distance at a time reloads both vectors for every pair. Narrow points
//! (product quantization's subspaces, a few dimensions each) have too little
//! depth for a product to pay off and use the transposed kernel.
//!
//! The expansion loses precision when `‖x‖²` dwarfs the distance (points far
//! from the origin); k-means tolerates that, and callers that need exact
//! distances recompute the one they keep ([`super::kernels::l2sq`]).

use super::kernels::{sq_dists, transpose};
use rayon::prelude::*;

/// Points per matrix product: fixed, so results do not depend on the number
/// of threads. 256 × 1,000 centroids is a 1 MB block of scores.
const BLOCK: usize = 256;

/// From this many dimensions on, the matrix product.
const PRODUCT_FROM: usize = 32;

/// What "nearest" means: the score a centroid gets, lowest best.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scoring {
    /// Squared L2 distance (k-means' own).
    L2,
    /// Negative inner product (also cosine distance's ranking where points
    /// and centroids are stored normalised, as in an index).
    NegDot,
}

/// A point's `N` nearest centroids, best first (lowest index first among
/// equal scores), and their scores: squared distances under
/// [`Scoring::L2`]. Past the number of centroids, ids are `u32::MAX` and
/// scores infinite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nearest<const N: usize> {
    pub ids: [u32; N],
    pub scores: [f32; N],
}

/// The nearest centroid and the runner-up's score: what a build needs to
/// know whether the product's rounding could have swapped them.
pub type NearestTwo = Nearest<2>;

impl<const N: usize> Default for Nearest<N> {
    fn default() -> Self {
        Nearest { ids: [u32::MAX; N], scores: [f32::INFINITY; N] }
    }
}

impl<const N: usize> Nearest<N> {
    /// The nearest; centroid 0 when no score was below infinity (points so
    /// large their squares overflow), so that it is always a centroid.
    pub fn best(&self) -> u32 {
        if self.ids[0] == u32::MAX {
            0
        } else {
            self.ids[0]
        }
    }

    #[inline]
    fn offer(&mut self, c: usize, d: f32) {
        // Most centroids lose to the worst kept: one comparison. (Scores
        // of finite points and centroids are never NaN.)
        if d >= self.scores[N - 1] {
            return;
        }
        let mut at = N - 1;
        while at > 0 && d < self.scores[at - 1] {
            self.scores[at] = self.scores[at - 1];
            self.ids[at] = self.ids[at - 1];
            at -= 1;
        }
        self.scores[at] = d;
        self.ids[at] = c as u32;
    }
}

/// Centroids prepared for [`nearest_centroids`]: what the scoring needs of their
/// norms for the product, or their transpose for the narrow kernel.
pub struct Centroids<'a> {
    rows: &'a [f32],
    dim: usize,
    k: usize,
    scoring: Scoring,
    /// Squared norms (L2).
    norms: Vec<f32>,
    transposed: Vec<f32>,
    /// The transposed kernel rather than the product.
    narrow: bool,
}

impl<'a> Centroids<'a> {
    /// `rows`: `k × dim`, row-major, scored by squared L2 distance.
    pub fn new(rows: &'a [f32], dim: usize) -> Self {
        Self::scored(rows, dim, Scoring::L2)
    }

    pub fn scored(rows: &'a [f32], dim: usize, scoring: Scoring) -> Self {
        let k = rows.len() / dim.max(1);
        let narrow = scoring == Scoring::L2 && dim < PRODUCT_FROM;
        let norms = match scoring {
            Scoring::L2 if !narrow => rows.chunks_exact(dim).map(norm_sq).collect(),
            _ => Vec::new(),
        };
        let transposed = if narrow { transpose(rows, dim) } else { Vec::new() };
        Centroids { rows, dim, k, scoring, norms, transposed, narrow }
    }

    pub fn row(&self, c: usize) -> &[f32] {
        &self.rows[c * self.dim..(c + 1) * self.dim]
    }

    /// Half the distance from each centroid to its nearest other centroid
    /// (Hamerly's `s(c)/2`): a point within it of its centroid has no nearer
    /// one. Zero for a centroid with a twin.
    pub fn half_gaps(&self) -> Vec<f32> {
        debug_assert_eq!(self.scoring, Scoring::L2, "gaps are distances");
        if self.k < 2 {
            return vec![f32::INFINITY; self.k];
        }
        let all: Vec<u32> = (0..self.k as u32).collect();
        let mut out = vec![NearestTwo::default(); self.k];
        nearest_centroids(self.rows, &all, self, &mut out);
        // Each centroid is its own nearest (at zero, up to rounding): the
        // second is the nearest other. Where a twin came first, the second
        // is the centroid itself, at about zero, which is the right answer.
        out.iter().map(|t| 0.5 * t.scores[1].max(0.0).sqrt()).collect()
    }
}

/// `out[i]` = the nearest `N` centroids of point `rows[i]` of `points`
/// (`n × dim`, row-major). In parallel, in fixed blocks of points.
pub fn nearest_centroids<const N: usize>(points: &[f32], rows: &[u32], centroids: &Centroids, out: &mut [Nearest<N>]) {
    assert_eq!(rows.len(), out.len(), "one answer per point");
    let dim = centroids.dim;
    rows.par_chunks(BLOCK).zip(out.par_chunks_mut(BLOCK)).for_each_init(
        || (Vec::new(), Vec::new()),
        |(gathered, scores), (rows, out)| {
            if !centroids.narrow {
                by_product(points, rows, centroids, gathered, scores, out)
            } else {
                scores.resize(centroids.k, 0.0);
                for (&r, o) in rows.iter().zip(out.iter_mut()) {
                    let x = &points[r as usize * dim..(r as usize + 1) * dim];
                    sq_dists(&centroids.transposed, x, scores);
                    *o = Nearest::default();
                    for (c, &d) in scores.iter().enumerate() {
                        o.offer(c, d);
                    }
                }
            }
        },
    );
}

fn by_product<const N: usize>(
    points: &[f32],
    rows: &[u32],
    centroids: &Centroids,
    gathered: &mut Vec<f32>,
    scores: &mut Vec<f32>,
    out: &mut [Nearest<N>],
) {
    let (m, dim, k) = (rows.len(), centroids.dim, centroids.k);
    gathered.clear();
    for &r in rows {
        gathered.extend_from_slice(&points[r as usize * dim..(r as usize + 1) * dim]);
    }
    scores.clear();
    scores.resize(m * k, 0.0);
    // SAFETY: `gathered` holds m × dim values read with row stride dim and
    // column stride 1; the centroids hold k × dim values, read as the dim × k
    // matrix B with row stride 1 and column stride dim; `scores` holds m × k
    // values written with row stride k and column stride 1. Every index the
    // product touches (i < m, p < dim, j < k) is inside its buffer, the three
    // do not overlap (scores is uniquely borrowed), and beta = 0 means the
    // product never reads scores' previous values.
    unsafe {
        matrixmultiply::sgemm(
            m,
            dim,
            k,
            if centroids.scoring == Scoring::L2 { -2.0 } else { -1.0 },
            gathered.as_ptr(),
            dim as isize,
            1,
            centroids.rows.as_ptr(),
            1,
            dim as isize,
            0.0,
            scores.as_mut_ptr(),
            k as isize,
            1,
        );
    }
    for ((x, s), o) in gathered.chunks_exact(dim).zip(scores.chunks_exact(k)).zip(out.iter_mut()) {
        *o = Nearest::default();
        match centroids.scoring {
            Scoring::L2 => {
                let xn = norm_sq(x);
                for (c, (&dot2, &cn)) in s.iter().zip(&centroids.norms).enumerate() {
                    o.offer(c, (xn + cn + dot2).max(0.0));
                }
            }
            Scoring::NegDot => {
                for (c, &d) in s.iter().enumerate() {
                    o.offer(c, d);
                }
            }
        }
    }
}

/// `‖x‖²`, eight lanes wide.
pub fn norm_sq(x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i] * c[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every centroid's score by brute force in f64, best first.
    fn reference(x: &[f32], centroids: &[f32], dim: usize, scoring: Scoring) -> Vec<(usize, f64)> {
        let mut d: Vec<(usize, f64)> = centroids
            .chunks_exact(dim)
            .enumerate()
            .map(|(c, y)| {
                let dot: f64 = x.iter().zip(y).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
                let yy: f64 = y.iter().map(|b| f64::from(*b).powi(2)).sum();
                let xx: f64 = x.iter().map(|a| f64::from(*a).powi(2)).sum();
                let score = match scoring {
                    Scoring::L2 => xx + yy - 2.0 * dot,
                    Scoring::NegDot => -dot,
                };
                (c, score)
            })
            .collect();
        d.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        d
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Both kernels and every scoring find the five best of f64 brute
        /// force up to rounding, whatever the block boundaries and row order.
        #[test]
        fn agrees_with_brute_force(
            dim in prop::sample::select(vec![3usize, 8, 31, 32, 40, 97]),
            k in 1usize..40,
            n in 1usize..600,
            scoring in prop::sample::select(vec![Scoring::L2, Scoring::NegDot]),
            seed in any::<u64>(),
        ) {
            let mut rng = crate::quant::rng::Rng::new(seed);
            let points: Vec<f32> = (0..n * dim).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect();
            let centroids: Vec<f32> = (0..k * dim).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect();
            let c = Centroids::scored(&centroids, dim, scoring);
            // Every other point, backwards: rows need not be in order.
            let rows: Vec<u32> = (0..n as u32).rev().step_by(2).collect();
            let mut out = vec![Nearest::<5>::default(); rows.len()];
            nearest_centroids(&points, &rows, &c, &mut out);
            for (&r, got) in rows.iter().zip(&out) {
                let x = &points[r as usize * dim..(r as usize + 1) * dim];
                let want = reference(x, &centroids, dim, scoring);
                let slack = 1e-4 * (1.0 + f64::from(norm_sq(x)));
                for rank in 0..5 {
                    let Some(w) = want.get(rank) else {
                        prop_assert!(got.scores[rank].is_infinite() && got.ids[rank] == u32::MAX);
                        continue;
                    };
                    // Each kept centroid scores as well as the true one of
                    // its rank, and its score is right, up to rounding.
                    let id = got.ids[rank] as usize;
                    let true_score = want.iter().find(|t| t.0 == id).map_or(f64::NAN, |t| t.1);
                    prop_assert!((true_score - w.1).abs() <= 2.0 * slack, "rank {rank}: {id} at {true_score}, want {w:?}");
                    prop_assert!((f64::from(got.scores[rank]) - w.1).abs() <= slack, "rank {rank}: score {} vs {}", got.scores[rank], w.1);
                }
                prop_assert!(got.ids.iter().filter(|&&i| i != u32::MAX).count() == got.ids.iter().filter(|&&i| i != u32::MAX).collect::<std::collections::BTreeSet<_>>().len(), "an id twice: {:?}", got.ids);
            }
        }
    }

    #[test]
    fn half_gaps_are_half_the_distance_to_the_nearest_other() {
        let dim = 40;
        let mut centroids = vec![0f32; 3 * dim];
        centroids[dim] = 4.0; // centroid 1 at distance 4 from 0
        centroids[2 * dim + 1] = 10.0; // centroid 2 far from both
        let gaps = Centroids::new(&centroids, dim).half_gaps();
        assert!((gaps[0] - 2.0).abs() < 1e-3 && (gaps[1] - 2.0).abs() < 1e-3, "{gaps:?}");
        assert!((gaps[2] - 0.5 * 100f32.sqrt()).abs() < 1e-3, "{gaps:?}");
        // Twins have no gap.
        let twins = [centroids.clone(), centroids[..dim].to_vec()].concat();
        assert_eq!(Centroids::new(&twins, dim).half_gaps()[0], 0.0);
    }
}
