//! Distance kernels over `f32` slices of equal length.
//!
//! Squared L2 and the dot product run on SimSIMD, which picks AVX-512, AVX2,
//! NEON or SVE code at run time.
//!
//! SimSIMD's cosine kernel normalises with an approximate reciprocal square
//! root and returns 0 or 1 for zero vectors, where pgvector computes
//! `ab / sqrt(a² · b²)` exactly and returns NaN; three SimSIMD dot products
//! would be exact but read both vectors three times. So [`cosine_parts`]
//! gathers `a·b`, `a·a` and `b·b` in one pass and [`cosine_distance`] finishes
//! as pgvector does. SimSIMD has no L1 kernel either: [`l1`] is the same kind
//! of loop. Both are written with sixteen independent lanes so that the
//! compiler vectorises them without reassociating float additions, compiled
//! for AVX-512 and AVX2 and picked at run time.

use simsimd::SpatialSimilarity;

/// `Σ (aᵢ - bᵢ)²`
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    <f32 as SpatialSimilarity>::l2sq(a, b).unwrap_or_else(|| scalar::l2_squared(a, b))
}

/// `Σ aᵢ bᵢ`
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    <f32 as SpatialSimilarity>::dot(a, b).unwrap_or_else(|| scalar::dot(a, b))
}

/// `1 - a·b / (|a| |b|)`, with the similarity clamped to `[-1, 1]`; NaN when
/// either vector is zero, as in pgvector.
#[inline]
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let [ab, aa, bb] = cosine_parts(a, b);
    cosine_from_parts(ab, aa, bb)
}

/// Finishes a cosine distance from `a·b`, `a·a` and `b·b`.
#[inline]
pub fn cosine_from_parts(ab: f64, aa: f64, bb: f64) -> f64 {
    let similarity = ab / (aa * bb).sqrt();
    // NaN stays NaN (`clamp` passes it through).
    1.0 - similarity.clamp(-1.0, 1.0)
}

/// `[a·b, a·a, b·b]` in one pass over both vectors.
#[inline]
pub fn cosine_parts(a: &[f32], b: &[f32]) -> [f64; 3] {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { super::x86::cosine_parts_avx512(a, b) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { super::x86::cosine_parts_avx2(a, b) };
        }
    }
    scalar::cosine_parts(a, b)
}

/// `Σ |aᵢ - bᵢ|`
#[inline]
pub fn l1(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return f64::from(unsafe { super::x86::l1_avx512(a, b) });
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return f64::from(unsafe { super::x86::l1_avx2(a, b) });
        }
    }
    f64::from(scalar::l1(a, b))
}

/// `|a|`, accumulated in `f64` as pgvector's `vector_norm` does.
#[inline]
pub fn norm(a: &[f32]) -> f64 {
    a.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt()
}

/// Plain loops: the fallback on CPUs without AVX2, and readable definitions.
/// Eight independent lanes let the compiler vectorise them for the baseline
/// target without reassociating float additions.
pub mod scalar {
    const LANES: usize = 8;

