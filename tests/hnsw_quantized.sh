#!/usr/bin/env bash
# Quantized hnsw indexes (WITH (quantizer = sq8 | pq | bq)): recall@10
# against exact search on 10,000 clustered 64-dim vectors (the data of
# hnsw_recall.sh) at a documented hnsw.ef_search and lodestone.rerank_factor for
# each quantizer and metric; after inserts, after deleting half the rows and
# VACUUM, with a build that outgrows maintenance_work_mem, under a filter
# with an iterative scan; and indexes of 1536 and 4000 dimensions (beyond
# pgvector's 2000) that build and answer.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

new_cluster main "max_parallel_maintenance_workers = 2"
load_lodestone main

sql main <<'SQL'
CREATE TABLE items AS SELECT id, v::vector(64) AS v FROM lodestone_test.clustered(10000, 64, 10, 1.0, 0.1);
CREATE TABLE queries AS SELECT id, v::vector(64) AS v FROM lodestone_test.clustered(100, 64, 10, 1.0, 0.2);
CREATE TABLE halfs AS SELECT id, v::halfvec(64) AS v FROM items;
CREATE TABLE half_queries AS SELECT id, v::halfvec(64) AS v FROM queries;
-- unit vectors for the inner product, as in hnsw_recall.sh (on raw vectors
-- the inner product is no metric, and builds leave a few nodes unreachable
-- with or without a quantizer)
CREATE TABLE units AS SELECT id, l2_normalize(v)::vector(64) AS v FROM items;
CREATE TABLE unit_queries AS SELECT id, l2_normalize(v)::vector(64) AS v FROM queries;
SQL

# recall TABLE QUERIES OP EF_SEARCH RERANK_FACTOR
recall() {
  sql main -c "SET hnsw.ef_search = $4" -c "SET lodestone.rerank_factor = $5" \
    -c "SELECT round(lodestone_test.recall('$1', '$2', '$3', 10)::numeric, 3)" | tail -1
}
# uses TABLE QUERIES OP: the plan of an ORDER BY ... LIMIT on TABLE
uses() {
  sql main -c "SET enable_seqscan = off" \
    -c "EXPLAIN (COSTS OFF) SELECT id FROM $1 ORDER BY v $3 (SELECT v FROM $2 LIMIT 1) LIMIT 10"
}
# one TABLE QUERIES OPCLASS OP OPTIONS EF_SEARCH RERANK_FACTOR: builds the
# index, checks its plan and recall, drops it.
one() {
  local table=$1 queries=$2 opclass=$3 op=$4 options=$5 ef=$6 factor=$7
  sql main -c "SET maintenance_work_mem = '256MB'" -c "CREATE INDEX q_idx ON $table USING hnsw (v $opclass) WITH ($options)"
  check "$table $opclass ($options) is scanned" '/Index Scan using q_idx/' \
    "$(sql main -c "SET enable_seqscan = off" -c "EXPLAIN (COSTS OFF) SELECT id FROM $table ORDER BY v $op (SELECT v FROM $queries LIMIT 1) LIMIT 10" | tr '\n' ' ')"
  check "recall@10, $table $op, $options, ef_search $ef, rerank_factor $factor" '$1 >= 0.95' \
    "$(recall "$table" "$queries" "$op" "$ef" "$factor")"
  no_rows "$table ($options) verifies" sql main -c "SELECT * FROM lodestone_hnsw_verify('q_idx')"
  sql main -c "DROP INDEX q_idx"
}

# The settings each quantizer needs on this data (uniform noise inside
# overlapping clusters, the hard case for codes), as documented in
# docs/quantization.md.
one items queries vector_l2_ops '<->' "quantizer = sq8" 40 1
one items queries vector_cosine_ops '<=>' "quantizer = sq8" 40 1
one units unit_queries vector_ip_ops '<#>' "quantizer = sq8" 40 1
one halfs half_queries halfvec_l2_ops '<->' "quantizer = sq8" 40 1
one items queries vector_l2_ops '<->' "quantizer = pq" 100 1
one items queries vector_cosine_ops '<=>' "quantizer = pq" 100 1
one halfs half_queries halfvec_l2_ops '<->' "quantizer = pq, pq_subvectors = 32" 40 1
one items queries vector_l2_ops '<->' "quantizer = bq" 100 8
one items queries vector_cosine_ops '<=>' "quantizer = bq" 100 8

# A re-rank that looks at too few candidates loses recall with bq: the
# codes alone do not find the neighbours (so the check above measures the
# re-rank, not the codes).
sql main -c "CREATE INDEX q_bq ON items USING hnsw (v vector_l2_ops) WITH (quantizer = bq)"
check "bq with rerank_factor 0.1 (4 candidates a batch) has lower recall" '$1 < 0.9' "$(recall items queries '<->' 40 0.1)"
sql main -c "DROP INDEX q_bq"

