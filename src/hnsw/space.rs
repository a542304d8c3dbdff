//! What the index compares: the element type of the stored vectors and the
//! metric, and the distance between two stored vectors ("payloads").
//!
//! The index orders by an *internal* distance that sorts exactly like the
//! SQL operator's distance, but is cheaper to compute:
//!
//! | operator | opclass        | internal distance                     |
//! |----------|----------------|---------------------------------------|
//! | `<->`    | `*_l2_ops`     | squared L2                            |
//! | `<#>`    | `*_ip_ops`     | negative inner product                |
//! | `<=>`    | `*_cosine_ops` | negative inner product of unit vectors |
//! | `<+>`    | `*_l1_ops`     | L1                                    |
//! | `<~>`    | `bit_hamming_ops` | Hamming (differing bits)           |
//! | `<%>`    | `bit_jaccard_ops` | Jaccard distance                   |
//!
//! For cosine, vectors are normalised once when they enter the index (and the
//! query once per scan), which is what pgvector does too.
//!
//! A payload is the vector's elements as bytes in native byte order: 4-byte
//! floats for `vector`, IEEE halves for `halfvec`, the bit string's bytes
//! (most significant bit first, padding bits zero) for `bit`, and for
//! `sparsevec` `nnz: u32`, then the `nnz` 0-based indices (`i32`), then the
//! `nnz` values (`f32`). Sparse payloads are the only ones whose length
//! varies; [`Space::payload_len`] is then the longest (1000 non-zeros, the
//! limit pgvector's index has too). Payloads are stored at 4-byte aligned
//! offsets, so they are read in place without copying.

use crate::distance::sparse::SparseRef;
use crate::distance::{bit, dense, half as half_kernel, sparse};
use half::f16;

/// The distance an index is ordered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    L2,
    InnerProduct,
    Cosine,
    L1,
    /// `bit` only: the number of differing bits.
    Hamming,
    /// `bit` only: `1 - |a ∧ b| / |a ∨ b|`.
    Jaccard,
}

impl Metric {
    /// The largest internal distance ([`Space::distance`]) of a row whose
    /// operator distance (`<->`, `<#>`, `<=>`, `<+>`, `<~>`, `<%>`) is below
    /// `radius`, plus room for rounding (the index keeps cosine payloads
    /// normalised in single precision, the operator works in double): a
    /// threshold scan returns rows up to it and the executor rechecks each.
    /// Negative when no row can be that close under L2.
    pub fn internal_bound(self, radius: f64) -> f32 {
        self.internal_bound_within(radius, 1e-4)
    }

    /// [`Metric::internal_bound`] with room `slack` (relative, at least
    /// absolute) for the payloads' rounding.
    fn internal_bound_within(self, radius: f64, slack: f64) -> f32 {
        let bound = match self {
            // Internal: squared distance.
            Metric::L2 if radius > 0.0 => radius * radius,
            Metric::L2 => -1.0,
            // Internal: -a·q of unit vectors; the operator's 1 - cos.
            Metric::Cosine => radius - 1.0,
            Metric::InnerProduct | Metric::L1 | Metric::Hamming | Metric::Jaccard => radius,
        };
        (bound + slack * bound.abs().max(1.0)) as f32
    }
}

/// The representation of stored vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Element {
    /// `vector`: 4-byte floats.
    F32,
    /// `halfvec`: IEEE binary16.
    F16,
    /// `bit`: `dims` bits, eight to a byte.
    Bit,
    /// `sparsevec`: up to [`SPARSE_MAX_NNZ`] (index, value) pairs.
    Sparse,
}

/// Most non-zero elements of an indexed `sparsevec`, as pgvector.
pub const SPARSE_MAX_NNZ: usize = 1000;

/// An index's element type, metric and dimension count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    pub element: Element,
    pub metric: Metric,
    pub dims: usize,
}

impl Space {
    pub fn new(element: Element, metric: Metric, dims: usize) -> Self {
        Space { element, metric, dims }
    }

    /// Bytes of one stored vector.
    pub fn payload_len(&self) -> usize {
        match self.element {
            Element::F32 => self.dims * 4,
            Element::F16 => self.dims * 2,
            Element::Bit => self.dims.div_ceil(8),
            Element::Sparse => 4 + 8 * SPARSE_MAX_NNZ,
        }
    }

    /// Whether payloads differ in length (their length is then at most
    /// [`Space::payload_len`]).
    pub fn is_variable(&self) -> bool {
        self.element == Element::Sparse
    }

