//! Distance kernels over bit strings (Postgres's `bit` type), given as the
//! bytes of two strings of the same bit length. Postgres keeps the padding
//! bits of the last byte zero, so whole bytes can be counted.
//!
//! Both run on SimSIMD (AVX-512 VPOPCNTDQ, `popcnt`, NEON or SVE, picked at
//! run time). SimSIMD's Jaccard distance is `1 - |a ∧ b| / |a ∨ b|`, and 1 when
//! both strings are all zeros; pgvector's is `1 - |a ∧ b| / (|a| + |b| -
//! |a ∧ b|)`, and 1 when `|a ∧ b|` is 0. The denominators are the same
//! integer and both divide in `double`, so the results are identical
//! (checked by the tests against [`scalar`]).

use simsimd::BinarySimilarity;

/// The number of bits that differ.
#[inline]
pub fn hamming(a: &[u8], b: &[u8]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    <u8 as BinarySimilarity>::hamming(a, b).unwrap_or_else(|| scalar::hamming(a, b) as f64)
}

/// `1 - |a ∧ b| / |a ∨ b|`; 1 when no bit is set in both.
#[inline]
pub fn jaccard(a: &[u8], b: &[u8]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    <u8 as BinarySimilarity>::jaccard(a, b).unwrap_or_else(|| scalar::jaccard(a, b))
}

/// Portable popcount loops over 64-bit words, written as pgvector defines
/// the distances.
pub mod scalar {
    fn words(x: &[u8]) -> impl Iterator<Item = u64> + '_ {
        let chunks = x.chunks_exact(8);
        let tail = chunks.remainder();
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        chunks
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .chain((!tail.is_empty()).then(|| u64::from_le_bytes(last)))
    }

    pub fn hamming(a: &[u8], b: &[u8]) -> u64 {
        words(a).zip(words(b)).map(|(x, y)| u64::from((x ^ y).count_ones())).sum()
    }

    pub fn jaccard(a: &[u8], b: &[u8]) -> f64 {
        let (mut ab, mut aa, mut bb) = (0u64, 0u64, 0u64);
        for (x, y) in words(a).zip(words(b)) {
            ab += u64::from((x & y).count_ones());
            aa += u64::from(x.count_ones());
            bb += u64::from(y.count_ones());
        }
        if ab == 0 {
            1.0
        } else {
            1.0 - ab as f64 / (aa + bb - ab) as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bit by bit.
    fn reference(a: &[u8], b: &[u8]) -> (u64, u64, u64) {
        let (mut diff, mut inter, mut union) = (0, 0, 0);
        for (x, y) in a.iter().zip(b) {
            for k in 0..8 {
                let (p, q) = ((x >> k) & 1, (y >> k) & 1);
                diff += u64::from(p != q);
                inter += u64::from(p & q);
                union += u64::from(p | q);
            }
        }
        (diff, inter, union)
    }

    fn strings() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
        // Lengths up to 4096 bytes (32768 bits), crossing SimSIMD's size
        // classes (64, 128, 192, 256 bytes) and word tails; sparse or dense.
        (1usize..=4096, 0u8..=2).prop_flat_map(|(n, density)| {
            let byte = match density {
                0 => prop_oneof![7 => Just(0u8), 1 => any::<u8>()].boxed(),
                1 => any::<u8>().boxed(),
                _ => prop_oneof![1 => Just(0u8), 7 => Just(0xffu8), 2 => any::<u8>()].boxed(),
            };
            (prop::collection::vec(byte.clone(), n), prop::collection::vec(byte, n))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn kernels_agree_with_bitwise_reference((a, b) in strings()) {
            let (diff, inter, union) = reference(&a, &b);
            let want = if inter == 0 { 1.0 } else { 1.0 - inter as f64 / union as f64 };
            prop_assert_eq!(hamming(&a, &b), diff as f64);
            prop_assert_eq!(scalar::hamming(&a, &b), diff);
            prop_assert_eq!(jaccard(&a, &b).to_bits(), want.to_bits());
            prop_assert_eq!(scalar::jaccard(&a, &b).to_bits(), want.to_bits());
        }
    }

    #[test]
    fn edge_cases() {
        assert_eq!(hamming(&[], &[]), 0.0);
        assert_eq!(jaccard(&[], &[]), 1.0);
        assert_eq!(jaccard(&[0; 100], &[0; 100]), 1.0);
        assert_eq!(jaccard(&[0xf0], &[0x0f]), 1.0);
        assert_eq!(jaccard(&[0xff; 9], &[0xff; 9]), 0.0);
        assert_eq!(jaccard(&[0b1100_0000], &[0b1000_0000]), 0.5);
        assert_eq!(hamming(&[0b1110_0000], &[0b1000_0000]), 2.0);
        for n in 0..300 {
            let a: Vec<u8> = (0..n).map(|i| (i * 37) as u8).collect();
            let b: Vec<u8> = (0..n).map(|i| (i * 91 + 5) as u8).collect();
            assert_eq!(hamming(&a, &b), scalar::hamming(&a, &b) as f64, "n = {n}");
            assert_eq!(jaccard(&a, &b), scalar::jaccard(&a, &b), "n = {n}");
        }
    }
}