# sq8 after the build: inserts, then deletes and VACUUM.
sql main -c "CREATE INDEX q_sq8 ON items USING hnsw (v vector_l2_ops) WITH (quantizer = sq8)"
sql main -c "INSERT INTO items SELECT id + 100000, v FROM lodestone_test.clustered(3000, 64, 10, 1.0, 0.3)"
check "recall@10, sq8, after 3,000 inserts, ef_search 40" '$1 >= 0.95' "$(recall items queries '<->' 40 1)"
sql main -c "DELETE FROM items WHERE hashint4(id) % 2 = 0" -c "VACUUM items"
check "recall@10, sq8, half deleted and VACUUM, ef_search 100" '$1 >= 0.95' "$(recall items queries '<->' 100 1)"
no_rows "q_sq8 verifies after VACUUM" sql main -c "SELECT * FROM lodestone_hnsw_verify('q_sq8')"
same "heap and index agree on the row count" "$(sql main -c "SELECT count(*) FROM items")" \
  "$(sql main -c "SELECT heap_tids FROM lodestone_hnsw_info('q_sq8')")"

# Iterative scan under a 1%-selective filter: every query gets its 10 rows.
got="$(sql main -c "SET hnsw.iterative_scan = relaxed_order" -c "SET hnsw.ef_search = 40" -c "SET enable_seqscan = off" -c "
  SELECT sum(n) FROM (SELECT (SELECT count(*) FROM (SELECT i.id FROM items i WHERE i.id % 100 = 7
                                                    ORDER BY i.v <-> q.v LIMIT 10) s) AS n FROM queries q) t")"
check "sq8, iterative scan, 1% filter: 10 rows for each of 100 queries" '$1 == 1000' "$got"
sql main -c "DROP INDEX q_sq8"

# A build that outgrows maintenance_work_mem: the quantizer is trained on
# the rows collected so far, the rest are inserted one by one with it.
notice="$(sql main -c "SET maintenance_work_mem = '1MB'" -c "CREATE INDEX q_spill ON items USING hnsw (v vector_l2_ops) WITH (quantizer = sq8)" 2>&1)"
check "the small build spilled" '/no longer fits/' "$notice"
check "recall@10, sq8, spilled build, ef_search 40" '$1 >= 0.95' "$(recall items queries '<->' 40 1)"
sql main -c "DROP INDEX q_spill"

# A damaged quantizer page is an error, never a wrong answer: after a build
# the trained quantizer is on the index's last page (sq8, 64 dims: 524
# bytes); flip bytes in it with the server stopped.
sql main -c "CREATE INDEX q_bad ON items USING hnsw (v vector_l2_ops) WITH (quantizer = sq8)"
file="$DIR_main/data/$(sql main -c "SELECT pg_relation_filepath('q_bad')")"
pages="$(sql main -c "SELECT pages FROM lodestone_hnsw_info('q_bad')")"
cluster_stop "$DIR_main"
printf '\xff\xff\xff\xff' | dd of="$file" bs=1 seek=$((8192 * (pages - 1) + 300)) conv=notrunc status=none
cluster_start "$DIR_main"
check "verify reports the damaged quantizer" '/bad quantizer.*checksum/' \
  "$(sql main -c "SELECT * FROM lodestone_hnsw_verify('q_bad')")"
err="$(sql main -c "SET enable_seqscan = off" -c "SELECT id FROM items ORDER BY v <-> (SELECT v FROM queries LIMIT 1) LIMIT 1" 2>&1 || true)"
check "a scan of it fails as index corruption" '/corrupt quantizer/' "$err"
sql main -c "DROP INDEX q_bad"

# Beyond pgvector: 1536 and 4000 dimensions (pgvector stops at 2000 for
# vector). 2,000 rows each, 20 queries.
for dims in 1536 4000; do
  sql main <<SQL
CREATE TABLE wide$dims AS SELECT id, v::vector($dims) AS v FROM lodestone_test.clustered(2000, $dims, 20, 1.0, 0.1);
CREATE TABLE wide${dims}queries AS SELECT id, v::vector($dims) AS v FROM lodestone_test.clustered(20, $dims, 20, 1.0, 0.2);
SQL
  for options in "quantizer = sq8" "quantizer = bq" "quantizer = pq, pq_subvectors = $((dims / 16))"; do
    sql main -c "SET maintenance_work_mem = '512MB'" -c "CREATE INDEX q_wide ON wide$dims USING hnsw (v vector_l2_ops) WITH ($options)"
    check "$dims dims ($options): index scan" '/Index Scan using q_wide/' "$(uses "wide$dims" "wide${dims}queries" '<->' | tr '\n' ' ')"
    check "$dims dims ($options): recall@10, ef_search 100, rerank_factor 2" '$1 >= 0.95' \
      "$(recall "wide$dims" "wide${dims}queries" '<->' 100 2)"
    sql main -c "SELECT quantizer, code_bytes, round(bytes_per_vector) AS bytes_per_vector, pages FROM lodestone_hnsw_info('q_wide')" \
      | sed "s/^/    $dims dims: /"
    sql main -c "DROP INDEX q_wide"
  done
done
# Without a quantizer a 4000-dim vector column is refused, as pgvector does.
err="$(sql main -c "CREATE INDEX ON wide4000 USING hnsw (v vector_l2_ops)" 2>&1 || true)"
check "4000-dim vector without a quantizer is refused" '/cannot have more than 2000 dimensions/' "$err"

echo "$passes passed, 0 failed"