    /// The bytes of `payload` that hold the vector (a sparse payload may be
    /// followed by padding).
    pub fn payload_used<'a>(&self, payload: &'a [u8]) -> &'a [u8] {
        let len = match self.element {
            Element::Sparse => sparse_len(payload),
            _ => self.payload_len(),
        };
        &payload[..len.min(payload.len())]
    }

    /// [`Metric::internal_bound`] for this space's payloads: halves
    /// normalised for cosine are each off by up to half a unit of half
    /// precision (2⁻¹¹ relative), so a dot product of two may be off by
    /// 1e-3: room for twice that.
    pub fn internal_bound(&self, radius: f64) -> f32 {
        let slack = if self.element == Element::F16 && self.metric == Metric::Cosine { 2e-3 } else { 1e-4 };
        self.metric.internal_bound_within(radius, slack)
    }

    /// The internal distance between two payloads.
    #[inline]
    pub fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        match self.element {
            Element::F32 => {
                let (a, b) = (as_f32(a), as_f32(b));
                (match self.metric {
                    Metric::L2 => dense::l2_squared(a, b),
                    Metric::InnerProduct | Metric::Cosine => -dense::dot(a, b),
                    Metric::L1 => dense::l1(a, b),
                    Metric::Hamming | Metric::Jaccard => f64::NAN,
                }) as f32
            }
            Element::F16 => {
                let (a, b) = (as_f16(a), as_f16(b));
                (match self.metric {
                    Metric::L2 => half_kernel::l2_squared(a, b),
                    Metric::InnerProduct | Metric::Cosine => -half_kernel::dot(a, b),
                    Metric::L1 => half_kernel::l1(a, b),
                    Metric::Hamming | Metric::Jaccard => f64::NAN,
                }) as f32
            }
            Element::Bit => {
                (match self.metric {
                    Metric::Hamming => bit::hamming(a, b),
                    Metric::Jaccard => bit::jaccard(a, b),
                    _ => f64::NAN,
                }) as f32
            }
            Element::Sparse => {
                let (a, b) = (as_sparse(a), as_sparse(b));
                match self.metric {
                    Metric::L2 => sparse::l2_squared(a, b),
                    Metric::InnerProduct | Metric::Cosine => -sparse::dot(a, b),
                    Metric::L1 => sparse::l1(a, b),
                    Metric::Hamming | Metric::Jaccard => f32::NAN,
                }
            }
        }
    }

    /// Whether the metric is defined on the element type (the operator
    /// classes only pair them so; a hand-made one could not).
    pub fn is_valid(&self) -> bool {
        matches!(
            (self.element, self.metric),
            (
                Element::F32 | Element::F16 | Element::Sparse,
                Metric::L2 | Metric::InnerProduct | Metric::Cosine | Metric::L1
            ) | (Element::Bit, Metric::Hamming | Metric::Jaccard)
        )
    }

    /// The distance of a payload to itself: the smallest distance an exact
    /// copy can have (0 for L2 and L1, `-|a|²` for inner products).
    pub fn self_distance(&self, a: &[u8]) -> f32 {
        self.distance(a, a)
    }

    /// Turns a vector into the payload the index stores, or `None` when the
    /// vector cannot be indexed (a zero vector has no direction for cosine).
    pub fn payload_from_f32(&self, values: &[f32]) -> Option<Payload> {
        let mut values = values.to_vec();
        if self.metric == Metric::Cosine {
            let norm = dense::norm(&values);
            if norm == 0.0 || !norm.is_finite() {
                return None;
            }
            for v in &mut values {
                *v = (f64::from(*v) / norm) as f32;
            }
        }
        Some(Payload::from_words(values.iter().map(|v| v.to_bits()).collect(), values.len() * 4))
    }

    /// [`Space::payload_from_f32`] for halves. Cosine normalises as
    /// pgvector's `l2_normalize(halfvec)` does: the norm in `double`, each
    /// quotient rounded to float, then to half.
    pub fn payload_from_f16(&self, values: &[f16]) -> Option<Payload> {
        let mut values = values.to_vec();
        if self.metric == Metric::Cosine {
            let norm = half_kernel::norm(&values);
            if norm == 0.0 || !norm.is_finite() {
                return None;
            }
            for v in &mut values {
                *v = f16::from_f32((f64::from(v.to_f32()) / norm) as f32);
            }
        }
        let bits: Vec<u16> = values.iter().map(|v| v.to_bits()).collect();
        let mut bytes = Vec::with_capacity(bits.len() * 2);
        for b in bits {
            bytes.extend_from_slice(&b.to_ne_bytes());
        }
        Some(Payload::from_bytes(&bytes))
    }

    /// The payload of a sparse vector (0-based indices, ascending, values
    /// non-zero). Cosine normalises as pgvector's `l2_normalize(sparsevec)`
    /// does, dropping values that become zero. `None` for a zero vector
    /// under cosine.
    pub fn payload_from_sparse(&self, indices: &[i32], values: &[f32]) -> Option<Payload> {
        let mut pairs: Vec<(i32, f32)> = indices.iter().copied().zip(values.iter().copied()).collect();
        if self.metric == Metric::Cosine {
            let norm = sparse::norm(values);
            if norm == 0.0 || !norm.is_finite() {
                return None;
            }
            for (_, v) in &mut pairs {
                *v = (f64::from(*v) / norm) as f32;
            }
            pairs.retain(|&(_, v)| v != 0.0);
        }
        let mut words = Vec::with_capacity(1 + 2 * pairs.len());
        words.push(pairs.len() as u32);
        words.extend(pairs.iter().map(|&(i, _)| i as u32));
        words.extend(pairs.iter().map(|&(_, v)| v.to_bits()));
        let len = words.len() * 4;
        Some(Payload::from_words(words, len))
    }

    /// The payload of a bit string: its bytes, padding bits zero.
    pub fn payload_from_bits(&self, bytes: &[u8]) -> Payload {
        let mut payload = bytes[..self.payload_len().min(bytes.len())].to_vec();
        payload.resize(self.payload_len(), 0);
        if !self.dims.is_multiple_of(8) {
            if let Some(last) = payload.last_mut() {
                *last &= 0xffu8 << (8 - self.dims % 8);
            }
        }
        Payload::from_bytes(&payload)
    }
}

