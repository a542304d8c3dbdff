//! Distance kernels over `f16` slices of equal length (`halfvec`).
//!
//! pgvector converts each half to a float and accumulates in float, then
//! widens the float result to `double precision`. lodestone does the same:
//!
//! * squared L2 and the dot product run on lodestone's own AVX-512F kernels
//!   where the CPU has AVX-512F (SimSIMD's f16 kernels for a CPU without
//!   AVX-512 FP16 take 8 halves a step, and these 16: a build measuring
//!   halves is 9% faster with them), else on SimSIMD's (F16C), which also
//!   accumulate in `f32`; all read straight from the datum, with no copy
//!   into an `f32` buffer;
//! * SimSIMD's cosine normalises approximately and returns 0 for zero
//!   vectors (pgvector computes `ab / sqrt(a² · b²)` exactly and returns
//!   NaN), and it has no L1 kernel, so [`cosine_parts`] and [`l1`] are
//!   lodestone's own: AVX-512F and AVX/F16C/FMA versions picked at run time,
//!   and a portable fallback.
//!
//! Every result is rounded to `f32` before it is widened, so that it is a
//! value pgvector's float sum can take; the sums themselves may be ordered
//! differently from pgvector's compiled loops.

use half::f16;
use simsimd::SpatialSimilarity;

/// The same slice as SimSIMD's half type.
#[inline]
fn as_simsimd(x: &[f16]) -> &[simsimd::f16] {
    // SAFETY: `half::f16` and `simsimd::f16` are both `#[repr(transparent)]`
    // wrappers of a `u16` holding the IEEE binary16 bits (checked by the
    // `layouts_agree` test), so a slice of one is a valid slice of the other
    // with the same length, alignment and lifetime.
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<simsimd::f16>(), x.len()) }
}

/// A float result as pgvector returns it: a `float` widened to `double`.
#[inline]
fn widen(x: f64) -> f64 {
    f64::from(x as f32)
}

/// `Σ (aᵢ - bᵢ)²`
#[inline]
pub fn l2_squared(a: &[f16], b: &[f16]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return f64::from(unsafe { super::x86_half::l2_squared_avx512(a, b) });
    }
    match <simsimd::f16 as SpatialSimilarity>::l2sq(as_simsimd(a), as_simsimd(b)) {
        Some(d) => widen(d),
        None => f64::from(scalar::l2_squared(a, b)),
    }
}

/// `Σ aᵢ bᵢ`
#[inline]
pub fn dot(a: &[f16], b: &[f16]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return f64::from(unsafe { super::x86_half::dot_avx512(a, b) });
    }
    match <simsimd::f16 as SpatialSimilarity>::dot(as_simsimd(a), as_simsimd(b)) {
        Some(d) => widen(d),
        None => f64::from(scalar::dot(a, b)),
    }
}

/// `1 - a·b / (|a| |b|)`, with the similarity clamped to `[-1, 1]`; NaN when
/// either vector is zero, as in pgvector.
#[inline]
pub fn cosine_distance(a: &[f16], b: &[f16]) -> f64 {
    let [ab, aa, bb] = cosine_parts(a, b);
    super::dense::cosine_from_parts(ab, aa, bb)
}

/// `[a·b, a·a, b·b]` in one pass, each a float sum.
#[inline]
pub fn cosine_parts(a: &[f16], b: &[f16]) -> [f64; 3] {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { super::x86_half::cosine_parts_avx512(a, b) }.map(f64::from);
        }
        if has_f16c_fma() {
            // SAFETY: the CPU supports AVX, F16C and FMA, checked just above.
            return unsafe { super::x86_half::cosine_parts_f16c(a, b) }.map(f64::from);
        }
    }
    scalar::cosine_parts(a, b).map(f64::from)
}

/// `Σ |aᵢ - bᵢ|`
#[inline]
pub fn l1(a: &[f16], b: &[f16]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return f64::from(unsafe { super::x86_half::l1_avx512(a, b) });
        }
        if has_f16c_fma() {
            // SAFETY: the CPU supports AVX, F16C and FMA, checked just above.
            return f64::from(unsafe { super::x86_half::l1_f16c(a, b) });
        }
    }
    f64::from(scalar::l1(a, b))
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn has_f16c_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx")
        && std::arch::is_x86_feature_detected!("f16c")
        && std::arch::is_x86_feature_detected!("fma")
}

/// `|a|`, accumulated in `f64` as pgvector's `l2_norm(halfvec)` does.
#[inline]
pub fn norm(a: &[f16]) -> f64 {
    a.iter().fold(0.0, |acc, &x| acc + f64::from(x.to_f32()) * f64::from(x.to_f32())).sqrt()
}

