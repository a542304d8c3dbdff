//! Text and binary formats of `sparsevec`, with pgvector's checks in
//! pgvector's order:
//!
//! * text `{1:1.5,3:2}/5`: 1-based indices in any order, zeros dropped; the
//!   value is stored sorted;
//! * on the wire, in network byte order: `int32 dim, int32 nnz, int32 unused
//!   (0), nnz × int32 index (0-based, strictly ascending), nnz × float4
//!   value (non-zero)`.

use super::dense::{check_expected_dim, is_space, WireReader};
use super::error::{Error, Result, SqlState};
use super::float;
use std::ffi::CStr;

/// SQL name of the type, for messages.
pub const TYPE_NAME: &str = "sparsevec";
/// Most dimensions a value may have.
pub const MAX_DIM: i32 = 1_000_000_000;
/// Most non-zero elements a value may have.
pub const MAX_NNZ: usize = 16000;

/// A sparse vector: 0-based indices, strictly ascending, and their non-zero
/// values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sparse {
    pub dim: i32,
    pub indices: Vec<i32>,
    pub values: Vec<f32>,
}

/// pgvector's `CheckDim` for `sparsevec`.
pub fn check_dim(dim: i64) -> Result<()> {
    if dim < 1 {
        return Err(Error::too_few_dims(TYPE_NAME));
    }
    if dim > i64::from(MAX_DIM) {
        return Err(Error::too_many_dims(TYPE_NAME, MAX_DIM as usize));
    }
    Ok(())
}

/// pgvector's `CheckNnz`.
pub fn check_nnz(nnz: i64, dim: i64) -> Result<()> {
    if nnz < 0 {
        return Err(Error::new(SqlState::DataException, "sparsevec cannot have negative number of elements"));
    }
    if nnz > MAX_NNZ as i64 {
        return Err(too_many_nnz());
    }
    if nnz > dim {
        return Err(Error::new(SqlState::ProgramLimitExceeded, "sparsevec cannot have more elements than dimensions"));
    }
    Ok(())
}

fn too_many_nnz() -> Error {
    Error::new(SqlState::ProgramLimitExceeded, format!("sparsevec cannot have more than {MAX_NNZ} non-zero elements"))
}

/// pgvector's `CheckIndex`: `indices[i]` is within `0..dim` and above the
/// index before it.
pub fn check_index(indices: &[i32], i: usize, dim: i32) -> Result<()> {
    let index = indices[i];
    if index < 0 || index >= dim {
        return Err(Error::new(SqlState::DataException, "sparsevec index out of bounds"));
    }
    if i > 0 {
        if index < indices[i - 1] {
            return Err(Error::new(SqlState::DataException, "sparsevec indices must be in ascending order"));
        }
        if index == indices[i - 1] {
            return Err(Error::new(SqlState::DataException, "sparsevec indices must not contain duplicates"));
        }
    }
    Ok(())
}

/// pgvector's `CheckElement` for `sparsevec`.
pub fn check_element(value: f32) -> Result<()> {
    super::dense::check_finite(value, TYPE_NAME)
}

/// C's `strtol(s, &end, 10)`: the value (saturated to `long` on overflow)
/// and the bytes consumed, or `None` when no digits were read.
fn strtol_prefix(input: &CStr) -> Option<(i64, usize)> {
    let start = input.as_ptr();
    let mut end: *mut std::ffi::c_char = std::ptr::null_mut();
    // SAFETY: `input` is NUL-terminated, so strtol reads within it and sets
    // `end` inside it (to `start` when nothing was parsed).
    let value = unsafe { libc::strtol(start, &mut end, 10) };
    // SAFETY: both pointers are into the same allocation, `end >= start`.
    let len = unsafe { end.offset_from(start) } as usize;
    // `long` is 64 bits here but 32 on some targets.
    #[allow(clippy::useless_conversion)]
    let value = i64::from(value);
    (len > 0).then_some((value, len))
}

fn skip_space(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && is_space(bytes[pos]) {
        pos += 1;
    }
    pos
}

