//! Scalar quantization to one byte per dimension.
//!
//! Each dimension `i` has its own range `[min_i, min_i + 255·scale_i]`
//! learnt from a sample (its minimum and maximum); a value becomes
//! `round((x - min) / scale)` clamped to `0..=255`, and decodes to
//! `min + code·scale`. Per-dimension ranges cost `8 × dims` bytes once and
//! keep the error at most `scale_i / 2` inside the trained range, where a
//! single global range would waste the bytes of narrow dimensions.
//!
//! Asymmetric distances keep the query in `f32` and fold the ranges into it
//! once per query, so the loop per code is a convert and a fused multiply-add
//! per dimension:
//!
//! * L2²: `Σ (q'_i - scale_i·c_i)²` with `q' = q - min`;
//! * inner product: `Σ q_i·min_i + Σ (q_i·scale_i)·c_i`;
//! * cosine: decodes each value in the loop (`x̂_i = min_i + scale_i·c_i`)
//!   and sums `q·x̂` and `|x̂|²` in one pass; expanding `|x̂|²` into
//!   precomputed terms would cancel catastrophically near zero.

use super::codec;
use super::Metric;
use crate::format::{Error, Result, SqlState};

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

    pub fn encode(&self, x: &[f32], out: &mut [u8]) {
        for i in 0..self.dims() {
            let s = self.scale[i];
            out[i] = if s > 0.0 { ((x[i] - self.min[i]) / s).round().clamp(0.0, 255.0) as u8 } else { 0 };
        }
    }

    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        for i in 0..self.dims() {
            out[i] = self.min[i] + self.scale[i] * f32::from(code[i]);
        }
    }

    pub fn query(&self, q: &[f32], metric: Metric) -> Sq8Query {
        let d = self.dims();
        let (a, b, bias) = match metric {
            // L2²: a = q - min, b = scale.
            Metric::L2Squared => ((0..d).map(|i| q[i] - self.min[i]).collect(), self.scale.clone(), 0.0),
            // Inner product: a = q·scale, bias = Σ q·min.
            Metric::NegativeInnerProduct => (
                (0..d).map(|i| q[i] * self.scale[i]).collect(),
                Vec::new(),
                (0..d).map(|i| f64::from(q[i]) * f64::from(self.min[i])).sum(),
            ),
            // Cosine decodes each value: a = q, b = min (and `scale`).
            Metric::Cosine => (q.to_vec(), self.min.clone(), 0.0),
        };
        let query_norm = q.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
        Sq8Query { metric, a, b, scale: self.scale.clone(), bias, query_norm, avx2: kernels::has_avx2() }
    }

    pub(super) fn write(&self, w: &mut codec::Writer) {
        w.f32s(&self.min);
        w.f32s(&self.scale);
    }

    pub(super) fn read(dims: usize, r: &mut codec::Reader) -> Result<Sq8> {
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
    a: Vec<f32>,
    b: Vec<f32>,
    scale: Vec<f32>,
    bias: f64,
    query_norm: f64,
    /// Run the AVX2 build of the kernels (checked once per query).
    avx2: bool,
}

impl Sq8Query {
    #[inline]
    pub fn distance(&self, code: &[u8]) -> f32 {
        debug_assert_eq!(code.len(), self.a.len());
        match self.metric {
            Metric::L2Squared => kernels::l2(self.avx2, &self.a, &self.b, code),
            Metric::NegativeInnerProduct => (-(self.bias + f64::from(kernels::dot(self.avx2, &self.a, code)))) as f32,
            Metric::Cosine => {
                let [ip, nn] = kernels::cosine(self.avx2, &self.a, &self.b, &self.scale, code);
                let similarity = f64::from(ip) / (self.query_norm * f64::from(nn).sqrt());
                (1.0 - similarity.clamp(-1.0, 1.0)) as f32
            }
        }
    }
}

/// The loops over a code, written with 16 independent lanes so that they
/// vectorise without reassociating float additions, and compiled twice:
/// for the baseline target and for AVX2 (picked at run time, as in
/// `crate::distance`).
mod kernels {
    const LANES: usize = 16;

    pub fn has_avx2() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    fn fold(acc: [f32; LANES]) -> f32 {
        let mut half = [0f32; 8];
        for i in 0..8 {
            half[i] = acc[i] + acc[i + 8];
        }
        ((half[0] + half[4]) + (half[1] + half[5])) + ((half[2] + half[6]) + (half[3] + half[7]))
    }

