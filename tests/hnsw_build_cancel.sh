#!/usr/bin/env bash
# A long CREATE INDEX answers cancellation promptly (issue 14, finding 8):
# PQ training on 4,096 rows of 8000 dimensions (about 200 GFLOP of k-means,
# half a minute or more on 2 cores in a release build) is stopped by
# pg_cancel_backend (the same interrupt as statement_timeout) within a few
# seconds, with Postgres's own error, and the backend then builds an index
# normally. Before the fix, training ran on rayon's global pool with no
# interrupt check: the cancel took effect only once training had finished
# (the test gives up waiting after 30 s and fails). lodestone.pq_train, on
# the same rows, likewise.
#
# Runtime: about 40 s (most of it making the table).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

TRAIN_S=1
GRACE_S=4

# cancel_after_training APPNAME: lets training run TRAIN_S, cancels the
# backend of APPNAME, waits up to 30 s for psql job $job to end and sets
# $elapsed (s). Still running: the cancel was not heard (psql is stopped;
# the cluster is stopped at exit).
cancel_after_training() {
  local start i
  sleep "$TRAIN_S"
  start=$(date +%s%N)
  sql main -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '$1'" >/dev/null
  for ((i = 0; i < 300; i++)); do
    kill -0 "$job" 2>/dev/null || break
    sleep 0.1
  done
  elapsed=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  kill -0 "$job" 2>/dev/null && kill "$job"
  wait "$job" 2>/dev/null || true
}

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

# Cancel once the heap scan is done (all 4,096 rows reported): training is
# then under way (a timeout could fire during the scan, which was always
# cancellable).
PGAPPNAME=cancelme sql main -c "SET maintenance_work_mem = '1GB'" \
  -c "CREATE INDEX items_pq ON items USING hnsw (v vector_l2_ops) WITH (quantizer = pq)" >"$TEST_ROOT/build.out" 2>&1 &
job=$!
for ((i = 0; i < 1200; i++)); do
  done_rows="$(sql main -c "SELECT p.tuples_done FROM pg_stat_progress_create_index p
    JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'cancelme'")"
  [[ -n $done_rows ]] && ((done_rows >= 4096)) && break
  sleep 0.1
done
check "the build read every row before training" '$1 >= 4096' "${done_rows:-0}"
cancel_after_training cancelme
check "CREATE INDEX (pq) is stopped during training by pg_cancel_backend" '/canceling statement due to user request/' \
  "$(cat "$TEST_ROOT/build.out")"
check "... within ${GRACE_S} s (s)" "\$1 <= $GRACE_S" "$elapsed"
check "no index is left behind" '$1 == 0' "$(sql main -c "SELECT count(*) FROM pg_class WHERE relname = 'items_pq'")"

# lodestone.pq_train trains on the same pool: cancelled the same way once
# it says (DEBUG1) that training has begun. Before, it ran on rayon's global
# pool and was deaf to the cancel until training ended.
PGAPPNAME=cancelpq sql main -c "SET client_min_messages = debug1" \
  -c "SELECT lodestone.pq_train('items', 'v', 8, 8, 4096)" >"$TEST_ROOT/train.out" 2>&1 &
job=$!
for ((i = 0; i < 1200; i++)); do
  grep -q 'pq_train: training' "$TEST_ROOT/train.out" && break
  sleep 0.1
done
check "pq_train read its sample and began training" '/pq_train: training 8 subvectors of 8 bits on 4096 rows/' \
  "$(cat "$TEST_ROOT/train.out")"
cancel_after_training cancelpq
check "pq_train is stopped during training by pg_cancel_backend" '/canceling statement due to user request/' \
  "$(cat "$TEST_ROOT/train.out")"
check "... within ${GRACE_S} s (s)" "\$1 <= $GRACE_S" "$elapsed"
same "and stores no codebook" 0 "$(sql main -c "SELECT count(*) FROM lodestone.pq_codebooks")"

# The backend builds afterwards (the pool and the backend are sound).
sql main -c "CREATE INDEX items_bq ON items USING hnsw (v vector_l2_ops) WITH (quantizer = bq) WHERE id <= 300"
check "a build after the cancelled one answers" '$1 == 5' \
  "$(sql main -c "SET enable_seqscan = off" \
    -c "SELECT count(*) FROM (SELECT id FROM items WHERE id <= 300 ORDER BY v <-> (SELECT v FROM items LIMIT 1) LIMIT 5) s" | tail -1)"

echo "hnsw_build_cancel: $passes checks passed"
