//! Text and binary formats of the dense types (`vector`, and `halfvec` through
//! the same code): `[1,2,3]` in text, and on the wire
//! `int16 dim, int16 unused (0), dim × element` in network byte order.
//!
//! The order in which checks run is pgvector's, so the first error a bad value
//! hits is the one pgvector would report.

use super::error::{Error, Result, SqlState};
use super::float;
use std::ffi::CStr;

/// What differs between the dense element types.
pub trait DenseElement: Copy + Default {
    /// SQL name of the type, as used in error messages.
    const TYPE_NAME: &'static str;
    /// Most dimensions a value may have.
    const MAX_DIM: usize;
    /// Size of one element on the wire.
    const WIRE_SIZE: usize;

    /// Converts a number read from text (`token` is its spelling, `overflow`
    /// whether strtof overflowed), checking it as pgvector does.
    fn from_text(value: f32, overflow: bool, token: &str) -> Result<Self>;
    /// Decodes and checks one element from `WIRE_SIZE` big-endian bytes.
    fn from_wire(bytes: &[u8]) -> Result<Self>;
    /// Appends the element's big-endian wire bytes.
    fn to_wire(self, out: &mut Vec<u8>);
    /// The element as a float, for printing.
    fn to_f32(self) -> f32;
}

impl DenseElement for f32 {
    const TYPE_NAME: &'static str = "vector";
    const MAX_DIM: usize = 16000;
    const WIRE_SIZE: usize = 4;

    fn from_text(value: f32, overflow: bool, token: &str) -> Result<Self> {
        if overflow {
            return Err(Error::out_of_range(Self::TYPE_NAME, token));
        }
        check_finite(value, Self::TYPE_NAME)?;
        Ok(value)
    }

    fn from_wire(bytes: &[u8]) -> Result<Self> {
        let value = f32::from_bits(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
        check_finite(value, Self::TYPE_NAME)?;
        Ok(value)
    }

    fn to_wire(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_be_bytes());
    }

    fn to_f32(self) -> f32 {
        self
    }
}

/// pgvector's `CheckElement`: NaN and infinities are refused.
pub fn check_finite(value: f32, type_name: &str) -> Result<()> {
    if value.is_nan() {
        return Err(Error::nan(type_name));
    }
    if value.is_infinite() {
        return Err(Error::infinite(type_name));
    }
    Ok(())
}

/// pgvector's `CheckDim`.
pub fn check_dim(dim: usize, type_name: &str, max: usize) -> Result<()> {
    if dim < 1 {
        return Err(Error::too_few_dims(type_name));
    }
    if dim > max {
        return Err(Error::too_many_dims(type_name, max));
    }
    Ok(())
}

/// pgvector's `CheckExpectedDim`: a typmod of -1 means "any".
pub fn check_expected_dim(typmod: i32, dim: usize) -> Result<()> {
    if typmod != -1 && i64::from(typmod) != dim as i64 {
        return Err(Error::expected_dims(typmod, dim));
    }
    Ok(())
}

