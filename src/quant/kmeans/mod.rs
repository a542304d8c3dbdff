//! k-means with k-means++ seeding and Lloyd iterations, the assignment step
//! bounded as Hamerly's ([`bounds`]) and its full comparisons batched into
//! matrix products ([`nearest`]).
//!
//! Deterministic for a given seed whatever the number of rayon threads:
//! points are cut into fixed-size blocks whose results do not depend on one
//! another, each centroid's sum adds its points in index order, and every
//! random draw happens in one fixed order.
//!
//! Pure code: no Postgres call, safe to run on rayon threads.

mod bounds;
mod kernels;
mod nearest;
mod seed;
mod update;

pub use kernels::{l2sq, nearest, nearest_t, sq_dists, transpose};
pub use nearest::{nearest_centroids, norm_sq, Centroids, Nearest, NearestTwo, Scoring};

use super::rng::Rng;
use crate::format::{Error, Result, SqlState};
use bounds::Bounds;
use std::sync::atomic::{AtomicBool, Ordering};

/// Points handled by one parallel task; fixed so that results do not depend
/// on the thread count.
pub(crate) const CHUNK: usize = 1024;

#[derive(Clone, Debug)]
pub struct Params {
    /// Number of centroids.
    pub k: usize,
    /// Lloyd iterations at most.
    pub max_iter: usize,
    /// Stop when the mean squared error improves by less than this fraction.
    pub tol: f64,
    /// Train on at most `k × max_points_per_centroid` points (a seeded random
    /// subset), as Faiss does: more points barely move the centroids.
    pub max_points_per_centroid: usize,
    pub seed: u64,
    /// Spherical k-means (for unit-length data): every update scales each
    /// centroid to unit length, so that the nearest centroid is the one of
    /// largest inner product. Means of unit vectors are shorter the more
    /// spread their points are, and the squared L2 distance to means of
    /// unequal lengths (its `|c|²` term) ranks them otherwise than the inner
    /// product does.
    pub spherical: bool,
}

impl Params {
    pub fn new(k: usize, seed: u64) -> Self {
        Params { k, max_iter: 25, tol: 1e-4, max_points_per_centroid: 256, seed, spherical: false }
    }
}

#[derive(Clone, Debug)]
pub struct KMeans {
    pub dim: usize,
    pub k: usize,
    /// `k × dim`, row-major.
    pub centroids: Vec<f32>,
    /// Lloyd iterations run.
    pub iterations: usize,
    /// Mean squared distance of the training points to their centroid after
    /// the last assignment.
    pub mse: f64,
}

impl KMeans {
    pub fn centroid(&self, c: usize) -> &[f32] {
        &self.centroids[c * self.dim..(c + 1) * self.dim]
    }

    /// Index of the centroid nearest to `x`, and its squared distance.
    pub fn nearest(&self, x: &[f32]) -> (usize, f32) {
        nearest(&self.centroids, self.dim, x)
    }
}

/// Points a centroid that k-means++ draws its seeds from. On 50,000 MiniLM
/// embeddings and 1,000 centroids, seeding from 8,000 rather than all
/// 50,000 took 0.3 s instead of 3.2 s, and the trained centroids' error was
/// 0.3% higher, within the spread between subset sizes (4,000: +0.2%,
/// 16,000: +0.1%, 32,000: +0.5%).
const SEED_POINTS_PER_CENTROID: usize = 8;

/// `data` itself when it has at most `cap` rows, else `cap` rows of it
/// drawn with `rng` (in their order in `data`).
fn subset<'a>(data: &'a [f32], dim: usize, cap: usize, rng: &mut Rng) -> std::borrow::Cow<'a, [f32]> {
    let n = data.len() / dim;
    if n <= cap {
        return std::borrow::Cow::Borrowed(data);
    }
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..cap {
        let j = i + rng.below(n - i);
        idx.swap(i, j);
    }
    idx.truncate(cap);
    idx.sort_unstable();
    std::borrow::Cow::Owned(idx.iter().flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied()).collect())
}

/// Trains `params.k` centroids on `data`, `n × dim` row-major.
pub fn train(data: &[f32], dim: usize, params: &Params) -> Result<KMeans> {
    train_cancellable(data, dim, params, &AtomicBool::new(false))
}

/// The error of a training stopped by its caller.
pub fn cancelled() -> Error {
    Error::new(SqlState::DataException, "k-means training was cancelled")
}

