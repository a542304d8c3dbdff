//! lodestone: pgvector-compatible vector types, SIMD distances and an HNSW
//! index access method for PostgreSQL.
//!
//! The crate has a pure core and a thin Postgres shell:
//!
//! | module        | what                                                   | Postgres? |
//! |---------------|--------------------------------------------------------|-----------|
//! | [`distance`]  | distance kernels (SimSIMD and vectorised loops)        | no        |
//! | [`format`]    | text and binary formats, pgvector's error messages     | no        |
//! | [`types`]     | datums and SQL functions of `vector`, `halfvec`,       | yes       |
//! |               | `sparsevec`, `pq` and distances on `bit`               |           |
//! | [`hnsw`]      | HNSW graph algorithms, on-page layout                  | no        |
//! | `am::hnsw`    | the `hnsw` index access method                         | yes       |
//! | `am::ivfflat` | the `ivfflat` index access method                      | yes       |
//! | [`quant`]     | k-means, PQ, SQ8 and binary quantizers, ADC tables     | no        |
//! | [`personalize`] | scaling, weighted averages, preference profiles,     | math: no  |
//! |               | weighted L2 (`personalize::math` is pure)              |           |
//! | [`pool`]      | the threads that run the core for index builds and     | yes       |
//! |               | `pq_train`, cancellable from the backend               |           |
//!
//! The SQL that declares every type, function, operator and operator class
//! is written by hand in `sql/`, so that its names and signatures are
//! exactly pgvector's.

pub(crate) mod am;
pub mod distance;
pub mod format;
pub mod hnsw;
pub mod personalize;
pub mod pool;
pub mod quant;
pub mod types;

pgrx::pg_module_magic!();

pgrx::extension_sql_file!("../sql/vector.sql", name = "vector", bootstrap);
pgrx::extension_sql_file!("../sql/halfvec.sql", name = "halfvec", requires = ["vector"]);
pgrx::extension_sql_file!("../sql/bit.sql", name = "bit", requires = ["halfvec"]);
pgrx::extension_sql_file!("../sql/sparsevec.sql", name = "sparsevec", requires = ["bit"]);
pgrx::extension_sql_file!("../sql/hnsw.sql", name = "hnsw", requires = ["sparsevec"]);
pgrx::extension_sql_file!("../sql/pq.sql", name = "pq", requires = ["hnsw"]);
pgrx::extension_sql_file!("../sql/personalize.sql", name = "personalize", requires = ["pq"]);
pgrx::extension_sql_file!("../sql/observability.sql", name = "observability", requires = ["personalize"]);
pgrx::extension_sql_file!("../sql/ivfflat.sql", name = "ivfflat", requires = ["observability"]);
pgrx::extension_sql_file!("../sql/sphere.sql", name = "sphere", requires = ["ivfflat"]);

/// Called when Postgres loads the library: registers index options and the
/// `hnsw.*` settings.
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    quiet_backtraces();
    am::hnsw::options::init();
    am::ivfflat::options::init();
}

/// pgrx puts a captured Rust backtrace into the DETAIL of every error raised
/// through a panic, and `std` captures one whenever `RUST_BACKTRACE` is set in
/// the server's environment. Users must see pgvector's message and nothing
/// else, whatever that environment: `RUST_LIB_BACKTRACE=0` turns capture off
/// for library backtraces only (a crash's own report is unaffected).
fn quiet_backtraces() {
    // `set_var` can only race with other threads reading the
    // environment, and a backend runs `_PG_init` on its only thread, before
    // any rayon pool exists and before any backtrace was captured (std reads
    // the variable once, on the first capture).
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
}
