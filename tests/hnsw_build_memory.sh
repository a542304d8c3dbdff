#!/usr/bin/env bash
# Memory bounds of hnsw builds and inserts (issue 14, findings 3 and 10).
#
# Samples the private memory of the backend running the statement from
# /proc/PID/smaps_rollup every 20 ms and fails when its peak grows past
# the statement's start by more than the budget plus a stated margin. A
# memory bound, not a timing.
#
# * CREATE INDEX on 50,000 x 1536-dim `vector` rows (TOASTed: each value is
#   6 KB, stored out of line) with maintenance_work_mem = 64MB: about 9,500
#   rows fit, the rest are inserted on disk. Budget: 64 MB + 24 MB margin.
#   Before the fix, every detoasted value leaked (300 MB here), and the
#   graph copied its payloads while the collected ones were alive (twice
#   the budget).
# * INSERT ... SELECT of 12,000 TOASTed rows into an indexed table. Budget:
#   the statement's own start + 24 MB. Before the fix, each row's detoasted
#   copy leaked until the statement ended (75 MB here).
#
# The measure is `Anonymous` (the backend's own heap: palloc and malloc),
# not Private_Dirty/Pss: pages of shared_buffers that only this backend has
# touched count as private too, and would add up to shared_buffers to any
# reading. The margin covers the catalog caches, the heap scan, the rayon
# threads' stacks and allocator slack (measured: about 8 MB).
#
# Runtime: 6 minutes with a release build on a shared, busy 2-core machine
# (most of it the 40,000 rows inserted on disk after the build spills, and
# making the table); a debug build takes longer.
# Override the sizes with LODESTONE_MEM_ROWS / LODESTONE_MEM_INSERT_ROWS.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ROWS=${LODESTONE_MEM_ROWS:-50000}
INSERT_ROWS=${LODESTONE_MEM_INSERT_ROWS:-12000}
MARGIN_MB=24

new_cluster main "shared_buffers = 64MB" "max_parallel_maintenance_workers = 2"
load_lodestone main

# 50,000 distinct 1536-dim rows from 2 x 240 random vectors (a + b), cheap to
# make; `vector` is stored EXTERNAL, so each value goes out of line.
sql main <<SQL
CREATE TABLE base (id int, v vector(1536));
INSERT INTO base SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 1536) WHERE i > 0)::vector
  FROM generate_series(1, 480) i;
CREATE TABLE items AS
  SELECT row_number() OVER () AS id, (a.v + b.v)::vector(1536) AS v
  FROM base a JOIN base b ON a.id <= 240 AND b.id > 240
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

growth="$(peak_growth "SET maintenance_work_mem = '64MB'" \
  "CREATE INDEX items_idx ON items USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 16)")"
check "CREATE INDEX, 64MB maintenance_work_mem: peak growth (MB)" "\$1 <= 64 + $MARGIN_MB" "$growth"
check "the index answers" '$1 == 10' \
  "$(sql main -c "SET enable_seqscan = off" \
    -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items LIMIT 1) LIMIT 10) s" | tail -1)"

sql main -c "CREATE TABLE copy (id bigint, v vector(1536))" \
  -c "CREATE INDEX copy_idx ON copy USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 8)"
growth="$(peak_growth "INSERT INTO copy SELECT id, v FROM items WHERE id <= $INSERT_ROWS")"
check "INSERT ... SELECT of $INSERT_ROWS TOASTed rows: peak growth (MB)" "\$1 <= $MARGIN_MB" "$growth"

echo "hnsw_build_memory: $passes checks passed"
