#!/usr/bin/env bash
# The published pgvector client libraries, unchanged, against a lodestone
# cluster: Python (psycopg 3 binary, psycopg2, asyncpg, SQLAlchemy with
# `pgvector`), Node.js (pg + `pgvector`) and Rust (tokio-postgres + the
# `pgvector` crate). Each writes and reads vector, halfvec and sparsevec values
# and checks them bit for bit, and runs k-NN queries through an hnsw index.
# The libraries come from their registries (scripts/setup-drivers.sh, run by
# scripts/setup.sh; re-run here, a no-op when they are installed).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

"$LODESTONE_ROOT/scripts/setup-drivers.sh"
drivers="$LODESTONE_ROOT/target/drivers"

new_cluster main
for db in psycopg psycopg2 asyncpg sqlalchemy node rust; do
  sql main -c "CREATE DATABASE drv_$db"
  sql main -d "drv_$db" -c "CREATE EXTENSION lodestone" >/dev/null
done

export PGHOST="$DIR_main/sock" PGPORT="$PORT_main" PGUSER=postgres
export PGDATABASE_PSYCOPG=drv_psycopg PGDATABASE_PSYCOPG2=drv_psycopg2 PGDATABASE_ASYNCPG=drv_asyncpg PGDATABASE_SQLALCHEMY=drv_sqlalchemy

status=0
log "Python: psycopg 3, psycopg2, asyncpg, SQLAlchemy"
"$drivers/venv/bin/python" "$LODESTONE_ROOT/tests/drivers/python/test_drivers.py" || status=1

log "Node.js: pg + pgvector"
# ES modules resolve imports next to the script: run a copy beside node_modules.
cp "$LODESTONE_ROOT/tests/drivers/node/test.mjs" "$drivers/node/test.mjs"
PGDATABASE=drv_node node "$drivers/node/test.mjs" || status=1

log "Rust: tokio-postgres + pgvector"
CARGO_TARGET_DIR="$drivers/rust-target" nice -n 10 cargo build --quiet --manifest-path "$LODESTONE_ROOT/tests/drivers/rust/Cargo.toml" \
  || die "could not build tests/drivers/rust"
LODESTONE_DSN="host=$PGHOST port=$PGPORT user=postgres dbname=drv_rust" "$drivers/rust-target/debug/lodestone-driver-test" || status=1

exit $status
