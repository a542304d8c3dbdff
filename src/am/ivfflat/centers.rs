//! The lists' centers: k-means ([`crate::quant::kmeans`], parallel with
//! rayon) on a sample of the rows. Pure: no Postgres call, so it may run on
//! rayon threads.

use crate::format::Error;
use crate::quant::kmeans::{self, Params};
use crate::quant::rng::Rng;
use std::sync::atomic::AtomicBool;

/// Lloyd passes at most (see `train`).
pub const MAX_PASSES: usize = 10;

/// Fixed seed: the same rows give the same index.
pub const SEED: u64 = 0x1f1a_7c3e;

/// `lists` centers, `lists × dim` row-major, from `samples` (`n × dim`).
///
/// With fewer samples than lists (pgvector's "little data" case, the only
/// one where it does not run k-means), the samples are centers and the rest
/// are random points in the samples' bounding box (unit cube without
/// samples), so every list exists. Otherwise k-means' errors, a cancel
/// (`cancel` set) among them, are the caller's: never silently replaced by
/// samples.
///
/// Takes the samples by value: normalising them in place rather than in a
/// copy keeps a build's peak memory at one copy of the sample.
pub fn train(
    mut samples: Vec<f32>,
    dim: usize,
    lists: usize,
    spherical: bool,
    cancel: &AtomicBool,
) -> Result<Vec<f32>, Error> {
    let n = samples.len().checked_div(dim).unwrap_or(0);
    if spherical {
        for row in samples.chunks_mut(dim) {
            normalize(row);
        }
    }
    if n >= lists {
        let mut params = Params::new(lists, SEED);
        // Every sample, as pgvector: the build already drew pgvector's
        // sample size (50 a list, at least 10,000), and a subset of it
        // trained measurably worse lists when the floor of 10,000 dominates.
        params.max_points_per_centroid = n.div_ceil(lists);
        // Unit centers at every step (pgvector's spherical k-means), not only
        // at the end: lists are then cells of inner product during training
        // too, as the scan ranks them.
        params.spherical = spherical;
        // Ten passes, as Faiss trains its IVF coarse quantizers: on 50,000
        // MiniLM embeddings and 1,000 lists the error after 10 was 0.5%
        // above its value at convergence (19 passes), at half the time, and
        // recall at equal probes stayed at pgvector's (docs/performance.md).
        params.max_iter = MAX_PASSES;
        // k-means' matrix products lose precision with the squared norms
        // (`‖x‖² + ‖c‖² − 2·x·c`): far from the origin, train on samples
        // moved to their mean, which changes no L2 distance.
        let mean = if spherical { None } else { Some(center_on_mean(&mut samples, dim)) };
        let mut centers = kmeans::train_cancellable(&samples, dim, &params, cancel)?.centroids;
        if let Some(mean) = mean {
            for row in centers.chunks_mut(dim) {
                for (v, m) in row.iter_mut().zip(&mean) {
                    *v = (f64::from(*v) + m) as f32;
                }
            }
        }
        if spherical {
            for row in centers.chunks_mut(dim) {
                normalize(row);
            }
        }
        return Ok(centers);
    }
    let mut centers = samples[..n.min(lists) * dim].to_vec();
    let (mut lo, mut hi) = (vec![0f32; dim], vec![1f32; dim]);
    if n > 0 {
        for d in 0..dim {
            lo[d] = (0..n).map(|i| samples[i * dim + d]).fold(f32::INFINITY, f32::min);
            hi[d] = (0..n).map(|i| samples[i * dim + d]).fold(f32::NEG_INFINITY, f32::max);
        }
    }
    let mut rng = Rng::new(SEED);
    while centers.len() < lists * dim {
        for d in 0..dim {
            centers.push(lo[d] + (hi[d] - lo[d]) * rng.next_f64() as f32);
        }
    }
    Ok(centers)
}

/// Subtracts the rows' mean from each row; returns the mean.
fn center_on_mean(rows: &mut [f32], dim: usize) -> Vec<f64> {
    let n = rows.len() / dim.max(1);
    let mut mean = vec![0f64; dim];
    for row in rows.chunks(dim) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    for m in &mut mean {
        *m /= n.max(1) as f64;
    }
    for row in rows.chunks_mut(dim) {
        for (v, m) in row.iter_mut().zip(&mean) {
            *v = (f64::from(*v) - m) as f32;
        }
    }
    mean
}

