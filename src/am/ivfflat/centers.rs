//! The lists' centers: k-means ([`crate::quant::kmeans`], parallel with
//! rayon) on a sample of the rows. Pure: no Postgres call, so it may run on
//! rayon threads.

use crate::format::Error;
use crate::quant::kmeans::{self, Params};
use crate::quant::rng::Rng;
use std::sync::atomic::AtomicBool;

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
        // pgvector trains on 50 samples per list; more barely move centers.
        params.max_points_per_centroid = 64;
        let mut centers = kmeans::train_cancellable(&samples, dim, &params, cancel)?.centroids;
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

    #[test]
    fn spherical_centers_are_unit() {
        let samples: Vec<f32> = (0..400).map(|i| (i % 13) as f32 + 1.0).collect();
        for row in train(&samples, 4, 3, true).chunks(4) {
            let n: f32 = row.iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-4);
        }
    }
}