/// [`train`], giving up with [`cancelled`] once `cancel` is set: it is
/// read between seeding steps and between iterations (each a pass over the
/// points), so a caller that cannot interrupt the rayon threads (a Postgres
/// backend) gets its answer within one pass.
pub fn train_cancellable(data: &[f32], dim: usize, params: &Params, cancel: &AtomicBool) -> Result<KMeans> {
    let invalid = |m: String| Err(Error::new(SqlState::InvalidParameterValue, m));
    if dim == 0 || !data.len().is_multiple_of(dim) {
        return invalid(format!("k-means: {} values do not make rows of {dim} dimensions", data.len()));
    }
    let k = params.k;
    let n = data.len() / dim;
    if k == 0 {
        return invalid("k-means needs at least one centroid".into());
    }
    if n < k {
        return Err(Error::new(
            SqlState::DataException,
            format!("k-means needs at least {k} training vectors, found {n}"),
        ));
    }
    if data.iter().any(|x| !x.is_finite()) {
        return Err(Error::new(SqlState::DataException, "k-means: training data must be finite"));
    }
    let mut rng = Rng::new(params.seed);

    // A seeded subset when there are far more points than needed.
    let cap = k.saturating_mul(params.max_points_per_centroid.max(1));
    let training = subset(data, dim, cap, &mut rng);
    let data = &training[..];
    let n = data.len() / dim;

    // k-means++ is k sequential passes over its points: over a subset, as
    // the Lloyd iterations that follow move the centroids anyway.
    let seeding = subset(data, dim, k.saturating_mul(SEED_POINTS_PER_CENTROID), &mut rng);
    let mut centroids = seed::plus_plus(&seeding, dim, k, &mut rng, cancel)?;
    drop(seeding);
    let mut bounds: Option<Bounds> = None;
    let mut prev_mse = f64::INFINITY;
    let mut mse = f64::INFINITY;
    let mut iterations = 0;
    for _ in 0..params.max_iter.max(1) {
        if cancel.load(Ordering::Relaxed) {
            return Err(cancelled());
        }
        iterations += 1;
        let prepared = Centroids::new(&centroids, dim);
        let changed = match bounds.as_mut() {
            None => {
                bounds = Some(Bounds::new(data, dim, &prepared));
                n
            }
            Some(b) => b.assign(data, dim, &prepared),
        };
        let Some(b) = bounds.as_mut() else { unreachable!("assigned just above") };
        #[cfg(test)]
        tests::check_assignment(data, dim, &centroids, &b.assign);
        mse = b.upper.iter().map(|&u| f64::from(u) * f64::from(u)).sum::<f64>() / n as f64;
        let before = centroids.clone();
        update::means(data, dim, k, &b.assign, &b.upper, params.spherical, &mut centroids);
        // No improvement to measure after the first pass: its `prev_mse` is
        // infinite, and inf - mse <= tol * inf would stop at seeding quality.
        let converged =
            changed == 0 || (prev_mse.is_finite() && (prev_mse - mse) <= params.tol * prev_mse.max(f64::MIN_POSITIVE));
        prev_mse = mse;
        if converged {
            break;
        }
        let drift: Vec<f32> =
            before.chunks_exact(dim).zip(centroids.chunks_exact(dim)).map(|(a, b)| l2sq(a, b).sqrt()).collect();
        b.moved(&drift);
    }
    Ok(KMeans { dim, k, centroids, iterations, mse })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The invariant of the bounded assignment, checked at every iteration
    /// of every training in the tests (small ones): no point has a centroid
    /// nearer than its own, beyond rounding (f64 brute force).
    pub fn check_assignment(data: &[f32], dim: usize, centroids: &[f32], assign: &[u32]) {
        let k = centroids.len() / dim;
        if data.len() * k > 20_000_000 {
            return;
        }
        let d = |x: &[f32], c: usize| -> f64 {
            x.iter().zip(&centroids[c * dim..(c + 1) * dim]).map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2)).sum()
        };
        for (i, x) in data.chunks_exact(dim).enumerate() {
            let own = d(x, assign[i] as usize);
            let (best, at) =
                (0..k).map(|c| (c, d(x, c))).fold((0, f64::INFINITY), |b, t| if t.1 < b.1 { t } else { b });
            let scale = 1.0 + f64::from(norm_sq(x)) + f64::from(norm_sq(&centroids[best * dim..(best + 1) * dim]));
            assert!(
                own <= at + 1e-4 * scale,
                "point {i} kept centroid {} at {own} though centroid {best} is at {at}",
                assign[i]
            );
        }
    }

    /// `clusters` well-separated blobs in `dim` dimensions, `per` points each.
    pub fn blobs(clusters: usize, per: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        let centres: Vec<f32> = (0..clusters * dim).map(|_| (rng.next_f64() * 100.0) as f32).collect();
        let mut out = Vec::new();
        for i in 0..clusters * per {
            let c = i % clusters;
            for j in 0..dim {
                out.push(centres[c * dim + j] + (rng.next_f64() - 0.5) as f32);
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Every iteration's bounded assignment is the exact nearest
        /// centroid ([`check_assignment`] runs inside `train`), on blobs that
        /// overlap (many points near the boundaries of their cells), narrow
        /// and wide, plain and spherical.
        #[test]
        fn bounded_assignment_is_lloyds(
            dim in proptest::sample::select(vec![5usize, 40, 96]),
            k in 2usize..48,
            per in 20usize..80,
            spherical in proptest::bool::ANY,
            seed in proptest::prelude::any::<u64>(),
        ) {
            let mut rng = Rng::new(seed);
            let clusters = 1 + k / 3;
            let centres: Vec<f32> = (0..clusters * dim).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect();
            let mut data = Vec::new();
            for i in 0..clusters * per {
                let c = i % clusters;
                let mut row: Vec<f32> =
                    (0..dim).map(|j| centres[c * dim + j] + (rng.next_f64() - 0.5) as f32).collect();
                if spherical {
                    let norm = norm_sq(&row).sqrt();
                    row.iter_mut().for_each(|v| *v /= norm);
                }
                data.extend(row);
            }
            let mut p = Params::new(k.min(clusters * per), seed);
            p.spherical = spherical;
            p.tol = 0.0;
            p.max_iter = 40;
            let km = train(&data, dim, &p).unwrap();
            proptest::prop_assert!(km.mse.is_finite());
        }
    }

    #[test]
    fn finds_separated_clusters() {
        let data = blobs(8, 50, 4, 3);
        let km = train(&data, 4, &Params::new(8, 42)).unwrap();
        // Every point is within its blob's noise of a centroid.
        for x in data.chunks_exact(4) {
            assert!(km.nearest(x).1 < 2.0, "{:?}", km.nearest(x));
        }
        assert!(km.mse < 1.0, "{}", km.mse);
    }

    #[test]
    fn deterministic_under_a_seed_whatever_the_threads() {
        let data = blobs(16, 300, 6, 9); // 4,800 points: several chunks
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let a = one.install(|| train(&data, 6, &Params::new(16, 5)).unwrap());
        let b = three.install(|| train(&data, 6, &Params::new(16, 5)).unwrap());
        assert_eq!(a.centroids, b.centroids);
        assert_eq!(a.iterations, b.iterations);
        let c = train(&data, 6, &Params::new(16, 6)).unwrap();
        assert_ne!(a.centroids, c.centroids, "another seed gives another seeding");
    }

    #[test]
    fn duplicates_and_empty_clusters() {
        // 10 distinct points, 40 copies: k = 10 must still give 10 centroids
        // on the 10 points, never NaN.
        let mut data = Vec::new();
        for _ in 0..40 {
            for p in 0..10 {
                data.extend_from_slice(&[p as f32, (p * p) as f32]);
            }
        }
        let km = train(&data, 2, &Params::new(10, 1)).unwrap();
        assert!(km.centroids.iter().all(|x| x.is_finite()));
        assert!(km.mse < 1e-9, "{}", km.mse);
        // All identical points: every centroid is that point.
        let same = vec![1.5f32; 3 * 20];
        let km = train(&same, 3, &Params::new(4, 1)).unwrap();
        assert!(km.centroids.iter().all(|&x| x == 1.5));
    }

    #[test]
    fn transposed_nearest_agrees() {
        let data = blobs(5, 40, 7, 4);
        let centroids = &data[..33 * 7];
        let ct = transpose(centroids, 7);
        let mut scratch = vec![0f32; 33];
        for x in data.chunks_exact(7) {
            let (a, da) = nearest(centroids, 7, x);
            let (b, db) = nearest_t(&ct, x, &mut scratch);
            assert!((da - db).abs() <= 1e-4 * da.max(1.0), "{da} vs {db}");
            assert!(a == b || (l2sq(x, &centroids[b * 7..(b + 1) * 7]) - da).abs() <= 1e-4 * da.max(1.0));
        }
    }

    #[test]
    fn values_whose_squares_overflow_do_not_panic() {
        // Finite, valid `vector` values; every squared distance is infinite.
        for dim in [4usize, 40] {
            let data: Vec<f32> = (0..50 * dim).map(|i| if i % 3 == 0 { 3e19 } else { -2e19 + i as f32 }).collect();
            let km = train(&data, dim, &Params::new(4, 1)).unwrap();
            assert_eq!(km.centroids.len(), 4 * dim);
        }
    }

    #[test]
    fn errors_not_panics() {
        assert!(train(&[1.0; 6], 3, &Params::new(3, 1)).is_err()); // 2 rows < k
        assert!(train(&[1.0; 7], 3, &Params::new(1, 1)).is_err()); // ragged
        assert!(train(&[f32::NAN; 6], 3, &Params::new(1, 1)).is_err());
        assert!(train(&[1.0; 6], 3, &Params::new(0, 1)).is_err());
    }

    #[test]
    fn a_set_flag_cancels_training() {
        let data = blobs(8, 50, 4, 3);
        let cancel = AtomicBool::new(true);
        let e = train_cancellable(&data, 4, &Params::new(8, 42), &cancel).unwrap_err();
        assert_eq!(e, cancelled());
        cancel.store(false, Ordering::Relaxed);
        let a = train_cancellable(&data, 4, &Params::new(8, 42), &cancel).unwrap();
        assert_eq!(a.centroids, train(&data, 4, &Params::new(8, 42)).unwrap().centroids);
    }

    /// Mean squared distance of `data` to its nearest centroid, and the
    /// centroids one more Lloyd step (means of the points) would give.
    fn mse_and_step(data: &[f32], dim: usize, centroids: &[f32]) -> (f64, Vec<f32>) {
        let k = centroids.len() / dim;
        let (mut sums, mut counts, mut total) = (vec![0f64; k * dim], vec![0usize; k], 0f64);
        for x in data.chunks_exact(dim) {
            let (c, d) = nearest(centroids, dim, x);
            total += f64::from(d);
            counts[c] += 1;
            for (s, &v) in sums[c * dim..(c + 1) * dim].iter_mut().zip(x) {
                *s += f64::from(v);
            }
        }
        let mut next = centroids.to_vec();
        for c in 0..k {
            if counts[c] > 0 {
                for j in 0..dim {
                    next[c * dim + j] = (sums[c * dim + j] / counts[c] as f64) as f32;
                }
            }
        }
        (total / (data.len() / dim) as f64, next)
    }

    #[test]
    fn lloyd_runs_to_a_fixed_point_not_one_pass() {
        // More centroids than blobs: k-means++ seeds leave the centroids far
        // from a fixed point, and only iterations bring them there. The first
        // pass once counted as converged (its improvement over an infinite
        // error compared as inf <= inf), which left seeding-quality centers.
        let (dim, k) = (8, 40);
        let data = blobs(10, 300, dim, 11);
        let mut p = Params::new(k, 3);
        p.max_points_per_centroid = usize::MAX;
        let km = train(&data, dim, &p).unwrap();
        assert!(km.iterations > 1, "stopped after {} iteration(s)", km.iterations);
        let (mse, next) = mse_and_step(&data, dim, &km.centroids);
        let (after, _) = mse_and_step(&data, dim, &next);
        assert!(after >= mse * (1.0 - 1e-3), "one more Lloyd step still improves the error: {mse} -> {after}");
        p.max_iter = 1;
        let one = train(&data, dim, &p).unwrap();
        let (one_mse, _) = mse_and_step(&data, dim, &one.centroids);
        assert!(mse < one_mse * 0.98, "iterations barely helped: {one_mse} -> {mse}");
    }

    #[test]
    fn subsamples_large_inputs_deterministically() {
        let data = blobs(4, 500, 3, 2);
        let mut p = Params::new(4, 8);
        p.max_points_per_centroid = 10;
        let a = train(&data, 3, &p).unwrap();
        let b = train(&data, 3, &p).unwrap();
        assert_eq!(a.centroids, b.centroids);
        for x in data.chunks_exact(3) {
            assert!(a.nearest(x).1 < 3.0);
        }
    }
}
