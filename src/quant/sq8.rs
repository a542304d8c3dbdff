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
        if dims == 0 || data.is_empty() || data.len() % dims != 0 {
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
        let (mut a, mut b) = (vec![0f32; d], self.scale.clone());
        let mut bias = 0f64;
        match metric {
            Metric::L2Squared => {
                for i in 0..d {
                    a[i] = q[i] - self.min[i];
                }
            }
            Metric::NegativeInnerProduct | Metric::Cosine => {
                for i in 0..d {
                    a[i] = q[i] * self.scale[i];
                    bias += f64::from(q[i]) * f64::from(self.min[i]);
                }
                if metric == Metric::Cosine {
                    // Cosine decodes each value: `a` is the query, `b` the minima.
                    a = q.to_vec();
                    b = self.min.clone();
                }
            }
        }
        let query_norm = q.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
        Sq8Query { metric, a, b, scale: self.scale.clone(), bias, query_norm }
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
}

impl Sq8Query {
    #[inline]
    pub fn distance(&self, code: &[u8]) -> f32 {
        debug_assert_eq!(code.len(), self.a.len());
        match self.metric {
            Metric::L2Squared => {
                let mut acc = [0f32; 8];
                let n = code.len() / 8 * 8;
                for ((c, a), s) in code[..n].chunks_exact(8).zip(self.a.chunks_exact(8)).zip(self.b.chunks_exact(8)) {
                    for l in 0..8 {
                        let d = a[l] - s[l] * f32::from(c[l]);
                        acc[l] += d * d;
                    }
                }
                let mut tail = 0f32;
                for i in n..code.len() {
                    let d = self.a[i] - self.b[i] * f32::from(code[i]);
                    tail += d * d;
                }
                acc.iter().sum::<f32>() + tail
            }
            Metric::NegativeInnerProduct => (-(self.bias + f64::from(self.dot(code)))) as f32,
            Metric::Cosine => {
                // Decode on the fly: expanding (min + scale·c)² instead
                // would cancel catastrophically for values near zero.
                let mut ip = [0f32; 8];
                let mut nn = [0f32; 8];
                for i in 0..code.len() {
                    let x = self.b[i] + self.scale[i] * f32::from(code[i]);
                    ip[i % 8] += self.a[i] * x;
                    nn[i % 8] += x * x;
                }
                let ip = f64::from(ip.iter().sum::<f32>());
                let nn = f64::from(nn.iter().sum::<f32>());
                let similarity = ip / (self.query_norm * nn.sqrt());
                (1.0 - similarity.clamp(-1.0, 1.0)) as f32
            }
        }
    }

    #[inline]
    fn dot(&self, code: &[u8]) -> f32 {
        let mut acc = [0f32; 8];
        let n = code.len() / 8 * 8;
        for (c, a) in code[..n].chunks_exact(8).zip(self.a.chunks_exact(8)) {
            for l in 0..8 {
                acc[l] += a[l] * f32::from(c[l]);
            }
        }
        let mut tail = 0f32;
        for i in n..code.len() {
            tail += self.a[i] * f32::from(code[i]);
        }
        acc.iter().sum::<f32>() + tail
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
