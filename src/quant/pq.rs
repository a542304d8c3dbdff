//! Product quantization (Jégou, Douze, Schmid 2011).
//!
//! A `dims`-dimensional vector is cut into `m` subvectors of `dims / m`
//! values; each subspace has its own codebook of `k = 2^bits` centroids
//! trained by k-means on that subspace, and a vector's code is, per
//! subspace, the index of its nearest centroid: `m` bytes (one byte per
//! code whatever `bits`, so codes are addressed without bit shifting).
//!
//! Distances are asymmetric (ADC): the query stays exact, and one table of
//! `m × k` partial distances per query turns a distance into `m` lookups
//! and additions.
//!
//! * L2²: `T[j][c] = |q_j - C_j[c]|²`, distance `Σ_j T[j][code_j]`.
//! * inner product: `T[j][c] = q_j · C_j[c]`, distance `-Σ_j T[j][code_j]`.
//! * cosine: the inner product as above over `|q| |x̂|`, where `|x̂|² =
//!   Σ_j |C_j[code_j]|²` comes from a per-codebook table of centroid
//!   norms (the subspaces are orthogonal, so the squared norm of the decoded
//!   vector is exactly the sum of its pieces'). Each table entry holds the
//!   pair (dot, norm²), one cache line serves both lookups, and the
//!   distance equals `cosine_distance(q, decode(code))` up to rounding,
//!   with no per-row norm stored.

use super::codec;
use super::kmeans::{self, l2sq};
use super::rng::Rng;
use super::Metric;
use crate::format::{Error, Result, SqlState};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

pub const MIN_BITS: u32 = 4;
pub const MAX_BITS: u32 = 8;
/// Table rows are padded to 256 entries so that a `u8` code indexes them
/// without a bounds check; the padding of `bits < 8` is NaN.
const ROW: usize = 256;

#[derive(Clone)]
pub struct Pq {
    dims: usize,
    m: usize,
    bits: u32,
    /// `m × k × dsub`: subspace, then centroid, then value.
    centroids: Vec<f32>,
    /// `m` rows of squared centroid norms (NaN-padded to 256).
    norms: Vec<[f32; ROW]>,
    /// Each subspace's centroids transposed (see `kmeans::transpose`), for
    /// encoding.
    transposed: Vec<Vec<f32>>,
}

/// Equal shapes and centroids (the norms follow from them).
impl PartialEq for Pq {
    fn eq(&self, other: &Pq) -> bool {
        (self.dims, self.m, self.bits) == (other.dims, other.m, other.bits) && self.centroids == other.centroids
    }
}

impl std::fmt::Debug for Pq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pq {{ dims: {}, subvectors: {}, bits: {} }}", self.dims, self.m, self.bits)
    }
}

fn invalid(msg: String) -> Error {
    Error::new(SqlState::InvalidParameterValue, msg)
}

/// Checks a PQ shape: `1 <= m <= dims`, `m` divides `dims`, `4 <= bits <= 8`.
pub fn check_shape(dims: usize, m: usize, bits: u32) -> Result<()> {
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(invalid(format!("bits must be between {MIN_BITS} and {MAX_BITS}, not {bits}")));
    }
    if m < 1 || m > dims {
        return Err(invalid(format!("subvectors must be between 1 and the {dims} dimensions, not {m}")));
    }
    if !dims.is_multiple_of(m) {
        return Err(invalid(format!("{dims} dimensions do not divide into {m} subvectors")));
    }
    Ok(())
}

impl Pq {
    /// Trains one k-means per subspace on `data` (`n × dims`), in parallel,
    /// each with its own seed derived from `seed`.
    pub fn train(data: &[f32], dims: usize, m: usize, bits: u32, seed: u64) -> Result<Pq> {
        Pq::train_cancellable(data, dims, m, bits, seed, &AtomicBool::new(false))
    }

