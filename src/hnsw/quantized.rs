//! The arithmetic of a quantized hnsw index (`WITH (quantizer = ...)`):
//! how many bytes a code takes, how many PQ subvectors an index uses, the
//! compact node layout of codes, how many rows training samples and what
//! that copy costs the build's memory budget, the checksum of the stored
//! quantizer, and payloads as the floats quantizers read. Free of
//! Postgres: the shell (`am/hnsw/codes.rs`) stores, loads and checks.

use super::layout::NodeLayout;
use super::space::{as_f16, as_f32, Element, Metric, Payload, Space};
use crate::quant::{self, Kind};

/// The quantizer's name, as options and messages spell it.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Sq8 => "sq8",
        Kind::Pq => "pq",
        Kind::Bq => "bq",
    }
}

/// The quantizer metric that orders like the index's internal distance.
pub fn quant_metric(metric: Metric) -> Option<quant::Metric> {
    match metric {
        Metric::L2 => Some(quant::Metric::L2Squared),
        // Cosine payloads are unit vectors ordered by negative inner product.
        Metric::InnerProduct | Metric::Cosine => Some(quant::Metric::NegativeInnerProduct),
        Metric::L1 | Metric::Hamming | Metric::Jaccard => None,
    }
}

/// PQ subvectors when the options leave it open: the divisor of `dims`
/// nearest to `dims / 4` (a byte per 4 dimensions: codes stay small next to
/// a node's links, and 8-dimension subvectors lost too much recall on
/// clustered data, 0.75 against 0.98 at 64 dimensions).
pub fn default_subvectors(dims: usize) -> usize {
    let target = (dims / 4).max(1);
    (1..=dims).filter(|d| dims.is_multiple_of(*d)).min_by_key(|&d| (d.abs_diff(target), d)).unwrap_or(1)
}

/// PQ subvectors of an index.
pub fn subvectors(dims: usize, asked: usize) -> usize {
    if asked == 0 {
        default_subvectors(dims)
    } else {
        asked
    }
}

/// Bytes of one code.
pub fn code_size(kind: Kind, dims: usize, pq_subvectors: usize) -> usize {
    match kind {
        // A byte per dimension and the code's norm (see `crate::quant::sq8`).
        Kind::Sq8 => quant::sq8::Sq8::code_size_of(dims),
        Kind::Pq => subvectors(dims, pq_subvectors),
        Kind::Bq => dims.div_ceil(8),
    }
}

/// A quantized index is about size: it keeps only as many inline heap TID
/// slots as cost no node per page (full-precision layouts give up to a
/// tenth of a page's nodes for them). Identical vectors are rare in
/// embeddings; their extra TIDs go to the node's overflow chain. At 384
/// dimensions with sq8, 13 nodes fit a page instead of 12.
pub fn compact(layout: NodeLayout) -> NodeLayout {
    let most = NodeLayout { max_tids: 1, ..layout }.nodes_per_page();
    let mut layout = layout;
    while layout.max_tids > 1 && layout.nodes_per_page() < most {
        layout.max_tids -= 1;
    }
    layout
}

/// A payload of the space as floats (`vector` and `halfvec` payloads).
pub fn to_f32(space: &Space, payload: &[u8]) -> Vec<f32> {
    match space.element {
        Element::F16 => as_f16(&payload[..space.dims * 2]).iter().map(|h| h.to_f32()).collect(),
        _ => as_f32(&payload[..space.dims * 4]).to_vec(),
    }
}

/// Floats as a payload of the space, as they are (no normalisation).
pub fn from_f32(space: &Space, values: &[f32]) -> Payload {
    match space.element {
        Element::F16 => {
            let mut bytes = Vec::with_capacity(values.len() * 2);
            for v in values {
                bytes.extend_from_slice(&half::f16::from_f32(*v).to_bits().to_ne_bytes());
            }
            Payload::from_bytes(&bytes)
        }
        _ => Payload::from_words(values.iter().map(|v| v.to_bits()).collect(), values.len() * 4),
    }
}

/// Rows a build trains on, at most (SQ8: per-dimension ranges).
const SQ8_SAMPLE: usize = 65536;
/// PQ: at most this many rows and about this many values (k-means time
/// grows with both; 16,384 rows are 64 per centroid).
const PQ_SAMPLE: usize = 16384;
const PQ_SAMPLE_VALUES: usize = 16384 * 384;
const PQ_MIN_SAMPLE: usize = 4096;
/// PQ bits per code: 256 centroids per subvector, one byte.
pub const PQ_BITS: u32 = 8;

/// Rows a build of `n` rows trains `kind` on.
pub fn sample_rows(kind: Kind, dims: usize, n: usize) -> usize {
    let cap = match kind {
        Kind::Pq => PQ_SAMPLE.min((PQ_SAMPLE_VALUES / dims.max(1)).max(PQ_MIN_SAMPLE)),
        Kind::Sq8 => SQ8_SAMPLE.min((64 << 20) / dims.max(1)).max(1),
        Kind::Bq => 0,
    };
    n.min(cap)
}

