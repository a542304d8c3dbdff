//! Reading and printing single floats exactly as Postgres and pgvector do.
//!
//! * Reading goes through C's `strtof`, the very function `float4in` and
//!   pgvector's parsers call, so every spelling it accepts (`1e3`, ` .5`,
//!   `0x1p-3`, `inf`, `nan`, ...) is accepted here with the same value.
//!   Postgres runs with `LC_NUMERIC=C`, as does a Rust test binary.
//! * Printing is the shortest text that reads back to the same `f32`, laid
//!   out like Postgres's `float_to_shortest_decimal_bufn`: fixed notation when
//!   the decimal exponent is in `-4..6`, otherwise `d.ddde+XX`.

use std::ffi::{c_char, CStr};

extern "C" {
    fn strtof(nptr: *const c_char, endptr: *mut *mut c_char) -> f32;
}

/// The calling thread's `errno`.
fn errno_ptr() -> *mut std::ffi::c_int {
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    // SAFETY: always returns the thread's errno location.
    return unsafe { libc::__error() };
    #[cfg(not(any(target_os = "macos", target_os = "ios", target_os = "freebsd")))]
    // SAFETY: always returns the thread's errno location.
    return unsafe { libc::__errno_location() };
}

/// One number read by [`parse_prefix`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parsed {
    pub value: f32,
    /// Bytes consumed from the start of the input.
    pub len: usize,
    /// `strtof` overflowed (it returned ±HUGE_VALF with `ERANGE`): the text
    /// was a finite number too large for a float, not a spelling of infinity.
    pub overflow: bool,
    /// `strtof` underflowed to zero (it returned 0 with `ERANGE`): the text
    /// was a non-zero number too small for a float. `sparsevec` refuses it.
    pub underflow: bool,
}

/// Reads the longest prefix of `input` that `strtof` accepts. `None` when it
/// accepts nothing (the caller reports a syntax error).
pub fn parse_prefix(input: &CStr) -> Option<Parsed> {
    let start = input.as_ptr();
    let mut end: *mut c_char = std::ptr::null_mut();
    let errno = errno_ptr();
    // SAFETY: `errno` is this thread's errno; `input` is NUL-terminated, so
    // strtof reads within it, and it sets `end` to a position inside it (or
    // to `start` when nothing parsed).
    let (value, range_error) = unsafe {
        *errno = 0;
        let value = strtof(start, &mut end);
        (value, *errno == libc::ERANGE)
    };
    // SAFETY: both pointers are into the same allocation, `end >= start`.
    let len = unsafe { end.offset_from(start) } as usize;
    if len == 0 {
        return None;
    }
    let text = &input.to_bytes()[..len];
    let overflow = value.is_infinite() && !spells_infinity(text);
    Some(Parsed { value, len, overflow, underflow: range_error && value == 0.0 })
}

/// Whether a token `strtof` accepted is a spelling of infinity (`inf`,
/// `-Infinity`, ...) rather than a number that overflowed.
fn spells_infinity(token: &[u8]) -> bool {
    let unsigned = token
        .iter()
        .position(|c| !c.is_ascii_whitespace() && *c != b'+' && *c != b'-')
        .map_or(&[][..], |i| &token[i..]);
    unsigned.first().is_some_and(|c| c.eq_ignore_ascii_case(&b'i'))
}

