//! HNSW: the graph algorithms, free of Postgres.
//!
//! * [`layout`]: node, links and overflow tuples as bytes on 8 KB pages
//! * [`params`]: the parameters that shape a graph
//! * [`space`]: element types, metrics and the distance the index orders by
//! * [`search`]: beam search over one layer, for any [`search::GraphView`]
//! * [`select`]: choosing diverse neighbours (the HNSW heuristic)
//! * [`level`]: random levels
//! * [`memgraph`]: the in-memory graph a build fills in parallel
//! * [`lists`]: its neighbour lists, flat and lock-free to read
//! * [`page_plan`]: where a built graph's tuples go on pages
//! * [`quantized`]: the arithmetic of an index of codes (sizes, samples)

pub mod layout;
pub mod level;
pub mod lists;
pub mod memgraph;
pub mod page_plan;
pub mod params;
pub mod quantized;
pub mod search;
pub mod select;
pub mod space;
