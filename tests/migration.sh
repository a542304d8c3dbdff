#!/usr/bin/env bash
# Migration from pgvector (scripts/migrate-from-pgvector.sh), both paths:
#  * dump and restore: a pgvector database (vector/halfvec/sparsevec/bit
#    columns, a generated column, hnsw indexes with options, a partial hnsw
#    index, an ivfflat index, a view, a function, a second schema; and a
#    database with pgvector in its own schema) restored into lodestone: same
#    rows (checked here, not only by the tool), same index definitions (ivfflat
#    kept as ivfflat), working k-NN, sequences, generated column;
#  * logical replication: publication on pgvector, subscription on lodestone,
#    writes during replication, cutover: identical tables, indexes built,
#    sequences copied, replication objects removed.
# Needs pgvector (extension "vector") in the same Postgres installation; skips
# with a message when it is absent (as on CI).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if ! pgvector_installed; then
  echo "SKIPPED: pgvector (extension \"vector\") is not installed in $("$PG_CONFIG" --sharedir); the migration test needs it as the source"
  exit 0
fi

tool="$LODESTONE_ROOT/scripts/migrate-from-pgvector.sh"
export PG_BINDIR="$(pg_bindir)"
new_cluster src "wal_level = logical" "max_replication_slots = 10" "max_wal_senders = 10"
new_cluster dst
dsn() { local d="DIR_$1" p="PORT_$1"; echo "host=${!d}/sock port=${!p} user=postgres dbname=$2"; }
psql_db() { local c=$1 db=$2; shift 2; sql "$c" -d "$db" "$@"; }

# ------------------------------------------------------------------ source data
for db in app app_ext live; do sql src -c "CREATE DATABASE $db"; sql dst -c "CREATE DATABASE $db"; done

psql_db src app -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION vector;
CREATE TABLE items (
  id bigserial PRIMARY KEY,
  category int NOT NULL,
  embedding vector(8),
  half_embedding halfvec(8),
  sparse_embedding sparsevec(100),
  bits bit(8),
  norm float8 GENERATED ALWAYS AS (vector_norm(embedding)) STORED
);
INSERT INTO items (category, embedding, half_embedding, sparse_embedding, bits)
SELECT i % 5, v, v::halfvec, format('{%s:%s,%s:-0.5}/100', i % 50 + 1, i, i % 50 + 51)::sparsevec, binary_quantize(v)::bit(8)
FROM (SELECT i, ARRAY(SELECT sin(i * j + j) FROM generate_series(1, 8) j)::vector(8) AS v FROM generate_series(1, 2000) i) s;
INSERT INTO items (category, embedding, half_embedding, sparse_embedding, bits) VALUES
  (9, '[1.5,-0.25,3.4028235e38,1e-45,-0,0.1,123456.79,-1e-30]', '[1.5,-0.25,65504,5.9604645e-08,-0,0.1,2048,-1]',
   '{1:1.5,100:3.4028235e38}/100', B'10100101');
