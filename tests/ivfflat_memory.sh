#!/usr/bin/env bash
# Memory bounds of ivfflat inserts and builds (fix of the reviewer's finding
# 1 against pgvector 0.8.6, docs/findings/drop-in.md).
#
# Samples the `Anonymous` memory (the backend's own heap: palloc and malloc;
# not shared_buffers) of the backend running the statement from
# /proc/PID/smaps_rollup every 20 ms, as tests/hnsw_build_memory.sh does,
# and fails when its peak grows past the statement's start by more than a
# stated margin. A memory bound, not a timing.
#
# * INSERT ... SELECT of 6,000 TOASTed 1536-dim rows (6 KB each, stored out
#   of line) into an ivfflat-indexed table. Budget: 16 MB over the start.
#   Before the fix each row's detoasted copy leaked until the statement
#   ended (36 MB here).
# * CREATE INDEX on the same rows (maintenance_work_mem = 256MB, so one
#   batch holds every row). Budget: what the build keeps on purpose (a
#   batch and its aligned copy, 2 x 36 MB; the sample as floats is one
#   36 MB) + 24 MB. Measured before the fix: 145 MB (each pass leaked
#   every row's copy, and k-means copied the sample twice).
#
# Runtime: about 30 s with a debug build.
# Override the size with LODESTONE_MEM_ROWS.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ROWS=${LODESTONE_MEM_ROWS:-6000}
MARGIN_MB=16

new_cluster main "shared_buffers = 64MB"
load_lodestone main

# Distinct 1536-dim rows from 2 x 80 random vectors (a + b), cheap to make;
# `vector` is stored EXTERNAL, so each value goes out of line.
sql main <<SQL
CREATE TABLE base (id int, v vector(1536));
INSERT INTO base SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 1536) WHERE i > 0)::vector
  FROM generate_series(1, 160) i;
CREATE TABLE items AS
  SELECT row_number() OVER () AS id, (a.v + b.v)::vector(1536) AS v
  FROM base a JOIN base b ON a.id <= 80 AND b.id > 80
  LIMIT $ROWS;
VACUUM ANALYZE items;
SQL
check "rows are stored out of line (TOAST)" '$1 > 0' \
  "$(sql main -c "SELECT pg_relation_size(reltoastrelid) / 1048576 FROM pg_class WHERE relname = 'items'")"

# anon_kb PID: the backend's anonymous memory, in kB.
anon_kb() { awk '/^Anonymous:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }

# peak_growth STATEMENT...: runs the statements (after a 1 s pause to find
# the backend) in one session with application_name = memtest, sampling
# the backend's memory; prints the peak growth over the start, in MB.
# Fails if a statement fails.
peak_growth() {
  local out="$TEST_ROOT/peak.out" pid="" base peak now args=()
  for s in "$@"; do args+=(-c "$s"); done
  PGAPPNAME=memtest sql main -c "SELECT pg_sleep(1)" "${args[@]}" >"$out" 2>&1 &
  local job=$!
  for _ in $(seq 50); do
    pid="$(sql main -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'memtest'")"
    [[ -n $pid ]] && break
    sleep 0.02
  done
  [[ -n $pid ]] || die "no memtest backend"
  base="$(anon_kb "$pid")"
  peak=$base
  while kill -0 "$job" 2>/dev/null; do
    now="$(anon_kb "$pid")"
    [[ -n $now ]] && ((now > peak)) && peak=$now
    sleep 0.02
  done
  wait "$job" || { cat "$out" >&2; die "statement failed"; }
  echo $(((peak - base) / 1024))
}

sql main -c "CREATE TABLE copy (id bigint, v vector(1536))" \
  -c "INSERT INTO copy SELECT id, v FROM items WHERE id <= 200" \
  -c "CREATE INDEX copy_idx ON copy USING ivfflat (v vector_l2_ops) WITH (lists = 4)" >/dev/null
growth="$(peak_growth "INSERT INTO copy SELECT id, v FROM items")"
check "INSERT ... SELECT of $ROWS TOASTed rows: peak growth (MB)" "\$1 <= $MARGIN_MB" "$growth"

sample_mb=$((ROWS * 6 / 1000))
growth="$(peak_growth "SET maintenance_work_mem = '256MB'" \
  "CREATE INDEX items_idx ON items USING ivfflat (v vector_l2_ops) WITH (lists = 10)")"
check "CREATE INDEX of $ROWS TOASTed rows: peak growth (MB)" "\$1 <= 2 * $sample_mb + 24" "$growth"
check "the index answers" '$1 == 10' \
  "$(sql main -c "SET enable_seqscan = off" \
    -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items LIMIT 1) LIMIT 10) s" | tail -1)"

echo "ivfflat_memory: $passes checks passed"