    pub fn l1(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0f32; LANES];
        let mut ca = a.chunks_exact(LANES);
        let mut cb = b.chunks_exact(LANES);
        for (x, y) in (&mut ca).zip(&mut cb) {
            for i in 0..LANES {
                acc[i] += (x[i] - y[i]).abs();
            }
        }
        let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| (x - y).abs()).sum();
        acc.iter().sum::<f32>() + tail
    }

    pub fn cosine_parts(a: &[f32], b: &[f32]) -> [f64; 3] {
        let mut sums = [0f64; 3];
        for (&x, &y) in a.iter().zip(b) {
            sums[0] += f64::from(x * y);
            sums[1] += f64::from(x * x);
            sums[2] += f64::from(y * y);
        }
        sums
    }

    pub fn l2_squared(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| f64::from(x - y) * f64::from(x - y)).sum()
    }

    pub fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Exact-ish references in f64, with the sum of |terms| for a tolerance.
    fn reference(a: &[f32], b: &[f32]) -> [(f64, f64); 4] {
        let (mut l2, mut l2m, mut ip, mut ipm, mut l1r, mut aa, mut bb) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in a.iter().zip(b) {
            let (x, y) = (f64::from(x), f64::from(y));
            l2 += (x - y) * (x - y);
            l2m += (x - y) * (x - y);
            ip += x * y;
            ipm += (x * y).abs();
            l1r += (x - y).abs();
            aa += x * x;
            bb += y * y;
        }
        let cos = 1.0 - (ip / (aa * bb).sqrt()).clamp(-1.0, 1.0);
        [(l2, l2m), (ip, ipm), (l1r, l1r), (cos, 1.0)]
    }

    fn tolerance(n: usize, magnitude: f64) -> f64 {
        // f32 accumulation: error grows like sqrt(n) ulps of the magnitude.
        4.0 * f64::from(f32::EPSILON) * (n as f64).sqrt() * magnitude + 1e-12
    }

    fn vectors() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        (1usize..=4096)
            .prop_flat_map(|n| (prop::collection::vec(-10.0f32..10.0, n), prop::collection::vec(-10.0f32..10.0, n)))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn kernels_agree_with_f64_reference((a, b) in vectors()) {
            let n = a.len();
            let [(l2, l2m), (ip, ipm), (l1r, l1m), (cos, _)] = reference(&a, &b);
            prop_assert!((l2_squared(&a, &b) - l2).abs() <= tolerance(n, l2m), "l2² {} vs {}", l2_squared(&a, &b), l2);
            prop_assert!((dot(&a, &b) - ip).abs() <= tolerance(n, ipm), "dot {} vs {}", dot(&a, &b), ip);
            prop_assert!((l1(&a, &b) - l1r).abs() <= tolerance(n, l1m), "l1 {} vs {}", l1(&a, &b), l1r);
            // The dot product's absolute error, divided by |a||b|.
            let aa: f64 = a.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            let bb: f64 = b.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            let cos_tol = tolerance(n, ipm) / (aa * bb).sqrt() + tolerance(n, 1.0);
            prop_assert!((cosine_distance(&a, &b) - cos).abs() <= cos_tol, "cos {} vs {}", cosine_distance(&a, &b), cos);
            prop_assert!((norm(&a) - aa.sqrt()).abs() <= 1e-9 * aa.sqrt());

            // Every variant, not only the one this CPU dispatches to.
            let mut l1s = vec![f64::from(scalar::l1(&a, &b))];
            let mut parts = vec![scalar::cosine_parts(&a, &b)];
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: feature checked just above.
                    let (l1, p) = unsafe {
                        (crate::distance::x86::l1_avx512(&a, &b), crate::distance::x86::cosine_parts_avx512(&a, &b))
                    };
                    l1s.push(f64::from(l1));
                    parts.push(p);
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: features checked just above.
                    let (l1, p) =
                        unsafe { (crate::distance::x86::l1_avx2(&a, &b), crate::distance::x86::cosine_parts_avx2(&a, &b)) };
                    l1s.push(f64::from(l1));
                    parts.push(p);
                }
            }
            for v in l1s {
                prop_assert!((v - l1r).abs() <= tolerance(n, l1m), "l1 variant {} vs {}", v, l1r);
            }
            for [pab, paa, pbb] in parts {
                prop_assert!((pab - ip).abs() <= tolerance(n, ipm), "a·b variant {} vs {}", pab, ip);
                prop_assert!((paa - aa).abs() <= tolerance(n, aa), "a·a variant {} vs {}", paa, aa);
                prop_assert!((pbb - bb).abs() <= tolerance(n, bb), "b·b variant {} vs {}", pbb, bb);
            }
        }
    }

    #[test]
    fn small_exact_cases() {
        let a = [1.0f32, 2.0, 3.0];
        let b = [4.0f32, 5.0, 6.0];
        assert_eq!(l2_squared(&a, &b), 27.0);
        assert_eq!(dot(&a, &b), 32.0);
        assert_eq!(l1(&a, &b), 9.0);
        assert_eq!(cosine_distance(&a, &b), 1.0 - 32.0 / (14.0f64 * 77.0).sqrt());
        assert!(cosine_distance(&[0.0, 0.0], &[1.0, 1.0]).is_nan());
        assert_eq!(cosine_distance(&[1.0, 1.0], &[1.0, 1.0]), 0.0);
        assert_eq!(cosine_distance(&[1.0, 1.0], &[-1.0, -1.0]), 2.0);
    }

    #[test]
    fn every_length_and_tail() {
        for n in 1..100 {
            let a: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let b: Vec<f32> = (0..n).map(|i| (2 * i) as f32).collect();
            let want: f64 = (0..n).map(|i| i as f64).sum();
            assert_eq!(l1(&a, &b), want, "n = {n}");
            assert_eq!(f64::from(scalar::l1(&a, &b)), want, "n = {n}");
            let squares: f64 = (0..n).map(|i| (i * i) as f64).sum();
            assert_eq!(cosine_parts(&a, &b), [2.0 * squares, squares, 4.0 * squares], "n = {n}");
        }
    }
}
