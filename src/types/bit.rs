//! Postgres's own `bit` type, as lodestone produces it (`binary_quantize`).

use pgrx::pg_sys;

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
