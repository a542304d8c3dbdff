//! k-means with k-means++ seeding and Lloyd iterations.
//!
//! Deterministic for a given seed whatever the number of rayon threads:
//! points are cut into fixed-size chunks, each chunk's partial sums are
//! computed independently, and the partials are added up in chunk order.
//! Only the per-point work runs in parallel; every random draw and every
//! floating-point reduction happens in one fixed order.
//!
//! Pure code: no Postgres call, safe to run on rayon threads.

use super::rng::Rng;
use crate::format::{Error, Result, SqlState};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Points handled by one parallel task; fixed so that results do not depend
/// on the thread count.
const CHUNK: usize = 1024;

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

/// Squared L2 distance with eight independent lanes (vectorises, and adds
/// in a fixed order).
#[inline]
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        tail += d * d;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Nearest of the `centroids.len() / dim` centroids to `x` (lowest index on
/// ties).
#[inline]
pub fn nearest(centroids: &[f32], dim: usize, x: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (c, centroid) in centroids.chunks_exact(dim).enumerate() {
        let d = l2sq(x, centroid);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

/// Centroids transposed for [`nearest_t`]: value `d` of centroid `c` at
/// `d × k + c`.
pub fn transpose(centroids: &[f32], dim: usize) -> Vec<f32> {
    let k = centroids.len() / dim.max(1);
    let mut t = vec![0f32; k * dim];
    for (c, centroid) in centroids.chunks_exact(dim).enumerate() {
        for (d, &v) in centroid.iter().enumerate() {
            t[d * k + c] = v;
        }
    }
    t
}

/// Nearest centroid to `x` (lowest index on ties) from transposed centroids
/// `ct` (see [`transpose`]); `dists` is scratch space of `k` values. The
/// distances to all `k` centroids are accumulated one dimension at a time,
/// `k` lanes wide, which vectorises where one centroid at a time (a
/// horizontal sum per centroid of a few values) does not.
#[inline]
pub fn nearest_t(ct: &[f32], x: &[f32], dists: &mut [f32]) -> (usize, f32) {
    sq_dists(ct, x, dists);
    let mut best = (0, f32::INFINITY);
    for (c, &d) in dists.iter().enumerate() {
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

#[inline(always)]
fn sq_dists_body(ct: &[f32], x: &[f32], dists: &mut [f32]) {
    let k = dists.len();
    dists.fill(0.0);
    for (d, &xv) in x.iter().enumerate() {
        for (o, &c) in dists.iter_mut().zip(&ct[d * k..(d + 1) * k]) {
            let t = xv - c;
            *o += t * t;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sq_dists_avx2(ct: &[f32], x: &[f32], dists: &mut [f32]) {
    sq_dists_body(ct, x, dists)
}

/// `dists[c] = ‖x - centroid c‖²` for transposed centroids.
pub fn sq_dists(ct: &[f32], x: &[f32], dists: &mut [f32]) {
    assert_eq!(ct.len(), x.len() * dists.len(), "transposed centroids do not match");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { sq_dists_avx2(ct, x, dists) };
    }
    sq_dists_body(ct, x, dists)
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
    let subset;
    let data = if n > cap {
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..cap {
            let j = i + rng.below(n - i);
            idx.swap(i, j);
        }
        idx.truncate(cap);
        idx.sort_unstable();
        subset = idx.iter().flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied()).collect::<Vec<f32>>();
        &subset[..]
    } else {
        data
    };
    let n = data.len() / dim;

    let mut centroids = plus_plus(data, dim, k, &mut rng, cancel)?;
    let mut assign = vec![u32::MAX; n];
    let mut dist = vec![0f32; n];
    let mut prev_mse = f64::INFINITY;
    let mut mse = f64::INFINITY;
    let mut iterations = 0;
    for _ in 0..params.max_iter.max(1) {
        if cancel.load(Ordering::Relaxed) {
            return Err(cancelled());
        }
        iterations += 1;
        let (sums, counts, total, changed) = assign_and_sum(data, dim, &centroids, k, &mut assign, &mut dist);
        mse = total / n as f64;
        // New centroids: means of their points.
        let mut empty = Vec::new();
        for c in 0..k {
            if counts[c] == 0 {
                empty.push(c);
                continue;
            }
            let sum = &sums[c * dim..(c + 1) * dim];
            let scale = if params.spherical {
                let norm = sum.iter().map(|v| v * v).sum::<f64>().sqrt();
                // A zero sum (opposite points) has no direction: keep the mean.
                if norm > 0.0 {
                    1.0 / norm
                } else {
                    1.0 / counts[c] as f64
                }
            } else {
                1.0 / counts[c] as f64
            };
            for j in 0..dim {
                centroids[c * dim + j] = (sum[j] * scale) as f32;
            }
        }
        // An empty cluster takes the point farthest from its centroid (in
        // index order on ties), which then counts as served.
        for c in empty {
            let far = (0..n).fold(0, |best, i| if dist[i] > dist[best] { i } else { best });
            centroids[c * dim..(c + 1) * dim].copy_from_slice(&data[far * dim..(far + 1) * dim]);
            dist[far] = 0.0;
        }
        // No improvement to measure after the first pass: its `prev_mse` is
        // infinite, and inf - mse <= tol * inf would stop at seeding quality.
        let converged =
            changed == 0 || (prev_mse.is_finite() && (prev_mse - mse) <= params.tol * prev_mse.max(f64::MIN_POSITIVE));
        prev_mse = mse;
        if converged {
            break;
        }
    }
    Ok(KMeans { dim, k, centroids, iterations, mse })
}

/// k-means++ seeding (Arthur and Vassilvitskii): each next centroid is a
/// point drawn with probability proportional to its squared distance to the
/// nearest centroid so far.
fn plus_plus(data: &[f32], dim: usize, k: usize, rng: &mut Rng, cancel: &AtomicBool) -> Result<Vec<f32>> {
    let n = data.len() / dim;
    let mut centroids = Vec::with_capacity(k * dim);
    let first = rng.below(n);
    centroids.extend_from_slice(&data[first * dim..(first + 1) * dim]);
    let mut d2: Vec<f32> = vec![f32::INFINITY; n];
    let mut last = first;
    for _ in 1..k {
        if cancel.load(Ordering::Relaxed) {
            return Err(cancelled());
        }
        let c = &data[last * dim..(last + 1) * dim];
        d2.par_chunks_mut(CHUNK).enumerate().for_each(|(ci, chunk)| {
            for (o, d) in chunk.iter_mut().enumerate() {
                let i = ci * CHUNK + o;
                let x = l2sq(&data[i * dim..(i + 1) * dim], c);
                if x < *d {
                    *d = x;
                }
            }
        });
        let total: f64 = d2.iter().map(|&d| f64::from(d)).sum();
        last = if total > 0.0 && total.is_finite() {
            let mut r = rng.next_f64() * total;
            let mut pick = n - 1;
            for (i, &d) in d2.iter().enumerate() {
                r -= f64::from(d);
                if r < 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            // Every point sits on a centroid already: any point will do.
            rng.below(n)
        };
        centroids.extend_from_slice(&data[last * dim..(last + 1) * dim]);
    }
    Ok(centroids)
}

/// One assignment pass: sets `assign`/`dist` and returns per-centroid sums
/// (f64), counts, the total squared error and how many points moved.
fn assign_and_sum(
    data: &[f32],
    dim: usize,
    centroids: &[f32],
    k: usize,
    assign: &mut [u32],
    dist: &mut [f32],
) -> (Vec<f64>, Vec<u64>, f64, usize) {
    let ct = transpose(centroids, dim);
    let partials: Vec<(Vec<f64>, Vec<u64>, f64, usize)> = assign
        .par_chunks_mut(CHUNK)
        .zip(dist.par_chunks_mut(CHUNK))
        .enumerate()
        .map(|(ci, (a, d))| {
            let mut scratch = vec![0f32; k];
            let mut sums = vec![0f64; k * dim];
            let mut counts = vec![0u64; k];
            let mut total = 0f64;
            let mut changed = 0;
            for o in 0..a.len() {
                let i = ci * CHUNK + o;
                let x = &data[i * dim..(i + 1) * dim];
                let (c, dd) = nearest_t(&ct, x, &mut scratch);
                if a[o] != c as u32 {
                    changed += 1;
                    a[o] = c as u32;
                }
                d[o] = dd;
                total += f64::from(dd);
                counts[c] += 1;
                for (s, &v) in sums[c * dim..(c + 1) * dim].iter_mut().zip(x) {
                    *s += f64::from(v);
                }
            }
            (sums, counts, total, changed)
        })
        .collect();
    let mut sums = vec![0f64; k * dim];
    let mut counts = vec![0u64; k];
    let mut total = 0f64;
    let mut changed = 0;
    for (s, c, t, ch) in partials {
        for (a, b) in sums.iter_mut().zip(&s) {
            *a += b;
        }
        for (a, b) in counts.iter_mut().zip(&c) {
            *a += b;
        }
        total += t;
        changed += ch;
    }
    (sums, counts, total, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

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