CREATE INDEX items_l2 ON items USING hnsw (embedding vector_l2_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX items_cos_cat1 ON items USING hnsw (embedding vector_cosine_ops) WHERE category = 1;
CREATE INDEX items_ip_ivf ON items USING ivfflat (embedding vector_ip_ops) WITH (lists = 4);
CREATE INDEX items_category ON items (category);
CREATE VIEW nearest_origin AS SELECT id, embedding <-> '[0,0,0,0,0,0,0,0]' AS distance FROM items;
CREATE FUNCTION similarity(a vector, b vector) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT 1 - (a <=> b)';
CREATE SCHEMA memory;
CREATE TABLE memory.notes (id int PRIMARY KEY, body text, embedding vector(8));
INSERT INTO memory.notes SELECT id, 'note ' || id, embedding FROM items WHERE id <= 100;
SQL

psql_db src app_ext -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE SCHEMA extensions;
CREATE EXTENSION vector SCHEMA extensions;
CREATE TABLE docs (id int PRIMARY KEY, embedding extensions.vector(3));
INSERT INTO docs SELECT i, ARRAY[i, i % 7, -i]::real[]::extensions.vector FROM generate_series(1, 300) i;
CREATE INDEX docs_l2 ON docs USING hnsw (embedding extensions.vector_l2_ops);
SQL

rows() { # rows CLUSTER DB TABLE: every row as text, in a collation-free order
  psql_db "$1" "$2" -c "SELECT string_agg(r::text, E'\n' ORDER BY decode(md5(r::text), 'hex')) FROM $3 r"
}
# The application's indexes (not those of tables an extension owns, such as
# lodestone's pq codebooks).
indexdefs() { psql_db "$1" "$2" -c "SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes i
  WHERE schemaname NOT IN ('pg_catalog') AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
    AND d.deptype = 'e' AND d.objid = format('%I.%I', i.schemaname, i.tablename)::regclass)"; }
knn() { # knn CLUSTER DB MODE: top 10 ids nearest to a fixed query
  local mode=$3 settings
  if [[ $mode == exact ]]; then settings="SET enable_indexscan = off; SET enable_bitmapscan = off;"; else settings="SET enable_seqscan = off; SET hnsw.ef_search = 200;"; fi
  psql_db "$1" "$2" -c "$settings" -c "SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY embedding <-> '[0.5,0.1,-0.3,0.9,0,0.2,-0.7,0.4]' LIMIT 10) s"
}

# ------------------------------------------------------------------ dump and restore
log "dump and restore"
"$tool" dump-restore "$(dsn src app)" "$(dsn dst app)" >"$TEST_ROOT/dump-restore.log" 2>&1 || { cat "$TEST_ROOT/dump-restore.log"; exit 1; }
"$tool" dump-restore "$(dsn src app_ext)" "$(dsn dst app_ext)" >>"$TEST_ROOT/dump-restore.log" 2>&1 || { cat "$TEST_ROOT/dump-restore.log"; exit 1; }

same "the target has lodestone and no pgvector" "lodestone" "$(psql_db dst app -c "SELECT string_agg(extname, ',') FROM pg_extension WHERE extname IN ('vector', 'lodestone')")"
for t in "(SELECT id, category, embedding, half_embedding, sparse_embedding, bits FROM items)" memory.notes; do
  same "dump/restore: ${t:0:60} has the same rows, byte for byte in text" "$(rows src app "$t")" "$(rows dst app "$t")"
done
# the generated column is recomputed by lodestone's vector_norm: equal to 12 digits
same "dump/restore: the generated column agrees with pgvector's to 12 digits" \
  "$(psql_db src app -c "SELECT md5(string_agg(round(norm::numeric, 12)::text, ',' ORDER BY id)) FROM items WHERE category <> 9")" \
  "$(psql_db dst app -c "SELECT md5(string_agg(round(norm::numeric, 12)::text, ',' ORDER BY id)) FROM items WHERE category <> 9")"
same "dump/restore: the edge-case row is intact" \
  "[1.5,-0.25,3.4028235e+38,1e-45,-0,0.1,123456.79,-1e-30]|[1.5,-0.25,65504,5.9604645e-08,-0,0.099975586,2048,-1]|{1:1.5,100:3.4028235e+38}/100|10100101" \
  "$(psql_db dst app -c "SELECT embedding, half_embedding, sparse_embedding, bits FROM items WHERE category = 9")"
same "dump/restore: binary send output is identical" \
  "$(psql_db src app -c "SELECT md5(string_agg(vector_send(embedding) || halfvec_send(half_embedding) || sparsevec_send(sparse_embedding), '' ORDER BY id)) FROM items")" \
  "$(psql_db dst app -c "SELECT md5(string_agg(vector_send(embedding) || halfvec_send(half_embedding) || sparsevec_send(sparse_embedding), '' ORDER BY id)) FROM items")"
same "dump/restore: hnsw and ivfflat index definitions are the same (options, partial predicate)" \
  "$(indexdefs src app)" "$(indexdefs dst app)"
same "dump/restore: the ivfflat index is kept as ivfflat (IVFFLAT=keep, the default)" \
  "1" "$(indexdefs dst app | grep -c 'items_ip_ivf ON public.items USING ivfflat')"
src_knn="$(knn src app exact)"
check "dump/restore: k-NN through lodestone's hnsw index matches pgvector's exact answer" '$1 >= 9' \
  "$(psql_db dst app -c "SELECT count(*) FROM unnest(string_to_array('$(knn dst app index)', ',')) a WHERE a = ANY(string_to_array('$src_knn', ','))")"
same "dump/restore: the plan uses the hnsw index" "1" \
  "$(psql_db dst app -c "SET enable_seqscan = off" -c "EXPLAIN SELECT id FROM items ORDER BY embedding <-> '[1,2,3,4,5,6,7,8]' LIMIT 5" | grep -c 'Index Scan using items_l2')"
same "dump/restore: the view, the function and the generated column work" \
  "$(psql_db src app -c "SELECT round(sum(distance)::numeric, 3), round(similarity('[1,2,3,4,5,6,7,8]', '[2,2,3,4,5,6,7,8]')::numeric, 9), round(sum(norm)::numeric, 3) FROM nearest_origin JOIN items USING (id) WHERE id <= 2000")" \
  "$(psql_db dst app -c "SELECT round(sum(distance)::numeric, 3), round(similarity('[1,2,3,4,5,6,7,8]', '[2,2,3,4,5,6,7,8]')::numeric, 9), round(sum(norm)::numeric, 3) FROM nearest_origin JOIN items USING (id) WHERE id <= 2000")"
same "dump/restore: the sequence continues after the last id" "2002" \
  "$(psql_db dst app -c "INSERT INTO items (category, embedding) VALUES (0, '[3,4,0,0,0,0,0,0]') RETURNING id")"
same "dump/restore: pgvector's schema is kept (extension in schema extensions)" "extensions|docs_l2" \
  "$(psql_db dst app_ext -c "SELECT extnamespace::regnamespace, (SELECT indexname FROM pg_indexes WHERE tablename = 'docs' AND indexdef LIKE '%hnsw%') FROM pg_extension WHERE extname = 'lodestone'")"
same "dump/restore: rows in the extensions-schema database" "$(rows src app_ext docs)" "$(rows dst app_ext docs)"
grep -q "DIFFERENT" "$TEST_ROOT/dump-restore.log" && { cat "$TEST_ROOT/dump-restore.log"; exit 1; }
same "the tool's own verification passed" "0" "$(grep -c DIFFERENT "$TEST_ROOT/dump-restore.log" || true)"

# IVFFLAT=fail stops before touching the target
sql dst -c "CREATE DATABASE app_fail"
if IVFFLAT=fail "$tool" dump-restore "$(dsn src app)" "$(dsn dst app_fail)" >"$TEST_ROOT/fail.log" 2>&1; then
  echo "  FAIL  IVFFLAT=fail should refuse a source with an ivfflat index"; exit 1
fi
same "IVFFLAT=fail refuses, and leaves the target empty" "0" "$(psql_db dst app_fail -c "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")"

# ------------------------------------------------------------------ logical replication
log "logical replication"
psql_db src live -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION vector;
CREATE TABLE items (id bigserial PRIMARY KEY, category int NOT NULL, embedding vector(8), half_embedding halfvec(8), sparse_embedding sparsevec(100));
INSERT INTO items (category, embedding, half_embedding, sparse_embedding)
SELECT i % 5, v, v::halfvec, format('{%s:%s}/100', i % 100 + 1, i)::sparsevec
FROM (SELECT i, ARRAY(SELECT cos(i * j) FROM generate_series(1, 8) j)::vector(8) AS v FROM generate_series(1, 3000) i) s;
CREATE INDEX items_l2 ON items USING hnsw (embedding vector_l2_ops) WITH (m = 12, ef_construction = 40);
CREATE TABLE events (id bigserial PRIMARY KEY, item_id bigint REFERENCES items, at timestamptz DEFAULT now());
SQL
SUBSCRIPTION_BINARY=on "$tool" logical-setup "$(dsn src live)" "$(dsn dst live)" >"$TEST_ROOT/logical.log" 2>&1 || { cat "$TEST_ROOT/logical.log"; exit 1; }
same "logical: the vector index is deferred during the initial copy" "0" \
  "$(psql_db dst live -c "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%hnsw%'")"
# the application keeps writing while the initial copy and streaming run
psql_db src live -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
INSERT INTO items (category, embedding, half_embedding, sparse_embedding)
SELECT 7, ARRAY(SELECT sin(i + j) FROM generate_series(1, 8) j)::vector(8), NULL, '{5:1.25}/100' FROM generate_series(1, 200) i;
UPDATE items SET embedding = '[1.5,-0.25,3.4028235e38,1e-45,-0,0.1,123456.79,-1e-30]', half_embedding = '[65504,0,0,0,0,0,0,-0]' WHERE id = 10;
UPDATE items SET category = category + 10 WHERE id BETWEEN 100 AND 150;
DELETE FROM items WHERE id BETWEEN 200 AND 220;
INSERT INTO events (item_id) SELECT id FROM items WHERE id % 100 = 0;
SQL
"$tool" logical-status "$(dsn src live)" "$(dsn dst live)" >>"$TEST_ROOT/logical.log" 2>&1
psql_db src live -c "INSERT INTO items (category, embedding) VALUES (8, '[8,8,8,8,8,8,8,8]')" >/dev/null
WAIT_TIMEOUT=300 "$tool" logical-cutover "$(dsn src live)" "$(dsn dst live)" >>"$TEST_ROOT/logical.log" 2>&1 || { cat "$TEST_ROOT/logical.log"; exit 1; }

for t in items events; do
  same "logical: $t is identical after cutover" "$(rows src live $t)" "$(rows dst live $t)"
done
same "logical: the updated edge-case row arrived exactly" "[1.5,-0.25,3.4028235e+38,1e-45,-0,0.1,123456.79,-1e-30]|[65504,0,0,0,0,0,0,-0]" \
  "$(psql_db dst live -c "SELECT embedding, half_embedding FROM items WHERE id = 10")"
same "logical: the hnsw index was built at cutover with the source's definition" \
  "$(indexdefs src live)" "$(indexdefs dst live)"
same "logical: the sequences were copied" "$(psql_db src live -c "SELECT max(id) + 1 FROM items")" \
  "$(psql_db dst live -c "INSERT INTO items (category) VALUES (0) RETURNING id")"
same "logical: subscription, publication and slot are gone" "0|0|0" \
  "$(psql_db dst live -c "SELECT count(*) FROM pg_subscription")|$(psql_db src live -c "SELECT count(*) FROM pg_publication")|$(psql_db src live -c "SELECT count(*) FROM pg_replication_slots")"
same "logical: k-NN on the target through hnsw" "1" \
  "$(psql_db dst live -c "SET enable_seqscan = off" -c "EXPLAIN SELECT id FROM items ORDER BY embedding <-> '[1,2,3,4,5,6,7,8]' LIMIT 5" | grep -c 'Index Scan using items_l2')"
echo "migration: $passes passed, 0 failed"
