#!/usr/bin/env bash
# WAL of a build that outgrows maintenance_work_mem (issue 14, finding 9),
# with full_page_writes = off on the primary: the build writes its
# in-memory graph without WAL, then inserts the remaining rows one by one.
# Those inserts are logged as deltas of pages, so the pages written so far
# must be logged (as full images) before them: a standby replaying a delta
# of a page it never saw stops with "WAL contains references to invalid
# pages" (before the fix the images came only at the end of the build). The
# standby must replay the build and answer like the primary.
#
# Runtime: about 30 s.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

new_cluster primary "wal_level = replica" "max_wal_senders = 4" "hot_standby = on" "full_page_writes = off"
load_lodestone primary
new_standby standby primary

sql primary <<'SQL'
CREATE TABLE items AS SELECT id, v::vector(32) AS v FROM lodestone_test.clustered(4000, 32, 20, 0.3, 0.1);
CREATE TABLE queries AS SELECT id, v::vector(32) AS v FROM lodestone_test.clustered(50, 32, 20, 0.3, 0.2);
CHECKPOINT;
SQL
notice="$(sql primary -c "SET maintenance_work_mem = '1MB'" \
  -c "CREATE INDEX items_idx ON items USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32)" 2>&1)"
check "the build spilled past maintenance_work_mem" '/no longer fits into maintenance_work_mem/' "$notice"

lsn="$(sql primary -c "SELECT pg_current_wal_insert_lsn()")"
for ((i = 0; i < 300; i++)); do
  replayed="$(sql standby -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" 2>/dev/null)" || replayed=down
  [[ $replayed == t || $replayed == down ]] && break
  sleep 0.1
done
check "the standby replayed the build (and is up)" '$1 == "t"' "$replayed"

same "the standby's top-10 equals the primary's for 50 queries" \
  "$(topk primary items queries '<->' 10 "hnsw.ef_search = 100")" \
  "$(topk standby items queries '<->' 10 "hnsw.ef_search = 100")"
no_rows "the standby's index verifies" sql standby -c "SELECT * FROM lodestone_hnsw_verify('items_idx')"

echo "hnsw_build_wal: $passes checks passed"
