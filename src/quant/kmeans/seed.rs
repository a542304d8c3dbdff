//! k-means++ seeding (Arthur and Vassilvitskii).

use super::kernels::l2sq;
use super::{cancelled, CHUNK};
use crate::format::Result;
use crate::quant::rng::Rng;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// k-means++ seeding (Arthur and Vassilvitskii): each next centroid is a
/// point drawn with probability proportional to its squared distance to the
/// nearest centroid so far.
pub(super) fn plus_plus(data: &[f32], dim: usize, k: usize, rng: &mut Rng, cancel: &AtomicBool) -> Result<Vec<f32>> {
    let n = data.len() / dim;
    let mut centroids = Vec::with_capacity(k * dim);
    let first = rng.below(n);
    centroids.extend_from_slice(&data[first * dim..(first + 1) * dim]);
    let mut d2: Vec<f32> = vec![f32::INFINITY; n];
    // Each point's nearest centroid so far: a new centroid at least twice a
    // point's distance from that one cannot be nearer (triangle
    // inequality), which spares most points most rounds.
    let mut near: Vec<u32> = vec![0; n];
    let mut last = first;
    for round in 1..k {
        if cancel.load(Ordering::Relaxed) {
            return Err(cancelled());
        }
        let c = &data[last * dim..(last + 1) * dim];
        // Squared distances from the new centroid (number `round - 1`) to
        // every earlier one, itself included (zero).
        let apart: Vec<f32> = centroids.chunks_exact(dim).map(|o| l2sq(o, c)).collect();
        let newest = (round - 1) as u32;
        d2.par_chunks_mut(CHUNK).zip(near.par_chunks_mut(CHUNK)).enumerate().for_each(|(ci, (d2, near))| {
            for (o, (d, a)) in d2.iter_mut().zip(near.iter_mut()).enumerate() {
                // |c - near| >= 2 |x - near| means |x - c| >= |x - near|.
                if apart[*a as usize] >= 4.0 * *d {
                    continue;
                }
                let i = ci * CHUNK + o;
                let x = l2sq(&data[i * dim..(i + 1) * dim], c);
                if x < *d {
                    *d = x;
                    *a = newest;
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