/// Appends the shortest round-trip text of `v`, as Postgres prints a `real`.
pub fn push_shortest(out: &mut String, v: f32) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v < 0.0 { "-Infinity" } else { "Infinity" });
        return;
    }
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    let mut buf = ryu::Buffer::new();
    let (negative, digits, exp) = decompose(buf.format_finite(v));
    if negative {
        out.push('-');
    }
    let digits = &digits[..];
    let n = digits.len() as i32;
    if (-4..6).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            push_ascii(out, digits);
        } else if n <= exp + 1 {
            push_ascii(out, digits);
            for _ in 0..(exp + 1 - n) {
                out.push('0');
            }
        } else {
            let (int, frac) = digits.split_at(exp as usize + 1);
            push_ascii(out, int);
            out.push('.');
            push_ascii(out, frac);
        }
    } else {
        push_ascii(out, &digits[..1]);
        if n > 1 {
            out.push('.');
            push_ascii(out, &digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(itoa_small(e, &mut [0u8; 3]));
    }
}

fn push_ascii(out: &mut String, digits: &[u8]) {
    // Digits are ASCII, hence valid UTF-8.
    out.push_str(std::str::from_utf8(digits).unwrap_or_default());
}

fn itoa_small(mut n: u32, buf: &mut [u8; 3]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

/// Splits ryu's output (`-1.5e-7`, `123.0`, `1e38`, `0.001`) into its sign,
/// significant digits without leading or trailing zeros, and the decimal
/// exponent of the first digit.
fn decompose(text: &str) -> (bool, Vec<u8>, i32) {
    let bytes = text.as_bytes();
    let negative = bytes.first() == Some(&b'-');
    let body = if negative { &bytes[1..] } else { bytes };
    let (mantissa, exp_part) = match body.iter().position(|&c| c == b'e' || c == b'E') {
        Some(i) => (&body[..i], std::str::from_utf8(&body[i + 1..]).ok().and_then(|s| s.parse().ok())),
        None => (body, Some(0)),
    };
    let exp10: i32 = exp_part.unwrap_or(0);
    let point = mantissa.iter().position(|&c| c == b'.').unwrap_or(mantissa.len());
    let mut digits: Vec<u8> = mantissa.iter().copied().filter(u8::is_ascii_digit).collect();
    // Exponent of the first digit of `mantissa` as written.
    let mut exp = exp10 + point as i32 - 1;
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..leading);
    exp -= leading as i32;
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    (negative, digits, exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(v: f32) -> String {
        let mut s = String::new();
        push_shortest(&mut s, v);
        s
    }

    #[test]
    fn prints_like_postgres_float4out() {
        let cases: &[(f32, &str)] = &[
            (1.0, "1"),
            (-1.0, "-1"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (100.0, "100"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (123456789.0, "1.2345679e+08"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.00012345, "0.00012345"),
            (1.5e38, "1.5e+38"),
            (f32::MAX, "3.4028235e+38"),
            (f32::MIN_POSITIVE, "1.1754944e-38"),
            (1e-45, "1e-45"),
            (0.0, "0"),
            (-0.0, "-0"),
            (1e5, "100000"),
            (1e6, "1e+06"),
            (1.23456, "1.23456"),
            (-0.5, "-0.5"),
        ];
        for &(v, want) in cases {
            assert_eq!(show(v), want, "printing {v:e}");
        }
    }

    #[test]
    fn printed_text_reads_back_exactly() {
        let mut x: u32 = 0x9E37_79B9;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v = f32::from_bits(x);
            if !v.is_finite() {
                continue;
            }
            let text = show(v);
            let back: f32 = text.parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{text}");
        }
    }

    fn parse(s: &str) -> Option<Parsed> {
        let c = std::ffi::CString::new(s).unwrap();
        parse_prefix(&c)
    }

    #[test]
    fn parses_like_strtof() {
        assert_eq!(parse("1.5]").map(|p| (p.value, p.len)), Some((1.5, 3)));
        assert_eq!(parse(" -2e3,").map(|p| (p.value, p.len)), Some((-2000.0, 5)));
        assert_eq!(parse("0x10").map(|p| p.value), Some(16.0));
        assert_eq!(parse("1e").map(|p| (p.value, p.len)), Some((1.0, 1)));
        assert!(parse("abc").is_none());
        assert!(parse("").is_none());
        assert!(parse(",").is_none());
        let inf = parse("-Infinity").unwrap();
        assert!(inf.value.is_infinite() && !inf.overflow);
        let big = parse("1e39").unwrap();
        assert!(big.value.is_infinite() && big.overflow);
        let tiny = parse("1e-50").unwrap();
        assert_eq!(tiny.value, 0.0);
        assert!(!tiny.overflow && tiny.underflow);
        assert!(!parse("0e-50").unwrap().underflow);
        assert!(!parse("-0").unwrap().underflow);
        assert!(!parse("1e-40").unwrap().underflow);
        assert!(parse("-1e-46").unwrap().underflow);
        assert!(parse("nan").unwrap().value.is_nan());
    }
}