/// Whether training reads the collected payloads where they are: `vector`
/// payloads are the floats training wants, and every row is in the sample.
pub fn trains_in_place(space: &Space, kind: Kind, n: usize) -> bool {
    space.element == Element::F32 && sample_rows(kind, space.dims, n) == n
}

/// Bytes of the sample a build of `n` rows copies to train `kind` (the
/// build's memory budget counts them).
pub fn sample_bytes(space: &Space, kind: Kind, n: usize) -> usize {
    if trains_in_place(space, kind, n) {
        return 0;
    }
    sample_rows(kind, space.dims, n) * space.dims * std::mem::size_of::<f32>()
}

/// FNV-1a over the quantizer's bytes.
pub fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_subvectors_divide_the_dimensions() {
        assert_eq!(default_subvectors(384), 96);
        assert_eq!(default_subvectors(1536), 384);
        assert_eq!(default_subvectors(3), 1);
        assert_eq!(default_subvectors(100), 25);
        assert_eq!(default_subvectors(4000), 1000);
        for d in 1..300 {
            assert!(d % default_subvectors(d) == 0);
        }
    }

    #[test]
    fn compact_layouts_keep_every_node_per_page() {
        let full = NodeLayout::choose(384, 16).unwrap();
        let compact = compact(full);
        assert_eq!(compact.nodes_per_page(), NodeLayout { max_tids: 1, ..full }.nodes_per_page());
        assert!(compact.nodes_per_page() > full.nodes_per_page(), "{full:?}");
        assert!(compact.max_tids >= 1 && compact.max_tids <= full.max_tids);
    }

    #[test]
    fn payloads_round_trip_through_floats() {
        for element in [Element::F32, Element::F16] {
            let space = Space::new(element, Metric::L2, 3);
            let p = from_f32(&space, &[1.0, -2.5, 0.25]);
            assert_eq!(to_f32(&space, p.as_bytes()), vec![1.0, -2.5, 0.25]);
        }
    }

    #[test]
    fn checksums_differ_for_different_bytes() {
        assert_ne!(checksum(b"abc"), checksum(b"abd"));
        assert_eq!(checksum(b""), 0x811c_9dc5);
    }

    proptest::proptest! {
        /// Codes are as big as each quantizer promises: a byte per dimension
        /// plus the norm (sq8), a byte per subvector (pq), a bit per
        /// dimension (bq); an unset pq_subvectors divides the dimensions.
        #[test]
        fn code_sizes(dims in 1usize..16001, asked in 0usize..64) {
            proptest::prop_assert_eq!(code_size(Kind::Sq8, dims, asked), quant::sq8::Sq8::code_size_of(dims));
            proptest::prop_assert!(code_size(Kind::Sq8, dims, asked) > dims);
            proptest::prop_assert_eq!(code_size(Kind::Bq, dims, asked), dims.div_ceil(8));
            proptest::prop_assert!(code_size(Kind::Bq, dims, asked) * 8 >= dims);
            proptest::prop_assert!(code_size(Kind::Bq, dims, asked) * 8 < dims + 8);
            let pq = code_size(Kind::Pq, dims, asked);
            if asked == 0 {
                proptest::prop_assert!(dims.is_multiple_of(pq));
            } else {
                proptest::prop_assert_eq!(pq, asked);
            }
        }

        /// Training never samples more rows than there are, copies nothing
        /// when it reads `vector` payloads in place, and copies at most the
        /// sample's floats otherwise; bq trains on nothing.
        #[test]
        fn samples(dims in 1usize..4001, n in 0usize..200_000, half in proptest::bool::ANY) {
            let space = Space::new(if half { Element::F16 } else { Element::F32 }, Metric::L2, dims);
            for kind in [Kind::Sq8, Kind::Pq, Kind::Bq] {
                let rows = sample_rows(kind, dims, n);
                proptest::prop_assert!(rows <= n);
                let bytes = sample_bytes(&space, kind, n);
                if trains_in_place(&space, kind, n) {
                    proptest::prop_assert_eq!(bytes, 0);
                } else {
                    proptest::prop_assert_eq!(bytes, rows * dims * 4);
                }
            }
            proptest::prop_assert_eq!(sample_rows(Kind::Bq, dims, n), 0);
            proptest::prop_assert!(sample_rows(Kind::Pq, dims, n) <= PQ_SAMPLE);
        }

        /// The compact layout keeps between one and the full layout's TID
        /// slots, and as many nodes per page as with one slot.
        #[test]
        fn compact_layouts(payload in 1usize..6000, m in 2usize..64) {
            if let Some(full) = NodeLayout::choose(payload, m) {
                let c = compact(full);
                proptest::prop_assert!(c.max_tids >= 1 && c.max_tids <= full.max_tids);
                proptest::prop_assert_eq!(c.nodes_per_page(), NodeLayout { max_tids: 1, ..full }.nodes_per_page());
            }
        }
    }
}
