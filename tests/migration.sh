#!/usr/bin/env bash
# Migration from pgvector to lodestone, three paths:
#  * plain pg_restore (when PGVECTOR_PG_CONFIG is set): a `pg_dump -Fc` of a
#    pgvector database, made by a server of the installation that
#    $PGVECTOR_PG_CONFIG names (pgvector installed there), restored with a
#    plain `pg_restore -d` (no edit, no tool) into a server of $PG_CONFIG's
#    installation, which has lodestone and its `vector` alias
#    (scripts/install-vector-alias.sh) and no pgvector. The dump's
#    `CREATE EXTENSION IF NOT EXISTS vector` creates lodestone. Checks: the
#    restore reports no error; rows, binary send output and index definitions
#    are pgvector's; every query returns what pgvector returned, as text (k-NN
#    through each hnsw and ivfflat index at settings where the answer is exact,
#    which is checked against pgvector's own sequential scan; distances,
#    functions, operators, aggregates); writes after the restore work.
#  * dump and restore with the tool (scripts/migrate-from-pgvector.sh): a
#    pgvector database (vector/halfvec/sparsevec/bit columns, a generated
#    column, hnsw indexes with options, a partial hnsw index, an ivfflat
#    index, a view, a function, a second schema; and a database with pgvector
#    in its own schema) restored into lodestone: same rows (checked here, not
#    only by the tool), same index definitions (ivfflat kept as ivfflat),
#    working k-NN, sequences, generated column;
#  * logical replication with the tool: publication on pgvector, subscription
#    on lodestone, writes during replication, cutover: identical tables,
#    indexes built, sequences copied, replication objects removed.
# The tool paths need pgvector (extension "vector") in $PG_CONFIG's own
# installation next to lodestone, which excludes the alias: they run where
# pgvector is installed and the plain path runs with two installations.
# Each part not run says SKIPPED and why (CI has neither).
#
#   PG_CONFIG=<lodestone + alias>/pg_config PGVECTOR_PG_CONFIG=<pgvector>/pg_config bash tests/migration.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# ------------------------------------------------------------------ plain pg_restore
# same_close DESCRIPTION A B: A and B have the same lines and '|'-separated
# fields, equal as text, except that two numbers may differ by 1e-6 relative
# (absolute below 1): lodestone sums squares and products in double where
# pgvector sums in single precision, so the last digits of an L2 or inner
# product distance or of vector_norm can differ (docs/compatibility.md).
# Prints how many numbers differed that way, and the largest difference.
same_close() {
  local what=$1 out
  # two failed queries print nothing: equal, and proving nothing
  [[ -n $2 && -n $3 ]] || { printf '  FAIL  %s: no output (a query failed?)\n' "$what"; exit 1; }
  out="$(awk -v tol=1e-6 '
    function abs(x) { return x < 0 ? -x : x }
    function bad(msg) { print "FAIL " msg; failed = 1; exit }
    NR == FNR { a[FNR] = $0; na = FNR; next }
    {
      nb = FNR
      if (FNR > na) bad("line " FNR " only in the second: " $0)
      n = split(a[FNR], x, "|"); m = split($0, y, "|")
      if (n != m) bad("line " FNR ": " a[FNR] " <> " $0)
      for (i = 1; i <= n; i++) {
        if ((x[i] "") == (y[i] "")) { equal++; continue }
        num = "^-?[0-9.]+(e[-+]?[0-9]+)?$"
        d = abs(x[i] - y[i]) / (abs(x[i]) > 1 ? abs(x[i]) : 1)
        if (x[i] ~ num && y[i] ~ num && d <= tol) { near++; if (d > worst) worst = d; continue }
        bad("line " FNR ": " a[FNR] " <> " $0)
      }
    }
    END {
      if (failed) exit
      if (nb != na) { print "FAIL " na " lines <> " nb " lines"; exit }
      printf "%d lines: %d fields equal as text, %d numbers within %.0e (largest %.1e)\n", na, equal, near, tol, worst
    }' <(echo "$2") <(echo "$3"))"
  if [[ $out == FAIL* || -z $out ]]; then
    printf '  FAIL  %s: %s\n' "$what" "${out#FAIL }"
    exit 1
  fi
  printf '  ok    %-60s %s\n' "$what" "$out"
  passes=$((passes + 1))
}