fn normalize(row: &mut [f32]) {
    let norm = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        for v in row {
            *v = (f64::from(*v) / norm) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::kmeans;

    fn train(samples: &[f32], dim: usize, lists: usize, spherical: bool) -> Vec<f32> {
        super::train(samples.to_vec(), dim, lists, spherical, &AtomicBool::new(false)).expect("trains")
    }

    #[test]
    fn a_cancel_is_an_error_not_a_fallback() {
        let samples: Vec<f32> = (0..400).map(|i| (i % 13) as f32).collect();
        let err = super::train(samples, 4, 3, false, &AtomicBool::new(true));
        assert!(err.is_err(), "a cancelled k-means must not fall back to samples as centers");
    }

    #[test]
    fn as_many_centers_as_lists_whatever_the_samples() {
        for n in [0usize, 1, 3, 10, 200] {
            let samples: Vec<f32> = (0..n * 4).map(|i| (i % 7) as f32).collect();
            let c = train(&samples, 4, 5, false);
            assert_eq!(c.len(), 20, "n = {n}");
            assert!(c.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn separated_clusters_get_their_own_center() {
        let mut samples = Vec::new();
        for i in 0..300 {
            let base = [0.0f32, 100.0, -100.0][i % 3];
            samples.extend_from_slice(&[base + (i % 5) as f32 * 0.01, base]);
        }
        let c = train(&samples, 2, 3, false);
        let mut firsts: Vec<i32> = c.chunks(2).map(|r| r[1].round() as i32).collect();
        firsts.sort();
        assert_eq!(firsts, vec![-100, 0, 100]);
    }

    /// `clusters` Gaussian blobs in `dim` dimensions, centres N(0, 1), blob
    /// `c` of standard deviation `0.05 × (1 + c % 4) × √dim` per value;
    /// normalised when `unit`.
    fn gaussian_blobs(n: usize, dim: usize, clusters: usize, seed: u64, unit: bool) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        let mut gauss = move || {
            let (u, v) = (rng.next_f64().max(1e-12), rng.next_f64());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        let centres: Vec<f64> = (0..clusters * dim).map(|_| gauss()).collect();
        let mut out = Vec::with_capacity(n * dim);
        for i in 0..n {
            let c = i % clusters;
            let spread = 0.05 * (1 + c % 4) as f64 * (dim as f64).sqrt();
            let mut row: Vec<f32> = (0..dim).map(|j| (centres[c * dim + j] + gauss() * spread) as f32).collect();
            if unit {
                normalize(&mut row);
            }
            out.extend(row);
        }
        out
    }

    /// How far `centers` are from a fixed point of Lloyd's step under the
    /// scan's ranking: the smallest cosine (spherical) or largest squared
    /// distance (L2) between a center and the (normalised) mean of the
    /// samples whose nearest center it is.
    fn drift(samples: &[f32], dim: usize, centers: &[f32], spherical: bool) -> f64 {
        let k = centers.len() / dim;
        let mut sums = vec![0f64; k * dim];
        for x in samples.chunks(dim) {
            let c = if spherical {
                // Largest inner product, as the scan ranks lists.
                (0..k)
                    .map(|c| (c, -x.iter().zip(&centers[c * dim..(c + 1) * dim]).map(|(a, b)| a * b).sum::<f32>()))
                    .fold((0, f32::INFINITY), |best, (c, d)| if d < best.1 { (c, d) } else { best })
                    .0
            } else {
                kmeans::nearest(centers, dim, x).0
            };
            for (s, &v) in sums[c * dim..(c + 1) * dim].iter_mut().zip(x) {
                *s += f64::from(v);
            }
        }
        let counts: Vec<usize> = {
            let mut n = vec![0; k];
            for x in samples.chunks(dim) {
                n[kmeans::nearest(centers, dim, x).0] += 1;
            }
            n
        };
        let mut worst = if spherical { 1.0f64 } else { 0.0 };
        for c in 0..k {
            let sum = &sums[c * dim..(c + 1) * dim];
            let center = &centers[c * dim..(c + 1) * dim];
            if spherical {
                let norm = sum.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > 0.0 {
                    let cos = sum.iter().zip(center).map(|(s, &v)| s * f64::from(v)).sum::<f64>() / norm;
                    worst = worst.min(cos);
                }
            } else if counts[c] > 0 {
                let d = sum.iter().zip(center).map(|(s, &v)| (s / counts[c] as f64 - f64::from(v)).powi(2)).sum();
                worst = worst.max(d);
            }
        }
        worst
    }

    #[test]
    fn centers_are_a_fixed_point_of_lloyd() {
        // Twice as many lists as blobs: seeding alone leaves centers far from
        // where iterations take them (k-means once stopped after its first
        // pass). Blob radii are 0.15 to 0.6 times the centres' distance.
        let (dim, lists) = (16, 40);
        let samples = gaussian_blobs(4000, dim, 20, 5, false);
        let c = train(&samples, dim, lists, false);
        // Measured: 0.05 after the build's MAX_PASSES (10), 0.004 at
        // convergence, 1.2 after one pass; the samples' mean squared error
        // is 4.3.
        let d = drift(&samples, dim, &c, false);
        assert!(d < 0.2, "a center is {d} (squared) from the mean of its list");
    }

    #[test]
    fn far_from_the_origin_too() {
        // Wide rows (the matrix-product path) around a point 1,000 from the
        // origin: without moving them to their mean the products' rounding
        // (about 1e-7 of ‖x‖² = 6e7) is as large as the blobs' spread.
        let (dim, lists) = (64, 40);
        let mut samples = gaussian_blobs(4000, dim, 20, 5, false);
        for v in &mut samples {
            *v += 1000.0;
        }
        let c = train(&samples, dim, lists, false);
        let d = drift(&samples, dim, &c, false);
        assert!(d < 0.2 * dim as f64 / 16.0, "a center is {d} (squared) from the mean of its list");
    }

    #[test]
    fn spherical_centers_are_a_fixed_point_under_inner_product() {
        // The cells are the scan's: largest inner product with unit centers.
        let (dim, lists) = (16, 40);
        let samples = gaussian_blobs(4000, dim, 20, 5, true);
        let c = train(&samples, dim, lists, true);
        // Measured: 0.9997, 0.96 after one pass.
        let cos = drift(&samples, dim, &c, true);
        assert!(cos > 0.999, "a center's cosine to the mean direction of its list is {cos}");
    }

    #[test]
    fn spherical_centers_are_unit() {
        let samples: Vec<f32> = (0..400).map(|i| (i % 13) as f32 + 1.0).collect();
        for row in train(&samples, 4, 3, true).chunks(4) {
            let n: f32 = row.iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-4);
        }
    }
}
