#!/usr/bin/env bash
# The published pgvector client libraries, unchanged, against a lodestone
# cluster: Python (psycopg 3 binary, psycopg2, asyncpg, SQLAlchemy with
# `pgvector`), Node.js (pg + `pgvector`) and Rust (tokio-postgres + the
# `pgvector` crate). Each writes and reads vector, halfvec and sparsevec values
# and checks them bit for bit, and runs k-NN queries through an hnsw index.
#
# Then what applications run against the extension name `vector` (lodestone's
# alias, scripts/install-vector-alias.sh), each in a fresh database where
# nothing has created the extension beforehand:
#   * Django (tests/drivers/python/test_django.py): Django's `migrate` runs a
#     migration that starts with pgvector-python's VectorExtension() and
#     creates a model with VectorField/HalfVectorField, HnswIndex and
#     IvfflatIndex; ORM inserts, L2Distance/CosineDistance queries through each
#     index, compared with numpy;
#   * SQLAlchemy: `CREATE EXTENSION IF NOT EXISTS vector` and the ivfflat
#     Index(...) of pgvector-python's README, created by metadata.create_all;
#     EXPLAIN shows the index, k-NN with ivfflat.probes = lists is exact;
#   * Rails (ActiveRecord + the neighbor gem), as the SQL they emit:
#     `CREATE EXTENSION IF NOT EXISTS "vector"`, a vector(3) table, an ivfflat
#     index, a nearest_neighbors query, compared with distances computed by awk.
# These skip with a message when the alias is not installed (a server with
# pgvector itself, or lodestone installed with LODESTONE_VECTOR_ALIAS=0).
#
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

# The name `vector` is lodestone's only where the alias is installed: with
# pgvector itself there, the tests below would test pgvector.
vector_alias=0
grep -qE "^module_pathname *= *'\\\$libdir/lodestone'" "$("$PG_CONFIG" --sharedir)/extension/vector.control" 2>/dev/null && vector_alias=1
if ((vector_alias)); then
  # no CREATE EXTENSION: the application's own statement creates it
  for db in django sqlalchemy_ivfflat rails; do sql main -c "CREATE DATABASE drv_$db"; done
  export PGDATABASE_SQLALCHEMY_IVFFLAT=drv_sqlalchemy_ivfflat PGDATABASE_DJANGO=drv_django
fi

status=0
log "Python: psycopg 3, psycopg2, asyncpg, SQLAlchemy"
"$drivers/venv/bin/python" "$LODESTONE_ROOT/tests/drivers/python/test_drivers.py" || status=1

if ((vector_alias)); then
  log "Django: migrate with pgvector.django's VectorExtension, VectorField, HnswIndex, IvfflatIndex"
  "$drivers/venv/bin/python" "$LODESTONE_ROOT/tests/drivers/python/test_django.py" || status=1

  log "Rails: the SQL of enable_extension \"vector\", create_table, add_index using: :ivfflat, nearest_neighbors"
  # 500 rows of 3 numbers with 6 decimals; awk computes the exact answer
  awk 'BEGIN { for (i = 1; i <= 500; i++) printf "%d [%.6f,%.6f,%.6f]\n", i, sin(i), cos(2.1 * i), sin(0.7 * i) * cos(i) }' >"$TEST_ROOT/rails.data"
  values="$(awk '{ printf "%s(\x27%s\x27, now(), now())", (NR > 1 ? ", " : ""), $2 }' "$TEST_ROOT/rails.data")"
  q='[0.3,-0.2,0.1]'
  want="$(awk -v q="$q" 'BEGIN { gsub(/[][]/, "", q); split(q, Q, ",") }
    { v = $2; gsub(/[][]/, "", v); split(v, V, ","); d = 0; for (j = 1; j <= 3; j++) d += (V[j] - Q[j]) ^ 2; printf "%d|%.4f\n", $1, sqrt(d) }' \
    "$TEST_ROOT/rails.data" | sort -t'|' -k2,2g | sed -n 1,5p)"
  rails() { sql main -d drv_rails "$@"; }
  # the statements ActiveRecord runs (migration, insert_all, neighbor's query)
  rails -c 'CREATE EXTENSION IF NOT EXISTS "vector"'
  same "Rails: enable_extension \"vector\" created lodestone, named vector" "vector|t" \
    "$(rails -c "SELECT extname, EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'lodestone_hnsw_info') FROM pg_extension WHERE extname IN ('vector', 'lodestone')")"
  rails -c 'CREATE TABLE "items" ("id" bigserial primary key, "embedding" vector(3), "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL)'
  rails -c "INSERT INTO \"items\" (\"embedding\",\"created_at\",\"updated_at\") VALUES $values RETURNING \"id\"" >/dev/null
  rails -c 'CREATE INDEX "index_items_on_embedding" ON "items" USING ivfflat ("embedding" vector_l2_ops)' -c 'ANALYZE "items"'
  neighbors="SELECT \"items\".\"id\", round((\"items\".\"embedding\" <-> '$q')::numeric, 4) AS neighbor_distance FROM \"items\" WHERE \"items\".\"embedding\" IS NOT NULL ORDER BY \"items\".\"embedding\" <-> '$q' LIMIT 5"
  # lists defaults to 100; probing all of them makes the answer exact
  same "Rails: the plan uses index_items_on_embedding (ivfflat)" "1" \
    "$(rails -c "SET enable_seqscan = off" -c "EXPLAIN $neighbors" | grep -c 'Index Scan using index_items_on_embedding')"
  same "Rails: nearest_neighbors through ivfflat (probes = lists) equals awk's exact answer" "$want" \
    "$(rails -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 100" -c "$neighbors")"
else
  echo "SKIPPED: Django, SQLAlchemy ivfflat via CREATE EXTENSION vector, Rails: the extension name vector is not lodestone's alias in $("$PG_CONFIG" --sharedir)/extension (scripts/install-vector-alias.sh)"
fi

log "Node.js: pg + pgvector"
# ES modules resolve imports next to the script: run a copy beside node_modules.
cp "$LODESTONE_ROOT/tests/drivers/node/test.mjs" "$drivers/node/test.mjs"
PGDATABASE=drv_node node "$drivers/node/test.mjs" || status=1

log "Rust: tokio-postgres + pgvector"
CARGO_TARGET_DIR="$drivers/rust-target" nice -n 10 cargo build --quiet --manifest-path "$LODESTONE_ROOT/tests/drivers/rust/Cargo.toml" \
  || die "could not build tests/drivers/rust"
LODESTONE_DSN="host=$PGHOST port=$PGPORT user=postgres dbname=drv_rust" "$drivers/rust-target/debug/lodestone-driver-test" || status=1

exit $status