plain_restore() {
  local src_config=$PGVECTOR_PG_CONFIG
  local src_control dst_control
  src_control="$("$src_config" --sharedir)/extension/vector.control"
  dst_control="$("$PG_CONFIG" --sharedir)/extension/vector.control"
  [[ -f "$src_control" ]] && ! grep -qE "^module_pathname *= *'\\\$libdir/lodestone'" "$src_control" \
    || die "PGVECTOR_PG_CONFIG=$src_config: no pgvector there ($src_control missing or lodestone's alias)"
  grep -qE "^module_pathname *= *'\\\$libdir/lodestone'" "$dst_control" 2>/dev/null \
    || die "PG_CONFIG=$PG_CONFIG: the extension name vector is not lodestone's alias there (run scripts/install-vector-alias.sh)"

  log "plain pg_restore: pgvector ($src_config) -> lodestone as vector ($PG_CONFIG)"
  PG_CONFIG=$src_config new_cluster pgv
  new_cluster lodestone
  local db
  for db in app app_ext; do sql pgv -c "CREATE DATABASE $db"; done
  pv() { local db=$1; shift; sql pgv -d "$db" "$@"; }
  lo() { local db=$1; shift; sql lodestone -d "$db" "$@"; }

  pv app -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
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
SELECT i % 5, v, v::halfvec,
  format('{%s:%s,%s:%s}/100', i % 50 + 1, sin(i), (i * 7) % 50 + 51, cos(i))::sparsevec, binary_quantize(v)::bit(8)
FROM (SELECT i, ARRAY(SELECT sin(i * j + j) FROM generate_series(1, 8) j)::vector(8) AS v FROM generate_series(1, 1000) i) s;
-- one index per (column, operator class), so that each query below has one index to use
CREATE INDEX items_hnsw_l2 ON items USING hnsw (embedding vector_l2_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX items_ivf_ip ON items USING ivfflat (embedding vector_ip_ops) WITH (lists = 10);
CREATE INDEX items_hnsw_cos_cat1 ON items USING hnsw (embedding vector_cosine_ops) WHERE category = 1;
CREATE INDEX items_half_hnsw_l1 ON items USING hnsw (half_embedding halfvec_l1_ops);
CREATE INDEX items_half_ivf_cos ON items USING ivfflat (half_embedding halfvec_cosine_ops) WITH (lists = 5);
CREATE INDEX items_sparse_hnsw ON items USING hnsw (sparse_embedding sparsevec_l2_ops) WITH (m = 24);
CREATE INDEX items_bits_hnsw ON items USING hnsw (bits bit_hamming_ops);
CREATE INDEX items_expr_half ON items USING hnsw ((embedding::halfvec(8)) halfvec_l2_ops);
CREATE INDEX items_category ON items (category);
CREATE VIEW nearest_origin AS SELECT id, embedding <-> '[0,0,0,0,0,0,0,0]' AS distance FROM items;
CREATE FUNCTION similarity(a vector, b vector) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT 1 - (a <=> b)';
CREATE SCHEMA memory;
CREATE TABLE memory.notes (id int PRIMARY KEY, body text, embedding vector(8));
INSERT INTO memory.notes SELECT id, 'note ' || id, embedding FROM items WHERE id <= 400;
CREATE INDEX notes_ivf_l2 ON memory.notes USING ivfflat (embedding) WITH (lists = 8);
ANALYZE;
SQL
  pv app_ext -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE SCHEMA extensions;
CREATE EXTENSION vector SCHEMA extensions;
CREATE TABLE docs (id int PRIMARY KEY, embedding extensions.vector(3));
INSERT INTO docs SELECT i, ARRAY[sin(i), cos(i), sin(2 * i)]::real[]::extensions.vector FROM generate_series(1, 300) i;
CREATE INDEX docs_hnsw ON docs USING hnsw (embedding extensions.vector_l2_ops);
CREATE INDEX docs_ivf ON docs USING ivfflat (embedding extensions.vector_cosine_ops) WITH (lists = 3);
ANALYZE;
SQL
  log "pgvector $(pv app -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'") in the source"

  # The user's commands: the source's pg_dump, the target's pg_restore.
  local src_bin dst_bin
  src_bin="$("$src_config" --bindir)" dst_bin="$(pg_bindir)"
  for db in app app_ext; do
    as_pg "$src_bin/pg_dump" -Fc -h "$DIR_pgv/sock" -p "$PORT_pgv" -U postgres -f "$TEST_ROOT/$db.dump" "$db" \
      || die "pg_dump of $db failed"
    sql lodestone -c "CREATE DATABASE $db"
    local out status=0
    out="$(as_pg "$dst_bin/pg_restore" -h "$DIR_lodestone/sock" -p "$PORT_lodestone" -U postgres -d "$db" "$TEST_ROOT/$db.dump" 2>&1)" || status=$?
    same "plain pg_restore of $db: exit status 0 and no message" "0|" "$status|$out"
  done

  same "the restored extension is lodestone, named vector, in pgvector's schema and version" \
    "vector|public|0.8.6|t;vector|extensions|0.8.6|t" \
    "$(lo app -c "SELECT extname, extnamespace::regnamespace, extversion, EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'lodestone_hnsw_info') FROM pg_extension WHERE extname IN ('vector', 'lodestone')");$(lo app_ext -c "SELECT extname, extnamespace::regnamespace, extversion, EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'lodestone_hnsw_info') FROM pg_extension WHERE extname IN ('vector', 'lodestone')")"

  # both sides: every row as text in a collation-free order, the binary send
  # output, and the application's index definitions
  local q
  # (the generated column is recomputed by the restore: compared below)
  for q in "SELECT md5(string_agg((id, category, embedding, half_embedding, sparse_embedding, bits)::text, E'\n' ORDER BY id)) FROM items" \
    "SELECT md5(string_agg(vector_send(embedding) || halfvec_send(half_embedding) || sparsevec_send(sparse_embedding), '' ORDER BY id)) FROM items" \
    "SELECT md5(string_agg(r::text, E'\n' ORDER BY id)) FROM memory.notes r" \
    "SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes WHERE schemaname IN ('public', 'memory')"; do
    same "restored: ${q:0:90}" "$(pv app -c "$q")" "$(lo app -c "$q")"
  done
  same_close "restored: the generated column vector_norm(embedding)" "$(pv app -c "SELECT id, norm FROM items ORDER BY id")" \
    "$(lo app -c "SELECT id, norm FROM items ORDER BY id")"
  q="SELECT md5(string_agg(r::text, E'\n' ORDER BY id)) || (SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'docs') FROM docs r"
  same "restored: app_ext's rows and index definitions (pgvector in schema extensions)" "$(pv app_ext -c "$q")" "$(lo app_ext -c "$q")"

  # k-NN through each index, at settings where the search is exhaustive:
  # hnsw.ef_search 1000 >= the rows of the table, ivfflat.probes >= lists.
  # "DATABASE|INDEX|QUERY": the plan must use INDEX on both sides; QUERY runs
  # for three query values ($1: a vector(8), $2: a sparsevec(100), $3: a
  # vector(3)). app_ext's application has extensions in its search_path.
  local exact="SET hnsw.ef_search = 1000; SET ivfflat.probes = 10; SET enable_bitmapscan = off; SET search_path = public, extensions;"
  local knn=(
    "app|items_hnsw_l2|SELECT id, embedding <-> \$1 FROM items ORDER BY embedding <-> \$1 LIMIT 10"
    "app|items_ivf_ip|SELECT id, embedding <#> \$1 FROM items ORDER BY embedding <#> \$1 LIMIT 10"
    "app|items_hnsw_cos_cat1|SELECT id, embedding <=> \$1 FROM items WHERE category = 1 ORDER BY embedding <=> \$1 LIMIT 10"
    "app|items_half_hnsw_l1|SELECT id, half_embedding <+> \$1::halfvec(8) FROM items ORDER BY half_embedding <+> \$1::halfvec(8) LIMIT 10"
    "app|items_half_ivf_cos|SELECT id, half_embedding <=> \$1::halfvec(8) FROM items ORDER BY half_embedding <=> \$1::halfvec(8) LIMIT 10"
    "app|items_sparse_hnsw|SELECT id, sparse_embedding <-> \$2 FROM items ORDER BY sparse_embedding <-> \$2 LIMIT 10"
    "app|items_expr_half|SELECT id, embedding::halfvec(8) <-> \$1::halfvec(8) FROM items ORDER BY embedding::halfvec(8) <-> \$1::halfvec(8) LIMIT 10"
    # Hamming distances tie: the distances, not the ids, are the answer
    "app|items_bits_hnsw|SELECT bits <~> binary_quantize(\$1)::bit(8) FROM items ORDER BY bits <~> binary_quantize(\$1)::bit(8) LIMIT 30"
    "app|notes_ivf_l2|SELECT id, embedding <-> \$1 FROM memory.notes ORDER BY embedding <-> \$1 LIMIT 10"
    "app_ext|docs_hnsw|SELECT id, embedding <-> \$3 FROM docs ORDER BY embedding <-> \$3 LIMIT 10"
    "app_ext|docs_ivf|SELECT id, embedding <=> \$3 FROM docs ORDER BY embedding <=> \$3 LIMIT 10"
  )
  local entry index query v src_index src_seq dst_index plan side sq="'" qv
  for entry in "${knn[@]}"; do
    db=${entry%%|*} entry=${entry#*|}
    index=${entry%%|*} query=${entry#*|}
    src_index="" src_seq="" dst_index=""
    for v in "[0.5,0.1,-0.3,0.9,0,0.2,-0.7,0.4]|{3:0.5,51:0.8,77:-0.2}/100|[0.5,0.5,0.5]" \
      "[-1,1,-1,1,-1,1,-1,1]|{1:-1,50:1,100:1}/100|[-1,0.25,1]" \
      "[0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08]|{10:0.01,60:0.02}/100|[0.01,0.02,0.03]"; do
      IFS='|' read -r v1 v2 v3 <<<"$v"
      qv="${query//\$1/$sq$v1$sq::vector(8)}"
      qv="${qv//\$2/$sq$v2$sq::sparsevec(100)}"
      qv="${qv//\$3/$sq$v3$sq::vector(3)}"
      src_index+="$(pv "$db" -c "SET enable_seqscan = off; $exact" -c "$qv")"$'\n'
      src_seq+="$(pv "$db" -c "SET enable_indexscan = off; $exact" -c "$qv")"$'\n'
      dst_index+="$(lo "$db" -c "SET enable_seqscan = off; $exact" -c "$qv")"$'\n'
      for side in pgv lodestone; do
        plan="$(sql "$side" -d "$db" -c "SET enable_seqscan = off; $exact" -c "EXPLAIN (COSTS OFF) $qv")"
        [[ $plan == *"Index Scan using $index "* ]] || { printf '  FAIL  %s: the plan on %s does not use %s\n%s\n' "$index" "$side" "$index" "$plan"; exit 1; }
      done
    done
    src_index=${src_index%$'\n'} src_seq=${src_seq%$'\n'} dst_index=${dst_index%$'\n'}
    if [[ $index == items_half_ivf_cos ]]; then
      # ivfflat's cosine operator classes rank by the inner product of values
      # normalized when indexed, for halfvec rounded to half precision: among
      # distances closer than that rounding, pgvector's order is not the exact
      # one, and lodestone's is not always pgvector's (the third query: two
      # rows 1.3e-8 apart are swapped). The rows and distances must agree.
      same_close "k-NN through $index: lodestone's rows = pgvector's (order of near-equal distances aside)" \
        "$(sort <<<"$src_index")" "$(sort <<<"$dst_index")"
      continue
    fi
    same_lines "k-NN through $index: pgvector's index scan = pgvector's exact scan" "$src_seq" "$src_index"
    same_close "k-NN through $index: lodestone's answer = pgvector's" "$src_index" "$dst_index"
  done

  # Distances, functions, operators, casts and aggregates, as text.
  local fn=(
    "SELECT id, embedding <-> q, embedding <#> q, embedding <=> q, embedding <+> q, l2_distance(embedding, q), inner_product(embedding, q), cosine_distance(embedding, q), l1_distance(embedding, q) FROM items, (SELECT '[0.5,0.1,-0.3,0.9,0,0.2,-0.7,0.4]'::vector AS q) s WHERE id % 7 = 0 ORDER BY id"
    "SELECT id, vector_norm(embedding), norm, l2_normalize(embedding), subvector(embedding, 2, 3), embedding + embedding, embedding - '[1,1,1,1,1,1,1,1]', embedding * embedding, embedding || '[1]'::vector, vector_dims(embedding), embedding::real[], binary_quantize(embedding) FROM items WHERE id % 11 = 0 ORDER BY id"
    "SELECT id, half_embedding <-> q, half_embedding <#> q, half_embedding <=> q, half_embedding <+> q, l2_norm(half_embedding), l2_normalize(half_embedding), subvector(half_embedding, 3, 4), half_embedding + half_embedding, half_embedding::vector, binary_quantize(half_embedding), vector_dims(half_embedding) FROM items, (SELECT '[0.5,0.1,-0.3,0.9,0,0.2,-0.7,0.4]'::halfvec AS q) s WHERE id % 13 = 0 ORDER BY id"
    "SELECT id, sparse_embedding <-> q, sparse_embedding <#> q, sparse_embedding <=> q, sparse_embedding <+> q, l2_norm(sparse_embedding), l2_normalize(sparse_embedding), sparse_embedding::vector::sparsevec FROM items, (SELECT '{1:0.5,20:-1,51:2,100:0.25}/100'::sparsevec AS q) s WHERE id % 17 = 0 ORDER BY id"
    "SELECT id, bits <~> B'10110010', bits <%> B'10110010', hamming_distance(bits, B'01010101'), jaccard_distance(bits, B'01010101') FROM items WHERE id % 19 = 0 ORDER BY id"
    "SELECT category, avg(embedding), sum(embedding), avg(half_embedding), sum(half_embedding), count(*) FROM items GROUP BY category ORDER BY category"
    "SELECT sum(distance), similarity('[1,2,3,4,5,6,7,8]', '[2,2,3,4,5,6,7,8]') FROM nearest_origin"
    "SELECT id, embedding < '[0,0,0,0,0,0,0,0]', embedding = embedding, vector_cmp(embedding, '[0,0,0,0,0,0,0,0]') FROM items WHERE id % 23 = 0 ORDER BY id"
  )
  for q in "${fn[@]}"; do
    same_close "same answer: ${q:7:60}" "$(pv app -c "$q")" "$(lo app -c "$q")"
  done

  # Writes after the restore: the sequence continues, the indexes take new rows.
  same "restored: the sequence continues after the last id" "1001" \
    "$(lo app -c "INSERT INTO items (category, embedding, half_embedding, sparse_embedding, bits) VALUES (0, '[9,9,9,9,9,9,9,9]', '[9,9,9,9,9,9,9,9]', '{1:9}/100', B'11111111') RETURNING id")"
  same "restored: a new row is found through items_hnsw_l2 and items_ivf_ip" "1001|1001" \
    "$(lo app -c "SET enable_seqscan = off; $exact" -c "SELECT (SELECT id FROM items ORDER BY embedding <-> '[9,9,9,9,9,9,9,9]' LIMIT 1), (SELECT id FROM items ORDER BY embedding <#> '[9,9,9,9,9,9,9,9]' LIMIT 1)")"
  # the source cluster stops with its own installation's pg_ctl
  PG_CONFIG=$src_config cluster_stop "$DIR_pgv"
}

ran=0
if [[ -n "${PGVECTOR_PG_CONFIG:-}" ]]; then
  plain_restore
  ran=1
else
  echo "SKIPPED (plain pg_restore): set PGVECTOR_PG_CONFIG to the pg_config of a Postgres installation with pgvector (and PG_CONFIG to one with lodestone and its vector alias)"
fi

if ! pgvector_installed; then
  echo "SKIPPED (the tool's dump-restore and logical paths): pgvector (extension \"vector\") is not installed in $("$PG_CONFIG" --sharedir); they need it next to lodestone, as the source"
  ((ran)) && echo "migration: $passes passed, 0 failed"
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
