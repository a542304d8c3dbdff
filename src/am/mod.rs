//! Index access methods: the Postgres shell around the pure algorithms in
//! [`crate::hnsw`], [`crate::quant`] and [`crate::distance`]. One folder per
//! access method, each with pgvector's and contrib/bloom's roles as files
//! (build, insert, scan, vacuum, options, cost).

pub(crate) mod common;
pub(crate) mod hnsw;
pub(crate) mod ivfflat;
