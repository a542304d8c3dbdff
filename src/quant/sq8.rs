//! Scalar quantization to one byte per dimension.
//!
//! Each dimension `i` has its own range `[min_i, min_i + 255·scale_i]`
//! learnt from a sample (its minimum and maximum); a value becomes
//! `round((x - min) / scale)` clamped to `0..=255`, and decodes to
//! `min + code·scale`. Per-dimension ranges cost `8 × dims` bytes once and
//! keep the error at most `scale_i / 2` inside the trained range, where a
//! single global range would waste the bytes of narrow dimensions.
//!
//! **A code** is the `dims` bytes, then its norm `N = Σ (scale_i·e_i)²` as a
//! little-endian `f32`, where `e_i = c_i - 127.5` is the byte centred on its
//! range (`x̂_i = mid_i + scale_i·e_i`, `mid_i = min_i + 127.5·scale_i`).
//!
//! **Distances** are asymmetric: the query stays exact, and everything that
//! depends on it alone is folded in once per query, so that the loop over a
//! code is one integer dot product `Σ W_i·c_i` of the code's bytes with
//! per-query weights `W` rounded to `i16` (`W_i ≈ w_i / δ`):
//!
//! * L2²: `Σ (a_i - scale_i·e_i)² = A - 2·Σ w_i·e_i + N` with `a = q - mid`,
//!   `w = a·scale`, `A = Σ a_i²`;
//! * inner product: `Σ q_i·x̂_i = Σ q_i·mid_i + Σ w_i·e_i` with `w = q·scale`;
//!
//! and `Σ w_i·e_i ≈ δ·(Σ W_i·c_i - 127.5·Σ W_i)`. The dot product is exact in
//! integers (every build, scalar, AVX2 or AVX-512, gives the same bits), and
//! it is the whole cost of a distance: a load, a widening and one
//! multiply-add per 16 or 32 dimensions, where a float loop converts every
//! byte. Rounding `w` to 16 bits errs by at most `δ/2 = max|w| / 65534` per
//! weight, a hundred times less than the code's own rounding; centring the
//! bytes on their range keeps `A`, `N` and the dot product near the size of
//! the distances they make, so little cancels.
//!
//! Cosine (not used by the index, which compares unit vectors by inner
//! product) decodes each value and sums `q·x̂` and `|x̂|²` in one pass.

use super::codec;
use super::Metric;
use crate::format::{Error, Result, SqlState};

/// The layout tag written before the ranges: codes carry their norm.
const LAYOUT_WITH_NORM: u8 = 2;
/// Bytes of the norm after a code's bytes.
const NORM_BYTES: usize = 4;
/// Centre of a byte's range.
const CENTRE: f64 = 127.5;
/// Largest magnitude of a query weight.
const WEIGHT_MAX: f64 = 32767.0;

#[derive(Clone, Debug, PartialEq)]
pub struct Sq8 {
    min: Vec<f32>,
    /// `(max - min) / 255`; 0 for a dimension with a single value.
    scale: Vec<f32>,
}

impl Sq8 {
    /// Per-dimension ranges of `data` (`n × dims`, `n >= 1`).
    pub fn train(data: &[f32], dims: usize) -> Result<Sq8> {
        if dims == 0 || data.is_empty() || !data.len().is_multiple_of(dims) {
            return Err(Error::new(
                SqlState::DataException,
                format!("sq8 needs at least one training vector of {dims} dimensions"),
            ));
        }
        if data.iter().any(|x| !x.is_finite()) {
            return Err(Error::new(SqlState::DataException, "sq8: training data must be finite"));
        }
        let mut min = vec![f32::INFINITY; dims];
        let mut max = vec![f32::NEG_INFINITY; dims];
        for x in data.chunks_exact(dims) {
            for i in 0..dims {
                min[i] = min[i].min(x[i]);
                max[i] = max[i].max(x[i]);
            }
        }
        let scale = min.iter().zip(&max).map(|(lo, hi)| (f64::from(*hi) - f64::from(*lo)) as f32 / 255.0).collect();
        Ok(Sq8 { min, scale })
    }