/// Plain loops over converted elements: the fallback on CPUs without F16C,
/// and readable definitions. Eight independent lanes let the compiler
/// vectorise them without reassociating float additions.
pub mod scalar {
    use half::f16;

    const LANES: usize = 8;

    /// Folds `term(aᵢ, bᵢ)` into `K` float sums, lane by lane.
    #[inline]
    fn fold<const K: usize>(a: &[f16], b: &[f16], term: impl Fn(f32, f32) -> [f32; K]) -> [f32; K] {
        let mut acc = [[0f32; LANES]; K];
        let mut ca = a.chunks_exact(LANES);
        let mut cb = b.chunks_exact(LANES);
        for (x, y) in (&mut ca).zip(&mut cb) {
            for i in 0..LANES {
                let t = term(x[i].to_f32(), y[i].to_f32());
                for k in 0..K {
                    acc[k][i] += t[k];
                }
            }
        }
        let mut sums = acc.map(|lanes| lanes.iter().sum::<f32>());
        for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
            let t = term(x.to_f32(), y.to_f32());
            for k in 0..K {
                sums[k] += t[k];
            }
        }
        sums
    }

    pub fn l2_squared(a: &[f16], b: &[f16]) -> f32 {
        let [s] = fold(a, b, |x, y| [(x - y) * (x - y)]);
        s
    }

    pub fn dot(a: &[f16], b: &[f16]) -> f32 {
        let [s] = fold(a, b, |x, y| [x * y]);
        s
    }

    pub fn cosine_parts(a: &[f16], b: &[f16]) -> [f32; 3] {
        fold(a, b, |x, y| [x * y, x * x, y * y])
    }

    pub fn l1(a: &[f16], b: &[f16]) -> f32 {
        let [s] = fold(a, b, |x, y| [(x - y).abs()]);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layouts_agree() {
        use std::mem::{align_of, size_of};
        assert_eq!(size_of::<f16>(), size_of::<simsimd::f16>());
        assert_eq!(align_of::<f16>(), align_of::<simsimd::f16>());
        let x = [f16::from_f32(1.5), f16::from_f32(-2.0)];
        let y = as_simsimd(&x);
        assert_eq!(y[0].0, x[0].to_bits());
        assert_eq!(y[1].0, x[1].to_bits());
    }

    /// References in f64, with the sum of |terms| for a tolerance.
    fn reference(a: &[f16], b: &[f16]) -> [(f64, f64); 4] {
        let (mut l2, mut ip, mut ipm, mut l1r, mut aa, mut bb) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in a.iter().zip(b) {
            let (x, y) = (f64::from(x.to_f32()), f64::from(y.to_f32()));
            l2 += (x - y) * (x - y);
            ip += x * y;
            ipm += (x * y).abs();
            l1r += (x - y).abs();
            aa += x * x;
            bb += y * y;
        }
        let cos = 1.0 - (ip / (aa * bb).sqrt()).clamp(-1.0, 1.0);
        [(l2, l2), (ip, ipm), (l1r, l1r), (cos, 1.0)]
    }

    fn has_avx512f() -> bool {
        #[cfg(target_arch = "x86_64")]
        return std::arch::is_x86_feature_detected!("avx512f");
        #[cfg(not(target_arch = "x86_64"))]
        return false;
    }

    fn tolerance(n: usize, magnitude: f64) -> f64 {
        // f32 accumulation (and the final rounding to f32): error grows like
        // sqrt(n) ulps of the magnitude.
        4.0 * f64::from(f32::EPSILON) * (n as f64).sqrt() * magnitude + 1e-12
    }

    fn halves(n: usize) -> impl Strategy<Value = Vec<f16>> {
        prop::collection::vec((-10.0f32..10.0).prop_map(f16::from_f32), n)
    }

    fn vectors() -> impl Strategy<Value = (Vec<f16>, Vec<f16>)> {
        (1usize..=4096).prop_flat_map(|n| (halves(n), halves(n)))
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
            let aa: f64 = a.iter().map(|&x| f64::from(x.to_f32()).powi(2)).sum();
            let bb: f64 = b.iter().map(|&x| f64::from(x.to_f32()).powi(2)).sum();
            if aa > 0.0 && bb > 0.0 {
                let cos_tol = tolerance(n, ipm) / (aa * bb).sqrt() + tolerance(n, 1.0);
                prop_assert!((cosine_distance(&a, &b) - cos).abs() <= cos_tol, "cos {} vs {}", cosine_distance(&a, &b), cos);
            }
            prop_assert!((norm(&a) - aa.sqrt()).abs() <= 1e-9 * aa.sqrt());

            // Every variant, not only the one this CPU dispatches to.
            let mut l2s = vec![f64::from(scalar::l2_squared(&a, &b))];
            let mut dots = vec![f64::from(scalar::dot(&a, &b))];
            let mut l1s = vec![f64::from(scalar::l1(&a, &b))];
            let mut parts = vec![scalar::cosine_parts(&a, &b)];
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: feature checked just above.
                    l2s.push(f64::from(unsafe { crate::distance::x86_half::l2_squared_avx512(&a, &b) }));
                    // SAFETY: feature checked just above.
                    dots.push(f64::from(unsafe { crate::distance::x86_half::dot_avx512(&a, &b) }));
                    // SAFETY: feature checked just above.
                    l1s.push(f64::from(unsafe { crate::distance::x86_half::l1_avx512(&a, &b) }));
                    // SAFETY: feature checked just above.
                    parts.push(unsafe { crate::distance::x86_half::cosine_parts_avx512(&a, &b) });
                }
                if has_f16c_fma() {
                    // SAFETY: features checked just above.
                    l1s.push(f64::from(unsafe { crate::distance::x86_half::l1_f16c(&a, &b) }));
                    // SAFETY: features checked just above.
                    parts.push(unsafe { crate::distance::x86_half::cosine_parts_f16c(&a, &b) });
                }
            }
            // SimSIMD's kernels, which lodestone calls only on CPUs without
            // AVX-512F. Where AVX-512 FP16 exists, SimSIMD picks a kernel that
            // rounds through halves (44608 for 44607.07: a 1-in-10 failure of
            // this test), a kernel lodestone never dispatches to.
            if !has_avx512f() {
                l2s.push(<simsimd::f16 as SpatialSimilarity>::l2sq(as_simsimd(&a), as_simsimd(&b)).unwrap_or(f64::NAN));
                dots.push(<simsimd::f16 as SpatialSimilarity>::dot(as_simsimd(&a), as_simsimd(&b)).unwrap_or(f64::NAN));
            }
            for v in l2s {
                prop_assert!((v - l2).abs() <= tolerance(n, l2m), "l2² variant {} vs {}", v, l2);
            }
            for v in dots {
                prop_assert!((v - ip).abs() <= tolerance(n, ipm), "dot variant {} vs {}", v, ip);
            }
            for v in l1s {
                prop_assert!((v - l1r).abs() <= tolerance(n, l1m), "l1 variant {} vs {}", v, l1r);
            }
            for [pab, paa, pbb] in parts.into_iter().map(|p| p.map(f64::from)) {
                prop_assert!((pab - ip).abs() <= tolerance(n, ipm), "a·b variant {} vs {}", pab, ip);
                prop_assert!((paa - aa).abs() <= tolerance(n, aa), "a·a variant {} vs {}", paa, aa);
                prop_assert!((pbb - bb).abs() <= tolerance(n, bb), "b·b variant {} vs {}", pbb, bb);
            }
        }
    }

    fn h(values: &[f32]) -> Vec<f16> {
        values.iter().map(|&v| f16::from_f32(v)).collect()
    }

    #[test]
    fn small_exact_cases() {
        let (a, b) = (h(&[1.0, 2.0, 3.0]), h(&[4.0, 5.0, 6.0]));
        assert_eq!(l2_squared(&a, &b), 27.0);
        assert_eq!(dot(&a, &b), 32.0);
        assert_eq!(l1(&a, &b), 9.0);
        let want = 1.0 - 32.0 / (14.0f64 * 77.0).sqrt();
        assert_eq!(cosine_distance(&a, &b), want);
        assert!(cosine_distance(&h(&[0.0, 0.0]), &h(&[1.0, 1.0])).is_nan());
        assert_eq!(cosine_distance(&h(&[1.0, 1.0]), &h(&[-1.0, -1.0])), 2.0);
        assert_eq!(dot(&h(&[65504.0]), &h(&[65504.0])), 4290774016.0);
        assert_eq!(norm(&h(&[3.0, 4.0])), 5.0);
    }

    #[test]
    fn every_length_and_tail() {
        for n in 1..100 {
            let a: Vec<f16> = (0..n).map(|i| f16::from_f32(i as f32)).collect();
            let b: Vec<f16> = (0..n).map(|i| f16::from_f32((2 * i) as f32)).collect();
            let want: f64 = (0..n).map(|i| i as f64).sum();
            assert_eq!(l1(&a, &b), want, "n = {n}");
            assert_eq!(f64::from(scalar::l1(&a, &b)), want, "n = {n}");
            let squares: f64 = (0..n).map(|i| (i * i) as f64).sum();
            assert_eq!(l2_squared(&a, &b), squares, "n = {n}");
            assert_eq!(dot(&a, &b), 2.0 * squares, "n = {n}");
            assert_eq!(cosine_parts(&a, &b), [2.0 * squares, squares, 4.0 * squares], "n = {n}");
        }
    }
}