/// Bytes held in 4-byte words, so that they are aligned for `f32` reads.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Payload {
    words: Vec<u32>,
    len: usize,
}

impl Payload {
    /// `len` bytes taken from the front of `words` (in native byte order).
    pub fn from_words(words: Vec<u32>, len: usize) -> Self {
        assert!(len <= words.len() * 4);
        Payload { words, len }
    }

    /// Copies bytes into aligned storage.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        words_as_bytes_mut(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Payload { words, len: bytes.len() }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &words_as_bytes(&self.words)[..self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The bytes of a word slice (always 4-byte aligned).
pub fn words_as_bytes(words: &[u32]) -> &[u8] {
    // SAFETY: u32 has no padding and u8 has alignment 1; the length is exact.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast(), words.len() * 4) }
}

fn words_as_bytes_mut(words: &mut [u32]) -> &mut [u8] {
    // SAFETY: as in `words_as_bytes`; every byte pattern is a valid u32.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), words.len() * 4) }
}

/// Reads a payload as floats. Payloads are always 4-byte aligned (see the
/// module documentation); an unaligned one is a bug, not a user error.
#[inline]
pub fn as_f32(bytes: &[u8]) -> &[f32] {
    // SAFETY: any 4 initialised bytes are a valid f32; `align_to` only
    // returns the aligned middle part, and we check there is nothing before
    // or after it.
    let (head, floats, tail) = unsafe { bytes.align_to::<f32>() };
    assert!(head.is_empty() && tail.is_empty(), "unaligned vector payload");
    floats
}

/// Reads a payload as halves (2-byte aligned, as every payload is 4-byte
/// aligned).
#[inline]
pub fn as_f16(bytes: &[u8]) -> &[f16] {
    // SAFETY: any 2 initialised bytes are a valid f16; `align_to` only
    // returns the aligned middle part, and we check there is nothing before
    // or after it.
    let (head, halves, tail) = unsafe { bytes.align_to::<f16>() };
    assert!(head.is_empty() && tail.is_empty(), "unaligned halfvec payload");
    halves
}

/// Bytes of a sparse payload: its count, then that many indices and values
/// (clamped to what the bytes hold).
fn sparse_len(payload: &[u8]) -> usize {
    let nnz = payload.get(..4).map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize);
    (4 + 8 * nnz.min(SPARSE_MAX_NNZ)).min(payload.len() / 4 * 4)
}

