//! Binary quantization: one bit per dimension, set when the value is
//! positive (as pgvector's `binary_quantize`), most significant bit first
//! in each byte (as Postgres's `bit` type), so a code has `ceil(dims / 8)`
//! bytes.
//!
//! A code decodes to the vector of `±1` its bits stand for. Two codes
//! compare by Hamming distance (popcount of the XOR, eight bytes at a
//! time). A query kept in `f32` compares asymmetrically against that `±1`
//! vector: `q·x̂ = 2·Σ_{bit set} qᵢ - Σ qᵢ`, `|x̂|² = dims`, which ranks far
//! better than Hamming distance for the same code size. The sum over set
//! bits goes through a per-query table of 256 partial sums per code byte
//! (each byte is a "subvector" of 8 dimensions, as in PQ), so a distance
//! is one lookup per byte.

use super::Metric;
use crate::format::{Error, Result, SqlState};

#[derive(Clone, Debug, PartialEq)]
pub struct Bq {
    dims: usize,
}

impl Bq {
    pub fn new(dims: usize) -> Result<Bq> {
        if dims == 0 {
            return Err(Error::new(SqlState::DataException, "bq needs at least 1 dimension"));
        }
        Ok(Bq { dims })
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn code_size(&self) -> usize {
        self.dims.div_ceil(8)
    }

    pub fn encode(&self, x: &[f32], out: &mut [u8]) {
        out.fill(0);
        for (i, &v) in x.iter().enumerate().take(self.dims) {
            if v > 0.0 {
                out[i / 8] |= 0x80 >> (i % 8);
            }
        }
    }

    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate().take(self.dims) {
            *o = if code[i / 8] & (0x80 >> (i % 8)) != 0 { 1.0 } else { -1.0 };
        }
    }

    pub fn query(&self, q: &[f32], metric: Metric) -> BqQuery {
        let sum: f64 = q.iter().map(|&v| f64::from(v)).sum();
        let qq: f64 = q.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        // table[b][v]: the sum of the query values whose bits are set in
        // byte value v at byte b, built from v with its lowest bit cleared.
        let table = (0..self.code_size())
            .map(|b| {
                let mut row = [0f32; 256];
                for v in 1..256usize {
                    let low = v.trailing_zeros() as usize; // bit 0 = the 8th value of the byte
                    let i = b * 8 + 7 - low;
                    row[v] = row[v & (v - 1)] + q.get(i).copied().unwrap_or(0.0);
                }
                row
            })
            .collect();
        BqQuery { metric, table, sum, qq, dims: self.dims as f64 }
    }
}

/// Hamming distance between two codes of equal length.
#[inline]
pub fn hamming(a: &[u8], b: &[u8]) -> u32 {
    debug_assert_eq!(a.len(), b.len());
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: u32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| (x ^ y).count_ones()).sum();
    ca.zip(cb)
        .map(|(x, y)| {
            let x = u64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
            let y = u64::from_le_bytes([y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]]);
            (x ^ y).count_ones()
        })
        .sum::<u32>()
        + tail
}

#[derive(Clone, Debug)]
pub struct BqQuery {
    metric: Metric,
    table: Vec<[f32; 256]>,
    sum: f64,
    qq: f64,
    dims: f64,
}

impl BqQuery {
    /// `q·x̂` for the `±1` vector of `code`.
    #[inline]
    fn dot(&self, code: &[u8]) -> f64 {
        2.0 * f64::from(super::pq::table_sum(&self.table, code)) - self.sum
    }

    #[inline]
    pub fn distance(&self, code: &[u8]) -> f32 {
        let ip = self.dot(code);
        (match self.metric {
            Metric::L2Squared => self.qq + self.dims - 2.0 * ip,
            Metric::NegativeInnerProduct => -ip,
            Metric::Cosine => 1.0 - (ip / (self.qq * self.dims).sqrt()).clamp(-1.0, 1.0),
        }) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn codes_and_distances(a in proptest::collection::vec(-1.0f32..1.0, 1..100), seed in 0u64..100) {
            let dims = a.len();
            let bq = Bq::new(dims).unwrap();
            let b = clustered(1, dims, 1, 1.0, seed);
            let (mut ca, mut cb) = (vec![0u8; bq.code_size()], vec![0u8; bq.code_size()]);
            bq.encode(&a, &mut ca);
            bq.encode(&b, &mut cb);
            let want = a.iter().zip(&b).filter(|(x, y)| (**x > 0.0) != (**y > 0.0)).count() as u32;
            prop_assert_eq!(hamming(&ca, &cb), want);
            let mut x = vec![0f32; dims];
            bq.decode(&cb, &mut x);
            for i in 0..dims {
                prop_assert_eq!(x[i] > 0.0, b[i] > 0.0);
            }
            for metric in METRICS {
                let want = exact(metric, &a, &x);
                let got = f64::from(bq.query(&a, metric).distance(&cb));
                prop_assert!((got - want).abs() <= 1e-4 * want.abs().max(1.0), "{:?}: {} vs {}", metric, got, want);
            }
        }
    }

    #[test]
    fn bit_order_is_postgres_bit_order() {
        let bq = Bq::new(10).unwrap();
        let mut c = [0u8; 2];
        bq.encode(&[1.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0], &mut c);
        assert_eq!(c, [0b1001_0000, 0b1000_0000]);
        assert!(Bq::new(0).is_err());
    }
}
