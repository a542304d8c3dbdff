#!/usr/bin/env bash
# A long CREATE INDEX answers cancellation promptly (issue 14, finding 8):
# PQ training on 4,096 rows of 8000 dimensions (about 200 GFLOP of k-means,
# half a minute or more on 2 cores in a release build) is stopped by
# statement_timeout within a few seconds, with Postgres's own error, and the
# backend then builds an index normally. Before the fix, training ran on
# rayon's global pool with no interrupt check: the timeout took effect only
# once training had finished.
#
# Runtime: about 30 s (most of it making the table).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

TIMEOUT_S=4
GRACE_S=4

new_cluster main "max_parallel_maintenance_workers = 1"
load_lodestone main

# 4,096 distinct rows from 2 x 64 random vectors (a + b).
sql main <<'SQL'
CREATE TABLE base (id int, v vector(8000));
INSERT INTO base SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 8000) WHERE i > 0)::vector
  FROM generate_series(1, 128) i;
CREATE TABLE items AS
  SELECT row_number() OVER () AS id, (a.v + b.v)::vector(8000) AS v
  FROM base a JOIN base b ON a.id <= 64 AND b.id > 64;
VACUUM ANALYZE items;
SQL

start=$(date +%s%N)
out="$(sql main -c "SET maintenance_work_mem = '1GB'" -c "SET statement_timeout = '${TIMEOUT_S}s'" \
  -c "CREATE INDEX items_pq ON items USING hnsw (v vector_l2_ops) WITH (quantizer = pq)" 2>&1)" || true
elapsed=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
check "CREATE INDEX (pq) is stopped by statement_timeout" '/canceling statement due to statement timeout/' "$out"
check "... within ${GRACE_S} s of the timeout (s)" "\$1 <= $TIMEOUT_S + $GRACE_S" "$elapsed"
check "no index is left behind" '$1 == 0' "$(sql main -c "SELECT count(*) FROM pg_class WHERE relname = 'items_pq'")"

# The backend builds afterwards (the pool and the backend are sound).
sql main -c "CREATE INDEX items_bq ON items USING hnsw (v vector_l2_ops) WITH (quantizer = bq) WHERE id <= 300"
check "a build after the cancelled one answers" '$1 == 5' \
  "$(sql main -c "SET enable_seqscan = off" \
    -c "SELECT count(*) FROM (SELECT id FROM items WHERE id <= 300 ORDER BY v <-> (SELECT v FROM items LIMIT 1) LIMIT 5) s" | tail -1)"

echo "hnsw_build_cancel: $passes checks passed"
