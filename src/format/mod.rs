//! Text and binary formats of lodestone's types, and their errors.
//!
//! Pure code: no Postgres call happens here. Parsers take the bytes Postgres
//! hands a type's input or receive function and return values or an
//! [`Error`] worded as pgvector words it; the Postgres shell in
//! [`crate::types`] allocates the datum or raises the error.

pub mod dense;
pub mod error;
pub mod float;
pub mod half;
pub mod pq;
pub mod sparse;

pub use error::{Error, Result, SqlState};
