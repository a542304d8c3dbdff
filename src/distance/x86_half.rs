//! Hand-written AVX-512F and AVX/F16C/FMA kernels over halves, for what
//! SimSIMD does not offer with pgvector's semantics: the three float sums of
//! a cosine distance in one pass, and L1. Halves are widened to floats in
//! registers (`vcvtph2ps`) and summed in floats, as pgvector's F16C code
//! does; each sum keeps two independent accumulators, and the tail (fewer
//! than one register of halves) is copied into a zeroed block so that it
//! goes through the same vector code without reading past the slices.
//!
//! Callers check the CPU features first; every function here is `unsafe`
//! only because of its `#[target_feature]`.

#![cfg(target_arch = "x86_64")]

use super::x86::hsum256;
use half::f16;
use std::arch::x86_64::*;

/// The last `n % N` halves of `x` (fewer than `N`), zero-padded to `N`.
#[inline(always)]
fn tail<const N: usize>(x: &[f16], start: usize) -> [u16; N] {
    let mut block = [0u16; N];
    for (dst, src) in block.iter_mut().zip(&x[start..]) {
        *dst = src.to_bits();
    }
    block
}

/// Sixteen halves at `p`, widened to floats.
///
/// # Safety
/// AVX-512F, and 16 readable halves at `p`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn load16(p: *const u16) -> __m512 {
    // SAFETY: the caller guarantees 32 readable bytes at `p`.
    _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(p.cast()) })
}

/// `[a·b, a·a, b·b]`, AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F, and `a.len() == b.len()`.
#[target_feature(enable = "avx512f")]
pub unsafe fn cosine_parts_avx512(a: &[f16], b: &[f16]) -> [f32; 3] {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr().cast::<u16>(), b.as_ptr().cast::<u16>());
    let zero = _mm512_setzero_ps();
    let (mut ab0, mut aa0, mut bb0) = (zero, zero, zero);
    let (mut ab1, mut aa1, mut bb1) = (zero, zero, zero);
    let mut i = 0;
    // SAFETY: each load reads 16 halves at offsets below `n` (loop bounds).
    unsafe {
        while i + 32 <= n {
            let (x0, y0) = (load16(pa.add(i)), load16(pb.add(i)));
            let (x1, y1) = (load16(pa.add(i + 16)), load16(pb.add(i + 16)));
            ab0 = _mm512_fmadd_ps(x0, y0, ab0);
            aa0 = _mm512_fmadd_ps(x0, x0, aa0);
            bb0 = _mm512_fmadd_ps(y0, y0, bb0);
            ab1 = _mm512_fmadd_ps(x1, y1, ab1);
            aa1 = _mm512_fmadd_ps(x1, x1, aa1);
            bb1 = _mm512_fmadd_ps(y1, y1, bb1);
            i += 32;
        }
        if i + 16 <= n {
            let (x, y) = (load16(pa.add(i)), load16(pb.add(i)));
            ab0 = _mm512_fmadd_ps(x, y, ab0);
            aa0 = _mm512_fmadd_ps(x, x, aa0);
            bb0 = _mm512_fmadd_ps(y, y, bb0);
            i += 16;
        }
    }
    if i < n {
        let (ta, tb) = (tail::<16>(a, i), tail::<16>(b, i));
        // SAFETY: the blocks hold 16 halves each.
        let (x, y) = unsafe { (load16(ta.as_ptr()), load16(tb.as_ptr())) };
        ab1 = _mm512_fmadd_ps(x, y, ab1);
        aa1 = _mm512_fmadd_ps(x, x, aa1);
        bb1 = _mm512_fmadd_ps(y, y, bb1);
    }
    [
        _mm512_reduce_add_ps(_mm512_add_ps(ab0, ab1)),
        _mm512_reduce_add_ps(_mm512_add_ps(aa0, aa1)),
        _mm512_reduce_add_ps(_mm512_add_ps(bb0, bb1)),
    ]
}

/// The sum of every lane of `step` folded over `a` and `b` sixteen halves
/// at a time (`step(acc, x, y)` with `x` from `a` and `y` from `b`, widened
/// to floats), in two accumulators; the tail is zero-padded, which adds
/// nothing to a sum of differences or products. The shape of the kernels
/// below; inlined into each, so that it runs with their AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[inline(always)]
unsafe fn fold16(a: &[f16], b: &[f16], step: impl Fn(__m512, __m512, __m512) -> __m512) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr().cast::<u16>(), b.as_ptr().cast::<u16>());
    // SAFETY: AVX-512F (the caller's contract); each load reads 16 halves at
    // offsets below `n` (loop bounds), or from a 16-half block.
    unsafe {
        let (mut s0, mut s1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut i = 0;
        while i + 32 <= n {
            s0 = step(s0, load16(pa.add(i)), load16(pb.add(i)));
            s1 = step(s1, load16(pa.add(i + 16)), load16(pb.add(i + 16)));
            i += 32;
        }
        if i + 16 <= n {
            s0 = step(s0, load16(pa.add(i)), load16(pb.add(i)));
            i += 16;
        }
        if i < n {
            let (ta, tb) = (tail::<16>(a, i), tail::<16>(b, i));
            s1 = step(s1, load16(ta.as_ptr()), load16(tb.as_ptr()));
        }
        _mm512_reduce_add_ps(_mm512_add_ps(s0, s1))
    }
}