    /// [`Pq::train`], giving up with [`kmeans::cancelled`] once `cancel`
    /// is set (read between subspaces and inside each k-means, between its
    /// passes over the points).
    pub fn train_cancellable(
        data: &[f32],
        dims: usize,
        m: usize,
        bits: u32,
        seed: u64,
        cancel: &AtomicBool,
    ) -> Result<Pq> {
        check_shape(dims, m, bits)?;
        if !data.len().is_multiple_of(dims) {
            return Err(invalid(format!("{} values do not make rows of {dims} dimensions", data.len())));
        }
        let n = data.len() / dims;
        let k = 1usize << bits;
        if n < k {
            return Err(Error::new(
                SqlState::DataException,
                format!("training {bits}-bit codes needs at least {k} vectors, found {n}"),
            ));
        }
        let dsub = dims / m;
        let books: Vec<Result<Vec<f32>>> = (0..m)
            .into_par_iter()
            .map(|j| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(kmeans::cancelled());
                }
                let sub: Vec<f32> =
                    data.chunks_exact(dims).flat_map(|x| x[j * dsub..(j + 1) * dsub].iter().copied()).collect();
                let params = kmeans::Params::new(k, Rng::derive(seed, j as u64).next_u64());
                Ok(kmeans::train_cancellable(&sub, dsub, &params, cancel)?.centroids)
            })
            .collect();
        let mut centroids = Vec::with_capacity(m * k * dsub);
        for b in books {
            centroids.extend(b?);
        }
        Ok(Pq::from_centroids(dims, m, bits, centroids))
    }

    fn from_centroids(dims: usize, m: usize, bits: u32, centroids: Vec<f32>) -> Pq {
        let (k, dsub) = (1usize << bits, dims / m);
        let zero = vec![0f32; dsub];
        let norms = (0..m)
            .map(|j| {
                let mut row = [f32::NAN; ROW];
                for (c, slot) in row.iter_mut().enumerate().take(k) {
                    let off = (j * k + c) * dsub;
                    *slot = l2sq(&centroids[off..off + dsub], &zero);
                }
                row
            })
            .collect();
        let transposed = centroids.chunks_exact(k * dsub).map(|book| kmeans::transpose(book, dsub)).collect();
        Pq { dims, m, bits, centroids, norms, transposed }
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn subvectors(&self) -> usize {
        self.m
    }

    pub fn bits(&self) -> u32 {
        self.bits
    }

    pub fn k(&self) -> usize {
        1 << self.bits
    }

    fn dsub(&self) -> usize {
        self.dims / self.m
    }

    /// The `m × k × dsub` centroids.
    pub fn centroids(&self) -> &[f32] {
        &self.centroids
    }

    fn book(&self, j: usize) -> &[f32] {
        let size = self.k() * self.dsub();
        &self.centroids[j * size..(j + 1) * size]
    }

    /// `x` (`dims` values) into `out` (`m` codes).
    pub fn encode(&self, x: &[f32], out: &mut [u8]) {
        let dsub = self.dsub();
        let mut scratch = [0f32; ROW];
        let dists = &mut scratch[..self.k()];
        for (j, code) in out.iter_mut().enumerate().take(self.m) {
            *code = kmeans::nearest_t(&self.transposed[j], &x[j * dsub..(j + 1) * dsub], dists).0 as u8;
        }
    }

    /// Checks that every code is below `2^bits`.
    pub fn check_codes(&self, codes: &[u8]) -> Result<()> {
        if codes.len() != self.m {
            return Err(Error::new(
                SqlState::DataException,
                format!("pq value has {} codes but its codebook has {} subvectors", codes.len(), self.m),
            ));
        }
        if self.bits < 8 {
            let or = codes.iter().fold(0u8, |a, &c| a | c);
            if u32::from(or) >> self.bits != 0 {
                let bad = codes.iter().find(|&&c| u32::from(c) >> self.bits != 0).copied().unwrap_or(0);
                return Err(Error::new(
                    SqlState::DataException,
                    format!("pq code {bad} is out of range for a {}-bit codebook", self.bits),
                ));
            }
        }
        Ok(())
    }

    /// The vector `codes` stands for, into `out` (`dims` values).
    pub fn decode(&self, codes: &[u8], out: &mut [f32]) -> Result<()> {
        self.check_codes(codes)?;
        let dsub = self.dsub();
        for (j, &c) in codes.iter().enumerate() {
            let off = usize::from(c) * dsub;
            out[j * dsub..(j + 1) * dsub].copy_from_slice(&self.book(j)[off..off + dsub]);
        }
        Ok(())
    }

    /// The per-query table for `metric`; `query` has `dims` values.
    pub fn table(&self, query: &[f32], metric: Metric) -> AdcTable {
        let (k, dsub) = (self.k(), self.dsub());
        let mut table = vec![[f32::NAN; ROW]; self.m];
        let mut pairs = Vec::new();
        let mut qq = 0f64;
        for (j, row) in table.iter_mut().enumerate() {
            let q = &query[j * dsub..(j + 1) * dsub];
            let book = self.book(j);
            for (c, slot) in row.iter_mut().enumerate().take(k) {
                let centroid = &book[c * dsub..(c + 1) * dsub];
                *slot = match metric {
                    Metric::L2Squared => l2sq(q, centroid),
                    Metric::NegativeInnerProduct | Metric::Cosine => dot(q, centroid),
                };
            }
            qq += q.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>();
        }
        if metric == Metric::Cosine {
            pairs = table
                .iter()
                .zip(&self.norms)
                .map(|(ip, nn)| {
                    let mut row = [[f32::NAN; 2]; ROW];
                    for c in 0..ROW {
                        row[c] = [ip[c], nn[c]];
                    }
                    row
                })
                .collect();
            table.clear();
        }
        AdcTable { metric, table, pairs, query_norm: qq.sqrt() }
    }

    pub(super) fn write(&self, w: &mut codec::Writer) {
        w.u16(self.m as u16);
        w.u8(self.bits as u8);
        w.u8(0);
        w.f32s(&self.centroids);
    }

    pub(super) fn read(dims: usize, r: &mut codec::Reader) -> Result<Pq> {
        let m = usize::from(r.u16()?);
        let bits = u32::from(r.u8()?);
        let _reserved = r.u8()?;
        check_shape(dims, m, bits)?;
        let centroids = r.f32s(m * (1 << bits) * (dims / m))?;
        Ok(Pq::from_centroids(dims, m, bits, centroids))
    }
}