    /// `Σ (aᵢ - bᵢ·cᵢ)²`
    #[inline(always)]
    fn l2_body(a: &[f32], b: &[f32], code: &[u8]) -> f32 {
        let mut acc = [0f32; LANES];
        let n = code.len() / LANES * LANES;
        for ((c, a), b) in code[..n].chunks_exact(LANES).zip(a.chunks_exact(LANES)).zip(b.chunks_exact(LANES)) {
            for l in 0..LANES {
                let d = a[l] - b[l] * f32::from(c[l]);
                acc[l] += d * d;
            }
        }
        for i in n..code.len() {
            let d = a[i] - b[i] * f32::from(code[i]);
            acc[i - n] += d * d;
        }
        fold(acc)
    }

    /// `Σ aᵢ·cᵢ`
    #[inline(always)]
    fn dot_body(a: &[f32], code: &[u8]) -> f32 {
        let mut acc = [0f32; LANES];
        let n = code.len() / LANES * LANES;
        for (c, a) in code[..n].chunks_exact(LANES).zip(a.chunks_exact(LANES)) {
            for l in 0..LANES {
                acc[l] += a[l] * f32::from(c[l]);
            }
        }
        for i in n..code.len() {
            acc[i - n] += a[i] * f32::from(code[i]);
        }
        fold(acc)
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
    unsafe fn l2_avx2(a: &[f32], b: &[f32], code: &[u8]) -> f32 {
        l2_body(a, b, code)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn dot_avx2(a: &[f32], code: &[u8]) -> f32 {
        dot_body(a, code)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn cosine_avx2(q: &[f32], min: &[f32], scale: &[f32], code: &[u8]) -> [f32; 2] {
        cosine_body(q, min, scale, code)
    }

    #[inline]
    pub fn l2(avx2: bool, a: &[f32], b: &[f32], code: &[u8]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: `avx2` is only true when the CPU reported AVX2.
            return unsafe { l2_avx2(a, b, code) };
        }
        let _ = avx2;
        l2_body(a, b, code)
    }

    #[inline]
    pub fn dot(avx2: bool, a: &[f32], code: &[u8]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: `avx2` is only true when the CPU reported AVX2.
            return unsafe { dot_avx2(a, code) };
        }
        let _ = avx2;
        dot_body(a, code)
    }

    #[inline]
    pub fn cosine(avx2: bool, q: &[f32], min: &[f32], scale: &[f32], code: &[u8]) -> [f32; 2] {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: `avx2` is only true when the CPU reported AVX2.
            return unsafe { cosine_avx2(q, min, scale, code) };
        }
        let _ = avx2;
        cosine_body(q, min, scale, code)
    }

    #[cfg(test)]
    #[test]
    fn both_builds_agree() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let c: Vec<u8> = (0..37).map(|i| (i * 53 % 256) as u8).collect();
        assert_eq!(l2(has_avx2(), &a, &b, &c), l2_body(&a, &b, &c));
        assert_eq!(dot(has_avx2(), &a, &c), dot_body(&a, &c));
        assert_eq!(cosine(has_avx2(), &a, &b, &a, &c), cosine_body(&a, &b, &a, &c));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use proptest::prelude::*;

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
            let mut code = vec![0u8; dims];
            let mut x = vec![0f32; dims];
            for v in data.chunks_exact(dims) {
                q8.encode(v, &mut code);
                q8.decode(&code, &mut x);
                for i in 0..dims {
                    prop_assert!((v[i] - x[i]).abs() <= q8.scale[i] * 0.5 + 1e-5, "{} vs {}", v[i], x[i]);
                }
                for metric in METRICS {
                    let want = exact(metric, q, &x);
                    let got = f64::from(q8.query(q, metric).distance(&code));
                    if want.is_nan() {
                        prop_assert!(got.is_nan());
                        continue;
                    }
                    prop_assert!((got - want).abs() <= 2e-4 * want.abs().max(1.0), "{:?}: {} vs {}", metric, got, want);
                }
            }
        }
    }

    #[test]
    fn out_of_range_values_clamp() {
        let q8 = Sq8::train(&[0.0, 1.0, 2.0, 3.0], 2).unwrap();
        let mut code = [0u8; 2];
        q8.encode(&[-5.0, 99.0], &mut code);
        assert_eq!(code, [0, 255]);
        // A constant dimension encodes to 0 and decodes to its value.
        let q8 = Sq8::train(&[4.0, 4.0], 1).unwrap();
        q8.encode(&[4.0], &mut code[..1]);
        let mut x = [0f32];
        q8.decode(&code[..1], &mut x);
        assert_eq!(x[0], 4.0);
        assert!(Sq8::train(&[], 2).is_err());
        assert!(Sq8::train(&[f32::INFINITY, 1.0], 2).is_err());
    }
}
