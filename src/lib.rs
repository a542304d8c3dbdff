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
//! |               | `sparsevec` and distances on `bit`                     |           |
//!
//! The SQL that declares every type, function, operator and operator class
//! is written by hand in `sql/`, so that its names and signatures are
//! exactly pgvector's.

pub mod distance;
pub mod format;
pub mod types;

pgrx::pg_module_magic!();

pgrx::extension_sql_file!("../sql/vector.sql", name = "vector", bootstrap);
pgrx::extension_sql_file!(
    "../sql/halfvec.sql",
    name = "halfvec",
    requires = ["vector"]
);
pgrx::extension_sql_file!("../sql/bit.sql", name = "bit", requires = ["halfvec"]);
pgrx::extension_sql_file!(
    "../sql/sparsevec.sql",
    name = "sparsevec",
    requires = ["bit"]
);