/// Reads a sparse payload in place (4-byte aligned, as every payload). A
/// payload shorter than its count says is read as far as it goes.
#[inline]
pub fn as_sparse(bytes: &[u8]) -> SparseRef<'_> {
    let words = as_f32(&bytes[..bytes.len() / 4 * 4]);
    let nnz = words.first().map_or(0, |w| w.to_bits() as usize).min(words.len().saturating_sub(1) / 2);
    let (indices, values) = (&words[1..1 + nnz], &words[1 + nnz..1 + 2 * nnz]);
    // SAFETY: i32 and f32 have the same size and alignment and every bit
    // pattern is a valid i32.
    let indices = unsafe { std::slice::from_raw_parts(indices.as_ptr().cast::<i32>(), nnz) };
    SparseRef::new(indices, values)
}

#[cfg(test)]
mod tests {
    #[test]
    fn internal_bound_keeps_every_row_inside_the_radius() {
        use crate::distance::dense;
        let mut rng = crate::quant::rng::Rng::new(7);
        for _ in 0..500 {
            let a: Vec<f32> = (0..16).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect();
            let q: Vec<f32> = (0..16).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect();
            let (ha, hq): (Vec<f16>, Vec<f16>) =
                (a.iter().map(|&x| f16::from_f32(x)).collect(), q.iter().map(|&x| f16::from_f32(x)).collect());
            // halfvec: the operator works on the halves themselves.
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
                let space = Space::new(Element::F16, metric, 16);
                let (pa, pq) = (space.payload_from_f16(&ha).unwrap(), space.payload_from_f16(&hq).unwrap());
                let internal = space.distance(pa.as_bytes(), pq.as_bytes());
                let operator = match metric {
                    Metric::L2 => half_kernel::l2_squared(&ha, &hq).sqrt(),
                    Metric::InnerProduct => -half_kernel::dot(&ha, &hq),
                    Metric::Cosine => half_kernel::cosine_distance(&ha, &hq),
                    _ => half_kernel::l1(&ha, &hq),
                };
                let inside = operator + 1e-9 * operator.abs().max(1.0);
                assert!(internal <= space.internal_bound(inside), "halfvec {metric:?}: {internal} > bound of {inside}");
                assert!(internal > space.internal_bound(operator - 0.01), "halfvec {metric:?}: bound far below");
            }
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
                let space = Space::new(Element::F32, metric, 16);
                let (pa, pq) = (space.payload_from_f32(&a).unwrap(), space.payload_from_f32(&q).unwrap());
                let internal = space.distance(pa.as_bytes(), pq.as_bytes());
                let operator = match metric {
                    Metric::L2 => dense::l2_squared(&a, &q).sqrt(),
                    Metric::InnerProduct => -dense::dot(&a, &q),
                    Metric::Cosine => dense::cosine_distance(&a, &q),
                    _ => dense::l1(&a, &q),
                };
                // A radius just above the row's distance: the row is inside,
                // and the bound must let it through; well below: not.
                let inside = operator + 1e-9 * operator.abs().max(1.0);
                assert!(internal <= metric.internal_bound(inside), "{metric:?}: {internal} > bound of {inside}");
                assert!(
                    internal > metric.internal_bound(operator - 0.01),
                    "{metric:?}: bound far below still lets it in"
                );
            }
        }
        assert!(Metric::L2.internal_bound(0.0) < 0.0);
        assert!(Metric::L2.internal_bound(-1.0) < 0.0);
    }

    use super::*;

    fn payload(space: &Space, v: &[f32]) -> Payload {
        space.payload_from_f32(v).unwrap()
    }

    #[test]
    fn internal_distances_order_like_the_operators() {
        let (a, b) = ([1.0f32, 2.0, 3.0], [4.0f32, 5.0, 6.0]);
        for (metric, want) in [(Metric::L2, 27.0), (Metric::InnerProduct, -32.0), (Metric::L1, 9.0)] {
            let space = Space::new(Element::F32, metric, 3);
            let d = space.distance(payload(&space, &a).as_bytes(), payload(&space, &b).as_bytes());
            assert_eq!(d, want, "{metric:?}");
        }
        let cos = Space::new(Element::F32, Metric::Cosine, 3);
        let d = cos.distance(payload(&cos, &a).as_bytes(), payload(&cos, &b).as_bytes());
        let want = -32.0 / (14.0f64 * 77.0).sqrt();
        assert!((f64::from(d) - want).abs() < 1e-6);
    }

    #[test]
    fn cosine_payloads_are_unit_vectors() {
        let cos = Space::new(Element::F32, Metric::Cosine, 2);
        assert_eq!(as_f32(payload(&cos, &[3.0, 4.0]).as_bytes()), &[0.6, 0.8]);
        assert!(cos.payload_from_f32(&[0.0, 0.0]).is_none());
    }

    #[test]
    fn halfvec_payloads_order_like_the_operators() {
        let h = |v: &[f32]| v.iter().map(|&x| f16::from_f32(x)).collect::<Vec<_>>();
        let (a, b) = (h(&[1.0, 2.0, 3.0]), h(&[4.0, 5.0, 6.0]));
        for (metric, want) in [(Metric::L2, 27.0), (Metric::InnerProduct, -32.0), (Metric::L1, 9.0)] {
            let space = Space::new(Element::F16, metric, 3);
            let (pa, pb) = (space.payload_from_f16(&a).unwrap(), space.payload_from_f16(&b).unwrap());
            assert_eq!(pa.len(), 6);
            assert_eq!(space.distance(pa.as_bytes(), pb.as_bytes()), want, "{metric:?}");
        }
        let cos = Space::new(Element::F16, Metric::Cosine, 2);
        let unit = cos.payload_from_f16(&h(&[3.0, 4.0])).unwrap();
        assert_eq!(as_f16(unit.as_bytes()), h(&[0.6, 0.8]).as_slice());
        assert!(cos.payload_from_f16(&h(&[0.0, 0.0])).is_none());
    }

    #[test]
    fn bit_payloads_count_bits() {
        let ham = Space::new(Element::Bit, Metric::Hamming, 10);
        let a = ham.payload_from_bits(&[0b1111_0000, 0b1100_0000]);
        let b = ham.payload_from_bits(&[0b1010_0000, 0b0111_1111]);
        assert_eq!(a.len(), 2);
        // The padding bits of `b` are cleared: only bits 8 and 9 count.
        assert_eq!(ham.distance(a.as_bytes(), b.as_bytes()), 3.0);
        let jac = Space::new(Element::Bit, Metric::Jaccard, 10);
        // a = {0,1,2,3,8,9}, b = {0,2,9}: 3 shared of 6.
        assert_eq!(jac.distance(a.as_bytes(), b.as_bytes()), 0.5);
        assert!(jac.is_valid() && ham.is_valid());
        assert!(!Space::new(Element::Bit, Metric::L2, 8).is_valid());
        assert!(!Space::new(Element::F16, Metric::Hamming, 8).is_valid());
    }

    #[test]
    fn sparse_payloads_match_the_sparse_kernels() {
        // a = {0: 1, 3: 2}, b = {3: 4, 5: -1} in 6 dimensions
        let (ai, av, bi, bv) = ([0, 3], [1.0f32, 2.0], [3, 5], [4.0f32, -1.0]);
        for (metric, want) in
            [(Metric::L2, 1.0 + 4.0 + 1.0), (Metric::InnerProduct, -8.0), (Metric::L1, 1.0 + 2.0 + 1.0)]
        {
            let space = Space::new(Element::Sparse, metric, 6);
            let (pa, pb) = (space.payload_from_sparse(&ai, &av).unwrap(), space.payload_from_sparse(&bi, &bv).unwrap());
            assert_eq!(pa.len(), 4 + 16);
            assert_eq!(space.payload_used(pa.as_bytes()).len(), 20);
            assert_eq!(space.distance(pa.as_bytes(), pb.as_bytes()), want, "{metric:?}");
            // Padding after the payload does not change anything.
            let mut padded = pa.as_bytes().to_vec();
            padded.extend_from_slice(&[0; 12]);
            let padded = Payload::from_bytes(&padded);
            assert_eq!(space.payload_used(padded.as_bytes()), pa.as_bytes());
            assert_eq!(space.distance(padded.as_bytes(), pb.as_bytes()), want);
        }
        let cos = Space::new(Element::Sparse, Metric::Cosine, 6);
        let unit = cos.payload_from_sparse(&[1, 2], &[3.0, 4.0]).unwrap();
        assert_eq!(as_sparse(unit.as_bytes()).nnz(), 2);
        assert_eq!(cos.distance(unit.as_bytes(), unit.as_bytes()), -1.0);
        assert!(cos.payload_from_sparse(&[], &[]).is_none());
        // A truncated payload is read as far as it goes, never past it.
        assert_eq!(as_sparse(&unit.as_bytes()[..8]).nnz(), 0);
        assert!(cos.is_variable() && !Space::new(Element::F32, Metric::L2, 3).is_variable());
    }

    #[test]
    fn payload_bytes_round_trip() {
        let p = Payload::from_bytes(&[1, 2, 3, 4, 5]);
        assert_eq!(p.as_bytes(), &[1, 2, 3, 4, 5]);
        assert_eq!(p.len(), 5);
    }
}