/// `Σ (aᵢ - bᵢ)²`, AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F, and `a.len() == b.len()`.
#[target_feature(enable = "avx512f")]
pub unsafe fn l2_squared_avx512(a: &[f16], b: &[f16]) -> f32 {
    let step = |acc, x, y| {
        let d = _mm512_sub_ps(x, y);
        _mm512_fmadd_ps(d, d, acc)
    };
    // SAFETY: this function runs with AVX-512F.
    unsafe { fold16(a, b, step) }
}

/// `Σ aᵢ bᵢ`, AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F, and `a.len() == b.len()`.
#[target_feature(enable = "avx512f")]
pub unsafe fn dot_avx512(a: &[f16], b: &[f16]) -> f32 {
    // SAFETY: this function runs with AVX-512F.
    unsafe { fold16(a, b, |acc, x, y| _mm512_fmadd_ps(x, y, acc)) }
}

/// `Σ |aᵢ - bᵢ|`, AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F, and `a.len() == b.len()`.
#[target_feature(enable = "avx512f")]
pub unsafe fn l1_avx512(a: &[f16], b: &[f16]) -> f32 {
    // SAFETY: this function runs with AVX-512F.
    unsafe { fold16(a, b, |acc, x, y| _mm512_add_ps(acc, _mm512_abs_ps(_mm512_sub_ps(x, y)))) }
}

/// Eight halves at `p`, widened to floats.
///
/// # Safety
/// AVX and F16C, and 8 readable halves at `p`.
#[inline]
#[target_feature(enable = "avx,f16c")]
unsafe fn load8(p: *const u16) -> __m256 {
    // SAFETY: the caller guarantees 16 readable bytes at `p`.
    _mm256_cvtph_ps(unsafe { _mm_loadu_si128(p.cast()) })
}

/// `[a·b, a·a, b·b]`, AVX, F16C and FMA (every x86-64 CPU since 2013).
///
/// # Safety
/// The CPU must support AVX, F16C and FMA, and `a.len() == b.len()`.
#[target_feature(enable = "avx,f16c,fma")]
pub unsafe fn cosine_parts_f16c(a: &[f16], b: &[f16]) -> [f32; 3] {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr().cast::<u16>(), b.as_ptr().cast::<u16>());
    let zero = _mm256_setzero_ps();
    let (mut ab0, mut aa0, mut bb0) = (zero, zero, zero);
    let (mut ab1, mut aa1, mut bb1) = (zero, zero, zero);
    let mut i = 0;
    // SAFETY: each load reads 8 halves at offsets below `n` (loop bounds).
    unsafe {
        while i + 16 <= n {
            let (x0, y0) = (load8(pa.add(i)), load8(pb.add(i)));
            let (x1, y1) = (load8(pa.add(i + 8)), load8(pb.add(i + 8)));
            ab0 = _mm256_fmadd_ps(x0, y0, ab0);
            aa0 = _mm256_fmadd_ps(x0, x0, aa0);
            bb0 = _mm256_fmadd_ps(y0, y0, bb0);
            ab1 = _mm256_fmadd_ps(x1, y1, ab1);
            aa1 = _mm256_fmadd_ps(x1, x1, aa1);
            bb1 = _mm256_fmadd_ps(y1, y1, bb1);
            i += 16;
        }
        if i + 8 <= n {
            let (x, y) = (load8(pa.add(i)), load8(pb.add(i)));
            ab0 = _mm256_fmadd_ps(x, y, ab0);
            aa0 = _mm256_fmadd_ps(x, x, aa0);
            bb0 = _mm256_fmadd_ps(y, y, bb0);
            i += 8;
        }
    }
    if i < n {
        let (ta, tb) = (tail::<8>(a, i), tail::<8>(b, i));
        // SAFETY: the blocks hold 8 halves each.
        let (x, y) = unsafe { (load8(ta.as_ptr()), load8(tb.as_ptr())) };
        ab1 = _mm256_fmadd_ps(x, y, ab1);
        aa1 = _mm256_fmadd_ps(x, x, aa1);
        bb1 = _mm256_fmadd_ps(y, y, bb1);
    }
    [hsum256(_mm256_add_ps(ab0, ab1)), hsum256(_mm256_add_ps(aa0, aa1)), hsum256(_mm256_add_ps(bb0, bb1))]
}

/// `Σ |aᵢ - bᵢ|`, AVX and F16C.
///
/// # Safety
/// The CPU must support AVX and F16C, and `a.len() == b.len()`.
#[target_feature(enable = "avx,f16c")]
pub unsafe fn l1_f16c(a: &[f16], b: &[f16]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr().cast::<u16>(), b.as_ptr().cast::<u16>());
    let sign = _mm256_set1_ps(-0.0);
    let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    // SAFETY: as in `cosine_parts_f16c`.
    unsafe {
        while i + 16 <= n {
            let d0 = _mm256_sub_ps(load8(pa.add(i)), load8(pb.add(i)));
            let d1 = _mm256_sub_ps(load8(pa.add(i + 8)), load8(pb.add(i + 8)));
            s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d0));
            s1 = _mm256_add_ps(s1, _mm256_andnot_ps(sign, d1));
            i += 16;
        }
        if i + 8 <= n {
            let d = _mm256_sub_ps(load8(pa.add(i)), load8(pb.add(i)));
            s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d));
            i += 8;
        }
    }
    if i < n {
        let (ta, tb) = (tail::<8>(a, i), tail::<8>(b, i));
        // SAFETY: the blocks hold 8 halves each.
        let d = unsafe { _mm256_sub_ps(load8(ta.as_ptr()), load8(tb.as_ptr())) };
        s1 = _mm256_add_ps(s1, _mm256_andnot_ps(sign, d));
    }
    hsum256(_mm256_add_ps(s0, s1))
}
