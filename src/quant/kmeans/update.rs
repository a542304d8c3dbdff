//! Lloyd's update step: each centroid becomes the mean of its points.

use rayon::prelude::*;

/// New centroids from the assignment: means (unit-length directions when
/// `spherical`) of their points, each summed in f64 in point order so the
/// result does not depend on the thread count. An empty cluster takes the
/// point farthest from its centroid (`dist`; lowest index on ties), which
/// then counts as served.
pub fn means(data: &[f32], dim: usize, k: usize, assign: &[u32], dist: &[f32], spherical: bool, centroids: &mut [f32]) {
    // The points of each centroid, in index order (a counting sort).
    let mut start = vec![0usize; k + 1];
    for &a in assign {
        start[a as usize + 1] += 1;
    }
    for c in 0..k {
        start[c + 1] += start[c];
    }
    let mut members = vec![0u32; assign.len()];
    let mut next = start.clone();
    for (i, &a) in assign.iter().enumerate() {
        members[next[a as usize]] = i as u32;
        next[a as usize] += 1;
    }
    centroids.par_chunks_mut(dim).enumerate().for_each_init(
        || vec![0f64; dim],
        |sum, (c, out)| {
            let points = &members[start[c]..start[c + 1]];
            if points.is_empty() {
                return;
            }
            sum.fill(0.0);
            for &i in points {
                for (s, &v) in sum.iter_mut().zip(&data[i as usize * dim..(i as usize + 1) * dim]) {
                    *s += f64::from(v);
                }
            }
            let scale = if spherical {
                let norm = sum.iter().map(|v| v * v).sum::<f64>().sqrt();
                // A zero sum (opposite points) has no direction: keep the mean.
                if norm > 0.0 {
                    1.0 / norm
                } else {
                    1.0 / points.len() as f64
                }
            } else {
                1.0 / points.len() as f64
            };
            for (o, s) in out.iter_mut().zip(sum.iter()) {
                *o = (s * scale) as f32;
            }
        },
    );
    let empty: Vec<usize> = (0..k).filter(|&c| start[c] == start[c + 1]).collect();
    if empty.is_empty() {
        return;
    }
    let mut dist = dist.to_vec();
    for c in empty {
        let far = (0..dist.len()).fold(0, |best, i| if dist[i] > dist[best] { i } else { best });
        centroids[c * dim..(c + 1) * dim].copy_from_slice(&data[far * dim..(far + 1) * dim]);
        dist[far] = 0.0;
    }
}