/// `Σ_j rows[j][codes[j]]` with four independent sums (the lookups are
/// the cost; a `u8` indexes a 256-entry row without a bounds check).
#[inline]
pub(crate) fn table_sum(rows: &[[f32; ROW]], codes: &[u8]) -> f32 {
    let mut acc = [0f32; 4];
    let row_chunks = rows.chunks_exact(4);
    let rest = row_chunks.remainder();
    let code_chunks = codes.chunks_exact(4);
    let code_rest = code_chunks.remainder();
    for (r, c) in row_chunks.zip(code_chunks) {
        acc[0] += r[0][usize::from(c[0])];
        acc[1] += r[1][usize::from(c[1])];
        acc[2] += r[2][usize::from(c[2])];
        acc[3] += r[3][usize::from(c[3])];
    }
    for (r, &c) in rest.iter().zip(code_rest) {
        acc[0] += r[usize::from(c)];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A query's distance table against one PQ codebook.
#[derive(Clone, Debug)]
pub struct AdcTable {
    metric: Metric,
    /// L2² or dot products, one row per subspace (empty for cosine).
    table: Vec<[f32; ROW]>,
    /// Cosine: (dot, centroid norm²) pairs.
    pairs: Vec<[[f32; 2]; ROW]>,
    query_norm: f64,
}

impl AdcTable {
    pub fn metric(&self) -> Metric {
        self.metric
    }

    #[inline]
    fn sum(&self, codes: &[u8]) -> f32 {
        debug_assert_eq!(codes.len(), self.table.len());
        table_sum(&self.table, codes)
    }

    /// The distance to the vector `codes` stands for (`codes` has one byte
    /// per subvector; a code beyond the codebook gives NaN).
    #[inline]
    pub fn distance(&self, codes: &[u8]) -> f32 {
        match self.metric {
            Metric::L2Squared => self.sum(codes),
            Metric::NegativeInnerProduct => -self.sum(codes),
            Metric::Cosine => {
                debug_assert_eq!(codes.len(), self.pairs.len());
                let (mut ip, mut nn) = ([0f32; 2], [0f32; 2]);
                let rows = self.pairs.chunks_exact(2);
                let rest = rows.remainder();
                let cc = codes.chunks_exact(2);
                let crest = cc.remainder();
                for (r, c) in rows.zip(cc) {
                    let (a, b) = (r[0][usize::from(c[0])], r[1][usize::from(c[1])]);
                    ip[0] += a[0];
                    nn[0] += a[1];
                    ip[1] += b[0];
                    nn[1] += b[1];
                }
                for (r, &c) in rest.iter().zip(crest) {
                    let a = r[usize::from(c)];
                    ip[0] += a[0];
                    nn[0] += a[1];
                }
                let (ip, nn) = (f64::from(ip[0] + ip[1]), f64::from(nn[0] + nn[1]));
                let similarity = ip / (self.query_norm * nn.sqrt());
                (1.0 - similarity.clamp(-1.0, 1.0)) as f32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use proptest::prelude::*;

    fn mse(pq: &Pq, data: &[f32]) -> f64 {
        let dims = pq.dims();
        let mut code = vec![0u8; pq.subvectors()];
        let mut out = vec![0f32; dims];
        let mut total = 0f64;
        for x in data.chunks_exact(dims) {
            pq.encode(x, &mut code);
            pq.decode(&code, &mut out).unwrap();
            total += f64::from(l2sq(x, &out));
        }
        total / (data.len() / dims) as f64
    }

    #[test]
    fn reconstruction_error_falls_as_subvectors_grow() {
        let dims = 32;
        let data = clustered(1200, dims, 1000, 0.3, 11);
        let mut last = f64::INFINITY;
        for m in [1, 2, 4, 8, 16, 32] {
            let pq = Pq::train(&data, dims, m, 6, 7).unwrap();
            let e = mse(&pq, &data);
            assert!(e < last, "m = {m}: error {e} not below {last}");
            last = e;
        }
        // One centroid per value and 64 of them: nearly lossless.
        assert!(last < 0.01, "{last}");
    }

    #[test]
    fn more_bits_lower_error() {
        let dims = 16;
        let data = clustered(1000, dims, 100, 0.3, 5);
        let e4 = mse(&Pq::train(&data, dims, 4, 4, 1).unwrap(), &data);
        let e8 = mse(&Pq::train(&data, dims, 4, 8, 1).unwrap(), &data);
        assert!(e8 < e4, "{e8} vs {e4}");
    }

    #[test]
    fn shape_errors_are_results() {
        let data = clustered(300, 12, 4, 0.1, 1);
        for (m, bits) in [(5, 8), (0, 8), (13, 8), (4, 3), (4, 9)] {
            let e = Pq::train(&data, 12, m, bits, 1).unwrap_err();
            assert_eq!(e.state, SqlState::InvalidParameterValue, "{m} {bits}: {e}");
        }
        // Too few rows for 256 centroids.
        assert_eq!(Pq::train(&data[..100 * 12], 12, 4, 8, 1).unwrap_err().state, SqlState::DataException);
        let pq = Pq::train(&data, 12, 4, 4, 1).unwrap();
        assert!(pq.decode(&[0, 1, 2], &mut [0.0; 12]).is_err());
        assert!(pq.decode(&[0, 1, 2, 16], &mut [0.0; 12]).is_err());
        assert!(pq.decode(&[0, 1, 2, 15], &mut [0.0; 12]).is_ok());
    }

    #[test]
    fn a_set_flag_cancels_training() {
        let data = clustered(300, 12, 4, 0.1, 1);
        let e = Pq::train_cancellable(&data, 12, 4, 4, 1, &AtomicBool::new(true)).unwrap_err();
        assert_eq!(e, kmeans::cancelled());
        let pq = Pq::train_cancellable(&data, 12, 4, 4, 1, &AtomicBool::new(false)).unwrap();
        assert_eq!(pq, Pq::train(&data, 12, 4, 4, 1).unwrap());
    }

    #[test]
    fn deterministic_under_a_seed() {
        let data = clustered(2000, 16, 20, 0.2, 3);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let a = one.install(|| Pq::train(&data, 16, 4, 8, 9).unwrap());
        let b = Pq::train(&data, 16, 4, 8, 9).unwrap();
        assert_eq!(a, b);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// ADC equals the exact distance to the decoded vector, for every
        /// metric, any shape, any query.
        #[test]
        fn adc_matches_decoded_distance(
            m in 1usize..6, dsub in 1usize..6, bits in 4u32..=8, seed in 0u64..1000,
            query in proptest::collection::vec(-2.0f32..2.0, 30),
        ) {
            let dims = m * dsub;
            let n = (1usize << bits).max(64);
            let data = clustered(n, dims, 10, 0.5, seed);
            let pq = Pq::train(&data, dims, m, bits, seed).unwrap();
            let q = &query[..dims];
            let mut code = vec![0u8; m];
            let mut x = vec![0f32; dims];
            for v in data.chunks_exact(dims).take(10) {
                pq.encode(v, &mut code);
                pq.decode(&code, &mut x).unwrap();
                // decode(encode(v)) is v's nearest centroid in every subspace.
                for j in 0..m {
                    let s = j * dsub..(j + 1) * dsub;
                    let best = kmeans::nearest(pq.book(j), dsub, &v[s.clone()]).1;
                    prop_assert!(l2sq(&v[s.clone()], &x[s]) <= best * (1.0 + 1e-5) + 1e-6);
                }
                for metric in METRICS {
                    let want = exact(metric, q, &x);
                    let got = f64::from(pq.table(q, metric).distance(&code));
                    if want.is_nan() {
                        prop_assert!(got.is_nan());
                    } else {
                        prop_assert!((got - want).abs() <= 1e-4 * want.abs().max(1.0), "{:?}: {} vs {}", metric, got, want);
                    }
                }
            }
        }
    }
}
