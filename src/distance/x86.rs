//! Hand-written AVX-512 and AVX2 kernels for what SimSIMD does not offer in
//! the form lodestone needs: the three sums of a cosine distance in one pass,
//! and L1. Each keeps two independent accumulators per sum so that additions
//! do not wait on each other, and finishes the tail with a masked (AVX-512)
//! or scalar (AVX2) step.
//!
//! Callers check the CPU features first; every function here is `unsafe`
//! only because of its `#[target_feature]`.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

/// `[a·b, a·a, b·b]`, AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F, and `a.len() == b.len()`.
#[target_feature(enable = "avx512f")]
pub unsafe fn cosine_parts_avx512(a: &[f32], b: &[f32]) -> [f64; 3] {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut ab0, mut aa0, mut bb0) = (_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps());
    let (mut ab1, mut aa1, mut bb1) = (_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    // SAFETY: every load reads 16 floats at offsets below `n` (checked by
    // the loop bounds) or is masked to the elements that exist.
    unsafe {
        while i + 32 <= n {
            let (x0, y0) = (_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
            let (x1, y1) = (_mm512_loadu_ps(pa.add(i + 16)), _mm512_loadu_ps(pb.add(i + 16)));
            ab0 = _mm512_fmadd_ps(x0, y0, ab0);
            aa0 = _mm512_fmadd_ps(x0, x0, aa0);
            bb0 = _mm512_fmadd_ps(y0, y0, bb0);
            ab1 = _mm512_fmadd_ps(x1, y1, ab1);
            aa1 = _mm512_fmadd_ps(x1, x1, aa1);
            bb1 = _mm512_fmadd_ps(y1, y1, bb1);
            i += 32;
        }
        while i < n {
            let left = n - i;
            let mask: __mmask16 = if left >= 16 { 0xffff } else { (1u16 << left) - 1 };
            let x = _mm512_maskz_loadu_ps(mask, pa.add(i));
            let y = _mm512_maskz_loadu_ps(mask, pb.add(i));
            ab0 = _mm512_fmadd_ps(x, y, ab0);
            aa0 = _mm512_fmadd_ps(x, x, aa0);
            bb0 = _mm512_fmadd_ps(y, y, bb0);
            i += 16;
        }
    }
    [
        f64::from(_mm512_reduce_add_ps(_mm512_add_ps(ab0, ab1))),
        f64::from(_mm512_reduce_add_ps(_mm512_add_ps(aa0, aa1))),
        f64::from(_mm512_reduce_add_ps(_mm512_add_ps(bb0, bb1))),
    ]
}

/// `Σ |aᵢ - bᵢ|`, AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F, and `a.len() == b.len()`.
#[target_feature(enable = "avx512f")]
pub unsafe fn l1_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut s0, mut s1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    // SAFETY: as in `cosine_parts_avx512`.
    unsafe {
        while i + 32 <= n {
            let d0 = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
            let d1 = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i + 16)), _mm512_loadu_ps(pb.add(i + 16)));
            s0 = _mm512_add_ps(s0, _mm512_abs_ps(d0));
            s1 = _mm512_add_ps(s1, _mm512_abs_ps(d1));
            i += 32;
        }
        while i < n {
            let left = n - i;
            let mask: __mmask16 = if left >= 16 { 0xffff } else { (1u16 << left) - 1 };
            let d = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, pa.add(i)), _mm512_maskz_loadu_ps(mask, pb.add(i)));
            s0 = _mm512_add_ps(s0, _mm512_abs_ps(d));
            i += 16;
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(s0, s1))
}

/// Horizontal sum of eight floats (the f16 kernels in `x86_half` use it too).
#[inline]
#[target_feature(enable = "avx")]
pub(super) fn hsum256(v: __m256) -> f32 {
    let pair = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let quad = _mm_add_ps(pair, _mm_movehl_ps(pair, pair));
    let one = _mm_add_ss(quad, _mm_shuffle_ps::<0b01>(quad, quad));
    _mm_cvtss_f32(one)
}

/// `[a·b, a·a, b·b]`, AVX2 and FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `a.len() == b.len()`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn cosine_parts_avx2(a: &[f32], b: &[f32]) -> [f64; 3] {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut ab0, mut aa0, mut bb0) = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
    let (mut ab1, mut aa1, mut bb1) = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    // SAFETY: every load reads 8 floats at offsets below `n`.
    unsafe {
        while i + 16 <= n {
            let (x0, y0) = (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            let (x1, y1) = (_mm256_loadu_ps(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)));
            ab0 = _mm256_fmadd_ps(x0, y0, ab0);
            aa0 = _mm256_fmadd_ps(x0, x0, aa0);
            bb0 = _mm256_fmadd_ps(y0, y0, bb0);
            ab1 = _mm256_fmadd_ps(x1, y1, ab1);
            aa1 = _mm256_fmadd_ps(x1, x1, aa1);
            bb1 = _mm256_fmadd_ps(y1, y1, bb1);
            i += 16;
        }
    }
    let mut sums = [
        f64::from(hsum256(_mm256_add_ps(ab0, ab1))),
        f64::from(hsum256(_mm256_add_ps(aa0, aa1))),
        f64::from(hsum256(_mm256_add_ps(bb0, bb1))),
    ];
    for (&x, &y) in a[i..n].iter().zip(&b[i..n]) {
        sums[0] += f64::from(x * y);
        sums[1] += f64::from(x * x);
        sums[2] += f64::from(y * y);
    }
    sums
}

/// `Σ |aᵢ - bᵢ|`, AVX2.
///
/// # Safety
/// The CPU must support AVX2, and `a.len() == b.len()`.
#[target_feature(enable = "avx2")]
pub unsafe fn l1_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let sign = _mm256_set1_ps(-0.0);
    let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    // SAFETY: every load reads 8 floats at offsets below `n`.
    unsafe {
        while i + 16 <= n {
            let d0 = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            let d1 = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)));
            s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d0));
            s1 = _mm256_add_ps(s1, _mm256_andnot_ps(sign, d1));
            i += 16;
        }
    }
    let mut sum = hsum256(_mm256_add_ps(s0, s1));
    for (&x, &y) in a[i..n].iter().zip(&b[i..n]) {
        sum += (x - y).abs();
    }
    sum
}
