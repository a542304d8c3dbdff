//! Postgres's own `bit` type: the values `binary_quantize` produces, and
//! pgvector's Hamming and Jaccard distances between them.

use super::{raise, RawDatum};
use crate::distance::bit as kernel;
use crate::format::Error;
use pgrx::prelude::*;
use std::ptr::NonNull;

/// Builds a `bit(len)` datum whose bit `i` is `bit(i)`, most significant bit
/// of each byte first, as Postgres stores bit strings.
pub fn varbit_from_fn(len: usize, bit: impl Fn(usize) -> bool) -> pg_sys::Datum {
    // varlena header + int32 bit length + ceil(len / 8) bytes
    let size = 4 + 4 + len.div_ceil(8);
    // SAFETY: palloc0 gives `size` zeroed bytes (or raises); we write the
    // varlena length, the bit length and the data bytes within them.
    unsafe {
        let ptr = pg_sys::palloc0(size).cast::<u8>();
        pgrx::varlena::set_varsize_4b(ptr.cast(), size as i32);
        ptr.add(4).cast::<i32>().write_unaligned(len as i32);
        let data = std::slice::from_raw_parts_mut(ptr.add(8), len.div_ceil(8));
        for i in 0..len {
            if bit(i) {
                data[i / 8] |= 0x80 >> (i % 8);
            }
        }
        pg_sys::Datum::from(ptr)
    }
}

/// A `bit` or `bit varying` argument, detoasted, valid for the call:
/// `int32 varlena header | int32 bit length | bytes` (Postgres's `VarBit`).
struct BitArg<'a> {
    ptr: NonNull<pg_sys::varlena>,
    _life: std::marker::PhantomData<&'a [u8]>,
}

impl<'a> BitArg<'a> {
    /// # Safety
    /// `datum` must be a non-null `bit` or `varbit` datum.
    unsafe fn new(datum: RawDatum) -> Self {
        BitArg {
            // SAFETY: forwarded from the caller.
            ptr: unsafe { super::varlena::detoast(datum.0) },
            _life: std::marker::PhantomData,
        }
    }

    /// `VARBITLEN`: the length in bits.
    fn len(&self) -> u32 {
        // SAFETY: a detoasted VarBit has a 4-byte header then its bit length.
        unsafe { self.ptr.as_ptr().cast::<u8>().add(4).cast::<u32>().read_unaligned() }
    }

    /// `VARBITS` for `VARBITBYTES` bytes: every data byte, padding bits zero.
    fn bytes(&self) -> &'a [u8] {
        // SAFETY: the datum is `VARSIZE` bytes long: 8 bytes of headers, then
        // the data bytes.
        unsafe {
            let size = pgrx::varlena::varsize_any(self.ptr.as_ptr());
            let data = self.ptr.as_ptr().cast::<u8>().add(8);
            std::slice::from_raw_parts(data, size.saturating_sub(8))
        }
    }
}

/// The bit length and the data bytes of a `bit` or `varbit` datum, valid
/// for the current memory context (for the index).
///
/// # Safety
/// `datum` must be a non-null `bit` or `varbit` datum.
pub(crate) unsafe fn bit_parts<'a>(datum: pg_sys::Datum) -> (usize, &'a [u8]) {
    // SAFETY: forwarded from the caller.
    let arg: BitArg<'a> = unsafe { BitArg::new(RawDatum(datum)) };
    (arg.len() as usize, arg.bytes())
}

/// Both strings, after pgvector's length check.
fn same_length<'a>(a: &BitArg<'a>, b: &BitArg<'a>) -> (&'a [u8], &'a [u8]) {
    if a.len() != b.len() {
        raise(Error::different_bit_lengths(a.len() as usize, b.len() as usize));
    }
    let (x, y) = (a.bytes(), b.bytes());
    let n = x.len().min(y.len());
    (&x[..n], &y[..n])
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn hamming_distance(a: RawDatum, b: RawDatum) -> f64 {
    // SAFETY: declared in sql/bit.sql as hamming_distance(bit, bit).
    let (a, b) = unsafe { (BitArg::new(a), BitArg::new(b)) };
    let (x, y) = same_length(&a, &b);
    kernel::hamming(x, y)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn jaccard_distance(a: RawDatum, b: RawDatum) -> f64 {
    // SAFETY: declared in sql/bit.sql as jaccard_distance(bit, bit).
    let (a, b) = unsafe { (BitArg::new(a), BitArg::new(b)) };
    let (x, y) = same_length(&a, &b);
    kernel::jaccard(x, y)
}