/// The whitespace pgvector skips (`vector_isspace`, like `scanner_isspace`).
pub fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Parses `[1, 2, 3]`, then checks the dimension count against `typmod`.
pub fn parse_text<E: DenseElement>(literal: &CStr, typmod: i32) -> Result<Vec<E>> {
    let bytes = literal.to_bytes();
    let lit = || String::from_utf8_lossy(bytes).into_owned();
    let syntax = || Error::invalid_syntax(E::TYPE_NAME, &lit());
    let mut pos = skip_space(bytes, 0);

    if bytes.get(pos) != Some(&b'[') {
        return Err(syntax().with_detail("Vector contents must start with \"[\"."));
    }
    pos = skip_space(bytes, pos + 1);
    if bytes.get(pos) == Some(&b']') {
        return Err(Error::too_few_dims(E::TYPE_NAME));
    }

    let mut values = Vec::new();
    loop {
        if values.len() == E::MAX_DIM {
            return Err(Error::too_many_dims(E::TYPE_NAME, E::MAX_DIM));
        }
        pos = skip_space(bytes, pos);
        if pos == bytes.len() {
            return Err(syntax());
        }
        let rest = &literal[pos..];
        let parsed = float::parse_prefix(rest).ok_or_else(syntax)?;
        let token = String::from_utf8_lossy(&bytes[pos..pos + parsed.len]);
        values.push(E::from_text(parsed.value, parsed.overflow, &token)?);
        pos = skip_space(bytes, pos + parsed.len);
        match bytes.get(pos) {
            Some(b',') => pos += 1,
            Some(b']') => {
                pos += 1;
                break;
            }
            _ => return Err(syntax()),
        }
    }

    if skip_space(bytes, pos) != bytes.len() {
        return Err(syntax().with_detail("Junk after closing right brace."));
    }
    check_dim(values.len(), E::TYPE_NAME, E::MAX_DIM)?;
    check_expected_dim(typmod, values.len())?;
    Ok(values)
}

fn skip_space(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && is_space(bytes[pos]) {
        pos += 1;
    }
    pos
}

/// Prints `[1,2.5,-3]`.
pub fn to_text<E: DenseElement>(values: &[E]) -> String {
    let mut out = String::with_capacity(values.len() * 8 + 2);
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        float::push_shortest(&mut out, v.to_f32());
    }
    out.push(']');
    out
}

/// Decodes a binary value from the front of `buf`, returning it and the number
/// of bytes it took.
pub fn decode_binary<E: DenseElement>(buf: &[u8], typmod: i32) -> Result<(Vec<E>, usize)> {
    let mut reader = WireReader::new(buf);
    // Both fields are read unsigned, as pgvector reads them since 0.8.6
    // (there, 65535 dimensions wrapped to -1 and said "at least 1").
    let dim = usize::from(reader.u16()?);
    let unused = reader.u16()?;
    check_dim(dim, E::TYPE_NAME, E::MAX_DIM)?;
    check_expected_dim(typmod, dim)?;
    if unused != 0 {
        return Err(Error::new(SqlState::DataException, format!("expected unused to be 0, not {unused}")));
    }
    let mut values = Vec::with_capacity(dim);
    for _ in 0..dim {
        values.push(E::from_wire(reader.take(E::WIRE_SIZE)?)?);
    }
    Ok((values, reader.pos))
}

/// Encodes a value for the wire.
pub fn encode_binary<E: DenseElement>(values: &[E]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + values.len() * E::WIRE_SIZE);
    out.extend_from_slice(&(values.len() as i16).to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    for v in values {
        v.to_wire(&mut out);
    }
    out
}

