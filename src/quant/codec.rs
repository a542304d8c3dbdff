//! The byte format of a trained quantizer, little-endian throughout:
//!
//! ```text
//! "LDQZ" | u16 version (1) | u8 kind (1 sq8, 2 pq, 3 bq) | u8 0 | u32 dims | payload
//!   sq8: f32 min[dims] | f32 scale[dims]
//!   pq:  u16 subvectors | u8 bits | u8 0 | f32 centroids[subvectors][2^bits][dims/subvectors]
//!   bq:  (nothing)
//! ```
//!
//! A reader refuses another magic or version, an unknown kind, a short or
//! over-long buffer and non-finite floats, so a damaged page or row is an
//! error, never a wrong answer. A later version adds a new number; readers
//! keep accepting the old ones.

use super::Kind;
use crate::format::{Error, Result, SqlState};

pub const MAGIC: &[u8; 4] = b"LDQZ";
pub const VERSION: u16 = 1;
/// Bytes before the payload.
pub const HEADER: usize = 12;

fn corrupt(what: &str) -> Error {
    Error::new(SqlState::DataException, format!("invalid quantizer data: {what}"))
}

pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new(kind: Kind, dims: usize) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.push(kind as u8);
        buf.push(0);
        buf.extend_from_slice(&(dims as u32).to_le_bytes());
        Writer { buf }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn f32s(&mut self, values: &[f32]) {
        self.buf.reserve(values.len() * 4);
        for v in values {
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Checks the header; returns the kind, the dimensions and a reader of
    /// the payload.
    pub fn open(bytes: &'a [u8]) -> Result<(Kind, usize, Reader<'a>)> {
        if bytes.len() < HEADER {
            return Err(corrupt("too short"));
        }
        if &bytes[..4] != MAGIC {
            return Err(corrupt("bad magic"));
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != VERSION {
            return Err(corrupt(&format!("unsupported version {version}")));
        }
        let kind = match bytes[6] {
            1 => Kind::Sq8,
            2 => Kind::Pq,
            3 => Kind::Bq,
            k => return Err(corrupt(&format!("unknown kind {k}"))),
        };
        let dims = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        if dims == 0 {
            return Err(corrupt("zero dimensions"));
        }
        Ok((kind, dims, Reader { rest: &bytes[HEADER..] }))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.rest.len() < n {
            return Err(corrupt("too short"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// `n` finite floats.
    pub fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        let bytes = self.take(n.checked_mul(4).ok_or_else(|| corrupt("too long"))?)?;
        let values: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(corrupt("non-finite value"));
        }
        Ok(values)
    }

    /// Every byte must have been read.
    pub fn finish(self) -> Result<()> {
        if !self.rest.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(())
    }
}