/// Parses `{1:1.5,3:2}/5`, then checks the dimensions against `typmod`.
pub fn parse_text(literal: &CStr, typmod: i32) -> Result<Sparse> {
    let bytes = literal.to_bytes();
    let lit = String::from_utf8_lossy(bytes);
    let syntax = || Error::invalid_syntax(TYPE_NAME, &lit);

    // pgvector sizes its buffer by the commas before reading anything.
    let max_nnz = 1 + bytes.iter().filter(|&&c| c == b',').count();
    if max_nnz > MAX_NNZ {
        return Err(too_many_nnz());
    }

    let mut pos = skip_space(bytes, 0);
    if bytes.get(pos) != Some(&b'{') {
        return Err(syntax().with_detail("Vector contents must start with \"{\"."));
    }
    pos = skip_space(bytes, pos + 1);

    let mut elements: Vec<(i32, f32)> = Vec::new();
    if bytes.get(pos) == Some(&b'}') {
        pos += 1;
    } else {
        loop {
            // Unreachable (each element but the first follows a comma), kept
            // for pgvector's message.
            if elements.len() == max_nnz {
                return Err(Error::new(SqlState::InvalidTextRepresentation, format!("ran out of buffer: \"{lit}\"")));
            }
            pos = skip_space(bytes, pos);
            if pos == bytes.len() {
                return Err(syntax());
            }
            let (index, used) = strtol_prefix(&literal[pos..]).ok_or_else(syntax)?;
            // Kept in int range, as pgvector does, so that the bounds check
            // reports it.
            let index = index.clamp(i64::from(i32::MIN) + 1, i64::from(i32::MAX));
            pos = skip_space(bytes, pos + used);
            if bytes.get(pos) != Some(&b':') {
                return Err(syntax());
            }
            pos = skip_space(bytes, pos + 1);

            let parsed = float::parse_prefix(&literal[pos..]).ok_or_else(syntax)?;
            if parsed.overflow || parsed.underflow {
                let token = String::from_utf8_lossy(&bytes[pos..pos + parsed.len]);
                return Err(Error::out_of_range(TYPE_NAME, &token));
            }
            check_element(parsed.value)?;
            if parsed.value != 0.0 {
                // 1-based in SQL, 0-based on disk.
                elements.push(((index - 1) as i32, parsed.value));
            }
            pos = skip_space(bytes, pos + parsed.len);
            match bytes.get(pos) {
                Some(b',') => pos += 1,
                Some(b'}') => {
                    pos += 1;
                    break;
                }
                _ => return Err(syntax()),
            }
        }
    }

    pos = skip_space(bytes, pos);
    if bytes.get(pos) != Some(&b'/') {
        return Err(syntax().with_detail("Unexpected end of input."));
    }
    pos = skip_space(bytes, pos + 1);
    let (dim, used) = strtol_prefix(&literal[pos..]).ok_or_else(syntax)?;
    let dim = dim.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    pos = skip_space(bytes, pos + used);
    if pos != bytes.len() {
        return Err(syntax().with_detail("Junk after closing."));
    }

    check_dim(dim)?;
    let dim = dim as i32;
    check_expected_dim(typmod, dim as usize)?;

    elements.sort_by_key(|&(index, _)| index);
    let mut out =
        Sparse { dim, indices: Vec::with_capacity(elements.len()), values: Vec::with_capacity(elements.len()) };
    for (i, &(index, value)) in elements.iter().enumerate() {
        out.indices.push(index);
        out.values.push(value);
        check_index(&out.indices, i, dim)?;
    }
    Ok(out)
}

/// Prints `{1:1.5,3:2}/5`.
pub fn to_text(dim: i32, indices: &[i32], values: &[f32]) -> String {
    let mut out = String::with_capacity(indices.len() * 16 + 16);
    out.push('{');
    for (i, (&index, &value)) in indices.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&(i64::from(index) + 1).to_string());
        out.push(':');
        float::push_shortest(&mut out, value);
    }
    out.push_str("}/");
    out.push_str(&dim.to_string());
    out
}

