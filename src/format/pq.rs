//! The text and wire formats of the `pq` SQL type (pure; the datum itself is
//! built in `crate::types::pq`).
//!
//! * text: `<codebook id>:[<code>,<code>,...]`, e.g. `3:[12,0,255]`; spaces
//!   are allowed around every token. Round-trips exactly.
//! * wire (binary COPY, `send`/`recv`), network byte order:
//!   `int32 codebook | int16 codes (m) | int16 unused (0) | m × uint8`.
//!
//! Input checks the shape only (id ≥ 1, 1..=16000 codes, each 0..=255),
//! never the codebook: a dump restores a table of `pq` values before or
//! after `lodestone.pq_codebooks`, whichever order pg_dump picks. Codes are
//! checked against their codebook (count, range) whenever one is used.

use crate::format::{Error, Result, SqlState};

pub const TYPE_NAME: &str = "pq";
/// Most codes (subvectors) a value may have: one per dimension of the
/// largest `vector`.
pub const MAX_CODES: usize = 16000;

/// A parsed `pq` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PqValue {
    pub codebook: i32,
    pub codes: Vec<u8>,
}

fn check(codebook: i64, n: usize) -> Result<()> {
    if codebook < 1 || codebook > i64::from(i32::MAX) {
        return Err(Error::new(SqlState::NumericValueOutOfRange, format!("pq codebook id {codebook} is out of range")));
    }
    if n < 1 {
        return Err(Error::new(SqlState::DataException, "pq must have at least 1 code"));
    }
    if n > MAX_CODES {
        return Err(Error::new(SqlState::ProgramLimitExceeded, format!("pq cannot have more than {MAX_CODES} codes")));
    }
    Ok(())
}

/// Parses `3:[1,2,3]`.
pub fn parse_text(input: &str) -> Result<PqValue> {
    let bad = || Error::invalid_syntax(TYPE_NAME, input);
    let s = input.trim_matches(|c: char| c.is_ascii_whitespace());
    let (id, rest) = s.split_once(':').ok_or_else(bad)?;
    let id = id.trim_matches(|c: char| c.is_ascii_whitespace());
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'+') {
        return Err(bad());
    }
    let codebook: i64 = if id.len() > 12 { i64::MAX } else { id.parse().map_err(|_| bad())? };
    let rest = rest.trim_matches(|c: char| c.is_ascii_whitespace());
    let inner = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')).ok_or_else(bad)?;
    let mut codes = Vec::new();
    if !inner.trim_matches(|c: char| c.is_ascii_whitespace()).is_empty() {
        for token in inner.split(',') {
            let t = token.trim_matches(|c: char| c.is_ascii_whitespace());
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let v: u32 = if t.len() > 6 { u32::MAX } else { t.parse().map_err(|_| bad())? };
            let code = u8::try_from(v).map_err(|_| {
                Error::new(SqlState::NumericValueOutOfRange, format!("pq code \"{t}\" is out of range (0 to 255)"))
            })?;
            codes.push(code);
        }
    }
    check(codebook, codes.len())?;
    Ok(PqValue { codebook: codebook as i32, codes })
}

pub fn to_text(codebook: i32, codes: &[u8]) -> String {
    let mut s = String::with_capacity(12 + codes.len() * 4);
    s.push_str(&codebook.to_string());
    s.push_str(":[");
    for (i, c) in codes.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&c.to_string());
    }
    s.push(']');
    s
}

/// Decodes a wire value; returns it and the bytes it used.
pub fn decode_binary(buf: &[u8]) -> Result<(PqValue, usize)> {
    if buf.len() < 8 {
        return Err(Error::insufficient_data());
    }
    let codebook = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let n = i16::from_be_bytes([buf[4], buf[5]]);
    let unused = i16::from_be_bytes([buf[6], buf[7]]);
    let n = usize::try_from(n).unwrap_or(0);
    check(i64::from(codebook), n)?;
    if unused != 0 {
        return Err(Error::new(
            SqlState::InvalidBinaryRepresentation,
            format!("expected unused to be 0, not {unused}"),
        ));
    }
    let codes = buf.get(8..8 + n).ok_or_else(Error::insufficient_data)?.to_vec();
    Ok((PqValue { codebook, codes }, 8 + n))
}

pub fn encode_binary(codebook: i32, codes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + codes.len());
    out.extend_from_slice(&codebook.to_be_bytes());
    out.extend_from_slice(&(codes.len() as i16).to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    out.extend_from_slice(codes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_examples() {
        assert_eq!(parse_text("3:[1,2,255]").unwrap(), PqValue { codebook: 3, codes: vec![1, 2, 255] });
        assert_eq!(parse_text("  7 : [ 0 , 9 ]  ").unwrap(), PqValue { codebook: 7, codes: vec![0, 9] });
        let err = |s: &str| parse_text(s).unwrap_err().state;
        for bad in ["", "3", "3:", "3:[", "3:1,2", ":[1]", "x:[1]", "3:[1,,2]", "3:[1,]", "3:[-1]", "3:[1.5]", "3:[1]x"]
        {
            assert_eq!(err(bad), SqlState::InvalidTextRepresentation, "{bad}");
        }
        assert_eq!(err("3:[256]"), SqlState::NumericValueOutOfRange);
        assert_eq!(err("3:[99999999999]"), SqlState::NumericValueOutOfRange);
        assert_eq!(err("0:[1]"), SqlState::NumericValueOutOfRange);
        assert_eq!(err("-2:[1]"), SqlState::NumericValueOutOfRange);
        assert_eq!(err("99999999999999:[1]"), SqlState::NumericValueOutOfRange);
        assert_eq!(err("3:[]"), SqlState::DataException);
    }

    #[test]
    fn binary_errors() {
        assert_eq!(decode_binary(&[0, 0, 0, 1, 0, 2, 0]).unwrap_err().state, SqlState::ProtocolViolation);
        assert_eq!(decode_binary(&[0, 0, 0, 1, 0, 2, 0, 0, 5]).unwrap_err().state, SqlState::ProtocolViolation);
        assert_eq!(decode_binary(&[0, 0, 0, 1, 0, 0, 0, 0]).unwrap_err().state, SqlState::DataException);
        assert_eq!(
            decode_binary(&[0, 0, 0, 1, 0, 1, 0, 1, 5]).unwrap_err().state,
            SqlState::InvalidBinaryRepresentation
        );
        assert_eq!(decode_binary(&[0, 0, 0, 0, 0, 1, 0, 0, 5]).unwrap_err().state, SqlState::NumericValueOutOfRange);
        assert_eq!(decode_binary(&[0xff, 0, 0, 0, 0, 1, 0, 0, 5]).unwrap_err().state, SqlState::NumericValueOutOfRange);
    }

    proptest! {
        #[test]
        fn round_trips(codebook in 1i32..=i32::MAX, codes in proptest::collection::vec(any::<u8>(), 1..300)) {
            let text = to_text(codebook, &codes);
            prop_assert_eq!(parse_text(&text).unwrap(), PqValue { codebook, codes: codes.clone() });
            let mut wire = encode_binary(codebook, &codes);
            wire.push(42); // a following field
            let (v, used) = decode_binary(&wire).unwrap();
            prop_assert_eq!(used, wire.len() - 1);
            prop_assert_eq!(v, PqValue { codebook, codes });
        }
    }
}
