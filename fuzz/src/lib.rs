//! The extension's `src/format/` compiled on its own, plus the properties
//! every fuzz target checks.
#[path = "../../src/format/mod.rs"]
pub mod format;

use format::dense::{self, DenseElement};
use format::sparse;
use std::ffi::CString;

/// Splits fuzz input into a typmod (first 4 bytes, folded into the range a
/// caller can pass: -1 or 1..=16000) and the rest.
pub fn split_typmod(data: &[u8]) -> (i32, &[u8]) {
    if data.len() < 4 {
        return (-1, data);
    }
    let raw = i32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let typmod = if raw % 4 == 0 { -1 } else { (raw.rem_euclid(16000)) + 1 };
    (typmod, &data[4..])
}

fn cstring(bytes: &[u8]) -> Option<CString> {
    CString::new(bytes.iter().copied().take_while(|&b| b != 0).collect::<Vec<u8>>()).ok()
}

fn check_dense_value<E: DenseElement>(values: &[E], typmod: i32) {
    assert!(!values.is_empty() && values.len() <= E::MAX_DIM, "accepted a value with {} dimensions", values.len());
    if typmod > 0 {
        assert_eq!(values.len(), typmod as usize, "accepted a value whose dimensions differ from the typmod");
    }
    for v in values {
        assert!(v.to_f32().is_finite(), "accepted a non-finite element");
    }
}

/// Text input of a dense type: an accepted value is valid, prints, and reads
/// back to the same bits; binary encoding round-trips too.
pub fn dense_text<E: DenseElement + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let (typmod, rest) = split_typmod(data);
    let Some(literal) = cstring(rest) else { return };
    let Ok(values) = dense::parse_text::<E>(&literal, typmod) else { return };
    check_dense_value(&values, typmod);
    let text = dense::to_text(&values);
    let again = dense::parse_text::<E>(&CString::new(text.clone()).unwrap(), typmod)
        .unwrap_or_else(|e| panic!("output {text:?} does not read back: {e:?}"));
    assert_eq!(bits(&values), bits(&again), "text round trip changed {text:?}");
    let wire = dense::encode_binary(&values);
    let (back, used) = dense::decode_binary::<E>(&wire, typmod).expect("encoded value does not decode");
    assert_eq!(used, wire.len());
    assert_eq!(bits(&values), bits(&back), "binary round trip");
}

/// Binary receive of a dense type: never panics; an accepted value is valid
/// and re-encodes to exactly the bytes it took.
pub fn dense_binary<E: DenseElement + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let (typmod, rest) = split_typmod(data);
    let Ok((values, used)) = dense::decode_binary::<E>(rest, typmod) else { return };
    assert!(used <= rest.len());
    check_dense_value(&values, typmod);
    assert_eq!(dense::encode_binary(&values), rest[..used], "re-encoding differs from the input");
    let text = dense::to_text(&values);
    let again = dense::parse_text::<E>(&CString::new(text.clone()).unwrap(), typmod)
        .unwrap_or_else(|e| panic!("output {text:?} does not read back: {e:?}"));
    assert_eq!(bits(&values), bits(&again), "text round trip of a received value changed {text:?}");
}

fn bits<E: DenseElement>(values: &[E]) -> Vec<u32> {
    values.iter().map(|v| v.to_f32().to_bits()).collect()
}

fn check_sparse(s: &sparse::Sparse, typmod: i32) {
    assert!(s.dim >= 1, "accepted dim {}", s.dim);
    assert_eq!(s.indices.len(), s.values.len());
    assert!(s.indices.len() <= 16000 && s.indices.len() as i64 <= i64::from(s.dim));
    if typmod > 0 {
        assert_eq!(s.dim, typmod);
    }
    for w in s.indices.windows(2) {
        assert!(w[0] < w[1], "indices not strictly ascending: {:?}", s.indices);
    }
    for (&i, &v) in s.indices.iter().zip(&s.values) {
        assert!(i >= 0 && i < s.dim, "index {i} outside 0..{}", s.dim);
        assert!(v.is_finite() && v != 0.0, "stored element {v}");
    }
}

/// Text input of sparsevec: accepted values are canonical (sorted, no zeros,
/// in bounds) and round-trip through text and binary.
pub fn sparse_text(data: &[u8]) {
    let (typmod, rest) = split_typmod(data);
    let Some(literal) = cstring(rest) else { return };
    let Ok(s) = sparse::parse_text(&literal, typmod) else { return };
    check_sparse(&s, typmod);
    let text = sparse::to_text(s.dim, &s.indices, &s.values);
    let again = sparse::parse_text(&CString::new(text.clone()).unwrap(), typmod)
        .unwrap_or_else(|e| panic!("output {text:?} does not read back: {e:?}"));
    assert_eq!((s.dim, &s.indices, fbits(&s.values)), (again.dim, &again.indices, fbits(&again.values)));
    let wire = sparse::encode_binary(s.dim, &s.indices, &s.values);
    let (back, used) = sparse::decode_binary(&wire, typmod).expect("encoded value does not decode");
    assert_eq!(used, wire.len());
    assert_eq!((s.dim, &s.indices, fbits(&s.values)), (back.dim, &back.indices, fbits(&back.values)));
}

/// Binary receive of sparsevec: never panics; accepted values are canonical
/// and re-encode to the bytes they took.
pub fn sparse_binary(data: &[u8]) {
    let (typmod, rest) = split_typmod(data);
    let Ok((s, used)) = sparse::decode_binary(rest, typmod) else { return };
    check_sparse(&s, typmod);
    assert_eq!(sparse::encode_binary(s.dim, &s.indices, &s.values), rest[..used]);
    let text = sparse::to_text(s.dim, &s.indices, &s.values);
    sparse::parse_text(&CString::new(text.clone()).unwrap(), typmod)
        .unwrap_or_else(|e| panic!("output {text:?} does not read back: {e:?}"));
}

fn fbits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}