/// Decodes a binary value from the front of `buf`, returning it and the
/// number of bytes it took.
pub fn decode_binary(buf: &[u8], typmod: i32) -> Result<(Sparse, usize)> {
    let mut reader = WireReader::new(buf);
    let dim = reader.i32()?;
    let nnz = reader.i32()?;
    let unused = reader.i32()?;
    check_dim(i64::from(dim))?;
    check_nnz(i64::from(nnz), i64::from(dim))?;
    check_expected_dim(typmod, dim as usize)?;
    if unused != 0 {
        return Err(Error::new(SqlState::DataException, format!("expected unused to be 0, not {unused}")));
    }
    let nnz = nnz as usize;
    let mut out = Sparse { dim, indices: Vec::with_capacity(nnz), values: Vec::with_capacity(nnz) };
    for i in 0..nnz {
        out.indices.push(reader.i32()?);
        check_index(&out.indices, i, dim)?;
    }
    for _ in 0..nnz {
        let value = f32::from_bits(reader.i32()? as u32);
        check_element(value)?;
        if value == 0.0 {
            return Err(Error::new(
                SqlState::DataException,
                "binary representation of sparsevec cannot contain zero values",
            ));
        }
        out.values.push(value);
    }
    Ok((out, reader.pos))
}

/// Encodes a value for the wire.
pub fn encode_binary(dim: i32, indices: &[i32], values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + 8 * indices.len());
    out.extend_from_slice(&dim.to_be_bytes());
    out.extend_from_slice(&(indices.len() as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    for index in indices {
        out.extend_from_slice(&index.to_be_bytes());
    }
    for value in values {
        out.extend_from_slice(&value.to_bits().to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    fn parse(s: &str, typmod: i32) -> Result<Sparse> {
        parse_text(&CString::new(s).unwrap(), typmod)
    }

    fn message(s: &str) -> String {
        let e = parse(s, -1).unwrap_err();
        match e.detail {
            Some(d) => format!("{} / {}", e.message, d),
            None => e.message,
        }
    }

    fn show(s: &str) -> String {
        let v = parse(s, -1).unwrap();
        to_text(v.dim, &v.indices, &v.values)
    }

    #[test]
    fn accepts_what_pgvector_accepts() {
        assert_eq!(show("{1:1.5,3:3.5}/5"), "{1:1.5,3:3.5}/5");
        assert_eq!(show(" { 3 : 2 , 1 :-1 } / 5 "), "{1:-1,3:2}/5");
        assert_eq!(show("{1:0,2:1,3:-0}/3"), "{2:1}/3");
        assert_eq!(show("{}/1"), "{}/1");
        assert_eq!(show("{ }/1000000000"), "{}/1000000000");
        assert_eq!(show("{+1:1e-40}/+2"), "{1:1e-40}/2");
        assert_eq!(show("{1:0,1:0}/1"), "{}/1");
        assert_eq!(show("{1:1.5e38}/1"), "{1:1.5e+38}/1");
        let v = parse("{2:1,1:2}/2", 2).unwrap();
        assert_eq!(v.indices, [0, 1]);
        assert_eq!(v.values, [2.0, 1.0]);
    }

    #[test]
    fn rejects_with_pgvector_messages() {
        let syntax = |s: &str| format!("invalid input syntax for type sparsevec: \"{s}\"");
        let cases: Vec<(&str, String)> = vec![
            ("", syntax("") + " / Vector contents must start with \"{\"."),
            ("[1]", syntax("[1]") + " / Vector contents must start with \"{\"."),
            ("{", syntax("{")),
            ("{1", syntax("{1")),
            ("{1:", syntax("{1:")),
            ("{:1}/1", syntax("{:1}/1")),
            ("{1:}/1", syntax("{1:}/1")),
            ("{1a:1}/1", syntax("{1a:1}/1")),
            ("{1:1,}/1", syntax("{1:1,}/1")),
            ("{0x1:1}/1", syntax("{0x1:1}/1")),
            ("{- 1:1}/1", syntax("{- 1:1}/1")),
            ("{}", syntax("{}") + " / Unexpected end of input."),
            ("{1:1}5", syntax("{1:1}5") + " / Unexpected end of input."),
            ("{}/", syntax("{}/")),
            ("{}/1a", syntax("{}/1a") + " / Junk after closing."),
            ("{}/1.0", syntax("{}/1.0") + " / Junk after closing."),
            ("{1:NaN}/1", "NaN not allowed in sparsevec".into()),
            ("{1:-inf}/1", "infinite value not allowed in sparsevec".into()),
            ("{1:4e38}/1", "\"4e38\" is out of range for type sparsevec".into()),
            ("{1:-1e-46}/1", "\"-1e-46\" is out of range for type sparsevec".into()),
            ("{1:1e-46,x}/1", "\"1e-46\" is out of range for type sparsevec".into()),
            ("{}/0", "sparsevec must have at least 1 dimension".into()),
            ("{}/-9223372036854775809", "sparsevec must have at least 1 dimension".into()),
            ("{}/1000000001", "sparsevec cannot have more than 1000000000 dimensions".into()),
            ("{}/99999999999999999999", "sparsevec cannot have more than 1000000000 dimensions".into()),
            ("{0:1}/1", "sparsevec index out of bounds".into()),
            ("{2:1}/1", "sparsevec index out of bounds".into()),
            ("{2147483648:1}/1", "sparsevec index out of bounds".into()),
            ("{-9223372036854775809:1}/1", "sparsevec index out of bounds".into()),
            ("{1:1,1:2}/2", "sparsevec indices must not contain duplicates".into()),
            // sorted first, so the lowest bad index is reported
            ("{9:1,1:1,1:1}/2", "sparsevec indices must not contain duplicates".into()),
            ("{2:1,2:1,0:1}/2", "sparsevec index out of bounds".into()),
            // the dimension is checked before the indices
            ("{5:1}/0", "sparsevec must have at least 1 dimension".into()),
        ];
        for (input, want) in cases {
            assert_eq!(message(input), want, "input {input:?}");
        }
        assert_eq!(parse("{1:1}/3", 2).unwrap_err().message, "expected 2 dimensions, not 3");
        let commas = format!("x{}", ",".repeat(16000));
        let e = parse(&commas, -1).unwrap_err();
        assert_eq!(e.message, "sparsevec cannot have more than 16000 non-zero elements");
        assert_eq!(e.state, SqlState::ProgramLimitExceeded);
        let ok = format!("{{{}}}/16000", (1..=16000).map(|i| format!("{i}:1")).collect::<Vec<_>>().join(","));
        assert_eq!(parse(&ok, -1).unwrap().indices.len(), 16000);
    }

    #[test]
    fn binary_round_trip_and_errors() {
        let v = parse("{1:1.5,3:-2}/5", -1).unwrap();
        let wire = encode_binary(v.dim, &v.indices, &v.values);
        assert_eq!(wire.len(), 12 + 16);
        assert_eq!(decode_binary(&wire, -1).unwrap(), (v.clone(), 28));
        let msg = |bytes: &[u8]| decode_binary(bytes, -1).unwrap_err().message;
        let build = |dim: i32, nnz: i32, unused: i32, idx: &[i32], vals: &[f32]| {
            let mut w = Vec::new();
            for x in [dim, nnz, unused].iter().chain(idx) {
                w.extend_from_slice(&x.to_be_bytes());
            }
            for x in vals {
                w.extend_from_slice(&x.to_bits().to_be_bytes());
            }
            w
        };
        assert_eq!(msg(&wire[..27]), "insufficient data left in message");
        assert_eq!(msg(&wire[..8]), "insufficient data left in message");
        assert_eq!(msg(&build(0, 0, 0, &[], &[])), "sparsevec must have at least 1 dimension");
        assert_eq!(msg(&build(3, -1, 0, &[], &[])), "sparsevec cannot have negative number of elements");
        assert_eq!(msg(&build(20000, 16001, 0, &[], &[])), "sparsevec cannot have more than 16000 non-zero elements");
        assert_eq!(msg(&build(1, 2, 0, &[], &[])), "sparsevec cannot have more elements than dimensions");
        assert_eq!(msg(&build(3, 1, 7, &[0], &[1.0])), "expected unused to be 0, not 7");
        assert_eq!(msg(&build(3, 2, 0, &[1, 0], &[1.0, 1.0])), "sparsevec indices must be in ascending order");
        assert_eq!(msg(&build(3, 2, 0, &[1, 1], &[1.0, 1.0])), "sparsevec indices must not contain duplicates");
        assert_eq!(msg(&build(3, 1, 0, &[3], &[1.0])), "sparsevec index out of bounds");
        assert_eq!(
            msg(&build(3, 1, 0, &[0], &[-0.0])),
            "binary representation of sparsevec cannot contain zero values"
        );
        assert_eq!(msg(&build(3, 1, 0, &[0], &[f32::NAN])), "NaN not allowed in sparsevec");
        assert_eq!(decode_binary(&build(3, 0, 0, &[], &[]), 2).unwrap_err().message, "expected 2 dimensions, not 3");
    }
}
