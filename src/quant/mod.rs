//! Vector quantization: the pure core behind the `pq` SQL type and the
//! compact codes of quantized `hnsw` indexes (`quantizer = sq8 | pq | bq`).
//!
//! | module     | what                                                        |
//! |------------|-------------------------------------------------------------|
//! | [`kmeans`] | k-means++ and Lloyd, rayon-parallel, deterministic per seed  |
//! | [`pq`]     | product quantization, asymmetric distance tables (ADC)       |
//! | [`sq8`]    | per-dimension scalar quantization to `u8`                    |
//! | [`bq`]     | binary (sign) quantization, Hamming and asymmetric distances |
//! | [`codec`]  | the versioned byte format of a trained quantizer            |
//!
//! Pure code: no Postgres call, no `palloc`, no `ereport`, so it may run on
//! rayon threads. Errors are [`crate::format::Error`]s carrying a SQLSTATE,
//! which the Postgres shell raises.
//!
//! [`Quantizer`] is the one entry point the index needs: train on a sample,
//! `encode` a vector into `code_size()` bytes, build a per-query
//! [`QueryTable`] once and call its `distance(code)` per candidate, store
//! the quantizer with `to_bytes` and read it back with `from_bytes`. All
//! distances follow the index's conventions: squared L2, negative inner
//! product, cosine distance. See docs/quantization.md.

pub mod bq;
pub mod codec;
pub mod kmeans;
pub mod pq;
pub mod rng;
pub mod sq8;

use crate::format::{Error, Result, SqlState};

/// The distance a query table computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `Σ (qᵢ - xᵢ)²` (take the square root for `<->`).
    L2Squared,
    /// `-Σ qᵢ xᵢ`, as `<#>`.
    NegativeInnerProduct,
    /// `1 - q·x / (|q| |x|)`, as `<=>`; NaN when either side is zero.
    Cosine,
}

/// Which quantizer (also the kind byte of the serialized form).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sq8 = 1,
    Pq = 2,
    Bq = 3,
}

impl Kind {
    pub fn parse(name: &str) -> Result<Kind> {
        match name {
            "sq8" => Ok(Kind::Sq8),
            "pq" => Ok(Kind::Pq),
            "bq" => Ok(Kind::Bq),
            _ => Err(Error::new(SqlState::InvalidParameterValue, format!("unknown quantizer \"{name}\""))),
        }
    }
}

/// What training needs besides the sample.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// PQ: number of subvectors (must divide the dimensions).
    pub subvectors: usize,
    /// PQ: bits per code, 4..=8 (16 to 256 centroids per subvector).
    pub bits: u32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { subvectors: 0, bits: 8, seed: 0x0010_de57 }
    }
}

/// A trained quantizer of any kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Quantizer {
    Sq8(sq8::Sq8),
    Pq(pq::Pq),
    Bq(bq::Bq),
}

/// A query prepared against a quantizer: `distance(code)` is the hot loop.
#[derive(Clone, Debug)]
pub enum QueryTable {
    Sq8(sq8::Sq8Query),
    Pq(pq::AdcTable),
    Bq(bq::BqQuery),
}

fn check_dims(expected: usize, got: usize) -> Result<()> {
    if expected != got {
        return Err(Error::new(
            SqlState::DataException,
            format!("vector has {got} dimensions but the quantizer expects {expected}"),
        ));
    }
    Ok(())
}

impl Quantizer {
    /// Trains on `sample`, `n × dims` row-major. SQ8 and PQ need at least
    /// one row (PQ: `2^bits` rows); BQ needs none.
    pub fn train(kind: Kind, sample: &[f32], dims: usize, opts: &TrainOptions) -> Result<Quantizer> {
        Ok(match kind {
            Kind::Sq8 => Quantizer::Sq8(sq8::Sq8::train(sample, dims)?),
            Kind::Pq => Quantizer::Pq(pq::Pq::train(sample, dims, opts.subvectors, opts.bits, opts.seed)?),
            Kind::Bq => Quantizer::Bq(bq::Bq::new(dims)?),
        })
    }

    pub fn kind(&self) -> Kind {
        match self {
            Quantizer::Sq8(_) => Kind::Sq8,
            Quantizer::Pq(_) => Kind::Pq,
            Quantizer::Bq(_) => Kind::Bq,
        }
    }

    pub fn dims(&self) -> usize {
        match self {
            Quantizer::Sq8(q) => q.dims(),
            Quantizer::Pq(q) => q.dims(),
            Quantizer::Bq(q) => q.dims(),
        }
    }

    /// Bytes of one code.
    pub fn code_size(&self) -> usize {
        match self {
            Quantizer::Sq8(q) => q.code_size(),
            Quantizer::Pq(q) => q.subvectors(),
            Quantizer::Bq(q) => q.code_size(),
        }
    }

    /// Writes `x`'s code into `out` (`code_size()` bytes).
    pub fn encode(&self, x: &[f32], out: &mut [u8]) -> Result<()> {
        check_dims(self.dims(), x.len())?;
        if out.len() != self.code_size() {
            return Err(Error::new(SqlState::DataException, "code buffer has the wrong size"));
        }
        match self {
            Quantizer::Sq8(q) => q.encode(x, out),
            Quantizer::Pq(q) => q.encode(x, out),
            Quantizer::Bq(q) => q.encode(x, out),
        }
        Ok(())
    }