    pub fn dims(&self) -> usize {
        self.min.len()
    }

    /// Bytes of a code: a byte per dimension and the norm.
    pub fn code_size(&self) -> usize {
        Self::code_size_of(self.dims())
    }

    /// Bytes of a code of `dims` dimensions.
    pub const fn code_size_of(dims: usize) -> usize {
        dims + NORM_BYTES
    }

    /// `mid_i` of every dimension, in f64.
    fn mid(&self, i: usize) -> f64 {
        f64::from(self.min[i]) + CENTRE * f64::from(self.scale[i])
    }

    pub fn encode(&self, x: &[f32], out: &mut [u8]) {
        let dims = self.dims();
        let mut norm = 0f64;
        for i in 0..dims {
            let s = self.scale[i];
            let c = if s > 0.0 { ((x[i] - self.min[i]) / s).round().clamp(0.0, 255.0) as u8 } else { 0 };
            out[i] = c;
            let v = f64::from(s) * (f64::from(c) - CENTRE);
            norm += v * v;
        }
        out[dims..dims + NORM_BYTES].copy_from_slice(&(norm as f32).to_le_bytes());
    }

    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        for i in 0..self.dims() {
            out[i] = self.min[i] + self.scale[i] * f32::from(code[i]);
        }
    }

    pub fn query(&self, q: &[f32], metric: Metric) -> Sq8Query {
        let d = self.dims();
        let scale = |i: usize| f64::from(self.scale[i]);
        let (w, constant): (Vec<f64>, f64) = match metric {
            // L2²: w = (q - mid)·scale, constant A = Σ (q - mid)².
            Metric::L2Squared => {
                let a: Vec<f64> = (0..d).map(|i| f64::from(q[i]) - self.mid(i)).collect();
                ((0..d).map(|i| a[i] * scale(i)).collect(), a.iter().map(|v| v * v).sum())
            }
            // Inner product: w = q·scale, constant Σ q·mid.
            Metric::NegativeInnerProduct => (
                (0..d).map(|i| f64::from(q[i]) * scale(i)).collect(),
                (0..d).map(|i| f64::from(q[i]) * self.mid(i)).sum(),
            ),
            Metric::Cosine => (Vec::new(), 0.0),
        };
        let largest = w.iter().fold(0f64, |m, v| m.max(v.abs()));
        let step = if largest > 0.0 && largest.is_finite() { largest / WEIGHT_MAX } else { 1.0 };
        let weights: Vec<i16> = w.iter().map(|v| (v / step).round().clamp(-WEIGHT_MAX, WEIGHT_MAX) as i16).collect();
        let weight_sum: i64 = weights.iter().map(|&v| i64::from(v)).sum();
        let query_norm = q.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
        let (decode_min, decode_scale) = match metric {
            Metric::Cosine => (self.min.clone(), self.scale.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        Sq8Query {
            metric,
            dims: d,
            weights,
            step,
            offset: CENTRE * weight_sum as f64,
            constant,
            query: if metric == Metric::Cosine { q.to_vec() } else { Vec::new() },
            decode_min,
            decode_scale,
            query_norm,
            simd: kernels::Simd::detect(),
        }
    }

    pub(super) fn write(&self, w: &mut codec::Writer) {
        w.u8(LAYOUT_WITH_NORM);
        w.f32s(&self.min);
        w.f32s(&self.scale);
    }

    pub(super) fn read(dims: usize, r: &mut codec::Reader) -> Result<Sq8> {
        // Quantizers written before codes carried their norm have no tag
        // (and one byte less than this reader wants, so they cannot pass
        // for the new layout): their indexes need a REINDEX.
        if r.u8()? != LAYOUT_WITH_NORM {
            return Err(Error::new(SqlState::DataException, "invalid quantizer data: unknown sq8 layout"));
        }
        let min = r.f32s(dims)?;
        let scale = r.f32s(dims)?;
        if scale.iter().any(|&s| s < 0.0) {
            return Err(Error::new(SqlState::DataException, "invalid quantizer data: negative scale"));
        }
        Ok(Sq8 { min, scale })
    }
}

#[derive(Clone, Debug)]
pub struct Sq8Query {
    metric: Metric,
    dims: usize,
    /// `W`, the weights rounded to `i16`, and the step `δ` they count in.
    weights: Vec<i16>,
    step: f64,
    /// `127.5·Σ W_i`: `Σ W_i·e_i = Σ W_i·c_i - offset`.
    offset: f64,
    /// `A` (L2²) or `Σ q·mid` (inner product).
    constant: f64,
    /// Cosine only: the query and the ranges to decode with.
    query: Vec<f32>,
    decode_min: Vec<f32>,
    decode_scale: Vec<f32>,
    query_norm: f64,
    /// Which build of the kernels runs (checked once per query).
    simd: kernels::Simd,
}

impl Sq8Query {
    #[inline(always)]
    pub fn distance(&self, code: &[u8]) -> f32 {
        debug_assert_eq!(code.len(), self.dims + NORM_BYTES);
        let (bytes, norm) = code.split_at(self.dims);
        match self.metric {
            Metric::L2Squared => {
                let norm = f64::from(f32::from_le_bytes([norm[0], norm[1], norm[2], norm[3]]));
                let dot = self.step * (kernels::dot(self.simd, bytes, &self.weights) as f64 - self.offset);
                (self.constant - 2.0 * dot + norm).max(0.0) as f32
            }
            Metric::NegativeInnerProduct => {
                let dot = self.step * (kernels::dot(self.simd, bytes, &self.weights) as f64 - self.offset);
                (-(self.constant + dot)) as f32
            }
            Metric::Cosine => {
                let [ip, nn] = kernels::cosine(self.simd, &self.query, &self.decode_min, &self.decode_scale, bytes);
                let similarity = f64::from(ip) / (self.query_norm * f64::from(nn).sqrt());
                (1.0 - similarity.clamp(-1.0, 1.0)) as f32
            }
        }
    }
}

/// The loop over a code: `Σ W_i·c_i` of bytes `c` and `i16` weights `W`,
/// exact in integers, built three ways (picked at run time, as in
/// `crate::distance`): AVX-512BW and AVX2 widen the bytes to `i16` and use
/// the multiply-add that sums adjacent products into `i32` lanes
/// (`vpmaddwd`); the portable loop does the same arithmetic.
///
/// Overflow: a product is at most `255 × 32767 < 2^23`, so an `i32` lane
/// can take 256 of them; every build adds a lane at most 128 pairs (256
/// products) at a time before widening its sum to `i64`.
mod kernels {
    /// Dimensions per block before the lane sums are widened to `i64`:
    /// 128 steps of 32 (AVX-512) or 16 (AVX2) dimensions.
    const BLOCK: usize = 4096;
    const BLOCK_AVX2: usize = 2048;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Simd {
        Portable,
        #[cfg(target_arch = "x86_64")]
        Avx2,
        #[cfg(target_arch = "x86_64")]
        Avx512,
    }

    impl Simd {
        pub fn detect() -> Simd {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512bw") {
                    return Simd::Avx512;
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    return Simd::Avx2;
                }
            }
            Simd::Portable
        }

        /// Every build this CPU can run (for tests).
        #[cfg(test)]
        pub fn available() -> Vec<Simd> {
            let mut all = vec![Simd::Portable];
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    all.push(Simd::Avx2);
                }
                if std::arch::is_x86_feature_detected!("avx512bw") {
                    all.push(Simd::Avx512);
                }
            }
            all
        }
    }

    #[inline(always)]
    pub fn dot(simd: Simd, code: &[u8], weights: &[i16]) -> i64 {
        assert_eq!(code.len(), weights.len());
        match simd {
            // SAFETY: `detect` picked this build only when the CPU reported
            // the features it is compiled for; the slices have one length.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { dot_avx512(code, weights) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { dot_avx2(code, weights) },
            Simd::Portable => dot_portable(code, weights),
        }
    }

    pub fn dot_portable(code: &[u8], weights: &[i16]) -> i64 {
        let mut total = 0i64;
        for (c, w) in code.chunks(BLOCK).zip(weights.chunks(BLOCK)) {
            let mut lanes = [0i32; 16];
            for (c, w) in c.chunks(16).zip(w.chunks(16)) {
                for l in 0..c.len() {
                    lanes[l] += i32::from(c[l]) * i32::from(w[l]);
                }
            }
            total += lanes.iter().map(|&v| i64::from(v)).sum::<i64>();
        }
        total
    }

    /// # Safety
    /// The CPU must support AVX-512F and AVX-512BW; `code` and `weights`
    /// must have the same length.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn dot_avx512(code: &[u8], weights: &[i16]) -> i64 {
        use std::arch::x86_64::*;
        let n = code.len();
        let whole = n / 32 * 32;
        let mut total = 0i64;
        let mut i = 0;
        while i < whole {
            let end = (i + BLOCK).min(whole);
            let mut acc = _mm512_setzero_si512();
            while i < end {
                // SAFETY: i + 32 <= whole <= n: 32 bytes of `code` and 32
                // weights (64 bytes) are in bounds; unaligned loads.
                let (bytes, w) = unsafe {
                    (
                        _mm256_loadu_si256(code.as_ptr().add(i).cast()),
                        _mm512_loadu_si512(weights.as_ptr().add(i).cast()),
                    )
                };
                acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_cvtepu8_epi16(bytes), w));
                i += 32;
            }
            // The 16 lanes widened to i64 before they are summed (their
            // total may pass i32).
            let low = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc));
            let high = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(acc));
            total += _mm512_reduce_add_epi64(_mm512_add_epi64(low, high));
        }
        if whole < n {
            total += dot_portable(&code[whole..], &weights[whole..]);
        }
        total
    }

    /// # Safety
    /// The CPU must support AVX2; `code` and `weights` must have the same
    /// length. (The same blocks as `dot_avx512`, at half the width.)
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn dot_avx2(code: &[u8], weights: &[i16]) -> i64 {
        use std::arch::x86_64::*;
        let n = code.len();
        let whole = n / 16 * 16;
        let mut total = 0i64;
        let mut i = 0;
        while i < whole {
            let end = (i + BLOCK_AVX2).min(whole);
            let mut acc = _mm256_setzero_si256();
            while i < end {
                // SAFETY: i + 16 <= whole <= n: 16 bytes of `code` and 16
                // weights (32 bytes) are in bounds; unaligned loads.
                let (bytes, w) = unsafe {
                    (_mm_loadu_si128(code.as_ptr().add(i).cast()), _mm256_loadu_si256(weights.as_ptr().add(i).cast()))
                };
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_cvtepu8_epi16(bytes), w));
                i += 16;
            }
            let mut lanes = [0i32; 8];
            // SAFETY: `lanes` is 32 bytes, the width of the store.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
            total += lanes.iter().map(|&v| i64::from(v)).sum::<i64>();
        }
        if whole < n {
            total += dot_portable(&code[whole..], &weights[whole..]);
        }
        total
    }

    /// Cosine (off the index's path): a float loop in 16 independent
    /// lanes, compiled for the baseline and for AVX2.
    const LANES: usize = 16;

    fn fold(acc: [f32; LANES]) -> f32 {
        let mut half = [0f32; 8];
        for i in 0..8 {
            half[i] = acc[i] + acc[i + 8];
        }
        ((half[0] + half[4]) + (half[1] + half[5])) + ((half[2] + half[6]) + (half[3] + half[7]))
    }

    /// `[Σ qᵢ·xᵢ, Σ xᵢ²]` with `xᵢ = minᵢ + scaleᵢ·cᵢ`.
    #[inline(always)]
    fn cosine_body(q: &[f32], min: &[f32], scale: &[f32], code: &[u8]) -> [f32; 2] {
        let (mut ip, mut nn) = ([0f32; LANES], [0f32; LANES]);
        let n = code.len() / LANES * LANES;
        let chunks = code[..n]
            .chunks_exact(LANES)
            .zip(q.chunks_exact(LANES))
            .zip(min.chunks_exact(LANES))
            .zip(scale.chunks_exact(LANES));
        for (((c, q), m), s) in chunks {
            for l in 0..LANES {
                let x = m[l] + s[l] * f32::from(c[l]);
                ip[l] += q[l] * x;
                nn[l] += x * x;
            }
        }
        for i in n..code.len() {
            let x = min[i] + scale[i] * f32::from(code[i]);
            ip[i - n] += q[i] * x;
            nn[i - n] += x * x;
        }
        [fold(ip), fold(nn)]
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn cosine_avx2(q: &[f32], min: &[f32], scale: &[f32], code: &[u8]) -> [f32; 2] {
        cosine_body(q, min, scale, code)
    }

    #[inline]
    pub fn cosine(simd: Simd, q: &[f32], min: &[f32], scale: &[f32], code: &[u8]) -> [f32; 2] {
        #[cfg(target_arch = "x86_64")]
        if simd != Simd::Portable {
            // SAFETY: `Avx2` and `Avx512` are only detected on CPUs with AVX2.
            return unsafe { cosine_avx2(q, min, scale, code) };
        }
        let _ = simd;
        cosine_body(q, min, scale, code)
    }

    #[cfg(test)]
    #[test]
    fn every_build_gives_the_same_sum() {
        // Lengths around the vector widths and the blocks, extreme bytes
        // and weights (the overflow bound), and ordinary ones.
        for n in [0, 1, 15, 16, 17, 31, 32, 33, 100, 2047, 2048, 2049, 4095, 4096, 4097, 9000, 16000] {
            for (name, code, weights) in [
                ("extreme", vec![255u8; n], vec![i16::MAX; n]),
                ("negative", vec![255u8; n], vec![-i16::MAX; n]),
                (
                    "mixed",
                    (0..n).map(|i| (i * 53 % 256) as u8).collect(),
                    (0..n).map(|i| ((i as i64 * 7919 % 65535) - 32767) as i16).collect::<Vec<i16>>(),
                ),
            ] {
                let want: i64 = code.iter().zip(&weights).map(|(&c, &w)| i64::from(c) * i64::from(w)).sum();
                for simd in Simd::available() {
                    assert_eq!(dot(simd, &code, &weights), want, "{name} n={n} {simd:?}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::distance::dense;
    use proptest::prelude::*;

    /// What rounding the query's weights to `i16` may cost a distance at
    /// most: half a step per weight, times `|e_i|`, twice for L2² (`-2·Σ w·e`),
    /// plus the `f32` result's own rounding.
    fn bound(table: &Sq8Query, code: &[u8], want: f64) -> f64 {
        let spread: f64 = code[..table.weights.len()].iter().map(|&c| (f64::from(c) - CENTRE).abs()).sum();
        let factor = if table.metric == Metric::L2Squared { 2.0 } else { 1.0 };
        factor * 0.5 * table.step * spread * 1.001 + 1e-6 * want.abs().max(1.0)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Inside the trained range every value comes back within half a
        /// step; the asymmetric distance is the distance to the decoded
        /// vector.
        #[test]
        fn error_bound_and_adc(dims in 1usize..40, seed in 0u64..10_000,
                               query in proptest::collection::vec(-3.0f32..3.0, 40)) {
            let data = clustered(50, dims, 3, 1.0, seed);
            let q8 = Sq8::train(&data, dims).unwrap();
            let q = &query[..dims];
            let mut code = vec![0u8; q8.code_size()];
            let mut x = vec![0f32; dims];
            for v in data.chunks_exact(dims) {
                q8.encode(v, &mut code);
                q8.decode(&code, &mut x);
                for i in 0..dims {
                    prop_assert!((v[i] - x[i]).abs() <= q8.scale[i] * 0.5 + 1e-5, "{} vs {}", v[i], x[i]);
                }
                for metric in METRICS {
                    let want = exact(metric, q, &x);
                    let table = q8.query(q, metric);
                    let got = f64::from(table.distance(&code));
                    if want.is_nan() {
                        prop_assert!(got.is_nan());
                        continue;
                    }
                    let bound = match metric {
                        Metric::Cosine => 2e-4 * want.abs().max(1.0),
                        _ => bound(&table, &code, want),
                    };
                    prop_assert!((got - want).abs() <= bound, "{:?}: {} vs {} (bound {})", metric, got, want, bound);
                }
            }
        }
    }

    /// At embedding sizes the asymmetric distance stays within the bound of
    /// the distance to the decoded vector, the bound is under 1e-3 of the
    /// distance's scale, and 200 codes ordered by it are in order by the exact
    /// distance to their decoded vectors but for pairs closer than their
    /// bounds.
    #[test]
    fn high_dimensional_distances_keep_their_order() {
        for dims in [384, 1536, 4000] {
            let data = clustered(201, dims, 5, 0.5, dims as u64);
            let q8 = Sq8::train(&data[dims..], dims).unwrap();
            let query = &data[..dims];
            let mut code = vec![0u8; q8.code_size()];
            let mut x = vec![0f32; dims];
            for metric in [Metric::L2Squared, Metric::NegativeInnerProduct] {
                let table = q8.query(query, metric);
                let mut scored: Vec<(f64, f64, f64)> = Vec::new();
                for v in data[dims..].chunks_exact(dims) {
                    q8.encode(v, &mut code);
                    q8.decode(&code[..dims], &mut x);
                    let want = exact(metric, query, &x);
                    let got = f64::from(table.distance(&code));
                    let bound = bound(&table, &code, want);
                    assert!((got - want).abs() <= bound, "{dims} {metric:?}: {got} vs {want} (bound {bound})");
                    // Relative to the distance (L2²) or to |q|·|x̂| (the
                    // scale of an inner product, which may be near zero).
                    let scale = match metric {
                        Metric::L2Squared => want.abs(),
                        _ => (dense::dot(query, query) * dense::dot(&x, &x)).sqrt(),
                    };
                    assert!(bound <= 1e-3 * scale.max(1.0), "{dims} {metric:?}: bound {bound} for {want}");
                    scored.push((got, want, bound));
                }
                scored.sort_by(|a, b| a.0.total_cmp(&b.0));
                for w in scored.windows(2) {
                    assert!(w[0].1 <= w[1].1 + w[0].2 + w[1].2, "{dims} {metric:?}: {w:?}");
                }
            }
        }
    }

    #[test]
    fn older_quantizers_without_norms_are_refused() {
        let q8 = Sq8::train(&[0.0, 1.0, 2.0, 3.0], 2).unwrap();
        let mut w = codec::Writer::new(super::super::Kind::Sq8, 2);
        w.f32s(&q8.min);
        w.f32s(&q8.scale);
        assert!(super::super::Quantizer::from_bytes(&w.finish()).is_err());
    }

    #[test]
    fn out_of_range_values_clamp() {
        let q8 = Sq8::train(&[0.0, 1.0, 2.0, 3.0], 2).unwrap();
        let mut code = [0u8; 2 + NORM_BYTES];
        q8.encode(&[-5.0, 99.0], &mut code);
        assert_eq!(code[..2], [0, 255]);
        // A constant dimension encodes to 0 and decodes to its value.
        let q8 = Sq8::train(&[4.0, 4.0], 1).unwrap();
        q8.encode(&[4.0], &mut code[..1 + NORM_BYTES]);
        let mut x = [0f32];
        q8.decode(&code[..1], &mut x);
        assert_eq!(x[0], 4.0);
        assert!(Sq8::train(&[], 2).is_err());
        // A zero query has no weights to scale; its distances still hold.
        let q8 = Sq8::train(&[0.0, 1.0, 2.0, 3.0], 2).unwrap();
        q8.encode(&[2.0, 3.0], &mut code);
        let table = q8.query(&[0.0, 0.0], Metric::L2Squared);
        let d = f64::from(table.distance(&code));
        assert!((d - 13.0).abs() <= bound(&table, &code, 13.0), "{d}");
        assert_eq!(q8.query(&[0.0, 0.0], Metric::NegativeInnerProduct).distance(&code), 0.0);
        assert!(Sq8::train(&[f32::INFINITY, 1.0], 2).is_err());
    }
}
