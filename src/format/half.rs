//! `halfvec` elements: IEEE binary16 through the [`DenseElement`] trait, so
//! that the dense text and binary formats in [`super::dense`] serve both
//! `vector` and `halfvec`.
//!
//! Conversions follow pgvector built with F16C (the x86-64 build): a `real`
//! becomes a half by one round-to-nearest-even step (`_cvtss_sh(x, 0)`, which
//! is what [`f16::from_f32`] computes), and a `double precision` is first
//! rounded to `real` and then to half, as C's implicit conversions do.
//! [`f16::from_f64`] is never used: it rounds once or twice depending on the
//! CPU.

use super::dense::DenseElement;
use super::error::{Error, Result};
use super::float;
use half::f16;

/// SQL name of the type, for messages.
pub const TYPE_NAME: &str = "halfvec";

impl DenseElement for f16 {
    const TYPE_NAME: &'static str = TYPE_NAME;
    const MAX_DIM: usize = 16000;
    const WIRE_SIZE: usize = 2;

    /// pgvector's `halfvec_in`: the float read by `strtof` is rounded to half
    /// and refused as out of range when `strtof` overflowed or the rounding
    /// did (`65520` and beyond); NaN and infinities are refused after that.
    fn from_text(value: f32, overflow: bool, token: &str) -> Result<Self> {
        let x = f16::from_f32(value);
        if overflow || (x.is_infinite() && !value.is_infinite()) {
            return Err(Error::out_of_range(TYPE_NAME, token));
        }
        check_element(x)?;
        Ok(x)
    }

    fn from_wire(bytes: &[u8]) -> Result<Self> {
        let x = f16::from_bits(u16::from_be_bytes([bytes[0], bytes[1]]));
        check_element(x)?;
        Ok(x)
    }

    fn to_wire(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_be_bytes());
    }

    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

/// pgvector's `CheckElement` for halves.
pub fn check_element(x: f16) -> Result<()> {
    if x.is_nan() {
        return Err(Error::nan(TYPE_NAME));
    }
    if x.is_infinite() {
        return Err(Error::infinite(TYPE_NAME));
    }
    Ok(())
}

/// pgvector's `Float4ToHalf`: rounds to half and refuses a finite float that
/// rounds to infinity, naming it as Postgres prints a `real`. NaN and
/// infinities pass through (callers check elements afterwards).
pub fn from_f32_checked(value: f32) -> Result<f16> {
    let x = f16::from_f32(value);
    if x.is_infinite() && !value.is_infinite() {
        let mut text = String::new();
        float::push_shortest(&mut text, value);
        return Err(Error::out_of_range(TYPE_NAME, &text));
    }
    Ok(x)
}

/// `(half) (float) value`, the double rounding C performs when a `double` is
/// passed to pgvector's `Float4ToHalf`.
pub fn from_f64_checked(value: f64) -> Result<f16> {
    from_f32_checked(value as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::dense::{decode_binary, encode_binary, parse_text, to_text};
    use crate::format::SqlState;
    use std::ffi::CString;

    fn parse(s: &str) -> Result<Vec<f16>> {
        parse_text::<f16>(&CString::new(s).unwrap(), -1)
    }

    fn message(s: &str) -> String {
        let e = parse(s).unwrap_err();
        match e.detail {
            Some(d) => format!("{} / {}", e.message, d),
            None => e.message,
        }
    }

    #[test]
    fn text_values_and_printing() {
        let v = parse("[1,2.5,-3,1.23456,65519,-65519,1e-8,0.1]").unwrap();
        assert_eq!(to_text(&v), "[1,2.5,-3,1.234375,65504,-65504,0,0.099975586]");
        assert_eq!(to_text(&parse("[6e-8,-0]").unwrap()), "[5.9604645e-08,-0]");
        // ties round to even: 2049 is halfway between 2048 and 2050
        assert_eq!(to_text(&parse("[2049,2051]").unwrap()), "[2048,2052]");
    }

    #[test]
    fn rejects_with_pgvector_messages() {
        let cases = [
            ("[65520]", "\"65520\" is out of range for type halfvec"),
            ("[-65520]", "\"-65520\" is out of range for type halfvec"),
            ("[4e38]", "\"4e38\" is out of range for type halfvec"),
            ("[1, 1e5 ]", "\"1e5\" is out of range for type halfvec"),
            ("[NaN]", "NaN not allowed in halfvec"),
            ("[-inf]", "infinite value not allowed in halfvec"),
            ("[]", "halfvec must have at least 1 dimension"),
            ("[1,]", "invalid input syntax for type halfvec: \"[1,]\""),
            ("1", "invalid input syntax for type halfvec: \"1\" / Vector contents must start with \"[\"."),
        ];
        for (input, want) in cases {
            assert_eq!(message(input), want, "input {input:?}");
        }
        assert_eq!(parse("[65520]").unwrap_err().state, SqlState::NumericValueOutOfRange);
    }

    #[test]
    fn checked_conversions() {
        assert_eq!(from_f32_checked(65519.0).unwrap().to_f32(), 65504.0);
        assert_eq!(from_f32_checked(65520.0).unwrap_err().message, "\"65520\" is out of range for type halfvec");
        assert_eq!(from_f32_checked(1e6).unwrap_err().message, "\"1e+06\" is out of range for type halfvec");
        assert!(from_f32_checked(f32::INFINITY).unwrap().is_infinite());
        assert!(from_f32_checked(f32::NAN).unwrap().is_nan());
        // 1 + 2^-11 + 2^-40 rounds up to 1 + 2^-10 in one step, but to 1 + 2^-11
        // (then ties-to-even down to 1) through float.
        let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(from_f64_checked(x).unwrap().to_f32(), 1.0);
    }

    #[test]
    fn binary_round_trip_and_errors() {
        let v = parse("[1,-2.5,65504]").unwrap();
        let wire = encode_binary(&v);
        assert_eq!(wire, [0, 3, 0, 0, 0x3c, 0, 0xc1, 0, 0x7b, 0xff]);
        assert_eq!(decode_binary::<f16>(&wire, -1).unwrap(), (v, 10));
        assert_eq!(decode_binary::<f16>(&wire[..9], -1).unwrap_err().message, "insufficient data left in message");
        let nan = [0, 1, 0, 0, 0x7e, 0];
        assert_eq!(decode_binary::<f16>(&nan, -1).unwrap_err().message, "NaN not allowed in halfvec");
        let inf = [0, 1, 0, 0, 0xfc, 0];
        assert_eq!(decode_binary::<f16>(&inf, -1).unwrap_err().message, "infinite value not allowed in halfvec");
        let big = [0x3e, 0x81, 0, 0];
        assert_eq!(
            decode_binary::<f16>(&big, -1).unwrap_err().message,
            "halfvec cannot have more than 16000 dimensions"
        );
    }
}