    /// Fills `out` (`dims()` values) with the vector `code` stands for.
    pub fn decode(&self, code: &[u8], out: &mut [f32]) -> Result<()> {
        check_dims(self.dims(), out.len())?;
        if code.len() != self.code_size() {
            return Err(Error::new(SqlState::DataException, "code has the wrong size"));
        }
        match self {
            Quantizer::Sq8(q) => q.decode(code, out),
            Quantizer::Pq(q) => q.decode(code, out)?,
            Quantizer::Bq(q) => q.decode(code, out),
        }
        Ok(())
    }

    /// Prepares `query` for many `distance(code)` calls.
    pub fn query(&self, query: &[f32], metric: Metric) -> Result<QueryTable> {
        check_dims(self.dims(), query.len())?;
        Ok(match self {
            Quantizer::Sq8(q) => QueryTable::Sq8(q.query(query, metric)),
            Quantizer::Pq(q) => QueryTable::Pq(q.table(query, metric)),
            Quantizer::Bq(q) => QueryTable::Bq(q.query(query, metric)),
        })
    }

    /// The versioned byte form (see [`codec`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = codec::Writer::new(self.kind(), self.dims());
        match self {
            Quantizer::Sq8(q) => q.write(&mut w),
            Quantizer::Pq(q) => q.write(&mut w),
            Quantizer::Bq(_) => {}
        }
        w.finish()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Quantizer> {
        let (kind, dims, mut r) = codec::Reader::open(bytes)?;
        let q = match kind {
            Kind::Sq8 => Quantizer::Sq8(sq8::Sq8::read(dims, &mut r)?),
            Kind::Pq => Quantizer::Pq(pq::Pq::read(dims, &mut r)?),
            Kind::Bq => Quantizer::Bq(bq::Bq::new(dims)?),
        };
        r.finish()?;
        Ok(q)
    }
}

impl QueryTable {
    /// The distance from the query to the vector `code` stands for, by the
    /// metric the table was built for. `code` must be `code_size()` bytes.
    #[inline]
    pub fn distance(&self, code: &[u8]) -> f32 {
        match self {
            QueryTable::Sq8(t) => t.distance(code),
            QueryTable::Pq(t) => t.distance(code),
            QueryTable::Bq(t) => t.distance(code),
        }
    }
}

/// Shared helpers of the property tests.
#[cfg(test)]
pub(crate) mod testutil {
    use super::rng::Rng;
    use super::Metric;
    use crate::distance::dense;

    /// `n` vectors around `clusters` centres in `[-1, 1]^dims`.
    pub fn clustered(n: usize, dims: usize, clusters: usize, spread: f64, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        let centres: Vec<f64> = (0..clusters * dims).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
        let mut out = Vec::with_capacity(n * dims);
        for _ in 0..n {
            let c = rng.below(clusters);
            for j in 0..dims {
                out.push((centres[c * dims + j] + (rng.next_f64() * 2.0 - 1.0) * spread) as f32);
            }
        }
        out
    }

    /// The exact distance by `metric`, in f64, as the index orders by it.
    pub fn exact(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
        match metric {
            Metric::L2Squared => dense::l2_squared(a, b),
            Metric::NegativeInnerProduct => -dense::dot(a, b),
            Metric::Cosine => dense::cosine_distance(a, b),
        }
    }

    pub const METRICS: [Metric; 3] = [Metric::L2Squared, Metric::NegativeInnerProduct, Metric::Cosine];
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn every_kind_round_trips_through_bytes_and_agrees_with_decode() {
        let dims = 32;
        let data = clustered(600, dims, 8, 0.2, 4);
        let opts = TrainOptions { subvectors: 8, bits: 6, seed: 3 };
        for kind in [Kind::Sq8, Kind::Pq, Kind::Bq] {
            let q = Quantizer::train(kind, &data, dims, &opts).unwrap();
            let bytes = q.to_bytes();
            let back = Quantizer::from_bytes(&bytes).unwrap();
            assert_eq!(q, back, "{kind:?}");
            // Every strict prefix and a longer buffer are refused.
            for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
                assert!(Quantizer::from_bytes(&bytes[..cut]).is_err(), "{kind:?} cut {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Quantizer::from_bytes(&longer).is_err());
            let mut code = vec![0u8; q.code_size()];
            let mut decoded = vec![0f32; dims];
            for (i, x) in data.chunks_exact(dims).take(20).enumerate() {
                q.encode(x, &mut code).unwrap();
                back.decode(&code, &mut decoded).unwrap();
                let query = &data[(i + 100) * dims..(i + 101) * dims];
                for metric in METRICS {
                    let t = back.query(query, metric).unwrap();
                    let want = exact(metric, query, &decoded);
                    let got = f64::from(t.distance(&code));
                    assert!((got - want).abs() <= 1e-4 * want.abs().max(1.0), "{kind:?} {metric:?}: {got} vs {want}");
                }
            }
            assert!(q.encode(&data[..dims - 1], &mut code).is_err());
            assert!(q.query(&data[..dims + 1], Metric::Cosine).is_err());
        }
    }

    #[test]
    fn bad_headers_are_errors() {
        assert!(Quantizer::from_bytes(b"").is_err());
        assert!(Quantizer::from_bytes(b"nonsense bytes here").is_err());
        let mut b = Quantizer::Bq(bq::Bq::new(8).unwrap()).to_bytes();
        b[4] = 99; // version
        assert!(Quantizer::from_bytes(&b).is_err());
    }
}