/// Reads big-endian integers the way `pq_getmsgint` does, failing with
/// Postgres's "insufficient data left in message" when the buffer runs out.
pub struct WireReader<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> WireReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        WireReader { buf, pos: 0 }
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(Error::insufficient_data)?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    pub fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn i32(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    fn parse(s: &str, typmod: i32) -> Result<Vec<f32>> {
        parse_text::<f32>(&CString::new(s).unwrap(), typmod)
    }

    fn message(s: &str) -> String {
        let e = parse(s, -1).unwrap_err();
        match e.detail {
            Some(d) => format!("{} / {}", e.message, d),
            None => e.message,
        }
    }

    #[test]
    fn accepts_what_pgvector_accepts() {
        assert_eq!(parse("[1,2,3]", -1).unwrap(), vec![1.0, 2.0, 3.0]);
        assert_eq!(parse(" [ 1 , -2.5e1 ,\t3 ] \n", -1).unwrap(), vec![1.0, -25.0, 3.0]);
        assert_eq!(parse("[1e-50]", -1).unwrap(), vec![0.0]);
        assert_eq!(parse("[0x10]", 1).unwrap(), vec![16.0]);
        assert_eq!(parse("[+1]", -1).unwrap(), vec![1.0]);
    }

    #[test]
    fn rejects_with_pgvector_messages() {
        let cases = [
            ("", "invalid input syntax for type vector: \"\" / Vector contents must start with \"[\"."),
            ("1,2", "invalid input syntax for type vector: \"1,2\" / Vector contents must start with \"[\"."),
            ("[]", "vector must have at least 1 dimension"),
            ("[ ]", "vector must have at least 1 dimension"),
            ("[1,]", "invalid input syntax for type vector: \"[1,]\""),
            ("[1,,2]", "invalid input syntax for type vector: \"[1,,2]\""),
            ("[1", "invalid input syntax for type vector: \"[1\""),
            ("[1 2]", "invalid input syntax for type vector: \"[1 2]\""),
            ("[a]", "invalid input syntax for type vector: \"[a]\""),
            ("[1]x", "invalid input syntax for type vector: \"[1]x\" / Junk after closing right brace."),
            ("[NaN]", "NaN not allowed in vector"),
            ("[Infinity]", "infinite value not allowed in vector"),
            ("[-inf]", "infinite value not allowed in vector"),
            ("[1e39]", "\"1e39\" is out of range for type vector"),
            ("[-1e39]", "\"-1e39\" is out of range for type vector"),
        ];
        for (input, want) in cases {
            assert_eq!(message(input), want, "input {input:?}");
        }
        let e = parse("[1,2]", 3).unwrap_err();
        assert_eq!(e.message, "expected 3 dimensions, not 2");
        assert_eq!(e.state, SqlState::DataException);
        assert_eq!(parse("[1e39]", -1).unwrap_err().state, SqlState::NumericValueOutOfRange);
        assert_eq!(parse("[1,]", -1).unwrap_err().state, SqlState::InvalidTextRepresentation);
    }

    #[test]
    fn dimension_limit() {
        let ok = format!("[{}]", vec!["1"; 16000].join(","));
        assert_eq!(parse(&ok, -1).unwrap().len(), 16000);
        let too_many = format!("[{}]", vec!["1"; 16001].join(","));
        let e = parse(&too_many, -1).unwrap_err();
        assert_eq!(e.message, "vector cannot have more than 16000 dimensions");
        assert_eq!(e.state, SqlState::ProgramLimitExceeded);
    }

    #[test]
    fn text_round_trip() {
        let v = vec![1.0f32, -0.0, 1.5e38, 0.1, -3.25];
        assert_eq!(to_text(&v), "[1,-0,1.5e+38,0.1,-3.25]");
        let back = parse(&to_text(&v), -1).unwrap();
        assert_eq!(
            back.iter().map(|f| f.to_bits()).collect::<Vec<_>>(),
            v.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn binary_round_trip_and_errors() {
        let v = vec![1.0f32, -2.5, 3.0];
        let wire = encode_binary(&v);
        assert_eq!(wire[..4], [0, 3, 0, 0]);
        assert_eq!(decode_binary::<f32>(&wire, -1).unwrap(), (v.clone(), 16));
        assert_eq!(decode_binary::<f32>(&wire, 2).unwrap_err().message, "expected 2 dimensions, not 3");
        assert_eq!(decode_binary::<f32>(&wire[..15], -1).unwrap_err().state, SqlState::ProtocolViolation);
        assert_eq!(decode_binary::<f32>(&[0], -1).unwrap_err().message, "insufficient data left in message");
        let mut bad = wire.clone();
        bad[3] = 1;
        assert_eq!(decode_binary::<f32>(&bad, -1).unwrap_err().message, "expected unused to be 0, not 1");
        let wide = [0xff, 0xff, 0, 0];
        assert_eq!(
            decode_binary::<f32>(&wide, -1).unwrap_err().message,
            "vector cannot have more than 16000 dimensions"
        );
        let mut nan = wire.clone();
        nan[4..8].copy_from_slice(&f32::NAN.to_bits().to_be_bytes());
        assert_eq!(decode_binary::<f32>(&nan, -1).unwrap_err().message, "NaN not allowed in vector");
    }
}
