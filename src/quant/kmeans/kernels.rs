//! The distance kernels of k-means' exact steps: one point against one
//! centroid, and one point against every centroid at once (transposed), the
//! latter for the few-dimensional subspaces of product quantization, where a
//! matrix product has too little depth to pay off.

/// Vectors from this long on go to SimSIMD's kernel; shorter ones (product
/// quantization's subspaces) to an inlined loop, cheaper than a call.
const SIMSIMD_FROM: usize = 32;

/// Squared L2 distance: SimSIMD's for wide vectors, else eight independent
/// lanes (vectorises, and adds in a fixed order).
#[inline]
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    if a.len() >= SIMSIMD_FROM {
        return crate::distance::dense::l2_squared(a, b) as f32;
    }
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
